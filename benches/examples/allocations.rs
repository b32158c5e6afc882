//! Heap allocations per unary gRPC call, on each side, through the engine
//! alone (no sockets): the client's `start_call` / `send_message` /
//! `close_send` / `receive` / `poll_*` work, and the server's.
//!
//! Run: `cargo run --release -p benches --example allocations`
//!
//! The calls are those of `benches::allocations`. The client names the method
//! with a static path (`ByteStr::from_static`), as generated code can; a
//! `CallOptions::new("/…")` copies it, one block more. The server's figure
//! includes routing the call (its `:path` looked up in a `service::Router`),
//! shown on its own as well. `tests/allocations.rs` holds both sides to the
//! ceilings of issue 13.
//!
//! `--sites` also prints where the per-call allocations come from (dhat's
//! heap profile, read back): one line per allocation site (a distinct stack)
//! that allocates at least once per ten calls, with the step of the call, what
//! allocated and the innermost engine frames. A block that grows counts again
//! at the site that allocated it. Without debug information the stacks only
//! name functions that were not inlined; for every frame with its file and
//! line, run `CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo run --release
//! -p benches --example allocations -- --sites` (a full rebuild).

use benches::allocations::{Bench, PATH, STEPS};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn blocks() -> u64 {
    dhat::HeapStats::get().total_blocks
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
    let counts = Bench::new().run(warmup, calls, blocks);
    drop(profiler);
    println!(
        "allocations per unary call (64-byte messages, warm connection, {calls} calls): client {:.1}, server {:.1}",
        counts.client_per_call(),
        counts.server_per_call(),
    );
    println!(
        "  of the server's: routing `{PATH}` (CallStarted to a handler found) {:.1}",
        counts.routing_per_call()
    );
    if sites {
        print_sites(&file, warmup + calls);
        let _ = std::fs::remove_file(&file);
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

/// Whether a cleaned frame is the function `name` of `benches::allocations`
/// (named in full without line information, by its name alone with it).
fn frame_is(frame: &str, name: &str) -> bool {
    let symbol = frame.split(" (").next().unwrap_or_default();
    symbol == name || symbol.strip_prefix("benches::allocations::") == Some(name)
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
