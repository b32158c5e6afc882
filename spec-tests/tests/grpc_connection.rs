//! Connection management on virtual time: graceful shutdown (GOAWAY) with
//! calls in flight, calls refused above the last stream id, keepalive PINGs
//! and their failure, the server's ping policy (ENHANCE_YOUR_CALM
//! "too_many_pings"), and `max_connection_idle` / `max_connection_age`.

use std::time::Duration;

use bytes::Bytes;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallError, CallId, CallOptions, Config, Event};
use grpc_sansio::h2::{self, frame::Frame, ErrorCode, StreamId, UserError};
use grpc_sansio::testing::{
    self, assert_lifecycle, cancelled, finished, messages, GrpcPair, Link, RawServerPair, Side,
};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn goaway_events(events: &[Event]) -> Vec<ErrorCode> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::GoAway { code } => Some(*code),
            _ => None,
        })
        .collect()
}

/// (last stream id, code, debug data) of every GOAWAY `side` wrote.
fn goaway_frames<C, S>(pair: &GrpcPair<C, S>, side: Side) -> Vec<(StreamId, ErrorCode, Bytes)>
where
    C: testing::Endpoint,
    S: testing::Endpoint,
{
    pair.sent_frames(side)
        .into_iter()
        .filter_map(|f| match f {
            Frame::GoAway(g) => Some((g.last_stream_id, g.error_code, g.debug_data)),
            _ => None,
        })
        .collect()
}

fn keepalive_pings<C, S>(pair: &GrpcPair<C, S>, side: Side) -> usize
where
    C: testing::Endpoint,
    S: testing::Endpoint,
{
    pair.sent_frames(side)
        .into_iter()
        .filter(|f| matches!(f, Frame::Ping(p) if !p.ack))
        .count()
}

/// A started call both sides know: (client call, server call).
fn open_call(pair: &mut GrpcPair, path: &str) -> (CallId, CallId) {
    let call = pair.start_call(CallOptions::new(path));
    pair.drive();
    let (scall, _) = pair.accept().expect("call started");
    (call, scall)
}

/// Server `shutdown()` with calls in flight: the client hears GOAWAY and may
/// start no new call, a call that crossed the GOAWAY is still served, every
/// call in flight finishes normally, and both connections end up closed.
#[test]
fn graceful_shutdown_with_calls_in_flight() {
    let mut pair = GrpcPair::new();
    pair.set_recording(Side::Server, true);
    let (a, sa) = open_call(&mut pair, "/pkg.Svc/A");
    let (b, sb) = open_call(&mut pair, "/pkg.Svc/B");
    pair.client()
        .send_message(a, Bytes::from_static(b"a1"))
        .unwrap();
    pair.drive();
    pair.server().shutdown();
    // A call started before the client hears of it.
    let crossed = pair.start_call(CallOptions::new("/pkg.Svc/C"));
    pair.drive();
    let events = pair.client_events();
    let codes = goaway_events(&events);
    assert!(!codes.is_empty(), "{events:?}");
    assert!(codes.iter().all(|c| *c == ErrorCode::NO_ERROR), "{codes:?}");
    let now = pair.now();
    assert!(matches!(
        pair.client()
            .start_call(now, CallOptions::new("/pkg.Svc/D")),
        Err(CallError::H2(UserError::GoingAway))
    ));
    // The final GOAWAY names the last call the server took, the crossed one.
    let frames = goaway_frames(&pair, Side::Server);
    assert_eq!(frames.last().unwrap().0, crossed.stream_id(), "{frames:?}");
    assert!(!pair.is_closed());

    let mut started = vec![];
    while let Some((c, _)) = pair.accept() {
        started.push(c);
    }
    assert_eq!(started.len(), 1);
    let sc = started[0];
    for (call, scall) in [(a, sa), (b, sb), (crossed, sc)] {
        pair.client()
            .send_message(call, Bytes::from_static(b"more"))
            .unwrap();
        pair.client().close_send(call).unwrap();
        pair.drive();
        pair.respond(scall, &[Bytes::from_static(b"done")], &Status::ok());
        pair.drive();
    }
    let events = pair.client_events();
    assert_lifecycle(&events);
    for call in [a, b, crossed] {
        assert_eq!(messages(&events, call), [Bytes::from_static(b"done")]);
        assert_eq!(finished(&events, call).unwrap().0.code(), Code::Ok);
    }
    let server = pair.server_events();
    assert!(
        server.iter().all(|e| !matches!(e, Event::Cancelled { .. })),
        "{server:?}"
    );
    assert!(pair.client_ref().is_closed(), "client not closed");
    assert!(pair.server_ref().is_closed(), "server not closed");
}

