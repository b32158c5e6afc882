//! Custom metadata end to end: text and `-bin` values in request metadata,
//! response initial metadata and trailers (interop `custom_metadata`), and the
//! protocol's own fields never showing up as user metadata.

use bytes::Bytes;
use grpc_sansio::grpc::metadata::{Metadata, MetadataError, MetadataValue};
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallError, CallOptions};
use grpc_sansio::h2;
use grpc_sansio::hpack::Header;
use grpc_sansio::testing::{self, finished, headers, messages, GrpcPair, RawClientPair};

/// Every octet value, in an order that is not sorted.
fn all_octets() -> Bytes {
    (0..=255u8)
        .map(|b| b.wrapping_mul(151))
        .collect::<Vec<_>>()
        .into()
}

/// Keys the library itself writes; none of them may appear as user metadata.
const PROTOCOL_FIELDS: &[&str] = &[
    ":method",
    ":scheme",
    ":path",
    ":authority",
    ":status",
    "te",
    "content-type",
    "grpc-timeout",
    "grpc-encoding",
    "grpc-accept-encoding",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
];

fn assert_no_protocol_fields(md: &Metadata) {
    for (key, _) in md.iter() {
        assert!(
            !PROTOCOL_FIELDS.contains(&key) && !key.starts_with("grpc-") && !key.starts_with(':'),
            "protocol field {key:?} leaked into user metadata: {md:?}"
        );
    }
}

/// interop `custom_metadata`, unary and duplex: `x-grpc-test-echo-initial`
/// comes back in the initial metadata, `x-grpc-test-echo-trailing-bin`
/// (0xababab) in the trailers.
#[test]
fn interop_custom_metadata_echo() {
    for duplex in [false, true] {
        let mut pair = GrpcPair::new();
        let mut md = Metadata::new();
        md.insert("x-grpc-test-echo-initial", "test_initial_metadata_value")
            .unwrap();
        md.insert_bin("x-grpc-test-echo-trailing-bin", vec![0xab, 0xab, 0xab])
            .unwrap();
        let call = pair.start_call(CallOptions {
            metadata: md,
            timeout: Some(std::time::Duration::from_secs(10)),
            ..CallOptions::new("/grpc.testing.TestService/UnaryCall")
        });
        pair.client()
            .send_message(call, Bytes::from_static(b"x"))
            .unwrap();
        if !duplex {
            pair.client().close_send(call).unwrap();
        }
        pair.drive();
        let (scall, request) = pair.accept().unwrap();
        let mut initial = Metadata::new();
        initial
            .insert(
                "x-grpc-test-echo-initial",
                request.metadata.get("x-grpc-test-echo-initial").unwrap(),
            )
            .unwrap();
        let mut trailing = Metadata::new();
        trailing
            .insert_bin(
                "x-grpc-test-echo-trailing-bin",
                request
                    .metadata
                    .get_bin("x-grpc-test-echo-trailing-bin")
                    .unwrap()
                    .clone(),
            )
            .unwrap();
        pair.server().send_headers(scall, &initial).unwrap();
        pair.server()
            .send_message(scall, Bytes::from_static(b"y"))
            .unwrap();
        pair.drive();
        if duplex {
            pair.client().close_send(call).unwrap();
            pair.drive();
        }
        pair.server()
            .finish(scall, &Status::ok(), &trailing)
            .unwrap();
        pair.drive();
        let events = pair.client_events();
        let got = headers(&events, call).unwrap();
        assert_eq!(
            got.get("x-grpc-test-echo-initial"),
            Some("test_initial_metadata_value")
        );
        let (status, trailers) = finished(&events, call).unwrap();
        assert_eq!(status.code(), Code::Ok);
        assert_eq!(
            &trailers.get_bin("x-grpc-test-echo-trailing-bin").unwrap()[..],
            [0xab, 0xab, 0xab]
        );
        assert_eq!(messages(&events, call), [Bytes::from_static(b"y")]);
    }
}

