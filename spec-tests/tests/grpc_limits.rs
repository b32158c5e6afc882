//! Message size limits: `max_recv_message_size` on either side ends the call
//! with RESOURCE_EXHAUSTED (a message at the limit passes), and
//! `max_send_message_size` refuses locally without touching the call.

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallError, CallOptions, Config};
use grpc_sansio::testing::{
    assert_lifecycle, cancelled, finished, messages, pattern, GrpcPair, Side,
};

const LIMIT: usize = 64 << 10;

fn limited(recv: usize) -> Config {
    let mut c = Config::server();
    c.max_recv_message_size = recv;
    c
}

/// The server receives a message over its limit: the client finishes with
/// RESOURCE_EXHAUSTED from the server's trailers, the server application sees
/// the call cancelled with it, and no message. One at the limit passes first.
#[test]
fn server_receives_too_large() {
    let mut pair = GrpcPair::with_configs(Config::client(), limited(LIMIT));
    let call = pair.start_call(CallOptions::new("/pkg.Svc/Upload"));
    pair.client().send_message(call, pattern(LIMIT, 1)).unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    assert_eq!(messages(&pair.server_events(), scall), [pattern(LIMIT, 1)]);
    pair.client()
        .send_message(call, pattern(LIMIT + 1, 2))
        .unwrap();
    pair.drive();
    let server = pair.server_events();
    assert_lifecycle(&server);
    assert!(messages(&server, scall).is_empty());
    assert_eq!(
        cancelled(&server, scall).unwrap().code(),
        Code::ResourceExhausted
    );
    let client = pair.client_events();
    assert_lifecycle(&client);
    let (status, _) = finished(&client, call).unwrap();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(matches!(
        pair.client().send_message(call, Bytes::new()),
        Err(CallError::UnknownCall(_))
    ));
    for conn in [pair.client_ref(), pair.server_ref()] {
        assert_eq!(conn.active_calls(), 0);
        assert_eq!(conn.h2().active_streams(), 0);
        assert!(conn.h2().error().is_none());
    }
}

/// The refusal is decided from the 5-octet prefix: the server does not wait
/// for (or buffer) the body of a message that claims to be too large.
#[test]
fn too_large_is_refused_from_the_prefix() {
    let mut pair = GrpcPair::with_configs(Config::client(), limited(1000));
    pair.drive();
    let call = pair.start_call(CallOptions::new("/pkg.Svc/Upload"));
    pair.client()
        .send_message(call, pattern(10 << 20, 3))
        .unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    let server = pair.server_events();
    assert_eq!(
        cancelled(&server, scall).unwrap().code(),
        Code::ResourceExhausted
    );
    assert_eq!(
        finished(&pair.client_events(), call).unwrap().0.code(),
        Code::ResourceExhausted
    );
    // Far less than the 10 MiB went over the wire: the reset stopped it.
    assert!(
        pair.written(Side::Client) < 2 << 20,
        "{} octets written",
        pair.written(Side::Client)
    );
}

/// The client receives a message over its limit: Finished RESOURCE_EXHAUSTED,
/// and the server's application sees the call cancelled.
#[test]
fn client_receives_too_large() {
    let mut client = Config::client();
    client.max_recv_message_size = LIMIT;
    let mut pair = GrpcPair::with_configs(client, Config::server());
    let call = pair.start_unary("/pkg.Svc/Download", Bytes::new());
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    pair.server_events();
    pair.server()
        .send_message(scall, pattern(LIMIT, 1))
        .unwrap();
    pair.server()
        .send_message(scall, pattern(LIMIT + 1, 2))
        .unwrap();
    pair.server().send_message(scall, pattern(10, 3)).unwrap();
    pair.drive();
    let client = pair.client_events();
    assert_lifecycle(&client);
    assert_eq!(messages(&client, call), [pattern(LIMIT, 1)]);
    assert_eq!(
        finished(&client, call).unwrap().0.code(),
        Code::ResourceExhausted
    );
    let server = pair.server_events();
    assert_eq!(cancelled(&server, scall).unwrap().code(), Code::Cancelled);
    assert!(matches!(
        pair.server().finish(scall, &Status::ok(), &Metadata::new()),
        Err(CallError::UnknownCall(_))
    ));
}