#[test]
fn shutdown_without_calls_closes_both() {
    let mut pair = GrpcPair::new();
    pair.drive();
    pair.server().shutdown();
    pair.drive();
    assert_eq!(goaway_events(&pair.client_events()).len(), 2);
    assert!(pair.is_closed());

    let mut pair = GrpcPair::new();
    let (call, scall) = open_call(&mut pair, "/pkg.Svc/A");
    pair.client().shutdown();
    pair.drive();
    assert_eq!(goaway_events(&pair.server_events()), [ErrorCode::NO_ERROR]);
    assert!(!pair.is_closed(), "a call is still running");
    pair.client().close_send(call).unwrap();
    pair.drive();
    pair.respond(scall, &[], &Status::ok());
    pair.drive();
    assert_eq!(
        finished(&pair.client_events(), call).unwrap().0.code(),
        Code::Ok
    );
    assert!(pair.is_closed());
}

/// A GOAWAY whose last stream id is below a call: that call was never
/// processed, so it ends UNAVAILABLE (safe to retry); the call below finishes.
#[test]
fn calls_above_the_last_stream_id_are_unavailable() {
    let mut pair = RawServerPair::raw_server(Config::client(), h2::Config::default());
    pair.drive();
    let first = pair.start_call(CallOptions::new("/pkg.Svc/A"));
    pair.drive();
    let second = pair.start_call(CallOptions::new("/pkg.Svc/B"));
    pair.set_link(Side::Server, Link::Held);
    pair.step();
    pair.server()
        .go_away(ErrorCode::NO_ERROR, Bytes::new())
        .unwrap();
    pair.flush(Side::Server);
    pair.deliver(Side::Client);
    let events = pair.client_events();
    assert_eq!(goaway_events(&events), [ErrorCode::NO_ERROR]);
    let (status, _) = finished(&events, second).unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(status.code(), Code::Unavailable);
    assert!(finished(&events, first).is_none());
    pair.set_link(Side::Server, Link::Open);
    let s = first.stream_id();
    pair.server()
        .send_headers(s, testing::grpc_response(), false)
        .unwrap();
    pair.server()
        .send_headers(
            s,
            vec![grpc_sansio::hpack::Header::new("grpc-status", "0")],
            true,
        )
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    assert_lifecycle(&events);
    assert_eq!(finished(&events, first).unwrap().0.code(), Code::Ok);
    assert_eq!(pair.client_ref().active_calls(), 0);
}

fn keepalive_client(time: u64, timeout: u64) -> Config {
    let mut c = Config::client();
    c.keepalive_time = Some(secs(time));
    c.keepalive_timeout = secs(timeout);
    c
}

fn tolerant_server() -> Config {
    let mut s = Config::server();
    s.min_ping_interval = secs(1);
    s
}

