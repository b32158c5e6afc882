//! Deadlines on virtual time: `grpc-timeout` as sent and as parsed, expiry on
//! both sides (client DEADLINE_EXCEEDED built locally, server Cancelled with
//! DEADLINE_EXCEEDED and RST_STREAM(CANCEL)), races with the server's answer.

use std::time::Duration;

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallError, CallOptions, Event};
use grpc_sansio::h2::{self, ErrorCode};
use grpc_sansio::hpack::Header;
use grpc_sansio::testing::{
    self, assert_lifecycle, cancelled, finished, header_value, GrpcPair, Link, RawClientPair,
    RawServerPair, Side,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn deadline_fires_on_both_sides() {
    let mut pair = GrpcPair::new();
    let call = pair.start_call(CallOptions {
        timeout: Some(ms(50)),
        ..CallOptions::new("/pkg.Svc/Slow")
    });
    pair.client()
        .send_message(call, Bytes::from_static(b"work"))
        .unwrap();
    pair.drive();
    let (scall, request) = pair.accept().unwrap();
    assert_eq!(request.timeout, Some(ms(50)));
    assert_eq!(request.deadline, Some(pair.start() + ms(50)));
    pair.advance(ms(49));
    assert!(finished(pair.peek_client_events(), call).is_none());
    assert!(cancelled(pair.peek_server_events(), scall).is_none());
    pair.advance(ms(1));
    let client = pair.client_events();
    let server = pair.server_events();
    assert_lifecycle(&client);
    assert_lifecycle(&server);
    let (status, _) = finished(&client, call).expect("client finished");
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert_eq!(
        cancelled(&server, scall).expect("server cancelled").code(),
        Code::DeadlineExceeded
    );
    assert!(matches!(
        pair.server()
            .send_message(scall, Bytes::from_static(b"late")),
        Err(CallError::UnknownCall(_))
    ));
    for conn in [pair.client_ref(), pair.server_ref()] {
        assert_eq!(conn.active_calls(), 0);
        assert_eq!(conn.h2().active_streams(), 0);
    }
}

/// interop `timeout_on_sleeping_server`: a duplex call with a 1 ms deadline to
/// a server that never answers.
#[test]
fn timeout_on_sleeping_server() {
    let mut pair = GrpcPair::new();
    let call = pair.start_call(CallOptions {
        timeout: Some(ms(1)),
        ..CallOptions::new("/grpc.testing.TestService/FullDuplexCall")
    });
    pair.client()
        .send_message(call, testing::pattern(27_182, 0))
        .unwrap();
    pair.drive();
    pair.advance(ms(1));
    let events = pair.client_events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        finished(&events, call).unwrap().0.code(),
        Code::DeadlineExceeded
    );
}

/// The server's deadline runs from the request's arrival, so with network
/// delay the client's expires first: its RST_STREAM(CANCEL) reaches a server
/// whose own deadline has not passed, which reports CANCELLED.
#[test]
fn client_deadline_first_with_network_delay() {
    let mut pair = GrpcPair::new();
    pair.drive();
    let call = pair.start_call(CallOptions {
        timeout: Some(ms(100)),
        ..CallOptions::new("/pkg.Svc/Slow")
    });
    pair.set_link(Side::Server, Link::Held);
    pair.step();
    pair.advance(ms(10));
    pair.set_link(Side::Server, Link::Open);
    pair.drive();
    let (scall, request) = pair.accept().unwrap();
    assert_eq!(request.deadline, Some(pair.now() + ms(100)));
    pair.advance(ms(90));
    let client = pair.client_events();
    assert_eq!(
        finished(&client, call).unwrap().0.code(),
        Code::DeadlineExceeded
    );
    let server = pair.server_events();
    assert_eq!(cancelled(&server, scall).unwrap().code(), Code::Cancelled);
    // The server's own timer is gone with the call.
    pair.advance(ms(20));
    assert!(pair.server_events().is_empty());
    assert_eq!(pair.server_ref().active_calls(), 0);
}

