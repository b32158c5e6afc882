//! Message compression: gzip and deflate each way, the per-message choice,
//! unsupported encodings, the compressed flag without `grpc-encoding`, corrupt
//! data, and decompression bombs on the client side (the server side has its
//! own test binary, `grpc_bomb.rs`, to measure memory alone).

use bytes::Bytes;
use grpc_sansio::grpc::compression::{self, Encoding, EncodingSet};
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallError, CallOptions, Config, Event};
use grpc_sansio::h2::{self, StreamId};
use grpc_sansio::hpack::Header;
use grpc_sansio::testing::{
    self, assert_lifecycle, cancelled, finished, frame_message, header_value, messages, pattern,
    GrpcPair, RawClientPair, RawServerPair, Side,
};

/// A message that compresses well.
fn compressible(len: usize) -> Bytes {
    b"the quick brown fox jumps over the lazy dog. "
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect::<Vec<_>>()
        .into()
}

fn compressed(encoding: Encoding, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    compression::compress(encoding, data, &mut out).unwrap();
    out
}

/// The (compressed flag, body) of each length-prefixed message in a DATA stream.
fn split_messages(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let len = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
        out.push((body[0], body[5..5 + len].to_vec()));
        body = &body[5 + len..];
    }
    out
}

fn data_of(events: &[h2::Event], stream: StreamId) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        if let h2::Event::Data {
            stream: s, data, ..
        } = e
        {
            if *s == stream {
                out.extend_from_slice(data);
            }
        }
    }
    out
}

fn header_blocks(events: &[h2::Event], stream: StreamId) -> Vec<(Vec<Header>, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            h2::Event::Headers {
                stream: s,
                headers,
                end_stream,
            } if *s == stream => Some((headers.clone(), *end_stream)),
            _ => None,
        })
        .collect()
}

/// Client → server with each encoding: the request names it, the octets on
/// the wire are far fewer than the message, the server gets the message back.
#[test]
fn client_compresses_requests() {
    for encoding in [Encoding::Gzip, Encoding::Deflate] {
        let mut pair = GrpcPair::new();
        pair.drive();
        let message = compressible(200_000);
        let before = pair.written(Side::Client);
        let call = pair.start_call(CallOptions {
            encoding: Some(encoding),
            ..CallOptions::new("/grpc.testing.TestService/UnaryCall")
        });
        pair.client().send_message(call, message.clone()).unwrap();
        pair.client().close_send(call).unwrap();
        pair.drive();
        let sent = pair.written(Side::Client) - before;
        assert!(sent < 20_000, "{encoding:?}: {sent} octets for 200,000");
        let (scall, request) = pair.accept().unwrap();
        assert_eq!(request.encoding, encoding);
        let events = pair.server_events();
        assert_eq!(messages(&events, scall), std::slice::from_ref(&message));
        pair.respond(scall, std::slice::from_ref(&message), &Status::ok());
        pair.drive();
        let events = pair.client_events();
        assert_eq!(messages(&events, call), [message]);
        assert_eq!(finished(&events, call).unwrap().0.code(), Code::Ok);
    }
}

/// Server → client with each encoding (interop `server_compressed_unary` and
/// `server_compressed_streaming`): the server compresses because the client
/// accepts it, and the client decompresses.
#[test]
fn server_compresses_responses() {
    for encoding in [Encoding::Gzip, Encoding::Deflate] {
        let mut server = Config::server();
        server.send_encoding = encoding;
        let mut pair = GrpcPair::with_configs(Config::client(), server);
        pair.drive();
        let call = pair.start_unary(
            "/grpc.testing.TestService/StreamingOutputCall",
            Bytes::new(),
        );
        pair.drive();
        let (scall, _) = pair.accept().unwrap();
        pair.server_events();
        let before = pair.written(Side::Server);
        let replies = [compressible(100_000), compressible(31_415), Bytes::new()];
        pair.respond(scall, &replies, &Status::ok());
        pair.drive();
        let sent = pair.written(Side::Server) - before;
        assert!(sent < 20_000, "{encoding:?}: {sent} octets for 131,415");
        let events = pair.client_events();
        assert_eq!(messages(&events, call), replies);
        assert_eq!(finished(&events, call).unwrap().0.code(), Code::Ok);
    }
}

