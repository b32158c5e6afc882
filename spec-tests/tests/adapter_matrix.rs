//! Each adapter's client against each adapter's server (3 × 5: mio's server
//! with its worker pool and with async handlers on its event loop, the
//! blocking server's likewise on its connection threads) over real
//! 127.0.0.1 sockets: the four RPC kinds with metadata, a deadline, and
//! cancellation seen by the server.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallOptions, Config, Request};
use grpc_sansio_service::{AsyncLink, AsyncServerCall};

/// What every server does, written once over the blocking-style handle the
/// blocking adapter and mio's worker pool share in shape.
trait Call {
    fn request(&self) -> &Request;
    fn recv(&mut self) -> Result<Option<Bytes>, Status>;
    fn send(&mut self, message: Bytes) -> Result<(), Status>;
    fn send_headers(&mut self, metadata: Metadata);
    fn is_cancelled(&mut self) -> bool;
}

macro_rules! impl_call {
    ($t:ty) => {
        impl Call for $t {
            fn request(&self) -> &Request {
                <$t>::request(self)
            }
            fn recv(&mut self) -> Result<Option<Bytes>, Status> {
                <$t>::recv(self)
            }
            fn send(&mut self, message: Bytes) -> Result<(), Status> {
                <$t>::send(self, message)
            }
            fn send_headers(&mut self, metadata: Metadata) {
                <$t>::send_headers(self, metadata)
            }
            fn is_cancelled(&mut self) -> bool {
                <$t>::is_cancelled(self)
            }
        }
    };
}
impl_call!(grpc_sansio_blocking::ServerCall);
impl_call!(grpc_sansio_mio::ServerCall);

/// Server outcomes of `Watch` calls, to check that cancellation reaches them.
type Seen = Arc<Mutex<mpsc::Sender<Code>>>;

/// The test service: returns the status to finish with and the trailers.
fn serve(call: &mut impl Call, seen: &Seen) -> Option<(Status, Metadata)> {
    let method = call.request().method().to_owned();
    let echo = call.request().metadata.get("x-echo").map(str::to_owned);
    let mut trailers = Metadata::new();
    let result = (|| -> Result<(), Status> {
        match method.as_str() {
            "Unary" => {
                let mut headers = Metadata::new();
                headers
                    .insert("x-echo", echo.as_deref().unwrap_or("none"))
                    .unwrap();
                call.send_headers(headers);
                let message = call.recv()?.unwrap_or_default();
                call.send(message)?;
                trailers
                    .insert_bin("x-trailer-bin", vec![0xab, 0xab, 0xab])
                    .unwrap();
            }
            "Split" => {
                let message = call.recv()?.unwrap_or_default();
                for chunk in message.chunks(3) {
                    call.send(Bytes::copy_from_slice(chunk))?;
                }
            }
            "Sum" => {
                let mut total = 0;
                while let Some(message) = call.recv()? {
                    total += message.len();
                }
                call.send(Bytes::from(total.to_string()))?;
            }
            "Chat" => {
                while let Some(message) = call.recv()? {
                    let mut reply = b"re: ".to_vec();
                    reply.extend_from_slice(&message);
                    call.send(reply.into())?;
                }
            }
            "Watch" => loop {
                match call.recv() {
                    Err(status) => {
                        let _ = seen.lock().unwrap().send(status.code());
                        return Err(status);
                    }
                    Ok(Some(_)) => {}
                    // Half-closed: nothing more to read, so watch the flag.
                    Ok(None) => {
                        while !call.is_cancelled() {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        let _ = seen.lock().unwrap().send(Code::Cancelled);
                        return Err(Status::new(Code::Cancelled, "cancelled"));
                    }
                }
            },
            _ => return Err(Status::new(Code::Unimplemented, "unknown method")),
        }
        Ok(())
    })();
    match result {
        Ok(()) => Some((Status::ok(), trailers)),
        // A cancelled call has nobody left to answer.
        Err(status) if matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded) => None,
        Err(status) => Some((status, Metadata::new())),
    }
}

