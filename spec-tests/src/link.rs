//! A gRPC client and server joined by a simulated network link on virtual
//! time: [`LinkPair`].
//!
//! [`GrpcPair`](grpc_sansio::testing::GrpcPair) hands octets over at once; here
//! each direction of the link has a bandwidth and a one-way propagation delay
//! (half the round trip), so flow-control windows and round trips cost what
//! they cost on a real network. Octets written at `t` join a queue: the link
//! serialises them at its bandwidth, each piece starting when the previous
//! one is through, and each piece arrives a propagation delay after its last
//! octet left. Pieces are at most [`LinkConfig::segment`] octets, so a long
//! write arrives progressively, as TCP segments do.
//!
//! A sender's writes wait in its [`send_buffer`](LinkConfig::send_buffer),
//! as in a socket's: once that many octets are queued and not yet on the
//! wire, the simulator stops taking the connection's `poll_transmit` until
//! the queue drains, so control frames (PING ACKs, WINDOW_UPDATEs) the
//! connection puts first wait behind at most that much data.
//!
//! # Driving
//!
//! The simulator is event-driven. [`step`](LinkPair::step) lets each side
//! write what it can, jumps to the next event (a piece arriving, room in a
//! send buffer, or either side's `poll_timeout`), delivers what has arrived
//! and fires the timers that are due. Between steps the test plays the
//! applications: it drains `poll_event` and calls the mutators through
//! [`client`](LinkPair::client) and [`server`](LinkPair::server); what they
//! queue goes out at the start of the next step, at the same instant.
//! Nothing reads the system clock after construction, so the same calls give
//! the same figures.
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use grpc_sansio::grpc::{self, CallOptions, Event};
//! use grpc_sansio::grpc::metadata::Metadata;
//! use grpc_sansio::grpc::status::Status;
//! use spec_tests::link::{LinkConfig, LinkPair};
//!
//! let rtt = Duration::from_millis(20);
//! let mut link = LinkPair::new(
//!     grpc::Config::client(),
//!     grpc::Config::server(),
//!     LinkConfig::new(rtt, 12_500_000),
//! );
//! let call = link.start_call(CallOptions::new("/pkg.Echo/Say"));
//! link.client().send_message(call, Bytes::from_static(b"hi")).unwrap();
//! link.client().close_send(call).unwrap();
//! let deadline = link.now() + Duration::from_secs(1);
//! let mut answered = None;
//! while link.step(deadline) {
//!     while let Some(event) = link.server().poll_event() {
//!         if let Event::CallStarted { call, .. } = event {
//!             link.server().send_message(call, Bytes::from_static(b"hello")).unwrap();
//!             link.server().finish(call, &Status::ok(), &Metadata::new()).unwrap();
//!         }
//!     }
//!     while let Some(event) = link.client().poll_event() {
//!         if let Event::Finished { .. } = event {
//!             answered = Some(link.elapsed());
//!         }
//!     }
//! }
//! // The request and its answer took one round trip after the handshake's.
//! assert!(answered.unwrap() >= rtt);
//! ```
//!
//! # Counting
//!
//! The link reads the frame heads of what it carries: [`sent`](LinkPair::sent)
//! and [`received`](LinkPair::received) count each side's DATA octets,
//! WINDOW_UPDATE credit, PINGs and SETTINGS as written and as delivered, and
//! [`peak_receive_window`](LinkPair::peak_receive_window) is the largest
//! connection window a side ever had open.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::{self, CallId, CallOptions};
use grpc_sansio::h2::frame::{Frame, Head, Kind, HEAD_LEN};
use grpc_sansio::h2::PREFACE;

use grpc_sansio::testing::clock::Clock;

pub use crate::pair::Side;

/// Steps [`LinkPair::step`] may take at one instant before it declares a
/// livelock (a timer that stays due, say).
pub const MAX_STEPS_AT_ONE_INSTANT: usize = 10_000;

/// The connection window every HTTP/2 connection starts with (RFC 9113 §6.9.2).
const INITIAL_CONNECTION_WINDOW: i64 = 65_535;

/// The link between the two sides; both directions are alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// Round-trip propagation time: each direction takes half.
    pub rtt: Duration,
    /// Octets per second each direction carries (12 500 000 is 100 Mbit/s).
    pub bandwidth: u64,
    /// The largest piece the link carries: writes are cut into pieces of at
    /// most this many octets, each delivered whole. Default 1448, a TCP
    /// segment's payload on Ethernet.
    pub segment: usize,
    /// Octets a side may have queued and not yet serialised before the
    /// simulator stops taking its output, as a socket send buffer does;
    /// `None` takes all of it at once (an unbounded queue). Default 64 KiB.
    pub send_buffer: Option<usize>,
}

