//! The tokio server and client over real loopback sockets.

use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallOptions, Config, Connection};
use grpc_sansio_tokio::{Channel, Server, ServerCall};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::timeout;

/// No test step may take longer than this: a hang is a failure, not a wait.
const LIMIT: Duration = Duration::from_secs(10);

/// Routes by method: Unary echo, Split (server stream), Sum (client stream),
/// Chat (bidi), Big (large server stream), Flood (sends until it fails),
/// Slow (answers late), Elsewhere (echoes what another thread hands back),
/// Panic, Sleep and Hold (never answer). Flood, Slow, Sleep and Hold report
/// on `seen` when they start (OK "started"); Flood, Sleep and Hold how they
/// ended.
async fn handler(mut call: ServerCall, seen: UnboundedSender<Status>) {
    let started = || Status::new(Code::Ok, "started");
    let method = call.request().method().to_owned();
    match method.as_str() {
        "Unary" => {
            let mut md = Metadata::new();
            if let Some(v) = call.request().metadata.get("x-echo") {
                md.insert("x-echo", v).unwrap();
            }
            md.insert("x-peer", call.peer_addr()).unwrap();
            md.insert("x-local", call.local_addr()).unwrap();
            call.send_headers(md);
            let msg = call.recv().await.unwrap().unwrap();
            call.send(msg).await.unwrap();
            let mut trailers = Metadata::new();
            trailers
                .insert_bin("x-trailer-bin", vec![0xab, 0x00, 0xff])
                .unwrap();
            call.finish(Status::ok(), trailers);
        }
        "Split" => {
            let msg = call.recv().await.unwrap().unwrap();
            for chunk in msg.chunks(3) {
                call.send(Bytes::copy_from_slice(chunk)).await.unwrap();
            }
            call.finish(Status::ok(), Metadata::new());
        }
        "Sum" => {
            let mut total = 0usize;
            while let Some(msg) = call.recv().await.unwrap() {
                total += msg.len();
            }
            call.send(Bytes::from(total.to_string())).await.unwrap();
            call.finish(Status::ok(), Metadata::new());
        }
        "Chat" => {
            while let Some(msg) = call.recv().await.unwrap() {
                let mut reply = b"re: ".to_vec();
                reply.extend_from_slice(&msg);
                call.send(reply.into()).await.unwrap();
            }
            call.finish(Status::ok(), Metadata::new());
        }
        "Big" => {
            let msg = call.recv().await.unwrap().unwrap();
            let count: usize = std::str::from_utf8(&msg).unwrap().parse().unwrap();
            for i in 0..count {
                call.send(Bytes::from(vec![i as u8; 64 << 10]))
                    .await
                    .unwrap();
            }
            call.finish(Status::ok(), Metadata::new());
        }
        "Flood" => {
            let _ = seen.send(started());
            let status = loop {
                if let Err(status) = call.send(Bytes::from(vec![0u8; 64 << 10])).await {
                    break status;
                }
            };
            let _ = seen.send(status);
        }
        "Slow" => {
            let _ = seen.send(started());
            let msg = call.recv().await.unwrap().unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            call.send(msg).await.unwrap();
            call.finish(Status::ok(), Metadata::new());
        }
        "Elsewhere" => {
            let msg = call.recv().await.unwrap().unwrap();
            // Completed by a thread outside the runtime while the connection
            // task waits: only the executor's notify can wake it.
            let (tx, rx) = tokio::sync::oneshot::channel();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                let _ = tx.send(msg);
            });
            let msg = rx.await.unwrap();
            call.send(msg).await.unwrap();
            call.finish(Status::ok(), Metadata::new());
        }
        "Panic" => panic!("the handler fails"),
        "Sleep" => {
            let _ = seen.send(started());
            let status = call.cancelled().await;
            assert!(call.is_cancelled());
            let _ = seen.send(status);
        }
        "Hold" => {
            let _ = seen.send(started());
            let status = loop {
                if let Err(status) = call.recv().await {
                    break status;
                }
            };
            let _ = seen.send(status);
        }
        _ => call.finish(
            Status::new(Code::Unimplemented, "no such method"),
            Metadata::new(),
        ),
    }
}

async fn server() -> (Server, UnboundedReceiver<Status>) {
    let (tx, rx) = unbounded_channel();
    let server = Server::bind("127.0.0.1:0", Config::server(), move |call| {
        handler(call, tx.clone())
    })
    .await
    .unwrap();
    (server, rx)
}

async fn setup() -> (Server, Channel, UnboundedReceiver<Status>) {
    let (server, seen) = server().await;
    let channel = Channel::connect(server.local_addr(), Config::client())
        .await
        .unwrap();
    (server, channel, seen)
}

