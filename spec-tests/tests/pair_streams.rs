//! Requests and responses between a real client and server: headers, bodies and
//! trailers, many streams at once, the concurrency limit and send buffers.

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use grpc_sansio::h2::frame::Frame;
use grpc_sansio::h2::{Config, ErrorCode, Event, Initiator, State, StreamId, UserError};
use spec_tests::pair::{self, Pair, Side};

/// A handshaken pair.
fn ready(client: Config, server: Config) -> Pair {
    let mut pair = Pair::with_configs(client, server);
    pair.drive();
    pair
}

#[test]
fn request_and_response_with_body_and_trailers() {
    let mut pair = ready(Config::default(), Config::default());
    let mut req = pair::request("POST", "/upload");
    req.push(grpc_sansio::hpack::Header::new("x-custom", "yes"));
    let id = pair.client().open_stream(req.clone(), false).unwrap();
    assert_eq!(id, StreamId::new(1));
    assert_eq!(pair.client().stream_state(id), Some(State::Open));
    let request_body = pair::pattern(10_000, 1);
    pair.client()
        .send_data(id, request_body.clone(), false)
        .unwrap();
    let req_trailers = pair::trailers(&[("x-checksum", "abc")]);
    pair.client()
        .send_headers(id, req_trailers.clone(), true)
        .unwrap();
    assert_eq!(pair.client().stream_state(id), Some(State::HalfClosedLocal));
    pair.drive();

    let events = pair.server_events();
    let blocks = pair::header_blocks(&events, id);
    assert_eq!(blocks, vec![(req, false), (req_trailers, true)]);
    assert_eq!(pair::body(&events, id), &request_body[..]);
    assert!(
        events.iter().all(|e| !matches!(
            e,
            Event::Data {
                end_stream: true,
                ..
            }
        )),
        "END_STREAM came with the trailers"
    );
    assert!(matches!(events.first(), Some(Event::Headers { .. })));
    assert!(matches!(
        events.last(),
        Some(Event::Headers {
            end_stream: true,
            ..
        })
    ));
    assert_eq!(
        pair.server().stream_state(id),
        Some(State::HalfClosedRemote)
    );

    let response_body = pair::pattern(20_000, 2);
    let resp_trailers = pair::trailers(&[("grpc-status", "0"), ("grpc-message", "ok")]);
    pair.server()
        .send_headers(id, pair::response(200), false)
        .unwrap();
    pair.server()
        .send_data(id, response_body.slice(..5000), false)
        .unwrap();
    pair.server()
        .send_data(id, response_body.slice(5000..), false)
        .unwrap();
    pair.server()
        .send_headers(id, resp_trailers.clone(), true)
        .unwrap();
    pair.drive();

    let events = pair.client_events();
    assert_eq!(
        pair::header_blocks(&events, id),
        vec![(pair::response(200), false), (resp_trailers, true)]
    );
    assert_eq!(pair::body(&events, id), &response_body[..]);
    for side in [Side::Client, Side::Server] {
        assert_eq!(pair.conn(side).active_streams(), 0, "{side:?}");
        assert_eq!(pair.conn(side).stream_state(id), None);
        assert!(pair.conn(side).error().is_none());
    }
}

#[test]
fn a_request_without_body_gets_a_response_without_body() {
    let mut pair = ready(Config::default(), Config::default());
    let id = pair
        .client()
        .open_stream(pair::request("GET", "/"), true)
        .unwrap();
    pair.drive();
    let events = pair.server_events();
    assert_eq!(
        pair::header_blocks(&events, id),
        vec![(pair::request("GET", "/"), true)]
    );
    pair.server()
        .send_headers(id, pair::response(204), true)
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    assert_eq!(
        pair::header_blocks(&events, id),
        vec![(pair::response(204), true)]
    );
    assert_eq!(pair.client().active_streams(), 0);
    assert_eq!(pair.server().active_streams(), 0);
}

