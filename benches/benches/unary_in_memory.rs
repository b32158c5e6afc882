//! One unary RPC, client and server in one thread, in memory (no sockets).
//!
//! `cargo bench -p benches --bench unary_in_memory`:
//! - `unary_in_memory/ours`: the engine's client and server
//!   `grpc::Connection`s, octets moved between them by hand; the request and
//!   response are `SimpleRequest` / `SimpleResponse` encoded and decoded with
//!   prost on each side, as generated code does, and the server checks the
//!   path as a router would.
//! - `unary_in_memory/tonic_duplex`: tonic's generated client and server over
//!   `tokio::io::duplex`, on a current-thread runtime, the server being the
//!   loopback benchmark's (payload sliced from a static buffer).
//!
//! Both send a 16-octet payload asking for a 16-octet reply.

use std::hint::black_box;
use std::io;
use std::time::Instant;

use benches::messages::{self, UNARY_PATH};
use benches::pb::test_service_client::TestServiceClient;
use benches::pb::test_service_server::TestServiceServer;
use benches::pb::{SimpleRequest, SimpleResponse};
use benches::tonic_service::BenchService;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallOptions, Config, Connection, Event};
use hyper_util::rt::TokioIo;
use prost::Message;
use tonic::transport::{Endpoint, Server, Uri};

/// Moves everything `from` has to send into `to`; whether anything moved.
fn transfer(from: &mut Connection, to: &mut Connection, now: Instant, wire: &mut Vec<u8>) -> bool {
    wire.clear();
    while from.poll_transmit(wire) > 0 {}
    if wire.is_empty() {
        return false;
    }
    to.receive(now, wire).expect("the peer accepts our octets");
    true
}

/// The server application: answers each `UnaryCall` request.
fn serve(server: &mut Connection) {
    let mut path_ok = false;
    while let Some(event) = server.poll_event() {
        match event {
            Event::CallStarted { request, .. } => path_ok = request.path == UNARY_PATH,
            Event::Message { call, message, .. } => {
                assert!(path_ok, "unknown method");
                let request = SimpleRequest::decode(message).expect("a SimpleRequest");
                let size = usize::try_from(request.response_size).expect("a size");
                let response = messages::unary_response(size).encode_to_vec();
                server
                    .send_message(call, Bytes::from(response))
                    .expect("send");
                server
                    .finish(call, &Status::ok(), &Metadata::new())
                    .expect("finish");
            }
            _ => {}
        }
    }
}

/// One whole call: request out, response and status back.
fn one_call(
    client: &mut Connection,
    server: &mut Connection,
    now: Instant,
    wire: &mut Vec<u8>,
    request: &SimpleRequest,
) -> SimpleResponse {
    let call = client
        .start_call(now, CallOptions::new(UNARY_PATH))
        .expect("start");
    client
        .send_message(call, Bytes::from(request.encode_to_vec()))
        .expect("send");
    client.close_send(call).expect("close");
    let mut response = None;
    loop {
        let mut moved = transfer(client, server, now, wire);
        serve(server);
        moved |= transfer(server, client, now, wire);
        while let Some(event) = client.poll_event() {
            match event {
                Event::Message { message, .. } => {
                    response = Some(SimpleResponse::decode(message).expect("a SimpleResponse"));
                }
                Event::Finished { status, .. } => {
                    assert_eq!(status.code(), Code::Ok, "{status}");
                    // What the client still owes (WINDOW_UPDATEs) goes out
                    // with the next call, as it would on a socket.
                    return response.expect("a response before the status");
                }
                _ => {}
            }
        }
        assert!(moved, "the call stalled");
    }
}

fn ours(c: &mut Criterion) {
    let now = Instant::now();
    let mut client = Connection::client(Config::client(), now);
    let mut server = Connection::server(Config::server(), now);
    let mut wire = Vec::with_capacity(64 << 10);
    let request = messages::unary_request(16, 16);
    // Handshake and a first call, so that the loop measures steady state.
    one_call(&mut client, &mut server, now, &mut wire, &request);
    c.bench_function("unary_in_memory/ours", |b| {
        b.iter(|| black_box(one_call(&mut client, &mut server, now, &mut wire, &request)))
    });
}

fn tonic_duplex(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (client_io, server_io) = tokio::io::duplex(64 << 10);
    runtime.spawn(
        Server::builder()
            .add_service(TestServiceServer::new(BenchService))
            .serve_with_incoming(tokio_stream::once(Ok::<_, io::Error>(server_io))),
    );
    let mut client_io = Some(client_io);
    let connector = tower::service_fn(move |_: Uri| {
        let io = client_io.take();
        async move {
            io.map(TokioIo::new)
                .ok_or_else(|| io::Error::other("the in-memory connection is used already"))
        }
    });
    let channel = runtime
        .block_on(Endpoint::from_static("http://in-memory").connect_with_connector(connector))
        .expect("connect");
    let mut client = TestServiceClient::new(channel);
    let request = messages::unary_request(16, 16);
    runtime
        .block_on(client.unary_call(request.clone()))
        .expect("a first call");
    c.bench_function("unary_in_memory/tonic_duplex", |b| {
        b.iter(|| {
            let response = runtime
                .block_on(client.unary_call(request.clone()))
                .expect("the call");
            black_box(response.into_inner())
        })
    });
}

criterion_group!(benches, ours, tonic_duplex);
criterion_main!(benches);