/// A server configured to compress answers a client that does not accept the
/// encoding uncompressed.
#[test]
fn server_falls_back_to_identity_for_a_client_that_cannot_decompress() {
    let mut client = Config::client();
    client.accept_encodings = EncodingSet::from(Encoding::Identity);
    let mut server = Config::server();
    server.send_encoding = Encoding::Gzip;
    let mut pair = RawServerPair::raw_server(client, h2::Config::default());
    let call = pair.start_unary("/pkg.Svc/M", Bytes::new());
    pair.drive();
    let events = pair.server_events();
    let (fields, _) = &header_blocks(&events, call.stream_id())[0];
    assert_eq!(
        header_value(fields, "grpc-accept-encoding"),
        Some(&b"identity"[..])
    );

    // The same against a gRPC server.
    let mut pair = GrpcPair::with_configs(
        {
            let mut c = Config::client();
            c.accept_encodings = EncodingSet::from(Encoding::Identity);
            c
        },
        server,
    );
    let call = pair.start_unary("/pkg.Svc/M", Bytes::new());
    pair.drive();
    let (scall, request) = pair.accept().unwrap();
    assert!(!request.accept_encodings.contains(Encoding::Gzip));
    assert_eq!(
        pair.server().set_send_encoding(scall, Encoding::Gzip),
        Err(CallError::EncodingNotAccepted(Encoding::Gzip))
    );
    let message = compressible(10_000);
    pair.respond(scall, std::slice::from_ref(&message), &Status::ok());
    pair.drive();
    let events = pair.client_events();
    assert_eq!(messages(&events, call), [message]);
}

/// Per-message choice inside a compressed call (interop
/// `client_compressed_streaming` sizes): `send_message_with(.., false)` goes
/// out with flag 0, the others with flag 1, and both arrive intact. Checked on
/// the wire with a raw server, then end to end.
#[test]
fn per_message_compression_client_side() {
    let first = compressible(27_182);
    let second = compressible(45_904);
    let mut pair = RawServerPair::raw_server(Config::client(), h2::Config::default());
    let call = pair.start_call(CallOptions {
        encoding: Some(Encoding::Gzip),
        ..CallOptions::new("/grpc.testing.TestService/StreamingInputCall")
    });
    pair.client()
        .send_message_with(call, first.clone(), false)
        .unwrap();
    pair.client().send_message(call, second.clone()).unwrap();
    pair.client().close_send(call).unwrap();
    pair.drive();
    let events = pair.server_events();
    let (fields, _) = &header_blocks(&events, call.stream_id())[0];
    assert_eq!(header_value(fields, "grpc-encoding"), Some(&b"gzip"[..]));
    let wire = split_messages(&data_of(&events, call.stream_id()));
    assert_eq!(wire.len(), 2);
    assert_eq!(wire[0], (0, first.to_vec()));
    assert_eq!(wire[1].0, 1);
    assert_eq!(
        compression::decompress(Encoding::Gzip, &wire[1].1, 1 << 20).unwrap(),
        second.to_vec()
    );

    let mut pair = GrpcPair::new();
    let call = pair.start_call(CallOptions {
        encoding: Some(Encoding::Gzip),
        ..CallOptions::new("/grpc.testing.TestService/StreamingInputCall")
    });
    pair.client()
        .send_message_with(call, first.clone(), false)
        .unwrap();
    pair.client().send_message(call, second.clone()).unwrap();
    pair.client().close_send(call).unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    let events = pair.server_events();
    let got = messages(&events, scall);
    assert_eq!(got, [first, second]);
    let total: usize = got.iter().map(Bytes::len).sum();
    assert_eq!(total, 73_086);
    // The receiver learns how each message travelled.
    let flags: Vec<bool> = events
        .iter()
        .filter_map(|e| match e {
            Event::Message { compressed, .. } => Some(*compressed),
            _ => None,
        })
        .collect();
    assert_eq!(flags, [false, true]);
}

