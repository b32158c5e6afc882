//! Unary calls over 127.0.0.1, grpc-sansio's tokio adapter next to tonic:
//! `grpc.testing.TestService/UnaryCall` with a 64-byte request and response,
//! each server written the idiomatic way (a generated trait), each client a
//! generated stub over one connection. One call in flight (latency), then 64
//! (throughput), for every client × server pairing.
//!
//!     cargo run --release -p spec-tests --example loopback_vs_tonic
//!
//! Client and server share the machine (and, here, its 2 cores): read the
//! figures side by side, not alone.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::Config;
use grpc_sansio_service::{AsyncRouter, CallContext};
use spec_tests::proto::test_service_client::AsyncTestServiceClient;
use spec_tests::proto::test_service_server::{self, AsyncTestService};
use spec_tests::proto::{Payload, SimpleRequest, SimpleResponse};

mod tonic_pb {
    #![allow(clippy::all, missing_docs, unreachable_pub)]
    include!(concat!(env!("OUT_DIR"), "/tonic/grpc.testing.rs"));
}

const SIZE: usize = 64;
const SEQUENTIAL: usize = 10_000;
const CONCURRENT: usize = 50_000;
const IN_FLIGHT: usize = 64;

struct Ours;

impl AsyncTestService for Ours {
    fn unary_call(
        &self,
        _ctx: &mut CallContext,
        request: SimpleRequest,
    ) -> impl std::future::Future<Output = Result<SimpleResponse, Status>> + Send {
        std::future::ready(Ok(SimpleResponse {
            payload: Some(Payload {
                r#type: 0,
                body: vec![0; request.response_size as usize],
            }),
            ..SimpleResponse::default()
        }))
    }
}

struct Tonic;

type NoStream<T> = Pin<Box<dyn tokio_stream::Stream<Item = Result<T, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl tonic_pb::test_service_server::TestService for Tonic {
    async fn unary_call(
        &self,
        request: tonic::Request<tonic_pb::SimpleRequest>,
    ) -> Result<tonic::Response<tonic_pb::SimpleResponse>, tonic::Status> {
        let size = request.into_inner().response_size as usize;
        Ok(tonic::Response::new(tonic_pb::SimpleResponse {
            payload: Some(tonic_pb::Payload {
                r#type: 0,
                body: vec![0; size],
            }),
            ..Default::default()
        }))
    }

    async fn empty_call(
        &self,
        _: tonic::Request<tonic_pb::Empty>,
    ) -> Result<tonic::Response<tonic_pb::Empty>, tonic::Status> {
        Err(tonic::Status::unimplemented("not in this benchmark"))
    }
    async fn cacheable_unary_call(
        &self,
        _: tonic::Request<tonic_pb::SimpleRequest>,
    ) -> Result<tonic::Response<tonic_pb::SimpleResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("not in this benchmark"))
    }
    type StreamingOutputCallStream = NoStream<tonic_pb::StreamingOutputCallResponse>;
    async fn streaming_output_call(
        &self,
        _: tonic::Request<tonic_pb::StreamingOutputCallRequest>,
    ) -> Result<tonic::Response<Self::StreamingOutputCallStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("not in this benchmark"))
    }
    async fn streaming_input_call(
        &self,
        _: tonic::Request<tonic::Streaming<tonic_pb::StreamingInputCallRequest>>,
    ) -> Result<tonic::Response<tonic_pb::StreamingInputCallResponse>, tonic::Status> {
        Err(tonic::Status::unimplemented("not in this benchmark"))
    }
    type FullDuplexCallStream = NoStream<tonic_pb::StreamingOutputCallResponse>;
    async fn full_duplex_call(
        &self,
        _: tonic::Request<tonic::Streaming<tonic_pb::StreamingOutputCallRequest>>,
    ) -> Result<tonic::Response<Self::FullDuplexCallStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("not in this benchmark"))
    }
    type HalfDuplexCallStream = NoStream<tonic_pb::StreamingOutputCallResponse>;
    async fn half_duplex_call(
        &self,
        _: tonic::Request<tonic::Streaming<tonic_pb::StreamingOutputCallRequest>>,
    ) -> Result<tonic::Response<Self::HalfDuplexCallStream>, tonic::Status> {
        Err(tonic::Status::unimplemented("not in this benchmark"))
    }
    async fn unimplemented_call(
        &self,
        _: tonic::Request<tonic_pb::Empty>,
    ) -> Result<tonic::Response<tonic_pb::Empty>, tonic::Status> {
        Err(tonic::Status::unimplemented("not implemented"))
    }
}

