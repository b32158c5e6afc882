//! An in-memory gRPC client and server on a virtual clock: [`GrpcPair`].
//!
//! The pair owns a client and a server connection, the octets in flight each
//! way, the events each side emitted and a virtual clock. Nothing reads the
//! system clock after construction: time moves only through
//! [`advance`](GrpcPair::advance) and friends, so a test of a two-hour
//! keepalive runs in microseconds, and the same calls always produce the same
//! octets and events.
//!
//! Both ends are normally [`grpc::Connection`]s. For protocol violations either
//! end may instead be a raw [`h2::Connection`] the test drives by hand
//! ([`RawClientPair`], [`RawServerPair`]): the pair is generic over the
//! [`Endpoint`] trait, which both connection types implement.
//!
//! # Driving
//!
//! ```
//! use bytes::Bytes;
//! use grpc_sansio::grpc::metadata::Metadata;
//! use grpc_sansio::grpc::status::{Code, Status};
//! use grpc_sansio::testing::{self, GrpcPair};
//!
//! let mut pair = GrpcPair::new();
//! let call = pair.start_unary("/pkg.Echo/Say", Bytes::from_static(b"hi"));
//! pair.drive();
//! let (scall, request) = pair.accept().expect("the call reached the server");
//! assert_eq!(request.method(), "Say");
//! pair.server().send_message(scall, Bytes::from_static(b"hello")).unwrap();
//! pair.server().finish(scall, &Status::ok(), &Metadata::new()).unwrap();
//! pair.drive();
//! let events = pair.client_events();
//! assert_eq!(testing::messages(&events, call), [Bytes::from_static(b"hello")]);
//! assert_eq!(testing::finished(&events, call).unwrap().0.code(), Code::Ok);
//! ```
//!
//! A [`step`](GrpcPair::step) fires expired timers, then moves the client's
//! output to the server and the server's output to the client. Each batch is
//! received whole or in pieces chosen by [`set_chunking`](GrpcPair::set_chunking)
//! (fixed or seeded-random sizes), to prove that segmentation changes nothing.
//! [`drive`](GrpcPair::drive) steps until nothing moves. Between steps the test
//! plays the applications: it reads events and calls the connections' mutators
//! through [`client`](GrpcPair::client) and [`server`](GrpcPair::server).
//!
//! # Events and flow control
//!
//! By default the pair drains each connection's `poll_event` as soon as
//! anything happens and keeps the events until the test takes them. Taking a
//! gRPC message from `poll_event` returns its flow-control credit, so this
//! models an application that consumes at once.
//! [`set_collect`](GrpcPair::set_collect)`(side, false)` stops that: the events
//! stay inside the connection until the test calls `poll_event` itself (or
//! [`collect`](GrpcPair::collect)), which models a slow consumer. (With
//! `grpc::Config::release_on_poll` off, the credit goes back only when the test
//! calls `message_consumed`.)
//!
//! # Links, recording, time
//!
//! [`set_link`](GrpcPair::set_link) holds or cuts the octets toward a side (a
//! stalled or dead network). [`set_recording`](GrpcPair::set_recording) keeps
//! every octet a side writes, for [`sent_frames`](GrpcPair::sent_frames); it
//! is off by default so that long runs stay small. [`advance`](GrpcPair::advance)
//! moves the clock and fires every timer that falls due on the way, at its own
//! instant, exchanging octets after each.

use std::fmt;
use std::time::{Duration, Instant};

use crate::grpc::metadata::Metadata;
use crate::grpc::status::Status;
use crate::grpc::{self, CallId, CallOptions, Request};
use crate::h2::{self, frame::Frame};
use bytes::Bytes;

use super::clock::{self, Clock};
use super::fixtures::{parse_frames, Side};

/// Steps [`GrpcPair::drive`] allows before it declares a livelock.
pub const MAX_DRIVE_STEPS: usize = 200_000;

/// Timer firings [`GrpcPair::advance`] allows before it declares a timer that
/// never moves on.
pub const MAX_TIMER_FIRINGS: usize = 100_000;

