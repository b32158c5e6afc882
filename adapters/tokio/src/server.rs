//! The async server: an accept task, and a task per connection that polls
//! its calls' handler futures itself (no task spawned per call).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grpc_sansio::grpc::Config;
use grpc_sansio::session::Session;
use grpc_sansio_service::{self as service, AsyncRouter, LocalLink, Origin};
#[cfg(unix)]
use tokio::net::UnixListener;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use crate::driver::{self, Shutdown, Tasks, Transport};

/// A call handler: an async function whose future, one per call, runs on the
/// task of the call's connection (polled there, not spawned). While it runs,
/// its connection serves nothing else: CPU-heavy or blocking work belongs in
/// [`tokio::task::spawn_blocking`] or a spawned task, awaited from the
/// handler. A future still running when its connection ends is dropped.
pub use grpc_sansio_service::AsyncHandler as Handler;

/// A running server. [`shutdown`](Server::shutdown) drains it gracefully;
/// dropping it starts the same drain without waiting for it.
pub struct Server {
    local: String,
    local_addr: SocketAddr,
    /// Dropped (or given a grace period) to stop accepting and drain every
    /// connection.
    stop: oneshot::Sender<Duration>,
    accept: JoinHandle<()>,
}

/// Where a server's connections come from: a TCP or a unix socket listener.
trait Listener: Send + 'static {
    /// The next connection, with the peer's address.
    fn accept(&self) -> impl Future<Output = io::Result<(impl Transport, String)>> + Send;
}

impl Listener for TcpListener {
    async fn accept(&self) -> io::Result<(impl Transport, String)> {
        let (socket, peer) = TcpListener::accept(self).await?;
        let _ = socket.set_nodelay(true);
        Ok((socket, peer.to_string()))
    }
}

/// A unix socket listener that removes its file when dropped, as grpc-go's does.
#[cfg(unix)]
struct UnixSocket(UnixListener, std::path::PathBuf);

#[cfg(unix)]
impl Listener for UnixSocket {
    async fn accept(&self) -> io::Result<(impl Transport, String)> {
        Ok((self.0.accept().await?.0, "unix".into()))
    }
}

#[cfg(unix)]
impl Drop for UnixSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.1);
    }
}

/// Serves every call through `router`, finishing it with the outcome.
fn route(router: Arc<AsyncRouter>) -> impl Handler<LocalLink<()>> {
    move |call: ServerCall| {
        let router = router.clone();
        async move { call.serve(&router).await }
    }
}

impl Server {
    /// Binds to `addr` and serves the services of `router` (generated code
    /// registers into it); unknown methods are answered UNIMPLEMENTED.
    pub async fn bind_router(
        addr: impl ToSocketAddrs,
        config: Config,
        router: Arc<AsyncRouter>,
    ) -> io::Result<Server> {
        Self::bind(addr, config, route(router)).await
    }

    /// Binds to a unix domain socket at `path` and serves the services of
    /// `router`.
    #[cfg(unix)]
    pub async fn bind_unix_router(
        path: impl AsRef<std::path::Path>,
        config: Config,
        router: Arc<AsyncRouter>,
    ) -> io::Result<Server> {
        Self::bind_unix(path, config, route(router)).await
    }

    /// Binds to `addr` and serves every call with `handler`, its future
    /// polled on the task of the call's connection: it must not block the
    /// thread (see [`Handler`]).
    pub async fn bind(
        addr: impl ToSocketAddrs,
        config: Config,
        handler: impl Handler<LocalLink<()>>,
    ) -> io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let local = local_addr.to_string();
        Ok(Self::start(listener, local, local_addr, config, handler))
    }

    /// Binds to a unix domain socket at `path` (which must not exist yet); the
    /// socket file is removed once the server has shut down.
    #[cfg(unix)]
    pub async fn bind_unix(
        path: impl AsRef<std::path::Path>,
        config: Config,
        handler: impl Handler<LocalLink<()>>,
    ) -> io::Result<Server> {
        let listener = UnixSocket(UnixListener::bind(&path)?, path.as_ref().into());
        let local = path.as_ref().display().to_string();
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        Ok(Self::start(listener, local, unspecified, config, handler))
    }

    /// Accepts connections, each served by its own task (which also polls its
    /// calls' futures), until stopped; then drains them.
    fn start(
        listener: impl Listener,
        local: String,
        local_addr: SocketAddr,
        config: Config,
        handler: impl Handler<LocalLink<()>>,
    ) -> Server {
        let (handler, server_local) = (Arc::new(handler), local.clone());
        let (stop, mut stopped) = oneshot::channel();
        let accept = tokio::spawn(async move {
            let mut connections = Vec::<mpsc::UnboundedSender<Shutdown>>::new();
            let mut tasks = JoinSet::new();
            let cut_at = loop {
                let accepted = tokio::select! {
                    grace = &mut stopped => break grace.ok().map(|grace| Instant::now() + grace),
                    accepted = listener.accept() => accepted,
                };
                let Ok((socket, peer_addr)) = accepted else {
                    // Out of descriptors, most likely: give it a moment.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let origin = Arc::new(Origin {
                    peer_addr: peer_addr.into(),
                    local_addr: server_local.clone().into(),
                    clock: Arc::new(Instant::now),
                });
                let (shutdown, inputs) = mpsc::unbounded_channel();
                let handler = handler.clone();
                let serve = move |call, request, link, cancel| {
                    handler.call(ServerCall::new(call, request, link, origin.clone(), cancel))
                };
                let session = Session::server(config.clone(), Instant::now());
                tasks.spawn(driver::run(session, socket, inputs, Tasks::new(serve)));
                connections.retain(|c| !c.is_closed());
                connections.push(shutdown);
                while tasks.try_join_next().is_some() {}
            };
            // Connections still open at `cut_at` are cut: their calls end.
            for connection in connections {
                let _ = connection.send(Shutdown(cut_at));
            }
            while tasks.join_next().await.is_some() {}
        });
        Server {
            local,
            local_addr,
            stop,
            accept,
        }
    }

    /// The TCP address the server listens on (unspecified for a unix socket).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where the server listens, as text (an address or a socket path).
    pub fn local(&self) -> &str {
        &self.local
    }

    /// Graceful shutdown: no new connections or calls; calls in flight finish
    /// (GOAWAY, PING, final GOAWAY), then every connection task has ended.
    pub async fn shutdown(self) {
        drop(self.stop);
        let _ = self.accept.await;
    }

    /// [`shutdown`](Self::shutdown), but connections still open after `grace`
    /// (a call that never ends, a peer that stops reading) are closed: their
    /// calls end (CANCELLED for handlers, UNAVAILABLE for clients).
    pub async fn shutdown_timeout(self, grace: Duration) {
        let _ = self.stop.send(grace);
        let _ = self.accept.await;
    }
}

/// The server side of one call, handed to the handler whose future its
/// connection's task polls.
///
/// Dropping it without [`finish`](service::AsyncServerCall::finish) ends the
/// call with UNKNOWN.
pub type ServerCall = service::AsyncServerCall<LocalLink<()>>;
