//! Status end to end: all 17 codes with awkward messages, rich details,
//! Trailers-Only responses, early trailers with RST_STREAM(NO_ERROR), HTTP-level
//! rejections of non-gRPC requests, and the client's status for responses
//! without `grpc-status` (`doc/http-grpc-status-mapping.md`).

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallError, CallOptions, Event};
use grpc_sansio::h2::{self, frame::Frame, ErrorCode, StreamId};
use grpc_sansio::hpack::Header;
use grpc_sansio::testing::{
    self, assert_lifecycle, finished, header_value, headers, messages, GrpcPair, RawClientPair,
    RawServerPair, Side,
};
use grpc_sansio_service::{rpc, RichDetails};

/// Tabs, CR/LF, '%' alone and before hex digits, non-ASCII and non-BMP text
/// (interop `special_status_message` and more).
const AWKWARD: &str = "\t\ttab\r\nCRLF 100% %41 %zz %%\u{0}nul é ñ 日本語 \u{1F600}\u{10FFFF} end";

/// The header blocks a raw HTTP/2 peer received on `stream`, with END_STREAM.
fn blocks(events: &[h2::Event], stream: StreamId) -> Vec<(Vec<Header>, bool)> {
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

/// Every code, with and without a response message before it (trailers vs
/// Trailers-Only), with an awkward message.
#[test]
fn every_code_and_awkward_message_round_trips() {
    let mut pair = GrpcPair::new();
    for with_message in [true, false] {
        for code in Code::ALL {
            let text = format!("{}: {AWKWARD}", code.as_str());
            let call = pair.start_unary("/pkg.Svc/Status", Bytes::from_static(b"q"));
            pair.drive();
            let (scall, _) = pair.accept().unwrap();
            pair.server_events();
            let replies = if with_message {
                vec![Bytes::from_static(b"r")]
            } else {
                vec![]
            };
            pair.respond(scall, &replies, &Status::new(code, text.clone()));
            pair.drive();
            let events = pair.client_events();
            assert_lifecycle(&events);
            let (status, _) = finished(&events, call).expect("finished");
            assert_eq!(status.code(), code);
            assert_eq!(status.message(), text, "{code:?}");
            assert_eq!(headers(&events, call).is_some(), with_message, "{code:?}");
            assert_eq!(messages(&events, call), replies);
        }
    }
    assert_eq!(pair.client_ref().active_calls(), 0);
    assert_eq!(pair.server_ref().h2().active_streams(), 0);
}

/// A message that starts or ends with a space (or is only spaces) still gets
/// through: HTTP/2 forbids a field value with surrounding whitespace
/// (RFC 9113 §8.2.1), so the sender must percent-encode those spaces (any byte
/// may be encoded; decoders decode every `%XX`), as the message is arbitrary
/// text to gRPC.
#[test]
fn status_message_with_surrounding_spaces() {
    let mut pair = GrpcPair::new();
    for text in [" leading", "trailing ", "  both  ", " ", "tab\t "] {
        for with_message in [true, false] {
            let call = pair.start_unary("/pkg.Svc/Spaces", Bytes::new());
            pair.drive();
            let (scall, _) = pair.accept().unwrap();
            pair.server_events();
            if with_message {
                pair.server().send_message(scall, Bytes::new()).unwrap();
            }
            let sent =
                pair.server()
                    .finish(scall, &Status::new(Code::Aborted, text), &Metadata::new());
            assert!(sent.is_ok(), "{text:?}: {sent:?}");
            pair.drive();
            let events = pair.client_events();
            let (status, _) = finished(&events, call).expect("finished");
            assert_eq!(status.code(), Code::Aborted);
            assert_eq!(status.message(), text);
        }
    }
}

/// On the wire: `grpc-status` is decimal without leading zeros, and
/// `grpc-message` is percent-encoded (0x20-0x7E except '%' as they are,
/// everything else `%XX` in upper-case hex).
#[test]
fn status_fields_on_the_wire() {
    let mut pair =
        RawClientPair::raw_client(h2::Config::default(), grpc_sansio::grpc::Config::server());
    pair.drive();
    let mut expected_encoding = String::new();
    for b in AWKWARD.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            expected_encoding.push(char::from(b));
        } else {
            expected_encoding.push_str(&format!("%{b:02X}"));
        }
    }
    for code in [Code::Ok, Code::Unauthenticated, Code::InvalidArgument] {
        let id = pair
            .client()
            .open_stream(testing::grpc_request("/pkg.Svc/Wire", "localhost"), true)
            .unwrap();
        pair.drive();
        let (scall, _) = pair.accept().unwrap();
        pair.server()
            .finish(scall, &Status::new(code, AWKWARD), &Metadata::new())
            .unwrap();
        pair.drive();
        let events = pair.client_events();
        let blocks = blocks(&events, id);
        assert_eq!(blocks.len(), 1);
        let fields = &blocks[0].0;
        assert_eq!(
            header_value(fields, "grpc-status"),
            Some(code.as_i32().to_string().as_bytes())
        );
        assert_eq!(
            header_value(fields, "grpc-message"),
            Some(expected_encoding.as_bytes())
        );
    }
}

