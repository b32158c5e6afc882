//! "The same inputs at the same instants produce the same outputs"
//! (`Connection`'s contract): two pairs driven alike write identical octets and
//! emit identical events.

use std::time::Duration;

use bytes::Bytes;
use grpc_sansio::h2::frame::Settings;
use grpc_sansio::h2::{Config, ErrorCode, Event, StreamId};
use spec_tests::pair::{self, Pair, Side};

/// Everything observable of one run.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    client_sent: Vec<u8>,
    server_sent: Vec<u8>,
    client_events: Vec<Event>,
    server_events: Vec<Event>,
}

fn record(pair: &mut Pair, client_events: Vec<Event>, server_events: Vec<Event>) -> Run {
    Run {
        client_sent: pair.sent(Side::Client).to_vec(),
        server_sent: pair.sent(Side::Server).to_vec(),
        client_events,
        server_events,
    }
}

/// A busy session: many streams, echoed bodies, trailers, a reset, pings, time
/// passing, segmentation, and a graceful shutdown.
fn busy_session() -> Run {
    let server_cfg = Config {
        max_concurrent_streams: 5,
        initial_stream_window: 20_000,
        ..Config::default()
    };
    let mut pair = Pair::with_configs(Config::default(), server_cfg);
    pair.set_chunk_size(Some(777));
    pair.drive();
    let (mut client_log, mut server_log) = (Vec::new(), Vec::new());
    let mut open = Vec::new();
    for round in 0..30u8 {
        while open.len() < 5 && round < 20 {
            let Ok(id) = pair
                .client()
                .open_stream(pair::request("POST", "/echo"), false)
            else {
                break;
            };
            pair.client()
                .send_data(
                    id,
                    pair::pattern(usize::from(round) * 3_000 + 10, round),
                    true,
                )
                .unwrap();
            open.push(id);
        }
        if round == 7 {
            let victim = open.remove(0);
            let _ = pair.client().reset(victim, ErrorCode::CANCEL);
        }
        if round % 5 == 0 {
            pair.client().ping([round; 8]).unwrap();
            pair.server().ping([round + 100; 8]).unwrap();
        }
        if round == 25 {
            pair.server().shutdown().unwrap();
        }
        pair.advance(Duration::from_millis(u64::from(round) * 13));
        pair.set_chunk_size(Some(1 + usize::from(round) * 97));
        pair.drive_bounded(3);
        let server_events = pair.server_events();
        for event in &server_events {
            match event {
                Event::Headers {
                    stream,
                    end_stream: false,
                    ..
                } => {
                    let _ = pair
                        .server()
                        .send_headers(*stream, pair::response(200), false);
                }
                Event::Data {
                    stream,
                    data,
                    end_stream,
                } => {
                    pair.server().release_capacity(*stream, data.len() as u32);
                    let _ = pair.server().send_data(*stream, data.clone(), false);
                    if *end_stream {
                        let _ = pair.server().send_headers(
                            *stream,
                            pair::trailers(&[("grpc-status", "0")]),
                            true,
                        );
                    }
                }
                _ => {}
            }
        }
        let client_events = pair.client_events();
        for event in &client_events {
            match event {
                Event::Data { stream, data, .. } => {
                    pair.client().release_capacity(*stream, data.len() as u32);
                }
                Event::Headers {
                    stream,
                    end_stream: true,
                    ..
                }
                | Event::Reset { stream, .. } => open.retain(|id| id != stream),
                _ => {}
            }
        }
        server_log.extend(server_events);
        client_log.extend(client_events);
    }
    pair.drive();
    client_log.extend(pair.client_events());
    server_log.extend(pair.server_events());
    assert!(pair.client().error().is_none());
    assert!(pair.server().error().is_none());
    record(&mut pair, client_log, server_log)
}

#[test]
fn a_busy_session_is_reproducible() {
    let first = busy_session();
    assert!(first.client_sent.len() > 100_000, "the session did work");
    assert!(
        first
            .client_events
            .iter()
            .any(|e| matches!(e, Event::GoAway { .. })),
        "the session reached its shutdown"
    );
    for _ in 0..3 {
        assert!(busy_session() == first, "a rerun diverged");
    }
}

/// Streams blocked on their windows, then unblocked together by a larger
/// SETTINGS_INITIAL_WINDOW_SIZE: the order in which they resume must not
/// depend on anything but the inputs (such as hash map iteration order).
fn unblocked_together() -> Run {
    let mut pair = Pair::new();
    pair.drive();
    pair.inject_frame(
        Side::Client,
        Settings {
            initial_window_size: Some(100),
            ..Settings::default()
        },
    );
    pair.drive();
    let ids: Vec<StreamId> = (0..12)
        .map(|i| {
            let id = pair
                .client()
                .open_stream(pair::request("POST", "/"), false)
                .unwrap();
            pair.client()
                .send_data(id, pair::pattern(1_000, i), true)
                .unwrap();
            id
        })
        .collect();
    pair.drive();
    let before = pair.server_events();
    for id in &ids {
        assert_eq!(pair::body(&before, *id).len(), 100);
    }
    pair.inject_frame(
        Side::Client,
        Settings {
            initial_window_size: Some(65_535),
            ..Settings::default()
        },
    );
    pair.drive();
    let after = pair.server_events();
    for id in &ids {
        assert_eq!(pair::body(&after, *id).len(), 900);
    }
    record(&mut pair, Vec::new(), after)
}

#[test]
fn streams_unblocked_by_settings_resume_in_a_reproducible_order() {
    let first = unblocked_together();
    for _ in 0..4 {
        let again = unblocked_together();
        let order = |run: &Run| -> Vec<StreamId> {
            run.server_events
                .iter()
                .filter_map(|e| match e {
                    Event::Data { stream, .. } => Some(*stream),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(order(&again), order(&first), "resumption order diverged");
        assert!(again == first);
    }
}

#[test]
fn identical_pairs_stay_identical_step_by_step() {
    let mut a = Pair::new();
    let mut b = Pair::new();
    for pair in [&mut a, &mut b] {
        pair.set_chunk_size(Some(5));
    }
    for i in 0..50u8 {
        for pair in [&mut a, &mut b] {
            if i % 3 == 0 {
                if let Ok(id) = pair.client().open_stream(pair::request("POST", "/"), false) {
                    pair.client()
                        .send_data(id, Bytes::from(vec![i; usize::from(i) * 50]), i % 2 == 0)
                        .unwrap();
                }
            }
            pair.advance(Duration::from_millis(u64::from(i)));
            pair.step();
        }
        assert_eq!(a.sent(Side::Client), b.sent(Side::Client), "step {i}");
        assert_eq!(a.sent(Side::Server), b.sent(Side::Server), "step {i}");
        assert_eq!(a.client_events(), b.client_events(), "step {i}");
        assert_eq!(a.server_events(), b.server_events(), "step {i}");
    }
}