impl LinkConfig {
    /// A link with this round trip and bandwidth (octets per second each way),
    /// and the default segment and send buffer.
    ///
    /// # Panics
    ///
    /// On a zero bandwidth.
    pub fn new(rtt: Duration, bandwidth: u64) -> Self {
        assert!(bandwidth > 0, "a link carries something");
        LinkConfig {
            rtt,
            bandwidth,
            segment: 1448,
            send_buffer: Some(64 << 10),
        }
    }

    /// What the link carries in one round trip: its bandwidth-delay product.
    pub fn bdp(&self) -> u64 {
        let octets = u128::from(self.bandwidth) * self.rtt.as_nanos() / 1_000_000_000;
        u64::try_from(octets).unwrap_or(u64::MAX)
    }

    /// How long `octets` take to go onto the wire, rounded up to a nanosecond.
    fn serialisation(&self, octets: usize) -> Duration {
        let nanos = (octets as u128 * 1_000_000_000).div_ceil(u128::from(self.bandwidth));
        Duration::from_nanos(u64::try_from(nanos).expect("a serialisation time below 584 years"))
    }
}

/// What one direction carried, read from its frame heads. DATA payloads are
/// counted, not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Octets, frame heads and the client preface included.
    pub octets: u64,
    /// Flow-controlled DATA octets (payload and padding).
    pub data: u64,
    /// Credit granted to the connection: the sum of the increments of
    /// WINDOW_UPDATEs on stream 0.
    pub connection_credit: u64,
    /// Credit granted to streams: the sum of the other WINDOW_UPDATE increments.
    pub stream_credit: u64,
    /// PINGs, ACKs not counted.
    pub pings: u64,
    /// PING ACKs.
    pub ping_acks: u64,
    /// SETTINGS frames, ACKs not counted.
    pub settings: u64,
    /// SETTINGS ACKs.
    pub settings_acks: u64,
    /// The last SETTINGS_INITIAL_WINDOW_SIZE carried.
    pub initial_window_size: Option<u32>,
}

/// Reads frame heads from a byte stream cut anywhere.
#[derive(Debug, Default)]
struct Scanner {
    /// Octets to pass over: the client preface, or a DATA payload.
    skip: usize,
    /// A frame head, or a whole frame other than DATA, being gathered.
    pending: Vec<u8>,
    tally: Tally,
}

impl Scanner {
    fn new(preface: bool) -> Self {
        Scanner {
            skip: if preface { PREFACE.len() } else { 0 },
            ..Scanner::default()
        }
    }

    fn head(&self) -> Option<Head> {
        self.pending.first_chunk::<HEAD_LEN>().map(Head::parse)
    }

    fn feed(&mut self, mut octets: &[u8]) {
        self.tally.octets += octets.len() as u64;
        while !octets.is_empty() {
            let skip = self.skip.min(octets.len());
            if skip > 0 {
                self.skip -= skip;
                octets = &octets[skip..];
                continue;
            }
            let need = self
                .head()
                .map_or(HEAD_LEN, |head| HEAD_LEN + head.length as usize);
            let n = (need - self.pending.len()).min(octets.len());
            self.pending.extend_from_slice(&octets[..n]);
            octets = &octets[n..];
            let Some(head) = self.head() else {
                continue;
            };
            if head.kind == Kind::Data as u8 {
                self.tally.data += u64::from(head.length);
                self.skip = head.length as usize;
                self.pending.clear();
            } else if self.pending.len() == HEAD_LEN + head.length as usize {
                let payload = Bytes::copy_from_slice(&self.pending[HEAD_LEN..]);
                let frame = Frame::decode(head, payload).expect("a connection wrote a valid frame");
                self.count(&frame);
                self.pending.clear();
            }
        }
    }

    fn count(&mut self, frame: &Frame) {
        let tally = &mut self.tally;
        match frame {
            Frame::WindowUpdate(w) if w.stream_id.is_zero() => {
                tally.connection_credit += u64::from(w.increment);
            }
            Frame::WindowUpdate(w) => tally.stream_credit += u64::from(w.increment),
            Frame::Ping(p) if p.ack => tally.ping_acks += 1,
            Frame::Ping(_) => tally.pings += 1,
            Frame::Settings(s) if s.ack => tally.settings_acks += 1,
            Frame::Settings(s) => {
                tally.settings += 1;
                if s.initial_window_size.is_some() {
                    tally.initial_window_size = s.initial_window_size;
                }
            }
            _ => {}
        }
    }
}

