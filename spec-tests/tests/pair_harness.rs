//! The [`Pair`] harness itself: convergence bounds, filters, injection, time.

use grpc_sansio::h2::frame::{Frame, Ping};
use grpc_sansio::h2::{Config, ErrorCode, Event};
use spec_tests::pair::{Altered, Pair, Side};

/// A filter that answers every PING ACK with a fresh PING keeps the pair busy
/// for ever.
fn ping_pong() -> Pair {
    let mut pair = Pair::new();
    pair.set_filter(|_, frame| match frame {
        Frame::Ping(Ping { ack: true, payload }) => {
            let mut octets = Vec::new();
            Frame::from(Ping {
                ack: false,
                payload: *payload,
            })
            .encode(&mut octets);
            Altered::Raw(octets)
        }
        _ => Altered::Keep,
    });
    pair.client().ping([1; 8]).unwrap();
    pair
}

#[test]
fn drive_bounded_reports_a_pair_that_never_settles() {
    let mut pair = ping_pong();
    assert!(!pair.drive_bounded(50));
    assert!(pair.client().error().is_none());
    // Every step moved a PING each way.
    let pings = pair
        .events(Side::Server)
        .iter()
        .filter(|e| matches!(e, Event::Ping { .. }))
        .count();
    assert!(pings >= 49, "{pings}");
}

#[test]
#[should_panic(expected = "did not converge")]
fn drive_panics_on_livelock() {
    ping_pong().drive();
}

#[test]
fn a_quiet_pair_steps_nothing() {
    let mut pair = Pair::new();
    assert!(pair.step(), "the handshake moves");
    pair.drive();
    assert!(!pair.step());
    assert!(pair.drive_bounded(1));
}

#[test]
fn injected_octets_arrive_before_later_output() {
    let mut pair = Pair::new();
    pair.drive();
    pair.inject_frame(
        Side::Client,
        Ping {
            ack: false,
            payload: *b"injected",
        },
    );
    pair.server().ping(*b"genuine!").unwrap();
    assert!(!pair.in_flight(Side::Client).is_empty());
    pair.step();
    assert_eq!(
        pair.client_events(),
        vec![
            Event::Ping {
                payload: *b"injected"
            },
            Event::Ping {
                payload: *b"genuine!"
            },
        ]
    );
    // Injected octets are not part of what the server wrote.
    let server_pings = pair
        .sent_frames(Side::Server)
        .iter()
        .filter(|f| matches!(f, Frame::Ping(p) if !p.ack))
        .count();
    assert_eq!(server_pings, 1);
}

#[test]
fn a_dropped_frame_is_recorded_as_sent_but_never_arrives() {
    let mut pair = Pair::new();
    pair.drive();
    pair.set_filter(|from, frame| match frame {
        Frame::Ping(_) if from == Side::Client => Altered::Drop,
        _ => Altered::Keep,
    });
    pair.client().ping([9; 8]).unwrap();
    pair.drive();
    assert!(pair.server_events().is_empty());
    assert!(pair
        .sent_frames(Side::Client)
        .iter()
        .any(|f| matches!(f, Frame::Ping(_))));
}

#[test]
fn garbage_in_flight_fails_the_receiver_and_stops_delivery() {
    let mut pair = Pair::new();
    pair.drive();
    pair.inject(Side::Server, &[0xff; 9]);
    pair.drive();
    let error = pair.receive_error(Side::Server).expect("garbage").clone();
    assert!(error.is_connection_error());
    assert_eq!(pair.server().error(), Some(&error));
    // The client got the GOAWAY; the pair no longer feeds the failed server.
    assert!(pair
        .client_events()
        .iter()
        .any(|e| matches!(e, Event::GoAway { code, .. } if *code == error.code())));
    pair.client().ping([0; 8]).unwrap_or(());
    pair.drive();
    assert_eq!(pair.receive_error(Side::Server), Some(&error));
    assert!(pair.server().is_closed());
}

#[test]
fn virtual_time_moves_only_when_told() {
    let cfg = Config::default();
    let mut pair = Pair::new();
    assert_eq!(pair.elapsed(), std::time::Duration::ZERO);
    assert_eq!(
        pair.next_timeout(),
        Some(pair.start() + cfg.settings_timeout)
    );
    // Nothing delivered: both SETTINGS go unanswered until the timers fire.
    assert!(pair.advance_to_next_timeout());
    assert_eq!(pair.elapsed(), cfg.settings_timeout);
    for side in [Side::Client, Side::Server] {
        assert_eq!(
            pair.conn(side).error().map(|e| e.code()),
            Some(ErrorCode::SETTINGS_TIMEOUT)
        );
    }
    assert!(
        !pair.advance_to_next_timeout(),
        "failed connections have no timers"
    );
}

#[test]
#[should_panic(expected = "at least one octet")]
fn a_zero_chunk_size_is_refused() {
    Pair::new().set_chunk_size(Some(0));
}