/// What the pair needs of a connection: the sans-IO driving surface.
///
/// Implemented by [`grpc::Connection`] and by [`h2::Connection`]. For the raw
/// HTTP/2 connection, taking a DATA event from [`poll_event`](Self::poll_event)
/// releases its flow-control credit, as the gRPC connection does for messages.
pub trait Endpoint {
    /// What `poll_event` yields.
    type Event: fmt::Debug;

    /// Feeds octets read from the transport.
    fn receive(&mut self, now: Instant, data: &[u8]) -> Result<(), h2::Error>;
    /// The next event.
    fn poll_event(&mut self) -> Option<Self::Event>;
    /// Appends octets to write; 0 when there is nothing.
    fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize;
    /// When `handle_timeout` must be called next.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Fires the timers due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// Whether the transport may be closed.
    fn is_closed(&self) -> bool;
}

impl Endpoint for grpc::Connection {
    type Event = grpc::Event;

    fn receive(&mut self, now: Instant, data: &[u8]) -> Result<(), h2::Error> {
        grpc::Connection::receive(self, now, data)
    }

    fn poll_event(&mut self) -> Option<grpc::Event> {
        grpc::Connection::poll_event(self)
    }

    fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        grpc::Connection::poll_transmit(self, buf)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        grpc::Connection::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        grpc::Connection::handle_timeout(self, now);
    }

    fn is_closed(&self) -> bool {
        grpc::Connection::is_closed(self)
    }
}

impl Endpoint for h2::Connection {
    type Event = h2::Event;

    fn receive(&mut self, now: Instant, data: &[u8]) -> Result<(), h2::Error> {
        h2::Connection::receive(self, now, data)
    }

    fn poll_event(&mut self) -> Option<h2::Event> {
        let event = h2::Connection::poll_event(self)?;
        if let h2::Event::Data { stream, data, .. } = &event {
            if !data.is_empty() {
                let n = u32::try_from(data.len()).expect("a DATA frame fits u32");
                self.release_capacity(*stream, n);
            }
        }
        Some(event)
    }

    fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        h2::Connection::poll_transmit(self, buf)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        h2::Connection::poll_timeout(self)
    }

    fn handle_timeout(&mut self, now: Instant) {
        h2::Connection::handle_timeout(self, now);
    }

    fn is_closed(&self) -> bool {
        h2::Connection::is_closed(self)
    }
}

/// How each batch of octets is cut before `receive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunking {
    /// The whole batch in one `receive`.
    Whole,
    /// Pieces of at most this many octets (at least 1).
    Fixed(usize),
    /// Pieces of 1 to `max` octets, sizes from a generator seeded with `seed`:
    /// the same seed cuts the same stream the same way.
    Random {
        /// Seed of the generator.
        seed: u64,
        /// Largest piece (at least 1).
        max: usize,
    },
}

/// What happens to octets on their way to one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Delivered at the next step.
    Open,
    /// Kept in flight, delivered once the link is open again (a stalled network).
    Held,
    /// Lost (a dead network). What is already in flight is lost too.
    Cut,
}

/// One connection and everything the pair keeps about it.
struct Peer<E: Endpoint> {
    conn: E,
    /// Octets on their way to this side.
    inbound: Vec<u8>,
    link: Link,
    /// Events drained from `conn`, not yet taken by the test.
    events: Vec<E::Event>,
    collect: bool,
    /// Every octet `conn` wrote, when recording.
    sent: Vec<u8>,
    recording: bool,
    /// Octets `conn` wrote in total.
    written: u64,
    /// The first error `receive` returned; nothing is delivered after it.
    receive_error: Option<h2::Error>,
}

impl<E: Endpoint> Peer<E> {
    fn new(conn: E) -> Self {
        Peer {
            conn,
            inbound: Vec::new(),
            link: Link::Open,
            events: Vec::new(),
            collect: true,
            sent: Vec::new(),
            recording: false,
            written: 0,
            receive_error: None,
        }
    }