/// One direction of the link.
#[derive(Debug)]
struct Pipe {
    config: LinkConfig,
    /// When the link has put on the wire everything it was given.
    busy_until: Instant,
    /// Octets written and not yet delivered, from `read` on.
    octets: Vec<u8>,
    read: usize,
    /// Arrival time and length of each piece in `octets`, oldest first.
    pieces: VecDeque<(Instant, usize)>,
    /// The sender stopped because its send buffer was full.
    full: bool,
    sent: Scanner,
    received: Scanner,
    peak_in_flight: usize,
}

impl Pipe {
    fn new(config: LinkConfig, now: Instant, preface: bool) -> Self {
        Pipe {
            config,
            busy_until: now,
            octets: Vec::new(),
            read: 0,
            pieces: VecDeque::new(),
            full: false,
            sent: Scanner::new(preface),
            received: Scanner::new(preface),
            peak_in_flight: 0,
        }
    }

    /// Whether the send buffer takes more at `now`.
    fn has_room(&self, now: Instant) -> bool {
        self.config.send_buffer.is_none_or(|limit| {
            self.busy_until.saturating_duration_since(now) <= self.config.serialisation(limit)
        })
    }

    /// The next instant something happens on this pipe: a piece arrives, or
    /// a full send buffer has room again.
    fn next_event(&self) -> Option<Instant> {
        let room = self
            .config
            .send_buffer
            .filter(|_| self.full)
            .map(|limit| self.busy_until - self.config.serialisation(limit));
        let arrival = self.pieces.front().map(|&(at, _)| at);
        match (room, arrival) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn send(&mut self, now: Instant, octets: &[u8]) {
        self.sent.feed(octets);
        let delay = self.config.rtt / 2;
        for piece in octets.chunks(self.config.segment) {
            let start = self.busy_until.max(now);
            self.busy_until = start + self.config.serialisation(piece.len());
            self.pieces
                .push_back((self.busy_until + delay, piece.len()));
            self.octets.extend_from_slice(piece);
        }
        self.peak_in_flight = self.peak_in_flight.max(self.in_flight());
    }

    fn in_flight(&self) -> usize {
        self.octets.len() - self.read
    }

    /// Takes off the link every piece that has arrived by `now`.
    fn arrived(&mut self, now: Instant) -> &[u8] {
        if self.read >= 1 << 20 && self.read * 2 >= self.octets.len() {
            self.octets.drain(..self.read);
            self.read = 0;
        }
        let from = self.read;
        while let Some(&(at, len)) = self.pieces.front() {
            if at > now {
                break;
            }
            self.read += len;
            self.pieces.pop_front();
        }
        self.received.feed(&self.octets[from..self.read]);
        &self.octets[from..self.read]
    }
}

/// A gRPC client and server joined by a [`LinkConfig`] link, on a virtual
/// clock. See the [module documentation](self).
#[derive(Debug)]
pub struct LinkPair {
    client: grpc::Connection,
    server: grpc::Connection,
    to_server: Pipe,
    to_client: Pipe,
    clock: Clock,
    steps_at_now: usize,
    /// The largest connection window each side had open: client, server.
    peak_receive_window: [i64; 2],
    scratch: Vec<u8>,
}

impl LinkPair {
    /// A client and a server with these configurations, joined by `link`,
    /// created at the same instant. Nothing has moved yet.
    pub fn new(client: grpc::Config, server: grpc::Config, link: LinkConfig) -> Self {
        let clock = Clock::new();
        let start = clock.now();
        LinkPair {
            client: grpc::Connection::client(client, start),
            server: grpc::Connection::server(server, start),
            to_server: Pipe::new(link, start, true),
            to_client: Pipe::new(link, start, false),
            clock,
            steps_at_now: 0,
            peak_receive_window: [INITIAL_CONNECTION_WINDOW; 2],
            scratch: Vec::new(),
        }
    }

    /// The client connection.
    pub fn client(&mut self) -> &mut grpc::Connection {
        &mut self.client
    }

    /// The server connection.
    pub fn server(&mut self) -> &mut grpc::Connection {
        &mut self.server
    }

    /// The client connection, shared.
    pub fn client_ref(&self) -> &grpc::Connection {
        &self.client
    }

    /// The server connection, shared.
    pub fn server_ref(&self) -> &grpc::Connection {
        &self.server
    }

    /// The virtual time now.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Virtual time since the pair was created.
    pub fn elapsed(&self) -> Duration {
        self.clock.elapsed()
    }

    /// Starts a client call now.
    ///
    /// # Panics
    ///
    /// When the client refuses.
    pub fn start_call(&mut self, options: CallOptions) -> CallId {
        self.client
            .start_call(self.clock.now(), options)
            .expect("start_call")
    }