/// A server whose deadline passes answers DEADLINE_EXCEEDED in trailers and
/// then resets with NO_ERROR (the client had not half-closed), as grpc-go and
/// C-core do: a reset with CANCEL would read as CANCELLED to a client whose own
/// timer is late. The client here has no deadline of its own (a raw HTTP/2
/// client sending grpc-timeout).
#[test]
fn server_deadline_answers_deadline_exceeded() {
    let mut pair =
        RawClientPair::raw_client(h2::Config::default(), grpc_sansio::grpc::Config::server());
    pair.drive();
    let mut request = testing::grpc_request("/pkg.Svc/Slow", "localhost");
    request.push(Header::new("grpc-timeout", "3m"));
    let id = pair.client().open_stream(request, false).unwrap();
    pair.drive();
    let (scall, request) = pair.accept().unwrap();
    assert_eq!(request.timeout, Some(ms(3)));
    pair.advance(ms(3));
    let server = pair.server_events();
    assert_eq!(
        cancelled(&server, scall).unwrap().code(),
        Code::DeadlineExceeded
    );
    let client = pair.client_events();
    let trailers = client.iter().find_map(|e| match e {
        h2::Event::Headers {
            stream,
            headers,
            end_stream: true,
        } if *stream == id => Some(headers),
        _ => None,
    });
    let trailers = trailers.unwrap_or_else(|| panic!("no trailers: {client:?}"));
    let status = Status::from_headers(trailers).expect("a grpc-status");
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert!(
        client.iter().any(|e| matches!(e,
            h2::Event::Reset { stream, code, .. } if *stream == id && *code == ErrorCode::NO_ERROR)),
        "{client:?}"
    );
}

