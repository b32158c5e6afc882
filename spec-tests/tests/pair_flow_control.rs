//! Flow control (RFC 9113 §5.2, §6.9) between a real client and server: credit
//! is only given back as the receiving application releases data, senders never
//! exceed it, WINDOW_UPDATEs are batched, and SETTINGS_INITIAL_WINDOW_SIZE
//! changes apply to open streams.

use grpc_sansio::h2::frame::{Frame, Settings};
use grpc_sansio::h2::{Config, Event, StreamId};
use spec_tests::pair::{self, Pair, Side};

const WINDOW: u32 = 65_535;

/// A handshaken pair.
fn ready(client: Config, server: Config) -> Pair {
    let mut pair = Pair::with_configs(client, server);
    pair.drive();
    pair
}

/// Sum of WINDOW_UPDATE increments `side` sent for `stream` (0: the connection).
fn credit_sent(pair: &Pair, side: Side, stream: StreamId) -> u64 {
    pair.sent_frames(side)
        .iter()
        .filter_map(|f| match f {
            Frame::WindowUpdate(w) if w.stream_id == stream => Some(u64::from(w.increment)),
            _ => None,
        })
        .sum()
}

/// DATA frames `side` sent on `stream`, as payload lengths.
fn data_frames(pair: &Pair, side: Side, stream: StreamId) -> Vec<usize> {
    pair.sent_frames(side)
        .iter()
        .filter_map(|f| match f {
            Frame::Data(d) if d.stream_id == stream => Some(d.data.len()),
            _ => None,
        })
        .collect()
}

/// Octets of DATA events in `events`.
fn data_len(events: &[Event]) -> u64 {
    events
        .iter()
        .map(|e| match e {
            Event::Data { data, .. } => data.len() as u64,
            _ => 0,
        })
        .sum()
}

#[test]
fn a_large_body_flows_only_as_the_receiver_releases() {
    const TOTAL: u64 = 1 << 20;
    let mut pair = ready(Config::default(), Config::default());
    let id = pair
        .client()
        .open_stream(pair::request("POST", "/big"), false)
        .unwrap();
    pair.client()
        .send_data(id, pair::pattern(TOTAL as usize, 9), true)
        .unwrap();
    pair.drive();
    let mut received = data_len(&pair.server_events());
    assert_eq!(received, u64::from(WINDOW), "exactly one stream window");

    // No release: nothing more moves, however long we wait.
    for _ in 0..3 {
        pair.advance(std::time::Duration::from_secs(60));
        pair.drive();
    }
    assert!(pair.server_events().is_empty(), "the sender stalls");
    let sent: usize = data_frames(&pair, Side::Client, id).iter().sum();
    assert_eq!(sent as u64, u64::from(WINDOW));

    // Release in uneven slices; after each, the sender uses exactly the credit
    // announced, and the credit announced never exceeds what was released.
    let mut released = 0u64;
    let mut slice = 7_000u64;
    while received < TOTAL {
        let n = slice.min(received - released);
        if n == 0 {
            panic!("stalled with {received} received, all released");
        }
        pair.server().release_capacity(id, n as u32);
        released += n;
        slice = slice * 3 % 40_000 + 1;
        pair.drive();
        received += data_len(&pair.server_events());
        let stream_credit = credit_sent(&pair, Side::Server, id);
        assert!(
            stream_credit <= released,
            "credit {stream_credit} > released {released}"
        );
        assert_eq!(
            received,
            TOTAL.min(u64::from(WINDOW) + stream_credit),
            "received exactly the stream credit"
        );
        let client_sent: usize = data_frames(&pair, Side::Client, id).iter().sum();
        assert_eq!(client_sent as u64, received);
    }
    assert_eq!(
        pair.client().active_streams(),
        1,
        "waiting for the response"
    );
    assert!(pair.server().error().is_none());
    assert!(pair.client().error().is_none());
}

