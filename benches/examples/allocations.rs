//! Heap allocations per unary gRPC call, on each side, through the engine
//! alone (no sockets): the client's `start_call` / `send_message` /
//! `close_send` / `receive` / `poll_*` work, and the server's.
//!
//! Run: `cargo run --release -p benches --example allocations`

use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallOptions, Config, Connection, Event};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn blocks() -> u64 {
    dhat::HeapStats::get().total_blocks
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let now = Instant::now();
    let mut client = Connection::client(Config::client(), now);
    let mut server = Connection::server(Config::server(), now);
    let mut wire = Vec::with_capacity(64 << 10);
    let request = Bytes::from_static(&[7u8; 64]);
    let response = Bytes::from_static(&[9u8; 64]);
    let (mut client_blocks, mut server_blocks) = (0, 0);
    let (warmup, calls) = (1_000, 10_000);
    for i in 0..warmup + calls {
        let measure = i >= warmup;

        let before = blocks();
        let call = client
            .start_call(now, CallOptions::new("/helloworld.Greeter/SayHello"))
            .unwrap();
        client.send_message(call, request.clone()).unwrap();
        client.close_send(call).unwrap();
        wire.clear();
        while client.poll_transmit(&mut wire) > 0 {}
        if measure {
            client_blocks += blocks() - before;
        }

        let before = blocks();
        server.receive(now, &wire).unwrap();
        while let Some(event) = server.poll_event() {
            if let Event::Message { call, .. } = event {
                server.send_message(call, response.clone()).unwrap();
                server
                    .finish(call, &Status::ok(), &Metadata::new())
                    .unwrap();
            }
        }
        wire.clear();
        while server.poll_transmit(&mut wire) > 0 {}
        if measure {
            server_blocks += blocks() - before;
        }

        let before = blocks();
        client.receive(now, &wire).unwrap();
        let mut finished = false;
        while let Some(event) = client.poll_event() {
            finished |= matches!(event, Event::Finished { .. });
        }
        assert!(finished);
        wire.clear();
        while client.poll_transmit(&mut wire) > 0 {}
        if measure {
            client_blocks += blocks() - before;
        }
        if !wire.is_empty() {
            server.receive(now, &wire).unwrap();
            while server.poll_event().is_some() {}
        }
    }
    println!(
        "allocations per unary call (64-byte messages, warm connection, {calls} calls): client {:.1}, server {:.1}",
        client_blocks as f64 / calls as f64,
        server_blocks as f64 / calls as f64
    );
}