    fn collect(&mut self) {
        if self.collect {
            self.collect_now();
        }
    }

    fn collect_now(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            self.events.push(event);
        }
    }
}

/// A splitmix64 generator: small, seedable, good enough for chunk sizes.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A client and a server wired back to back on a virtual clock; both gRPC
/// connections unless a raw HTTP/2 end is chosen ([`RawClientPair`],
/// [`RawServerPair`]). See the [module documentation](self).
pub struct GrpcPair<C: Endpoint = grpc::Connection, S: Endpoint = grpc::Connection> {
    client: Peer<C>,
    server: Peer<S>,
    clock: Clock,
    chunking: Chunking,
    rng: Rng,
    scratch: Vec<u8>,
}

/// A raw HTTP/2 client against a gRPC server, for requests a gRPC client would
/// never send.
pub type RawClientPair = GrpcPair<h2::Connection, grpc::Connection>;

/// A gRPC client against a raw HTTP/2 server, for responses a gRPC server would
/// never send, and to see the client's requests field by field.
pub type RawServerPair = GrpcPair<grpc::Connection, h2::Connection>;

impl<C: Endpoint + fmt::Debug, S: Endpoint + fmt::Debug> fmt::Debug for GrpcPair<C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcPair")
            .field("elapsed", &self.elapsed())
            .field("client", &self.client.conn)
            .field("server", &self.server.conn)
            .field("to_client", &self.client.inbound.len())
            .field("to_server", &self.server.inbound.len())
            .field("chunking", &self.chunking)
            .finish()
    }
}

impl Default for GrpcPair {
    fn default() -> Self {
        GrpcPair::new()
    }
}

impl GrpcPair {
    /// A gRPC client and server with default configurations
    /// ([`grpc::Config::client`], [`grpc::Config::server`]). Nothing has moved
    /// yet.
    pub fn new() -> Self {
        GrpcPair::with_configs(grpc::Config::client(), grpc::Config::server())
    }

    /// A gRPC client and server with the given configurations.
    pub fn with_configs(client: grpc::Config, server: grpc::Config) -> Self {
        let start = Instant::now();
        GrpcPair::from_connections(
            grpc::Connection::client(client, start),
            grpc::Connection::server(server, start),
            start,
        )
    }
}

impl RawClientPair {
    /// A raw HTTP/2 client against a gRPC server.
    pub fn raw_client(client: h2::Config, server: grpc::Config) -> Self {
        let start = Instant::now();
        GrpcPair::from_connections(
            h2::Connection::new(h2::Role::Client, client, start),
            grpc::Connection::server(server, start),
            start,
        )
    }
}

impl RawServerPair {
    /// A gRPC client against a raw HTTP/2 server.
    pub fn raw_server(client: grpc::Config, server: h2::Config) -> Self {
        let start = Instant::now();
        GrpcPair::from_connections(
            grpc::Connection::client(client, start),
            h2::Connection::new(h2::Role::Server, server, start),
            start,
        )
    }
}

impl<C: Endpoint, S: Endpoint> GrpcPair<C, S> {
    /// Two connections created at `start` (the only real-clock reading a pair
    /// makes is the caller's choice of `start`).
    pub fn from_connections(client: C, server: S, start: Instant) -> Self {
        GrpcPair {
            client: Peer::new(client),
            server: Peer::new(server),
            clock: Clock::starting_at(start),
            chunking: Chunking::Whole,
            rng: Rng(0),
            scratch: Vec::new(),
        }
    }

    // ----- connections -----

    /// The client connection, for its mutators and getters.
    pub fn client(&mut self) -> &mut C {
        &mut self.client.conn
    }

    /// The server connection.
    pub fn server(&mut self) -> &mut S {
        &mut self.server.conn
    }

    /// The client connection, shared.
    pub fn client_ref(&self) -> &C {
        &self.client.conn
    }

    /// The server connection, shared.
    pub fn server_ref(&self) -> &S {
        &self.server.conn
    }

