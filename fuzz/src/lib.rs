//! The bodies of the fuzz targets, one `pub fn(&[u8])` per target.
//!
//! `fuzz_targets/*.rs` are one-line wrappers around these, and
//! `engine/tests/fuzz_corpus.rs` includes this very file (`#[path]`) to replay
//! every file of `fuzz/corpus/<target>/` under a plain `cargo test`. So a crash
//! found once and added to the corpus keeps failing the test suite until fixed.
//!
//! Only `grpc-sansio`, `bytes` and `std` are used here, so the engine's test
//! gets the same code without a new dependency.
//!
//! Every function must return normally for any input; a panic (including a
//! failed `assert!`) is a finding.

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::h2::frame::{Frame, Head, HEAD_LEN, MAX_MAX_FRAME_SIZE};
use grpc_sansio::h2::{Config, Connection, Error, ErrorCode, Event, Role, StreamId, PREFACE};
use grpc_sansio::hpack::{self, huffman, Decoder, Encoder, Header, HuffmanPolicy, IndexPolicy};

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by name, as the corpus folders are named.
pub const TARGETS: &[(&str, Target)] = &[
    ("frame_decode", frame_decode),
    ("hpack_decode", hpack_decode),
    ("server_conn", server_conn),
    ("client_conn", client_conn),
];

// ----- frame_decode -----

/// Input: a 9-octet frame head, then the payload.
///
/// The frame is decoded once with the length field as given (a mismatch must be
/// an error) and once with the length fixed up so every per-type decoder is
/// reached. A frame that decodes must encode to something that decodes to an
/// equal frame and re-encodes to the same octets.
pub fn frame_decode(data: &[u8]) {
    let Some((head_bytes, rest)) = data.split_first_chunk::<HEAD_LEN>() else {
        return;
    };
    let Ok(length) = u32::try_from(rest.len()) else {
        return;
    };
    if length > MAX_MAX_FRAME_SIZE {
        return;
    }
    let head = Head::parse(head_bytes);
    let payload = Bytes::copy_from_slice(rest);

    let as_given = Frame::decode(head, payload.clone());
    if head.length != length {
        assert!(
            as_given.is_err(),
            "length {} with a {length}-octet payload decoded",
            head.length
        );
    }

    let head = Head { length, ..head };
    let Ok(frame) = Frame::decode(head, payload) else {
        return;
    };
    let mut wire = Vec::new();
    frame.encode(&mut wire);
    let (head2_bytes, payload2) = wire
        .split_first_chunk::<HEAD_LEN>()
        .expect("an encoded frame has a head");
    let head2 = Head::parse(head2_bytes);
    assert_eq!(
        usize::try_from(head2.length).ok(),
        Some(payload2.len()),
        "encoded length field disagrees with the payload: {frame:?}"
    );
    assert_eq!(head2.kind, head.kind, "encoding changed the type");
    assert_eq!(
        head2.stream_id, head.stream_id,
        "encoding changed the stream"
    );
    let again = match Frame::decode(head2, Bytes::copy_from_slice(payload2)) {
        Ok(again) => again,
        Err(e) => panic!("re-encoded {frame:?} does not decode: {e}"),
    };
    assert_eq!(again, frame, "decode(encode(frame)) != frame");
    let mut wire2 = Vec::new();
    again.encode(&mut wire2);
    assert_eq!(wire2, wire, "encoding is not stable");
}

// ----- hpack_decode -----

/// The header list limit of the fuzzed decoder: small, so the limit is reached.
const HPACK_MAX_LIST: usize = 1024;

