//! A peer that opens calls and then holds them must not starve other clients.
//!
//! Each adapter's server (blocking with a small pool, blocking with async
//! tasks on its connection threads, mio's worker pool, tokio), serving the interop service through a router and a raw handler,
//! faces an attacker connection (a raw HTTP/2 client, [`Raw`]) that opens 90
//! streams, under the advertised MAX_CONCURRENT_STREAMS of 100, and then:
//!
//! - *silent*: sends request HEADERS and nothing more (through the router,
//!   unary-kind calls also get their message, never the half-close);
//! - *zero window*: sets SETTINGS_INITIAL_WINDOW_SIZE 0 and sends 90 whole
//!   server-streaming requests for 4 MiB each, never opening a window.
//!
//! A silent attack also comes from two connections at once: together they
//! may hold every worker they get, so a silent call must get none.
//!
//! Meanwhile an honest client on another connection makes 50 unary calls,
//! each of which must complete OK (each has a generous 10 s deadline; what is
//! asserted is that they complete, not how fast). Before the worker pools
//! gave a call a worker only once it had work and capped the workers one
//! connection holds, mio's pool (16 workers) hung here.
//!
//! Then the pools' own rules, on both pool adapters: past the queue a call is
//! answered RESOURCE_EXHAUSTED; one connection holds at most its share of the
//! workers; a call that ends while it waits (cancelled, past its deadline)
//! gets its status and never a worker.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallOptions, Config};
use grpc_sansio::h2::{self, ErrorCode, Role, StreamId};
use grpc_sansio::hpack::Header;
use grpc_sansio_service::handle::SendDone;
use grpc_sansio_service::{self as service, Workers};
use prost::Message;
use spec_tests::interop::{payload, service as interop};
use spec_tests::proto::{
    ResponseParameters, SimpleRequest, SimpleResponse, StreamingOutputCallRequest,
};

/// Streams the attacker opens.
const ATTACK_STREAMS: usize = 90;
/// Unary calls the honest client makes.
const HONEST_CALLS: usize = 50;
/// How long anything that must happen may take (a deadline, never asserted).
const LIMIT: Duration = Duration::from_secs(10);
/// The blocking adapter's pool here: small, so that 90 streams would hold it.
const BLOCKING_WORKERS: usize = 4;
/// mio's pool here, as in `interop-server`.
const MIO_WORKERS: usize = 16;
/// What a zero-window stream asks for: responses that cannot all be buffered.
const RESPONSES: usize = 8;
const RESPONSE_SIZE: usize = 512 << 10;

const SERVICE: &str = "/grpc.testing.TestService";

// ----- a raw HTTP/2 client -----

/// A client driving the engine's HTTP/2 layer by hand over a `TcpStream`: it
/// sends what it is told, acknowledges SETTINGS and PINGs (the layer does),
/// records the response header blocks, and opens no window it is not told
/// to.
struct Raw {
    socket: TcpStream,
    conn: h2::Connection,
    out: Vec<u8>,
    buf: Vec<u8>,
    /// Header blocks received, by stream (response headers, trailers).
    blocks: HashMap<StreamId, Vec<Vec<Header>>>,
    pings: u64,
    acked: u64,
    /// The server closed the connection or sent GOAWAY.
    gone: bool,
}

impl Raw {
    /// Connects with this per-stream receive window (0: the server can send
    /// no DATA at all).
    fn connect(addr: SocketAddr, stream_window: u32) -> Raw {
        let socket = TcpStream::connect(addr).unwrap();
        socket.set_nodelay(true).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let config = h2::Config::default().fixed_windows(stream_window, 1 << 20);
        let conn = h2::Connection::new(Role::Client, config, Instant::now());
        let mut raw = Raw {
            socket,
            conn,
            out: Vec::new(),
            buf: vec![0; 64 << 10],
            blocks: HashMap::new(),
            pings: 0,
            acked: 0,
            gone: false,
        };
        raw.flush();
        raw
    }

