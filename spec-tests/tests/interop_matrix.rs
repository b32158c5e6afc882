//! The interop matrix over 127.0.0.1: every case of `interop/CASES.md` in
//! every pairing of clients and servers, ours (each adapter, through the
//! `interop-server` and `interop-client` binaries exactly as other tools run
//! them; mio's server both with its worker pool and with `--handlers inline`),
//! tonic (in this process), and grpcio (the Python scripts, from the virtual
//! environment `spec-tests/interop/python/setup.sh` makes).
//!
//! The table it prints (and writes to `target/interop-matrix.md`) is the one
//! in `spec-tests/README.md`.

mod peers;
mod tonic_peer;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use peers::{grpcio_server, python, python_script, workspace_root, ServerProcess};

use spec_tests::interop::cases::ALL_CASES;
use spec_tests::interop::{Adapter, Handlers};

/// What a peer cannot do, so a case cannot pass with it: the server (or
/// client) it concerns, the case, and what the peer lacks. The matrix shows
/// these as `n/a` with the reason, and checks that they still fail, so a peer
/// that gains the feature is noticed.
struct PeerLimit {
    client: Option<&'static str>,
    server: Option<&'static str>,
    case: &'static str,
    lacks: &'static str,
}

const PEER_LIMITS: &[PeerLimit] = &[PeerLimit {
    client: None,
    server: Some("tonic"),
    case: "server_compressed_streaming",
    lacks: "tonic's server compresses every message of a compressed response stream: \
            it cannot send the second response uncompressed",
}];

fn limit_of(run: &Run, case: &str) -> Option<(usize, &'static PeerLimit)> {
    PEER_LIMITS.iter().enumerate().find(|(_, l)| {
        l.case == case
            && l.client.is_none_or(|c| c == run.client)
            && l.server.is_none_or(|s| s == run.server)
    })
}

/// One client × server run: the verdict of each case.
struct Run {
    client: String,
    server: String,
    verdicts: BTreeMap<String, Result<(), String>>,
}

/// Our servers: each adapter with its default handlers, mio's with its
/// handlers on the event loop (`mio-inline`), and blocking's on each
/// connection's thread (`blocking-inline`).
const OUR_SERVERS: [(Adapter, Handlers); 5] = [
    (Adapter::Mio, Handlers::Pool),
    (Adapter::Mio, Handlers::Inline),
    (Adapter::Tokio, Handlers::Pool),
    (Adapter::Blocking, Handlers::Pool),
    (Adapter::Blocking, Handlers::Inline),
];

fn our_server(adapter: Adapter, handlers: Handlers) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_interop-server"));
    command.args(["--port", "0", "--adapter", adapter.name()]);
    let mut name = adapter.name().to_owned();
    if handlers != Handlers::default() {
        command.args(["--handlers", handlers.name()]);
        name = format!("{name}-{}", handlers.name());
    }
    ServerProcess::spawn(&name, command)
}

/// Runs a client command and reads its report: one `PASS`/`FAIL` line per
/// case, the summary, and an exit status that agrees with them.
fn run_client(client: &str, server: &str, mut command: Command) -> Run {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{client}: cannot start: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut verdicts = BTreeMap::new();
    let mut summary = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("PASS ") {
            verdicts.insert(name.to_owned(), Ok(()));
        } else if let Some(rest) = line.strip_prefix("FAIL ") {
            let (name, why) = rest.split_once(": ").unwrap_or((rest, ""));
            verdicts.insert(name.to_owned(), Err(why.to_owned()));
        } else if line.ends_with(" failed") {
            summary = Some(line.to_owned());
        }
    }
    let failed = verdicts.values().filter(|v| v.is_err()).count();
    let expected = format!("{} passed, {failed} failed", verdicts.len() - failed);
    assert_eq!(
        summary.as_deref(),
        Some(expected.as_str()),
        "{client} → {server}: summary line\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        output.status.success(),
        failed == 0,
        "{client} → {server}: exit status {} with {failed} failures",
        output.status
    );
    Run {
        client: client.to_owned(),
        server: server.to_owned(),
        verdicts,
    }
}