/// RFC 9113 §8.1: a response is zero or more 1xx header blocks, then the final one.
#[test]
fn a_final_response_may_follow_an_informational_one() {
    let mut pair = ready(Config::default(), Config::default());
    let id = pair
        .client()
        .open_stream(pair::request("GET", "/"), true)
        .unwrap();
    pair.drive();
    pair.server()
        .send_headers(id, pair::response(103), false)
        .unwrap();
    // Queued behind the 1xx, not yet transmitted.
    pair.server()
        .send_headers(id, pair::response(200), false)
        .expect("a final response after a queued 1xx");
    pair.server()
        .send_data(id, Bytes::from_static(b"hello"), true)
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    assert_eq!(
        pair::header_blocks(&events, id),
        vec![(pair::response(103), false), (pair::response(200), false)]
    );
    assert_eq!(pair::body(&events, id), b"hello");

    // The same once the 1xx has left.
    let id = pair
        .client()
        .open_stream(pair::request("GET", "/2"), true)
        .unwrap();
    pair.drive();
    pair.server()
        .send_headers(id, pair::response(100), false)
        .unwrap();
    pair.drive();
    pair.server()
        .send_headers(id, pair::response(204), true)
        .expect("a final response after a transmitted 1xx");
    pair.drive();
    let events = pair.client_events();
    assert_eq!(
        pair::header_blocks(&events, id),
        vec![(pair::response(100), false), (pair::response(204), true)]
    );
}

/// Plays an echo server and a client that reads everything, until every stream
/// is answered. Returns the server's and the client's events.
fn run_echo(pair: &mut Pair, expected_streams: usize) -> (Vec<Event>, Vec<Event>) {
    let (mut server_log, mut client_log) = (Vec::new(), Vec::new());
    let mut finished = HashSet::new();
    for _ in 0..10_000 {
        pair.drive();
        let server_events = pair.server_events();
        let client_events = pair.client_events();
        if server_events.is_empty() && client_events.is_empty() {
            break;
        }
        for event in &server_events {
            match event {
                Event::Headers { stream, .. } => {
                    pair.server()
                        .send_headers(*stream, pair::response(200), false)
                        .unwrap();
                }
                Event::Data {
                    stream,
                    data,
                    end_stream,
                } => {
                    pair.server().release_capacity(*stream, data.len() as u32);
                    pair.server()
                        .send_data(*stream, data.clone(), *end_stream)
                        .unwrap();
                }
                other => panic!("server: unexpected {other:?}"),
            }
        }
        for event in &client_events {
            match event {
                Event::Data {
                    stream,
                    data,
                    end_stream,
                } => {
                    pair.client().release_capacity(*stream, data.len() as u32);
                    if *end_stream {
                        finished.insert(*stream);
                    }
                }
                Event::Headers { .. } => {}
                other => panic!("client: unexpected {other:?}"),
            }
        }
        server_log.extend(server_events);
        client_log.extend(client_events);
    }
    assert_eq!(finished.len(), expected_streams);
    (server_log, client_log)
}

#[test]
fn many_concurrent_streams_are_interleaved_and_all_complete() {
    const STREAMS: usize = 40;
    let mut pair = ready(Config::default(), Config::default());
    let mut bodies = BTreeMap::new();
    for i in 0..STREAMS {
        let id = pair
            .client()
            .open_stream(pair::request("POST", "/echo"), false)
            .unwrap();
        // Each body takes several frames; the largest take several windows.
        let body = pair::pattern(40_000 + i * 5_000, i as u8);
        pair.client().send_data(id, body.clone(), true).unwrap();
        bodies.insert(id, body);
    }
    let ids: Vec<StreamId> = bodies.keys().copied().collect();
    assert_eq!(
        ids,
        (0..STREAMS as u32)
            .map(|i| StreamId::new(2 * i + 1))
            .collect::<Vec<_>>()
    );

    let (server_log, client_log) = run_echo(&mut pair, STREAMS);
    for (id, body) in &bodies {
        assert_eq!(&pair::body(&server_log, *id)[..], &body[..], "request {id}");
        assert_eq!(
            &pair::body(&client_log, *id)[..],
            &body[..],
            "response {id}"
        );
    }

    // Interleaving: the server did not get the streams one after another.
    let data_order: Vec<StreamId> = server_log
        .iter()
        .filter_map(|e| match e {
            Event::Data { stream, .. } => Some(*stream),
            _ => None,
        })
        .collect();
    let switches = data_order.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        switches > 2 * STREAMS,
        "DATA of different streams should alternate, {switches} switches"
    );
    // Round-robin: the first DATA of the last stream arrives before the last DATA
    // of the first.
    let last_of_first = data_order.iter().rposition(|s| *s == ids[0]).unwrap();
    let first_of_last = data_order
        .iter()
        .position(|s| *s == ids[STREAMS - 1])
        .unwrap();
    assert!(first_of_last < last_of_first);

    for side in [Side::Client, Side::Server] {
        assert_eq!(pair.conn(side).active_streams(), 0);
        assert!(pair.conn(side).error().is_none());
    }
}

