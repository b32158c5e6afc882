//! HTTP/2 framing and a whole unary call through two connections.
//!
//! `cargo bench -p benches --bench frames`:
//! - `frame_decode/*` and `frame_encode/*`: one frame, head parse included;
//!   decoding is zero-copy (the payload is sliced, not copied), so the 16 KiB
//!   DATA frame costs what a small one does, and has no throughput figure.
//! - `round_trip/unary`: a client and a server `Connection` in memory, bytes
//!   moved by hand; one iteration is a whole gRPC unary call (request headers
//!   and message, response headers, message and trailers, the WINDOW_UPDATEs
//!   they cause), every octet produced and parsed.

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use grpc_sansio::h2::frame::{self, Frame, Head, HEAD_LEN};
use grpc_sansio::h2::{Config, Connection, Event, Role, StreamId};
use grpc_sansio::hpack::{Encoder, Header};

fn request() -> Vec<Header> {
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

fn response() -> Vec<Header> {
    vec![
        Header::new(":status", "200"),
        Header::new("content-type", "application/grpc"),
    ]
}

fn trailers() -> Vec<Header> {
    vec![Header::new("grpc-status", "0")]
}

/// A gRPC message: the 5-octet prefix and `len` octets of body.
fn grpc_message(len: usize) -> Bytes {
    let mut msg = vec![0];
    msg.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
    msg.resize(5 + len, 0x2a);
    msg.into()
}

/// Splits an encoded frame into its parsed head and its payload.
fn split(wire: &[u8]) -> ([u8; HEAD_LEN], Bytes) {
    let (head, payload) = wire.split_first_chunk::<HEAD_LEN>().unwrap();
    (*head, Bytes::copy_from_slice(payload))
}

fn frames(c: &mut Criterion) {
    let data = Frame::from(frame::Data::new(
        StreamId::new(1),
        Bytes::from(vec![0x2a; 16 << 10]),
        false,
    ));
    let mut block = Vec::new();
    Encoder::new().encode(&request(), &mut block);
    let headers = Frame::from(frame::Headers::new(
        StreamId::new(1),
        block.into(),
        false,
        true,
    ));

    let mut decode = c.benchmark_group("frame_decode");
    for (name, frame) in [("data_16k", &data), ("headers", &headers)] {
        let mut wire = Vec::new();
        frame.encode(&mut wire);
        let (head, payload) = split(&wire);
        assert_eq!(
            &Frame::decode(Head::parse(&head), payload.clone()).unwrap(),
            frame
        );
        decode.bench_function(name, |b| {
            b.iter(|| Frame::decode(Head::parse(black_box(&head)), payload.clone()).unwrap())
        });
    }
    decode.finish();

    let mut encode = c.benchmark_group("frame_encode");
    for (name, frame) in [("data_16k", &data), ("headers", &headers)] {
        let mut dst = Vec::with_capacity(17 << 10);
        encode.throughput(Throughput::Bytes(frame_len(frame) as u64));
        encode.bench_function(name, |b| {
            b.iter(|| {
                dst.clear();
                black_box(frame).encode(&mut dst);
            })
        });
    }
    encode.finish();
}

fn frame_len(frame: &Frame) -> usize {
    let mut wire = Vec::new();
    frame.encode(&mut wire);
    wire.len()
}

/// A client and a server connected in memory, past the SETTINGS exchange.
struct Pair {
    client: Connection,
    server: Connection,
    now: Instant,
    buf: Vec<u8>,
    message: Bytes,
}

impl Pair {
    fn new(message_len: usize) -> Self {
        let now = Instant::now();
        let mut pair = Pair {
            client: Connection::new(Role::Client, Config::default(), now),
            server: Connection::new(Role::Server, Config::default(), now),
            now,
            buf: Vec::with_capacity(64 << 10),
            message: grpc_message(message_len),
        };
        // Preface and SETTINGS both ways, then the ACKs.
        for _ in 0..2 {
            pair.client_to_server();
            pair.server_to_client();
        }
        while pair.server.poll_event().is_some() {}
        while pair.client.poll_event().is_some() {}
        pair
    }

    fn client_to_server(&mut self) {
        self.buf.clear();
        while self.client.poll_transmit(&mut self.buf) > 0 {}
        if !self.buf.is_empty() {
            self.server.receive(self.now, &self.buf).unwrap();
        }
    }

    fn server_to_client(&mut self) {
        self.buf.clear();
        while self.server.poll_transmit(&mut self.buf) > 0 {}
        if !self.buf.is_empty() {
            self.client.receive(self.now, &self.buf).unwrap();
        }
    }

    /// One unary call; returns the response message length as a check.
    fn unary(&mut self) -> usize {
        let id = self.client.open_stream(request(), false).unwrap();
        self.client
            .send_data(id, self.message.clone(), true)
            .unwrap();
        self.client_to_server();
        while let Some(event) = self.server.poll_event() {
            match event {
                Event::Headers { stream, .. } => {
                    self.server.send_headers(stream, response(), false).unwrap();
                }
                Event::Data {
                    stream,
                    data,
                    end_stream,
                } => {
                    self.server
                        .release_capacity(stream, u32::try_from(data.len()).unwrap());
                    if end_stream {
                        self.server
                            .send_data(stream, self.message.clone(), false)
                            .unwrap();
                        self.server.send_headers(stream, trailers(), true).unwrap();
                    }
                }
                _ => {}
            }
        }
        self.server_to_client();
        let mut received = 0;
        let mut done = false;
        while let Some(event) = self.client.poll_event() {
            match event {
                Event::Data { stream, data, .. } => {
                    received += data.len();
                    self.client
                        .release_capacity(stream, u32::try_from(data.len()).unwrap());
                }
                Event::Headers { end_stream, .. } => done |= end_stream,
                _ => {}
            }
        }
        assert!(done, "the call did not finish in one round trip");
        // Window updates the releases caused.
        self.client_to_server();
        received
    }
}

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    for (name, len) in [("unary_16b", 16), ("unary_16k", 16 << 10)] {
        let mut pair = Pair::new(len);
        assert_eq!(pair.unary(), len + 5);
        assert_eq!(pair.client.active_streams(), 0);
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| b.iter(|| pair.unary()));
        assert_eq!(pair.client.active_streams(), 0, "streams leak");
        assert_eq!(pair.server.active_streams(), 0, "streams leak");
    }
    group.finish();
}

criterion_group!(benches, frames, round_trip);
criterion_main!(benches);
