//! A server-role [`Connection`] driven in memory, acting as a minimal HTTP/2
//! application, with h2spec's verdicts as assertions.
//!
//! The driver plays the h2spec client: it feeds hand-built frames (see
//! [`FrameFactory`]) to the server and parses what the server transmits back
//! with the engine's frame decoder. The server side answers every request that
//! ends (END_STREAM on HEADERS or DATA) with `:status 200` and a body, releasing
//! flow-control capacity for the request body it consumes.
//!
//! Time is virtual ([`Clock`]): one reading of the real clock, then an offset.
//! Nothing sleeps; "waiting for the timeout" advances the offset.
//!
//! ## Verdicts
//!
//! [`TestServer::verdict`] judges by h2spec 2.6.0's verifiers ([`Expect`]). It
//! looks at the frames the server sent since the last verdict (or
//! [`TestServer::frames`] call), in order, and consumes them up to the frame
//! that decided the verdict. It returns `Err` with a description of what
//! arrived instead. h2spec counts a closed transport as a connection error of
//! any code; in memory the close comes with the engine's connection error, so
//! the close alternative here only passes when that error carries one of the
//! expected codes (stricter than h2spec, never looser).

use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::h2::frame::{Frame, Settings};
use grpc_sansio::h2::{Config, Connection, Error, ErrorCode, Event, Role, StreamId};
use grpc_sansio::hpack::Header;

pub use crate::conform::frames::describe;
use crate::conform::frames::{merge_settings, FrameReader};
use crate::conform::verdict::{Expect, OnClose};
use crate::factory::FrameFactory;
use grpc_sansio::testing::clock::Clock;

/// The default response body length: long enough for every h2spec case that
/// needs a body (the longest need is 5 octets, http2/6.9.2/2).
pub const DEFAULT_BODY_LEN: usize = 32;

/// h2spec's default wait timeout.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(2);

/// A server [`Connection`] plus a minimal application, on virtual time.
#[derive(Debug)]
pub struct TestServer {
    conn: Connection,
    clock: Clock,
    /// The client's frame factory and HPACK encoder for this connection.
    pub factory: FrameFactory,
    parser: FrameReader,
    pending: VecDeque<Frame>,
    body: Bytes,
    responded: HashSet<StreamId>,
    head_requests: HashSet<StreamId>,
    receive_error: Option<Error>,
    server_settings: Settings,
    app_errors: Vec<String>,
}

impl TestServer {
    /// A server with the default config and body, after the h2spec handshake.
    pub fn new() -> Self {
        Self::with_body(DEFAULT_BODY_LEN)
    }

    /// A server answering with a body of `len` octets, after the handshake.
    pub fn with_body(len: usize) -> Self {
        let mut server = Self::unconnected(Config::default(), body_of(len));
        server.handshake();
        server
    }

    /// A server with the default config and body before anything was sent to
    /// it (for the cases that check the handshake itself).
    pub fn without_handshake() -> Self {
        Self::unconnected(Config::default(), body_of(DEFAULT_BODY_LEN))
    }

    /// A server with the given config and response body before anything was
    /// sent to it: no preface, no handshake.
    pub fn unconnected(config: Config, body: Bytes) -> Self {
        let clock = Clock::new();
        let mut server = TestServer {
            conn: Connection::new(Role::Server, config, clock.now()),
            clock,
            factory: FrameFactory::new(),
            parser: FrameReader::default(),
            pending: VecDeque::new(),
            body,
            responded: HashSet::new(),
            head_requests: HashSet::new(),
            receive_error: None,
            server_settings: Settings::default(),
            app_errors: Vec::new(),
        };
        server.pump();
        server
    }

    /// The h2spec handshake: preface and SETTINGS(INITIAL_WINDOW_SIZE=65535);
    /// wait for the server's SETTINGS (recorded and ACKed) and for the ACK of
    /// ours. Frames seen meanwhile are dropped, as h2spec does.
    ///
    /// # Panics
    ///
    /// When the server fails the handshake.
    pub fn handshake(&mut self) {
        self.send(&FrameFactory::preface());
        self.send(&FrameFactory::settings_initial_window(65_535));
        let (mut remote, mut local) = (false, false);
        while let Some(frame) = self.pending.pop_front() {
            if let Frame::Settings(s) = frame {
                if s.ack {
                    local = true;
                } else {
                    remote = true;
                    merge_settings(&mut self.server_settings, &s);
                    self.send(&FrameFactory::settings_ack());
                }
            }
        }
        assert!(
            remote && local && self.receive_error.is_none(),
            "handshake failed: server SETTINGS seen: {remote}, ACK seen: {local}, error: {:?}",
            self.receive_error
        );
        self.pending.clear();
    }

