//! `h2-conform` over loopback against our three adapters (mio twice: worker
//! pool, and async handlers on its event loop): every h2spec case,
//! strict one included, must pass against each; and the binary prints what
//! it should and exits accordingly.
//!
//! The servers serve one unary method answering with a body, which the run
//! targets with gRPC requests: a gRPC server keeps a request stream open, and
//! answers with a body, only for a call of a method it serves.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::Config;
use grpc_sansio_service::{AsyncRouter, AsyncService, BoxFuture, CallContext, Router, Service};
use spec_tests::conform::{run, Options, Report, RequestKind};

const SERVICE: &str = "h2conform.Body";
const METHOD: &str = "Get";
const PATH: &str = "/h2conform.Body/Get";

/// gRPC servers advertise SETTINGS_MAX_HEADER_LIST_SIZE 8192. http2/6.10/1
/// sends two dummy headers in one request, which must fit in it (at most
/// about 3900 octets each), while http2/4.2/3 needs five of them, Huffman-coded
/// at 7 bits an octet, to exceed the 16384-octet frame size (at least about
/// 3750 each).
const MAX_HEADER_LENGTH: usize = 3800;

/// Long enough not to fire on a loaded machine when a server is slow to
/// answer; passing cases never wait for it to run out.
const TIMEOUT: Duration = Duration::from_millis(1000);

/// The response message: long enough for every case needing a body (5).
fn body() -> String {
    "h2-conform response body".to_owned()
}

fn body_blocking(_: &mut CallContext, _: ()) -> Result<String, Status> {
    Ok(body())
}

fn body_async(_: &mut CallContext, _: ()) -> BoxFuture<'_, Result<String, Status>> {
    Box::pin(async { Ok(body()) })
}

fn router() -> Arc<Router> {
    let mut router = Router::new();
    router.add(Service::new(SERVICE).unary(METHOD, body_blocking));
    Arc::new(router)
}

fn async_router() -> Arc<AsyncRouter> {
    let mut router = AsyncRouter::new();
    router.add(AsyncService::new(SERVICE).unary(METHOD, body_async));
    Arc::new(router)
}

/// The whole suite, strict case included, against `port`.
fn run_all(port: u16) -> Report {
    let mut options = Options::new("127.0.0.1", port);
    options.timeout = TIMEOUT;
    options.path = PATH.to_owned();
    options.requests = RequestKind::Grpc;
    options.max_header_length = MAX_HEADER_LENGTH;
    options.strict = true;
    run(&options, |_| {}).expect("every case is selected")
}

fn assert_all_pass(adapter: &str, report: &Report) {
    let failures = report
        .failures()
        .map(ToString::to_string)
        .collect::<Vec<_>>();
    assert!(
        failures.is_empty(),
        "{adapter}: {}\n{}",
        report.summary(),
        failures.join("\n")
    );
    assert_eq!(report.cases.len(), 147, "{adapter}: {}", report.summary());
    assert_eq!(report.skipped(), 0, "{adapter}: {}", report.summary());
}

#[test]
fn mio_adapter_passes_every_case() {
    let server = grpc_sansio_mio::Server::new(Config::server())
        .serve_router("127.0.0.1:0", 2, router())
        .unwrap();
    let report = run_all(server.local_addr().port());
    server.shutdown_timeout(Duration::from_secs(5));
    assert_all_pass("mio", &report);
}

#[test]
fn mio_adapter_with_inline_handlers_passes_every_case() {
    let server = grpc_sansio_mio::Server::new(Config::server())
        .serve_router_inline("127.0.0.1:0", async_router())
        .unwrap();
    let report = run_all(server.local_addr().port());
    server.shutdown_timeout(Duration::from_secs(5));
    assert_all_pass("mio-inline", &report);
}

#[test]
fn tokio_adapter_passes_every_case() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(grpc_sansio_tokio::Server::bind_router(
            "127.0.0.1:0",
            Config::server(),
            async_router(),
        ))
        .unwrap();
    let report = run_all(server.local_addr().port());
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), server.shutdown())
            .await
            .expect("the tokio server shuts down")
    });
    assert_all_pass("tokio", &report);
}

#[test]
fn blocking_adapter_passes_every_case() {
    let server =
        grpc_sansio_blocking::Server::bind_router("127.0.0.1:0", Config::server(), router())
            .unwrap();
    let report = run_all(server.local_addr().port());
    server.shutdown();
    assert_all_pass("blocking", &report);
}

/// Runs the binary against `port` with `args`; returns stdout lines and the
/// exit code.
fn h2_conform(port: u16, args: &[&str]) -> (Vec<String>, Option<i32>) {
    let output = Command::new(env!("CARGO_BIN_EXE_h2-conform"))
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(args)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    (
        stdout.lines().map(str::to_owned).collect(),
        output.status.code(),
    )
}

#[test]
fn the_binary_reports_each_case_and_exits_by_the_result() {
    let server = grpc_sansio_mio::Server::new(Config::server())
        .serve_router("127.0.0.1:0", 2, router())
        .unwrap();
    let port = server.local_addr().port();

    let cases = "generic/3.7/1,http2/6.9.1/1";
    let args = [
        "--grpc",
        "--path",
        PATH,
        "--case",
        cases,
        "--max-header-length",
        "3800",
    ];
    let (lines, code) = h2_conform(port, &args);
    assert_eq!(
        lines,
        [
            "PASS generic/3.7/1 (RFC 9113 §6.7) Sends a PING frame",
            "PASS http2/6.9.1/1 (RFC 9113 §6.9.1) Sends SETTINGS frame to set the initial \
             window size to 1 and sends HEADERS frame",
            "2 passed, 0 failed, 0 skipped",
        ]
    );
    assert_eq!(code, Some(0));

    // h2spec's plain GET gets 405 without a body from a gRPC server: the case
    // that needs a body is skipped, and generic/2/2 (which h2spec never skips)
    // waits for DATA in vain.
    let (lines, code) = h2_conform(
        port,
        &[
            "--timeout-ms",
            "300",
            "--case",
            "generic/2/2,hpack/6.1/1,http2/6.9.1/1",
        ],
    );
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert!(
        lines[0].starts_with(
            "FAIL generic/2/2 (RFC 9113 §5.1) Sends a WINDOW_UPDATE frame on half-closed \
             (remote) stream: expected a DATA frame; received ["
        ) && lines[0].contains("HEADERS(stream 1, END_STREAM, END_HEADERS)")
            && lines[0].ends_with("]; then timeout (300 ms)"),
        "{lines:#?}"
    );
    assert!(
        lines[1].starts_with(
            "SKIP http2/6.9.1/1 (RFC 9113 §6.9.1) Sends SETTINGS frame to set the initial \
             window size to 1 and sends HEADERS frame: needs a response body of at least 1 \
             octets; GET / was answered with :status 405 and 0 body octets"
        ),
        "{lines:#?}"
    );
    assert!(lines[2].starts_with("PASS hpack/6.1/1 "), "{lines:#?}");
    assert_eq!(lines[3], "1 passed, 1 failed, 1 skipped");
    assert_eq!(code, Some(1));

    let (lines, code) = h2_conform(port, &["--case", "http2/5.4.1/2"]);
    assert!(lines.is_empty(), "{lines:#?}");
    assert_eq!(code, Some(2), "the strict case needs --strict");

    server.shutdown_timeout(Duration::from_secs(5));
}
