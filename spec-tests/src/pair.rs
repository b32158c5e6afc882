//! An in-memory client/server [`Pair`] of real [`Connection`]s on virtual time,
//! after quinn-proto's `src/tests/util.rs`.
//!
//! The pair owns both connections, the octets in flight each way, the events
//! each side emitted and a virtual clock. Nothing reads the system clock after
//! construction: time moves only through [`Pair::advance`], so a test of a
//! 30-second timer runs in microseconds and the same calls always produce the
//! same octets.
//!
//! # Driving
//!
//! ```
//! use bytes::Bytes;
//! use spec_tests::pair::{self, Pair};
//!
//! let mut pair = Pair::new();
//! pair.drive(); // preface, SETTINGS and their ACKs
//! let id = pair
//!     .client()
//!     .open_stream(pair::request("POST", "/echo"), false)
//!     .unwrap();
//! pair.client().send_data(id, Bytes::from_static(b"hi"), true).unwrap();
//! pair.drive();
//! let events = pair.server_events();
//! assert_eq!(pair::body(&events, id), b"hi");
//! ```
//!
//! A [`step`](Pair::step) fires expired timers, then moves the client's output
//! to the server and the server's output to the client, receiving each batch
//! whole or in chunks of [`set_chunk_size`](Pair::set_chunk_size) octets.
//! [`drive`](Pair::drive) steps until nothing moves. Between steps the test
//! plays the applications: it reads events with [`client_events`](Pair::client_events)
//! / [`server_events`](Pair::server_events) and calls the mutators of
//! [`client`](Pair::client) / [`server`](Pair::server).
//!
//! # Negative tests
//!
//! [`set_filter`](Pair::set_filter) sees every frame a side transmits and may
//! keep, drop or replace it (rustls' `transfer_altered`);
//! [`inject`](Pair::inject) puts raw octets in flight toward a side, as if its
//! peer had sent them. [`sent`](Pair::sent) and [`sent_frames`](Pair::sent_frames)
//! record everything each connection wrote, for counting frames and comparing
//! runs.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::h2::frame::{Frame, HEAD_LEN};
use grpc_sansio::h2::{Config, Connection, Error, Event, Role, StreamId, PREFACE};
use grpc_sansio::hpack::Header;

use grpc_sansio::testing::clock::{self, Clock};
pub use grpc_sansio::testing::{next_frame, parse_frames, pattern, Side};

/// Steps [`Pair::drive`] allows before it declares a livelock.
pub const MAX_DRIVE_STEPS: usize = 10_000;

/// What a [`Pair::set_filter`] callback does with one transmitted frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Altered {
    /// Deliver the frame as it was written.
    Keep,
    /// Lose the frame.
    Drop,
    /// Deliver these octets instead: another frame, several, or garbage.
    Raw(Vec<u8>),
}

type Filter = Box<dyn FnMut(Side, &Frame) -> Altered>;

/// One connection and everything the pair keeps about it.
struct Endpoint {
    conn: Connection,
    /// Octets on their way to this endpoint.
    inbound: Vec<u8>,
    /// Events drained from `conn`, not yet taken by the test.
    events: Vec<Event>,
    /// Every octet `conn` wrote, before any filter.
    sent: Vec<u8>,
    /// The first error `receive` returned.
    receive_error: Option<Error>,
    /// Release every DATA event's octets as soon as it is drained.
    auto_release: bool,
    /// The client's output still starts with the connection preface.
    preface_pending: bool,
}

impl Endpoint {
    fn new(role: Role, config: Config, now: Instant) -> Self {
        Endpoint {
            conn: Connection::new(role, config, now),
            inbound: Vec::new(),
            events: Vec::new(),
            sent: Vec::new(),
            receive_error: None,
            auto_release: false,
            preface_pending: role == Role::Client,
        }
    }

    /// Moves the connection's pending events into `events`.
    fn collect(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            if self.auto_release {
                if let Event::Data { stream, data, .. } = &event {
                    let n = u32::try_from(data.len()).expect("DATA fits a frame");
                    self.conn.release_capacity(*stream, n);
                }
            }
            self.events.push(event);
        }
    }
}