    // ----- driving -----

    /// Feeds `bytes` to the server as read from the transport, lets the
    /// application react, and collects what the server transmits.
    pub fn send(&mut self, bytes: &[u8]) {
        let now = self.now();
        if let Err(e) = self.conn.receive(now, bytes) {
            self.receive_error.get_or_insert(e);
        }
        self.pump();
    }

    /// Sends several chunks, one [`send`](Self::send) each.
    pub fn send_all<B: AsRef<[u8]>>(&mut self, chunks: &[B]) {
        for chunk in chunks {
            self.send(chunk.as_ref());
        }
    }

    /// Advances virtual time by `d`, firing the server's timers.
    pub fn advance(&mut self, d: Duration) {
        self.clock.advance(d);
        let now = self.now();
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(now);
        }
        self.pump();
    }

    /// The current virtual instant.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The server connection, for inspection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The settings the server advertised in the handshake.
    pub fn server_settings(&self) -> &Settings {
        &self.server_settings
    }

    /// The first connection error `receive` reported, if any.
    pub fn receive_error(&self) -> Option<&Error> {
        self.receive_error.as_ref()
    }

    /// Whether the transport would be closed now: the connection failed or
    /// finished and has nothing left to send.
    pub fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// API misuses the application ran into (e.g. answering a reset stream).
    pub fn app_errors(&self) -> &[String] {
        &self.app_errors
    }

    /// Everything the server transmitted since the last call or verdict.
    pub fn frames(&mut self) -> Vec<Frame> {
        self.pump();
        self.pending.drain(..).collect()
    }

    /// Drains events and output until neither produces anything.
    fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(event) = self.conn.poll_event() {
                progressed = true;
                self.on_event(event);
            }
            let mut out = Vec::new();
            while self.conn.poll_transmit(&mut out) > 0 {}
            if !out.is_empty() {
                progressed = true;
                if let Err(e) = self.parser.push(&out, &mut self.pending) {
                    panic!("{e}");
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// The application.
    fn on_event(&mut self, event: Event) {
        match event {
            Event::Headers {
                stream,
                headers,
                end_stream,
            } => {
                if headers
                    .iter()
                    .any(|h| &h.name[..] == b":method" && &h.value[..] == b"HEAD")
                {
                    self.head_requests.insert(stream);
                }
                if end_stream {
                    self.respond(stream);
                }
            }
            Event::Data {
                stream,
                data,
                end_stream,
            } => {
                self.conn.release_capacity(stream, data.len() as u32);
                if end_stream {
                    self.respond(stream);
                }
            }
            // Resets, PINGs, GOAWAYs and flow events need no answer from
            // this application.
            _ => {}
        }
    }

    fn respond(&mut self, stream: StreamId) {
        if !self.responded.insert(stream) {
            return;
        }
        let no_body = self.body.is_empty() || self.head_requests.contains(&stream);
        let headers = vec![Header::new(":status", "200")];
        if let Err(e) = self.conn.send_headers(stream, headers, no_body) {
            self.app_errors.push(format!("send_headers({stream}): {e}"));
            return;
        }
        if !no_body {
            if let Err(e) = self.conn.send_data(stream, self.body.clone(), true) {
                self.app_errors.push(format!("send_data({stream}): {e}"));
            }
        }
    }

    // ----- verdicts -----

    /// Looks for the first pending frame `expect` has an opinion on (see
    /// [`Expect::decide`]), consuming frames up to the deciding one. Without a
    /// decision, waits for h2spec's timeout (virtual) and tries once more; then
    /// a closed connection passes where [`Expect::on_close`] says so, and only
    /// with one of the expected codes where it names them.
    pub fn verdict(&mut self, expect: Expect) -> Result<(), String> {
        let expected = expect.to_string();
        self.pump();
        let mut seen = Vec::new();
        for attempt in 0..2 {
            if attempt == 1 {
                self.advance(WAIT_TIMEOUT);
            }
            while let Some(frame) = self.pending.pop_front() {
                match expect.decide(&frame) {
                    Some(true) => return Ok(()),
                    Some(false) => {
                        seen.push(describe(&frame));
                        return Err(self.failure(&expected, &seen, "the frame decided against"));
                    }
                    None => seen.push(describe(&frame)),
                }
            }
            if self.is_closed() {
                let passes = match expect.on_close() {
                    OnClose::Fails => false,
                    OnClose::Passes => true,
                    OnClose::PassesWithCode(codes) => self.closed_with(codes),
                };
                if passes {
                    return Ok(());
                }
                return Err(self.failure(&expected, &seen, "the connection closed"));
            }
        }
        Err(self.failure(&expected, &seen, "timeout"))
    }

    fn failure(&self, expected: &str, seen: &[String], end: &str) -> String {
        let mut s = format!("expected {expected}; received [{}]", seen.join(", "));
        let _ = write!(s, "; then {end}");
        match &self.receive_error {
            Some(e) => {
                let _ = write!(s, "; receive() failed: {e}");
            }
            None => s.push_str("; receive() never failed"),
        }
        if let Some(e) = self.conn.error() {
            let _ = write!(s, "; connection error: {e}");
        }
        if !self.app_errors.is_empty() {
            let _ = write!(s, "; application errors: {:?}", self.app_errors);
        }
        s
    }

    fn closed_with(&self, codes: &[ErrorCode]) -> bool {
        self.conn.error().is_some_and(|e| codes.contains(&e.code()))
    }
}

impl Default for TestServer {
    fn default() -> Self {
        Self::new()
    }
}

/// The default response body: `len` octets of `a`..`z`.
pub fn body_of(len: usize) -> Bytes {
    (0..len)
        .map(|i| b'a' + (i % 26) as u8)
        .collect::<Vec<u8>>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conform::Client;

    fn conn_err(code: ErrorCode) -> Expect {
        Expect::ConnectionError(vec![code])
    }

    #[test]
    fn handshake_records_server_settings() {
        let s = TestServer::new();
        let settings = s.server_settings();
        assert!(!settings.ack);
        assert!(settings.max_concurrent_streams.is_some());
        assert!(s.receive_error().is_none());
        assert!(!s.is_closed());
    }

    #[test]
    fn a_request_gets_headers_and_the_body() {
        let mut s = TestServer::with_body(10);
        let block = s.get_request();
        s.send(&FrameFactory::headers(1, &block, true));
        let frames = s.frames();
        assert!(
            matches!(&frames[..], [Frame::Headers(h), Frame::Data(d)]
                if h.stream_id == StreamId::new(1) && !h.end_stream
                    && d.data.len() == 10 && d.end_stream),
            "{:?}",
            frames.iter().map(describe).collect::<Vec<_>>()
        );
    }

    #[test]
    fn verdicts_fail_on_the_wrong_reaction() {
        let mut s = TestServer::new();
        let block = s.get_request();
        s.send(&FrameFactory::headers(1, &block, true));
        let err = s.verdict(conn_err(ErrorCode::PROTOCOL_ERROR)).unwrap_err();
        assert!(err.contains("HEADERS(stream 1"), "{err}");
        assert!(err.contains("timeout"), "{err}");
        assert!(
            s.verdict(Expect::ResponseHeaders(1)).is_err(),
            "frames were consumed"
        );
        s.send(&FrameFactory::ping(*b"abcdefgh", false));
        assert!(s.verdict(Expect::PingAck(*b"12345678")).is_err());
        s.send(&FrameFactory::ping(*b"abcdefgh", false));
        s.verdict(Expect::PingAck(*b"abcdefgh")).unwrap();
        assert!(s.verdict(Expect::Close).is_err());
    }

    #[test]
    fn close_passes_only_with_the_expected_code() {
        let mut s = TestServer::new();
        s.send(&FrameFactory::window_update(0, 0));
        let err = s
            .verdict(conn_err(ErrorCode::FLOW_CONTROL_ERROR))
            .unwrap_err();
        assert!(err.contains("GOAWAY(last 0, PROTOCOL_ERROR"), "{err}");
        assert!(s.is_closed());
        // The GOAWAY was consumed; the close still carries PROTOCOL_ERROR.
        s.verdict(conn_err(ErrorCode::PROTOCOL_ERROR)).unwrap();
        s.verdict(Expect::StreamError(vec![ErrorCode::PROTOCOL_ERROR]))
            .unwrap();
        s.verdict(Expect::Close).unwrap();
    }

    #[test]
    fn waiting_for_the_timeout_does_not_trip_server_timers() {
        let mut s = TestServer::new();
        s.advance(WAIT_TIMEOUT * 4);
        assert!(s.frames().is_empty());
        assert!(!s.is_closed());
    }
}