/// Binary values with every octet (including those that base64 pads), several
/// values under one key in order, and text values, in all three places.
#[test]
fn binary_and_repeated_values_round_trip_everywhere() {
    let mut md = Metadata::new();
    md.insert("x-text", "hello world ~!@#$%^&*()").unwrap();
    md.insert_bin("x-all-bin", all_octets()).unwrap();
    md.insert_bin("x-empty-bin", Bytes::new()).unwrap();
    for n in 1..=5u8 {
        // Lengths 1..5 cover every base64 padding case.
        md.insert_bin("x-multi-bin", vec![n; usize::from(n)])
            .unwrap();
    }
    md.insert("x-repeat", "one").unwrap();
    md.insert("x-repeat", "two").unwrap();

    let check = |got: &Metadata, place: &str| {
        assert_eq!(
            got.get("x-text"),
            Some("hello world ~!@#$%^&*()"),
            "{place}"
        );
        assert_eq!(got.get_bin("x-all-bin"), Some(&all_octets()), "{place}");
        let multi: Vec<Vec<u8>> = got
            .get_all("x-multi-bin")
            .map(|v| v.as_bytes().to_vec())
            .collect();
        let expected: Vec<Vec<u8>> = (1..=5u8).map(|n| vec![n; usize::from(n)]).collect();
        assert_eq!(multi, expected, "{place}");
        let repeat: Vec<&[u8]> = got
            .get_all("x-repeat")
            .map(MetadataValue::as_bytes)
            .collect();
        assert_eq!(repeat, [&b"one"[..], b"two"], "{place}");
        assert!(got.get_all("x-all-bin").all(MetadataValue::is_binary));
        assert_no_protocol_fields(got);
    };

    let mut pair = GrpcPair::new();
    let call = pair.start_call(CallOptions {
        metadata: md.clone(),
        ..CallOptions::new("/pkg.Svc/Echo")
    });
    pair.client().close_send(call).unwrap();
    pair.drive();
    let (scall, request) = pair.accept().unwrap();
    check(&request.metadata, "request");
    pair.server().send_headers(scall, &md).unwrap();
    pair.server()
        .send_message(scall, Bytes::from_static(b"m"))
        .unwrap();
    pair.server().finish(scall, &Status::ok(), &md).unwrap();
    pair.drive();
    let events = pair.client_events();
    check(headers(&events, call).unwrap(), "initial metadata");
    check(finished(&events, call).unwrap().1, "trailers");

    // Trailers-Only: the trailers carry the metadata.
    let call = pair.start_unary("/pkg.Svc/Fail", Bytes::new());
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    pair.server()
        .finish(scall, &Status::new(Code::Aborted, "no"), &md)
        .unwrap();
    pair.drive();
    let events = pair.take_client_events_for(call);
    assert!(headers(&events, call).is_none());
    let (status, trailers) = finished(&events, call).unwrap();
    assert_eq!(status.code(), Code::Aborted);
    check(trailers, "Trailers-Only");
}

/// The request the server sees carries deadline, encoding and content-type
/// fields, and the response carries status fields: none of them is metadata.
#[test]
fn reserved_fields_do_not_leak_into_metadata() {
    let mut client = grpc_sansio::grpc::Config::client();
    client.send_encoding = grpc_sansio::grpc::compression::Encoding::Gzip;
    let mut server = grpc_sansio::grpc::Config::server();
    server.send_encoding = grpc_sansio::grpc::compression::Encoding::Gzip;
    let mut pair = GrpcPair::with_configs(client, server);
    let call = pair.start_call(CallOptions {
        timeout: Some(std::time::Duration::from_secs(3)),
        ..CallOptions::new("/pkg.Svc/Echo")
    });
    pair.client()
        .send_message(call, Bytes::from_static(b"abc"))
        .unwrap();
    pair.client().close_send(call).unwrap();
    pair.drive();
    let (scall, request) = pair.accept().unwrap();
    assert_no_protocol_fields(&request.metadata);
    // user-agent is ordinary metadata to gRPC, and the only field left here.
    let keys: Vec<&str> = request.metadata.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["user-agent"], "{:?}", request.metadata);
    let details = Bytes::from_static(b"\x08\x03");
    pair.server()
        .send_message(scall, Bytes::from_static(b"abc"))
        .unwrap();
    pair.server()
        .finish(
            scall,
            &Status::new(Code::InvalidArgument, "bad").with_details(details),
            &Metadata::new(),
        )
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    let initial = headers(&events, call).unwrap();
    assert!(initial.is_empty(), "{initial:?}");
    let (status, trailers) = finished(&events, call).unwrap();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(trailers.is_empty(), "{trailers:?}");
}