fn our_client(adapter: Adapter, server: &str, addr: SocketAddr) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_interop-client"));
    command.args([
        "--server_host",
        &addr.ip().to_string(),
        "--server_port",
        &addr.port().to_string(),
        "--test_case",
        "all",
        "--adapter",
        adapter.name(),
    ]);
    run_client(adapter.name(), server, command)
}

fn grpcio_client(python: &Path, server: &str, addr: SocketAddr) -> Run {
    let mut command = Command::new(python);
    command.arg(python_script("interop_client.py")).args([
        "--server_host",
        &addr.ip().to_string(),
        "--server_port",
        &addr.port().to_string(),
        "--test_case",
        "all",
    ]);
    run_client("grpcio", server, command)
}

fn tonic_client(runtime: &tokio::runtime::Runtime, server: &str, addr: SocketAddr) -> Run {
    let outcomes = runtime.block_on(tonic_peer::client::run_cases(addr, &ALL_CASES));
    Run {
        client: "tonic".to_owned(),
        server: server.to_owned(),
        verdicts: outcomes.into_iter().map(|o| (o.name, o.result)).collect(),
    }
}

/// The matrix as a markdown table: a row per case, a column per pairing
/// (`client→server`; mio, tokio and blocking are grpc-sansio's adapters,
/// mio-inline mio's server with its handlers on the event loop).
fn table(runs: &[Run]) -> String {
    let mut out = String::from("| case |");
    for run in runs {
        out += &format!(" {}→{} |", run.client, run.server);
    }
    out += "\n|---|";
    out += &"---|".repeat(runs.len());
    for case in ALL_CASES {
        out += &format!("\n| {case} |");
        for run in runs {
            let cell = match (run.verdicts.get(case), limit_of(run, case)) {
                (Some(Err(_)), Some((n, _))) => format!(" n/a ({}) |", n + 1),
                (Some(Ok(())), _) => " pass |".to_owned(),
                (Some(Err(_)), None) => " **FAIL** |".to_owned(),
                (None, _) => " missing |".to_owned(),
            };
            out += &cell;
        }
    }
    out += "\n";
    for (n, limit) in PEER_LIMITS.iter().enumerate() {
        out += &format!("\n({}) `{}`: {}.", n + 1, limit.case, limit.lacks);
    }
    out + "\n"
}

#[test]
fn every_case_passes_in_every_pairing() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let python = python();
    let mut runs = Vec::new();

    for (server_adapter, handlers) in OUR_SERVERS {
        let server = our_server(server_adapter, handlers);
        let name = server.name.clone();
        for client_adapter in Adapter::ALL {
            runs.push(our_client(client_adapter, &name, server.addr));
        }
        runs.push(tonic_client(&runtime, &name, server.addr));
        runs.push(grpcio_client(&python, &name, server.addr));
        server.stop();
    }

    let tonic = runtime.block_on(tonic_peer::server::TonicServer::start());
    for client_adapter in Adapter::ALL {
        runs.push(our_client(client_adapter, "tonic", tonic.addr()));
    }
    runtime.block_on(tonic.stop());

    let grpcio = grpcio_server(&python);
    for client_adapter in Adapter::ALL {
        runs.push(our_client(client_adapter, "grpcio", grpcio.addr));
    }
    grpcio.stop();

    let table = table(&runs);
    println!("{table}");
    let _ = std::fs::write(workspace_root().join("target/interop-matrix.md"), &table);

    let mut failures = Vec::new();
    for run in &runs {
        for case in ALL_CASES {
            let pairing = format!("{} → {}: {case}", run.client, run.server);
            match (run.verdicts.get(case), limit_of(run, case)) {
                (Some(Ok(())), None) | (Some(Err(_)), Some(_)) => {}
                (Some(Ok(())), Some(_)) => failures.push(format!(
                    "{pairing}: passes although PEER_LIMITS says the peer cannot: update it"
                )),
                (Some(Err(why)), None) => failures.push(format!("{pairing}: {why}")),
                (None, _) => failures.push(format!("{pairing}: not run")),
            }
        }
    }
    assert!(failures.is_empty(), "{}\n{table}", failures.join("\n"));
}
