//! Each adapter's server (blocking with a worker pool and with async tasks on
//! its connection threads, mio with a worker pool, inline handlers and async
//! tasks on the event loop, tokio) against a client that pings like grpc-go, over real 127.0.0.1 sockets with
//! default configurations.
//!
//! The client ([`TcpPinger`]) sends grpc-go's BDP pings as DATA arrives, a
//! burst of one or three once the last is acknowledged; the server must answer
//! large unary calls and long server streams without GOAWAY "too_many_pings".
//! A raw client that pings with nothing flowing must still get it.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallError, CallId, Config, Event};
use grpc_sansio::h2::ErrorCode;
use grpc_sansio::testing::pattern;
use grpc_sansio_mio::{Calls, InlineHandler};
use grpc_sansio_service::handle::SendDone;
use grpc_sansio_service::{AsyncLink, AsyncServerCall, Link, ServerCall};
use spec_tests::bdp_pinger::{FrameScanner, Pacing, ScannedFrame, SeenGoAway, TcpPinger};
use spec_tests::factory::{kind, FrameFactory};

/// interop `large_unary`'s response size.
const LARGE: usize = 314_159;
/// Messages of a long server stream, and their size.
const STREAM_MESSAGES: u8 = 200;
const STREAM_MESSAGE: usize = 16 << 10;

/// Connections per adapter; each runs `UNARY_ROUNDS` rounds of
/// `UNARY_AT_ONCE` large unary calls, then `STREAMS_AT_ONCE` long streams.
const CONNECTIONS: usize = 10;
const UNARY_ROUNDS: usize = 5;
const UNARY_AT_ONCE: usize = 4;
const STREAMS_AT_ONCE: usize = 2;

/// What the server answers: `Big` one 314,159-octet message, `Stream` 200
/// messages of 16 KiB.
#[derive(Clone)]
struct Responses {
    big: Bytes,
    parts: Vec<Bytes>,
}

impl Responses {
    fn new() -> Self {
        Responses {
            big: pattern(LARGE, 7),
            parts: (0..STREAM_MESSAGES)
                .map(|i| pattern(STREAM_MESSAGE, i))
                .collect(),
        }
    }

    fn for_method(&self, method: &str) -> Option<&[Bytes]> {
        match method {
            "Big" => Some(std::slice::from_ref(&self.big)),
            "Stream" => Some(&self.parts),
            _ => None,
        }
    }
}

/// The handler of the blocking adapter and of mio's pool.
fn serve<L: Link<Done = SendDone>>(mut call: ServerCall<L>, responses: &Responses) {
    let method = call.request().method().to_owned();
    let Some(messages) = responses.for_method(&method) else {
        let status = Status::new(Code::Unimplemented, "no such method");
        return call.finish(status, Metadata::new());
    };
    let result = (|| {
        call.recv()?;
        for message in messages {
            call.send(message.clone())?;
        }
        Ok::<(), Status>(())
    })();
    call.finish(result.err().unwrap_or_else(Status::ok), Metadata::new());
}

/// The same, async: on tokio, and as tasks on mio's event loop.
async fn serve_async<L: AsyncLink>(mut call: AsyncServerCall<L>, responses: Responses) {
    let method = call.request().method().to_owned();
    let Some(messages) = responses.for_method(&method) else {
        let status = Status::new(Code::Unimplemented, "no such method");
        return call.finish(status, Metadata::new());
    };
    let result = async {
        call.recv().await?;
        for message in messages {
            call.send(message.clone()).await?;
        }
        Ok::<(), Status>(())
    }
    .await;
    call.finish(result.err().unwrap_or_else(Status::ok), Metadata::new());
}

/// The same on mio's event loop, without blocking: a call's answer goes out
/// once its request is half-closed, resumed on `Writable` whenever the send
/// buffer is full.
#[derive(Clone)]
struct Inline {
    responses: Responses,
    /// Per call: the messages still to send, and whether the request is in.
    answers: HashMap<CallId, (VecDeque<Bytes>, bool)>,
}

impl Inline {
    fn send_queued(&mut self, calls: &mut Calls<'_>, call: CallId) {
        let Some((queue, true)) = self.answers.get_mut(&call) else {
            return;
        };
        while let Some(message) = queue.pop_front() {
            match calls.send_message(call, message.clone()) {
                Ok(()) => {}
                Err(CallError::Full(_)) => return queue.push_front(message),
                // The call or the connection is over; the client sees why.
                Err(_) => {
                    self.answers.remove(&call);
                    return;
                }
            }
        }
        self.answers.remove(&call);
        calls.finish(call, &Status::ok(), &Metadata::new()).unwrap();
    }
}

