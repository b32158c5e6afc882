//! Cancellation from either side mid-stream, and the loss of the transport:
//! each call ends with exactly one terminal event of the right code, and
//! nothing is reported for a call after it.

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallError, CallOptions, Event};
use grpc_sansio::h2::{frame::Frame, ErrorCode};
use grpc_sansio::testing::{
    assert_lifecycle, cancelled, event_call, finished, messages, pattern, GrpcPair, Side,
};

/// interop `cancel_after_begin`: a client-streaming call cancelled before it
/// sends anything.
#[test]
fn cancel_after_begin() {
    let mut pair = GrpcPair::new();
    let call = pair.start_call(CallOptions::new(
        "/grpc.testing.TestService/StreamingInputCall",
    ));
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    pair.client().cancel(call).unwrap();
    // The client's terminal event is immediate and local.
    let events = pair.client_events();
    assert_eq!(events.len(), 1);
    assert_eq!(finished(&events, call).unwrap().0.code(), Code::Cancelled);
    pair.drive();
    let events = pair.server_events();
    assert_lifecycle(&events);
    assert_eq!(cancelled(&events, scall).unwrap().code(), Code::Cancelled);
    assert!(pair.client_events().is_empty());
    for conn in [pair.client_ref(), pair.server_ref()] {
        assert_eq!(conn.active_calls(), 0);
        assert_eq!(conn.h2().active_streams(), 0);
    }
}

/// A call cancelled before its HEADERS left: the server never hears of it.
#[test]
fn cancel_before_anything_was_sent() {
    let mut pair = GrpcPair::new();
    pair.drive();
    pair.set_recording(Side::Client, true);
    let call = pair.start_call(CallOptions::new("/pkg.Svc/Never"));
    pair.client()
        .send_message(call, Bytes::from_static(b"x"))
        .unwrap();
    pair.client().cancel(call).unwrap();
    pair.drive();
    assert_eq!(
        finished(&pair.client_events(), call).unwrap().0.code(),
        Code::Cancelled
    );
    assert!(pair.server_events().is_empty());
    assert!(
        pair.sent_frames(Side::Client).is_empty(),
        "{:?}",
        pair.sent_frames(Side::Client)
    );
    // The next call works and gets a later stream id.
    let next = pair.start_unary("/pkg.Svc/Next", Bytes::new());
    assert!(next.stream_id() > call.stream_id());
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    pair.respond(scall, &[], &Status::ok());
    pair.drive();
    assert_eq!(
        finished(&pair.client_events(), next).unwrap().0.code(),
        Code::Ok
    );
}

/// interop `cancel_after_first_response`: a duplex call cancelled by the
/// client after one exchange, while the server has more answers in flight.
/// The client hears nothing of them; the server sees CANCELLED and no message
/// the client had in flight.
#[test]
fn client_cancels_mid_stream() {
    let mut pair = GrpcPair::new();
    pair.set_recording(Side::Client, true);
    let call = pair.start_call(CallOptions::new("/grpc.testing.TestService/FullDuplexCall"));
    pair.client()
        .send_message(call, pattern(27_182, 1))
        .unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    assert_eq!(messages(&pair.server_events(), scall).len(), 1);
    pair.server()
        .send_message(scall, pattern(31_415, 2))
        .unwrap();
    pair.drive();
    assert_eq!(messages(&pair.client_events(), call).len(), 1);

    // Both sides send more; the client cancels before reading any of it.
    for i in 0..3 {
        pair.server()
            .send_message(scall, pattern(9_000, i))
            .unwrap();
    }
    pair.client().send_message(call, pattern(100, 9)).unwrap();
    pair.flush(Side::Server);
    pair.client().cancel(call).unwrap();
    pair.drive();

    let client = pair.client_events();
    assert_lifecycle(&client);
    assert_eq!(client.len(), 1, "{client:?}");
    assert_eq!(finished(&client, call).unwrap().0.code(), Code::Cancelled);
    let server = pair.server_events();
    assert_lifecycle(&server);
    assert!(messages(&server, scall).is_empty(), "{server:?}");
    assert_eq!(cancelled(&server, scall).unwrap().code(), Code::Cancelled);
    let resets: Vec<_> = pair
        .sent_frames(Side::Client)
        .into_iter()
        .filter_map(|f| match f {
            Frame::RstStream(r) => Some((r.stream_id, r.error_code)),
            _ => None,
        })
        .collect();
    assert_eq!(resets, [(call.stream_id(), ErrorCode::CANCEL)]);
    assert!(matches!(
        pair.server().send_message(scall, Bytes::new()),
        Err(CallError::UnknownCall(_))
    ));
    assert!(matches!(
        pair.client().send_message(call, Bytes::new()),
        Err(CallError::UnknownCall(_))
    ));
    assert!(matches!(
        pair.client().cancel(call),
        Err(CallError::UnknownCall(_))
    ));
    for conn in [pair.client_ref(), pair.server_ref()] {
        assert_eq!(conn.active_calls(), 0);
        assert_eq!(conn.h2().active_streams(), 0);
        assert!(conn.h2().error().is_none());
    }
}

