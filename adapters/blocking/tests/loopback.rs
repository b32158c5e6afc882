//! The blocking server and client over real loopback sockets.

use std::time::Duration;

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallOptions, Config};
use grpc_sansio_blocking::{Channel, Server, ServerCall};

/// Routes by method: Unary echo, Split (server stream), Sum (client stream),
/// Chat (bidi), Sleep (waits for cancellation).
fn handler(mut call: ServerCall) {
    let method = call.request().method().to_owned();
    match method.as_str() {
        "Unary" => {
            let mut md = Metadata::new();
            if let Some(v) = call.request().metadata.get("x-echo") {
                md.insert("x-echo", v).unwrap();
            }
            call.send_headers(md);
            let msg = call.recv().unwrap().unwrap();
            call.send(msg).unwrap();
            let mut trailers = Metadata::new();
            trailers
                .insert_bin("x-trailer-bin", vec![0xab, 0xab, 0xab])
                .unwrap();
            call.finish(Status::ok(), trailers);
        }
        "Split" => {
            let msg = call.recv().unwrap().unwrap();
            for chunk in msg.chunks(3) {
                call.send(Bytes::copy_from_slice(chunk)).unwrap();
            }
            call.finish(Status::ok(), Metadata::new());
        }
        "Sum" => {
            let mut total = 0usize;
            while let Some(msg) = call.recv().unwrap() {
                total += msg.len();
            }
            call.send(Bytes::from(total.to_string())).unwrap();
            call.finish(Status::ok(), Metadata::new());
        }
        "Chat" => {
            while let Some(msg) = call.recv().unwrap() {
                let mut reply = b"re: ".to_vec();
                reply.extend_from_slice(&msg);
                call.send(reply.into()).unwrap();
            }
            call.finish(Status::ok(), Metadata::new());
        }
        "Sleep" => {
            let status = loop {
                if let Err(status) = call.recv() {
                    break status;
                }
            };
            assert!(matches!(
                status.code(),
                Code::Cancelled | Code::DeadlineExceeded
            ));
        }
        _ => call.finish(
            Status::new(Code::Unimplemented, "no such method"),
            Metadata::new(),
        ),
    }
}

fn setup() -> (Server, Channel) {
    let server = Server::bind("127.0.0.1:0", Config::server(), handler).unwrap();
    let channel = Channel::connect(server.local_addr(), Config::client()).unwrap();
    (server, channel)
}

#[test]
fn all_four_kinds() {
    let (server, channel) = setup();
    let mut options = CallOptions::new("/test.Svc/Unary");
    options.metadata.insert("x-echo", "hello").unwrap();
    options.timeout = Some(Duration::from_secs(10));
    let reply = channel.unary(options, Bytes::from_static(b"ping")).unwrap();
    assert_eq!(reply.message, "ping");
    assert_eq!(reply.headers.get("x-echo"), Some("hello"));
    assert_eq!(
        &reply.trailers.get_bin("x-trailer-bin").unwrap()[..],
        &[0xab; 3]
    );

    let mut call = channel.call(CallOptions::new("/test.Svc/Split")).unwrap();
    call.send(Bytes::from_static(b"abcdefgh")).unwrap();
    call.close_send();
    let mut parts = Vec::new();
    while let Some(m) = call.recv().unwrap() {
        parts.push(m);
    }
    assert_eq!(parts, ["abc", "def", "gh"]);

    let mut call = channel.call(CallOptions::new("/test.Svc/Sum")).unwrap();
    for _ in 0..10 {
        call.send(Bytes::from(vec![0u8; 1000])).unwrap();
    }
    call.close_send();
    assert_eq!(call.recv().unwrap().unwrap(), "10000");
    assert!(call.finish().0.is_ok());

    let mut call = channel.call(CallOptions::new("/test.Svc/Chat")).unwrap();
    for i in 0..5 {
        call.send(Bytes::from(format!("m{i}"))).unwrap();
        assert_eq!(call.recv().unwrap().unwrap(), format!("re: m{i}"));
    }
    call.close_send();
    assert_eq!(call.recv().unwrap(), None);
    server.shutdown();
}

#[test]
fn deadline_and_cancellation() {
    let (server, channel) = setup();
    let mut options = CallOptions::new("/test.Svc/Sleep");
    options.timeout = Some(Duration::from_millis(50));
    let err = channel.unary(options, Bytes::new()).unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded);

    let mut call = channel.call(CallOptions::new("/test.Svc/Sleep")).unwrap();
    call.send(Bytes::from_static(b"x")).unwrap();
    call.cancel();

    let err = channel
        .unary(CallOptions::new("/test.Svc/Nope"), Bytes::new())
        .unwrap_err();
    assert_eq!(err.code(), Code::Unimplemented);
    server.shutdown();
}

#[test]
fn many_concurrent_calls_on_one_connection() {
    let (server, channel) = setup();
    let threads: Vec<_> = (0..200)
        .map(|i| {
            let channel = channel.clone();
            std::thread::spawn(move || {
                let msg = Bytes::from(vec![i as u8; 1 + i * 100]);
                let reply = channel
                    .unary(CallOptions::new("/test.Svc/Unary"), msg.clone())
                    .unwrap();
                assert_eq!(reply.message, msg);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    server.shutdown();
}