/// Input: one octet that sets the decoder's table size (`16 * octet`, so
/// 0..=4080), then header blocks, each preceded by a big-endian `u16` length
/// (a length past the end takes what is left).
///
/// The blocks go through one decoder, so the dynamic table carries over between
/// them. Nothing may panic. Every list that decodes is encoded by two of our
/// encoders (default policies with a 4096 table; index and Huffman-code
/// everything with the fuzzed table size), each feeding a mirror decoder that
/// must give the same list back. The whole input also goes through the Huffman
/// decoder, and round trips through the Huffman encoder.
pub fn hpack_decode(data: &[u8]) {
    let Some((&table, mut rest)) = data.split_first() else {
        return;
    };
    let table_size = usize::from(table) * 16;
    let mut decoder = Decoder::new(table_size);
    decoder.set_max_header_list_size(HPACK_MAX_LIST);
    let mut pairs = [
        EncoderPair::new(hpack::DEFAULT_TABLE_SIZE),
        EncoderPair::new(table_size),
    ];
    pairs[1].encoder.set_index_policy(IndexPolicy::Always);
    pairs[1].encoder.set_huffman_policy(HuffmanPolicy::Always);
    pairs[1].encoder.set_max_table_size(table_size);

    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let n = usize::from(u16::from_be_bytes(*len)).min(tail.len());
        let (block, tail) = tail.split_at(n);
        rest = tail;
        // Only `HeaderListTooLarge` leaves the table in step with the peer's;
        // decoding on after any other error is still no reason to panic, so go
        // on with the next block either way.
        if let Ok(headers) = decoder.decode_to_vec(&Bytes::copy_from_slice(block)) {
            for pair in &mut pairs {
                pair.round_trip(&headers);
            }
        }
    }

    huffman_round_trip(data);
}

/// Our encoder and a decoder that mirrors its peer.
struct EncoderPair {
    encoder: Encoder,
    mirror: Decoder,
}

impl EncoderPair {
    fn new(table_size: usize) -> Self {
        let mut mirror = Decoder::new(table_size);
        mirror.set_max_header_list_size(usize::MAX);
        EncoderPair {
            encoder: Encoder::new(),
            mirror,
        }
    }

    /// Encodes `headers` and checks that the mirror decodes the same fields.
    /// The encoder may make a field "never indexed" (credentials, cookies), so
    /// `sensitive` may be gained but never lost.
    fn round_trip(&mut self, headers: &[Header]) {
        let mut block = Vec::new();
        self.encoder.encode(headers, &mut block);
        let back = match self.mirror.decode_to_vec(&Bytes::from(block)) {
            Ok(back) => back,
            Err(e) => panic!("our own encoding of {headers:?} does not decode: {e}"),
        };
        assert_eq!(
            back.len(),
            headers.len(),
            "encode then decode changed the list"
        );
        for (b, h) in back.iter().zip(headers) {
            assert_eq!(
                (&b.name, &b.value),
                (&h.name, &h.value),
                "encode then decode changed a field"
            );
            assert!(
                b.sensitive || !h.sensitive,
                "a sensitive field lost its flag"
            );
        }
    }
}

fn huffman_round_trip(data: &[u8]) {
    let mut out = Vec::new();
    let _ = huffman::decode(data, &mut out);

    let mut encoded = Vec::new();
    huffman::encode(data, &mut encoded);
    assert_eq!(
        encoded.len(),
        huffman::encoded_len(data),
        "encoded_len is wrong"
    );
    let mut decoded = Vec::new();
    if let Err(e) = huffman::decode(&encoded, &mut decoded) {
        panic!("our own Huffman encoding does not decode: {e}");
    }
    assert_eq!(decoded, data, "Huffman round trip changed the octets");
}

// ----- server_conn and client_conn -----

/// Octets at the start of a connection target's input that steer the harness
/// rather than the peer: [`Knobs`] then a 3-octet seed for chunk sizes and clock
/// steps. The rest is what the peer sends.
pub const CONTROL_LEN: usize = 4;

/// An empty, valid SETTINGS frame: what a server sends first.
pub const EMPTY_SETTINGS: [u8; HEAD_LEN] = [0, 0, 0, 4, 0, 0, 0, 0, 0];

/// Harness options, from the first control octet.
#[derive(Debug, Clone, Copy)]
struct Knobs(u8);

impl Knobs {
    /// Small limits everywhere, so every bound is reachable.
    fn tight(self) -> bool {
        self.0 & 0x01 != 0
    }
    /// Clock steps may be long enough to fire timers.
    fn long_steps(self) -> bool {
        self.0 & 0x02 != 0
    }
    /// Now and then reset a stream instead of answering it.
    fn resets(self) -> bool {
        self.0 & 0x04 != 0
    }
    /// Start a graceful shutdown halfway through the input.
    fn shutdown(self) -> bool {
        self.0 & 0x08 != 0
    }
    /// Send a PING now and then.
    fn pings(self) -> bool {
        self.0 & 0x10 != 0
    }
}

