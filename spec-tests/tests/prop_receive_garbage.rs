//! Hostile input to a single `Connection`: arbitrary octets, and frame-shaped
//! garbage after a valid preface, never panic; only connection errors surface
//! from `receive`; once one has, every later call returns the same error
//! (rustls' sticky errors); and whatever the connection writes back is a
//! sequence of valid frames.

use std::time::{Duration, Instant};

use grpc_sansio::h2::frame::{Frame, Settings};
use grpc_sansio::h2::{Config, Connection, Error, Role, PREFACE};
use grpc_sansio::hpack::{Encoder, Header};
use proptest::prelude::*;
use spec_tests::pair::{self, parse_frames};

/// How the input starts.
#[derive(Debug, Clone, Copy)]
enum Opening {
    /// Garbage from the first octet.
    Nothing,
    /// The client preface only (server role).
    Preface,
    /// What a valid peer sends first: preface (server role) and SETTINGS.
    PrefaceAndSettings,
}

fn opening() -> impl Strategy<Value = Opening> {
    prop_oneof![
        1 => Just(Opening::Nothing),
        1 => Just(Opening::Preface),
        3 => Just(Opening::PrefaceAndSettings),
    ]
}

fn valid_opening(role: Role, opening: Opening) -> Vec<u8> {
    let mut out = Vec::new();
    if role == Role::Server && !matches!(opening, Opening::Nothing) {
        out.extend_from_slice(PREFACE);
    }
    if matches!(opening, Opening::PrefaceAndSettings) {
        Frame::from(Settings {
            initial_window_size: Some(1_000),
            max_frame_size: Some(20_000),
            ..Settings::default()
        })
        .encode(&mut out);
    }
    out
}

/// One piece of frame-shaped input.
#[derive(Debug, Clone)]
enum Piece {
    /// A frame head and payload with an honest length field.
    Frame {
        kind: u8,
        flags: u8,
        stream: u32,
        payload: Vec<u8>,
    },
    /// A valid header block (HPACK-encoded by a real encoder) in HEADERS.
    Headers {
        stream: u32,
        flags: u8,
        request: bool,
    },
    /// Raw octets, framing be damned.
    Raw(Vec<u8>),
    /// Time passes and timers fire.
    Wait(u64),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        6 => (
            prop_oneof![0u8..=9, any::<u8>()],
            prop_oneof![Just(0u8), Just(1), Just(4), Just(5), Just(8), Just(0x20), any::<u8>()],
            prop_oneof![0u32..=8, any::<u32>()],
            prop::collection::vec(any::<u8>(), 0..48),
        )
            .prop_map(|(kind, flags, stream, payload)| Piece::Frame {
                kind,
                flags,
                stream,
                payload
            }),
        3 => (
            prop_oneof![1u32..=9, any::<u32>()],
            prop_oneof![Just(4u8), Just(5), Just(0), Just(1), any::<u8>()],
            any::<bool>()
        )
            .prop_map(|(stream, flags, request)| Piece::Headers { stream, flags, request }),
        1 => prop::collection::vec(any::<u8>(), 0..32).prop_map(Piece::Raw),
        1 => (0u64..=15_000).prop_map(Piece::Wait),
    ]
}

fn raw_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// One connection fed by hand, checking after every call that errors stick.
struct Driver {
    conn: Connection,
    now: Instant,
    first_error: Option<Error>,
    written: Vec<u8>,
}

impl Driver {
    fn new(role: Role) -> Self {
        let now = Instant::now();
        Driver {
            conn: Connection::new(role, Config::default(), now),
            now,
            first_error: None,
            written: Vec::new(),
        }
    }

    fn feed(&mut self, octets: &[u8]) -> Result<(), TestCaseError> {
        let result = self.conn.receive(self.now, octets);
        self.settle(result)
    }

    fn wait(&mut self, millis: u64) -> Result<(), TestCaseError> {
        self.now += Duration::from_millis(millis);
        if self.conn.poll_timeout().is_some_and(|at| at <= self.now) {
            self.conn.handle_timeout(self.now);
        }
        // A timeout may fail the connection: that error is sticky too.
        let result = self.conn.receive(self.now, &[]);
        self.settle(result)
    }