/// What the client sends as `grpc-timeout`: the finest unit that fits in 8
/// digits, rounded up; no field without a deadline; the earlier of `timeout`
/// and `deadline` wins.
#[test]
fn grpc_timeout_header_formats() {
    let cases: &[(Duration, &str)] = &[
        (Duration::ZERO, "0n"),
        (Duration::from_nanos(1), "1n"),
        (Duration::from_nanos(99_999_999), "99999999n"),
        (Duration::from_nanos(100_000_000), "100000u"),
        (Duration::from_nanos(100_000_001), "100001u"),
        (ms(50), "50000000n"),
        (Duration::from_secs(1), "1000000u"),
        (Duration::from_secs(100), "100000m"),
        (Duration::from_secs(3600), "3600000m"),
        (Duration::from_secs(30 * 24 * 3600), "2592000S"),
        (Duration::from_secs(1000 * 3600), "3600000S"),
        (Duration::from_secs(200_000 * 3600), "12000000M"),
        (Duration::from_secs(87_600_000 * 3600), "87600000H"),
    ];
    let mut pair =
        RawServerPair::raw_server(grpc_sansio::grpc::Config::client(), h2::Config::default());
    pair.drive();
    let mut expect = Vec::new();
    for &(timeout, text) in cases {
        let now = pair.now();
        let call = pair
            .client()
            .start_call(
                now,
                CallOptions {
                    timeout: Some(timeout),
                    ..CallOptions::new("/pkg.Svc/T")
                },
            )
            .unwrap();
        expect.push((call, Some(text.to_owned())));
    }
    let now = pair.now();
    let plain = pair.start_call(CallOptions::new("/pkg.Svc/T"));
    expect.push((plain, None));
    let both = pair.start_call(CallOptions {
        timeout: Some(Duration::from_secs(5)),
        deadline: Some(now + Duration::from_secs(2)),
        ..CallOptions::new("/pkg.Svc/T")
    });
    expect.push((both, Some("2000000u".into())));
    let only_deadline = pair.start_call(CallOptions {
        deadline: Some(now + ms(7)),
        ..CallOptions::new("/pkg.Svc/T")
    });
    expect.push((only_deadline, Some("7000000n".into())));
    // Send the headers before any zero deadline fires.
    pair.flush(Side::Client);
    pair.deliver(Side::Server);
    let events = pair.server_events();
    for (call, text) in expect {
        let fields = events
            .iter()
            .find_map(|e| match e {
                h2::Event::Headers {
                    stream, headers, ..
                } if *stream == call.stream_id() => Some(headers.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no request for {call}"));
        assert_eq!(
            header_value(&fields, "grpc-timeout"),
            text.as_deref().map(str::as_bytes),
            "{call}"
        );
        assert_eq!(header_value(&fields, ":method"), Some(&b"POST"[..]));
        assert_eq!(header_value(&fields, ":scheme"), Some(&b"http"[..]));
        assert_eq!(header_value(&fields, "te"), Some(&b"trailers"[..]));
        assert_eq!(
            header_value(&fields, "content-type"),
            Some(&b"application/grpc"[..])
        );
    }
}

/// A timeout too large for the clock (`Duration::MAX`) is a valid request for
/// "no practical deadline": the call starts, `grpc-timeout` is clamped to the
/// largest value, and nothing panics (the server side already saturates).
#[test]
fn huge_timeout_does_not_panic() {
    let mut pair =
        RawServerPair::raw_server(grpc_sansio::grpc::Config::client(), h2::Config::default());
    pair.drive();
    let now = pair.now();
    let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pair.client().start_call(
            now,
            CallOptions {
                timeout: Some(Duration::MAX),
                ..CallOptions::new("/pkg.Svc/Forever")
            },
        )
    }));
    let call = started
        .expect("start_call panicked on Duration::MAX")
        .expect("start_call refused");
    pair.drive();
    let events = pair.server_events();
    let fields = events
        .iter()
        .find_map(|e| match e {
            h2::Event::Headers {
                stream, headers, ..
            } if *stream == call.stream_id() => Some(headers.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        header_value(&fields, "grpc-timeout"),
        Some(&b"99999999H"[..])
    );
}

/// What the server accepts as `grpc-timeout`: each unit, leading zeros, the
/// largest value; anything else is INTERNAL in Trailers-Only (as grpc-go).
#[test]
fn server_parses_grpc_timeout() {
    let good: &[(&str, Duration)] = &[
        ("1H", Duration::from_secs(3600)),
        ("2M", Duration::from_secs(120)),
        ("3S", Duration::from_secs(3)),
        ("4m", ms(4)),
        ("5u", Duration::from_micros(5)),
        ("6n", Duration::from_nanos(6)),
        ("00000007S", Duration::from_secs(7)),
        ("0n", Duration::ZERO),
        ("99999999H", Duration::from_secs(99_999_999 * 3600)),
    ];
    let bad = [
        "",
        "1",
        "S",
        "123456789S",
        "1s",
        "-1S",
        "1.5S",
        " 1S",
        "1 S",
        "1h",
        "1Sx",
    ];
    let mut pair =
        RawClientPair::raw_client(h2::Config::default(), grpc_sansio::grpc::Config::server());
    pair.drive();
    for &(value, expected) in good {
        let mut request = testing::grpc_request("/pkg.Svc/T", "localhost");
        request.push(Header::new("grpc-timeout", value));
        pair.client().open_stream(request, true).unwrap();
        pair.flush(Side::Client);
        pair.deliver(Side::Server);
        let (scall, req) = pair.accept().unwrap_or_else(|| panic!("{value:?} refused"));
        assert_eq!(req.timeout, Some(expected), "{value:?}");
        assert_eq!(
            req.deadline.map(|d| d - pair.now()),
            Some(expected),
            "{value:?}"
        );
        pair.server()
            .finish(scall, &Status::ok(), &Metadata::new())
            .unwrap();
        pair.drive();
        pair.server_events();
        pair.client_events();
    }
    for value in bad {
        let mut request = testing::grpc_request("/pkg.Svc/T", "localhost");
        request.push(Header::new("grpc-timeout", value));
        let Ok(id) = pair.client().open_stream(request, true) else {
            // Not even a valid HTTP field value (surrounding whitespace).
            continue;
        };
        pair.drive();
        assert!(pair.accept().is_none(), "{value:?} accepted");
        let events = pair.client_events();
        let status = events
            .iter()
            .find_map(|e| match e {
                h2::Event::Headers {
                    stream,
                    headers,
                    end_stream: true,
                } if *stream == id => header_value(headers, "grpc-status").map(<[u8]>::to_vec),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{value:?}: {events:?}"));
        assert_eq!(status, b"13", "{value:?}");
    }
}

/// A call that finishes in time leaves no timer behind: advancing far past
/// its deadline produces nothing.
#[test]
fn deadline_after_completion_is_inert() {
    let mut pair = GrpcPair::new();
    let call = pair.start_call(CallOptions {
        timeout: Some(ms(100)),
        ..CallOptions::new("/pkg.Svc/Fast")
    });
    pair.client().close_send(call).unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    pair.respond(scall, &[Bytes::from_static(b"ok")], &Status::ok());
    pair.drive();
    assert_eq!(
        finished(&pair.client_events(), call).unwrap().0.code(),
        Code::Ok
    );
    assert_eq!(pair.server_events(), [Event::HalfClosed { call: scall }]);
    assert_eq!(pair.client_ref().poll_timeout(), None);
    // The server's only timer left is its keepalive, two hours on.
    let keepalive = pair.now() + Duration::from_secs(2 * 60 * 60);
    assert_eq!(pair.server_ref().poll_timeout(), Some(keepalive));
    pair.advance(Duration::from_secs(10));
    let events = pair.client_events();
    assert!(events.is_empty(), "{events:?}");
    let events = pair.server_events();
    assert!(events.is_empty(), "{events:?}");
}

/// Only the expired call ends; the others go on, each at its own deadline.
#[test]
fn deadlines_are_per_call() {
    let mut pair = GrpcPair::new();
    let calls: Vec<_> = [30, 10, 20]
        .iter()
        .map(|&t| {
            pair.start_call(CallOptions {
                timeout: Some(ms(t)),
                ..CallOptions::new("/pkg.Svc/Slow")
            })
        })
        .collect();
    let open = pair.start_call(CallOptions::new("/pkg.Svc/NoDeadline"));
    pair.drive();
    let mut order = Vec::new();
    for _ in 0..3 {
        pair.advance(ms(10));
        for e in pair.client_events() {
            if let Event::Finished { call, status, .. } = e {
                assert_eq!(status.code(), Code::DeadlineExceeded);
                order.push(call);
            }
        }
    }
    assert_eq!(order, [calls[1], calls[2], calls[0]]);
    assert_eq!(pair.client_ref().active_calls(), 1);
    pair.client().close_send(open).unwrap();
    pair.drive();
    let started: Vec<_> = std::iter::from_fn(|| pair.accept()).collect();
    let (scall, _) = started
        .into_iter()
        .find(|(c, _)| c.stream_id() == open.stream_id())
        .unwrap();
    pair.respond(scall, &[], &Status::ok());
    pair.drive();
    assert_eq!(
        finished(&pair.client_events(), open).unwrap().0.code(),
        Code::Ok
    );
}

/// The server's OK is in flight when the client's deadline passes: the client
/// reports DEADLINE_EXCEEDED once, and the late trailers change nothing.
#[test]
fn deadline_races_the_answer() {
    let mut pair = GrpcPair::new();
    let call = pair.start_call(CallOptions {
        timeout: Some(ms(50)),
        ..CallOptions::new("/pkg.Svc/Race")
    });
    pair.client().close_send(call).unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    pair.advance(ms(40));
    pair.set_link(Side::Client, Link::Held);
    pair.respond(
        scall,
        &[Bytes::from_static(b"just in time?")],
        &Status::ok(),
    );
    pair.advance(ms(20));
    pair.set_link(Side::Client, Link::Open);
    pair.drive();
    let events = pair.client_events();
    assert_lifecycle(&events);
    let terminals: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::Finished { .. }))
        .collect();
    assert_eq!(terminals.len(), 1, "{events:?}");
    assert_eq!(
        finished(&events, call).unwrap().0.code(),
        Code::DeadlineExceeded
    );
    assert!(pair.client_ref().h2().error().is_none());
    assert!(pair.server_ref().h2().error().is_none());
}

/// A zero timeout expires at once; the server either never hears of the call
/// or sees it cancelled.
#[test]
fn zero_timeout_expires_at_once() {
    let mut pair = GrpcPair::new();
    pair.drive();
    let call = pair.start_call(CallOptions {
        timeout: Some(Duration::ZERO),
        ..CallOptions::new("/pkg.Svc/Now")
    });
    pair.drive();
    let events = pair.client_events();
    assert_eq!(
        finished(&events, call).unwrap().0.code(),
        Code::DeadlineExceeded
    );
    let server = pair.server_events();
    assert_lifecycle(&server);
    if !server.is_empty() {
        assert!(matches!(server.first(), Some(Event::CallStarted { .. })));
        assert!(matches!(server.last(), Some(Event::Cancelled { .. })));
    }
    assert_eq!(pair.server_ref().active_calls(), 0);
}