/// `grpc-status-details-bin` carries a `google.rpc.Status` with `Any` details
/// of every octet value, in trailers and in Trailers-Only.
#[test]
fn rich_status_details_round_trip() {
    let rich = rpc::Status {
        code: Code::FailedPrecondition.as_i32(),
        message: format!("precondition: {AWKWARD}"),
        details: vec![
            rpc::Any {
                type_url: "type.googleapis.com/google.rpc.PreconditionFailure".into(),
                value: (0..=255u8).collect(),
            },
            rpc::Any {
                type_url: "type.googleapis.com/google.rpc.DebugInfo".into(),
                value: vec![],
            },
        ],
    };
    let status =
        Status::new(Code::FailedPrecondition, rich.message.clone()).with_rich_details(rich.clone());
    let mut pair = GrpcPair::new();
    for with_message in [true, false] {
        let call = pair.start_unary("/pkg.Svc/Rich", Bytes::new());
        pair.drive();
        let (scall, _) = pair.accept().unwrap();
        pair.server_events();
        let replies: &[Bytes] = if with_message {
            &[Bytes::from_static(b"r")]
        } else {
            &[]
        };
        pair.respond(scall, replies, &status);
        pair.drive();
        let events = pair.client_events();
        let (got, trailers) = finished(&events, call).unwrap();
        assert_eq!(got, &status);
        assert_eq!(got.rich_details().unwrap().unwrap(), rich);
        assert!(
            trailers.is_empty(),
            "details are not metadata: {trailers:?}"
        );
    }
}

/// interop `status_code_and_message` on a duplex call: the status comes after
/// the client half-closes, with the messages before it.
#[test]
fn status_after_duplex_exchange() {
    let mut pair = GrpcPair::new();
    let call = pair.start_call(CallOptions::new("/grpc.testing.TestService/FullDuplexCall"));
    pair.client()
        .send_message(call, Bytes::from_static(b"1"))
        .unwrap();
    pair.client().close_send(call).unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    pair.respond(
        scall,
        &[Bytes::from_static(b"a")],
        &Status::new(Code::Unknown, "test status message"),
    );
    pair.drive();
    let events = pair.client_events();
    let (status, _) = finished(&events, call).unwrap();
    assert_eq!(status.code(), Code::Unknown);
    assert_eq!(status.message(), "test status message");
}