    fn settle(&mut self, result: Result<(), Error>) -> Result<(), TestCaseError> {
        match (&self.first_error, result) {
            (None, Ok(())) => {
                prop_assert!(self.conn.error().is_none());
            }
            (None, Err(e)) => {
                prop_assert!(e.is_connection_error(), "a stream error surfaced: {}", e);
                prop_assert_eq!(self.conn.error(), Some(&e));
                self.first_error = Some(e);
            }
            (Some(first), result) => {
                prop_assert_eq!(result.as_ref(), Err(first), "the error is not sticky");
                prop_assert_eq!(self.conn.error(), Some(first));
            }
        }
        while self.conn.poll_event().is_some() {}
        while self.conn.poll_transmit(&mut self.written) > 0 {}
        Ok(())
    }

    /// Checks the end state.
    fn finish(mut self) -> Result<(), TestCaseError> {
        if let Some(first) = self.first_error.clone() {
            prop_assert_eq!(self.conn.receive(self.now, PREFACE), Err(first.clone()));
            prop_assert_eq!(self.conn.receive(self.now, &[]), Err(first));
            while self.conn.poll_transmit(&mut self.written) > 0 {}
            prop_assert!(
                self.conn.is_closed(),
                "a failed connection is closed once flushed"
            );
            prop_assert_eq!(self.conn.poll_timeout(), None);
        }
        // What we wrote back parses as frames (panics otherwise).
        let frames = parse_frames(&self.written);
        if self.first_error.is_some() {
            prop_assert!(
                frames.iter().any(|f| matches!(f, Frame::GoAway(_))),
                "a connection error sends GOAWAY"
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_octets_never_panic_and_errors_stick(
        server in any::<bool>(),
        opening in opening(),
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..12),
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let mut driver = Driver::new(role);
        driver.feed(&valid_opening(role, opening))?;
        for chunk in &chunks {
            driver.feed(chunk)?;
        }
        driver.finish()?;
    }

    #[test]
    fn frame_shaped_garbage_never_panics_and_errors_stick(
        server in prop::bool::weighted(0.75),
        opening in opening(),
        pieces in prop::collection::vec(piece(), 0..24),
        segment in prop_oneof![Just(usize::MAX), 1usize..=13],
    ) {
        let role = if server { Role::Server } else { Role::Client };
        let mut driver = Driver::new(role);
        let mut encoder = Encoder::new();
        let mut input = valid_opening(role, opening);
        for piece in &pieces {
            match piece {
                Piece::Frame { kind, flags, stream, payload } => {
                    input.extend(raw_frame(*kind, *flags, *stream, payload));
                }
                Piece::Headers { stream, flags, request } => {
                    let fields: Vec<Header> = if *request {
                        pair::request("POST", "/svc/Method")
                    } else {
                        let mut fields = pair::response(200);
                        fields.push(Header::new("grpc-status", "0"));
                        fields
                    };
                    let mut block = Vec::new();
                    encoder.encode(&fields, &mut block);
                    input.extend(raw_frame(1, *flags, *stream, &block));
                }
                Piece::Raw(octets) => input.extend_from_slice(octets),
                Piece::Wait(millis) => {
                    for part in input.chunks(segment) {
                        driver.feed(part)?;
                    }
                    input.clear();
                    driver.wait(*millis)?;
                }
            }
        }
        for part in input.chunks(segment) {
            driver.feed(part)?;
        }
        driver.finish()?;
    }
}

#[test]
fn a_stream_error_is_not_sticky() {
    // DATA on a stream the client half-closed: a stream error, the connection
    // lives on.
    let mut driver = Driver::new(Role::Server);
    let mut input = valid_opening(Role::Server, Opening::PrefaceAndSettings);
    let mut block = Vec::new();
    Encoder::new().encode(&pair::request("GET", "/"), &mut block);
    input.extend(raw_frame(1, 0x5, 1, &block));
    input.extend(raw_frame(0, 0, 1, b"late"));
    driver.feed(&input).unwrap();
    assert!(driver.first_error.is_none());
    assert!(driver.conn.error().is_none());
    driver.feed(&raw_frame(6, 0, 0, &[0; 8])).unwrap();
    assert!(driver.conn.error().is_none());
    driver.finish().unwrap();
}