/// The same on the server side: mixed flags on the wire, intact messages.
#[test]
fn per_message_compression_server_side() {
    let mut server = Config::server();
    server.send_encoding = Encoding::Deflate;
    let mut pair = RawClientPair::raw_client(h2::Config::default(), server);
    pair.drive();
    let mut request = testing::grpc_request("/pkg.Svc/M", "localhost");
    request.push(Header::new("grpc-accept-encoding", "deflate"));
    let id = pair.client().open_stream(request, true).unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    let plain = compressible(5_000);
    let packed = compressible(6_000);
    pair.server()
        .send_message_with(scall, plain.clone(), false)
        .unwrap();
    pair.server().send_message(scall, packed.clone()).unwrap();
    pair.server()
        .finish(scall, &Status::ok(), &Metadata::new())
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    let blocks = header_blocks(&events, id);
    assert_eq!(
        header_value(&blocks[0].0, "grpc-encoding"),
        Some(&b"deflate"[..])
    );
    let wire = split_messages(&data_of(&events, id));
    assert_eq!(wire[0], (0, plain.to_vec()));
    assert_eq!(wire[1].0, 1);
    assert_eq!(
        compression::decompress(Encoding::Deflate, &wire[1].1, 1 << 20).unwrap(),
        packed.to_vec()
    );
}

/// A request encoding the server does not support: UNIMPLEMENTED in
/// Trailers-Only, with `grpc-accept-encoding` listing what it accepts. Once
/// from a raw client with an unknown name, once from a gRPC client whose gzip
/// the server has switched off.
#[test]
fn unsupported_request_encoding_is_unimplemented() {
    let mut pair = RawClientPair::raw_client(h2::Config::default(), Config::server());
    pair.drive();
    let mut request = testing::grpc_request("/pkg.Svc/M", "localhost");
    request.push(Header::new("grpc-encoding", "snappy"));
    let id = pair.client().open_stream(request, false).unwrap();
    pair.client()
        .send_data(id, frame_message(true, b"??"), true)
        .unwrap();
    pair.drive();
    assert!(pair.accept().is_none());
    let events = pair.client_events();
    let blocks = header_blocks(&events, id);
    assert_eq!(blocks.len(), 1, "{events:?}");
    let (fields, end) = &blocks[0];
    assert!(end);
    assert_eq!(header_value(fields, ":status"), Some(&b"200"[..]));
    assert_eq!(header_value(fields, "grpc-status"), Some(&b"12"[..]));
    let accepted = EncodingSet::parse(header_value(fields, "grpc-accept-encoding").unwrap());
    assert_eq!(accepted, EncodingSet::all());

    let mut server = Config::server();
    server.accept_encodings.remove(Encoding::Gzip);
    let mut pair = GrpcPair::with_configs(Config::client(), server);
    let call = pair.start_call(CallOptions {
        encoding: Some(Encoding::Gzip),
        ..CallOptions::new("/pkg.Svc/M")
    });
    pair.client()
        .send_message(call, compressible(1000))
        .unwrap();
    pair.client().close_send(call).unwrap();
    pair.drive();
    assert!(pair.accept().is_none());
    let events = pair.client_events();
    assert_eq!(events.len(), 1, "{events:?}");
    let (status, _) = finished(&events, call).unwrap();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(status.message().contains("deflate"), "{status:?}");
    assert!(
        !status.message().contains("identity,deflate,gzip"),
        "{status:?}"
    );
}