/// Trailers-Only: a server that fails before any message sends one HEADERS
/// frame with END_STREAM carrying `:status 200`, `content-type` and the status;
/// the client reports Finished with no Headers event.
#[test]
fn trailers_only_response() {
    let mut pair =
        RawClientPair::raw_client(h2::Config::default(), grpc_sansio::grpc::Config::server());
    pair.drive();
    let id = pair
        .client()
        .open_stream(testing::grpc_request("/pkg.Svc/Fail", "localhost"), true)
        .unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    let mut trailers = Metadata::new();
    trailers.insert("x-why", "because").unwrap();
    pair.server()
        .finish(scall, &Status::new(Code::NotFound, "nope"), &trailers)
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    let blocks = blocks(&events, id);
    assert_eq!(blocks.len(), 1, "{events:?}");
    let (fields, end_stream) = &blocks[0];
    assert!(end_stream);
    assert_eq!(header_value(fields, ":status"), Some(&b"200"[..]));
    assert_eq!(
        header_value(fields, "content-type"),
        Some(&b"application/grpc"[..])
    );
    assert_eq!(header_value(fields, "grpc-status"), Some(&b"5"[..]));
    assert_eq!(header_value(fields, "grpc-message"), Some(&b"nope"[..]));
    assert_eq!(header_value(fields, "x-why"), Some(&b"because"[..]));
    assert!(
        !events.iter().any(|e| matches!(e, h2::Event::Data { .. })),
        "no DATA in Trailers-Only: {events:?}"
    );

    // And a gRPC client: Finished only.
    let mut pair = GrpcPair::new();
    let call = pair.start_unary("/pkg.Svc/Fail", Bytes::from_static(b"q"));
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    pair.server()
        .finish(scall, &Status::new(Code::NotFound, "nope"), &trailers)
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    assert_eq!(events.len(), 1, "{events:?}");
    let (status, got) = finished(&events, call).unwrap();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(got.get("x-why"), Some("because"));
}

/// A server that finishes while the client is still sending sends its
/// trailers and then RST_STREAM(NO_ERROR); the client's call ends cleanly with
/// the server's status, not with an error for the reset.
#[test]
fn early_trailers_then_rst_stream_no_error() {
    for with_message in [false, true] {
        let mut pair = GrpcPair::new();
        pair.set_recording(Side::Server, true);
        pair.set_recording(Side::Client, true);
        let call = pair.start_call(CallOptions::new("/pkg.Svc/Upload"));
        pair.client()
            .send_message(call, Bytes::from_static(b"part 1"))
            .unwrap();
        pair.drive();
        let (scall, _) = pair.accept().unwrap();
        assert_eq!(messages(&pair.server_events(), scall).len(), 1);
        // The client keeps sending; one more message is in flight when the
        // server gives up.
        pair.client()
            .send_message(call, Bytes::from_static(b"part 2"))
            .unwrap();
        pair.flush(Side::Client);
        let replies: &[Bytes] = if with_message {
            &[Bytes::from_static(b"partial")]
        } else {
            &[]
        };
        pair.respond(scall, replies, &Status::new(Code::OutOfRange, "enough"));
        pair.drive();

        let stream = call.stream_id();
        let frames: Vec<Frame> = pair
            .sent_frames(Side::Server)
            .into_iter()
            .filter(|f| f.stream_id() == stream)
            .collect();
        let last_two = &frames[frames.len() - 2..];
        assert!(
            matches!(&last_two[0], Frame::Headers(h) if h.end_stream),
            "{frames:?}"
        );
        assert!(
            matches!(&last_two[1], Frame::RstStream(r) if r.error_code == ErrorCode::NO_ERROR),
            "{frames:?}"
        );
        // The client never answers with an error code on that stream.
        for frame in pair.sent_frames(Side::Client) {
            if let Frame::RstStream(r) = frame {
                assert_eq!(r.error_code, ErrorCode::NO_ERROR, "client reset: {r:?}");
            }
        }

        let events = pair.client_events();
        assert_lifecycle(&events);
        let (status, _) = finished(&events, call).unwrap();
        assert_eq!(status.code(), Code::OutOfRange);
        assert_eq!(status.message(), "enough");
        assert_eq!(messages(&events, call).len(), usize::from(with_message));
        assert!(matches!(
            pair.client().send_message(call, Bytes::from_static(b"late")),
            Err(CallError::UnknownCall(c)) if c == call
        ));
        // The server's application saw nothing after its own finish.
        let events = pair.server_events();
        assert!(events.is_empty(), "{events:?}");
        for conn in [pair.client_ref(), pair.server_ref()] {
            assert_eq!(conn.active_calls(), 0);
            assert_eq!(conn.h2().active_streams(), 0);
            assert!(conn.h2().error().is_none());
        }
        // The connection still works.
        let next = pair.start_unary("/pkg.Svc/Next", Bytes::new());
        pair.drive();
        let (scall, _) = pair.accept().unwrap();
        pair.respond(scall, &[], &Status::ok());
        pair.drive();
        assert_eq!(
            finished(&pair.client_events(), next).unwrap().0.code(),
            Code::Ok
        );
    }
}