fn config(knobs: Knobs) -> Config {
    if !knobs.tight() {
        return Config::default();
    }
    Config {
        header_table_size: 256,
        max_concurrent_streams: 3,
        initial_stream_window: 1024,
        connection_window: 65_535,
        max_header_list_size: 512,
        max_header_block_size: 1024,
        max_continuation_frames: 2,
        settings_timeout: Duration::from_secs(1),
        max_send_buffer_per_stream: 64,
        max_send_buffer_per_connection: 128,
        max_resets_per_window: 4,
        reset_window: Duration::from_secs(1),
        max_pending_control_frames: 8,
        max_empty_frames: 2,
        max_reset_streams_remembered: 4,
        ..Config::default()
    }
}

/// SplitMix64: a tiny deterministic generator for chunk sizes and clock steps.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: [u8; 3]) -> Self {
        let [a, b, c] = seed;
        Rng(u64::from_le_bytes([a, b, c, 0, 0, 0, 0, 0]))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// The next read size: single octets, a frame head's worth, small reads, or
    /// everything that is left.
    fn chunk_len(&mut self, left: usize) -> usize {
        let n = match self.below(4) {
            0 => 1,
            1 => 1 + self.below(9) as usize,
            2 => 1 + self.below(64) as usize,
            _ => left,
        };
        n.min(left)
    }

    fn step(&mut self, knobs: Knobs) -> Duration {
        if knobs.long_steps() && self.one_in(16) {
            Duration::from_secs(1 + self.below(40))
        } else {
            Duration::from_millis(self.below(50))
        }
    }
}

/// The harness half of a connection target: the connection, its virtual clock
/// and what the invariants need.
struct Driver {
    conn: Connection,
    rng: Rng,
    knobs: Knobs,
    now: Instant,
    /// The connection error, once there is one; it must be sticky.
    failed: Option<Error>,
    out: Vec<u8>,
    /// Streams we answered (server).
    answered: HashSet<StreamId>,
    /// Streams whose trailers we already queued.
    finished: HashSet<StreamId>,
}

impl Driver {
    /// Splits `data` into control octets and the rest; `None` if too short.
    fn new(role: Role, data: &[u8]) -> Option<(Self, &[u8])> {
        let (control, rest) = data.split_first_chunk::<CONTROL_LEN>()?;
        let [knobs, a, b, c] = *control;
        let knobs = Knobs(knobs);
        let now = Instant::now();
        let driver = Driver {
            conn: Connection::new(role, config(knobs), now),
            rng: Rng::new([a, b, c]),
            knobs,
            now,
            failed: None,
            out: Vec::new(),
            answered: HashSet::new(),
            finished: HashSet::new(),
        };
        Some((driver, rest))
    }

    /// Feeds `input` in chunks of varying size, with the clock moving between
    /// reads, and runs the application after each read.
    fn feed(&mut self, input: &[u8]) {
        let mut rest = input;
        while !rest.is_empty() {
            let n = self.rng.chunk_len(rest.len());
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            self.advance_clock();
            self.receive(chunk);
            self.run_application();
            self.transmit();
        }
    }

    fn advance_clock(&mut self) {
        self.now += self.rng.step(self.knobs);
        if self.conn.poll_timeout().is_some_and(|t| t <= self.now) {
            self.conn.handle_timeout(self.now);
            self.note_failure();
        }
    }

    fn receive(&mut self, chunk: &[u8]) {
        let result = self.conn.receive(self.now, chunk);
        match (&self.failed, result) {
            (Some(first), result) => assert_eq!(
                result.as_ref().err(),
                Some(first),
                "a failed connection must return its error on every receive"
            ),
            (None, Err(e)) => {
                assert!(
                    e.is_connection_error(),
                    "receive returned a stream error: {e}"
                );
                assert_eq!(
                    self.conn.error(),
                    Some(&e),
                    "error() disagrees with receive"
                );
                self.failed = Some(e);
            }
            (None, Ok(())) => {}
        }
    }