impl InlineHandler for Inline {
    fn on_event(&mut self, calls: &mut Calls<'_>, event: Event) {
        match event {
            Event::CallStarted { call, request } => {
                match self.responses.for_method(request.method()) {
                    Some(messages) => {
                        let queue = messages.iter().cloned().collect();
                        self.answers.insert(call, (queue, false));
                    }
                    None => {
                        let status = Status::new(Code::Unimplemented, "no such method");
                        calls.finish(call, &status, &Metadata::new()).unwrap();
                    }
                }
            }
            Event::HalfClosed { call } => {
                if let Some((_, requested)) = self.answers.get_mut(&call) {
                    *requested = true;
                    self.send_queued(calls, call);
                }
            }
            Event::Writable { call } => self.send_queued(calls, call),
            Event::Cancelled { call, .. } => {
                self.answers.remove(&call);
            }
            _ => {}
        }
    }
}

/// A running server of one adapter.
enum TestServer {
    Blocking(grpc_sansio_blocking::Server),
    Mio(grpc_sansio_mio::ServerHandle),
    Tokio(grpc_sansio_tokio::Server, tokio::runtime::Runtime),
}

impl TestServer {
    fn start(adapter: &str) -> (TestServer, SocketAddr) {
        let responses = Responses::new();
        match adapter {
            "blocking" => {
                let server = grpc_sansio_blocking::Server::bind(
                    "127.0.0.1:0",
                    Config::server(),
                    move |call| serve(call, &responses),
                )
                .unwrap();
                let addr = server.local_addr();
                (TestServer::Blocking(server), addr)
            }
            "mio" => {
                let server = grpc_sansio_mio::Server::new(Config::server())
                    .serve_pool("127.0.0.1:0", 8, move |call| serve(call, &responses))
                    .unwrap();
                let addr = server.local_addr();
                (TestServer::Mio(server), addr)
            }
            "mio-inline" => {
                let inline = Inline {
                    responses,
                    answers: HashMap::new(),
                };
                let server = grpc_sansio_mio::Server::new(Config::server())
                    .serve("127.0.0.1:0", inline)
                    .unwrap();
                let addr = server.local_addr();
                (TestServer::Mio(server), addr)
            }
            "blocking-inline" => {
                let server = grpc_sansio_blocking::Server::builder(Config::server())
                    .bind_async("127.0.0.1:0", move |call| {
                        serve_async(call, responses.clone())
                    })
                    .unwrap();
                let addr = server.local_addr();
                (TestServer::Blocking(server), addr)
            }
            "mio-async" => {
                let server = grpc_sansio_mio::Server::new(Config::server())
                    .serve_async("127.0.0.1:0", move |call| {
                        serve_async(call, responses.clone())
                    })
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
                        move |call| serve_async(call, responses.clone()),
                    ))
                    .unwrap();
                let addr = server.local_addr();
                (TestServer::Tokio(server, runtime), addr)
            }
            _ => unreachable!("no adapter {adapter}"),
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

/// Runs `calls` at once on `client`, asserting that no GOAWAY came and each
/// call ended OK with exactly `expected`.
fn run_calls(client: &mut TcpPinger, path: &str, calls: usize, expected: &[Bytes], what: &str) {
    let specs: Vec<(&str, Bytes)> = (0..calls)
        .map(|_| (path, Bytes::from_static(b"req")))
        .collect();
    let outcomes = client.run(&specs).expect(what);
    let others = client.other_events();
    let pinger = client.pinger();
    assert!(
        pinger.goaways().is_empty() && others.is_empty(),
        "{what}: GOAWAY {:?} (events {others:?}) after {} pings, {} acknowledged, {} DATA frames",
        pinger.goaways(),
        pinger.pings_sent(),
        pinger.acks_received(),
        pinger.data_frames(),
    );
    let total: usize = expected.iter().map(Bytes::len).sum();
    for outcome in outcomes {
        assert_eq!(
            outcome.status.code(),
            Code::Ok,
            "{what}: {:?} after {} pings, {} acknowledged, {} DATA frames",
            outcome.status,
            pinger.pings_sent(),
            pinger.acks_received(),
            pinger.data_frames(),
        );
        assert_eq!(outcome.octets(), total, "{what}");
        assert_eq!(outcome.messages.len(), expected.len(), "{what}");
        assert!(
            outcome.messages == expected,
            "{what}: message octets differ"
        );
    }
}

/// Per adapter: 200 large unary calls (4 at a time) and 20 long streams (2 at
/// a time) over 10 connections, half pinging in bursts of one and half in
/// bursts of three. No GOAWAY, every call OK and whole, every ping answered.
fn pinging_client_is_served(adapter: &str) {
    let (server, addr) = TestServer::start(adapter);
    let responses = Responses::new();
    for n in 0..CONNECTIONS {
        let burst = if n % 2 == 0 { 1 } else { 3 };
        let mut client =
            TcpPinger::connect(addr, Config::client(), Pacing::AfterAck, burst).expect("connect");
        for round in 0..UNARY_ROUNDS {
            let what = format!("{adapter}: connection {n} (burst {burst}), unary round {round}");
            let big = std::slice::from_ref(&responses.big);
            run_calls(&mut client, "/pings.Svc/Big", UNARY_AT_ONCE, big, &what);
        }
        let what = format!("{adapter}: connection {n} (burst {burst}), streams");
        run_calls(
            &mut client,
            "/pings.Svc/Stream",
            STREAMS_AT_ONCE,
            &responses.parts,
            &what,
        );
        // Every ping is answered; the last ACKs may still be on their way.
        client.await_acks().expect("the last ACKs");
        let pinger = client.pinger();
        assert_eq!(pinger.unacked(), 0, "{adapter}: connection {n}");
        assert!(
            client.other_events().is_empty(),
            "{:?}",
            client.other_events()
        );
        assert!(
            pinger.pings_sent() >= (UNARY_ROUNDS * UNARY_AT_ONCE) as u64,
            "{adapter}: connection {n}: only {} pings",
            pinger.pings_sent()
        );
    }
    server.shutdown();
}

#[test]
fn blocking_serves_a_pinging_client() {
    pinging_client_is_served("blocking");
}

#[test]
fn blocking_inline_serves_a_pinging_client() {
    pinging_client_is_served("blocking-inline");
}

#[test]
fn mio_serves_a_pinging_client() {
    pinging_client_is_served("mio");
}

#[test]
fn mio_inline_serves_a_pinging_client() {
    pinging_client_is_served("mio-inline");
}

#[test]
fn mio_async_serves_a_pinging_client() {
    pinging_client_is_served("mio-async");
}

#[test]
fn tokio_serves_a_pinging_client() {
    pinging_client_is_served("tokio");
}

/// Reads from `socket` into `scanner` until `done` holds for the frames read
/// or the connection ends; returns the frames and whether it ended.
fn read_frames(
    socket: &mut TcpStream,
    scanner: &mut FrameScanner,
    frames: &mut Vec<ScannedFrame>,
    mut done: impl FnMut(&[ScannedFrame]) -> bool,
) -> bool {
    let mut buf = [0u8; 16 << 10];
    while !done(frames) {
        match socket.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => scanner.scan(&buf[..n], frames),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
            Err(e) => panic!("reading from the server: {e}"),
        }
    }
    false
}