/// A client and a server [`Connection`] wired back to back on a virtual clock.
/// See the [module documentation](self) for the driving model.
pub struct Pair {
    client: Endpoint,
    server: Endpoint,
    clock: Clock,
    chunk_size: Option<usize>,
    filter: Option<Filter>,
}

impl fmt::Debug for Pair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pair")
            .field("elapsed", &self.elapsed())
            .field("client", &self.client.conn)
            .field("server", &self.server.conn)
            .field("to_client", &self.client.inbound.len())
            .field("to_server", &self.server.inbound.len())
            .field("chunk_size", &self.chunk_size)
            .field("filter", &self.filter.is_some())
            .finish()
    }
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}

impl Pair {
    /// Two connections with default [`Config`]s. Nothing has moved yet: the
    /// preface and SETTINGS are queued on both sides.
    pub fn new() -> Self {
        Pair::with_configs(Config::default(), Config::default())
    }

    /// Two connections with the given configurations.
    pub fn with_configs(client: Config, server: Config) -> Self {
        let clock = Clock::new();
        Pair {
            client: Endpoint::new(Role::Client, client, clock.now()),
            server: Endpoint::new(Role::Server, server, clock.now()),
            clock,
            chunk_size: None,
            filter: None,
        }
    }

    // ----- connections -----

    /// The client-role connection, to call its mutators and getters.
    pub fn client(&mut self) -> &mut Connection {
        &mut self.client.conn
    }

    /// The server-role connection.
    pub fn server(&mut self) -> &mut Connection {
        &mut self.server.conn
    }

    /// The connection of `side`.
    pub fn conn(&mut self, side: Side) -> &mut Connection {
        &mut self.endpoint(side).conn
    }