    fn note_failure(&mut self) {
        if self.failed.is_none() {
            self.failed = self.conn.error().cloned();
        }
    }

    /// Drains the events and acts on them as a small application would.
    fn run_application(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            match event {
                Event::Headers {
                    stream, end_stream, ..
                } => {
                    if self.conn.role() == Role::Server && self.answered.insert(stream) {
                        self.answer(stream);
                    }
                    if end_stream {
                        self.finish(stream);
                    }
                }
                Event::Data {
                    stream,
                    data,
                    end_stream,
                } => {
                    let n = u32::try_from(data.len()).expect("a frame fits in u32");
                    self.conn.release_capacity(stream, n);
                    if end_stream {
                        self.finish(stream);
                    }
                }
                Event::Writable { stream } => {
                    let _ = self.conn.send_data(stream, grpc_message(b"more"), false);
                }
                _ => {}
            }
        }
        if self.knobs.pings() && self.rng.one_in(8) {
            let _ = self.conn.ping(self.rng.next_u64().to_be_bytes());
        }
        if self.conn.role() == Role::Client && self.rng.one_in(8) {
            let _ = open_request(&mut self.conn, self.rng.one_in(2));
        }
    }

    /// Server: response headers and a message as soon as the request arrives.
    /// With the `resets` knob, now and then a reset instead, or a gRPC
    /// trailers-only response followed by RST_STREAM(NO_ERROR).
    fn answer(&mut self, stream: StreamId) {
        if self.knobs.resets() {
            match self.rng.below(4) {
                0 => {
                    let _ = self.conn.reset(stream, ErrorCode::CANCEL);
                    return;
                }
                1 => {
                    let mut headers = response_headers();
                    headers.push(Header::new("grpc-status", "12"));
                    let _ = self.conn.send_headers(stream, headers, true);
                    let _ = self.conn.reset_after_send(stream, ErrorCode::NO_ERROR);
                    self.finished.insert(stream);
                    return;
                }
                _ => {}
            }
        }
        let _ = self.conn.send_headers(stream, response_headers(), false);
        let (prefix, body) = grpc_message_parts(b"hello");
        let _ = self.conn.send_data_parts(stream, &[prefix, body], false);
    }

    /// The peer finished its side: a server sends its trailers.
    fn finish(&mut self, stream: StreamId) {
        if self.conn.role() == Role::Server
            && self.answered.contains(&stream)
            && self.finished.insert(stream)
        {
            let _ = self.conn.send_headers(stream, trailers(), true);
        }
    }

    /// Drains `poll_transmit` and checks that what it wrote is well-formed frames.
    fn transmit(&mut self) {
        self.out.clear();
        let mut calls = 0;
        while self.conn.poll_transmit(&mut self.out) > 0 {
            calls += 1;
            assert!(calls < 10_000, "poll_transmit never returns 0");
        }
        let mut wire = &self.out[..];
        if self.conn.role() == Role::Client {
            wire = wire.strip_prefix(&PREFACE[..]).unwrap_or(wire);
        }
        check_frames(wire);
        if self.failed.is_some() {
            assert!(self.conn.is_closed(), "failed and drained, but not closed");
            assert_eq!(
                self.conn.poll_timeout(),
                None,
                "a failed connection has a timer"
            );
        }
    }

    /// Feeds the peer's octets, starting a graceful shutdown halfway through
    /// when the knob says so, then lets time pass and checks the sticky error
    /// one last time.
    fn run(&mut self, input: &[u8]) {
        let (first, second) = input.split_at(input.len() / 2);
        self.feed(first);
        if self.knobs.shutdown() {
            let _ = self.conn.shutdown();
            self.transmit();
        }
        self.feed(second);
        self.now += Duration::from_secs(60);
        if self.conn.poll_timeout().is_some_and(|t| t <= self.now) {
            self.conn.handle_timeout(self.now);
            self.note_failure();
        }
        self.transmit();
        self.receive(&[]);
        if let Some(first) = &self.failed {
            assert_eq!(
                self.conn.receive(self.now, &EMPTY_SETTINGS).as_ref().err(),
                Some(first),
                "a failed connection accepted more input"
            );
        }
    }
}