    /// Whether both connections say they are finished.
    pub fn is_closed(&self) -> bool {
        self.client.conn.is_closed() && self.server.conn.is_closed()
    }

    /// The first error `side`'s `receive` returned.
    pub fn receive_error(&self, side: Side) -> Option<&h2::Error> {
        match side {
            Side::Client => self.client.receive_error.as_ref(),
            Side::Server => self.server.receive_error.as_ref(),
        }
    }

    // ----- events -----

    /// Takes every event the client emitted so far, oldest first.
    pub fn client_events(&mut self) -> Vec<C::Event> {
        self.client.collect();
        std::mem::take(&mut self.client.events)
    }

    /// Takes every event the server emitted so far, oldest first.
    pub fn server_events(&mut self) -> Vec<S::Event> {
        self.server.collect();
        std::mem::take(&mut self.server.events)
    }

    /// The client's events not taken yet, left in place.
    pub fn peek_client_events(&mut self) -> &[C::Event] {
        self.client.collect();
        &self.client.events
    }

    /// The server's events not taken yet, left in place.
    pub fn peek_server_events(&mut self) -> &[S::Event] {
        self.server.collect();
        &self.server.events
    }

    /// Whether the pair drains `side`'s `poll_event` on its own (the default).
    /// Off, events (and the flow-control credit of messages) stay inside the
    /// connection until the test polls them or calls [`collect`](Self::collect).
    pub fn set_collect(&mut self, side: Side, on: bool) {
        match side {
            Side::Client => self.client.collect = on,
            Side::Server => self.server.collect = on,
        }
    }

    /// Drains `side`'s `poll_event` into the pair's list once, whatever
    /// [`set_collect`](Self::set_collect) says.
    pub fn collect(&mut self, side: Side) {
        match side {
            Side::Client => self.client.collect_now(),
            Side::Server => self.server.collect_now(),
        }
    }

    // ----- time -----

