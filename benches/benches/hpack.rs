//! HPACK: decoding and encoding the header blocks of a typical gRPC unary call
//! (request headers, response headers, trailers), with a cold dynamic table
//! (the connection's first call: literals) and a warm one (every later call:
//! mostly indexed fields), side by side with the `hpack` crate.
//!
//! `cargo bench -p benches --bench hpack`. Each figure is the time for one
//! whole header block. `*_raw` blocks are encoded without Huffman coding: the
//! `hpack` crate builds its Huffman decoding tree anew for every Huffman-coded
//! string, so blocks with such strings mostly measure that.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use grpc_sansio::hpack::{Decoder, Encoder, Header, HuffmanPolicy, DEFAULT_TABLE_SIZE};

/// A typical gRPC unary request (what tonic and grpc-go send).
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

/// A typical gRPC response's headers.
fn response() -> Vec<Header> {
    vec![
        Header::new(":status", "200"),
        Header::new("content-type", "application/grpc"),
        Header::new("grpc-accept-encoding", "identity,deflate,gzip"),
    ]
}

/// Typical gRPC trailers of a successful call.
fn trailers() -> Vec<Header> {
    vec![
        Header::new("grpc-status", "0"),
        Header::new("grpc-message", ""),
    ]
}

/// One kind of block as our encoder writes it on a connection's first call
/// (`cold`) and on the next (`warm`).
struct Blocks {
    name: String,
    headers: Vec<Header>,
    huffman: HuffmanPolicy,
    cold: Bytes,
    warm: Bytes,
}

impl Blocks {
    fn new(name: &str, headers: Vec<Header>, huffman: HuffmanPolicy) -> Self {
        let mut encoder = Encoder::new();
        encoder.set_huffman_policy(huffman);
        let name = match huffman {
            HuffmanPolicy::Never => format!("{name}_raw"),
            _ => name.to_owned(),
        };
        let mut cold = Vec::new();
        encoder.encode(&headers, &mut cold);
        let mut warm = Vec::new();
        encoder.encode(&headers, &mut warm);
        let blocks = Blocks {
            name,
            headers,
            huffman,
            cold: cold.into(),
            warm: warm.into(),
        };
        blocks.check();
        blocks
    }

    /// Both decoders agree with the list encoded, so both sides of the
    /// comparison do the same work.
    fn check(&self) {
        let mut ours = Decoder::new(DEFAULT_TABLE_SIZE);
        let mut theirs = hpack::Decoder::new();
        for block in [&self.cold, &self.warm] {
            assert_eq!(ours.decode_to_vec(block).unwrap(), self.headers);
            let pairs = theirs.decode(block).unwrap();
            assert_eq!(pairs, as_pairs(&self.headers));
        }
    }

    fn encoder(&self) -> Encoder {
        let mut encoder = Encoder::new();
        encoder.set_huffman_policy(self.huffman);
        encoder
    }

    /// A decoder whose table holds what the cold block added.
    fn warm_decoder(&self) -> Decoder {
        let mut decoder = Decoder::new(DEFAULT_TABLE_SIZE);
        decoder.decode_to_vec(&self.cold).unwrap();
        decoder
    }

    fn warm_hpack_decoder(&self) -> hpack::Decoder<'static> {
        let mut decoder = hpack::Decoder::new();
        decoder.decode(&self.cold).unwrap();
        decoder
    }
}

fn as_pairs(headers: &[Header]) -> Vec<(Vec<u8>, Vec<u8>)> {
    headers
        .iter()
        .map(|h| (h.name.to_vec(), h.value.to_vec()))
        .collect()
}

/// Each block with our default Huffman policy, then without Huffman coding.
fn all_blocks() -> Vec<Blocks> {
    [HuffmanPolicy::WhenShorter, HuffmanPolicy::Never]
        .into_iter()
        .flat_map(|huffman| {
            [
                Blocks::new("request", request(), huffman),
                Blocks::new("response", response(), huffman),
                Blocks::new("trailers", trailers(), huffman),
            ]
        })
        .collect()
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("hpack_decode");
    for blocks in all_blocks() {
        let name = &blocks.name;
        group.bench_function(format!("{name}_cold/grpc-sansio"), |b| {
            b.iter_batched_ref(
                || Decoder::new(DEFAULT_TABLE_SIZE),
                |decoder| decoder.decode_to_vec(black_box(&blocks.cold)).unwrap(),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("{name}_cold/hpack"), |b| {
            b.iter_batched_ref(
                hpack::Decoder::new,
                |decoder| decoder.decode(black_box(&blocks.cold)).unwrap(),
                BatchSize::SmallInput,
            )
        });
        // The warm block adds nothing to the table, so decoding it again and
        // again leaves the decoder as it was.
        let mut decoder = blocks.warm_decoder();
        group.bench_function(format!("{name}_warm/grpc-sansio"), |b| {
            b.iter(|| decoder.decode_to_vec(black_box(&blocks.warm)).unwrap())
        });
        let mut decoder = blocks.warm_hpack_decoder();
        group.bench_function(format!("{name}_warm/hpack"), |b| {
            b.iter(|| decoder.decode(black_box(&blocks.warm)).unwrap())
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("hpack_encode");
    for blocks in all_blocks() {
        let name = &blocks.name;
        let headers = &blocks.headers;
        let pairs = as_pairs(headers);
        let pairs: Vec<(&[u8], &[u8])> = pairs
            .iter()
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
            .collect();

        group.bench_function(format!("{name}_cold/grpc-sansio"), |b| {
            b.iter_batched_ref(
                || (blocks.encoder(), Vec::with_capacity(256)),
                |(encoder, dst)| encoder.encode(black_box(headers), dst),
                BatchSize::SmallInput,
            )
        });
        let mut encoder = blocks.encoder();
        let mut dst = Vec::with_capacity(256);
        encoder.encode(headers, &mut dst);
        group.bench_function(format!("{name}_warm/grpc-sansio"), |b| {
            b.iter(|| {
                dst.clear();
                encoder.encode(black_box(headers), &mut dst);
            })
        });

        // The `hpack` crate never Huffman-codes: one comparison is enough.
        if blocks.huffman == HuffmanPolicy::Never {
            continue;
        }
        group.bench_function(format!("{name}_cold/hpack"), |b| {
            b.iter_batched_ref(
                hpack::Encoder::new,
                |encoder| encoder.encode(black_box(pairs.iter().copied())),
                BatchSize::SmallInput,
            )
        });
        let mut encoder = hpack::Encoder::new();
        encoder.encode(pairs.iter().copied());
        group.bench_function(format!("{name}_warm/hpack"), |b| {
            b.iter(|| encoder.encode(black_box(pairs.iter().copied())))
        });
    }
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