#[test]
fn echo_survives_one_octet_segmentation() {
    let mut pair = ready(Config::default(), Config::default());
    pair.set_chunk_size(Some(1));
    let a = pair
        .client()
        .open_stream(pair::request("POST", "/a"), false)
        .unwrap();
    let b = pair
        .client()
        .open_stream(pair::request("POST", "/b"), false)
        .unwrap();
    pair.client()
        .send_data(a, pair::pattern(70_000, 3), true)
        .unwrap();
    pair.client()
        .send_data(b, pair::pattern(300, 4), true)
        .unwrap();
    let (_, client_log) = run_echo(&mut pair, 2);
    assert_eq!(pair::body(&client_log, a), &pair::pattern(70_000, 3)[..]);
    assert_eq!(pair::body(&client_log, b), &pair::pattern(300, 4)[..]);
}

#[test]
fn the_client_respects_max_concurrent_streams() {
    let server_cfg = Config {
        max_concurrent_streams: 2,
        ..Config::default()
    };
    let mut pair = ready(Config::default(), server_cfg);
    assert_eq!(pair.client().peer_settings().max_concurrent_streams, 2);
    let a = pair
        .client()
        .open_stream(pair::request("GET", "/a"), true)
        .unwrap();
    let b = pair
        .client()
        .open_stream(pair::request("GET", "/b"), true)
        .unwrap();
    assert_eq!(
        pair.client().open_stream(pair::request("GET", "/c"), true),
        Err(UserError::StreamLimit(2))
    );
    pair.drive();
    assert_eq!(pair.server().active_streams(), 2);
    // Still two open: the server has not answered.
    assert_eq!(
        pair.client().open_stream(pair::request("GET", "/c"), true),
        Err(UserError::StreamLimit(2))
    );

    // One finishes; a new stream may open, with the next id.
    pair.server()
        .send_headers(a, pair::response(200), true)
        .unwrap();
    pair.drive();
    assert_eq!(pair.client().active_streams(), 1);
    let c = pair
        .client()
        .open_stream(pair::request("GET", "/c"), true)
        .unwrap();
    assert_eq!(c, StreamId::new(5));
    assert_eq!(
        pair.client().open_stream(pair::request("GET", "/d"), true),
        Err(UserError::StreamLimit(2))
    );
    pair.drive();
    // A reset frees a slot too.
    pair.client().reset(b, ErrorCode::CANCEL).unwrap();
    let d = pair
        .client()
        .open_stream(pair::request("GET", "/d"), true)
        .unwrap();
    pair.drive();
    let events = pair.server_events();
    assert!(events.iter().all(|e| !matches!(
        e,
        Event::Reset {
            code: ErrorCode::REFUSED_STREAM,
            ..
        }
    )));
    assert!(pair::ended(&events, b), "the server saw the reset of {b}");
    assert_eq!(pair::header_blocks(&events, d).len(), 1);
    assert_eq!(pair.server().active_streams(), 2);
}