/// The same service, async: on tokio, and as tasks on mio's event loop.
async fn serve_async<L: AsyncLink>(mut call: AsyncServerCall<L>, seen: Seen) {
    let method = call.request().method().to_owned();
    let echo = call.request().metadata.get("x-echo").map(str::to_owned);
    let mut trailers = Metadata::new();
    let result: Result<(), Status> = async {
        match method.as_str() {
            "Unary" => {
                let mut headers = Metadata::new();
                headers
                    .insert("x-echo", echo.as_deref().unwrap_or("none"))
                    .unwrap();
                call.send_headers(headers);
                let message = call.recv().await?.unwrap_or_default();
                call.send(message).await?;
                trailers
                    .insert_bin("x-trailer-bin", vec![0xab, 0xab, 0xab])
                    .unwrap();
            }
            "Split" => {
                let message = call.recv().await?.unwrap_or_default();
                for chunk in message.chunks(3) {
                    call.send(Bytes::copy_from_slice(chunk)).await?;
                }
            }
            "Sum" => {
                let mut total = 0;
                while let Some(message) = call.recv().await? {
                    total += message.len();
                }
                call.send(Bytes::from(total.to_string())).await?;
            }
            "Chat" => {
                while let Some(message) = call.recv().await? {
                    let mut reply = b"re: ".to_vec();
                    reply.extend_from_slice(&message);
                    call.send(reply.into()).await?;
                }
            }
            "Watch" => loop {
                match call.recv().await {
                    Err(status) => {
                        let _ = seen.lock().unwrap().send(status.code());
                        return Err(status);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        let status = call.cancelled().await;
                        let _ = seen.lock().unwrap().send(status.code());
                        return Err(status);
                    }
                }
            },
            "Panic" => panic!("the handler fails"),
            _ => return Err(Status::new(Code::Unimplemented, "unknown method")),
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => call.finish(Status::ok(), trailers),
        Err(status) if matches!(status.code(), Code::Cancelled | Code::DeadlineExceeded) => {}
        Err(status) => call.finish(status, Metadata::new()),
    }
}

/// A running server of one adapter.
enum TestServer {
    Blocking(grpc_sansio_blocking::Server),
    Mio(grpc_sansio_mio::ServerHandle),
    Tokio(grpc_sansio_tokio::Server, tokio::runtime::Runtime),
}

impl TestServer {
    fn start(kind: &str, seen: Seen) -> (TestServer, std::net::SocketAddr) {
        match kind {
            "blocking" => {
                let server = grpc_sansio_blocking::Server::bind(
                    "127.0.0.1:0",
                    Config::server(),
                    move |mut call: grpc_sansio_blocking::ServerCall| {
                        if let Some((status, trailers)) = serve(&mut call, &seen) {
                            call.finish(status, trailers);
                        }
                    },
                )
                .unwrap();
                let addr = server.local_addr();
                (TestServer::Blocking(server), addr)
            }
            "mio" => {
                let server = grpc_sansio_mio::Server::new(Config::server())
                    .serve_pool(
                        "127.0.0.1:0",
                        16,
                        move |mut call: grpc_sansio_mio::ServerCall| {
                            if let Some((status, trailers)) = serve(&mut call, &seen) {
                                call.finish(status, trailers);
                            }
                        },
                    )
                    .unwrap();
                let addr = server.local_addr();
                (TestServer::Mio(server), addr)
            }
            "blocking-inline" => {
                let server = grpc_sansio_blocking::Server::builder(Config::server())
                    .bind_async("127.0.0.1:0", move |call| serve_async(call, seen.clone()))
                    .unwrap();
                let addr = server.local_addr();
                (TestServer::Blocking(server), addr)
            }
            "mio-inline" => {
                let server = grpc_sansio_mio::Server::new(Config::server())
                    .serve_async("127.0.0.1:0", move |call| serve_async(call, seen.clone()))
                    .unwrap();
                let addr = server.local_addr();
                (TestServer::Mio(server), addr)
            }
            "tokio" => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                let server = runtime
                    .block_on(grpc_sansio_tokio::Server::bind(
                        "127.0.0.1:0",
                        Config::server(),
                        move |call: grpc_sansio_tokio::ServerCall| serve_async(call, seen.clone()),
                    ))
                    .unwrap();
                let addr = server.local_addr();
                (TestServer::Tokio(server, runtime), addr)
            }
            _ => unreachable!(),
        }
    }

    fn shutdown(self) {
        match self {
            TestServer::Blocking(server) => server.shutdown(),
            TestServer::Mio(server) => server.shutdown_timeout(Duration::from_secs(5)),
            TestServer::Tokio(server, runtime) => runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(5), server.shutdown())
                    .await
                    .expect("tokio server shuts down")
            }),
        }
    }
}

