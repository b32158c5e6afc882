//! The unary calls whose heap blocks `examples/allocations.rs` and
//! `tests/allocations.rs` count: a warm client and server
//! [`Connection`] pair in memory, 64-octet messages, the server routing each
//! call through a [`Router`] and answering it with OK. The caller owns the
//! counting allocator and passes its block counter in.

use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{ByteStr, CallOptions, Config, Connection, Event};
use grpc_sansio_service::{Router, Service};

/// The method every call goes to.
pub const PATH: &str = "/helloworld.Greeter/SayHello";

/// The steps of a call, as stack frames name them (each is a function of
/// this module that is never inlined). The last is counted on neither side.
pub const STEPS: [&str; 4] = [
    "client_send",
    "server_turn",
    "client_receive",
    "server_updates",
];

/// Blocks allocated over the measured calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    /// By the client: starting, sending and half-closing, then reading the
    /// response.
    pub client: u64,
    /// By the server: reading the request, routing it, answering.
    pub server: u64,
    /// The part of `server` spent routing (`Router::method_kind` on the path).
    pub routing: u64,
    /// Calls measured.
    pub calls: u32,
}

impl Counts {
    /// Client blocks per call.
    pub fn client_per_call(&self) -> f64 {
        self.client as f64 / f64::from(self.calls.max(1))
    }

    /// Server blocks per call.
    pub fn server_per_call(&self) -> f64 {
        self.server as f64 / f64::from(self.calls.max(1))
    }

    /// Routing blocks per call.
    pub fn routing_per_call(&self) -> f64 {
        self.routing as f64 / f64::from(self.calls.max(1))
    }
}

/// The connections and buffers the calls share.
#[derive(Debug)]
pub struct Bench {
    now: Instant,
    client: Connection,
    server: Connection,
    router: Router,
    wire: Vec<u8>,
    request: Bytes,
    response: Bytes,
}

impl Bench {
    /// A fresh pair; the first calls warm it up.
    pub fn new() -> Self {
        let now = Instant::now();
        let mut router = Router::new();
        router.add(
            Service::new("helloworld.Greeter").unary("SayHello", |_ctx, text: String| Ok(text)),
        );
        Bench {
            now,
            client: Connection::client(Config::client(), now),
            server: Connection::server(Config::server(), now),
            router,
            wire: Vec::with_capacity(64 << 10),
            request: Bytes::from_static(&[7u8; 64]),
            response: Bytes::from_static(&[9u8; 64]),
        }
    }

    /// Makes `warmup` calls, then `calls` more whose blocks (read with
    /// `blocks`, a running total) are counted.
    pub fn run(&mut self, warmup: u32, calls: u32, blocks: impl Fn() -> u64) -> Counts {
        let mut counts = Counts {
            calls,
            ..Counts::default()
        };
        for i in 0..warmup + calls {
            let before = blocks();
            client_send(self);
            let sent = blocks();
            let routing = server_turn(self, &blocks);
            let served = blocks();
            client_receive(self);
            let received = blocks();
            server_updates(self);
            if i >= warmup {
                counts.client += sent - before + received - served;
                counts.server += served - sent;
                counts.routing += routing;
            }
        }
        counts
    }
}

impl Default for Bench {
    fn default() -> Self {
        Self::new()
    }
}

/// Client: starts the call, sends the request, half-closes, writes.
#[inline(never)]
fn client_send(b: &mut Bench) {
    let call = b
        .client
        .start_call(b.now, CallOptions::new(ByteStr::from_static(PATH)))
        .expect("start_call");
    b.client
        .send_message(call, b.request.clone())
        .expect("send_message");
    b.client.close_send(call).expect("close_send");
    b.wire.clear();
    while b.client.poll_transmit(&mut b.wire) > 0 {}
}

/// Server: reads the request, routes it, answers and finishes; returns the
/// blocks routing took.
#[inline(never)]
fn server_turn(b: &mut Bench, blocks: &impl Fn() -> u64) -> u64 {
    let mut routing = 0;
    b.server.receive(b.now, &b.wire).expect("server receive");
    while let Some(event) = b.server.poll_event() {
        match event {
            Event::CallStarted { request, .. } => {
                let before = blocks();
                let found = b.router.method_kind(&request.path).is_some();
                routing += blocks() - before;
                assert!(found, "{} is served", request.path);
            }
            Event::Message { call, .. } => {
                b.server
                    .send_message(call, b.response.clone())
                    .expect("server send_message");
                b.server
                    .finish(call, &Status::ok(), &Metadata::new())
                    .expect("finish");
            }
            _ => {}
        }
    }
    b.wire.clear();
    while b.server.poll_transmit(&mut b.wire) > 0 {}
    routing
}

/// Client: reads the response to the end of the call, writes what it owes.
#[inline(never)]
fn client_receive(b: &mut Bench) {
    b.client.receive(b.now, &b.wire).expect("client receive");
    let mut finished = false;
    while let Some(event) = b.client.poll_event() {
        finished |= matches!(event, Event::Finished { .. });
    }
    assert!(finished, "the call finished");
    b.wire.clear();
    while b.client.poll_transmit(&mut b.wire) > 0 {}
}

/// Server: reads what the client wrote after the call (WINDOW_UPDATEs).
#[inline(never)]
fn server_updates(b: &mut Bench) {
    if !b.wire.is_empty() {
        b.server.receive(b.now, &b.wire).expect("server receive");
        while b.server.poll_event().is_some() {}
    }
}
