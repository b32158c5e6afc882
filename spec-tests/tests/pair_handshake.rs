//! The connection preface and SETTINGS exchange (RFC 9113 §3.4, §6.5.3) between a
//! real client and server on virtual time.

use std::time::Duration;

use grpc_sansio::h2::frame::{Frame, Settings, WindowUpdate};
use grpc_sansio::h2::{Config, ErrorCode, Event, Reason, StreamId, PREFACE};
use spec_tests::pair::{Altered, Pair, Side};

/// SETTINGS frames in `frames`, as (ack, settings).
fn settings(frames: &[Frame]) -> Vec<&Settings> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Settings(s) => Some(s),
            _ => None,
        })
        .collect()
}

#[test]
fn both_sides_exchange_settings_and_acks() {
    let client_cfg = Config {
        max_concurrent_streams: 7,
        initial_stream_window: 100_000,
        ..Config::default()
    };
    let server_cfg = Config {
        max_concurrent_streams: 3,
        max_frame_size: 32_768,
        max_header_list_size: 8192,
        ..Config::default()
    };
    let mut pair = Pair::with_configs(client_cfg, server_cfg);
    pair.drive();

    assert!(pair.sent(Side::Client).starts_with(PREFACE));
    assert!(!pair.sent(Side::Server).starts_with(PREFACE));
    for side in [Side::Client, Side::Server] {
        let frames = pair.sent_frames(side);
        // The first frame is our SETTINGS (§3.4), then the connection window grows.
        let Frame::Settings(first) = &frames[0] else {
            panic!("{side:?} opened with {:?}", frames[0]);
        };
        assert!(!first.ack);
        assert_eq!(
            frames[1],
            Frame::WindowUpdate(WindowUpdate {
                stream_id: StreamId::ZERO,
                increment: (1 << 20) - 65_535,
            })
        );
        let all = settings(&frames);
        assert_eq!(all.len(), 2, "{side:?}: one SETTINGS and one ACK");
        assert!(all[1].ack);
        assert_eq!(pair.conn(side).poll_timeout(), None, "{side:?} got its ACK");
        assert!(pair.conn(side).error().is_none());
        assert!(!pair.conn(side).is_closed());
        assert!(pair.events(side).is_empty(), "a handshake makes no events");
    }

    // The client's SETTINGS disables push; the server never sends ENABLE_PUSH.
    let client_settings = pair.sent_frames(Side::Client);
    let server_settings = pair.sent_frames(Side::Server);
    assert_eq!(settings(&client_settings)[0].enable_push, Some(false));
    assert_eq!(settings(&server_settings)[0].enable_push, None);

    let seen_by_client = pair.client().peer_settings();
    assert_eq!(seen_by_client.max_concurrent_streams, 3);
    assert_eq!(seen_by_client.max_frame_size, 32_768);
    assert_eq!(seen_by_client.max_header_list_size, 8192);
    assert_eq!(seen_by_client.initial_window_size, 65_535);
    let seen_by_server = pair.server().peer_settings();
    assert_eq!(seen_by_server.max_concurrent_streams, 7);
    assert_eq!(seen_by_server.initial_window_size, 100_000);
}

#[test]
fn the_settings_timer_is_armed_from_creation() {
    let mut pair = Pair::new();
    let deadline = pair.start() + Config::default().settings_timeout;
    assert_eq!(pair.client().poll_timeout(), Some(deadline));
    assert_eq!(pair.server().poll_timeout(), Some(deadline));

    // Only the client's output has reached the server: the server ACKs the
    // client, but its own SETTINGS is still unanswered.
    pair.flush(Side::Client);
    pair.deliver(Side::Server);
    assert_eq!(pair.server().poll_timeout(), Some(deadline));
    pair.flush(Side::Server);
    pair.deliver(Side::Client);
    assert_eq!(
        pair.client().poll_timeout(),
        None,
        "the server's ACK arrived"
    );
    assert_eq!(pair.server().poll_timeout(), Some(deadline));
    pair.drive();
    assert_eq!(pair.server().poll_timeout(), None);
    assert_eq!(pair.next_timeout(), None);
}

#[test]
fn a_handshake_delivered_one_octet_at_a_time_completes() {
    let mut pair = Pair::new();
    pair.set_chunk_size(Some(1));
    pair.drive();
    assert_eq!(pair.next_timeout(), None);
    assert!(pair.receive_error(Side::Client).is_none());
    assert!(pair.receive_error(Side::Server).is_none());
}

/// The server never acknowledges the client's SETTINGS.
fn pair_without_server_acks() -> Pair {
    let mut pair = Pair::new();
    pair.set_filter(|from, frame| match frame {
        Frame::Settings(s) if s.ack && from == Side::Server => Altered::Drop,
        _ => Altered::Keep,
    });
    pair.drive();
    pair
}

#[test]
fn a_peer_that_never_acks_gets_settings_timeout() {
    let timeout = Config::default().settings_timeout;
    let mut pair = pair_without_server_acks();
    assert_eq!(pair.client().poll_timeout(), Some(pair.start() + timeout));
    assert_eq!(pair.server().poll_timeout(), None, "the client did ACK");

    // A millisecond early: nothing happens.
    pair.advance(timeout - Duration::from_millis(1));
    pair.drive();
    assert!(pair.client().error().is_none());
    assert!(pair.client_events().is_empty());

    pair.advance(Duration::from_millis(1));
    pair.drive();
    let error = pair.client().error().expect("the timer fired").clone();
    assert_eq!(error.code(), ErrorCode::SETTINGS_TIMEOUT);
    assert_eq!(error.reason(), &Reason::LocalSettingsTimeout);
    assert_eq!(
        pair.client().poll_timeout(),
        None,
        "a failed connection has no timers"
    );

    // The GOAWAY reached the server.
    let server_events = pair.server_events();
    assert!(
        matches!(
            server_events.as_slice(),
            [Event::GoAway { last_stream_id, code: ErrorCode::SETTINGS_TIMEOUT, .. }]
                if *last_stream_id == StreamId::ZERO
        ),
        "{server_events:?}"
    );
    let goaways: Vec<_> = pair
        .sent_frames(Side::Client)
        .into_iter()
        .filter_map(|f| match f {
            Frame::GoAway(g) => Some(g),
            _ => None,
        })
        .collect();
    assert_eq!(goaways.len(), 1);
    assert_eq!(goaways[0].error_code, ErrorCode::SETTINGS_TIMEOUT);

    assert!(pair.client().is_closed());
    assert!(
        pair.server().is_closed(),
        "the server saw GOAWAY and has no streams"
    );
    assert!(
        pair.client().ping([1; 8]).is_err(),
        "a failed connection takes no work"
    );
}

#[test]
fn a_late_settings_ack_does_not_revive_a_timed_out_connection() {
    let mut pair = pair_without_server_acks();
    pair.advance(Config::default().settings_timeout);
    pair.handle_timeouts();
    assert_eq!(
        pair.client().error().map(|e| e.code()),
        Some(ErrorCode::SETTINGS_TIMEOUT)
    );
    pair.clear_filter();
    pair.inject_frame(Side::Client, Settings::ack());
    pair.drive();
    assert_eq!(
        pair.receive_error(Side::Client).map(|e| e.code()),
        Some(ErrorCode::SETTINGS_TIMEOUT),
        "the error is sticky"
    );
}
