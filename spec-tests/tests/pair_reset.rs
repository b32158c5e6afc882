//! RST_STREAM (RFC 9113 §6.4) between a real client and server: resets from
//! either side, late frames after a reset, and the rapid-reset bound.

use std::time::Duration;

use bytes::Bytes;
use grpc_sansio::h2::frame::Frame;
use grpc_sansio::h2::{Config, ErrorCode, Event, Initiator, Reason, StreamId, UserError};
use spec_tests::pair::{self, Pair, Side};

fn ready(client: Config, server: Config) -> Pair {
    let mut pair = Pair::with_configs(client, server);
    pair.drive();
    pair
}

/// A stream with a request under way (headers and some body, no END_STREAM).
fn open_upload(pair: &mut Pair) -> StreamId {
    let id = pair
        .client()
        .open_stream(pair::request("POST", "/"), false)
        .unwrap();
    pair.client()
        .send_data(id, pair::pattern(1_000, 0), false)
        .unwrap();
    pair.drive();
    let events = pair.server_events();
    assert_eq!(pair::body(&events, id).len(), 1_000);
    id
}

#[test]
fn a_client_reset_reaches_the_server() {
    let mut pair = ready(Config::default(), Config::default());
    let id = open_upload(&mut pair);
    pair.client().reset(id, ErrorCode::CANCEL).unwrap();
    assert_eq!(pair.client().stream_state(id), None);
    pair.drive();
    assert_eq!(
        pair.server_events(),
        vec![Event::Reset {
            stream: id,
            code: ErrorCode::CANCEL,
            initiator: Initiator::Remote
        }]
    );
    assert!(pair.client_events().is_empty(), "our own reset is no event");
    assert_eq!(pair.server().active_streams(), 0);
    assert_eq!(
        pair.server().send_headers(id, pair::response(200), true),
        Err(UserError::UnknownStream(id))
    );
    assert!(pair.server().error().is_none());
}

#[test]
fn a_server_reset_reaches_the_client_mid_upload() {
    let mut pair = ready(Config::default(), Config::default());
    let id = open_upload(&mut pair);
    // The client keeps sending; the server resets; the DATA in flight crosses
    // the RST_STREAM and is ignored by the server.
    pair.client()
        .send_data(id, pair::pattern(30_000, 1), false)
        .unwrap();
    pair.server().reset(id, ErrorCode::INTERNAL_ERROR).unwrap();
    pair.drive();
    assert_eq!(
        pair.client_events(),
        vec![Event::Reset {
            stream: id,
            code: ErrorCode::INTERNAL_ERROR,
            initiator: Initiator::Remote
        }]
    );
    assert!(
        pair.server_events().is_empty(),
        "late DATA after our reset is ignored"
    );
    assert_eq!(
        pair.client().send_data(id, Bytes::from_static(b"x"), true),
        Err(UserError::UnknownStream(id))
    );
    for side in [Side::Client, Side::Server] {
        assert!(pair.conn(side).error().is_none(), "{side:?}");
        assert_eq!(pair.conn(side).active_streams(), 0);
    }
}

#[test]
fn late_frames_after_our_reset_are_ignored() {
    let mut pair = ready(Config::default(), Config::default());
    let id = open_upload(&mut pair);
    pair.server()
        .send_headers(id, pair::response(200), false)
        .unwrap();
    pair.server()
        .send_data(id, pair::pattern(100_000, 2), false)
        .unwrap();
    pair.server()
        .send_headers(id, pair::trailers(&[("grpc-status", "0")]), true)
        .unwrap();
    // The response is on the wire when the client resets.
    pair.flush(Side::Server);
    assert!(!pair.in_flight(Side::Client).is_empty());
    pair.client().reset(id, ErrorCode::CANCEL).unwrap();
    pair.deliver(Side::Client);
    assert!(pair.client().error().is_none());
    assert!(
        pair.client_events().is_empty(),
        "no events for a stream we reset"
    );
    pair.drive();
    assert!(pair.client().error().is_none());
    assert!(pair.server().error().is_none());
    assert!(pair.client_events().is_empty());
    assert_eq!(
        pair.server_events(),
        vec![Event::Reset {
            stream: id,
            code: ErrorCode::CANCEL,
            initiator: Initiator::Remote
        }]
    );
}