/// A SETTINGS_INITIAL_WINDOW_SIZE increase gives every stream more credit,
/// but a stream waiting for a concurrency slot must go on waiting: it used to
/// be put up for sending at once, so its HEADERS went out over the limit and
/// the server refused it. The increase here comes from the server's BDP
/// estimate, as it does in practice.
#[test]
fn a_window_increase_does_not_open_a_stream_waiting_for_a_slot() {
    let server_cfg = Config {
        max_concurrent_streams: 1,
        max_adaptive_window: Some(16 << 20),
        ..Config::default()
    };
    let client_cfg = Config {
        max_pending_streams: 4,
        ..Config::default()
    };
    let mut pair = ready(client_cfg, server_cfg);
    let a = pair
        .client()
        .open_stream(pair::request("POST", "/a"), false)
        .unwrap();
    let b = pair
        .client()
        .open_stream(pair::request("POST", "/b"), false)
        .unwrap();
    pair.client()
        .send_data(b, pair::pattern(100, 2), true)
        .unwrap();
    // Enough on `a` for the server's estimate to grow past 65 535.
    pair.client()
        .send_data(a, pair::pattern(60_000, 1), false)
        .unwrap();
    pair.drive();
    let grown = pair.client().peer_settings().initial_window_size;
    assert!(grown > 65_535, "the server's window did not grow: {grown}");
    let events = pair.server_events();
    assert!(
        pair::header_blocks(&events, b).is_empty(),
        "{b} opened over the limit of 1: {events:?}"
    );
    assert!(!events.iter().any(|e| matches!(
        e,
        Event::Reset {
            code: ErrorCode::REFUSED_STREAM,
            ..
        }
    )));
    // `a` ends; `b` takes its slot and arrives whole.
    pair.client().send_data(a, Bytes::new(), true).unwrap();
    pair.drive();
    pair.server()
        .send_headers(a, pair::response(200), true)
        .unwrap();
    pair.drive();
    let events = pair.server_events();
    assert_eq!(pair::header_blocks(&events, b).len(), 1, "{events:?}");
    assert_eq!(pair::body(&events, b), &pair::pattern(100, 2)[..]);
}

#[test]
fn streams_opened_before_the_limit_is_known_are_refused_by_the_server() {
    let server_cfg = Config {
        max_concurrent_streams: 1,
        ..Config::default()
    };
    let mut pair = Pair::with_configs(Config::default(), server_cfg);
    // No SETTINGS seen yet: the client may believe streams are unlimited.
    let a = pair
        .client()
        .open_stream(pair::request("GET", "/a"), true)
        .unwrap();
    let b = pair
        .client()
        .open_stream(pair::request("GET", "/b"), true)
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    assert_eq!(
        events,
        vec![Event::Reset {
            stream: b,
            code: ErrorCode::REFUSED_STREAM,
            initiator: Initiator::Remote,
        }]
    );
    let server_events = pair.server_events();
    assert_eq!(pair::header_blocks(&server_events, a).len(), 1);
    assert!(pair::header_blocks(&server_events, b).is_empty());
    assert!(pair.server().error().is_none());
    assert!(pair.client().error().is_none());
    // The refused stream is gone; the limit now holds on the client side.
    assert_eq!(pair.client().active_streams(), 1);
    assert_eq!(
        pair.client().open_stream(pair::request("GET", "/c"), true),
        Err(UserError::StreamLimit(1))
    );
}