/// A message with the compressed flag in a call without `grpc-encoding` (or
/// with `grpc-encoding: identity`) is INTERNAL: on the server (answered in
/// Trailers-Only) and on the client.
#[test]
fn compressed_flag_without_encoding_is_internal() {
    for encoding_header in [None, Some("identity")] {
        let mut pair = RawClientPair::raw_client(h2::Config::default(), Config::server());
        pair.drive();
        let mut request = testing::grpc_request("/pkg.Svc/M", "localhost");
        if let Some(name) = encoding_header {
            request.push(Header::new("grpc-encoding", name));
        }
        let id = pair.client().open_stream(request, false).unwrap();
        let body = compressed(Encoding::Gzip, b"hello");
        pair.client()
            .send_data(id, frame_message(true, &body), true)
            .unwrap();
        pair.drive();
        let (scall, _) = pair.accept().unwrap();
        let server = pair.server_events();
        assert_lifecycle(&server);
        assert!(messages(&server, scall).is_empty());
        assert_eq!(cancelled(&server, scall).unwrap().code(), Code::Internal);
        let events = pair.client_events();
        let blocks = header_blocks(&events, id);
        assert_eq!(blocks.len(), 1, "{events:?}");
        assert_eq!(header_value(&blocks[0].0, "grpc-status"), Some(&b"13"[..]));
    }

    let mut pair = RawServerPair::raw_server(Config::client(), h2::Config::default());
    let call = pair.start_unary("/pkg.Svc/M", Bytes::new());
    pair.drive();
    let s = call.stream_id();
    pair.server()
        .send_headers(s, testing::grpc_response(), false)
        .unwrap();
    pair.server()
        .send_data(
            s,
            frame_message(true, &compressed(Encoding::Gzip, b"hi")),
            false,
        )
        .unwrap();
    pair.server()
        .send_headers(s, vec![Header::new("grpc-status", "0")], true)
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    assert_lifecycle(&events);
    assert!(messages(&events, call).is_empty());
    assert_eq!(finished(&events, call).unwrap().0.code(), Code::Internal);
}

/// A response naming an encoding the client does not know is INTERNAL on the
/// client; corrupt compressed data is INTERNAL on either side.
#[test]
fn unknown_response_encoding_and_corrupt_data() {
    let mut pair = RawServerPair::raw_server(Config::client(), h2::Config::default());
    let call = pair.start_unary("/pkg.Svc/M", Bytes::new());
    pair.drive();
    let mut response = testing::grpc_response();
    response.push(Header::new("grpc-encoding", "br"));
    pair.server()
        .send_headers(call.stream_id(), response, false)
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    assert_eq!(finished(&events, call).unwrap().0.code(), Code::Internal);

    // Corrupt gzip to the client.
    let call = pair.start_unary("/pkg.Svc/M", Bytes::new());
    pair.drive();
    let s = call.stream_id();
    let mut response = testing::grpc_response();
    response.push(Header::new("grpc-encoding", "gzip"));
    pair.server().send_headers(s, response, false).unwrap();
    let mut bad = compressed(Encoding::Gzip, &compressible(1000));
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    bad.truncate(bad.len() - 3);
    pair.server()
        .send_data(s, frame_message(true, &bad), false)
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    assert_eq!(finished(&events, call).unwrap().0.code(), Code::Internal);

    // Corrupt deflate to the server.
    let mut pair = RawClientPair::raw_client(h2::Config::default(), Config::server());
    pair.drive();
    let mut request = testing::grpc_request("/pkg.Svc/M", "localhost");
    request.push(Header::new("grpc-encoding", "deflate"));
    let id = pair.client().open_stream(request, false).unwrap();
    pair.client()
        .send_data(id, frame_message(true, b"\x78\x9c garbage"), true)
        .unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    assert_eq!(
        cancelled(&pair.server_events(), scall).unwrap().code(),
        Code::Internal
    );
    let events = pair.client_events();
    assert_eq!(
        header_value(&header_blocks(&events, id)[0].0, "grpc-status"),
        Some(&b"13"[..])
    );
}