    /// The virtual time now.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The instant both connections were created at.
    pub fn start(&self) -> Instant {
        self.clock.start()
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    /// Moves the clock without firing anything or moving octets.
    pub fn advance_clock(&mut self, by: Duration) {
        self.clock.advance(by);
    }

    /// The earlier of both connections' `poll_timeout`.
    pub fn next_timeout(&self) -> Option<Instant> {
        clock::earliest(
            self.client.conn.poll_timeout(),
            self.server.conn.poll_timeout(),
        )
    }

    /// Calls `handle_timeout(now)` on each side whose timer is due.
    pub fn fire_timers(&mut self) {
        let now = self.clock.now();
        if self.client.conn.poll_timeout().is_some_and(|at| at <= now) {
            self.client.conn.handle_timeout(now);
            self.client.collect();
        }
        if self.server.conn.poll_timeout().is_some_and(|at| at <= now) {
            self.server.conn.handle_timeout(now);
            self.server.collect();
        }
    }

    /// Moves the clock forward by `by`, firing every timer that falls due on
    /// the way at its own instant and driving the pair after each, then drives
    /// at the final instant. This is what a real event loop would do while
    /// `by` passes with the network working.
    ///
    /// # Panics
    ///
    /// When a timer keeps firing without moving on, or [`drive`](Self::drive)
    /// does not converge.
    pub fn advance(&mut self, by: Duration) {
        let target = self.clock.now() + by;
        for _ in 0..MAX_TIMER_FIRINGS {
            match self.next_timeout() {
                Some(at) if at <= target => {
                    self.clock.advance_to(at);
                    self.fire_timers();
                    self.drive();
                }
                _ => {
                    self.clock.advance_to(target);
                    self.drive();
                    return;
                }
            }
        }
        panic!("a timer kept firing without moving on");
    }

    /// Jumps to the next timer (if later than now), fires it and drives.
    /// Returns whether there was one.
    pub fn advance_to_next_timeout(&mut self) -> bool {
        let Some(at) = self.next_timeout() else {
            return false;
        };
        self.clock.advance_to(at);
        self.fire_timers();
        self.drive();
        true
    }

    // ----- moving octets -----

    /// How batches are cut before `receive` (default [`Chunking::Whole`]).
    ///
    /// # Panics
    ///
    /// On a piece size of 0.
    pub fn set_chunking(&mut self, chunking: Chunking) {
        match chunking {
            Chunking::Whole => {}
            Chunking::Fixed(n) | Chunking::Random { max: n, .. } => {
                assert!(n > 0, "a piece holds at least one octet");
            }
        }
        if let Chunking::Random { seed, .. } = chunking {
            self.rng = Rng(seed);
        }
        self.chunking = chunking;
    }

    /// What happens to octets on their way to `to` from now on.
    pub fn set_link(&mut self, to: Side, link: Link) {
        match to {
            Side::Client => self.client.link = link,
            Side::Server => self.server.link = link,
        }
        if link == Link::Cut {
            match to {
                Side::Client => self.client.inbound.clear(),
                Side::Server => self.server.inbound.clear(),
            }
        }
    }

    /// Keep every octet `side` writes from now on, for [`sent`](Self::sent)
    /// and [`sent_frames`](Self::sent_frames).
    pub fn set_recording(&mut self, side: Side, on: bool) {
        match side {
            Side::Client => self.client.recording = on,
            Side::Server => self.server.recording = on,
        }
    }

    /// The octets `side` wrote while recording.
    pub fn sent(&self, side: Side) -> &[u8] {
        match side {
            Side::Client => &self.client.sent,
            Side::Server => &self.server.sent,
        }
    }

    /// [`sent`](Self::sent) as frames (a client preface skipped). Start
    /// recording before anything is written, or the first frame may be cut.
    pub fn sent_frames(&self, side: Side) -> Vec<Frame> {
        parse_frames(self.sent(side))
    }

    /// Octets `side` wrote in total, recorded or not.
    pub fn written(&self, side: Side) -> u64 {
        match side {
            Side::Client => self.client.written,
            Side::Server => self.server.written,
        }
    }

    /// Octets in flight toward `to`, not yet received.
    pub fn in_flight(&self, to: Side) -> usize {
        match to {
            Side::Client => self.client.inbound.len(),
            Side::Server => self.server.inbound.len(),
        }
    }

    /// Puts `octets` in flight toward `to`, as if its peer had written them.
    pub fn inject(&mut self, to: Side, octets: &[u8]) {
        match to {
            Side::Client => self.client.inbound.extend_from_slice(octets),
            Side::Server => self.server.inbound.extend_from_slice(octets),
        }
    }

    /// Drains `from`'s `poll_transmit` toward its peer. Returns the octets
    /// written.
    pub fn flush(&mut self, from: Side) -> usize {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let written = match from {
            Side::Client => flush_into(&mut self.client, &mut buf),
            Side::Server => flush_into(&mut self.server, &mut buf),
        };
        let link = match from {
            Side::Client => self.server.link,
            Side::Server => self.client.link,
        };
        if link != Link::Cut && !buf.is_empty() {
            match from {
                Side::Client => self.server.inbound.extend_from_slice(&buf),
                Side::Server => self.client.inbound.extend_from_slice(&buf),
            }
        }
        self.scratch = buf;
        written
    }

    /// Hands the octets in flight toward `to` to its `receive`, cut as
    /// [`set_chunking`](Self::set_chunking) says. Returns the octets delivered.
    pub fn deliver(&mut self, to: Side) -> usize {
        let now = self.clock.now();
        let chunking = self.chunking;
        let rng = &mut self.rng;
        match to {
            Side::Client => deliver_to(&mut self.client, now, chunking, rng),
            Side::Server => deliver_to(&mut self.server, now, chunking, rng),
        }
    }

    /// One round: fires due timers, then client → server, then server → client.
    /// Returns whether any octet was written or delivered.
    pub fn step(&mut self) -> bool {
        self.fire_timers();
        let a = self.flush(Side::Client);
        let b = self.deliver(Side::Server);
        let c = self.flush(Side::Server);
        let d = self.deliver(Side::Client);
        self.client.collect();
        self.server.collect();
        a + b + c + d > 0
    }

    /// Steps until nothing moves.
    ///
    /// # Panics
    ///
    /// After [`MAX_DRIVE_STEPS`] steps.
    pub fn drive(&mut self) {
        assert!(
            self.drive_bounded(MAX_DRIVE_STEPS),
            "the pair did not go quiet within {MAX_DRIVE_STEPS} steps"
        );
    }

    /// Steps until nothing moves or `max_steps` have run; returns whether it
    /// went quiet.
    pub fn drive_bounded(&mut self, max_steps: usize) -> bool {
        clock::until_quiet(max_steps, || self.step())
    }
}

fn flush_into<E: Endpoint>(peer: &mut Peer<E>, buf: &mut Vec<u8>) -> usize {
    while peer.conn.poll_transmit(buf) > 0 {}
    peer.collect();
    peer.written += buf.len() as u64;
    if peer.recording {
        peer.sent.extend_from_slice(buf);
    }
    buf.len()
}

fn deliver_to<E: Endpoint>(
    peer: &mut Peer<E>,
    now: Instant,
    chunking: Chunking,
    rng: &mut Rng,
) -> usize {
    if peer.link != Link::Open || peer.inbound.is_empty() {
        return 0;
    }
    let mut inbound = std::mem::take(&mut peer.inbound);
    let delivered = inbound.len();
    if peer.receive_error.is_none() {
        let mut rest = &inbound[..];
        while !rest.is_empty() {
            let n = match chunking {
                Chunking::Whole => rest.len(),
                Chunking::Fixed(n) => n.min(rest.len()),
                Chunking::Random { max, .. } => (1 + rng.below(max)).min(rest.len()),
            };
            let result = peer.conn.receive(now, &rest[..n]);
            peer.collect();
            rest = &rest[n..];
            if let Err(error) = result {
                peer.receive_error = Some(error);
                break;
            }
        }
    }
    // After a receive error the transport is closed: what was in flight is lost.
    // Keep the allocation for the next batch.
    inbound.clear();
    if peer.inbound.is_empty() {
        peer.inbound = inbound;
    }
    delivered
}

// ----- gRPC conveniences -----

impl<S: Endpoint> GrpcPair<grpc::Connection, S> {
    /// Starts a client call at the current virtual time.
    ///
    /// # Panics
    ///
    /// When the client refuses.
    pub fn start_call(&mut self, options: CallOptions) -> CallId {
        let now = self.clock.now();
        self.client
            .conn
            .start_call(now, options)
            .expect("start_call")
    }

