//! Our client's BDP estimator against real servers with ping policies of their
//! own: tonic (hyper's h2) and grpcio (C-core, which strikes a client that
//! pings more than twice with nothing flowing). Over 127.0.0.1, large unary
//! responses and long server streams: every call OK, no GOAWAY, and the
//! estimate grew past the default window, so the PINGs did go out and come
//! back.

mod peers;
mod tonic_peer;

use std::net::SocketAddr;

use bytes::Bytes;
use grpc_sansio::grpc::status::Code;
use grpc_sansio::grpc::{Config, Event};
use grpc_sansio_service::codec::encode;
use spec_tests::bdp_pinger::{Pacing, TcpPinger};
use spec_tests::interop::payload;
use spec_tests::proto::{
    test_service_paths as paths, ResponseParameters, SimpleRequest, StreamingOutputCallRequest,
};

/// The interop `large_unary` response.
const LARGE: i32 = 314_159;
/// Each server stream: 64 messages of 64 KiB.
const STREAM: [i32; 64] = [64 << 10; 64];

fn large_unary() -> Bytes {
    encode(&SimpleRequest {
        response_size: LARGE,
        payload: Some(payload(16)),
        ..SimpleRequest::default()
    })
}

fn long_stream() -> Bytes {
    encode(&StreamingOutputCallRequest {
        response_parameters: STREAM
            .iter()
            .map(|&size| ResponseParameters {
                size,
                ..ResponseParameters::default()
            })
            .collect(),
        ..StreamingOutputCallRequest::default()
    })
}

/// 100 large unary calls (4 at a time) and 8 long streams (2 at a time) on
/// one connection of our default client, BDP estimator on.
fn bdp_client_is_welcome(server: &str, addr: SocketAddr) {
    let mut client =
        TcpPinger::connect_with(addr, Config::client(), Pacing::Manual, 1).expect("connect");
    let unary = large_unary();
    let stream = long_stream();
    for round in 0..25 {
        let calls = vec![(paths::UNARY_CALL, unary.clone()); 4];
        for outcome in client.run(&calls).expect("unary calls") {
            assert_eq!(
                outcome.status.code(),
                Code::Ok,
                "{server}: round {round}: {:?}",
                outcome.status
            );
            // Each response is a SimpleResponse whose payload is LARGE octets.
            assert!(outcome.octets() > LARGE as usize, "{server}: round {round}");
        }
    }
    for round in 0..4 {
        let calls = vec![(paths::STREAMING_OUTPUT_CALL, stream.clone()); 2];
        for outcome in client.run(&calls).expect("server streams") {
            assert_eq!(outcome.status.code(), Code::Ok, "{server}: stream {round}");
            assert_eq!(outcome.messages.len(), STREAM.len(), "{server}");
        }
    }
    let goaways: Vec<&Event> = client
        .other_events()
        .iter()
        .filter(|e| matches!(e, Event::GoAway { .. }))
        .collect();
    assert!(goaways.is_empty(), "{server}: {goaways:?}");
    assert!(client.pinger().goaways().is_empty(), "{server}");
    assert!(!client.is_eof(), "{server} closed the connection");
    let window = client
        .pinger()
        .connection()
        .h2()
        .adaptive_window()
        .expect("the estimator is on by default");
    println!("{server}: BDP window {window}");
    assert!(
        window > 65_535,
        "{server}: the estimate never grew ({window}): no BDP PING came back"
    );
}

#[test]
fn tonic_server_accepts_our_bdp_pings() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let tonic = runtime.block_on(tonic_peer::server::TonicServer::start());
    bdp_client_is_welcome("tonic", tonic.addr());
    runtime.block_on(tonic.stop());
}

#[test]
fn grpcio_server_accepts_our_bdp_pings() {
    let grpcio = peers::grpcio_server(&peers::python());
    bdp_client_is_welcome("grpcio", grpcio.addr);
    grpcio.stop();
}