/// A decompression bomb sent to the client: 64 MiB of zeros gzip-compressed
/// to a few dozen KiB ends the call with RESOURCE_EXHAUSTED (the limit counts
/// decompressed octets).
#[test]
fn gzip_bomb_to_the_client_is_resource_exhausted() {
    let member = compressed(Encoding::Gzip, &vec![0; 1 << 20]);
    // Concatenated gzip members decompress to the concatenation.
    let bomb: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * 64)
        .collect();
    assert!(bomb.len() < 128 << 10);
    let mut pair = RawServerPair::raw_server(Config::client(), h2::Config::default());
    let call = pair.start_unary("/pkg.Svc/M", Bytes::new());
    pair.drive();
    let s = call.stream_id();
    let mut response = testing::grpc_response();
    response.push(Header::new("grpc-encoding", "gzip"));
    pair.server().send_headers(s, response, false).unwrap();
    pair.server()
        .send_data(s, frame_message(true, &bomb), false)
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    assert_lifecycle(&events);
    assert!(messages(&events, call).is_empty());
    assert_eq!(
        finished(&events, call).unwrap().0.code(),
        Code::ResourceExhausted
    );
}

/// A compressed message whose decompressed size exceeds the limit is
/// RESOURCE_EXHAUSTED even though its wire size is tiny; one at the limit
/// passes.
#[test]
fn limit_counts_decompressed_octets() {
    let mut server = Config::server();
    server.max_recv_message_size = 10_000;
    let mut pair = GrpcPair::with_configs(Config::client(), server);
    let ok = pair.start_call(CallOptions {
        encoding: Some(Encoding::Gzip),
        ..CallOptions::new("/pkg.Svc/M")
    });
    pair.client()
        .send_message(ok, compressible(10_000))
        .unwrap();
    pair.client().close_send(ok).unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    assert_eq!(
        messages(&pair.server_events(), scall),
        [compressible(10_000)]
    );
    pair.respond(scall, &[], &Status::ok());
    pair.drive();
    assert_eq!(
        finished(&pair.client_events(), ok).unwrap().0.code(),
        Code::Ok
    );

    let big = pair.start_call(CallOptions {
        encoding: Some(Encoding::Gzip),
        ..CallOptions::new("/pkg.Svc/M")
    });
    pair.client()
        .send_message(big, compressible(10_001))
        .unwrap();
    pair.client().close_send(big).unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    let server = pair.server_events();
    assert!(messages(&server, scall).is_empty());
    assert_eq!(
        cancelled(&server, scall).unwrap().code(),
        Code::ResourceExhausted
    );
    assert_eq!(
        finished(&pair.client_events(), big).unwrap().0.code(),
        Code::ResourceExhausted
    );
}

/// A client call may only compress with the encoding its request named.
#[test]
fn client_cannot_switch_encoding_after_start() {
    let mut pair = GrpcPair::new();
    let call = pair.start_call(CallOptions::new("/pkg.Svc/M"));
    assert_eq!(
        pair.client().set_send_encoding(call, Encoding::Gzip),
        Err(CallError::HeadersAlreadySent(call))
    );
    assert_eq!(
        pair.client().set_send_encoding(call, Encoding::Identity),
        Ok(())
    );
    // A compressed call may still send a message uncompressed.
    let gz = pair.start_call(CallOptions {
        encoding: Some(Encoding::Gzip),
        ..CallOptions::new("/pkg.Svc/M")
    });
    pair.client()
        .send_message_with(gz, pattern(100, 1), false)
        .unwrap();
    pair.client().close_send(gz).unwrap();
    pair.client().close_send(call).unwrap();
    pair.drive();
    let started: Vec<_> = std::iter::from_fn(|| pair.accept()).collect();
    assert_eq!(started.len(), 2);
    let events = pair.server_events();
    assert!(events.iter().all(|e| !matches!(e, Event::Cancelled { .. })));
}