/// Answers to requests that are not gRPC: a non-gRPC content-type is HTTP 415
/// with no gRPC status, a method other than POST is 405, a malformed path is
/// UNIMPLEMENTED in Trailers-Only. None of them starts a call.
#[test]
fn http_level_rejections() {
    /// A request, the `:status` expected, the `grpc-status` expected.
    type Case = (Vec<Header>, &'static [u8], Option<&'static [u8]>);
    let cases: Vec<Case> = vec![
        (
            {
                let mut r = testing::grpc_request("/pkg.Svc/M", "localhost");
                r.retain(|h| h.name != "content-type");
                r.push(Header::new("content-type", "application/json"));
                r
            },
            b"415",
            None,
        ),
        (
            {
                let mut r = testing::grpc_request("/pkg.Svc/M", "localhost");
                r.retain(|h| h.name != "content-type");
                r
            },
            b"415",
            None,
        ),
        (
            {
                let mut r = testing::grpc_request("/pkg.Svc/M", "localhost");
                r[0] = Header::new(":method", "GET");
                r
            },
            b"405",
            None,
        ),
        (
            {
                let mut r = testing::grpc_request("/pkg.Svc/M", "localhost");
                r[0] = Header::new(":method", "PUT");
                r
            },
            b"405",
            None,
        ),
        (
            testing::grpc_request("/pkg.Svc", "localhost"),
            b"200",
            Some(b"12"),
        ),
        (
            testing::grpc_request("/pkg.Svc/", "localhost"),
            b"200",
            Some(b"12"),
        ),
        (
            testing::grpc_request("//Method", "localhost"),
            b"200",
            Some(b"12"),
        ),
        (
            testing::grpc_request("/a/b/c", "localhost"),
            b"200",
            Some(b"12"),
        ),
    ];
    for end_stream in [true, false] {
        for (request, http, grpc) in &cases {
            let mut pair = RawClientPair::raw_client(
                h2::Config::default(),
                grpc_sansio::grpc::Config::server(),
            );
            pair.set_recording(Side::Server, true);
            pair.drive();
            let id = pair
                .client()
                .open_stream(request.clone(), end_stream)
                .unwrap();
            if !end_stream {
                pair.client()
                    .send_data(id, testing::frame_message(false, b"body"), false)
                    .unwrap();
            }
            pair.drive();
            assert!(pair.accept().is_none(), "{request:?}");
            assert!(pair.server_events().is_empty());
            let events = pair.client_events();
            let blocks = blocks(&events, id);
            assert_eq!(blocks.len(), 1, "{request:?}: {events:?}");
            let (fields, end) = &blocks[0];
            assert!(end, "{request:?}");
            assert_eq!(header_value(fields, ":status"), Some(*http), "{request:?}");
            assert_eq!(header_value(fields, "grpc-status"), *grpc, "{request:?}");
            if grpc.is_some() {
                assert_eq!(
                    header_value(fields, "content-type"),
                    Some(&b"application/grpc"[..])
                );
            }
            // A client still sending learns to stop with RST_STREAM(NO_ERROR).
            let rsts: Vec<ErrorCode> = pair
                .sent_frames(Side::Server)
                .iter()
                .filter_map(|f| match f {
                    Frame::RstStream(r) if r.stream_id == id => Some(r.error_code),
                    _ => None,
                })
                .collect();
            let expected: &[ErrorCode] = if end_stream {
                &[]
            } else {
                &[ErrorCode::NO_ERROR]
            };
            assert_eq!(rsts, expected, "{request:?}");
            assert_eq!(pair.server_ref().active_calls(), 0);
            assert_eq!(pair.server_ref().h2().active_streams(), 0);
            assert!(pair.server_ref().h2().error().is_none());
        }
    }
}

