//! Heap blocks per unary call through the engine stay within issue 13's
//! ceilings (at most 6 on the client, 8 on the server), with routing free.
//! Counts are exact and deterministic, so this is no timed assertion; the
//! `allocations` example prints the figures and where they come from.

use benches::allocations::Bench;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[test]
fn a_unary_call_allocates_within_the_ceilings() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let counts = Bench::new().run(100, 1_000, || dhat::HeapStats::get().total_blocks);
    let (client, server) = (counts.client_per_call(), counts.server_per_call());
    println!("per call: client {client:.1}, server {server:.1}");
    assert!(client <= 6.0, "client: {client:.1} blocks per call");
    assert!(server <= 8.0, "server: {server:.1} blocks per call");
    assert_eq!(counts.routing, 0, "routing allocated");
}
