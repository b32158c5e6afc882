//! Backpressure end to end: a 1-octet window that stalls and resumes, the
//! bounded send buffer (`CallError::Full` then `Event::Writable`), a slow
//! consumer that stops its sender, and a 256 MiB stream through 64 KiB windows
//! with bounded memory at every step.

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallError, CallId, CallOptions, Config, Event};
use grpc_sansio::h2::frame::Frame;
use grpc_sansio::testing::{finished, messages, pattern, GrpcPair, Side};

/// Largest per-step allowance for framing overhead in the bounds below.
const SLACK: usize = 4 << 10;

fn window_one(mut c: Config) -> Config {
    c.h2 = c.h2.fixed_windows(1, 1 << 20);
    c
}

/// The default windows, kept fixed: these tests are about what a window does,
/// not about the BDP estimate growing it (`bdp_windows` covers that).
fn fixed_windows() -> GrpcPair {
    let fixed = |mut c: Config| {
        c.h2 = c.h2.fixed_windows(65_535, 1 << 20);
        c
    };
    GrpcPair::with_configs(fixed(Config::client()), fixed(Config::server()))
}

/// A handshaken pair with one call both sides know: (client call, server call).
fn open_call(pair: &mut GrpcPair, path: &str) -> (CallId, CallId) {
    pair.drive();
    let call = pair.start_call(CallOptions::new(path));
    pair.drive();
    let (scall, _) = pair.accept().expect("call started");
    (call, scall)
}

/// Unsent octets queued on a call.
fn queued(pair: &GrpcPair, side: Side, call: CallId) -> usize {
    let (conn, limit) = match side {
        Side::Client => (pair.client_ref(), 1 << 20),
        Side::Server => (pair.server_ref(), 1 << 20),
    };
    limit - conn.send_capacity(call)
}

/// A client that grants a 1-octet stream window and does not read: the server
/// sends one octet per round trip until a whole message sits unread, then
/// stalls; each message the client takes lets exactly the next one through.
#[test]
fn one_octet_window_stalls_and_resumes() {
    let mut pair = GrpcPair::with_configs(window_one(Config::client()), Config::server());
    let (call, scall) = open_call(&mut pair, "/pkg.Svc/Download");
    pair.set_recording(Side::Server, true);
    pair.set_collect(Side::Client, false);
    let replies: Vec<Bytes> = (0..3).map(|i| pattern(300, i)).collect();
    for r in &replies {
        pair.server().send_message(scall, r.clone()).unwrap();
    }
    pair.drive();
    for frame in pair.sent_frames(Side::Server) {
        if let Frame::Data(d) = frame {
            assert!(
                d.data.len() <= 1,
                "{} octets in a 1-octet window",
                d.data.len()
            );
        }
    }
    // Stalled: the first message is in, the other two are still queued.
    assert!(
        queued(&pair, Side::Server, scall) >= 2 * 305 - 1,
        "only {} octets still queued: the window reopened for unread data",
        queued(&pair, Side::Server, scall)
    );
    let mut got = Vec::new();
    for i in 0..3 {
        // Take the client's events as an application would, one by one.
        let mut took_message = false;
        while let Some(event) = pair.client().poll_event() {
            if let Event::Message {
                call: c, message, ..
            } = event
            {
                assert_eq!(c, call);
                got.push(message);
                took_message = true;
                break;
            }
        }
        assert!(took_message, "message {i} did not arrive");
        pair.drive();
    }
    assert_eq!(got, replies);
    pair.set_collect(Side::Client, true);
    pair.server()
        .finish(scall, &Status::ok(), &Metadata::new())
        .unwrap();
    pair.drive();
    assert_eq!(
        finished(&pair.client_events(), call).unwrap().0.code(),
        Code::Ok
    );
}

/// The other way: a server granting 1 octet receives a 1,000-octet message
/// one octet per DATA frame, intact.
#[test]
fn one_octet_window_toward_the_server() {
    let mut pair = GrpcPair::with_configs(Config::client(), window_one(Config::server()));
    pair.drive();
    pair.set_recording(Side::Client, true);
    let message = pattern(1000, 7);
    let call = pair.start_unary("/pkg.Svc/Upload", message.clone());
    pair.drive();
    let data_frames: Vec<usize> = pair
        .sent_frames(Side::Client)
        .into_iter()
        .filter_map(|f| match f {
            Frame::Data(d) if !d.data.is_empty() => Some(d.data.len()),
            _ => None,
        })
        .collect();
    assert_eq!(data_frames.len(), 1005, "{data_frames:?}");
    let (scall, _) = pair.accept().unwrap();
    assert_eq!(messages(&pair.server_events(), scall), [message]);
    pair.respond(scall, &[], &Status::ok());
    pair.drive();
    assert_eq!(
        finished(&pair.client_events(), call).unwrap().0.code(),
        Code::Ok
    );
}