    /// Opens a gRPC call on `path`; with `message`, sends it (and with
    /// `end`, the half-close after it).
    fn open(
        &mut self,
        path: &str,
        metadata: &[(&str, &str)],
        message: Option<&[u8]>,
        end: bool,
    ) -> StreamId {
        let mut headers = grpc_sansio::testing::grpc_request(path, "127.0.0.1");
        for (name, value) in metadata {
            headers.push(Header::new(name.to_string(), value.to_string()));
        }
        let stream = match message {
            None => self.conn.open_stream(headers, end).unwrap(),
            Some(message) => {
                let stream = self.conn.open_stream(headers, false).unwrap();
                let mut framed = vec![0u8];
                framed.extend_from_slice(&(message.len() as u32).to_be_bytes());
                framed.extend_from_slice(message);
                self.conn.send_data(stream, framed.into(), end).unwrap();
                stream
            }
        };
        self.flush();
        stream
    }

    fn cancel(&mut self, stream: StreamId) {
        self.conn.reset(stream, ErrorCode::CANCEL).unwrap();
        self.flush();
    }

    fn flush(&mut self) {
        loop {
            self.out.clear();
            if self.conn.poll_transmit(&mut self.out) == 0 {
                return;
            }
            if self.socket.write_all(&self.out).is_err() {
                self.gone = true;
                return;
            }
        }
    }

    /// Reads what has arrived (waiting a little for some) and takes it in.
    fn step(&mut self) {
        let now = Instant::now();
        match self.socket.read(&mut self.buf) {
            Ok(0) => self.gone = true,
            Ok(n) => {
                if self.conn.receive(now, &self.buf[..n]).is_err() {
                    self.gone = true;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => self.gone = true,
        }
        if self.conn.poll_timeout().is_some_and(|at| at <= now) {
            self.conn.handle_timeout(now);
        }
        while let Some(event) = self.conn.poll_event() {
            match event {
                h2::Event::Headers {
                    stream, headers, ..
                } => self.blocks.entry(stream).or_default().push(headers),
                h2::Event::PingAck { .. } => self.acked += 1,
                h2::Event::GoAway { .. } => self.gone = true,
                // DATA is never released: its window stays as it is.
                _ => {}
            }
        }
        self.flush();
    }

    /// Steps until `done`; panics if the connection goes or `LIMIT` passes.
    fn wait_for(&mut self, what: &str, done: impl Fn(&Raw) -> bool) {
        let give_up = Instant::now() + LIMIT;
        while !done(self) {
            assert!(!self.gone, "{what}: the server closed the connection");
            assert!(Instant::now() < give_up, "{what}: no progress");
            self.step();
        }
    }

    /// Returns once the server has read everything sent so far (a PING
    /// answered after it).
    fn sync(&mut self) {
        self.pings += 1;
        self.conn.ping(self.pings.to_be_bytes()).unwrap();
        self.flush();
        let pings = self.pings;
        self.wait_for("PING acknowledged", |raw| raw.acked >= pings);
    }

    /// Streams whose response headers arrived.
    fn answered(&self) -> usize {
        self.blocks.len()
    }

    /// The `grpc-status` a stream ended with, once it did.
    fn status(&self, stream: StreamId) -> Option<u32> {
        self.blocks.get(&stream)?.iter().find_map(|block| {
            let status = block.iter().find(|h| &h.name[..] == b"grpc-status")?;
            std::str::from_utf8(&status.value).ok()?.parse().ok()
        })
    }
}

/// Runs `raw` on its own thread, reading and acknowledging, until stopped.
struct Attacker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Raw>,
}

impl Attacker {
    fn run(raw: Raw) -> Attacker {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut raw = raw;
                while !stop.load(Ordering::SeqCst) && !raw.gone {
                    raw.step();
                }
                raw
            })
        };
        Attacker { stop, thread }
    }

    /// Stops it and returns its connection, still open.
    fn stop(self) -> Raw {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

// ----- the servers -----

#[derive(Debug, Clone, Copy)]
enum Adapter {
    Blocking,
    /// Blocking, the calls tasks on their connection's thread.
    BlockingInline,
    Mio,
    Tokio,
}

/// The interop service through a router (method kinds known), or a raw
/// handler (no kinds).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Router,
    Raw,
}

enum Served {
    Blocking(grpc_sansio_blocking::Server),
    Mio(grpc_sansio_mio::ServerHandle),
    Tokio(grpc_sansio_tokio::Server, tokio::runtime::Runtime),
}