/// One client scenario, expressed once per adapter's client API below.
macro_rules! blocking_client_scenarios {
    ($client:expr, $seen_rx:expr) => {{
        let client = $client;
        // Unary with metadata both ways, a binary trailer and a deadline.
        let mut options = CallOptions::new("/matrix.Svc/Unary");
        options.metadata.insert("x-echo", "hello").unwrap();
        options.timeout = Some(Duration::from_secs(10));
        let reply = client.unary(options, Bytes::from_static(b"ping")).unwrap();
        assert_eq!(reply.message, "ping");
        assert_eq!(reply.headers.get("x-echo"), Some("hello"));
        assert_eq!(
            &reply.trailers.get_bin("x-trailer-bin").unwrap()[..],
            &[0xab; 3]
        );
        // Server streaming.
        let mut call = client.call(CallOptions::new("/matrix.Svc/Split")).unwrap();
        call.send(Bytes::from_static(b"abcdefgh")).unwrap();
        call.close_send();
        let mut parts = Vec::new();
        while let Some(m) = call.recv().unwrap() {
            parts.push(m);
        }
        assert_eq!(parts, ["abc", "def", "gh"]);
        // Client streaming.
        let mut call = client.call(CallOptions::new("/matrix.Svc/Sum")).unwrap();
        for _ in 0..10 {
            call.send(Bytes::from(vec![7u8; 10_000])).unwrap();
        }
        call.close_send();
        assert_eq!(call.recv().unwrap().unwrap(), "100000");
        assert!(call.finish().0.is_ok());
        // Bidi in lock-step.
        let mut call = client.call(CallOptions::new("/matrix.Svc/Chat")).unwrap();
        for i in 0..5 {
            call.send(Bytes::from(format!("m{i}"))).unwrap();
            assert_eq!(call.recv().unwrap().unwrap(), format!("re: m{i}"));
        }
        call.close_send();
        assert_eq!(call.recv().unwrap(), None);
        // A deadline the server does not meet.
        let mut options = CallOptions::new("/matrix.Svc/Watch");
        options.timeout = Some(Duration::from_millis(100));
        let err = client.unary(options, Bytes::new()).unwrap_err();
        assert_eq!(err.code(), Code::DeadlineExceeded, "{err}");
        let seen = $seen_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(
            matches!(seen, Code::Cancelled | Code::DeadlineExceeded),
            "{seen:?}"
        );
        // Cancellation reaches the server's handler.
        let mut call = client.call(CallOptions::new("/matrix.Svc/Watch")).unwrap();
        call.send(Bytes::from_static(b"x")).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        call.cancel();
        let seen = $seen_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(seen, Code::Cancelled);
        // An unknown method.
        let err = client
            .unary(CallOptions::new("/matrix.Svc/Nope"), Bytes::new())
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented);
    }};
}

async fn tokio_client_scenarios(client: grpc_sansio_tokio::Channel, seen_rx: mpsc::Receiver<Code>) {
    let mut options = CallOptions::new("/matrix.Svc/Unary");
    options.metadata.insert("x-echo", "hello").unwrap();
    options.timeout = Some(Duration::from_secs(10));
    let reply = client
        .unary(options, Bytes::from_static(b"ping"))
        .await
        .unwrap();
    assert_eq!(reply.message, "ping");
    assert_eq!(reply.headers.get("x-echo"), Some("hello"));
    assert_eq!(
        &reply.trailers.get_bin("x-trailer-bin").unwrap()[..],
        &[0xab; 3]
    );
    let mut call = client
        .call(CallOptions::new("/matrix.Svc/Split"))
        .await
        .unwrap();
    call.send(Bytes::from_static(b"abcdefgh")).await.unwrap();
    call.close_send();
    let mut parts = Vec::new();
    while let Some(m) = call.recv().await.unwrap() {
        parts.push(m);
    }
    assert_eq!(parts, ["abc", "def", "gh"]);
    let mut call = client
        .call(CallOptions::new("/matrix.Svc/Sum"))
        .await
        .unwrap();
    for _ in 0..10 {
        call.send(Bytes::from(vec![7u8; 10_000])).await.unwrap();
    }
    call.close_send();
    assert_eq!(call.recv().await.unwrap().unwrap(), "100000");
    assert!(call.finish().await.0.is_ok());
    let mut call = client
        .call(CallOptions::new("/matrix.Svc/Chat"))
        .await
        .unwrap();
    for i in 0..5 {
        call.send(Bytes::from(format!("m{i}"))).await.unwrap();
        assert_eq!(call.recv().await.unwrap().unwrap(), format!("re: m{i}"));
    }
    call.close_send();
    assert_eq!(call.recv().await.unwrap(), None);
    let mut options = CallOptions::new("/matrix.Svc/Watch");
    options.timeout = Some(Duration::from_millis(100));
    let err = client.unary(options, Bytes::new()).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err}");
    let seen =
        tokio::task::block_in_place(|| seen_rx.recv_timeout(Duration::from_secs(10))).unwrap();
    assert!(
        matches!(seen, Code::Cancelled | Code::DeadlineExceeded),
        "{seen:?}"
    );
    let mut call = client
        .call(CallOptions::new("/matrix.Svc/Watch"))
        .await
        .unwrap();
    call.send(Bytes::from_static(b"x")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(call); // dropping cancels
    let seen =
        tokio::task::block_in_place(|| seen_rx.recv_timeout(Duration::from_secs(10))).unwrap();
    assert_eq!(seen, Code::Cancelled);
    let err = client
        .unary(CallOptions::new("/matrix.Svc/Nope"), Bytes::new())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
}