/// A client with `keepalive_time` pings after that long without reading while
/// a call is active, and not when no call is.
#[test]
fn keepalive_pings_while_a_call_is_active() {
    let mut pair = GrpcPair::with_configs(keepalive_client(10, 5), tolerant_server());
    pair.set_recording(Side::Client, true);
    let (call, scall) = open_call(&mut pair, "/pkg.Svc/Long");
    pair.advance(Duration::from_millis(9_999));
    assert_eq!(keepalive_pings(&pair, Side::Client), 0);
    pair.advance(Duration::from_millis(1));
    assert_eq!(keepalive_pings(&pair, Side::Client), 1);
    pair.advance(secs(15));
    assert_eq!(keepalive_pings(&pair, Side::Client), 2);
    assert!(pair.client_events().is_empty(), "the call is healthy");
    pair.client().close_send(call).unwrap();
    pair.drive();
    pair.respond(scall, &[], &Status::ok());
    pair.drive();
    assert_eq!(
        finished(&pair.client_events(), call).unwrap().0.code(),
        Code::Ok
    );
    pair.advance(secs(100));
    assert_eq!(
        keepalive_pings(&pair, Side::Client),
        2,
        "pinged without calls"
    );
    assert!(pair
        .server_events()
        .iter()
        .all(|e| !matches!(e, Event::GoAway { .. })));
}

/// The PING is unanswered (the server's octets are lost): after
/// `keepalive_timeout` the client's calls end UNAVAILABLE and the connection
/// is done.
#[test]
fn unanswered_keepalive_ends_client_calls_unavailable() {
    let mut pair = GrpcPair::with_configs(keepalive_client(10, 5), tolerant_server());
    let (a, _) = open_call(&mut pair, "/pkg.Svc/A");
    let (b, _) = open_call(&mut pair, "/pkg.Svc/B");
    pair.set_link(Side::Client, Link::Cut);
    pair.advance(secs(10));
    pair.advance(Duration::from_millis(4_999));
    assert!(pair.client_events().is_empty());
    pair.advance(Duration::from_millis(1));
    let events = pair.client_events();
    assert_lifecycle(&events);
    for call in [a, b] {
        assert_eq!(
            finished(&events, call).unwrap().0.code(),
            Code::Unavailable,
            "{events:?}"
        );
    }
    assert!(pair.client_ref().is_closed());
    let now = pair.now();
    assert!(pair
        .client()
        .start_call(now, CallOptions::new("/pkg.Svc/C"))
        .is_err());
}

/// The server's keepalive unanswered: its calls are cancelled with CANCELLED.
#[test]
fn unanswered_server_keepalive_cancels_server_calls() {
    let mut server = Config::server();
    server.keepalive_time = Some(secs(60));
    server.keepalive_timeout = secs(20);
    let mut pair = GrpcPair::with_configs(Config::client(), server);
    let (_, scall) = open_call(&mut pair, "/pkg.Svc/A");
    pair.set_link(Side::Server, Link::Cut);
    pair.advance(secs(79));
    assert!(pair.server_events().is_empty());
    pair.advance(secs(1));
    let events = pair.server_events();
    assert_eq!(cancelled(&events, scall).unwrap().code(), Code::Cancelled);
    assert!(pair.server_ref().is_closed());
}

/// The server's ping policy: a client pinging faster than
/// `min_ping_interval` (default 5 minutes) is forgiven twice; the third
/// strike gets GOAWAY ENHANCE_YOUR_CALM with debug data "too_many_pings", which
/// the client receives.
#[test]
fn too_many_pings_gets_enhance_your_calm() {
    let mut pair = GrpcPair::with_configs(keepalive_client(1, 20), Config::server());
    pair.set_recording(Side::Server, true);
    let (call, scall) = open_call(&mut pair, "/pkg.Svc/Long");
    // Pings at 1 s, 2 s, 3 s: the first sets the clock, then two strikes.
    pair.advance(secs(3));
    assert!(goaway_events(pair.peek_client_events()).is_empty());
    assert!(goaway_frames(&pair, Side::Server).is_empty());
    assert!(!pair.server_ref().is_closed());
    // The ping at 4 s is the third strike.
    pair.advance(secs(1));
    let frames = goaway_frames(&pair, Side::Server);
    assert_eq!(
        frames.len(),
        1,
        "no GOAWAY written; server closed: {}, server events: {:?}",
        pair.server_ref().is_closed(),
        pair.peek_server_events()
    );
    assert_eq!(frames[0].1, ErrorCode::ENHANCE_YOUR_CALM);
    assert_eq!(&frames[0].2[..], b"too_many_pings");
    let mut events = pair.client_events();
    assert_eq!(
        goaway_events(&events),
        [ErrorCode::ENHANCE_YOUR_CALM],
        "{events:?}"
    );
    let server = pair.server_events();
    assert_eq!(
        cancelled(&server, scall).map(Status::code),
        Some(Code::Cancelled)
    );
    assert!(pair.server_ref().is_closed());
    // The server closes the transport. The client's call ends once: UNAVAILABLE
    // for the lost connection, or CANCELLED if the server reset it first.
    pair.client().transport_closed();
    events.extend(pair.client_events());
    assert_lifecycle(&events);
    let (status, _) = finished(&events, call).expect("the call ended");
    assert!(
        matches!(status.code(), Code::Unavailable | Code::Cancelled),
        "{status:?}"
    );
}