/// A raw client's request with reserved and odd fields: `grpc-*` names the
/// library does not know are still not metadata; padded base64 is accepted;
/// values joined with "," are split.
#[test]
fn received_metadata_is_filtered_and_decoded_leniently() {
    let mut pair =
        RawClientPair::raw_client(h2::Config::default(), grpc_sansio::grpc::Config::server());
    pair.drive();
    let mut request = testing::grpc_request("/pkg.Svc/Echo", "localhost");
    request.extend([
        Header::new("grpc-previous-rpc-attempts", "1"),
        Header::new("grpc-future-field", "x"),
        Header::new("x-padded-bin", "AQI="),
        Header::new("x-joined-bin", "AQ, Ag=="),
        Header::new("x-text", "v"),
    ]);
    let id = pair.client().open_stream(request, true).unwrap();
    pair.drive();
    let (scall, req) = pair.accept().unwrap();
    assert_eq!(scall.stream_id(), id);
    let keys: Vec<&str> = req.metadata.iter().map(|(k, _)| k).collect();
    assert_eq!(
        keys,
        ["x-padded-bin", "x-joined-bin", "x-joined-bin", "x-text"]
    );
    assert_eq!(&req.metadata.get_bin("x-padded-bin").unwrap()[..], [1, 2]);
    let joined: Vec<&[u8]> = req
        .metadata
        .get_all("x-joined-bin")
        .map(MetadataValue::as_bytes)
        .collect();
    assert_eq!(joined, [&[1u8][..], &[2u8][..]]);
}

/// A `-bin` value that is not base64 is INTERNAL for the call, not a crash.
#[test]
fn undecodable_binary_metadata_is_internal() {
    let mut pair =
        RawClientPair::raw_client(h2::Config::default(), grpc_sansio::grpc::Config::server());
    pair.drive();
    let mut request = testing::grpc_request("/pkg.Svc/Echo", "localhost");
    request.push(Header::new("x-broken-bin", "!!!not base64!!!"));
    let id = pair.client().open_stream(request, true).unwrap();
    pair.drive();
    assert!(pair.accept().is_none(), "the call must not start");
    let events = pair.client_events();
    let blocks: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            h2::Event::Headers {
                stream,
                headers,
                end_stream,
            } if *stream == id => Some((headers.clone(), *end_stream)),
            _ => None,
        })
        .collect();
    assert_eq!(blocks.len(), 1, "{events:?}");
    assert!(blocks[0].1, "Trailers-Only ends the stream");
    assert_eq!(
        testing::header_value(&blocks[0].0, "grpc-status"),
        Some(&b"13"[..])
    );
}

/// The local API refuses reserved and malformed keys, text values outside
/// visible ASCII, and binary values under text keys.
#[test]
fn metadata_api_refuses_reserved_and_malformed_entries() {
    let mut md = Metadata::new();
    for key in [
        "grpc-status",
        "grpc-custom",
        "content-type",
        "te",
        "connection",
    ] {
        assert!(
            matches!(md.insert(key, "v"), Err(MetadataError::ReservedKey { .. })),
            "{key}"
        );
    }
    for key in ["Upper", ":path", "sp ace", ""] {
        assert!(md.insert(key, "v").is_err(), "{key:?}");
    }
    assert!(matches!(
        md.insert("x-text", "line\nbreak"),
        Err(MetadataError::InvalidValue { byte: b'\n', .. })
    ));
    assert!(matches!(
        md.insert("x-data-bin", "text"),
        Err(MetadataError::BinaryKey { .. })
    ));
    assert!(matches!(
        md.insert_bin("x-data", vec![1]),
        Err(MetadataError::NotBinaryKey { .. })
    ));
    assert!(md.is_empty());
}

/// Metadata larger than the peer's 8 KiB header list limit is refused before
/// anything is sent, and the connection goes on.
#[test]
fn metadata_over_the_peer_limit_is_refused_locally() {
    let mut pair = GrpcPair::new();
    pair.drive(); // the server's SETTINGS announce its 8 KiB limit
    let mut md = Metadata::new();
    md.insert("x-big", &"a".repeat(9 << 10)).unwrap();
    let now = pair.now();
    let refused = pair.client().start_call(
        now,
        CallOptions {
            metadata: md,
            ..CallOptions::new("/pkg.Svc/Big")
        },
    );
    assert!(
        matches!(
            refused,
            Err(CallError::H2(h2::UserError::HeaderListTooLarge { .. }))
        ),
        "{refused:?}"
    );
    assert_eq!(pair.client_ref().active_calls(), 0);
    let call = pair.start_unary("/pkg.Svc/Small", Bytes::from_static(b"ok"));
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    pair.respond(scall, &[], &Status::ok());
    pair.drive();
    let events = pair.client_events();
    assert_eq!(finished(&events, call).unwrap().0.code(), Code::Ok);
}