#[test]
fn the_connection_window_bounds_all_streams_together() {
    let server_cfg = Config {
        connection_window: WINDOW,
        ..Config::default()
    };
    let mut pair = ready(Config::default(), server_cfg);
    let ids: Vec<StreamId> = (0..4)
        .map(|i| {
            let id = pair
                .client()
                .open_stream(pair::request("POST", "/"), false)
                .unwrap();
            pair.client()
                .send_data(id, pair::pattern(50_000, i), true)
                .unwrap();
            id
        })
        .collect();
    pair.drive();
    let events = pair.server_events();
    assert_eq!(
        data_len(&events),
        u64::from(WINDOW),
        "one connection window in all"
    );
    let per_stream: Vec<usize> = ids
        .iter()
        .map(|id| pair::body(&events, *id).len())
        .collect();
    assert!(
        per_stream.iter().all(|n| *n > 0),
        "the window is shared round-robin: {per_stream:?}"
    );

    // Releasing one stream's data returns connection credit usable by all.
    let first = per_stream[0] as u32;
    pair.server().release_capacity(ids[0], first);
    pair.drive();
    let more = data_len(&pair.server_events());
    let conn_credit = credit_sent(&pair, Side::Server, StreamId::ZERO);
    assert!(conn_credit <= u64::from(first));
    assert_eq!(more, conn_credit, "exactly the connection credit returned");

    pair.set_auto_release(Side::Server, true);
    // Everything received so far, not yet released.
    let held = u64::from(WINDOW) - u64::from(first) + more;
    pair.server().release_capacity(ids[1], held as u32);
    pair.drive();
    let rest = data_len(&pair.server_events());
    assert_eq!(u64::from(WINDOW) + more + rest, 4 * 50_000);
}

#[test]
fn one_octet_windows_still_complete() {
    let cfg = Config {
        initial_stream_window: 1,
        ..Config::default()
    };
    let mut pair = ready(cfg.clone(), cfg);
    pair.set_auto_release(Side::Client, true);
    pair.set_auto_release(Side::Server, true);
    let request = pair::pattern(3_000, 5);
    let response = pair::pattern(2_000, 6);
    let id = pair
        .client()
        .open_stream(pair::request("POST", "/"), false)
        .unwrap();
    pair.client().send_data(id, request.clone(), true).unwrap();
    pair.drive();
    let events = pair.server_events();
    assert_eq!(pair::body(&events, id), &request[..]);
    pair.server()
        .send_headers(id, pair::response(200), false)
        .unwrap();
    pair.server().send_data(id, response.clone(), true).unwrap();
    pair.drive();
    let events = pair.client_events();
    assert_eq!(pair::body(&events, id), &response[..]);

    for side in [Side::Client, Side::Server] {
        let frames = data_frames(&pair, side, id);
        assert!(frames.len() >= 2_000, "{side:?}: {} frames", frames.len());
        assert!(
            frames.iter().all(|n| *n <= 1),
            "{side:?} sent a DATA frame larger than the window"
        );
        assert_eq!(pair.conn(side).active_streams(), 0);
        assert!(pair.conn(side).error().is_none());
    }
}

/// A window smaller than the default only applies once the receiver's SETTINGS
/// is acknowledged (RFC 9113 §6.9.2): data sent before that on the default
/// window is accepted, and the stream then continues on the small window.
#[test]
fn a_stream_opened_before_the_handshake_shrinks_to_the_advertised_window() {
    let server_cfg = Config {
        initial_stream_window: 1,
        ..Config::default()
    };
    let mut pair = Pair::with_configs(Config::default(), server_cfg);
    let id = pair
        .client()
        .open_stream(pair::request("POST", "/"), false)
        .unwrap();
    let body = pair::pattern(WINDOW as usize + 300, 8);
    pair.client().send_data(id, body.clone(), true).unwrap();
    pair.drive();
    assert!(pair.server().error().is_none());
    let events = pair.server_events();
    assert_eq!(pair::body(&events, id).len(), WINDOW as usize);

    pair.set_auto_release(Side::Server, true);
    pair.server().release_capacity(id, WINDOW);
    pair.drive();
    let events = pair.server_events();
    assert_eq!(pair::body(&events, id), &body[WINDOW as usize..]);
    let frames = data_frames(&pair, Side::Client, id);
    assert!(frames[frames.len() - 300..].iter().all(|n| *n == 1));
    assert!(pair.server().error().is_none());
}

