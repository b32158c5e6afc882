//! The test service served on 127.0.0.1 by one of our adapters.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use grpc_sansio::grpc::Config;

use super::{service, Adapter, Handlers};

/// Calls the mio adapter's worker pool runs at once: interop calls block
/// their worker while they stream or sleep.
const MIO_WORKERS: usize = 16;

/// A running interop server.
pub enum InteropServer {
    /// Served by `grpc-sansio-mio`.
    Mio(grpc_sansio_mio::ServerHandle),
    /// Served by `grpc-sansio-tokio`, on its own runtime.
    Tokio(tokio::runtime::Runtime, grpc_sansio_tokio::Server),
    /// Served by `grpc-sansio-blocking`.
    Blocking(grpc_sansio_blocking::Server),
}

impl InteropServer {
    /// Serves `grpc.testing.TestService` on `127.0.0.1:port` (0: any free
    /// port) with `adapter`; `threads` is mio's event-loop count or tokio's
    /// worker count (the blocking adapter has a thread per connection).
    pub fn start(adapter: Adapter, port: u16, threads: usize) -> io::Result<InteropServer> {
        Self::start_with(adapter, Handlers::Pool, port, threads)
    }

    /// [`start`](Self::start) with the handlers run where `handlers` says:
    /// mio serves the async service on its event loops with
    /// [`Handlers::Inline`], the blocking adapter on each connection's
    /// thread; tokio's are tasks either way.
    pub fn start_with(
        adapter: Adapter,
        handlers: Handlers,
        port: u16,
        threads: usize,
    ) -> io::Result<InteropServer> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let threads = threads.max(1);
        Ok(match (adapter, handlers) {
            (Adapter::Mio, Handlers::Pool) => InteropServer::Mio(
                grpc_sansio_mio::Server::new(Config::server())
                    .threads(threads)
                    .serve_router(addr, MIO_WORKERS, Arc::new(service::router()))?,
            ),
            (Adapter::Mio, Handlers::Inline) => InteropServer::Mio(
                grpc_sansio_mio::Server::new(Config::server())
                    .threads(threads)
                    .serve_router_inline(addr, Arc::new(service::inline_router()))?,
            ),
            (Adapter::Tokio, _) => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(threads)
                    .enable_all()
                    .build()?;
                let router = Arc::new(service::async_router());
                let server = runtime.block_on(grpc_sansio_tokio::Server::bind_router(
                    addr,
                    Config::server(),
                    router,
                ))?;
                InteropServer::Tokio(runtime, server)
            }
            (Adapter::Blocking, Handlers::Inline) => InteropServer::Blocking(
                grpc_sansio_blocking::Server::builder(Config::server())
                    .bind_router_inline(addr, Arc::new(service::inline_router()))?,
            ),
            (Adapter::Blocking, Handlers::Pool) => {
                InteropServer::Blocking(grpc_sansio_blocking::Server::bind_router(
                    addr,
                    Config::server(),
                    Arc::new(service::router()),
                )?)
            }
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        match self {
            InteropServer::Mio(server) => server.local_addr(),
            InteropServer::Tokio(_, server) => server.local_addr(),
            InteropServer::Blocking(server) => server.local_addr(),
        }
    }

    /// Graceful shutdown: calls in flight finish, then every thread stops.
    pub fn stop(self) {
        match self {
            InteropServer::Mio(server) => server.shutdown(),
            InteropServer::Tokio(runtime, server) => runtime.block_on(server.shutdown()),
            InteropServer::Blocking(server) => server.shutdown(),
        }
    }
}