async fn next(seen: &mut UnboundedReceiver<Status>) -> Status {
    timeout(LIMIT, seen.recv()).await.unwrap().unwrap()
}

fn path(method: &str) -> CallOptions {
    CallOptions::new(format!("/test.Svc/{method}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_four_kinds() {
    let (server, channel, _seen) = setup().await;
    let addr = server.local_addr();
    assert_eq!(server.local(), addr.to_string());
    let mut options = path("Unary");
    options.metadata.insert("x-echo", "hello").unwrap();
    options.timeout = Some(Duration::from_secs(10));
    let reply = channel
        .unary(options, Bytes::from_static(b"ping"))
        .await
        .unwrap();
    assert_eq!(reply.message, "ping");
    assert_eq!(reply.headers.get("x-echo"), Some("hello"));
    assert_eq!(reply.headers.get("x-local"), Some(&*addr.to_string()));
    assert!(reply
        .headers
        .get("x-peer")
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert_eq!(
        &reply.trailers.get_bin("x-trailer-bin").unwrap()[..],
        &[0xab, 0x00, 0xff]
    );

    let mut call = channel.call(path("Split")).await.unwrap();
    call.send(Bytes::from_static(b"abcdefgh")).await.unwrap();
    call.close_send();
    assert!(call.headers().await.unwrap().is_empty());
    let mut parts = Vec::new();
    while let Some(m) = call.recv().await.unwrap() {
        parts.push(m);
    }
    assert_eq!(parts, ["abc", "def", "gh"]);

    let mut call = channel.call(path("Sum")).await.unwrap();
    for _ in 0..10 {
        call.send(Bytes::from(vec![0u8; 1000])).await.unwrap();
    }
    call.close_send();
    assert_eq!(call.recv().await.unwrap().unwrap(), "10000");
    assert!(call.finish().await.0.is_ok());

    let mut call = channel.call(path("Chat")).await.unwrap();
    for i in 0..5 {
        call.send(Bytes::from(format!("m{i}"))).await.unwrap();
        assert_eq!(call.recv().await.unwrap().unwrap(), format!("re: m{i}"));
    }
    call.close_send();
    assert_eq!(call.recv().await.unwrap(), None);

    let err = channel.unary(path("Nope"), Bytes::new()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    timeout(LIMIT, server.shutdown()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_exceeded() {
    let (server, channel, mut seen) = setup().await;
    let mut options = path("Sleep");
    options.timeout = Some(Duration::from_millis(50));
    let err = timeout(LIMIT, channel.unary(options, Bytes::new()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    assert_eq!(next(&mut seen).await.message(), "started");
    // The server's own timer or the client's RST_STREAM, whichever came first.
    let status = next(&mut seen).await;
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    timeout(LIMIT, server.shutdown()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_call_cancels_it() {
    let (server, channel, mut seen) = setup().await;
    let mut call = channel.call(path("Hold")).await.unwrap();
    call.send(Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(next(&mut seen).await.message(), "started");
    drop(call);
    assert_eq!(next(&mut seen).await.code(), Code::Cancelled);

    let call = channel.call(path("Sleep")).await.unwrap();
    assert_eq!(next(&mut seen).await.message(), "started");
    call.cancel();
    assert_eq!(next(&mut seen).await.code(), Code::Cancelled);

    // A handler blocked in `send` by a reader that stopped reading.
    let mut call = channel.call(path("Flood")).await.unwrap();
    assert_eq!(next(&mut seen).await.message(), "started");
    assert_eq!(call.recv().await.unwrap().unwrap().len(), 64 << 10);
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(call);
    assert_eq!(next(&mut seen).await.code(), Code::Cancelled);

    // The connection still serves other calls.
    let reply = channel.unary(path("Unary"), Bytes::from_static(b"ok"));
    assert_eq!(timeout(LIMIT, reply).await.unwrap().unwrap().message, "ok");
    timeout(LIMIT, server.shutdown()).await.unwrap();
}

/// A call that never ends cannot hold the server: after the grace period its
/// connection is closed, the handler sees the call cancelled and the client
/// UNAVAILABLE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_timeout_cuts_a_call_that_never_ends() {
    let (server, channel, mut seen) = setup().await;
    let mut call = channel.call(path("Hold")).await.unwrap();
    call.send(Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(next(&mut seen).await.message(), "started");
    let grace = Duration::from_millis(200);
    let started = Instant::now();
    timeout(LIMIT, server.shutdown_timeout(grace))
        .await
        .unwrap();
    assert!(started.elapsed() >= grace, "the call had its grace period");
    assert_eq!(next(&mut seen).await.code(), Code::Cancelled);
    let err = timeout(LIMIT, call.recv()).await.unwrap().unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_calls_in_flight() {
    let (server, channel, mut seen) = setup().await;
    let slow: Vec<_> = (0..3)
        .map(|i| {
            let channel = channel.clone();
            tokio::spawn(async move {
                channel
                    .unary(path("Slow"), Bytes::from(format!("s{i}")))
                    .await
            })
        })
        .collect();
    let mut chat = channel.call(path("Chat")).await.unwrap();
    chat.send(Bytes::from_static(b"a")).await.unwrap();
    assert_eq!(chat.recv().await.unwrap().unwrap(), "re: a");
    for _ in 0..3 {
        assert_eq!(next(&mut seen).await.message(), "started");
    }

    let shutdown = tokio::spawn(server.shutdown());
    // Calls in flight keep working while the server drains.
    chat.send(Bytes::from_static(b"b")).await.unwrap();
    assert_eq!(chat.recv().await.unwrap().unwrap(), "re: b");
    chat.close_send();
    assert_eq!(timeout(LIMIT, chat.recv()).await.unwrap().unwrap(), None);
    for (i, call) in slow.into_iter().enumerate() {
        let reply = timeout(LIMIT, call).await.unwrap().unwrap().unwrap();
        assert_eq!(reply.message, format!("s{i}"));
    }
    timeout(LIMIT, shutdown).await.unwrap().unwrap();

    // The connection is gone: new calls fail at once.
    let err = timeout(LIMIT, channel.unary(path("Unary"), Bytes::new()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_closes_the_socket_mid_call() {
    let (server, channel, mut seen) = setup().await;
    // A raw peer: the engine writes the preface and a request, then the
    // socket is dropped without a word.
    let mut raw = TcpStream::connect(server.local_addr()).await.unwrap();
    let mut client = Connection::client(Config::client(), Instant::now());
    let call = client.start_call(Instant::now(), path("Hold")).unwrap();
    client.send_message(call, Bytes::from_static(b"x")).unwrap();
    let mut bytes = Vec::new();
    while client.poll_transmit(&mut bytes) > 0 {}
    raw.write_all(&bytes).await.unwrap();
    assert_eq!(next(&mut seen).await.message(), "started");
    drop(raw);
    assert_eq!(next(&mut seen).await.code(), Code::Cancelled);

    // Other connections are unaffected.
    let reply = channel.unary(path("Unary"), Bytes::from_static(b"still here"));
    assert_eq!(
        timeout(LIMIT, reply).await.unwrap().unwrap().message,
        "still here"
    );
    timeout(LIMIT, server.shutdown()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_sees_unavailable_when_the_server_dies() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let channel = Channel::connect(addr, Config::client()).await.unwrap();
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut call = channel.call(path("Hold")).await.unwrap();
    call.send(Bytes::from_static(b"x")).await.unwrap();
    let mut buf = [0u8; 1024];
    assert!(socket.read(&mut buf).await.unwrap() > 0);
    drop(socket);
    drop(listener);

    let err = timeout(LIMIT, call.recv()).await.unwrap().unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    let err = timeout(LIMIT, channel.unary(path("Unary"), Bytes::new()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_calls_on_one_connection() {
    // More calls than the server's MAX_CONCURRENT_STREAMS (100): the engine
    // queues the rest until slots free up.
    let (server, channel, _seen) = setup().await;
    let message = |i: usize| Bytes::from(vec![i as u8; 1 + i * 100]);
    echo_at_once(&channel, "Unary", 200, message).await;
    timeout(LIMIT, server.shutdown()).await.unwrap();
}

/// `n` unary calls to `method` at once on `channel`, each a task, each
/// answered with its own message.
async fn echo_at_once(channel: &Channel, method: &str, n: usize, message: fn(usize) -> Bytes) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (channel, path) = (channel.clone(), path(method));
            tokio::spawn(async move {
                let msg = message(i);
                let reply = channel.unary(path, msg.clone()).await.unwrap();
                assert_eq!(reply.message, msg);
            })
        })
        .collect();
    for task in tasks {
        timeout(LIMIT, task).await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_streams_wait_for_capacity() {
    let (server, channel, _seen) = setup().await;
    // 8 MiB up: sends wait whenever the engine's buffer and windows are full.
    let mut call = channel.call(path("Sum")).await.unwrap();
    for _ in 0..128 {
        timeout(LIMIT, call.send(Bytes::from(vec![7u8; 64 << 10])))
            .await
            .unwrap()
            .unwrap();
    }
    call.close_send();
    assert_eq!(call.recv().await.unwrap().unwrap(), (8 << 20).to_string());

    // 8 MiB down to a slow reader: the server's sends wait for it.
    let mut call = channel.call(path("Big")).await.unwrap();
    call.send(Bytes::from_static(b"128")).await.unwrap();
    call.close_send();
    for i in 0..128usize {
        if i % 16 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let msg = timeout(LIMIT, call.recv()).await.unwrap().unwrap().unwrap();
        assert_eq!(msg.len(), 64 << 10);
        assert_eq!(msg[0], i as u8);
    }
    assert_eq!(call.recv().await.unwrap(), None);
    timeout(LIMIT, server.shutdown()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_lives_while_a_call_does() {
    let (server, channel, _seen) = setup().await;
    let mut call = channel.call(path("Chat")).await.unwrap();
    drop(channel);
    call.send(Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(call.recv().await.unwrap().unwrap(), "re: x");
    call.close_send();
    assert!(timeout(LIMIT, call.finish()).await.unwrap().0.is_ok());

    // With nothing left, the channel's connection closes by itself.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let channel = Channel::connect(listener.local_addr().unwrap(), Config::client())
        .await
        .unwrap();
    let (mut socket, _) = listener.accept().await.unwrap();
    drop(channel);
    let mut rest = Vec::new();
    timeout(LIMIT, socket.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    timeout(LIMIT, server.shutdown()).await.unwrap();
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_round_trip() {
    let path_buf =
        std::env::temp_dir().join(format!("grpc-sansio-tokio-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path_buf);
    let (tx, _seen) = unbounded_channel();
    let server = Server::bind_unix(&path_buf, Config::server(), move |call| {
        handler(call, tx.clone())
    })
    .await
    .unwrap();
    assert_eq!(server.local(), path_buf.display().to_string());
    let channel = Channel::connect_unix(&path_buf, Config::client())
        .await
        .unwrap();
    let reply = channel.unary(path("Unary"), Bytes::from_static(b"over unix"));
    let reply = timeout(LIMIT, reply).await.unwrap().unwrap();
    assert_eq!(reply.message, "over unix");
    assert_eq!(reply.headers.get("x-local"), Some(server.local()));
    assert_eq!(reply.headers.get("x-peer"), Some("unix"));
    timeout(LIMIT, server.shutdown()).await.unwrap();
    assert!(!path_buf.exists(), "the socket file goes with the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_timeout_and_refusal() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    assert!(Channel::connect(addr, Config::client()).await.is_err());
    let (server, _seen) = server().await;
    let channel = Channel::connect_timeout(
        server.local_addr(),
        Duration::from_secs(5),
        Config::client(),
    )
    .await
    .unwrap();
    let reply = channel.unary(path("Unary"), Bytes::from_static(b"t"));
    assert_eq!(timeout(LIMIT, reply).await.unwrap().unwrap().message, "t");
    timeout(LIMIT, server.shutdown()).await.unwrap();
}

/// Handlers that wait on other threads: their calls still complete, every one
/// of many at once on one connection, on either kind of runtime.
async fn woken_from_another_thread() {
    let (server, channel, _seen) = setup().await;
    echo_at_once(&channel, "Elsewhere", 64, |i| Bytes::from(format!("m{i}"))).await;
    timeout(LIMIT, server.shutdown()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_woken_from_another_thread_complete() {
    woken_from_another_thread().await;
}

#[tokio::test(flavor = "current_thread")]
async fn handlers_woken_from_another_thread_complete_on_one_thread() {
    woken_from_another_thread().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_ends_only_its_call() {
    let (server, channel, _seen) = setup().await;
    let mut chat = channel.call(path("Chat")).await.unwrap();
    let err = timeout(LIMIT, channel.unary(path("Panic"), Bytes::new()))
        .await
        .unwrap()
        .unwrap_err();
    // The dropped handle's UNKNOWN, as a spawned task's panic gave.
    assert_eq!(err.code(), Code::Unknown, "{err:?}");
    // The connection and its other calls go on.
    chat.send(Bytes::from_static(b"x")).await.unwrap();
    assert_eq!(chat.recv().await.unwrap().unwrap(), "re: x");
    let reply = channel.unary(path("Unary"), Bytes::from_static(b"ok"));
    assert_eq!(timeout(LIMIT, reply).await.unwrap().unwrap().message, "ok");
    chat.close_send();
    timeout(LIMIT, server.shutdown()).await.unwrap();
}
