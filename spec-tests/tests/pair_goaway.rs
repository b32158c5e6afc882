//! GOAWAY (RFC 9113 §6.8) between a real client and server: graceful shutdown
//! with streams in flight, and refusal of streams above the last stream id.

use bytes::Bytes;
use grpc_sansio::h2::frame::{Frame, GoAway};
use grpc_sansio::h2::{Config, ErrorCode, Event, Initiator, StreamId, UserError};
use spec_tests::pair::{self, Pair, Side};

fn ready() -> Pair {
    let mut pair = Pair::new();
    pair.drive();
    pair
}

/// The GOAWAY frames `side` sent, as (last stream id, code).
fn goaways(pair: &Pair, side: Side) -> Vec<(StreamId, ErrorCode)> {
    pair.sent_frames(side)
        .into_iter()
        .filter_map(|f| match f {
            Frame::GoAway(g) => Some((g.last_stream_id, g.error_code)),
            _ => None,
        })
        .collect()
}

/// The GoAway events in `events`, as (last stream id, code).
fn goaway_events(events: &[Event]) -> Vec<(StreamId, ErrorCode)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::GoAway {
                last_stream_id,
                code,
                ..
            } => Some((*last_stream_id, *code)),
            _ => None,
        })
        .collect()
}

#[test]
fn graceful_shutdown_lets_streams_in_flight_finish() {
    let mut pair = ready();
    let a = pair
        .client()
        .open_stream(pair::request("POST", "/a"), false)
        .unwrap();
    pair.client()
        .send_data(a, Bytes::from_static(b"part one"), false)
        .unwrap();
    pair.drive();
    assert_eq!(pair.server_events().len(), 2);

    pair.server().shutdown().unwrap();
    // The client opens another stream before it hears of the shutdown.
    let b = pair
        .client()
        .open_stream(pair::request("POST", "/b"), false)
        .unwrap();
    pair.step();
    // The first GOAWAY names 2^31-1: the client learns of the shutdown, and
    // stream b, which crossed it, was accepted.
    let events = pair.client_events();
    assert_eq!(
        goaway_events(&events),
        vec![(StreamId::MAX, ErrorCode::NO_ERROR)]
    );
    assert!(events.iter().all(|e| !matches!(e, Event::Reset { .. })));
    assert_eq!(
        pair.client().open_stream(pair::request("GET", "/c"), true),
        Err(UserError::GoingAway)
    );
    let server_events = pair.server_events();
    assert_eq!(pair::header_blocks(&server_events, b).len(), 1);

    // After the PING round trip the final GOAWAY names the last stream.
    pair.drive();
    let events = pair.client_events();
    assert_eq!(goaway_events(&events), vec![(b, ErrorCode::NO_ERROR)]);
    assert_eq!(
        goaways(&pair, Side::Server),
        vec![
            (StreamId::MAX, ErrorCode::NO_ERROR),
            (b, ErrorCode::NO_ERROR)
        ]
    );
    assert!(!pair.client().is_closed(), "two streams still open");
    assert!(!pair.server().is_closed());

    // Both streams finish normally.
    for id in [a, b] {
        pair.client()
            .send_data(id, Bytes::from_static(b"last part"), true)
            .unwrap();
        pair.server()
            .send_headers(id, pair::response(200), false)
            .unwrap();
        pair.server()
            .send_data(id, Bytes::from_static(b"done"), true)
            .unwrap();
    }
    pair.drive();
    let events = pair.client_events();
    for id in [a, b] {
        assert_eq!(pair::body(&events, id), b"done");
    }
    assert_eq!(
        pair.client().open_stream(pair::request("GET", "/d"), true),
        Err(UserError::GoingAway)
    );
    assert!(pair.client().is_closed());
    assert!(pair.server().is_closed());
    assert!(pair.client().error().is_none());
    assert!(pair.server().error().is_none());
}

#[test]
fn graceful_shutdown_of_an_idle_connection_closes_both_sides() {
    let mut pair = ready();
    pair.server().shutdown().unwrap();
    pair.drive();
    assert_eq!(
        goaways(&pair, Side::Server),
        vec![
            (StreamId::MAX, ErrorCode::NO_ERROR),
            (StreamId::ZERO, ErrorCode::NO_ERROR)
        ]
    );
    assert!(pair.is_closed());
}

#[test]
fn shutting_down_a_closed_connection_sends_nothing_and_keeps_it_closed() {
    let mut pair = ready();
    pair.server().shutdown().unwrap();
    pair.drive();
    assert!(pair.client().is_closed(), "the server's GOAWAY closed it");
    let sent = pair.sent_frames(Side::Client).len();
    pair.client().shutdown().unwrap();
    assert!(pair.client().is_closed());
    pair.drive();
    assert_eq!(
        pair.sent_frames(Side::Client).len(),
        sent,
        "no GOAWAY of its own"
    );
}