/// `send_message` says Full once the call holds its bound of unsent octets,
/// and `Event::Writable` follows when the peer drains it; then sending works
/// again.
#[test]
fn full_then_writable() {
    const MSG: usize = 16 << 10;
    let mut client = Config::client();
    client.h2.max_send_buffer_per_stream = 64 << 10;
    let mut pair = GrpcPair::with_configs(client, Config::server());
    let (call, scall) = open_call(&mut pair, "/pkg.Svc/Upload");
    pair.set_collect(Side::Server, false);
    let mut sent = 0usize;
    let mut full = false;
    for _ in 0..1000 {
        match pair.client().send_message(call, pattern(MSG, sent as u8)) {
            Ok(()) => sent += 1,
            Err(CallError::Full(c)) => {
                assert_eq!(c, call);
                full = true;
                // Let what the window allows go, then try again.
                pair.drive();
                if pair.client().send_message(call, pattern(MSG, sent as u8))
                    == Err(CallError::Full(call))
                {
                    break;
                }
                sent += 1;
            }
            Err(e) => panic!("{e}"),
        }
        pair.step();
    }
    assert!(full, "never Full");
    // Bounded: the peer's window (64 KiB) plus our buffer (64 KiB) plus one message.
    assert!(
        sent * (MSG + 5) <= (64 << 10) + (64 << 10) + 2 * (MSG + 5),
        "{sent} messages accepted"
    );
    assert!(pair.client_ref().send_capacity(call) < MSG + 5);
    let writable = |events: &[Event]| {
        events
            .iter()
            .filter(|e| matches!(e, Event::Writable { call: c } if *c == call))
            .count()
    };
    assert_eq!(
        writable(&pair.client_events()),
        0,
        "Writable before draining"
    );

    // The server reads everything; the client is told it may write again.
    let mut received = Vec::new();
    for _ in 0..100 {
        pair.collect(Side::Server);
        received.extend(messages(&pair.server_events(), scall));
        pair.drive();
        if received.len() == sent {
            break;
        }
    }
    assert_eq!(received.len(), sent);
    for (i, m) in received.iter().enumerate() {
        assert_eq!(m, &pattern(MSG, i as u8), "message {i}");
    }
    let events = pair.client_events();
    assert_eq!(writable(&events), 1, "{events:?}");
    assert!(pair.client_ref().send_capacity(call) >= 32 << 10);
    pair.client().send_message(call, pattern(MSG, 0)).unwrap();
    pair.client().close_send(call).unwrap();
    pair.set_collect(Side::Server, true);
    pair.drive();
    let events = pair.server_events();
    assert_eq!(messages(&events, scall).len(), 1);
}

/// The connection-wide bound: one call filling it makes another call's
/// `send_message` Full too, and that call is told Writable once it drains.
#[test]
fn connection_send_buffer_bound_is_shared() {
    let mut client = Config::client();
    client.h2.max_send_buffer_per_connection = 256 << 10;
    let mut pair = GrpcPair::with_configs(client, Config::server());
    pair.drive();
    let a = pair.start_call(CallOptions::new("/pkg.Svc/A"));
    let b = pair.start_call(CallOptions::new("/pkg.Svc/B"));
    pair.drive();
    let started: Vec<_> = std::iter::from_fn(|| pair.accept())
        .map(|(c, _)| c)
        .collect();
    pair.set_collect(Side::Server, false);
    // The windows take 64 KiB; then the buffer fills.
    pair.client().send_message(a, pattern(64 << 10, 1)).unwrap();
    pair.drive();
    pair.client()
        .send_message(a, pattern(300 << 10, 2))
        .unwrap();
    assert_eq!(
        pair.client().send_message(b, pattern(1000, 3)),
        Err(CallError::Full(b))
    );
    pair.set_collect(Side::Server, true);
    for _ in 0..50 {
        pair.drive();
        if pair
            .peek_client_events()
            .iter()
            .any(|e| matches!(e, Event::Writable { call } if *call == b))
        {
            break;
        }
    }
    let events = pair.client_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Writable { call } if *call == b)),
        "{events:?}"
    );
    pair.client().send_message(b, pattern(1000, 3)).unwrap();
    pair.drive();
    let server = pair.server_events();
    let sb = started
        .iter()
        .copied()
        .find(|c| c.stream_id() == b.stream_id())
        .unwrap();
    assert_eq!(messages(&server, sb), [pattern(1000, 3)]);
}

/// Half-closing carries no data, so it must work behind a full send buffer:
/// either `close_send` is accepted at once, or it says Full and a retry after
/// `Writable` goes through. Either way the server sees the half-close.
#[test]
fn close_send_is_not_refused_for_a_full_buffer() {
    let mut pair = GrpcPair::new();
    let (call, scall) = open_call(&mut pair, "/pkg.Svc/Upload");
    // One message larger than the 1 MiB buffer is always taken when it is empty.
    pair.client()
        .send_message(call, pattern(2 << 20, 1))
        .unwrap();
    let first = pair.client().close_send(call);
    pair.drive();
    if first.is_err() {
        // (The refusal surfaces as `CallError::H2(SendBufferFull)` rather than
        // `CallError::Full`; either way a retry after Writable must work.)
        let events = pair.client_events();
        assert!(
            events.iter().any(|e| matches!(e, Event::Writable { .. })),
            "close_send was refused and no Writable followed: {events:?}"
        );
        pair.client().close_send(call).unwrap();
        pair.drive();
    }
    let events = pair.server_events();
    assert_eq!(messages(&events, scall).len(), 1);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::HalfClosed { call: c } if *c == scall)),
        "the server never learned that the client is done: {events:?}"
    );
}