/// The server cancels mid-stream: the client reports CANCELLED; messages the
/// client had in flight are not reported to the server, which gets no
/// terminal event of its own (its `cancel` ended the call).
#[test]
fn server_cancels_mid_stream() {
    let mut pair = GrpcPair::new();
    let call = pair.start_call(CallOptions::new("/pkg.Svc/Duplex"));
    pair.client().send_message(call, pattern(500, 1)).unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    pair.server().send_message(scall, pattern(600, 2)).unwrap();
    pair.drive();
    pair.server_events();
    assert_eq!(messages(&pair.client_events(), call).len(), 1);

    for i in 0..3 {
        pair.client()
            .send_message(call, pattern(20_000, i))
            .unwrap();
    }
    pair.flush(Side::Client);
    pair.server().cancel(scall).unwrap();
    pair.drive();

    let server = pair.server_events();
    assert!(server.is_empty(), "{server:?}");
    let client = pair.client_events();
    assert_lifecycle(&client);
    assert_eq!(client.len(), 1, "{client:?}");
    assert_eq!(finished(&client, call).unwrap().0.code(), Code::Cancelled);
    assert!(matches!(
        pair.client().send_message(call, Bytes::new()),
        Err(CallError::UnknownCall(_))
    ));
    for conn in [pair.client_ref(), pair.server_ref()] {
        assert_eq!(conn.active_calls(), 0);
        assert_eq!(conn.h2().active_streams(), 0);
        assert!(conn.h2().error().is_none());
    }
    // The connection still carries calls.
    let next = pair.start_unary("/pkg.Svc/Next", Bytes::from_static(b"n"));
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    pair.respond(scall, &[Bytes::from_static(b"m")], &Status::ok());
    pair.drive();
    let events = pair.client_events();
    assert_eq!(messages(&events, next), [Bytes::from_static(b"m")]);
}

/// Cancelling one call leaves its neighbours alone.
#[test]
fn cancel_is_per_call() {
    let mut pair = GrpcPair::new();
    let a = pair.start_call(CallOptions::new("/pkg.Svc/A"));
    let b = pair.start_call(CallOptions::new("/pkg.Svc/B"));
    let c = pair.start_call(CallOptions::new("/pkg.Svc/C"));
    pair.drive();
    let started: Vec<_> = std::iter::from_fn(|| pair.accept()).collect();
    assert_eq!(started.len(), 3);
    let server_of = |id| started.iter().find(|(s, _)| *s == id).unwrap().0;
    let (sa, sb, sc) = (server_of(a), server_of(b), server_of(c));
    pair.client().cancel(b).unwrap();
    pair.server().cancel(sc).unwrap();
    pair.drive();
    pair.client()
        .send_message(a, Bytes::from_static(b"x"))
        .unwrap();
    pair.client().close_send(a).unwrap();
    pair.drive();
    pair.respond(sa, &[Bytes::from_static(b"y")], &Status::ok());
    pair.drive();
    let client = pair.client_events();
    assert_lifecycle(&client);
    assert_eq!(finished(&client, a).unwrap().0.code(), Code::Ok);
    assert_eq!(finished(&client, b).unwrap().0.code(), Code::Cancelled);
    assert_eq!(finished(&client, c).unwrap().0.code(), Code::Cancelled);
    let server = pair.server_events();
    assert_lifecycle(&server);
    assert_eq!(cancelled(&server, sb).unwrap().code(), Code::Cancelled);
    assert!(cancelled(&server, sa).is_none());
    assert!(cancelled(&server, sc).is_none());
}

