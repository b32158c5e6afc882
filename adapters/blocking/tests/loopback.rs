//! The blocking server and client over real loopback sockets.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallOptions, Config};
use grpc_sansio_blocking::{AsyncServerCall, Channel, Server, ServerCall};
use grpc_sansio_service::{AsyncRouter, AsyncService, MethodKind, Router, Service};

/// Routes by method: Unary echo, Split (server stream), Sum (client stream),
/// Chat (bidi), Sleep (waits for cancellation).
fn handler(mut call: ServerCall) {
    let method = call.request().method().to_owned();
    match method.as_str() {
        "Unary" => {
            let mut md = Metadata::new();
            if let Some(v) = call.request().metadata.get("x-echo") {
                md.insert("x-echo", v).unwrap();
            }
            call.send_headers(md);
            let msg = call.recv().unwrap().unwrap();
            call.send(msg).unwrap();
            let mut trailers = Metadata::new();
            trailers
                .insert_bin("x-trailer-bin", vec![0xab, 0xab, 0xab])
                .unwrap();
            call.finish(Status::ok(), trailers);
        }
        "Split" => {
            let msg = call.recv().unwrap().unwrap();
            for chunk in msg.chunks(3) {
                call.send(Bytes::copy_from_slice(chunk)).unwrap();
            }
            call.finish(Status::ok(), Metadata::new());
        }
        "Sum" => {
            let mut total = 0usize;
            while let Some(msg) = call.recv().unwrap() {
                total += msg.len();
            }
            call.send(Bytes::from(total.to_string())).unwrap();
            call.finish(Status::ok(), Metadata::new());
        }
        "Chat" => {
            while let Some(msg) = call.recv().unwrap() {
                let mut reply = b"re: ".to_vec();
                reply.extend_from_slice(&msg);
                call.send(reply.into()).unwrap();
            }
            call.finish(Status::ok(), Metadata::new());
        }
        "Stream" => {
            call.recv().unwrap();
            for i in 0..5u8 {
                std::thread::sleep(Duration::from_millis(20));
                if call.send(Bytes::from(vec![i])).is_err() {
                    return;
                }
            }
            call.finish(Status::ok(), Metadata::new());
        }
        "Sleep" => {
            let status = loop {
                if let Err(status) = call.recv() {
                    break status;
                }
            };
            assert!(matches!(
                status.code(),
                Code::Cancelled | Code::DeadlineExceeded
            ));
        }
        _ => call.finish(
            Status::new(Code::Unimplemented, "no such method"),
            Metadata::new(),
        ),
    }
}

fn setup() -> (Server, Channel) {
    let server = Server::bind("127.0.0.1:0", Config::server(), handler).unwrap();
    let channel = Channel::connect(server.local_addr(), Config::client()).unwrap();
    (server, channel)
}

#[test]
fn all_four_kinds() {
    let (server, channel) = setup();
    let mut options = CallOptions::new("/test.Svc/Unary");
    options.metadata.insert("x-echo", "hello").unwrap();
    options.timeout = Some(Duration::from_secs(10));
    let reply = channel.unary(options, Bytes::from_static(b"ping")).unwrap();
    assert_eq!(reply.message, "ping");
    assert_eq!(reply.headers.get("x-echo"), Some("hello"));
    assert_eq!(
        &reply.trailers.get_bin("x-trailer-bin").unwrap()[..],
        &[0xab; 3]
    );

    let mut call = channel.call(CallOptions::new("/test.Svc/Split")).unwrap();
    call.send(Bytes::from_static(b"abcdefgh")).unwrap();
    call.close_send();
    let mut parts = Vec::new();
    while let Some(m) = call.recv().unwrap() {
        parts.push(m);
    }
    assert_eq!(parts, ["abc", "def", "gh"]);

    let mut call = channel.call(CallOptions::new("/test.Svc/Sum")).unwrap();
    for _ in 0..10 {
        call.send(Bytes::from(vec![0u8; 1000])).unwrap();
    }
    call.close_send();
    assert_eq!(call.recv().unwrap().unwrap(), "10000");
    assert!(call.finish().0.is_ok());

    let mut call = channel.call(CallOptions::new("/test.Svc/Chat")).unwrap();
    for i in 0..5 {
        call.send(Bytes::from(format!("m{i}"))).unwrap();
        assert_eq!(call.recv().unwrap().unwrap(), format!("re: m{i}"));
    }
    call.close_send();
    assert_eq!(call.recv().unwrap(), None);
    server.shutdown();
}

