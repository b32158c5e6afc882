//! BDP-sized windows on the wire (grpc-go's `bdp_estimator.go`), on the
//! virtual-time pair: which frames the receiver sends as its estimate grows,
//! that it stops at its limit, and that fixed windows send none of them. The
//! throughput they buy on slow links is in `bdp_throughput.rs`.

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallOptions, Config};
use grpc_sansio::h2::frame::Frame;
use grpc_sansio::h2::StreamId;
use grpc_sansio::testing::{finished, messages, pattern, GrpcPair, Side};

/// grpc-go's BDP PING payload, which ours uses too.
const BDP_PING: [u8; 8] = [2, 4, 16, 16, 9, 14, 7, 7];

/// Sends `count` messages of 16 KiB from the server to the client, which
/// reads them at once; returns the pair with both sides' frames recorded.
fn download(client: Config, count: usize) -> GrpcPair {
    let mut pair = GrpcPair::with_configs(client, Config::server());
    pair.set_recording(Side::Client, true);
    pair.set_recording(Side::Server, true);
    pair.drive();
    let call = pair.start_call(CallOptions::new("/pkg.Svc/Download"));
    pair.drive();
    let (scall, _) = pair.accept().expect("call started");
    let mut got = 0;
    let mut sent = 0;
    while got < count {
        while sent < count
            && pair
                .server()
                .send_message(scall, pattern(16 << 10, sent as u8))
                .is_ok()
        {
            sent += 1;
        }
        pair.step();
        got += messages(&pair.client_events(), call).len();
    }
    pair.server()
        .finish(scall, &Status::ok(), &Metadata::new())
        .unwrap();
    pair.drive();
    assert_eq!(
        finished(&pair.client_events(), call).map(|(s, _)| s.code()),
        Some(Code::Ok)
    );
    pair
}

fn bdp_pings(frames: &[Frame], ack: bool) -> usize {
    frames
        .iter()
        .filter(|f| matches!(f, Frame::Ping(p) if p.ack == ack && p.payload == BDP_PING))
        .count()
}

/// SETTINGS_INITIAL_WINDOW_SIZE values of the SETTINGS after the first.
fn window_settings(frames: &[Frame]) -> Vec<u32> {
    let mut settings = frames.iter().filter_map(|f| match f {
        Frame::Settings(s) if !s.ack => Some(s),
        _ => None,
    });
    settings.next().expect("the initial SETTINGS");
    settings
        .map(|s| {
            assert_eq!(
                (
                    s.header_table_size,
                    s.max_concurrent_streams,
                    s.max_frame_size
                ),
                (None, None, None),
                "a BDP SETTINGS carries the window only: {s:?}"
            );
            s.initial_window_size.expect("a window")
        })
        .collect()
}

fn bdp_client(limit: u32) -> Config {
    let mut config = Config::client();
    config.h2.max_adaptive_window = Some(limit);
    config
}

/// The receiver (the client here) PINGs as DATA arrives, grows the stream
/// windows by SETTINGS and the connection window by WINDOW_UPDATE, never past
/// its limit, and stops PINGing once there.
#[test]
fn the_estimate_grows_the_windows_up_to_the_limit_then_stops() {
    // Past the connection window's 1 MiB, and within what this pair moves per
    // round trip (it exchanges whole flushes, a few hundred KiB each).
    const LIMIT: u32 = 3 << 19;
    let pair = download(bdp_client(LIMIT), 2000);
    let client = pair.sent_frames(Side::Client);
    let server = pair.sent_frames(Side::Server);
    let pings = bdp_pings(&client, false);
    assert!(pings > 0, "no BDP PING");
    // Each was answered; one at a time, so never more than one unanswered.
    assert_eq!(bdp_pings(&server, true), pings);
    let windows = window_settings(&client);
    assert!(!windows.is_empty(), "the windows never grew");
    assert!(windows.windows(2).all(|w| w[0] < w[1]), "{windows:?}");
    assert_eq!(*windows.last().unwrap(), LIMIT, "{windows:?}");
    // At the limit no more PINGs: the last SETTINGS is followed by none.
    let last_settings = client
        .iter()
        .rposition(|f| matches!(f, Frame::Settings(s) if s.initial_window_size.is_some()))
        .unwrap();
    assert_eq!(bdp_pings(&client[last_settings..], false), 0);
    // Past the connection window's 1 MiB start, it grows with them: a
    // WINDOW_UPDATE on stream 0 right before the SETTINGS (grpc-go's
    // `updateFlowControl` order), by the growth of the target.
    let crossing = client
        .iter()
        .position(|f| {
            matches!(f, Frame::Settings(s) if s.initial_window_size.is_some_and(|w| w > 1 << 20))
        })
        .expect("a SETTINGS past 1 MiB");
    match &client[crossing - 1] {
        Frame::WindowUpdate(w) if w.stream_id == StreamId::ZERO => {
            let window = windows.iter().copied().find(|&w| w > 1 << 20).unwrap();
            assert_eq!(w.increment, window - (1 << 20));
        }
        other => panic!("{other:?} before the SETTINGS that grew the connection window"),
    }
    assert_eq!(
        pair.server_ref().h2().peer_settings().initial_window_size,
        LIMIT
    );
    assert_eq!(pair.client_ref().h2().adaptive_window(), Some(LIMIT));
}

/// `fixed_windows` turns the estimator off: no PING, no SETTINGS after the
/// first, the stream window stays where it was set.
#[test]
fn fixed_windows_send_no_bdp_frames() {
    let mut client = Config::client();
    client.h2 = client.h2.fixed_windows(65_535, 1 << 20);
    let pair = download(client, 500);
    let frames = pair.sent_frames(Side::Client);
    assert_eq!(bdp_pings(&frames, false), 0);
    assert!(
        !frames.iter().any(|f| matches!(f, Frame::Ping(_))),
        "{frames:?}"
    );
    assert!(window_settings(&frames).is_empty());
    assert_eq!(
        pair.server_ref().h2().peer_settings().initial_window_size,
        65_535
    );
    assert_eq!(pair.client_ref().h2().adaptive_window(), None);
}

/// The server estimates too: a client streaming to it gets larger windows.
#[test]
fn the_server_grows_its_windows_for_a_client_stream() {
    let mut pair = GrpcPair::new();
    pair.drive();
    let call = pair.start_call(CallOptions::new("/pkg.Svc/Upload"));
    pair.drive();
    let (scall, _) = pair.accept().expect("call started");
    let mut sent = 0;
    let mut got = 0;
    while got < 500 {
        while sent < 500
            && pair
                .client()
                .send_message(call, Bytes::from(vec![sent as u8; 16 << 10]))
                .is_ok()
        {
            sent += 1;
        }
        pair.step();
        got += messages(&pair.server_events(), scall).len();
    }
    let window = pair.client_ref().h2().peer_settings().initial_window_size;
    assert!(window > 65_535, "{window}");
    assert_eq!(pair.server_ref().h2().adaptive_window(), Some(window));
}