/// The transport dies with calls in flight: every client call finishes
/// UNAVAILABLE, every server call is cancelled with CANCELLED, once; nothing
/// more is sent or reported and no new call starts.
#[test]
fn transport_closed_ends_every_call() {
    let mut pair = GrpcPair::new();
    let calls: Vec<_> = (0..3)
        .map(|i| {
            let c = pair.start_call(CallOptions::new("/pkg.Svc/Stream"));
            pair.client().send_message(c, pattern(100, i)).unwrap();
            c
        })
        .collect();
    pair.drive();
    let scalls: Vec<_> = std::iter::from_fn(|| pair.accept())
        .map(|(c, _)| c)
        .collect();
    assert_eq!(scalls.len(), 3);
    pair.server()
        .send_message(scalls[0], pattern(10, 0))
        .unwrap();
    pair.drive();
    pair.client_events();
    pair.server_events();

    pair.client().transport_closed();
    pair.server().transport_closed();
    let client = pair.client_events();
    let server = pair.server_events();
    assert_lifecycle(&client);
    assert_lifecycle(&server);
    assert_eq!(client.len(), 3, "{client:?}");
    assert_eq!(server.len(), 3, "{server:?}");
    for call in &calls {
        assert_eq!(
            finished(&client, *call).unwrap().0.code(),
            Code::Unavailable
        );
    }
    for call in &scalls {
        assert_eq!(cancelled(&server, *call).unwrap().code(), Code::Cancelled);
    }
    assert!(pair.client_ref().is_closed());
    assert!(pair.server_ref().is_closed());
    assert_eq!(pair.client_ref().poll_timeout(), None);
    let now = pair.now();
    assert!(matches!(
        pair.client()
            .start_call(now, CallOptions::new("/pkg.Svc/After")),
        Err(CallError::Closed)
    ));
    let mut buf = Vec::new();
    assert_eq!(pair.client().poll_transmit(&mut buf), 0);
    assert_eq!(pair.server().poll_transmit(&mut buf), 0);
    // Calling it twice changes nothing.
    pair.client().transport_closed();
    assert!(pair.client_events().is_empty());
}

/// Every event that names a call, over a run of cancellations in both
/// directions at every stage, respects the lifecycle rule.
#[test]
fn no_event_after_terminal_under_churn() {
    let mut pair = GrpcPair::new();
    let mut client_events = Vec::new();
    let mut server_events = Vec::new();
    for round in 0..60u32 {
        let call = pair.start_call(CallOptions::new("/pkg.Svc/Churn"));
        let stage = round % 6;
        pair.client()
            .send_message(call, pattern(70_000, 1))
            .unwrap();
        if stage == 0 {
            pair.client().cancel(call).unwrap();
        }
        pair.step();
        let scall = pair.accept().map(|(c, _)| c);
        if let Some(scall) = scall {
            if stage == 1 {
                pair.server().cancel(scall).unwrap();
            }
            if stage >= 2 {
                let _ = pair.server().send_message(scall, pattern(70_000, 2));
            }
            if stage == 3 {
                let _ = pair.client().cancel(call);
            }
            if stage == 4 {
                let _ = pair.server().finish(
                    scall,
                    &Status::new(Code::Aborted, "stop"),
                    &Metadata::new(),
                );
            }
        }
        pair.drive();
        if stage == 5 {
            let _ = pair.client().cancel(call);
            if let Some(scall) = scall {
                let _ = pair.server().cancel(scall);
            }
            pair.drive();
        }
        client_events.extend(pair.client_events());
        server_events.extend(pair.server_events());
        if stage == 2 {
            // Still open: close it properly.
            let _ = pair.client().close_send(call);
            pair.drive();
            if let Some(scall) = scall {
                let _ = pair.server().finish(scall, &Status::ok(), &Metadata::new());
            }
            pair.drive();
            client_events.extend(pair.client_events());
            server_events.extend(pair.server_events());
        }
        let terminals = client_events
            .iter()
            .filter(|e| event_call(e) == Some(call) && matches!(e, Event::Finished { .. }))
            .count();
        assert_eq!(terminals, 1, "round {round}: {client_events:?}");
    }
    assert_lifecycle(&client_events);
    assert_lifecycle(&server_events);
    assert_eq!(pair.client_ref().active_calls(), 0);
    assert_eq!(pair.server_ref().active_calls(), 0);
    assert_eq!(pair.client_ref().h2().active_streams(), 0);
    assert_eq!(pair.server_ref().h2().active_streams(), 0);
}