#[test]
fn deadline_and_cancellation() {
    let (server, channel) = setup();
    let mut options = CallOptions::new("/test.Svc/Sleep");
    options.timeout = Some(Duration::from_millis(50));
    let err = channel.unary(options, Bytes::new()).unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);

    let mut call = channel.call(CallOptions::new("/test.Svc/Sleep")).unwrap();
    call.send(Bytes::from_static(b"x")).unwrap();
    call.cancel();

    let err = channel
        .unary(CallOptions::new("/test.Svc/Nope"), Bytes::new())
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    server.shutdown();
}

#[test]
fn many_concurrent_calls_on_one_connection() {
    let (server, channel) = setup();
    let threads: Vec<_> = (0..200)
        .map(|i| {
            let channel = channel.clone();
            std::thread::spawn(move || {
                let msg = Bytes::from(vec![i as u8; 1 + i * 100]);
                let reply = channel
                    .unary(CallOptions::new("/test.Svc/Unary"), msg.clone())
                    .unwrap();
                assert_eq!(reply.message, msg);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    server.shutdown();
}

#[test]
fn shutdown_lets_calls_in_flight_finish() {
    let (server, channel) = setup();
    let mut call = channel.call(CallOptions::new("/test.Svc/Stream")).unwrap();
    call.send(Bytes::from_static(b"go")).unwrap();
    call.close_send();
    assert_eq!(call.recv().unwrap().unwrap(), Bytes::from(vec![0u8]));
    let stopper = std::thread::spawn(move || server.shutdown());
    let mut rest = Vec::new();
    while let Some(m) = call.recv().unwrap() {
        rest.push(m[0]);
    }
    assert_eq!(rest, [1, 2, 3, 4]);
    stopper.join().unwrap();
    // The connection went away: new calls fail fast instead of hanging.
    let err = channel
        .unary(CallOptions::new("/test.Svc/Unary"), Bytes::new())
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
}

/// A call that never ends cannot hold the server: after the grace period its
/// connection is closed, the handler sees the call cancelled and the client
/// UNAVAILABLE.
#[test]
fn shutdown_timeout_cuts_a_call_that_never_ends() {
    let (seen, events) = std::sync::mpsc::channel();
    let server = Server::bind("127.0.0.1:0", Config::server(), move |mut call| {
        let _ = seen.send(Status::new(Code::Ok, "started"));
        let status = loop {
            if let Err(status) = call.recv() {
                break status;
            }
        };
        let _ = seen.send(status);
    })
    .unwrap();
    let channel = Channel::connect(server.local_addr(), Config::client()).unwrap();
    let mut call = channel.call(CallOptions::new("/test.Svc/Hold")).unwrap();
    call.send(Bytes::from_static(b"x")).unwrap();
    let limit = Duration::from_secs(10);
    assert_eq!(events.recv_timeout(limit).unwrap().message(), "started");
    let (grace, started) = (Duration::from_millis(200), std::time::Instant::now());
    server.shutdown_timeout(grace);
    assert!(started.elapsed() >= grace, "the call had its grace period");
    let status = events.recv_timeout(limit).unwrap();
    assert_eq!(status.code(), Code::Cancelled, "{status}");
    assert_eq!(call.recv().unwrap_err().code(), Code::Unavailable);
}

#[test]
fn a_server_that_vanishes_mid_call_gives_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let vanisher = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        // Read the preface and the request, then drop the socket unanswered.
        let _ = std::io::Read::read(&mut socket, &mut buf);
    });
    let channel = Channel::connect(addr, Config::client()).unwrap();
    let err = channel
        .unary(
            CallOptions::new("/test.Svc/Unary"),
            Bytes::from_static(b"x"),
        )
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
    vanisher.join().unwrap();
}

#[test]
fn a_client_that_vanishes_mid_call_cancels_the_handler() {
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let server = Server::bind(
        "127.0.0.1:0",
        Config::server(),
        move |mut call: ServerCall| {
            let outcome = loop {
                match call.recv() {
                    Ok(Some(_)) => continue,
                    other => break other,
                }
            };
            seen_tx
                .send(outcome.map(|_| ()).map_err(|s| s.code()))
                .unwrap();
        },
    )
    .unwrap();
    {
        let channel = Channel::connect(server.local_addr(), Config::client()).unwrap();
        let mut call = channel.call(CallOptions::new("/test.Svc/Wait")).unwrap();
        call.send(Bytes::from_static(b"hello")).unwrap();
        // Give the request time to reach the handler, then vanish: the drops
        // cancel the call and close the connection.
        std::thread::sleep(Duration::from_millis(50));
    }
    let outcome = seen_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(outcome, Err(Code::Cancelled));
    server.shutdown();
}

#[cfg(unix)]
#[test]
fn unix_domain_sockets() {
    let dir = std::env::temp_dir().join(format!("grpc-sansio-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("blocking.sock");
    let _ = std::fs::remove_file(&path);
    let server = Server::bind_unix(&path, Config::server(), handler).unwrap();
    let channel = Channel::connect_unix(&path, Config::client()).unwrap();
    let reply = channel
        .unary(
            CallOptions::new("/test.Svc/Unary"),
            Bytes::from_static(b"over unix"),
        )
        .unwrap();
    assert_eq!(reply.message, "over unix");
    drop(channel);
    server.shutdown();
    assert!(!path.exists(), "the socket file goes with the server");
    // So the same path binds again.
    Server::bind_unix(&path, Config::server(), handler)
        .unwrap()
        .shutdown();
}

/// A peer that stops reading leaves the connection thread blocked in a write,
/// where its own shutdown deadline cannot fire: `shutdown_timeout` still ends
/// after the grace period, and the flooding handler sees its call cancelled.
#[test]
fn shutdown_timeout_cuts_a_peer_that_stops_reading() {
    use grpc_sansio::session::{Command, Session};
    use grpc_sansio_service::{channel, handle::SendDone};
    use std::io::Write;
    use std::sync::mpsc;

    let (seen, events) = mpsc::channel();
    let server = Server::bind("127.0.0.1:0", Config::server(), move |mut call| {
        let _ = seen.send(Status::new(Code::Ok, "flooding"));
        let status = loop {
            if let Err(status) = call.send(Bytes::from(vec![7u8; 16 << 10])) {
                break status;
            }
        };
        let _ = seen.send(status);
    })
    .unwrap();
    // A client driven by hand: it writes its request and never reads. Wide
    // windows, so that flow control does not stop the server before the
    // socket buffers fill.
    let mut config = Config::client();
    config.h2.initial_stream_window = 1 << 30;
    config.h2.connection_window = 1 << 30;
    let now = std::time::Instant::now();
    let mut client: Session<channel::Sender<_>, SendDone> = Session::client(config, now);
    let (inbox, _client_events) = channel::channel();
    let call = client
        .start_call(now, CallOptions::new("/test.Svc/Flood"), inbox)
        .unwrap();
    let (done, _sent) = channel::channel();
    client.apply(Command::Send(call, Bytes::from_static(b"x"), false, done));
    let mut socket = std::net::TcpStream::connect(server.local_addr()).unwrap();
    socket.write_all(client.poll_transmit()).unwrap();
    let limit = Duration::from_secs(10);
    assert_eq!(events.recv_timeout(limit).unwrap().message(), "flooding");
    // Long enough for the socket buffers to fill and the write to block.
    std::thread::sleep(Duration::from_millis(300));

    let (stopped, stop) = mpsc::channel();
    std::thread::spawn(move || {
        server.shutdown_timeout(Duration::from_millis(200));
        let _ = stopped.send(());
    });
    stop.recv_timeout(limit).expect("the shutdown ends");
    let status = events.recv_timeout(limit).unwrap();
    assert_eq!(status.code(), Code::Cancelled, "{status}");
    drop(socket);
}

/// A future another thread completes after `after`: its wake must reach the
/// connection's thread, which may be waiting for input.
fn elsewhere(after: Duration) -> impl Future<Output = ()> + Send {
    let slot: Arc<Mutex<(bool, Option<Waker>)>> = Arc::default();
    let done = slot.clone();
    thread::spawn(move || {
        thread::sleep(after);
        let mut slot = done.lock().unwrap();
        slot.0 = true;
        if let Some(waker) = slot.1.take() {
            waker.wake();
        }
    });
    std::future::poll_fn(move |cx| {
        let mut slot = slot.lock().unwrap();
        if slot.0 {
            return Poll::Ready(());
        }
        slot.1 = Some(cx.waker().clone());
        Poll::Pending
    })
}

/// Inline: Unary echoes from the connection's thread; Split streams back;
/// Later answers once another thread wakes it.
async fn task_handler(mut call: AsyncServerCall) {
    let method = call.request().method().to_owned();
    let reply = async {
        match method.as_str() {
            "Unary" => {
                let msg = call.recv().await?.unwrap_or_default();
                call.send(msg).await
            }
            "Split" => {
                let msg = call.recv().await?.unwrap_or_default();
                for chunk in msg.chunks(3) {
                    call.send(Bytes::copy_from_slice(chunk)).await?;
                }
                Ok(())
            }
            "Later" => {
                call.recv().await?;
                elsewhere(Duration::from_millis(50)).await;
                call.send(Bytes::from_static(b"later")).await
            }
            "Where" => {
                call.recv().await?;
                call.send(here()).await
            }
            _ => Err(Status::new(Code::Unimplemented, "no such method")),
        }
    }
    .await;
    match reply {
        Ok(()) => call.finish(Status::ok(), Metadata::new()),
        Err(status) => call.finish(status, Metadata::new()),
    }
}

fn here() -> Bytes {
    let name = thread::current().name().map(str::to_owned);
    Bytes::from(name.unwrap_or_else(|| format!("{:?}", thread::current().id())))
}

#[test]
fn async_handlers_run_on_the_connection_thread() {
    let server = Server::builder(Config::server())
        .bind_async("127.0.0.1:0", task_handler)
        .unwrap();
    let channel = Channel::connect(server.local_addr(), Config::client()).unwrap();
    let unary = |path: &str, msg: &'static [u8]| {
        channel.unary(CallOptions::new(path), Bytes::from_static(msg))
    };
    assert_eq!(unary("/t.S/Unary", b"hi").unwrap().message, "hi");
    let first = unary("/t.S/Where", b"").unwrap().message;
    assert_ne!(first, "grpc-worker");
    // Every call of one connection is served by its one thread.
    for _ in 0..5 {
        assert_eq!(unary("/t.S/Where", b"").unwrap().message, first);
    }
    // Woken from another thread while the connection waits for input.
    assert_eq!(unary("/t.S/Later", b"").unwrap().message, "later");
    assert_eq!(
        unary("/t.S/Nope", b"").unwrap_err().code(),
        Code::Unimplemented
    );
    let mut call = channel.call(CallOptions::new("/t.S/Split")).unwrap();
    call.send(Bytes::from_static(b"abcdefgh")).unwrap();
    call.close_send();
    let mut parts = Vec::new();
    while let Some(m) = call.recv().unwrap() {
        parts.push(m);
    }
    assert_eq!(parts, ["abc", "def", "gh"]);
    // Many calls in flight at once, each a task.
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let channel = channel.clone();
            thread::spawn(move || {
                let msg = Bytes::from(vec![i as u8; 1 + i * 1000]);
                let path = if i % 5 == 0 {
                    "/t.S/Later"
                } else {
                    "/t.S/Unary"
                };
                let reply = channel.unary(CallOptions::new(path), msg.clone()).unwrap();
                if i % 5 != 0 {
                    assert_eq!(reply.message, msg);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    server.shutdown();
}

#[test]
fn bind_routers_runs_each_method_where_its_router_says() {
    let mut pool = Router::new();
    let on_pool = Service::new("test.Pool").raw("Where", MethodKind::Unary, |_, stream| {
        stream.recv()?;
        stream.send(here())
    });
    pool.add(on_pool);
    let mut inline = AsyncRouter::new();
    let on_thread = AsyncService::new("test.Conn").raw("Where", MethodKind::Unary, |_, stream| {
        Box::pin(async move {
            stream.recv().await?;
            stream.send(here()).await
        })
    });
    inline.add(on_thread);
    let server = Server::builder(Config::server())
        .workers(2)
        .bind_routers("127.0.0.1:0", Arc::new(pool), Arc::new(inline))
        .unwrap();
    let channel = Channel::connect(server.local_addr(), Config::client()).unwrap();
    let ask = |path: &str| channel.unary(CallOptions::new(path), Bytes::new());
    assert_ne!(ask("/test.Conn/Where").unwrap().message, "grpc-worker");
    assert_eq!(ask("/test.Pool/Where").unwrap().message, "grpc-worker");
    // Unknown to both: the pool's router answers.
    assert_eq!(
        ask("/test.Conn/Nowhere").unwrap_err().code(),
        Code::Unimplemented
    );
    server.shutdown();
}