    /// What `from` wrote onto the link, counted as it was written.
    pub fn sent(&self, from: Side) -> &Tally {
        match from {
            Side::Client => &self.to_server.sent.tally,
            Side::Server => &self.to_client.sent.tally,
        }
    }

    /// What the link delivered to `to`.
    pub fn received(&self, to: Side) -> &Tally {
        match to {
            Side::Client => &self.to_client.received.tally,
            Side::Server => &self.to_server.received.tally,
        }
    }

    /// Octets on their way to `to`: queued, on the wire or propagating.
    pub fn in_flight(&self, to: Side) -> usize {
        match to {
            Side::Client => self.to_client.in_flight(),
            Side::Server => self.to_server.in_flight(),
        }
    }

    /// The most octets that were ever on their way to `to` at once.
    pub fn peak_in_flight(&self, to: Side) -> usize {
        match to {
            Side::Client => self.to_client.peak_in_flight,
            Side::Server => self.to_server.peak_in_flight,
        }
    }

    /// The connection-level window `side` has open now: 65 535, plus the
    /// credit its WINDOW_UPDATEs on stream 0 granted, less the DATA octets
    /// it received. Its peer sees the same once the link has carried
    /// everything in flight.
    pub fn receive_window(&self, side: Side) -> i64 {
        let (granted, received) = match side {
            Side::Client => (&self.to_server.sent.tally, &self.to_client.received.tally),
            Side::Server => (&self.to_client.sent.tally, &self.to_server.received.tally),
        };
        let granted = i64::try_from(granted.connection_credit).expect("below 2^63");
        let received = i64::try_from(received.data).expect("below 2^63");
        INITIAL_CONNECTION_WINDOW + granted - received
    }

    /// The largest [`receive_window`](Self::receive_window) `side` ever had.
    pub fn peak_receive_window(&self, side: Side) -> i64 {
        self.peak_receive_window[index(side)]
    }

    /// Lets each side write what its send buffer takes, then moves to the
    /// next event if it comes by `until`: delivers the pieces that have
    /// arrived and fires the timers that are due. Returns false, with the
    /// clock at `until`, when nothing happens by then.
    ///
    /// # Panics
    ///
    /// When a side's `receive` fails (the simulator carries well-behaved
    /// traffic), or after [`MAX_STEPS_AT_ONE_INSTANT`] steps without the clock
    /// moving.
    pub fn step(&mut self, until: Instant) -> bool {
        self.transmit();
        let next = [
            self.to_server.next_event(),
            self.to_client.next_event(),
            self.client.poll_timeout(),
            self.server.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(at) = next.filter(|&at| at <= until) else {
            self.clock.advance_to(until);
            return false;
        };
        if at > self.clock.now() {
            self.clock.advance_to(at);
            self.steps_at_now = 0;
        } else {
            self.steps_at_now += 1;
            assert!(
                self.steps_at_now < MAX_STEPS_AT_ONE_INSTANT,
                "{MAX_STEPS_AT_ONE_INSTANT} steps at {:?} without the clock moving",
                self.elapsed()
            );
        }
        let now = self.clock.now();
        deliver(&mut self.to_server, &mut self.server, now);
        deliver(&mut self.to_client, &mut self.client, now);
        for conn in [&mut self.client, &mut self.server] {
            if conn.poll_timeout().is_some_and(|t| t <= now) {
                conn.handle_timeout(now);
            }
        }
        true
    }

    /// Moves what each side has to write into its send buffer.
    fn transmit(&mut self) {
        let now = self.clock.now();
        let buf = &mut self.scratch;
        flush(&mut self.client, &mut self.to_server, now, buf);
        flush(&mut self.server, &mut self.to_client, now, buf);
        for side in [Side::Client, Side::Server] {
            let open = self.receive_window(side);
            let peak = &mut self.peak_receive_window[index(side)];
            *peak = (*peak).max(open);
        }
    }
}

/// The slot of `side` in per-side arrays.
fn index(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

fn flush(conn: &mut grpc::Connection, pipe: &mut Pipe, now: Instant, buf: &mut Vec<u8>) {
    pipe.full = false;
    loop {
        if !pipe.has_room(now) {
            pipe.full = true;
            return;
        }
        buf.clear();
        if conn.poll_transmit(buf) == 0 {
            return;
        }
        pipe.send(now, buf);
    }
}

fn deliver(pipe: &mut Pipe, conn: &mut grpc::Connection, now: Instant) {
    let octets = pipe.arrived(now);
    if octets.is_empty() {
        return;
    }
    if let Err(error) = conn.receive(now, octets) {
        panic!("the {:?} failed to receive: {error}", conn.role());
    }
}