#[test]
fn window_updates_are_batched() {
    const CHUNKS: usize = 1_000;
    let mut pair = ready(Config::default(), Config::default());
    pair.set_auto_release(Side::Server, true);
    let id = pair
        .client()
        .open_stream(pair::request("POST", "/"), false)
        .unwrap();
    // A step after each chunk: queued chunks would share a frame.
    for i in 0..CHUNKS {
        pair.client()
            .send_data(id, pair::pattern(100, i as u8), i + 1 == CHUNKS)
            .unwrap();
        pair.step();
    }
    pair.drive();
    assert_eq!(pair::body(&pair.server_events(), id).len(), CHUNKS * 100);
    let data = data_frames(&pair, Side::Client, id).len();
    assert!(data >= CHUNKS, "{data} DATA frames");
    let updates = pair
        .sent_frames(Side::Server)
        .iter()
        .filter(|f| matches!(f, Frame::WindowUpdate(_)))
        .count();
    // One at the handshake for the connection, a few for the stream.
    assert!(
        updates * 50 <= data,
        "{updates} WINDOW_UPDATEs for {data} DATA frames"
    );
}

#[test]
fn a_smaller_initial_window_mid_stream_makes_the_window_negative() {
    let mut pair = ready(Config::default(), Config::default());
    let id = pair
        .client()
        .open_stream(pair::request("POST", "/"), false)
        .unwrap();
    pair.client()
        .send_data(id, pair::pattern(40_000, 1), false)
        .unwrap();
    pair.drive();
    assert_eq!(data_len(&pair.server_events()), 40_000);

    // The server (as far as the client can tell) lowers the initial window:
    // 65 535 - 40 000 - 35 535 = -10 000 left on the open stream.
    pair.inject_frame(
        Side::Client,
        Settings {
            initial_window_size: Some(30_000),
            ..Settings::default()
        },
    );
    pair.drive();
    assert_eq!(pair.client().peer_settings().initial_window_size, 30_000);
    assert!(pair.client().error().is_none());
    assert!(
        pair.server().error().is_none(),
        "an unexpected SETTINGS ACK is harmless"
    );
    pair.client()
        .send_data(id, pair::pattern(50_000, 2), true)
        .unwrap();
    pair.drive();
    assert!(pair.server_events().is_empty(), "the window is negative");

    pair.server().release_capacity(id, 40_000);
    pair.drive();
    assert_eq!(credit_sent(&pair, Side::Server, id), 40_000);
    assert_eq!(
        data_len(&pair.server_events()),
        30_000,
        "-10 000 + 40 000 of credit"
    );

    // Back up to the default: +35 535 on the stream, enough for the rest.
    pair.inject_frame(
        Side::Client,
        Settings {
            initial_window_size: Some(WINDOW),
            ..Settings::default()
        },
    );
    pair.drive();
    assert_eq!(data_len(&pair.server_events()), 20_000);
    assert!(pair.server().error().is_none());
}

#[test]
fn a_larger_initial_window_mid_stream_unblocks_open_streams() {
    let mut pair = ready(Config::default(), Config::default());
    pair.inject_frame(
        Side::Client,
        Settings {
            initial_window_size: Some(1_000),
            ..Settings::default()
        },
    );
    pair.drive();
    let ids: Vec<StreamId> = (0..3)
        .map(|i| {
            let id = pair
                .client()
                .open_stream(pair::request("POST", "/"), false)
                .unwrap();
            pair.client()
                .send_data(id, pair::pattern(5_000, i), true)
                .unwrap();
            id
        })
        .collect();
    pair.drive();
    let events = pair.server_events();
    for id in &ids {
        assert_eq!(pair::body(&events, *id).len(), 1_000);
    }

    pair.inject_frame(
        Side::Client,
        Settings {
            initial_window_size: Some(4_000),
            ..Settings::default()
        },
    );
    pair.drive();
    let events = pair.server_events();
    for id in &ids {
        assert_eq!(pair::body(&events, *id).len(), 3_000, "stream {id}");
    }

    pair.inject_frame(
        Side::Client,
        Settings {
            initial_window_size: Some(WINDOW),
            ..Settings::default()
        },
    );
    pair.drive();
    let events = pair.server_events();
    for id in &ids {
        assert_eq!(pair::body(&events, *id).len(), 1_000, "stream {id}");
        assert!(pair::ended(&events, *id));
    }
    assert!(pair.server().error().is_none());
    assert!(pair.client().error().is_none());
}