/// Pings slower than `min_ping_interval` are never punished, and neither are
/// fast ones while the server is sending (grpc-go resets the strikes when it
/// sends headers or data).
#[test]
fn pings_within_policy_are_tolerated() {
    let mut server = Config::server();
    server.min_ping_interval = secs(10);
    let mut pair = GrpcPair::with_configs(keepalive_client(10, 5), server);
    pair.set_recording(Side::Server, true);
    pair.set_recording(Side::Client, true);
    let (_call, _scall) = open_call(&mut pair, "/pkg.Svc/Long");
    pair.advance(secs(100));
    assert_eq!(keepalive_pings(&pair, Side::Client), 10);
    assert!(goaway_frames(&pair, Side::Server).is_empty());
    assert!(pair.client_events().is_empty());

    let mut pair = GrpcPair::with_configs(keepalive_client(1, 5), Config::server());
    pair.set_recording(Side::Server, true);
    let (call, scall2) = open_call(&mut pair, "/pkg.Svc/Long");
    for i in 0..20u8 {
        pair.advance(secs(1));
        pair.server()
            .send_message(scall2, Bytes::from(vec![i]))
            .unwrap();
        // The client reads it at once, so it does not ping for another second.
        pair.drive();
    }
    assert!(goaway_frames(&pair, Side::Server).is_empty());
    assert_eq!(messages(&pair.client_events(), call).len(), 20);
}

/// `max_connection_idle`: a server with no call for that long shuts down
/// gracefully; a running call holds it off, and the idle time counts from
/// when the last call ended.
#[test]
fn max_connection_idle_shuts_down_gracefully() {
    let mut server = Config::server();
    server.max_connection_idle = Some(secs(30));
    let mut pair = GrpcPair::with_configs(Config::client(), server.clone());
    pair.drive();
    pair.advance(secs(29));
    assert!(goaway_events(&pair.client_events()).is_empty());
    pair.advance(secs(1));
    assert!(!goaway_events(&pair.client_events()).is_empty());
    pair.drive();
    assert!(pair.is_closed());

    let mut pair = GrpcPair::with_configs(Config::client(), server);
    let (call, scall) = open_call(&mut pair, "/pkg.Svc/Long");
    pair.client().close_send(call).unwrap();
    pair.drive();
    pair.advance(secs(60));
    assert!(
        goaway_events(&pair.client_events()).is_empty(),
        "idle while a call ran"
    );
    pair.respond(scall, &[], &Status::ok());
    pair.drive();
    let events = pair.client_events();
    assert_eq!(finished(&events, call).unwrap().0.code(), Code::Ok);
    assert!(
        goaway_events(&events).is_empty(),
        "GOAWAY the moment the call ended, idle time counted from before it"
    );
    pair.advance(secs(29));
    assert!(goaway_events(&pair.client_events()).is_empty());
    pair.advance(secs(1));
    assert!(!goaway_events(&pair.client_events()).is_empty());
    pair.drive();
    assert!(pair.is_closed());
}