impl Served {
    fn start(adapter: Adapter, mode: Mode) -> Served {
        let addr = "127.0.0.1:0";
        match (adapter, mode) {
            (Adapter::Blocking, mode) => {
                let server = grpc_sansio_blocking::Server::builder(Config::server())
                    .workers(Workers::new(BLOCKING_WORKERS));
                let server = match mode {
                    Mode::Router => server.bind_router(addr, Arc::new(interop::router())),
                    Mode::Raw => server.bind(addr, raw_blocking::<grpc_sansio_blocking::Link>),
                };
                Served::Blocking(server.unwrap())
            }
            (Adapter::BlockingInline, mode) => {
                let server = grpc_sansio_blocking::Server::builder(Config::server());
                let server = match mode {
                    Mode::Router => {
                        server.bind_router_inline(addr, Arc::new(interop::inline_router()))
                    }
                    Mode::Raw => server.bind_async(addr, raw_async),
                };
                Served::Blocking(server.unwrap())
            }
            (Adapter::Mio, mode) => {
                let server = grpc_sansio_mio::Server::new(Config::server());
                let server = match mode {
                    Mode::Router => {
                        server.serve_router(addr, MIO_WORKERS, Arc::new(interop::router()))
                    }
                    Mode::Raw => {
                        server.serve_pool(addr, MIO_WORKERS, raw_blocking::<grpc_sansio_mio::Link>)
                    }
                };
                Served::Mio(server.unwrap())
            }
            (Adapter::Tokio, mode) => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                let config = Config::server();
                let server = runtime.block_on(async {
                    match mode {
                        Mode::Router => {
                            let router = Arc::new(interop::async_router());
                            grpc_sansio_tokio::Server::bind_router(addr, config, router).await
                        }
                        Mode::Raw => grpc_sansio_tokio::Server::bind(addr, config, raw_async).await,
                    }
                });
                Served::Tokio(server.unwrap(), runtime)
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Served::Blocking(server) => server.local_addr(),
            Served::Mio(server) => server.local_addr(),
            Served::Tokio(server, _) => server.local_addr(),
        }
    }

    fn stop(self) {
        let grace = Duration::from_secs(5);
        match self {
            Served::Blocking(server) => server.shutdown_timeout(grace),
            Served::Mio(server) => server.shutdown_timeout(grace),
            Served::Tokio(server, runtime) => runtime.block_on(server.shutdown_timeout(grace)),
        }
    }
}

/// The raw handler, for the blocking pools: `Echo` answers its request,
/// `Stream` sends `RESPONSES` large messages, `Sink` reads to the end.
fn raw_blocking<L: service::Link<Done = SendDone>>(mut call: service::ServerCall<L>) {
    let method = call.request().method().to_owned();
    let result = (|| match method.as_str() {
        "Echo" => {
            let request = call.recv()?.unwrap_or_default();
            call.send(request)
        }
        "Stream" => {
            call.recv()?;
            for _ in 0..RESPONSES {
                call.send(Bytes::from(vec![7u8; RESPONSE_SIZE]))?;
            }
            Ok(())
        }
        "Sink" => {
            while call.recv()?.is_some() {}
            Ok(())
        }
        _ => Err(Status::new(Code::Unimplemented, "no such method")),
    })();
    call.finish(result.err().unwrap_or_else(Status::ok), Metadata::new());
}

/// [`raw_blocking`] for tokio.
async fn raw_async<L: service::AsyncLink>(mut call: service::AsyncServerCall<L>) {
    let method = call.request().method().to_owned();
    let result = async {
        match method.as_str() {
            "Echo" => {
                let request = call.recv().await?.unwrap_or_default();
                call.send(request).await
            }
            "Stream" => {
                call.recv().await?;
                for _ in 0..RESPONSES {
                    call.send(Bytes::from(vec![7u8; RESPONSE_SIZE])).await?;
                }
                Ok(())
            }
            "Sink" => {
                while call.recv().await?.is_some() {}
                Ok(())
            }
            _ => Err(Status::new(Code::Unimplemented, "no such method")),
        }
    }
    .await;
    call.finish(result.err().unwrap_or_else(Status::ok), Metadata::new());
}

// ----- the attacks -----

#[derive(Debug, Clone, Copy)]
enum Attack {
    Silent,
    ZeroWindow,
}