    /// Starts a unary call: request headers, one message, half-close. Nothing
    /// moves until the next step. For a message larger than the send buffer
    /// (`h2.max_send_buffer_per_stream`, 1 MiB by default) the half-close may be
    /// refused: send, drive, then `close_send` instead.
    ///
    /// # Panics
    ///
    /// When the client refuses.
    pub fn start_unary(&mut self, path: &str, message: Bytes) -> CallId {
        let call = self.start_call(CallOptions::new(path));
        self.client
            .conn
            .send_message(call, message)
            .expect("send_message");
        self.client.conn.close_send(call).expect("close_send");
        call
    }

    /// Takes the client's events for `call` only, leaving the others.
    pub fn take_client_events_for(&mut self, call: CallId) -> Vec<grpc::Event> {
        self.client.collect();
        take_for(&mut self.client.events, call)
    }
}

impl<C: Endpoint> GrpcPair<C, grpc::Connection> {
    /// Takes the oldest [`grpc::Event::CallStarted`] from the server's events,
    /// leaving the rest.
    pub fn accept(&mut self) -> Option<(CallId, Request)> {
        self.server.collect();
        let at = self
            .server
            .events
            .iter()
            .position(|e| matches!(e, grpc::Event::CallStarted { .. }))?;
        match self.server.events.remove(at) {
            grpc::Event::CallStarted { call, request } => Some((call, request)),
            _ => unreachable!("found a CallStarted"),
        }
    }