/// `max_connection_age`: GOAWAY at that age while calls go on; after
/// `max_connection_age_grace` the server gives up on them (CANCELLED) and is
/// closed; the client, seeing the transport go, reports UNAVAILABLE.
#[test]
fn max_connection_age_with_grace() {
    let mut server = Config::server();
    server.max_connection_age = Some(secs(60));
    server.max_connection_age_grace = Some(secs(10));
    let mut pair = GrpcPair::with_configs(Config::client(), server);
    let (call, scall) = open_call(&mut pair, "/pkg.Svc/Long");
    pair.advance(secs(59));
    assert!(goaway_events(&pair.client_events()).is_empty());
    pair.advance(secs(1));
    assert!(!goaway_events(&pair.client_events()).is_empty());
    let now = pair.now();
    assert!(pair
        .client()
        .start_call(now, CallOptions::new("/pkg.Svc/New"))
        .is_err());
    // The call goes on during the grace period.
    pair.client()
        .send_message(call, Bytes::from_static(b"still here"))
        .unwrap();
    pair.drive();
    assert_eq!(messages(&pair.server_events(), scall).len(), 1);
    pair.server()
        .send_message(scall, Bytes::from_static(b"me too"))
        .unwrap();
    pair.drive();
    assert_eq!(messages(&pair.client_events(), call).len(), 1);
    pair.advance(secs(10));
    let server = pair.server_events();
    assert_eq!(cancelled(&server, scall).unwrap().code(), Code::Cancelled);
    assert!(pair.server_ref().is_closed());
    pair.client().transport_closed();
    assert_eq!(
        finished(&pair.client_events(), call).unwrap().0.code(),
        Code::Unavailable
    );
}

/// `shutdown_by`: a graceful shutdown whose calls have until the deadline.
/// A call that ends in time is unaffected; one still running is cut
/// (CANCELLED on the server) and the connection closes, so a stuck call
/// cannot hold a server's shutdown forever.
#[test]
fn a_bounded_shutdown_cuts_calls_still_running_at_its_deadline() {
    let mut pair = GrpcPair::new();
    let (short, sshort) = open_call(&mut pair, "/pkg.Svc/Short");
    let (long, slong) = open_call(&mut pair, "/pkg.Svc/Long");
    let deadline = pair.now() + secs(5);
    pair.server().shutdown_by(deadline);
    pair.drive();
    assert!(!goaway_events(&pair.client_events()).is_empty());
    pair.client().close_send(short).unwrap();
    pair.drive();
    pair.respond(sshort, &[], &Status::ok());
    pair.drive();
    assert!(finished(&pair.client_events(), short).unwrap().0.is_ok());
    pair.advance(secs(4));
    assert!(
        !pair.server_ref().is_closed(),
        "the long call still has time"
    );
    pair.advance(secs(1));
    let server = pair.server_events();
    assert_eq!(cancelled(&server, slong).unwrap().code(), Code::Cancelled);
    assert!(pair.server_ref().is_closed());
    pair.client().transport_closed();
    assert_eq!(
        finished(&pair.client_events(), long).unwrap().0.code(),
        Code::Unavailable
    );
}

/// Without calls, `max_connection_age` is a plain graceful shutdown.
#[test]
fn max_connection_age_without_calls() {
    let mut server = Config::server();
    server.max_connection_age = Some(secs(60));
    let mut pair = GrpcPair::with_configs(Config::client(), server);
    let (call, scall) = open_call(&mut pair, "/pkg.Svc/Short");
    pair.client().close_send(call).unwrap();
    pair.drive();
    pair.respond(scall, &[], &Status::ok());
    pair.drive();
    pair.advance(secs(60));
    let events = pair.client_events();
    assert!(!goaway_events(&events).is_empty(), "{events:?}");
    pair.drive();
    assert!(pair.is_closed());
}