/// Each server on a runtime of its own, as a separate process would be.
fn start_servers() -> (tokio::runtime::Runtime, SocketAddr, SocketAddr) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    let ours = runtime.block_on(async {
        let mut router = AsyncRouter::new();
        test_service_server::register_async(&mut router, Ours);
        let server = grpc_sansio_tokio::Server::bind_router(
            "127.0.0.1:0",
            Config::server(),
            Arc::new(router),
        )
        .await
        .expect("bind");
        let addr = server.local_addr();
        std::mem::forget(server); // serves until the process ends
        addr
    });
    let tonic = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let service = tonic_pb::test_service_server::TestServiceServer::new(Tonic);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming),
        );
        addr
    });
    (runtime, ours, tonic)
}

fn request() -> SimpleRequest {
    SimpleRequest {
        response_size: SIZE as i32,
        payload: Some(Payload {
            r#type: 0,
            body: vec![0; SIZE],
        }),
        ..SimpleRequest::default()
    }
}

fn tonic_request() -> tonic_pb::SimpleRequest {
    tonic_pb::SimpleRequest {
        response_size: SIZE as i32,
        payload: Some(tonic_pb::Payload {
            r#type: 0,
            body: vec![0; SIZE],
        }),
        ..Default::default()
    }
}

/// Runs `total` calls, `in_flight` at a time, and returns the elapsed time.
async fn measure<F, Fut>(total: usize, in_flight: usize, call: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let tasks: Vec<_> = (0..in_flight)
        .map(|i| {
            let call = call.clone();
            let share = total / in_flight + usize::from(i < total % in_flight);
            tokio::spawn(async move {
                for _ in 0..share {
                    call().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("calls");
    }
    started.elapsed()
}

fn report(pairing: &str, sequential: Duration, concurrent: Duration) {
    let latency = sequential.as_secs_f64() * 1e6 / SEQUENTIAL as f64;
    let rate = CONCURRENT as f64 / concurrent.as_secs_f64();
    println!("| {pairing} | {latency:.1} µs | {rate:.0} calls/s |");
}

fn main() {
    let (_servers, ours, tonic) = start_servers();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("client runtime");
    println!("| client → server | latency (1 in flight) | throughput ({IN_FLIGHT} in flight) |");
    println!("|---|---|---|");
    runtime.block_on(async {
        for (server, addr) in [("grpc-sansio", ours), ("tonic", tonic)] {
            let channel = grpc_sansio_tokio::Channel::connect(addr, Config::client())
                .await
                .expect("connect");
            let client = AsyncTestServiceClient::new(channel);
            let call = move || {
                let client = client.clone();
                async move {
                    client
                        .unary_call(&request(), None)
                        .await
                        .expect("unary call");
                }
            };
            measure(1_000, 1, call.clone()).await; // warm up
            let sequential = measure(SEQUENTIAL, 1, call.clone()).await;
            let concurrent = measure(CONCURRENT, IN_FLIGHT, call).await;
            report(&format!("grpc-sansio → {server}"), sequential, concurrent);

            let client =
                tonic_pb::test_service_client::TestServiceClient::connect(format!("http://{addr}"))
                    .await
                    .expect("connect");
            let call = move || {
                let mut client = client.clone();
                async move {
                    client
                        .unary_call(tonic_request())
                        .await
                        .expect("unary call");
                }
            };
            measure(1_000, 1, call.clone()).await;
            let sequential = measure(SEQUENTIAL, 1, call.clone()).await;
            let concurrent = measure(CONCURRENT, IN_FLIGHT, call).await;
            report(&format!("tonic → {server}"), sequential, concurrent);
        }
    });
}