#[test]
fn a_client_shutdown_closes_both_sides_once_streams_finish() {
    let mut pair = ready();
    let id = pair
        .client()
        .open_stream(pair::request("GET", "/"), true)
        .unwrap();
    pair.drive();
    pair.client().shutdown().unwrap();
    pair.drive();
    let events = pair.server_events();
    assert_eq!(
        goaway_events(&events),
        vec![(StreamId::ZERO, ErrorCode::NO_ERROR)]
    );
    assert!(!pair.server().is_closed(), "stream {id} is still open");
    assert_eq!(
        pair.client().open_stream(pair::request("GET", "/"), true),
        Err(UserError::GoingAway)
    );
    pair.server()
        .send_headers(id, pair::response(200), true)
        .unwrap();
    pair.drive();
    assert_eq!(pair::header_blocks(&pair.client_events(), id).len(), 1);
    assert!(pair.is_closed());
}

#[test]
fn goaway_refuses_the_clients_streams_above_the_last_id() {
    let mut pair = ready();
    let a = pair
        .client()
        .open_stream(pair::request("POST", "/a"), false)
        .unwrap();
    let b = pair
        .client()
        .open_stream(pair::request("POST", "/b"), false)
        .unwrap();
    pair.drive();
    // Two more streams cross the server's immediate GOAWAY, one with data.
    let c = pair
        .client()
        .open_stream(pair::request("POST", "/c"), false)
        .unwrap();
    pair.client()
        .send_data(c, pair::pattern(1_000, 0), false)
        .unwrap();
    let d = pair
        .client()
        .open_stream(pair::request("GET", "/d"), true)
        .unwrap();
    pair.server()
        .go_away(ErrorCode::NO_ERROR, Bytes::from_static(b"maintenance"))
        .unwrap();
    pair.drive();

    let events = pair.client_events();
    assert_eq!(
        events,
        vec![
            Event::Reset {
                stream: c,
                code: ErrorCode::REFUSED_STREAM,
                initiator: Initiator::Remote
            },
            Event::Reset {
                stream: d,
                code: ErrorCode::REFUSED_STREAM,
                initiator: Initiator::Remote
            },
            Event::GoAway {
                last_stream_id: b,
                code: ErrorCode::NO_ERROR,
                debug_data: Bytes::from_static(b"maintenance"),
            },
        ]
    );
    let server_events = pair.server_events();
    assert!(
        server_events.iter().all(|e| match e {
            Event::Headers { stream, .. } | Event::Data { stream, .. } =>
                *stream != c && *stream != d,
            _ => true,
        }),
        "streams above the last id are ignored: {server_events:?}"
    );
    assert!(pair.server().error().is_none());
    assert_eq!(pair.client().active_streams(), 2);
    assert_eq!(
        pair.client().send_data(c, Bytes::from_static(b"x"), true),
        Err(UserError::UnknownStream(c))
    );

    // The streams below finish.
    for id in [a, b] {
        pair.client().send_data(id, Bytes::new(), true).unwrap();
        pair.server()
            .send_headers(id, pair::response(200), true)
            .unwrap();
    }
    pair.drive();
    assert!(pair.is_closed());
}

#[test]
fn an_injected_goaway_refuses_streams_in_ascending_order() {
    let mut pair = ready();
    let ids: Vec<StreamId> = (0..4)
        .map(|_| {
            pair.client()
                .open_stream(pair::request("GET", "/"), true)
                .unwrap()
        })
        .collect();
    pair.drive();
    pair.inject_frame(
        Side::Client,
        GoAway {
            last_stream_id: ids[0],
            error_code: ErrorCode::ENHANCE_YOUR_CALM,
            debug_data: Bytes::new(),
        },
    );
    pair.deliver(Side::Client);
    let events = pair.client_events();
    let refused: Vec<StreamId> = events
        .iter()
        .filter_map(|e| match e {
            Event::Reset {
                stream,
                code: ErrorCode::REFUSED_STREAM,
                initiator: Initiator::Remote,
            } => Some(*stream),
            _ => None,
        })
        .collect();
    assert_eq!(refused, ids[1..]);
    assert_eq!(
        goaway_events(&events),
        vec![(ids[0], ErrorCode::ENHANCE_YOUR_CALM)]
    );
    assert!(matches!(events.last(), Some(Event::GoAway { .. })));
    assert_eq!(pair.client().active_streams(), 1);
    assert!(pair.client().error().is_none(), "a GOAWAY is not our error");
}

#[test]
fn a_second_goaway_may_only_lower_the_last_id() {
    let mut pair = Pair::with_configs(Config::default(), Config::default());
    pair.drive();
    let ids: Vec<StreamId> = (0..3)
        .map(|_| {
            pair.client()
                .open_stream(pair::request("GET", "/"), true)
                .unwrap()
        })
        .collect();
    pair.drive();
    for last in [ids[1], ids[2], ids[0]] {
        pair.inject_frame(
            Side::Client,
            GoAway {
                last_stream_id: last,
                error_code: ErrorCode::NO_ERROR,
                debug_data: Bytes::new(),
            },
        );
    }
    pair.deliver(Side::Client);
    let events = pair.client_events();
    let refused: Vec<StreamId> = events
        .iter()
        .filter_map(|e| match e {
            Event::Reset { stream, .. } => Some(*stream),
            _ => None,
        })
        .collect();
    // Refused once each, never "un-refused" by the higher second GOAWAY.
    assert_eq!(refused, vec![ids[2], ids[1]]);
    assert_eq!(pair.client().active_streams(), 1);
}