fn run_pair(client_kind: &str, server_kind: &str) {
    let (seen_tx, seen_rx) = mpsc::channel();
    let (server, addr) = TestServer::start(server_kind, Arc::new(Mutex::new(seen_tx)));
    match client_kind {
        "blocking" => {
            let client = grpc_sansio_blocking::Channel::connect(addr, Config::client()).unwrap();
            blocking_client_scenarios!(client, seen_rx);
        }
        "mio" => {
            let client = grpc_sansio_mio::Client::connect(addr, Config::client()).unwrap();
            blocking_client_scenarios!(client, seen_rx);
        }
        "tokio" => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let client = grpc_sansio_tokio::Channel::connect(addr, Config::client())
                    .await
                    .unwrap();
                tokio::time::timeout(
                    Duration::from_secs(60),
                    tokio_client_scenarios(client, seen_rx),
                )
                .await
                .expect("scenarios finish");
            });
        }
        _ => unreachable!(),
    }
    server.shutdown();
}

macro_rules! matrix {
    ($($name:ident: $client:literal x $server:literal,)*) => {
        $(
            #[test]
            fn $name() {
                run_pair($client, $server);
            }
        )*
    };
}

matrix! {
    blocking_client_x_blocking_server: "blocking" x "blocking",
    blocking_client_x_blocking_inline_server: "blocking" x "blocking-inline",
    blocking_client_x_mio_server: "blocking" x "mio",
    blocking_client_x_mio_inline_server: "blocking" x "mio-inline",
    blocking_client_x_tokio_server: "blocking" x "tokio",
    mio_client_x_blocking_server: "mio" x "blocking",
    mio_client_x_blocking_inline_server: "mio" x "blocking-inline",
    mio_client_x_mio_server: "mio" x "mio",
    mio_client_x_mio_inline_server: "mio" x "mio-inline",
    mio_client_x_tokio_server: "mio" x "tokio",
    tokio_client_x_blocking_server: "tokio" x "blocking",
    tokio_client_x_blocking_inline_server: "tokio" x "blocking-inline",
    tokio_client_x_mio_server: "tokio" x "mio",
    tokio_client_x_mio_inline_server: "tokio" x "mio-inline",
    tokio_client_x_tokio_server: "tokio" x "tokio",
}

/// An async handler that panics, polled on its connection's thread or task,
/// ends only its own call: UNKNOWN from the dropped handle, as a worker's
/// panic gives, and the connection serves the next call.
#[test]
fn a_panicking_async_handler_ends_only_its_call() {
    for kind in ["blocking-inline", "mio-inline", "tokio"] {
        let (seen_tx, _seen_rx) = mpsc::channel();
        let (server, addr) = TestServer::start(kind, Arc::new(Mutex::new(seen_tx)));
        let client = grpc_sansio_blocking::Channel::connect(addr, Config::client()).unwrap();
        let err = client
            .unary(CallOptions::new("/matrix.Svc/Panic"), Bytes::new())
            .unwrap_err();
        assert_eq!(err.code(), Code::Unknown, "{kind}: {err}");
        let reply = client
            .unary(
                CallOptions::new("/matrix.Svc/Split"),
                Bytes::from_static(b"ok"),
            )
            .unwrap();
        assert_eq!(reply.message, "ok", "{kind}: the connection goes on");
        drop(client);
        server.shutdown();
    }
}
