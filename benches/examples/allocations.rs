//! Heap allocations per unary gRPC call, on each side, through the engine
//! alone (no sockets): the client's `start_call` / `send_message` /
//! `close_send` / `receive` / `poll_*` work, and the server's.
//!
//! Run: `cargo run --release -p benches --example allocations`
//!
//! The server's figure includes routing the call: looking its `:path` up in a
//! `service::Router`, shown on its own as well.
//!
//! `--sites` also prints where the per-call allocations come from (dhat's
//! heap profile, read back): one line per allocation site (a distinct stack)
//! that allocates at least once per ten calls, with the step of the call, what
//! allocated and the innermost engine frames. A block that grows counts again
//! at the site that allocated it. Without debug information the stacks only
//! name functions that were not inlined; for every frame with its file and
//! line, run `CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo run --release
//! -p benches --example allocations -- --sites` (a full rebuild).

use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{ByteStr, CallOptions, Config, Connection, Event};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const PATH: &str = "/helloworld.Greeter/SayHello";

fn blocks() -> u64 {
    dhat::HeapStats::get().total_blocks
}

/// Blocks allocated per call by each step, summed over the measured calls.
#[derive(Default)]
struct Counts {
    client: u64,
    server: u64,
    routing: u64,
}

/// The connections and buffers one run shares between calls.
struct Bench {
    now: Instant,
    client: Connection,
    server: Connection,
    wire: Vec<u8>,
    request: Bytes,
    response: Bytes,
}

fn main() {
    let sites = std::env::args().any(|a| a == "--sites");
    let file = std::env::temp_dir().join(format!("allocations-{}.json", std::process::id()));
    let profiler = if sites {
        dhat::Profiler::builder()
            .file_name(&file)
            .trim_backtraces(None)
            .build()
    } else {
        dhat::Profiler::builder().testing().build()
    };
    let (warmup, calls) = (1_000, 10_000);
    let counts = run(warmup, calls);
    drop(profiler);
    let per_call = |n: u64| n as f64 / calls as f64;
    println!(
        "allocations per unary call (64-byte messages, warm connection, {calls} calls): client {:.1}, server {:.1}",
        per_call(counts.client),
        per_call(counts.server),
    );
    println!(
        "  of the server's: routing `{PATH}` (CallStarted to a handler found) {:.1}",
        per_call(counts.routing)
    );
    if sites {
        print_sites(&file, warmup + calls);
        let _ = std::fs::remove_file(&file);
    }
}

fn run(warmup: u32, calls: u32) -> Counts {
    let now = Instant::now();
    let mut bench = Bench {
        now,
        client: Connection::client(Config::client(), now),
        server: Connection::server(Config::server(), now),
        wire: Vec::with_capacity(64 << 10),
        request: Bytes::from_static(&[7u8; 64]),
        response: Bytes::from_static(&[9u8; 64]),
    };
    let mut router = grpc_sansio::service::Router::new();
    router.add(
        grpc_sansio::service::Service::new("helloworld.Greeter")
            .unary("SayHello", |_ctx, text: String| Ok(text)),
    );
    let mut counts = Counts::default();
    for i in 0..warmup + calls {
        let measure = i >= warmup;
        let before = blocks();
        client_send(&mut bench);
        let sent = blocks();
        let routing = server_turn(&mut bench, &router);
        let served = blocks();
        client_receive(&mut bench);
        if measure {
            counts.client += sent - before + blocks() - served;
            counts.server += served - sent;
            counts.routing += routing;
        }
    }
    counts
}

/// Client: starts the call, sends the request, half-closes, writes.
#[inline(never)]
fn client_send(b: &mut Bench) {
    let call = b
        .client
        .start_call(b.now, CallOptions::new(ByteStr::from_static(PATH)))
        .expect("start_call");
    b.client
        .send_message(call, b.request.clone())
        .expect("send_message");
    b.client.close_send(call).expect("close_send");
    b.wire.clear();
    while b.client.poll_transmit(&mut b.wire) > 0 {}
}

/// Server: reads the request, routes it, answers and finishes; returns the
/// blocks routing took.
#[inline(never)]
fn server_turn(b: &mut Bench, router: &grpc_sansio::service::Router) -> u64 {
    let mut routing = 0;
    b.server.receive(b.now, &b.wire).expect("server receive");
    while let Some(event) = b.server.poll_event() {
        match event {
            Event::CallStarted { request, .. } => {
                let before = blocks();
                let found = router.method_kind(&request.path).is_some();
                routing += blocks() - before;
                assert!(found, "{} is served", &request.path);
            }
            Event::Message { call, .. } => {
                b.server
                    .send_message(call, b.response.clone())
                    .expect("server send_message");
                b.server
                    .finish(call, &Status::ok(), &Metadata::new())
                    .expect("finish");
            }
            _ => {}
        }
    }
    b.wire.clear();
    while b.server.poll_transmit(&mut b.wire) > 0 {}
    routing
}