#[test]
fn a_full_send_buffer_refuses_data_until_writable() {
    const LIMIT: usize = 100_000;
    let client_cfg = Config {
        max_send_buffer_per_stream: LIMIT,
        ..Config::default()
    };
    let mut pair = ready(client_cfg, Config::default());
    let id = pair
        .client()
        .open_stream(pair::request("POST", "/big"), false)
        .unwrap();
    assert_eq!(pair.client().send_capacity(id), LIMIT);
    // A first chunk is always taken, even a large one.
    pair.client()
        .send_data(id, pair::pattern(LIMIT + 10, 0), false)
        .unwrap();
    assert_eq!(pair.client().send_capacity(id), 0);
    pair.drive();
    // One window went out; the rest waits for credit the server does not give.
    let received = pair::body(&pair.server_events(), id).len();
    assert_eq!(received, 65_535);
    let queued = LIMIT + 10 - 65_535;
    assert_eq!(pair.client().send_capacity(id), LIMIT - queued);
    let refused = Bytes::from(vec![7; LIMIT - queued + 1]);
    assert_eq!(
        pair.client().send_data(id, refused.clone(), false),
        Err(UserError::SendBufferFull(id))
    );
    // Exactly the capacity fits... but we hold it back to see Writable first.
    pair.drive();
    assert!(
        pair.client_events().is_empty(),
        "no Writable while nothing drains"
    );

    // The server reads; the window opens; the queue drains; Writable follows.
    pair.server().release_capacity(id, 65_535);
    pair.drive();
    let events = pair.client_events();
    assert_eq!(events, vec![Event::Writable { stream: id }]);
    assert_eq!(pair.client().send_capacity(id), LIMIT);
    let drained = pair::body(&pair.server_events(), id).len();
    assert_eq!(drained, queued);
    pair.server().release_capacity(id, drained as u32);
    pair.client().send_data(id, refused, true).unwrap();
    pair.set_auto_release(Side::Server, true);
    pair.drive();
    let body = pair::body(&pair.server_events(), id);
    assert_eq!(body.len(), LIMIT - queued + 1);
    // Writable comes once per refusal.
    assert!(pair.client_events().is_empty());
}

#[test]
fn headers_larger_than_a_frame_use_continuation() {
    let server_cfg = Config {
        max_header_list_size: 64 << 10,
        ..Config::default()
    };
    let mut pair = ready(Config::default(), server_cfg.clone());
    let mut req = pair::request("GET", "/");
    // Random-looking values defeat Huffman coding and indexing gains.
    for i in 0..8 {
        let value: String = (0..2_500)
            .map(|j| char::from(b'!' + ((i * 31 + j * 17) % 90) as u8))
            .collect();
        req.push(grpc_sansio::hpack::Header::new(format!("x-big-{i}"), value));
    }
    let server_cfg_limit = server_cfg.max_header_list_size as usize;
    let size: usize = req.iter().map(|h| h.size()).sum();
    assert!(size < server_cfg_limit, "{size}");
    let id = pair.client().open_stream(req.clone(), true).unwrap();
    pair.drive();
    let frames = pair.sent_frames(Side::Client);
    assert!(frames
        .iter()
        .any(|f| matches!(f, Frame::Continuation(c) if c.stream_id == id)));
    let events = pair.server_events();
    assert_eq!(pair::header_blocks(&events, id), vec![(req, true)]);
}

/// RFC 9113 §8.1: a response starts with HEADERS. The API must not let a server
/// put DATA on the wire first.
#[test]
fn the_server_cannot_send_data_before_its_response_headers() {
    let mut pair = ready(Config::default(), Config::default());
    let id = pair
        .client()
        .open_stream(pair::request("GET", "/"), true)
        .unwrap();
    pair.drive();
    let result = pair
        .server()
        .send_data(id, Bytes::from_static(b"body first"), false);
    pair.drive();
    let client_events = pair.client_events();
    assert!(
        result.is_err(),
        "send_data before send_headers was accepted; the client saw {client_events:?}"
    );
}

/// RFC 9113 §8.1, §8.1.1: DATA before the final response HEADERS makes the
/// response malformed, a stream error of type PROTOCOL_ERROR.
#[test]
fn a_response_that_starts_with_data_is_malformed() {
    for informational_first in [false, true] {
        let mut pair = ready(Config::default(), Config::default());
        let id = pair
            .client()
            .open_stream(pair::request("GET", "/"), true)
            .unwrap();
        pair.drive();
        if informational_first {
            pair.server()
                .send_headers(id, pair::response(100), false)
                .unwrap();
            pair.drive();
        }
        pair.inject_frame(
            Side::Client,
            grpc_sansio::h2::frame::Data::new(id, Bytes::from_static(b"early"), false),
        );
        pair.drive();
        let events = pair.client_events();
        assert!(
            events.contains(&Event::Reset {
                stream: id,
                code: ErrorCode::PROTOCOL_ERROR,
                initiator: Initiator::Local,
            }),
            "1xx first: {informational_first}; client saw {events:?}"
        );
        assert!(pair.client().error().is_none(), "a stream error only");
    }
}