/// A slow consumer stops its sender: a client that takes no message holds the
/// server to its stream window (plus the message being completed), however
/// much the server wants to send; the server's own queue stays within its
/// bound. Taking the messages lets everything through, in order.
#[test]
fn slow_consumer_stops_the_sender() {
    const MSG: usize = 20_000; // spans two DATA frames
    const COUNT: usize = 200; // 4 MB in all
    let mut pair = fixed_windows();
    let (call, scall) = open_call(&mut pair, "/pkg.Svc/Download");
    pair.set_collect(Side::Client, false);
    let base = pair.written(Side::Server);
    let mut next = 0;
    for _ in 0..200 {
        while next < COUNT {
            match pair.server().send_message(scall, pattern(MSG, next as u8)) {
                Ok(()) => next += 1,
                Err(CallError::Full(_)) => break,
                Err(e) => panic!("{e}"),
            }
        }
        pair.step();
        let delivered = (pair.written(Side::Server) - base) as usize;
        assert!(
            delivered <= 65_535 + MSG + SLACK,
            "{delivered} octets reached a client that has read nothing"
        );
        assert!(queued(&pair, Side::Server, scall) <= (1 << 20) + MSG + 5);
    }
    assert!(next < COUNT, "the sender never stopped");

    // Now read: everything arrives, in order.
    pair.set_collect(Side::Client, true);
    let mut got = Vec::new();
    for _ in 0..10_000 {
        while next < COUNT {
            match pair.server().send_message(scall, pattern(MSG, next as u8)) {
                Ok(()) => next += 1,
                Err(CallError::Full(_)) => break,
                Err(e) => panic!("{e}"),
            }
        }
        pair.step();
        got.extend(messages(&pair.client_events(), call));
        if got.len() == COUNT {
            break;
        }
    }
    assert_eq!(got.len(), COUNT);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m, &pattern(MSG, i as u8), "message {i}");
    }
}

/// 256 MiB server → client as 4,096 messages of 64 KiB through the default
/// 64 KiB stream window, with the sender's queue, the octets in flight and the
/// receiver's unread messages bounded at every step, and every message in
/// order.
#[test]
fn stream_256_mib_with_bounded_memory() {
    const MSG: usize = 64 << 10;
    const COUNT: usize = 4096;
    let mut pair = fixed_windows();
    let (call, scall) = open_call(&mut pair, "/pkg.Svc/Download");
    // Messages are checked by their first octets and length: building 256 MiB
    // of patterns would dominate the run.
    let template = pattern(MSG, 0);
    let message = |i: usize| {
        let mut m = template.to_vec();
        m[..8].copy_from_slice(&(i as u64).to_be_bytes());
        Bytes::from(m)
    };
    let mut next = 0usize;
    let mut received = 0usize;
    let mut max_in_flight = 0usize;
    let mut max_queued = 0usize;
    let mut steps = 0usize;
    while received < COUNT {
        steps += 1;
        assert!(steps < 1_000_000, "no progress");
        while next < COUNT {
            match pair.server().send_message(scall, message(next)) {
                Ok(()) => next += 1,
                Err(CallError::Full(_)) => break,
                Err(e) => panic!("{e}"),
            }
        }
        max_queued = max_queued.max(queued(&pair, Side::Server, scall));
        pair.fire_timers();
        pair.flush(Side::Server);
        max_in_flight = max_in_flight.max(pair.in_flight(Side::Client));
        pair.deliver(Side::Client);
        pair.flush(Side::Client);
        pair.deliver(Side::Server);
        let events = pair.client_events();
        let mut unread = 0;
        for e in &events {
            if let Event::Message {
                call: c, message, ..
            } = e
            {
                assert_eq!(*c, call);
                unread += message.len();
                assert_eq!(message.len(), MSG);
                let n = u64::from_be_bytes(message[..8].try_into().unwrap());
                assert_eq!(n as usize, received, "out of order");
                assert_eq!(message[8..], template[8..]);
                received += 1;
            }
        }
        assert!(
            unread <= 2 * (MSG + 5),
            "{unread} octets of messages became readable in one step"
        );
    }
    assert!(
        max_in_flight <= 65_535 + SLACK,
        "{max_in_flight} octets in flight through a 64 KiB window"
    );
    assert!(
        max_queued <= (1 << 20) + MSG + 5,
        "{max_queued} octets queued"
    );
    pair.server()
        .finish(scall, &Status::ok(), &Metadata::new())
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    assert_eq!(finished(&events, call).unwrap().0.code(), Code::Ok);
    eprintln!("256 MiB in {steps} steps, at most {max_in_flight} octets in flight");
}