/// Client: reads the response to the end of the call, writes what it owes.
#[inline(never)]
fn client_receive(b: &mut Bench) {
    b.client.receive(b.now, &b.wire).expect("client receive");
    let mut finished = false;
    while let Some(event) = b.client.poll_event() {
        finished |= matches!(event, Event::Finished { .. });
    }
    assert!(finished, "the call finished");
    b.wire.clear();
    while b.client.poll_transmit(&mut b.wire) > 0 {}
    // WINDOW_UPDATEs the server must see; not counted on either side.
    if !b.wire.is_empty() {
        b.server.receive(b.now, &b.wire).expect("server receive");
        while b.server.poll_event().is_some() {}
    }
}

/// Prints the allocation sites of dhat's profile at `file` that allocate at
/// least once per ten of `calls`.
fn print_sites(file: &std::path::Path, calls: u32) {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => return eprintln!("no profile at {}: {e}", file.display()),
    };
    let json: serde_json::Value = serde_json::from_str(&text).expect("dhat's JSON");
    let frames: Vec<String> = json["ftbl"]
        .as_array()
        .expect("ftbl")
        .iter()
        .map(|f| clean_frame(f.as_str().unwrap_or_default()))
        .collect();
    let mut sites: Vec<(f64, &str, String)> = Vec::new();
    for pp in json["pps"].as_array().expect("pps") {
        let per_call = pp["tbk"].as_u64().unwrap_or(0) as f64 / f64::from(calls);
        if per_call < 0.1 {
            continue;
        }
        let stack: Vec<&str> = pp["fs"]
            .as_array()
            .expect("fs")
            .iter()
            .filter_map(|i| frames.get(i.as_u64()? as usize).map(String::as_str))
            .collect();
        let step = STEPS
            .into_iter()
            .find(|step| stack.iter().any(|f| frame_is(f, step)))
            .unwrap_or("setup");
        // The engine frames, innermost first (or the step, when the example
        // itself allocated), and the frame they called to allocate.
        let is_step = |f: &str| STEPS.iter().any(|step| frame_is(f, step));
        let first = stack
            .iter()
            .position(|f| is_engine(f))
            .or_else(|| stack.iter().position(|f| is_step(f)));
        let what = first
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| stack.get(i))
            .map_or("", |f| f.split(" (").next().unwrap_or_default());
        let mut engine: Vec<&str> = stack
            .iter()
            .skip(first.unwrap_or(stack.len()))
            .copied()
            .take_while(|f| is_engine(f))
            .take(4)
            .collect();
        if engine.is_empty() {
            engine.extend(first.and_then(|i| stack.get(i)).copied());
        }
        let mut line = what.to_owned();
        for frame in engine {
            line.push_str("  <  ");
            line.push_str(frame);
        }
        sites.push((per_call, step, line));
    }
    sites.sort_by(|a, b| a.1.cmp(b.1).then(b.0.total_cmp(&a.0)));
    println!("\nallocation sites (per call, warm-up included; innermost engine frames first):");
    for (per_call, step, line) in sites {
        println!("{per_call:5.2}  {step:<14} {line}");
    }
}

/// The steps of a call, as the stacks name them.
const STEPS: [&str; 3] = ["client_send", "server_turn", "client_receive"];

/// Whether a cleaned frame is the function `name` of this example.
fn frame_is(frame: &str, name: &str) -> bool {
    let symbol = frame.split(" (").next().unwrap_or_default();
    symbol == name || symbol.strip_prefix("allocations::") == Some(name)
}

/// Whether a cleaned frame is in the engine: by symbol, or by the file of an
/// inlined frame when there is line information.
fn is_engine(frame: &str) -> bool {
    frame.starts_with("grpc_sansio::")
        || ["(src/grpc/", "(src/h2/", "(src/hpack/", "(src/service/"]
            .iter()
            .any(|dir| frame.contains(dir))
}

/// `0x55d0…: grpc_sansio::h2::conn::Connection::new (src/h2/conn.rs:1:2)`
/// without the address, and without the location when there is none.
fn clean_frame(frame: &str) -> String {
    let frame = frame.split_once(": ").map_or(frame, |(_, f)| f);
    let (symbol, location) = frame.rsplit_once(" (").unwrap_or((frame, ""));
    if location.is_empty() || location.starts_with("???") {
        symbol.to_owned()
    } else {
        format!("{symbol} ({location}")
    }
}
