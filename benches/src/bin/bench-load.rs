//! `bench-load MODE --addr HOST:PORT [flags]`: the load generators of the
//! side-by-side benchmark, run by `loopback` as processes of their own so that
//! they can be pinned. Each measuring mode prints one `key=value` line.
//!
//! - `unary [--client ours|tonic] [--conns 16] [--streams 16] [--request 16]
//!   [--response 16] [--warmup 1] [--duration 5]`: unary `UnaryCall`s, many
//!   connections times many calls in flight;
//! - `stream [--size 65536] [--count N] [--warmup 1] [--duration 5]`:
//!   `StreamingOutputCall`s of N messages of `size` octets, one at a time on
//!   one connection; prints the message throughput (`mbps`);
//! - `check [--request 16] [--response 16]`: one `UnaryCall`, prints its status
//!   and response length, fails unless OK with the expected length;
//! - `idle [--conns 1000]`: opens idle HTTP/2 connections (handshake only),
//!   prints `ready conns=N`, holds them until standard input closes;
//! - `raw-serve --port P [--chunk 65536]`: writes zeros to each connection;
//! - `raw-read [--chunk 65536] [--warmup 1] [--duration 5]`: reads from
//!   `raw-serve`, prints the throughput.

use std::io::{self, BufRead};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use benches::args::{seconds, Args};
use benches::messages::{self, STREAMING_PATH, UNARY_PATH};
use benches::{idle, load, raw, tonic_load};
use grpc_sansio::grpc::status::Code;
use grpc_sansio::grpc::Config;
use prost::Message;

const USAGE: &str = "usage: bench-load unary|stream|check|idle|raw-serve|raw-read --addr HOST:PORT [flags] (see the source's doc)";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("bench-load: {why}");
            ExitCode::FAILURE
        }
    }
}

fn plan(
    args: &mut Args,
    addr: SocketAddr,
    conns: usize,
    streams: usize,
) -> Result<load::Plan, String> {
    Ok(load::Plan {
        addr,
        conns: args.get("conns", conns)?,
        streams: args.get("streams", streams)?,
        warmup: seconds(args.get("warmup", 1.0)?),
        duration: seconds(args.get("duration", 5.0)?),
        config: Config::client(),
    })
}

fn run() -> Result<(), String> {
    let mut args = Args::from_env(&["help"])?;
    let mode = args.positional().first().cloned().unwrap_or_default();
    if args.switch("help") || mode.is_empty() {
        return Err(USAGE.into());
    }
    let io = |e: io::Error| e.to_string();
    if mode == "raw-serve" {
        let port: u16 = args.required("port")?;
        let chunk = args.get("chunk", 64usize << 10)?;
        args.finish()?;
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).map_err(io)?;
        println!("listening on {}", listener.local_addr().map_err(io)?);
        return Err(raw::serve(listener, chunk).to_string());
    }
    let addr: SocketAddr = args.required("addr")?;
    let request_size = args.get("request", 16usize)?;
    let response_size = args.get("response", 16usize)?;
    let unary = load::Workload {
        path: UNARY_PATH,
        request: messages::encode(&messages::unary_request(request_size, response_size)),
        response_len: Some(messages::unary_response(response_size).encoded_len()),
    };
    match mode.as_str() {
        "unary" => {
            let client = args.string("client").unwrap_or_else(|| "ours".into());
            let plan = plan(&mut args, addr, 16, 16)?;
            args.finish()?;
            let report = match client.as_str() {
                "ours" => load::run(&plan, &unary).map_err(io)?,
                "tonic" => tonic_load::run_unary(
                    &plan,
                    messages::unary_request(request_size, response_size),
                    messages::unary_response(response_size).encoded_len(),
                )
                .map_err(io)?,
                other => return Err(format!("--client {other}: ours or tonic")),
            };
            println!("{}", report.line());
        }
        "stream" => {
            let size = args.get("size", 64usize << 10)?;
            // About 8 MiB per call by default: long enough that starting calls
            // costs little, short enough for many calls per run.
            let count = args.get("count", ((8 << 20) / size.max(1)).max(1))?;
            let mut plan = plan(&mut args, addr, 1, 1)?;
            args.finish()?;
            // Large windows, as tonic's (hyper's) client has: the server's send
            // path is measured, not round trips for credit.
            plan.config.h2.initial_stream_window = 8 << 20;
            plan.config.h2.connection_window = 16 << 20;
            plan.config.max_recv_message_size = plan.config.max_recv_message_size.max(size + 64);
            let work = load::Workload {
                path: STREAMING_PATH,
                request: messages::encode(&messages::streaming_request(size, count)),
                response_len: Some(messages::streaming_response_len(size)),
            };
            println!("{}", load::run(&plan, &work).map_err(io)?.line());
        }
        "check" => {
            args.finish()?;
            let outcome = load::one_call(addr, &unary, Duration::from_secs(5)).map_err(io)?;
            let lens: Vec<String> = outcome.messages.iter().map(|l| l.to_string()).collect();
            println!(
                "grpc-status={} messages={} expected={}",
                outcome.status.code() as i32,
                lens.join(","),
                unary.response_len.unwrap_or(0)
            );
            if outcome.status.code() != Code::Ok {
                return Err(format!("the call failed: {}", outcome.status));
            }
            if outcome.messages != [unary.response_len.unwrap_or(0)] {
                return Err("unexpected response length".into());
            }
        }
        "idle" => {
            let conns = args.get("conns", 1000usize)?;
            args.finish()?;
            let held = idle::open(addr, conns, Duration::from_secs(10)).map_err(io)?;
            println!("ready conns={}", held.len());
            // Hold until the caller closes our standard input.
            let mut line = String::new();
            while io::stdin().lock().read_line(&mut line).map_err(io)? > 0 {
                line.clear();
            }
            drop(held);
        }
        "raw-read" => {
            let chunk = args.get("chunk", 64usize << 10)?;
            let plan = plan(&mut args, addr, 1, 1)?;
            args.finish()?;
            let report = raw::read(addr, chunk, plan.warmup, plan.duration).map_err(io)?;
            println!("{}", report.line());
        }
        other => return Err(format!("unknown mode {other}\n{USAGE}")),
    }
    Ok(())
}