/// A gRPC client's call path is checked before anything is sent.
#[test]
fn client_refuses_malformed_paths() {
    let mut pair = GrpcPair::new();
    let now = pair.now();
    for path in ["", "/", "noslash", "/Svc", "/Svc/", "//M", "/a/b/c"] {
        assert!(
            matches!(
                pair.client().start_call(now, CallOptions::new(path)),
                Err(CallError::InvalidPath(_))
            ),
            "{path:?}"
        );
    }
    assert_eq!(pair.client_ref().active_calls(), 0);
}

/// The client's status for a response without `grpc-status`: the HTTP status
/// mapped as `doc/http-grpc-status-mapping.md` says (415, like anything not
/// listed, is UNKNOWN).
#[test]
fn client_maps_http_statuses_without_grpc_status() {
    let cases: &[(&str, Code)] = &[
        ("400", Code::Internal),
        ("401", Code::Unauthenticated),
        ("403", Code::PermissionDenied),
        ("404", Code::Unimplemented),
        ("415", Code::Unknown),
        ("429", Code::Unavailable),
        ("500", Code::Unknown),
        ("502", Code::Unavailable),
        ("503", Code::Unavailable),
        ("504", Code::Unavailable),
        ("301", Code::Unknown),
    ];
    for &(http, code) in cases {
        assert_eq!(Code::from_http_status(http.parse().unwrap()), code);
        for end_stream in [true, false] {
            let mut pair = RawServerPair::raw_server(
                grpc_sansio::grpc::Config::client(),
                h2::Config::default(),
            );
            let call = pair.start_unary("/pkg.Svc/M", Bytes::from_static(b"q"));
            pair.drive();
            let stream = call.stream_id();
            let mut response = vec![Header::new(":status", http)];
            response.push(Header::new("content-type", "text/html"));
            pair.server()
                .send_headers(stream, response, end_stream)
                .unwrap();
            if !end_stream {
                pair.server()
                    .send_data(stream, Bytes::from_static(b"<html>"), true)
                    .unwrap();
            }
            pair.drive();
            let events = pair.client_events();
            assert_lifecycle(&events);
            assert_eq!(events.len(), 1, "{http}: {events:?}");
            let (status, _) = finished(&events, call).unwrap();
            assert_eq!(status.code(), code, "HTTP {http}: {status:?}");
            assert_eq!(pair.client_ref().active_calls(), 0);
        }
    }
}