    fn endpoint(&mut self, side: Side) -> &mut Endpoint {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    fn endpoint_ref(&self, side: Side) -> &Endpoint {
        match side {
            Side::Client => &self.client,
            Side::Server => &self.server,
        }
    }

    /// Whether both connections say they are finished.
    pub fn is_closed(&self) -> bool {
        self.client.conn.is_closed() && self.server.conn.is_closed()
    }

    // ----- events -----

    /// Takes every event the client emitted so far, oldest first.
    pub fn client_events(&mut self) -> Vec<Event> {
        self.events(Side::Client)
    }

    /// Takes every event the server emitted so far, oldest first.
    pub fn server_events(&mut self) -> Vec<Event> {
        self.events(Side::Server)
    }

    /// Takes every event `side` emitted so far, oldest first.
    pub fn events(&mut self, side: Side) -> Vec<Event> {
        let endpoint = self.endpoint(side);
        endpoint.collect();
        std::mem::take(&mut endpoint.events)
    }

    /// The events `side` emitted and nobody took yet, without taking them.
    pub fn peek_events(&mut self, side: Side) -> &[Event] {
        let endpoint = self.endpoint(side);
        endpoint.collect();
        &endpoint.events
    }

    /// Makes `side` release the octets of every DATA event as the pair drains it,
    /// like an application that consumes bodies at once. Off by default.
    pub fn set_auto_release(&mut self, side: Side, on: bool) {
        self.endpoint(side).auto_release = on;
    }

    /// The first error `side`'s `receive` returned. After it, the pair stops
    /// delivering to that side, as a driver closes the transport.
    pub fn receive_error(&self, side: Side) -> Option<&Error> {
        self.endpoint_ref(side).receive_error.as_ref()
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

    /// Moves the virtual clock forward. Timers fire at the next
    /// [`handle_timeouts`](Self::handle_timeouts) or [`step`](Self::step).
    pub fn advance(&mut self, by: Duration) {
        self.clock.advance(by);
    }

    /// The earlier of both connections' `poll_timeout`.
    pub fn next_timeout(&self) -> Option<Instant> {
        clock::earliest(
            self.client.conn.poll_timeout(),
            self.server.conn.poll_timeout(),
        )
    }

    /// Jumps the clock to [`next_timeout`](Self::next_timeout) (if later than
    /// now) and fires it. Returns whether there was one.
    pub fn advance_to_next_timeout(&mut self) -> bool {
        let Some(at) = self.next_timeout() else {
            return false;
        };
        self.clock.advance_to(at);
        self.handle_timeouts();
        true
    }

    /// Calls `handle_timeout(now)` on each side whose timer has expired.
    pub fn handle_timeouts(&mut self) {
        let now = self.clock.now();
        for endpoint in [&mut self.client, &mut self.server] {
            if endpoint.conn.poll_timeout().is_some_and(|at| at <= now) {
                endpoint.conn.handle_timeout(now);
                endpoint.collect();
            }
        }
    }

    // ----- moving octets -----

    /// Receives every batch in pieces of at most `size` octets (`None`: whole),
    /// to test arbitrary segmentation.
    ///
    /// # Panics
    ///
    /// On `Some(0)`.
    pub fn set_chunk_size(&mut self, size: Option<usize>) {
        assert_ne!(size, Some(0), "a chunk holds at least one octet");
        self.chunk_size = size;
    }

    /// Sees every frame either side transmits from now on, with the sender, and
    /// decides what the peer gets. The client preface passes untouched; so does
    /// anything that does not decode as a frame.
    pub fn set_filter(&mut self, filter: impl FnMut(Side, &Frame) -> Altered + 'static) {
        self.filter = Some(Box::new(filter));
    }

    /// Removes the filter.
    pub fn clear_filter(&mut self) {
        self.filter = None;
    }

    /// Puts `octets` in flight toward `to`, as if its peer had written them: they
    /// arrive after what is already in flight and before anything the peer
    /// transmits later, at the next [`deliver`](Self::deliver) or step.
    pub fn inject(&mut self, to: Side, octets: &[u8]) {
        self.endpoint(to).inbound.extend_from_slice(octets);
    }

    /// Like [`inject`](Self::inject), for a frame.
    pub fn inject_frame(&mut self, to: Side, frame: impl Into<Frame>) {
        let mut octets = Vec::new();
        frame.into().encode(&mut octets);
        self.inject(to, &octets);
    }

    /// Octets in flight toward `to`.
    pub fn in_flight(&self, to: Side) -> &[u8] {
        &self.endpoint_ref(to).inbound
    }

    /// Everything `side`'s connection ever wrote, before any filter.
    pub fn sent(&self, side: Side) -> &[u8] {
        &self.endpoint_ref(side).sent
    }

    /// [`sent`](Self::sent) as frames (the client preface skipped).
    pub fn sent_frames(&self, side: Side) -> Vec<Frame> {
        parse_frames(self.sent(side))
    }

    /// Drains `from`'s `poll_transmit` into the flight toward its peer, through
    /// the filter. Returns the octets the connection wrote.
    pub fn flush(&mut self, from: Side) -> usize {
        let endpoint = self.endpoint(from);
        let mut buf = Vec::new();
        while endpoint.conn.poll_transmit(&mut buf) > 0 {}
        endpoint.collect();
        endpoint.sent.extend_from_slice(&buf);
        let written = buf.len();
        if written == 0 {
            return 0;
        }
        let mut rest = &buf[..];
        let mut out = Vec::with_capacity(buf.len());
        if endpoint.preface_pending && rest.starts_with(PREFACE) {
            endpoint.preface_pending = false;
            out.extend_from_slice(PREFACE);
            rest = &rest[PREFACE.len()..];
        }
        match &mut self.filter {
            None => out.extend_from_slice(rest),
            Some(filter) => filter_frames(rest, from, filter, &mut out),
        }
        self.endpoint(from.peer()).inbound.extend_from_slice(&out);
        written
    }

    /// Hands the octets in flight toward `to` to its `receive`, whole or in
    /// chunks, draining events after each call. Returns the octets delivered.
    pub fn deliver(&mut self, to: Side) -> usize {
        let now = self.clock.now();
        let chunk = self.chunk_size.unwrap_or(usize::MAX);
        let endpoint = self.endpoint(to);
        let inbound = std::mem::take(&mut endpoint.inbound);
        if endpoint.receive_error.is_some() {
            // The transport is closed: what was in flight is lost.
            return 0;
        }
        for piece in inbound.chunks(chunk) {
            let result = endpoint.conn.receive(now, piece);
            endpoint.collect();
            if let Err(error) = result {
                endpoint.receive_error = Some(error);
                break;
            }
        }
        inbound.len()
    }

    /// One round: fires expired timers, then client → server, then server →
    /// client. Returns whether any octet moved.
    pub fn step(&mut self) -> bool {
        self.handle_timeouts();
        self.flush(Side::Client);
        let a = self.deliver(Side::Server);
        self.flush(Side::Server);
        let b = self.deliver(Side::Client);
        a + b > 0
    }

    /// Steps until nothing moves.
    ///
    /// # Panics
    ///
    /// After [`MAX_DRIVE_STEPS`] steps: the pair did not converge.
    pub fn drive(&mut self) {
        assert!(
            self.drive_bounded(MAX_DRIVE_STEPS),
            "did not converge within {MAX_DRIVE_STEPS} steps"
        );
    }

    /// Steps until nothing moves or `max_steps` steps have run; returns whether
    /// it went quiet.
    pub fn drive_bounded(&mut self, max_steps: usize) -> bool {
        clock::until_quiet(max_steps, || self.step())
    }
}

/// Runs `filter` over each frame of `octets`, appending what to deliver to `out`.
fn filter_frames(mut octets: &[u8], from: Side, filter: &mut Filter, out: &mut Vec<u8>) {
    while let Some((head, total)) = next_frame(octets) {
        let raw = &octets[..total];
        let payload = Bytes::copy_from_slice(&raw[HEAD_LEN..]);
        match Frame::decode(head, payload).map(|frame| filter(from, &frame)) {
            Ok(Altered::Keep) | Err(_) => out.extend_from_slice(raw),
            Ok(Altered::Drop) => {}
            Ok(Altered::Raw(replacement)) => out.extend_from_slice(&replacement),
        }
        octets = &octets[total..];
    }
    out.extend_from_slice(octets);
}

// ----- messages -----

/// A request header block: `:method`, `:scheme` http, `:path`, `:authority`.
pub fn request(method: &str, path: &str) -> Vec<Header> {
    grpc_sansio::testing::request(method, path, "example.com")
}

/// A response header block with `:status`.
pub fn response(status: u16) -> Vec<Header> {
    vec![Header::new(":status", status.to_string())]
}

/// A trailer block from name/value pairs.
pub fn trailers(fields: &[(&'static str, &'static str)]) -> Vec<Header> {
    fields.iter().map(|(n, v)| Header::new(*n, *v)).collect()
}

// ----- reading events -----

/// The body octets `events` carried on `stream`, concatenated.
pub fn body(events: &[Event], stream: StreamId) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        if let Event::Data {
            stream: s, data, ..
        } = event
        {
            if *s == stream {
                out.extend_from_slice(data);
            }
        }
    }
    out
}

/// The header blocks `events` carried on `stream`, with their END_STREAM flag.
pub fn header_blocks(events: &[Event], stream: StreamId) -> Vec<(Vec<Header>, bool)> {
    events
        .iter()
        .filter_map(|event| match event {
            Event::Headers {
                stream: s,
                headers,
                end_stream,
            } if *s == stream => Some((headers.clone(), *end_stream)),
            _ => None,
        })
        .collect()
}

/// Whether `events` ended `stream`: END_STREAM on DATA or HEADERS, or a reset.
pub fn ended(events: &[Event], stream: StreamId) -> bool {
    events.iter().any(|event| match event {
        Event::Headers {
            stream: s,
            end_stream,
            ..
        }
        | Event::Data {
            stream: s,
            end_stream,
            ..
        } => *s == stream && *end_stream,
        Event::Reset { stream: s, .. } => *s == stream,
        _ => false,
    })
}

/// The value of header `name` in a block, if present.
pub fn header_value<'a>(headers: &'a [Header], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| &h.name[..] == name.as_bytes())
        .map(|h| &h.value[..])
}
