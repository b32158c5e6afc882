//! What each adapter puts in the service layer's call context: the peer's and
//! our own address, over real 127.0.0.1 sockets.

use std::sync::Arc;

use bytes::Bytes;
use grpc_sansio::grpc::{CallOptions, Config};
use grpc_sansio_service::{AsyncRouter, AsyncService, CallContext, MethodKind, Router, Service};

/// Answers with the context's addresses as `peer|local`.
fn addresses(ctx: &CallContext) -> Bytes {
    let peer = ctx.peer_addr().unwrap_or("none");
    let local = ctx.local_addr().unwrap_or("none");
    Bytes::from(format!("{peer}|{local}"))
}

fn router() -> Arc<Router> {
    let service = Service::new("ctx.Addr").raw("Get", MethodKind::Unary, |ctx, stream| {
        stream.recv()?;
        stream.send(addresses(ctx))
    });
    let mut router = Router::new();
    router.add(service);
    Arc::new(router)
}

fn async_router() -> Arc<AsyncRouter> {
    let service = AsyncService::new("ctx.Addr").raw("Get", MethodKind::Unary, |ctx, stream| {
        Box::pin(async move {
            stream.recv().await?;
            stream.send(addresses(ctx)).await
        })
    });
    let mut router = AsyncRouter::new();
    router.add(service);
    Arc::new(router)
}

/// The answer must name a loopback peer on another port and exactly the
/// address the server listens on.
fn check(answer: &[u8], server: std::net::SocketAddr) {
    let answer = std::str::from_utf8(answer).unwrap();
    let (peer, local) = answer.split_once('|').unwrap();
    assert_eq!(local, server.to_string(), "local address in {answer}");
    let peer: std::net::SocketAddr = peer.parse().unwrap_or_else(|_| panic!("peer in {answer}"));
    assert!(peer.ip().is_loopback());
    assert_ne!(peer.port(), server.port());
}

fn request() -> CallOptions {
    CallOptions::new("/ctx.Addr/Get")
}

#[test]
fn mio_context_has_both_addresses() {
    let server = grpc_sansio_mio::Server::new(Config::server())
        .serve_router("127.0.0.1:0", 1, router())
        .unwrap();
    let client = grpc_sansio_mio::Client::connect(server.local_addr(), Config::client()).unwrap();
    let answer = client.unary(request(), Bytes::new()).unwrap();
    check(&answer.message, server.local_addr());
    drop(client);
    server.shutdown();
}

#[test]
fn mio_inline_context_has_both_addresses() {
    let server = grpc_sansio_mio::Server::new(Config::server())
        .serve_router_inline("127.0.0.1:0", async_router())
        .unwrap();
    let client = grpc_sansio_mio::Client::connect(server.local_addr(), Config::client()).unwrap();
    let answer = client.unary(request(), Bytes::new()).unwrap();
    check(&answer.message, server.local_addr());
    drop(client);
    server.shutdown();
}

#[test]
fn blocking_context_has_both_addresses() {
    let server =
        grpc_sansio_blocking::Server::bind_router("127.0.0.1:0", Config::server(), router())
            .unwrap();
    let client =
        grpc_sansio_blocking::Channel::connect(server.local_addr(), Config::client()).unwrap();
    let answer = client.unary(request(), Bytes::new()).unwrap();
    check(&answer.message, server.local_addr());
    drop(client);
    server.shutdown();
}

#[tokio::test]
async fn tokio_context_has_both_addresses() {
    let server =
        grpc_sansio_tokio::Server::bind_router("127.0.0.1:0", Config::server(), async_router())
            .await
            .unwrap();
    let client = grpc_sansio_tokio::Channel::connect(server.local_addr(), Config::client())
        .await
        .unwrap();
    let answer = client.unary(request(), Bytes::new()).await.unwrap();
    check(&answer.message, server.local_addr());
    drop(client);
    server.shutdown().await;
}