    /// Takes the server's events for `call` only, leaving the others.
    pub fn take_server_events_for(&mut self, call: CallId) -> Vec<grpc::Event> {
        self.server.collect();
        take_for(&mut self.server.events, call)
    }

    /// Server: sends each of `messages`, then finishes with `status` and no
    /// trailers.
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub fn respond(&mut self, call: CallId, messages: &[Bytes], status: &Status) {
        for message in messages {
            self.server
                .conn
                .send_message(call, message.clone())
                .expect("send_message");
        }
        self.server
            .conn
            .finish(call, status, &Metadata::new())
            .expect("finish");
    }
}

fn take_for(events: &mut Vec<grpc::Event>, call: CallId) -> Vec<grpc::Event> {
    let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(events)
        .into_iter()
        .partition(|e| event_call(e) == Some(call));
    *events = kept;
    taken
}

// ----- reading gRPC events -----

/// The call an event is about; `None` for connection events.
pub fn event_call(event: &grpc::Event) -> Option<CallId> {
    match event {
        grpc::Event::CallStarted { call, .. }
        | grpc::Event::Headers { call, .. }
        | grpc::Event::Message { call, .. }
        | grpc::Event::HalfClosed { call }
        | grpc::Event::Finished { call, .. }
        | grpc::Event::Cancelled { call, .. }
        | grpc::Event::Writable { call } => Some(*call),
        _ => None,
    }
}

/// Whether the event ends its call (client `Finished`, server `Cancelled`).
pub fn is_terminal(event: &grpc::Event) -> bool {
    matches!(
        event,
        grpc::Event::Finished { .. } | grpc::Event::Cancelled { .. }
    )
}

/// The messages `events` carried for `call`, in order.
pub fn messages(events: &[grpc::Event], call: CallId) -> Vec<Bytes> {
    events
        .iter()
        .filter_map(|e| match e {
            grpc::Event::Message {
                call: c, message, ..
            } if *c == call => Some(message.clone()),
            _ => None,
        })
        .collect()
}

/// The initial metadata of `call` (client side), if it came.
pub fn headers(events: &[grpc::Event], call: CallId) -> Option<&Metadata> {
    events.iter().find_map(|e| match e {
        grpc::Event::Headers { call: c, metadata } if *c == call => Some(metadata),
        _ => None,
    })
}

/// The status and trailers `call` finished with (client side), if it did.
pub fn finished(events: &[grpc::Event], call: CallId) -> Option<(&Status, &Metadata)> {
    events.iter().find_map(|e| match e {
        grpc::Event::Finished {
            call: c,
            status,
            trailers,
        } if *c == call => Some((status, trailers)),
        _ => None,
    })
}

/// The status `call` was cancelled with (server side), if it was.
pub fn cancelled(events: &[grpc::Event], call: CallId) -> Option<&Status> {
    events.iter().find_map(|e| match e {
        grpc::Event::Cancelled { call: c, status } if *c == call => Some(status),
        _ => None,
    })
}

/// Whether `events` hold a `HalfClosed` for `call`.
pub fn half_closed(events: &[grpc::Event], call: CallId) -> bool {
    events
        .iter()
        .any(|e| matches!(e, grpc::Event::HalfClosed { call: c } if *c == call))
}

/// Asserts the lifecycle rule of [`grpc::Event`]: at most one terminal event
/// per call, and no event for a call after its terminal one.
///
/// # Panics
///
/// When the rule is broken, with the events.
pub fn assert_lifecycle(events: &[grpc::Event]) {
    let mut ended = std::collections::HashSet::new();
    for (i, event) in events.iter().enumerate() {
        let Some(call) = event_call(event) else {
            continue;
        };
        assert!(
            !ended.contains(&call),
            "event #{i} for {call} after its terminal event: {event:?}\nall: {events:?}"
        );
        if is_terminal(event) {
            ended.insert(call);
        }
    }
}