/// A 200 response that ends without `grpc-status` is UNKNOWN; a 1xx block is
/// skipped; a `grpc-status` outside 0-16 is UNKNOWN.
#[test]
fn client_status_for_odd_responses() {
    type Respond = fn(&mut h2::Connection, StreamId);
    let cases: Vec<(&str, Respond, Code)> = vec![
        (
            "200 Trailers-Only without grpc-status",
            |s, id| s.send_headers(id, testing::grpc_response(), true).unwrap(),
            Code::Unknown,
        ),
        (
            "200, trailers without grpc-status",
            |s, id| {
                s.send_headers(id, testing::grpc_response(), false).unwrap();
                s.send_headers(id, vec![Header::new("x-t", "v")], true)
                    .unwrap();
            },
            Code::Unknown,
        ),
        (
            "grpc-status 99",
            |s, id| {
                s.send_headers(id, testing::grpc_response(), false).unwrap();
                s.send_headers(id, vec![Header::new("grpc-status", "99")], true)
                    .unwrap();
            },
            Code::Unknown,
        ),
        (
            "100 Continue, then a normal response",
            |s, id| {
                s.send_headers(id, vec![Header::new(":status", "100")], false)
                    .unwrap();
                s.send_headers(id, testing::grpc_response(), false).unwrap();
                s.send_headers(id, vec![Header::new("grpc-status", "6")], true)
                    .unwrap();
            },
            Code::AlreadyExists,
        ),
    ];
    for (name, respond, code) in cases {
        let mut pair =
            RawServerPair::raw_server(grpc_sansio::grpc::Config::client(), h2::Config::default());
        let call = pair.start_unary("/pkg.Svc/M", Bytes::from_static(b"q"));
        pair.drive();
        respond(pair.server(), call.stream_id());
        pair.drive();
        let events = pair.client_events();
        assert_lifecycle(&events);
        let (status, _) = finished(&events, call).unwrap_or_else(|| panic!("{name}: {events:?}"));
        assert_eq!(status.code(), code, "{name}: {status:?}");
    }
}

/// RST_STREAM codes the server may send map to the spec's gRPC codes on the
/// client.
#[test]
fn client_maps_reset_codes() {
    let cases = [
        (ErrorCode::NO_ERROR, Code::Internal),
        (ErrorCode::PROTOCOL_ERROR, Code::Internal),
        (ErrorCode::INTERNAL_ERROR, Code::Internal),
        (ErrorCode::FLOW_CONTROL_ERROR, Code::Internal),
        (ErrorCode::REFUSED_STREAM, Code::Unavailable),
        (ErrorCode::CANCEL, Code::Cancelled),
        (ErrorCode::ENHANCE_YOUR_CALM, Code::ResourceExhausted),
        (ErrorCode::INADEQUATE_SECURITY, Code::PermissionDenied),
    ];
    for (reset, code) in cases {
        let mut pair =
            RawServerPair::raw_server(grpc_sansio::grpc::Config::client(), h2::Config::default());
        let call = pair.start_unary("/pkg.Svc/M", Bytes::from_static(b"q"));
        pair.drive();
        pair.server().reset(call.stream_id(), reset).unwrap();
        pair.drive();
        let events = pair.client_events();
        let (status, _) = finished(&events, call).unwrap_or_else(|| panic!("{events:?}"));
        assert_eq!(status.code(), code, "{reset}: {status:?}");
    }
}

/// A server reading `Event::Finished` never happens; a client never sees
/// `CallStarted`: roles keep their own events (smoke check over a busy run).
#[test]
fn events_belong_to_their_role() {
    let mut pair = GrpcPair::new();
    for i in 0..10u8 {
        let call = pair.start_unary("/pkg.Svc/M", Bytes::from(vec![i; usize::from(i)]));
        pair.drive();
        let (scall, _) = pair.accept().unwrap();
        pair.respond(scall, &[Bytes::from(vec![i])], &Status::ok());
        pair.drive();
        for e in pair.server_events() {
            assert!(
                matches!(e, Event::Message { .. } | Event::HalfClosed { .. }),
                "{e:?}"
            );
        }
        for e in pair.client_events() {
            assert!(
                matches!(
                    e,
                    Event::Headers { .. } | Event::Message { .. } | Event::Finished { .. }
                ),
                "{e:?}"
            );
            if let Event::Finished {
                call: c, status, ..
            } = e
            {
                assert_eq!(c, call);
                assert!(status.is_ok());
            }
        }
    }
}
