//! The mio server and client over real loopback sockets, with inline handlers,
//! with async handlers run as tasks on the event loop, and with the worker
//! pool. Every wait is bounded.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::io::{Read, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallError, CallId, CallOptions, Config, Connection, Event};
use grpc_sansio_mio::{AsyncHandler, AsyncServerCall};
use grpc_sansio_mio::{Calls, Client, InlineHandler, Server, ServerCall, ServerHandle};
use grpc_sansio_service::{AsyncRouter, AsyncService, MethodKind, Router, Service};

/// Runs `f` on its own thread and fails the test if it takes longer than `secs`.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .expect("timed out or panicked")
}

/// Waits until `check` holds, for at most 10 s.
fn eventually(mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "condition never held"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// What the server saw: statuses of cancelled calls, threads that served calls.
#[derive(Clone, Default)]
struct Seen {
    cancelled: Arc<Mutex<Vec<Code>>>,
    threads: Arc<Mutex<HashSet<thread::ThreadId>>>,
}

impl Seen {
    fn cancelled(&self) -> Vec<Code> {
        self.cancelled.lock().unwrap().clone()
    }
}

fn unary_headers(request: &grpc_sansio::grpc::Request, peer: String) -> Metadata {
    let mut md = Metadata::new();
    if let Some(v) = request.metadata.get("x-echo") {
        md.insert("x-echo", v).unwrap();
    }
    md.insert("x-peer", &peer).unwrap();
    md
}

/// How many copies Big streams back: `x-copies`, or 4.
fn copies(request: &grpc_sansio::grpc::Request) -> usize {
    let copies = request.metadata.get("x-copies");
    copies.map_or(4, |c| c.parse().unwrap())
}

fn bin_trailer() -> Metadata {
    let mut trailers = Metadata::new();
    trailers
        .insert_bin("x-trailer-bin", vec![0xab, 0xab, 0xab])
        .unwrap();
    trailers
}

// ----- the inline handler -----

enum Out {
    Message(Bytes),
    End(Status, Metadata),
}

struct Job {
    method: String,
    copies: usize,
    total: usize,
    out: VecDeque<Out>,
}

/// Methods: Unary (echo, metadata, `-bin` trailer), Split (server stream),
/// Sum (client stream), Chat (bidi), Big (streams the request back 4 times),
/// Sleep (waits for cancellation), Detached (echo on another thread).
struct Inline {
    seen: Seen,
    jobs: HashMap<CallId, Job>,
}

/// Each connection gets a clone: shared `seen`, its own calls.
impl Clone for Inline {
    fn clone(&self) -> Self {
        Inline {
            seen: self.seen.clone(),
            jobs: HashMap::new(),
        }
    }
}

impl Inline {
    /// Sends what is queued until the engine says Full; `Writable` resumes.
    fn flush(&mut self, calls: &mut Calls<'_>, call: CallId) {
        let Some(job) = self.jobs.get_mut(&call) else {
            return;
        };
        while let Some(out) = job.out.pop_front() {
            match out {
                Out::Message(message) => match calls.send_message(call, message.clone()) {
                    Ok(()) => {}
                    Err(CallError::Full(_)) => {
                        job.out.push_front(Out::Message(message));
                        return;
                    }
                    Err(e) => panic!("send failed: {e}"),
                },
                Out::End(status, trailers) => {
                    calls.finish(call, &status, &trailers).unwrap();
                    self.jobs.remove(&call);
                    return;
                }
            }
        }
    }
}

impl InlineHandler for Inline {
    fn on_event(&mut self, calls: &mut Calls<'_>, event: Event) {
        match event {
            Event::CallStarted { call, request } => {
                self.seen
                    .threads
                    .lock()
                    .unwrap()
                    .insert(thread::current().id());
                let method = request.method().to_owned();
                match method.as_str() {
                    "Unary" => {
                        let md = unary_headers(&request, calls.peer_addr().to_string());
                        assert_eq!(calls.local_addr().ip().to_string(), "127.0.0.1");
                        calls.send_headers(call, &md).unwrap();
                    }
                    "Detached" => {
                        let handle = calls.detach(call, request);
                        thread::spawn(move || pool_handler(Seen::default())(handle));
                        return;
                    }
                    "Panic" => panic!("the handler panics (on purpose)"),
                    "Split" | "Sum" | "Chat" | "Big" | "Sleep" => {}
                    _ => {
                        let status = Status::new(Code::Unimplemented, "no such method");
                        calls.finish(call, &status, &Metadata::new()).unwrap();
                        return;
                    }
                }
                let job = Job {
                    method,
                    copies: copies(&request),
                    total: 0,
                    out: VecDeque::new(),
                };
                self.jobs.insert(call, job);
            }
            Event::Message { call, message, .. } => {
                let Some(job) = self.jobs.get_mut(&call) else {
                    return;
                };
                match job.method.as_str() {
                    "Unary" => job.out.push_back(Out::Message(message)),
                    "Split" => {
                        for chunk in message.chunks(3) {
                            let chunk = Bytes::copy_from_slice(chunk);
                            job.out.push_back(Out::Message(chunk));
                        }
                    }
                    "Big" => {
                        for _ in 0..job.copies {
                            job.out.push_back(Out::Message(message.clone()));
                        }
                    }
                    "Chat" => {
                        let mut reply = b"re: ".to_vec();
                        reply.extend_from_slice(&message);
                        job.out.push_back(Out::Message(reply.into()));
                    }
                    "Sum" => job.total += message.len(),
                    _ => {}
                }
                self.flush(calls, call);
            }
            Event::HalfClosed { call } => {
                let Some(job) = self.jobs.get_mut(&call) else {
                    return;
                };
                let trailers = match job.method.as_str() {
                    "Sleep" => return,
                    "Unary" => bin_trailer(),
                    "Sum" => {
                        let total = Bytes::from(job.total.to_string());
                        job.out.push_back(Out::Message(total));
                        Metadata::new()
                    }
                    _ => Metadata::new(),
                };
                job.out.push_back(Out::End(Status::ok(), trailers));
                self.flush(calls, call);
            }
            Event::Writable { call } => self.flush(calls, call),
            Event::Cancelled { call, status } => {
                self.jobs.remove(&call);
                self.seen.cancelled.lock().unwrap().push(status.code());
            }
            _ => {}
        }
    }
}

// ----- the worker-pool handler -----

/// The same methods as [`Inline`], as a blocking handler.
fn pool_handler(seen: Seen) -> impl Fn(ServerCall) + Send + Sync + 'static {
    move |mut call| {
        let method = call.request().method().to_owned();
        match method.as_str() {
            "Unary" | "Detached" => {
                let md = unary_headers(call.request(), call.peer_addr().to_string());
                assert!(call.local_addr().starts_with("127.0.0.1:"));
                call.send_headers(md);
                let msg = call.recv().unwrap().unwrap();
                call.send(msg).unwrap();
                assert_eq!(call.recv().unwrap(), None);
                call.finish(Status::ok(), bin_trailer());
            }
            "Split" => {
                let msg = call.recv().unwrap().unwrap();
                for chunk in msg.chunks(3) {
                    call.send(Bytes::copy_from_slice(chunk)).unwrap();
                }
                call.finish(Status::ok(), Metadata::new());
            }
            "Big" => {
                let msg = call.recv().unwrap().unwrap();
                for _ in 0..copies(call.request()) {
                    call.send(msg.clone()).unwrap();
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
            "Sleep" => {
                let status = loop {
                    match call.recv() {
                        Err(status) => break status,
                        Ok(None) => thread::sleep(Duration::from_millis(5)),
                        Ok(Some(_)) => {}
                    }
                    if call.is_cancelled() {
                        break call.recv().unwrap_err();
                    }
                };
                seen.cancelled.lock().unwrap().push(status.code());
            }
            _ => call.finish(
                Status::new(Code::Unimplemented, "no such method"),
                Metadata::new(),
            ),
        }
    }
}

// ----- the async handler, a task on the event loop -----

/// `f`'s result, computed on a thread of its own and awaited without
/// blocking the loop: the waker is called from that thread.
fn on_another_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> impl Future<Output = T> + Send {
    let slot: Arc<Mutex<(Option<T>, Option<Waker>)>> = Arc::default();
    let theirs = slot.clone();
    thread::spawn(move || {
        let value = f();
        let waker = {
            let mut slot = theirs.lock().unwrap();
            slot.0 = Some(value);
            slot.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    });
    std::future::poll_fn(move |cx| {
        let mut slot = slot.lock().unwrap();
        match slot.0.take() {
            Some(value) => Poll::Ready(value),
            None => {
                slot.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
}

/// The same methods as [`Inline`], as an async handler; `Detached` awaits its
/// answer from another thread, `Panic` panics in the task.
fn task_handler(seen: Seen) -> impl AsyncHandler<grpc_sansio_service::LocalLink<mio::Token>> {
    move |mut call: AsyncServerCall| {
        let seen = seen.clone();
        async move {
            let here = thread::current();
            assert_eq!(here.name(), Some("grpc-mio"), "runs on the event loop");
            seen.threads.lock().unwrap().insert(here.id());
            let method = call.request().method().to_owned();
            match method.as_str() {
                "Unary" | "Detached" => {
                    let md = unary_headers(call.request(), call.peer_addr().to_string());
                    assert!(call.local_addr().starts_with("127.0.0.1:"));
                    call.send_headers(md);
                    let mut msg = call.recv().await.unwrap().unwrap();
                    if method == "Detached" {
                        msg = on_another_thread(move || msg).await;
                    }
                    call.send(msg).await.unwrap();
                    assert_eq!(call.recv().await.unwrap(), None);
                    call.finish(Status::ok(), bin_trailer());
                }
                "Split" => {
                    let msg = call.recv().await.unwrap().unwrap();
                    for chunk in msg.chunks(3) {
                        call.send(Bytes::copy_from_slice(chunk)).await.unwrap();
                    }
                    call.finish(Status::ok(), Metadata::new());
                }
                "Big" => {
                    let msg = call.recv().await.unwrap().unwrap();
                    for _ in 0..copies(call.request()) {
                        call.send(msg.clone()).await.unwrap();
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
                "Sleep" => {
                    let status = call.cancelled().await;
                    seen.cancelled.lock().unwrap().push(status.code());
                }
                "Panic" => panic!("the task panics (on purpose)"),
                _ => call.finish(
                    Status::new(Code::Unimplemented, "no such method"),
                    Metadata::new(),
                ),
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// An [`InlineHandler`] answering events on the loop.
    Inline,
    /// Async handlers, each call a task polled on the loop.
    Tasks,
    /// Blocking handlers on a worker pool.
    Pool,
}

fn start(mode: Mode, threads: usize) -> (ServerHandle, Seen) {
    let seen = Seen::default();
    let server = Server::new(Config::server()).threads(threads);
    let handle = match mode {
        Mode::Inline => server.serve(
            "127.0.0.1:0",
            Inline {
                seen: seen.clone(),
                jobs: HashMap::new(),
            },
        ),
        Mode::Tasks => server.serve_async("127.0.0.1:0", task_handler(seen.clone())),
        Mode::Pool => server.serve_pool("127.0.0.1:0", 16, pool_handler(seen.clone())),
    };
    (handle.unwrap(), seen)
}

fn setup(mode: Mode) -> (ServerHandle, Client, Seen) {
    let (server, seen) = start(mode, 1);
    let client = Client::connect(server.local_addr(), Config::client()).unwrap();
    (server, client, seen)
}

// ----- the tests -----

fn four_kinds(mode: Mode) {
    let (server, client, _) = setup(mode);
    for method in ["Unary", "Detached"] {
        let mut options = CallOptions::new(format!("/test.Svc/{method}"));
        options.metadata.insert("x-echo", "hello").unwrap();
        options.timeout = Some(Duration::from_secs(10));
        let reply = client.unary(options, Bytes::from_static(b"ping")).unwrap();
        assert_eq!(reply.message, "ping");
        assert_eq!(reply.headers.get("x-echo"), Some("hello"));
        let peer = client.local_addr().to_string();
        assert_eq!(reply.headers.get("x-peer"), Some(peer.as_str()));
        assert_eq!(
            &reply.trailers.get_bin("x-trailer-bin").unwrap()[..],
            &[0xab; 3]
        );
    }

    let mut call = client.call(CallOptions::new("/test.Svc/Split")).unwrap();
    call.send(Bytes::from_static(b"abcdefgh")).unwrap();
    call.close_send();
    let mut parts = Vec::new();
    while let Some(m) = call.recv().unwrap() {
        parts.push(m);
    }
    assert_eq!(parts, ["abc", "def", "gh"]);

    let mut call = client.call(CallOptions::new("/test.Svc/Sum")).unwrap();
    for _ in 0..10 {
        call.send(Bytes::from(vec![0u8; 1000])).unwrap();
    }
    call.close_send();
    assert_eq!(call.recv().unwrap().unwrap(), "10000");
    assert!(call.finish().0.is_ok());

    let mut call = client.call(CallOptions::new("/test.Svc/Chat")).unwrap();
    for i in 0..5 {
        call.send(Bytes::from(format!("m{i}"))).unwrap();
        assert_eq!(call.recv().unwrap().unwrap(), format!("re: m{i}"));
    }
    call.close_send();
    assert_eq!(call.recv().unwrap(), None);

    let err = client
        .unary(CallOptions::new("/test.Svc/Nope"), Bytes::new())
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    server.shutdown();
}

#[test]
fn four_kinds_inline() {
    within(30, || four_kinds(Mode::Inline));
}

#[test]
fn four_kinds_tasks() {
    within(30, || four_kinds(Mode::Tasks));
}

#[test]
fn four_kinds_pool() {
    within(30, || four_kinds(Mode::Pool));
}

fn deadline_and_cancellation(mode: Mode) {
    let (server, client, seen) = setup(mode);
    let mut options = CallOptions::new("/test.Svc/Sleep");
    options.timeout = Some(Duration::from_millis(50));
    let err = client.unary(options, Bytes::new()).unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);
    // The server's own timer, or the client's RST_STREAM if it comes first.
    eventually(|| seen.cancelled().len() == 1);
    let code = seen.cancelled()[0];
    assert!(
        matches!(code, Code::DeadlineExceeded | Code::Cancelled),
        "{code:?}"
    );

    let mut call = client.call(CallOptions::new("/test.Svc/Sleep")).unwrap();
    call.send(Bytes::from_static(b"x")).unwrap();
    thread::sleep(Duration::from_millis(20));
    call.cancel();
    eventually(|| seen.cancelled().len() == 2);
    assert_eq!(seen.cancelled()[1], Code::Cancelled);
    server.shutdown();
}

#[test]
fn deadline_and_cancellation_inline() {
    within(30, || deadline_and_cancellation(Mode::Inline));
}

#[test]
fn deadline_and_cancellation_tasks() {
    within(30, || deadline_and_cancellation(Mode::Tasks));
}

#[test]
fn deadline_and_cancellation_pool() {
    within(30, || deadline_and_cancellation(Mode::Pool));
}

fn shutdown_with_calls_in_flight(mode: Mode) {
    let (server, client, seen) = setup(mode);
    let mut chat = client.call(CallOptions::new("/test.Svc/Chat")).unwrap();
    chat.send(Bytes::from_static(b"a")).unwrap();
    assert_eq!(chat.recv().unwrap().unwrap(), "re: a");
    let mut sleep = client.call(CallOptions::new("/test.Svc/Sleep")).unwrap();
    sleep.send(Bytes::from_static(b"z")).unwrap();
    thread::sleep(Duration::from_millis(50));

    let started = Instant::now();
    let stopper = thread::spawn(move || server.shutdown_timeout(Duration::from_millis(700)));
    thread::sleep(Duration::from_millis(100));
    // The graceful drain lets a running call go on and finish.
    chat.send(Bytes::from_static(b"b")).unwrap();
    assert_eq!(chat.recv().unwrap().unwrap(), "re: b");
    chat.close_send();
    assert_eq!(chat.recv().unwrap(), None);
    // A call that does not end is cut when the grace period ends.
    let err = sleep.recv().unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    stopper.join().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(600));
    eventually(|| seen.cancelled().contains(&Code::Cancelled));
    // The connection is gone: new calls fail instead of hanging.
    let err = client
        .unary(CallOptions::new("/test.Svc/Unary"), Bytes::new())
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
}

#[test]
fn shutdown_with_calls_in_flight_inline() {
    within(30, || shutdown_with_calls_in_flight(Mode::Inline));
}

#[test]
fn shutdown_with_calls_in_flight_tasks() {
    within(30, || shutdown_with_calls_in_flight(Mode::Tasks));
}

#[test]
fn shutdown_with_calls_in_flight_pool() {
    within(30, || shutdown_with_calls_in_flight(Mode::Pool));
}

#[test]
fn idle_server_shuts_down_at_once() {
    within(30, || {
        let (server, client, _) = setup(Mode::Pool);
        let reply = client.unary(
            CallOptions::new("/test.Svc/Unary"),
            Bytes::from_static(b"x"),
        );
        assert_eq!(reply.unwrap().message, "x");
        let started = Instant::now();
        server.shutdown();
        assert!(started.elapsed() < Duration::from_secs(5));
    });
}

/// A raw engine client writes a call on a std socket, then closes it.
fn client_vanishes(mode: Mode) {
    let (server, seen) = start(mode, 1);
    let mut socket = std::net::TcpStream::connect(server.local_addr()).unwrap();
    let now = Instant::now();
    let mut conn = Connection::client(Config::client(), now);
    let call = conn
        .start_call(now, CallOptions::new("/test.Svc/Sleep"))
        .unwrap();
    conn.send_message(call, Bytes::from_static(b"x")).unwrap();
    let mut buf = Vec::new();
    while conn.poll_transmit(&mut buf) > 0 {}
    socket.write_all(&buf).unwrap();
    // The server's SETTINGS show it read the preface.
    let mut rbuf = [0u8; 1024];
    assert!(socket.read(&mut rbuf).unwrap() > 0);
    thread::sleep(Duration::from_millis(50));
    drop(socket);
    eventually(|| seen.cancelled().contains(&Code::Cancelled));
    server.shutdown();
}

#[test]
fn client_vanishes_mid_call_inline() {
    within(30, || client_vanishes(Mode::Inline));
}

#[test]
fn client_vanishes_mid_call_tasks() {
    within(30, || client_vanishes(Mode::Tasks));
}

#[test]
fn client_vanishes_mid_call_pool() {
    within(30, || client_vanishes(Mode::Pool));
}

#[test]
fn server_vanishes_mid_call() {
    within(30, || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            // Read the preface and the call's HEADERS, then hang up.
            let _ = socket.read(&mut buf);
            thread::sleep(Duration::from_millis(50));
        });
        let client = Client::connect(addr, Config::client()).unwrap();
        let mut call = client.call(CallOptions::new("/test.Svc/Sleep")).unwrap();
        let _ = call.send(Bytes::from_static(b"x"));
        let err = call.recv().unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        peer.join().unwrap();
    });
}

#[test]
fn panicking_inline_handler_loses_only_its_connection() {
    within(30, || {
        let (server, client, _) = setup(Mode::Inline);
        let other = Client::connect(server.local_addr(), Config::client()).unwrap();
        let err = client
            .unary(CallOptions::new("/test.Svc/Panic"), Bytes::new())
            .unwrap_err();
        assert_eq!(err.code(), Code::Unavailable);
        let reply = other.unary(
            CallOptions::new("/test.Svc/Unary"),
            Bytes::from_static(b"ok"),
        );
        assert_eq!(reply.unwrap().message, "ok");
        server.shutdown();
    });
}

#[test]
fn a_panicking_task_ends_only_its_call() {
    within(30, || {
        let (server, client, _) = setup(Mode::Tasks);
        let err = client
            .unary(CallOptions::new("/test.Svc/Panic"), Bytes::new())
            .unwrap_err();
        // As a worker pool's panicking handler: the dropped handle's UNKNOWN.
        assert_eq!(err.code(), Code::Unknown, "{err:?}");
        let reply = client.unary(
            CallOptions::new("/test.Svc/Unary"),
            Bytes::from_static(b"ok"),
        );
        assert_eq!(reply.unwrap().message, "ok", "the connection goes on");
        server.shutdown();
    });
}

/// The name of the thread that runs this.
fn here() -> Bytes {
    Bytes::from(thread::current().name().unwrap_or("unnamed").to_owned())
}

#[test]
fn serve_routers_runs_each_method_where_its_router_says() {
    within(30, || {
        let mut pool = Router::new();
        let on_pool = Service::new("test.Pool").raw("Where", MethodKind::Unary, |_, stream| {
            stream.recv()?;
            stream.send(here())
        });
        pool.add(on_pool);
        let mut inline = AsyncRouter::new();
        let on_loop =
            AsyncService::new("test.Loop").raw("Where", MethodKind::Unary, |_, stream| {
                Box::pin(async move {
                    stream.recv().await?;
                    stream.send(here()).await
                })
            });
        inline.add(on_loop);
        let server = Server::new(Config::server())
            .serve_routers("127.0.0.1:0", 2, Arc::new(pool), Arc::new(inline))
            .unwrap();
        let client = Client::connect(server.local_addr(), Config::client()).unwrap();
        let ask = |path: &str| client.unary(CallOptions::new(path), Bytes::new());
        assert_eq!(ask("/test.Loop/Where").unwrap().message, "grpc-mio");
        let worker = ask("/test.Pool/Where").unwrap().message;
        assert_ne!(worker, "grpc-mio", "a worker thread");
        // Unknown to both: the pool's router answers.
        assert_eq!(
            ask("/test.Loop/Nowhere").unwrap_err().code(),
            Code::Unimplemented
        );
        server.shutdown();
    });
}

fn many_calls_on_one_connection(mode: Mode) {
    let (server, client, _) = setup(mode);
    let threads: Vec<_> = (0..200)
        .map(|i| {
            let client = client.clone();
            thread::spawn(move || {
                let msg = Bytes::from(vec![i as u8; 1 + i * 100]);
                let reply = client
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
fn two_hundred_concurrent_calls_inline() {
    within(60, || many_calls_on_one_connection(Mode::Inline));
}

#[test]
fn two_hundred_concurrent_calls_tasks() {
    within(60, || many_calls_on_one_connection(Mode::Tasks));
}

#[test]
fn two_hundred_concurrent_calls_pool() {
    within(60, || many_calls_on_one_connection(Mode::Pool));
}

fn large_messages(mode: Mode) {
    let (server, client, _) = setup(mode);
    let big = Bytes::from((0..1 << 20).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let reply = client
        .unary(CallOptions::new("/test.Svc/Unary"), big.clone())
        .unwrap();
    assert_eq!(reply.message, big);

    // Server streaming: four 1 MiB messages through the server's backpressure.
    let mut call = client.call(CallOptions::new("/test.Svc/Big")).unwrap();
    call.send(big.clone()).unwrap();
    call.close_send();
    for _ in 0..4 {
        assert_eq!(call.recv().unwrap().unwrap(), big);
    }
    assert_eq!(call.recv().unwrap(), None);

    // Client streaming: eight 1 MiB messages through the client's.
    let mut call = client.call(CallOptions::new("/test.Svc/Sum")).unwrap();
    for _ in 0..8 {
        call.send(big.clone()).unwrap();
    }
    call.close_send();
    assert_eq!(call.recv().unwrap().unwrap(), (8usize << 20).to_string());
    server.shutdown();
}

/// A raw engine client with wide windows asks for 32 MiB and reads nothing
/// for a while: the server's socket fills (partial writes, WouldBlock).
fn slow_reader(mode: Mode) {
    let (server, _) = start(mode, 1);
    let mut socket = std::net::TcpStream::connect(server.local_addr()).unwrap();
    let now = Instant::now();
    let mut config = Config::client();
    config.h2.initial_stream_window = 64 << 20;
    config.h2.connection_window = 64 << 20;
    let mut conn = Connection::client(config, now);
    let mut options = CallOptions::new("/test.Svc/Big");
    options.metadata.insert("x-copies", "32").unwrap();
    let call = conn.start_call(now, options).unwrap();
    let big = Bytes::from(vec![7u8; 1 << 20]);
    conn.send_message(call, big.clone()).unwrap();
    conn.close_send(call).unwrap();
    let (mut received, mut status) = (0, None);
    let mut rbuf = vec![0u8; 64 << 10];
    let mut first = true;
    while status.is_none() {
        let mut wbuf = Vec::new();
        while conn.poll_transmit(&mut wbuf) > 0 {}
        socket.write_all(&wbuf).unwrap();
        if first {
            thread::sleep(Duration::from_millis(300));
            first = false;
        }
        let n = socket.read(&mut rbuf).unwrap();
        assert!(n > 0, "the server closed early");
        conn.receive(Instant::now(), &rbuf[..n]).unwrap();
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Message { message, .. } => {
                    assert_eq!(message, big);
                    received += 1;
                    eprintln!("got {received}");
                }
                Event::Finished { status: s, .. } => status = Some(s),
                _ => {}
            }
        }
    }
    assert!(status.unwrap().is_ok());
    assert_eq!(received, 32);
    // A peer that stays but stops reading would hold a graceful drain.
    drop(socket);
    server.shutdown();
}

#[test]
fn slow_reader_inline() {
    within(60, || slow_reader(Mode::Inline));
}

#[test]
fn slow_reader_tasks() {
    within(60, || slow_reader(Mode::Tasks));
}

#[test]
fn slow_reader_pool() {
    within(60, || slow_reader(Mode::Pool));
}

#[test]
fn large_messages_inline() {
    within(60, || large_messages(Mode::Inline));
}

#[test]
fn large_messages_tasks() {
    within(60, || large_messages(Mode::Tasks));
}

#[test]
fn large_messages_pool() {
    within(60, || large_messages(Mode::Pool));
}

fn many_connections(mode: Mode) {
    let (server, seen) = start(mode, 2);
    let addr = server.local_addr();
    let threads: Vec<_> = (0..40)
        .map(|i| {
            thread::spawn(move || {
                let client = Client::connect(addr, Config::client()).unwrap();
                for j in 0..10 {
                    let msg = Bytes::from(format!("{i}-{j}"));
                    let reply = client
                        .unary(CallOptions::new("/test.Svc/Unary"), msg.clone())
                        .unwrap();
                    assert_eq!(reply.message, msg);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    if let Mode::Inline | Mode::Tasks = mode {
        // Which loop wins an accept is the scheduler's call (a busy machine
        // can hand one loop all 40): connect until the other one shows up.
        for _ in 0..500 {
            if seen.threads.lock().unwrap().len() == 2 {
                break;
            }
            let client = Client::connect(addr, Config::client()).unwrap();
            let reply = client.unary(
                CallOptions::new("/test.Svc/Unary"),
                Bytes::from_static(b"x"),
            );
            assert_eq!(reply.unwrap().message, "x");
        }
        assert_eq!(seen.threads.lock().unwrap().len(), 2, "both loops served");
    }
    server.shutdown();
}

#[test]
fn two_loops_many_connections_inline() {
    within(60, || many_connections(Mode::Inline));
}

#[test]
fn two_loops_many_connections_tasks() {
    within(60, || many_connections(Mode::Tasks));
}

#[test]
fn two_loops_many_connections_pool() {
    within(60, || many_connections(Mode::Pool));
}