/// Opens the attacker's streams and returns once the server has read them
/// (and, for the zero window, started answering some).
fn attack(addr: SocketAddr, attack: Attack, mode: Mode) -> Attacker {
    let window = match attack {
        Attack::Silent => 65_535,
        Attack::ZeroWindow => 0,
    };
    let mut raw = Raw::connect(addr, window);
    // Our SETTINGS (the zero window) are acknowledged before any call.
    raw.sync();
    match attack {
        Attack::Silent => {
            let unary = SimpleRequest {
                response_size: 16,
                payload: Some(payload(16)),
                ..Default::default()
            }
            .encode_to_vec();
            for i in 0..ATTACK_STREAMS {
                match mode {
                    Mode::Router => {
                        let methods = [
                            "UnaryCall",
                            "StreamingOutputCall",
                            "StreamingInputCall",
                            "FullDuplexCall",
                        ];
                        let method = methods[i % methods.len()];
                        let path = format!("{SERVICE}/{method}");
                        // A unary-kind call gets its message, never the half-close.
                        let message = (i % methods.len() < 2).then_some(&unary[..]);
                        raw.open(&path, &[], message, false);
                    }
                    Mode::Raw => {
                        let method = ["Echo", "Stream", "Sink"][i % 3];
                        raw.open(&format!("/raw.Hold/{method}"), &[], None, false);
                    }
                }
            }
            raw.sync();
        }
        Attack::ZeroWindow => {
            let request = match mode {
                Mode::Router => StreamingOutputCallRequest {
                    response_parameters: (0..RESPONSES)
                        .map(|_| ResponseParameters {
                            size: RESPONSE_SIZE as i32,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }
                .encode_to_vec(),
                Mode::Raw => b"go".to_vec(),
            };
            let path = match mode {
                Mode::Router => format!("{SERVICE}/StreamingOutputCall"),
                Mode::Raw => "/raw.Hold/Stream".to_owned(),
            };
            for _ in 0..ATTACK_STREAMS {
                raw.open(&path, &[], Some(&request), true);
            }
            raw.sync();
            // Handlers are running and stuck on the closed window.
            raw.wait_for("the first responses", |raw| raw.answered() > 0);
        }
    }
    Attacker::run(raw)
}

/// The honest client: `HONEST_CALLS` unary calls on a connection of its own,
/// each of which must complete OK.
fn honest(addr: SocketAddr, mode: Mode) {
    let channel = grpc_sansio_blocking::Channel::connect(addr, Config::client()).unwrap();
    for i in 0..HONEST_CALLS {
        let size = 1 + i;
        let (path, request) = match mode {
            Mode::Router => {
                let request = SimpleRequest {
                    response_size: size as i32,
                    payload: Some(payload(size)),
                    ..Default::default()
                };
                (format!("{SERVICE}/UnaryCall"), request.encode_to_vec())
            }
            Mode::Raw => ("/raw.Hold/Echo".to_owned(), vec![i as u8; size]),
        };
        let mut options = CallOptions::new(path);
        options.timeout = Some(LIMIT);
        let reply = channel.unary(options, Bytes::from(request.clone()));
        let reply = reply.unwrap_or_else(|status| panic!("honest call {i}: {status}"));
        match mode {
            Mode::Router => {
                let response = SimpleResponse::decode(reply.message).unwrap();
                assert_eq!(response.payload.unwrap().body.len(), size, "call {i}");
            }
            Mode::Raw => assert_eq!(reply.message, request, "call {i}"),
        }
    }
}

/// `connections` attacker connections hold their streams while the honest
/// client makes its calls.
fn hold(adapter: Adapter, mode: Mode, kind: Attack, connections: usize) {
    let server = Served::start(adapter, mode);
    let attackers: Vec<_> = (0..connections)
        .map(|_| attack(server.addr(), kind, mode))
        .collect();
    honest(server.addr(), mode);
    for attacker in attackers {
        let raw = attacker.stop();
        assert!(!raw.gone, "the attack lasted: its connection is still open");
    }
    server.stop();
}

macro_rules! hold_tests {
    ($($name:ident: $adapter:ident, $mode:ident, $attack:ident, $connections:expr;)*) => {$(
        #[test]
        fn $name() {
            hold(Adapter::$adapter, Mode::$mode, Attack::$attack, $connections);
        }
    )*};
}

hold_tests! {
    blocking_router_silent: Blocking, Router, Silent, 1;
    blocking_router_silent_two_connections: Blocking, Router, Silent, 2;
    blocking_router_zero_window: Blocking, Router, ZeroWindow, 1;
    blocking_raw_silent: Blocking, Raw, Silent, 1;
    blocking_raw_silent_two_connections: Blocking, Raw, Silent, 2;
    blocking_raw_zero_window: Blocking, Raw, ZeroWindow, 1;
    blocking_inline_router_silent: BlockingInline, Router, Silent, 1;
    blocking_inline_router_silent_two_connections: BlockingInline, Router, Silent, 2;
    blocking_inline_router_zero_window: BlockingInline, Router, ZeroWindow, 1;
    blocking_inline_raw_silent: BlockingInline, Raw, Silent, 1;
    blocking_inline_raw_silent_two_connections: BlockingInline, Raw, Silent, 2;
    blocking_inline_raw_zero_window: BlockingInline, Raw, ZeroWindow, 1;
    mio_router_silent: Mio, Router, Silent, 1;
    mio_router_silent_two_connections: Mio, Router, Silent, 2;
    mio_router_zero_window: Mio, Router, ZeroWindow, 1;
    mio_raw_silent: Mio, Raw, Silent, 1;
    mio_raw_silent_two_connections: Mio, Raw, Silent, 2;
    mio_raw_zero_window: Mio, Raw, ZeroWindow, 1;
    tokio_router_silent: Tokio, Router, Silent, 1;
    tokio_router_silent_two_connections: Tokio, Router, Silent, 2;
    tokio_router_zero_window: Tokio, Router, ZeroWindow, 1;
    tokio_raw_silent: Tokio, Raw, Silent, 1;
    tokio_raw_silent_two_connections: Tokio, Raw, Silent, 2;
    tokio_raw_zero_window: Tokio, Raw, ZeroWindow, 1;
}

// ----- the pools' own rules -----

/// Blocked handlers wait here until it opens.
#[derive(Default)]
struct Latch {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Latch {
    fn wait(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.opened.wait(open).unwrap();
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

/// A pool server whose handler reports each call's `x-tag` when it starts,
/// then waits for the latch and echoes the request.
struct Blocker {
    server: Served,
    started: mpsc::Receiver<String>,
    latch: Arc<Latch>,
}

impl Blocker {
    fn start(adapter: Adapter, workers: Workers) -> Blocker {
        let latch = Arc::new(Latch::default());
        let (tx, started) = mpsc::channel();
        let addr = "127.0.0.1:0";
        let server = match adapter {
            Adapter::Blocking => {
                let latch = latch.clone();
                let handler =
                    move |call: grpc_sansio_blocking::ServerCall| block(call, &tx, &latch);
                Served::Blocking(
                    grpc_sansio_blocking::Server::builder(Config::server())
                        .workers(workers)
                        .bind(addr, handler)
                        .unwrap(),
                )
            }
            Adapter::Mio => {
                let latch = latch.clone();
                let handler = move |call: grpc_sansio_mio::ServerCall| block(call, &tx, &latch);
                Served::Mio(
                    grpc_sansio_mio::Server::new(Config::server())
                        .serve_pool(addr, workers, handler)
                        .unwrap(),
                )
            }
            Adapter::Tokio | Adapter::BlockingInline => unreachable!("no pool"),
        };
        Blocker {
            server,
            started,
            latch,
        }
    }

    fn next_started(&self) -> String {
        self.started.recv_timeout(LIMIT).expect("a call starts")
    }

    fn channel(&self) -> grpc_sansio_blocking::Channel {
        grpc_sansio_blocking::Channel::connect(self.server.addr(), Config::client()).unwrap()
    }
}

fn block<L: service::Link<Done = SendDone>>(
    mut call: service::ServerCall<L>,
    started: &mpsc::Sender<String>,
    latch: &Latch,
) {
    let tag = call
        .request()
        .metadata
        .get("x-tag")
        .unwrap_or("")
        .to_owned();
    let _ = started.send(tag);
    latch.wait();
    let request = match call.recv() {
        Ok(request) => request.unwrap_or_default(),
        Err(_) => return,
    };
    let _ = call.send(request);
    call.finish(Status::ok(), Metadata::new());
}

/// Starts a call tagged `tag` with its whole request.
fn start_call(
    channel: &grpc_sansio_blocking::Channel,
    tag: &str,
) -> grpc_sansio_blocking::ClientCall {
    let mut options = CallOptions::new("/pool.Svc/Block");
    options.metadata.insert("x-tag", tag).unwrap();
    options.timeout = Some(LIMIT);
    let mut call = channel.call(options).unwrap();
    call.send_last(Bytes::from(tag.to_owned())).unwrap();
    call
}

fn echoed(mut call: grpc_sansio_blocking::ClientCall, tag: &str) {
    assert_eq!(call.recv().unwrap().unwrap(), tag);
    assert!(call.finish().0.is_ok(), "{tag}");
}

fn queue_bound_gives_resource_exhausted(adapter: Adapter) {
    let blocker = Blocker::start(adapter, Workers::new(1).queue(1).per_connection(1));
    let (a, b) = (blocker.channel(), blocker.channel());
    let first = start_call(&a, "1");
    assert_eq!(blocker.next_started(), "1");
    // The only worker is busy: one call may wait, the next is refused.
    let second = start_call(&b, "2");
    let mut third = start_call(&b, "3");
    let refused = third.recv().unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused}");
    blocker.latch.open();
    echoed(first, "1");
    echoed(second, "2");
    assert_eq!(blocker.next_started(), "2");
    blocker.server.stop();
}

fn per_connection_cap_holds(adapter: Adapter) {
    let workers = Workers::new(4);
    assert_eq!(workers.per_connection_cap(), 2, "half the pool by default");
    let blocker = Blocker::start(adapter, workers);
    let (a, b) = (blocker.channel(), blocker.channel());
    let greedy: Vec<_> = (0..4).map(|i| start_call(&a, &format!("a{i}"))).collect();
    let mut first = [blocker.next_started(), blocker.next_started()];
    first.sort();
    assert_eq!(first, ["a0", "a1"]);
    // Two workers are idle, but `a` holds its share: `b`'s later call goes first.
    let other = start_call(&b, "b0");
    assert_eq!(blocker.next_started(), "b0");
    blocker.latch.open();
    for (i, call) in greedy.into_iter().enumerate() {
        echoed(call, &format!("a{i}"));
    }
    echoed(other, "b0");
    blocker.server.stop();
}

fn ended_while_waiting_takes_no_worker(adapter: Adapter) {
    let blocker = Blocker::start(adapter, Workers::new(1).per_connection(1));
    let a = blocker.channel();
    let first = start_call(&a, "1");
    assert_eq!(blocker.next_started(), "1");
    // Three calls wait for the only worker: one the client cancels, one whose
    // deadline passes (the server's own: this client keeps no timer), one
    // that lives.
    let mut raw = Raw::connect(blocker.server.addr(), 65_535);
    let path = "/pool.Svc/Block";
    let cancelled = raw.open(path, &[("x-tag", "2")], Some(b"2"), true);
    let expired = raw.open(
        path,
        &[("x-tag", "3"), ("grpc-timeout", "100m")],
        Some(b"3"),
        true,
    );
    raw.cancel(cancelled);
    raw.wait_for("the deadline's status", |raw| raw.status(expired).is_some());
    assert_eq!(raw.status(expired), Some(Code::DeadlineExceeded as u32));
    let live = raw.open(path, &[("x-tag", "4")], Some(b"4"), true);
    blocker.latch.open();
    echoed(first, "1");
    raw.wait_for("the live call's status", |raw| raw.status(live).is_some());
    assert_eq!(raw.status(live), Some(0));
    assert_eq!(blocker.next_started(), "4", "no worker for 2 and 3");
    assert!(!raw.blocks.contains_key(&cancelled), "nothing for 2");
    blocker.server.stop();
}

#[test]
fn blocking_queue_bound_gives_resource_exhausted() {
    queue_bound_gives_resource_exhausted(Adapter::Blocking);
}

#[test]
fn mio_queue_bound_gives_resource_exhausted() {
    queue_bound_gives_resource_exhausted(Adapter::Mio);
}

#[test]
fn blocking_per_connection_cap_holds() {
    per_connection_cap_holds(Adapter::Blocking);
}

#[test]
fn mio_per_connection_cap_holds() {
    per_connection_cap_holds(Adapter::Mio);
}

#[test]
fn blocking_ended_while_waiting_takes_no_worker() {
    ended_while_waiting_takes_no_worker(Adapter::Blocking);
}

#[test]
fn mio_ended_while_waiting_takes_no_worker() {
    ended_while_waiting_takes_no_worker(Adapter::Mio);
}