/// Asserts that `wire` is a sequence of complete frames that all decode.
fn check_frames(mut wire: &[u8]) {
    while !wire.is_empty() {
        let (head_bytes, rest) = wire
            .split_first_chunk::<HEAD_LEN>()
            .expect("transmitted a partial frame head");
        let head = Head::parse(head_bytes);
        let len = head.length as usize;
        assert!(rest.len() >= len, "transmitted a partial frame: {head:?}");
        let (payload, rest) = rest.split_at(len);
        if let Err(e) = Frame::decode(head, Bytes::copy_from_slice(payload)) {
            panic!("transmitted a frame that does not decode: {head:?}: {e}");
        }
        wire = rest;
    }
}

/// A gRPC length-prefixed message, uncompressed.
fn grpc_message(body: &[u8]) -> Bytes {
    let (prefix, body) = grpc_message_parts(body);
    [prefix, body].concat().into()
}

/// A gRPC message as its 5-octet prefix and its body.
fn grpc_message_parts(body: &[u8]) -> (Bytes, Bytes) {
    let mut prefix = vec![0];
    prefix.extend_from_slice(&u32::try_from(body.len()).unwrap_or(0).to_be_bytes());
    (prefix.into(), Bytes::copy_from_slice(body))
}

/// A typical gRPC unary request's headers.
pub fn request_headers() -> Vec<Header> {
    vec![
        Header::new(":method", "POST"),
        Header::new(":scheme", "http"),
        Header::new(":path", "/helloworld.Greeter/SayHello"),
        Header::new(":authority", "localhost:50051"),
        Header::new("content-type", "application/grpc"),
        Header::new("te", "trailers"),
        Header::new("user-agent", "grpc-rust/0.1"),
        Header::new("grpc-timeout", "1S"),
        Header::new("grpc-accept-encoding", "identity,deflate,gzip"),
    ]
}

/// A typical gRPC response's headers.
pub fn response_headers() -> Vec<Header> {
    vec![
        Header::new(":status", "200"),
        Header::new("content-type", "application/grpc"),
        Header::new("grpc-accept-encoding", "identity,deflate,gzip"),
    ]
}

/// Typical gRPC trailers.
pub fn trailers() -> Vec<Header> {
    vec![
        Header::new("grpc-status", "0"),
        Header::new("grpc-message", ""),
    ]
}

/// Client: opens a request, with a message and END_STREAM unless `headers_only`.
fn open_request(conn: &mut Connection, headers_only: bool) -> Option<StreamId> {
    let stream = conn.open_stream(request_headers(), headers_only).ok()?;
    if !headers_only {
        let _ = conn.send_data(stream, grpc_message(b"world"), true);
    }
    Some(stream)
}

/// Input: [`CONTROL_LEN`] control octets, then whatever a client sends after
/// its preface (the harness sends the preface itself).
///
/// The server answers each request with headers and a message, and with
/// trailers once the request ends. Asserts no panic; that after an error every
/// later `receive` returns that same error and the connection reports closed;
/// that `poll_transmit` settles; and that everything transmitted is well-formed
/// frames.
pub fn server_conn(data: &[u8]) {
    let Some((mut driver, input)) = Driver::new(Role::Server, data) else {
        return;
    };
    driver.transmit();
    driver.feed(PREFACE);
    driver.run(input);
}

/// Input: [`CONTROL_LEN`] control octets, then whatever a server sends after
/// its first SETTINGS (the harness sends an empty SETTINGS itself).
///
/// The client has opened two streams (one with a message, one headers-only)
/// before anything arrives, and opens more now and then. Same assertions as
/// [`server_conn`].
pub fn client_conn(data: &[u8]) {
    let Some((mut driver, input)) = Driver::new(Role::Client, data) else {
        return;
    };
    for headers_only in [false, true] {
        let opened = open_request(&mut driver.conn, headers_only);
        assert!(opened.is_some(), "a new client cannot open a stream");
    }
    driver.transmit();
    driver.feed(&EMPTY_SETTINGS);
    driver.run(input);
}