/// A raw client that completes the handshake and then sends four PINGs with
/// nothing flowing gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings", and the
/// server closes the connection.
fn pings_with_nothing_flowing_are_struck_out(adapter: &str) {
    let (server, addr) = TestServer::start(adapter);
    let mut socket = TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut hello = FrameFactory::preface();
    hello.extend(FrameFactory::settings(&[]));
    socket.write_all(&hello).unwrap();
    let mut scanner = FrameScanner::new();
    let mut frames = Vec::new();
    let is_settings =
        |f: &ScannedFrame, ack: bool| f.kind == kind::SETTINGS && (f.flags & 1 != 0) == ack;
    let ended = read_frames(&mut socket, &mut scanner, &mut frames, |frames| {
        frames.iter().any(|f| is_settings(f, false)) && frames.iter().any(|f| is_settings(f, true))
    });
    assert!(!ended, "{adapter}: the server hung up during the handshake");
    socket.write_all(&FrameFactory::settings_ack()).unwrap();

    let mut pings = Vec::new();
    for i in 0..4u8 {
        pings.extend(FrameFactory::ping([i; 8], false));
    }
    socket.write_all(&pings).unwrap();
    frames.clear();
    let ended = read_frames(&mut socket, &mut scanner, &mut frames, |_| false);
    assert!(ended, "{adapter}: the connection stays open");
    let goaways: Vec<SeenGoAway> = frames.iter().filter_map(ScannedFrame::go_away).collect();
    assert_eq!(goaways.len(), 1, "{adapter}: {frames:?}");
    assert_eq!(goaways[0].code, ErrorCode::ENHANCE_YOUR_CALM, "{adapter}");
    assert_eq!(&goaways[0].debug[..], b"too_many_pings", "{adapter}");
    server.shutdown();
}

#[test]
fn blocking_strikes_out_pings_with_nothing_flowing() {
    pings_with_nothing_flowing_are_struck_out("blocking");
}

#[test]
fn blocking_inline_strikes_out_pings_with_nothing_flowing() {
    pings_with_nothing_flowing_are_struck_out("blocking-inline");
}

#[test]
fn mio_strikes_out_pings_with_nothing_flowing() {
    pings_with_nothing_flowing_are_struck_out("mio");
}

#[test]
fn mio_inline_strikes_out_pings_with_nothing_flowing() {
    pings_with_nothing_flowing_are_struck_out("mio-inline");
}

#[test]
fn mio_async_strikes_out_pings_with_nothing_flowing() {
    pings_with_nothing_flowing_are_struck_out("mio-async");
}

#[test]
fn tokio_strikes_out_pings_with_nothing_flowing() {
    pings_with_nothing_flowing_are_struck_out("tokio");
}