/// Data discarded for a stream we reset still gives back connection credit
/// (python-hyper/h2 #1210): otherwise the connection window leaks away.
#[test]
fn discarded_data_returns_connection_credit() {
    let mut pair = ready(Config::default(), Config::default());
    // 20 x 65 535 octets is more than the 1 MiB connection window.
    for _ in 0..20 {
        let id = pair
            .client()
            .open_stream(pair::request("GET", "/"), true)
            .unwrap();
        pair.drive();
        pair.server()
            .send_headers(id, pair::response(200), false)
            .unwrap();
        pair.server()
            .send_data(id, pair::pattern(65_535, 3), true)
            .unwrap();
        pair.flush(Side::Server);
        pair.client().reset(id, ErrorCode::CANCEL).unwrap();
        pair.drive();
        assert!(pair.client_events().is_empty());
    }
    let id = pair
        .client()
        .open_stream(pair::request("GET", "/"), true)
        .unwrap();
    pair.drive();
    pair.set_auto_release(Side::Client, true);
    pair.server()
        .send_headers(id, pair::response(200), false)
        .unwrap();
    pair.server()
        .send_data(id, pair::pattern(200_000, 4), true)
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    assert_eq!(
        pair::body(&events, id).len(),
        200_000,
        "the window did not leak"
    );
    assert!(pair.client().error().is_none());
    assert!(pair.server().error().is_none());
}

#[test]
fn a_stream_reset_before_its_headers_left_sends_nothing() {
    let mut pair = ready(Config::default(), Config::default());
    let id = pair
        .client()
        .open_stream(pair::request("GET", "/"), true)
        .unwrap();
    pair.client().reset(id, ErrorCode::CANCEL).unwrap();
    pair.drive();
    assert!(pair.server_events().is_empty());
    assert!(pair.server().error().is_none());
    assert!(!pair
        .sent_frames(Side::Client)
        .iter()
        .any(|f| matches!(f, Frame::RstStream(_) | Frame::Headers(_))));
    // The next stream skips the unused id, which is legal (§5.1.1).
    let next = pair
        .client()
        .open_stream(pair::request("GET", "/"), true)
        .unwrap();
    assert!(next > id);
    pair.drive();
    assert_eq!(pair::header_blocks(&pair.server_events(), next).len(), 1);
    assert!(pair.server().error().is_none());
}

/// Opens a stream, gets its HEADERS onto the wire, resets it, and steps.
fn open_and_reset(pair: &mut Pair) -> Result<StreamId, UserError> {
    let id = pair.client().open_stream(pair::request("GET", "/"), true)?;
    pair.flush(Side::Client);
    pair.client().reset(id, ErrorCode::CANCEL)?;
    pair.step();
    Ok(id)
}

#[test]
fn rapid_reset_is_closed_with_enhance_your_calm() {
    const LIMIT: u32 = 10;
    let server_cfg = Config {
        max_resets_per_window: LIMIT,
        ..Config::default()
    };
    let mut pair = ready(Config::default(), server_cfg);
    for _ in 0..LIMIT {
        open_and_reset(&mut pair).unwrap();
    }
    assert!(
        pair.server().error().is_none(),
        "{LIMIT} resets are allowed"
    );
    open_and_reset(&mut pair).unwrap();
    pair.drive();
    let error = pair.server().error().expect("one reset too many").clone();
    assert_eq!(error.code(), ErrorCode::ENHANCE_YOUR_CALM);
    assert!(matches!(error.reason(), Reason::Flood(_)), "{error}");
    let events = pair.client_events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::GoAway {
                code: ErrorCode::ENHANCE_YOUR_CALM,
                ..
            }
        )),
        "{events:?}"
    );
    assert_eq!(
        pair.client().open_stream(pair::request("GET", "/"), true),
        Err(UserError::GoingAway)
    );
    assert!(pair.is_closed());
}

#[test]
fn resets_spread_over_time_are_allowed() {
    const LIMIT: u32 = 10;
    let server_cfg = Config {
        max_resets_per_window: LIMIT,
        reset_window: Duration::from_secs(30),
        ..Config::default()
    };
    let mut pair = ready(Config::default(), server_cfg);
    for _ in 0..5 {
        for _ in 0..LIMIT {
            open_and_reset(&mut pair).unwrap();
        }
        pair.advance(Duration::from_secs(30));
    }
    assert!(pair.server().error().is_none());
    // Still counted within one window.
    for _ in 0..=LIMIT {
        open_and_reset(&mut pair).unwrap();
    }
    pair.drive();
    assert_eq!(
        pair.server().error().map(|e| e.code()),
        Some(ErrorCode::ENHANCE_YOUR_CALM)
    );
}

#[test]
fn reset_codes_arrive_unchanged() {
    let mut pair = ready(Config::default(), Config::default());
    let codes = [
        ErrorCode::NO_ERROR,
        ErrorCode::PROTOCOL_ERROR,
        ErrorCode::REFUSED_STREAM,
        ErrorCode::CANCEL,
        ErrorCode(0xdead_beef),
    ];
    for (i, code) in codes.into_iter().enumerate() {
        let id = open_upload(&mut pair);
        let side = if i % 2 == 0 {
            Side::Client
        } else {
            Side::Server
        };
        pair.conn(side).reset(id, code).unwrap();
        pair.drive();
        assert_eq!(
            pair.events(side.peer()),
            vec![Event::Reset {
                stream: id,
                code,
                initiator: Initiator::Remote
            }]
        );
        assert!(pair.events(side).is_empty());
    }
}