/// The default receive limit is 4 MiB.
#[test]
fn default_receive_limit_is_4_mib() {
    let mut pair = GrpcPair::new();
    let ok = pair.start_call(CallOptions::new("/pkg.Svc/M"));
    pair.client().send_message(ok, pattern(4 << 20, 1)).unwrap();
    pair.drive();
    pair.client().close_send(ok).unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    assert_eq!(messages(&pair.server_events(), scall).len(), 1);
    pair.respond(scall, &[pattern(4 << 20, 2)], &Status::ok());
    pair.drive();
    let events = pair.client_events();
    assert_eq!(messages(&events, ok).len(), 1);
    assert_eq!(finished(&events, ok).unwrap().0.code(), Code::Ok);

    // (Sent, then half-closed once the buffer drained: see
    // grpc_backpressure::close_send_is_not_refused_for_a_full_buffer.)
    let big = pair.start_call(CallOptions::new("/pkg.Svc/M"));
    pair.client()
        .send_message(big, pattern((4 << 20) + 1, 1))
        .unwrap();
    pair.drive();
    assert_eq!(
        finished(&pair.client_events(), big).unwrap().0.code(),
        Code::ResourceExhausted
    );
}

/// `max_send_message_size` refuses locally, sends nothing, and leaves the
/// call usable; on both sides.
#[test]
fn max_send_message_size_is_refused_locally() {
    let mut client = Config::client();
    client.max_send_message_size = 100;
    let mut server = Config::server();
    server.max_send_message_size = 200;
    let mut pair = GrpcPair::with_configs(client, server);
    pair.drive();
    let call = pair.start_call(CallOptions::new("/pkg.Svc/M"));
    let before = pair.client_ref().send_capacity(call);
    assert_eq!(
        pair.client().send_message(call, pattern(101, 1)),
        Err(CallError::MessageTooLarge { len: 101, max: 100 })
    );
    assert_eq!(pair.client_ref().send_capacity(call), before);
    pair.client().send_message(call, pattern(100, 1)).unwrap();
    pair.client().close_send(call).unwrap();
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    assert_eq!(messages(&pair.server_events(), scall), [pattern(100, 1)]);
    assert_eq!(
        pair.server().send_message(scall, pattern(201, 2)),
        Err(CallError::MessageTooLarge { len: 201, max: 200 })
    );
    pair.drive();
    let events = pair.client_events();
    assert!(messages(&events, call).is_empty(), "{events:?}");
    pair.respond(scall, &[pattern(200, 2)], &Status::ok());
    pair.drive();
    let events = pair.client_events();
    assert_eq!(messages(&events, call), [pattern(200, 2)]);
    assert_eq!(finished(&events, call).unwrap().0.code(), Code::Ok);
}

/// A server message refused for its size sends nothing at all, not even the
/// response headers (`CallError`: "Nothing was sent"), so the server can still
/// fail the call with a Trailers-Only response, as grpc-go (whose `SendMsg`
/// checks the size before the transport writes headers).
#[test]
fn refused_server_message_sends_no_headers() {
    let mut server = Config::server();
    server.max_send_message_size = 10;
    let mut pair = GrpcPair::with_configs(Config::client(), server);
    let call = pair.start_unary("/pkg.Svc/M", Bytes::new());
    pair.drive();
    let (scall, _) = pair.accept().unwrap();
    assert_eq!(
        pair.server().send_message(scall, pattern(11, 0)),
        Err(CallError::MessageTooLarge { len: 11, max: 10 })
    );
    pair.drive();
    let events = pair.client_events();
    assert!(
        events.is_empty(),
        "nothing was sent, yet the client saw {events:?}"
    );
    pair.server()
        .finish(
            scall,
            &Status::new(Code::ResourceExhausted, "response too large"),
            &Metadata::new(),
        )
        .unwrap();
    pair.drive();
    let events = pair.client_events();
    assert_eq!(events.len(), 1, "Trailers-Only expected: {events:?}");
    assert_eq!(
        finished(&events, call).unwrap().0.code(),
        Code::ResourceExhausted
    );
}

/// The limit applies to the message as given, before compression: a large
/// message that would compress small is still refused.
#[test]
fn max_send_message_size_counts_uncompressed_octets() {
    let mut client = Config::client();
    client.max_send_message_size = 1000;
    let mut pair = GrpcPair::with_configs(client, Config::server());
    let call = pair.start_call(CallOptions {
        encoding: Some(grpc_sansio::grpc::compression::Encoding::Gzip),
        ..CallOptions::new("/pkg.Svc/M")
    });
    assert_eq!(
        pair.client().send_message(call, Bytes::from(vec![0; 1001])),
        Err(CallError::MessageTooLarge {
            len: 1001,
            max: 1000
        })
    );
}
