//! The interop binaries' contract beyond a green run (other tools drive
//! them): usage errors exit 2, an unknown case or an unreachable server fails
//! each case on its own line and exits 1; `--handlers inline` on mio and
//! blocking.

use std::process::{Command, Output};

fn client(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_interop-client"))
        .args(args)
        .output()
        .expect("interop-client runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn usage_errors_exit_2() {
    let no_port = client(&["--test_case", "all"]);
    assert_eq!(no_port.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_port.stderr).contains("--server_port is required"));

    let tls = client(&["--server_port", "1", "--use_tls=true"]);
    assert_eq!(tls.status.code(), Some(2), "no TLS yet, and it says so");

    let server = Command::new(env!("CARGO_BIN_EXE_interop-server"))
        .args(["--port", "0", "--adapter", "nope"])
        .output()
        .expect("interop-server runs");
    assert_eq!(server.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&server.stderr).contains("unknown adapter"));

    let server = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_interop-server"))
            .args(["--port", "0"])
            .args(args)
            .output()
            .expect("interop-server runs")
    };
    let nope = server(&["--handlers", "nope"]);
    assert_eq!(nope.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nope.stderr).contains("unknown handlers"));
}

/// `--adapter blocking --handlers inline` serves (it used to exit 2).
#[test]
fn blocking_with_inline_handlers_is_no_usage_error() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_interop-server"))
        .args([
            "--port",
            "0",
            "--adapter",
            "blocking",
            "--handlers",
            "inline",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("interop-server runs");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let exited = server.try_wait().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(exited, None, "still serving");
}

#[test]
fn mio_with_inline_handlers_serves_the_cases() {
    inline_handlers_serve_the_cases(spec_tests::interop::Adapter::Mio);
}

#[test]
fn blocking_with_inline_handlers_serves_the_cases() {
    inline_handlers_serve_the_cases(spec_tests::interop::Adapter::Blocking);
}

fn inline_handlers_serve_the_cases(adapter: spec_tests::interop::Adapter) {
    let server = spec_tests::interop::server::InteropServer::start_with(
        adapter,
        spec_tests::interop::Handlers::Inline,
        0,
        1,
    )
    .unwrap();
    let port = server.local_addr().port().to_string();
    let output = client(&[
        "--server_port",
        &port,
        "--test_case",
        "large_unary,ping_pong,timeout_on_sleeping_server",
    ]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.ends_with("3 passed, 0 failed\n"), "{out}");
    server.stop();
}

#[test]
fn an_unreachable_server_fails_every_case_asked() {
    // A port nothing listens on: bind one, note it, free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let output = client(&[
        "--server_port",
        &port,
        "--test_case",
        "empty_unary,large_unary",
    ]);
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("FAIL empty_unary: cannot connect"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("FAIL large_unary: cannot connect"),
        "{out}"
    );
    assert_eq!(lines[2], "0 passed, 2 failed");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn an_unknown_case_fails_alone() {
    let server = spec_tests::interop::server::InteropServer::start(
        spec_tests::interop::Adapter::Blocking,
        0,
        1,
    )
    .unwrap();
    let port = server.local_addr().port().to_string();
    let output = client(&[
        "--server_port",
        &port,
        "--test_case",
        "empty_unary,no_such_case",
    ]);
    let out = stdout(&output);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "PASS empty_unary", "{out}");
    assert!(
        lines[1].starts_with("FAIL no_such_case: unknown test case"),
        "{out}"
    );
    assert_eq!(lines[2], "1 passed, 1 failed");
    assert_eq!(output.status.code(), Some(1));
    server.stop();
}

/// `interval_us` on mio's event loop: the wait sleeps on a thread of its own
/// and wakes the task; the stream comes whole and in order.
#[test]
fn mio_with_inline_handlers_waits_intervals_off_the_loop() {
    inline_handlers_wait_intervals_off_the_thread(spec_tests::interop::Adapter::Mio);
}

/// The same on a blocking connection's thread: the wake reaches it while it
/// waits for input.
#[test]
fn blocking_with_inline_handlers_waits_intervals_off_the_thread() {
    inline_handlers_wait_intervals_off_the_thread(spec_tests::interop::Adapter::Blocking);
}

fn inline_handlers_wait_intervals_off_the_thread(adapter: spec_tests::interop::Adapter) {
    use bytes::Bytes;
    use grpc_sansio::grpc::{CallOptions, Config};
    use prost::Message;
    use spec_tests::proto::{
        ResponseParameters, StreamingOutputCallRequest, StreamingOutputCallResponse,
    };

    let server = spec_tests::interop::server::InteropServer::start_with(
        adapter,
        spec_tests::interop::Handlers::Inline,
        0,
        1,
    )
    .unwrap();
    let client = grpc_sansio_mio::Client::connect(server.local_addr(), Config::client()).unwrap();
    let request = StreamingOutputCallRequest {
        response_parameters: (1..=3)
            .map(|size| ResponseParameters {
                size,
                interval_us: 20_000,
                ..ResponseParameters::default()
            })
            .collect(),
        ..StreamingOutputCallRequest::default()
    };
    let path = "/grpc.testing.TestService/StreamingOutputCall";
    let mut call = client.call(CallOptions::new(path)).unwrap();
    call.send(Bytes::from(request.encode_to_vec())).unwrap();
    call.close_send();
    let mut sizes = Vec::new();
    while let Some(message) = call.recv().unwrap() {
        let response = StreamingOutputCallResponse::decode(message).unwrap();
        sizes.push(response.payload.map_or(0, |p| p.body.len()));
    }
    assert_eq!(sizes, [1, 2, 3]);
    drop(call);
    drop(client);
    server.stop();
}
