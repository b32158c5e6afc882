//! The async server: an accept task, a task per connection, and a task per
//! call running the handler.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grpc_sansio::grpc::{Config, Connection};
use grpc_sansio::service::{self, AsyncRouter, Origin};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use crate::driver::{self, Commands, Input, Link, Transport};

/// A call handler: an async function run as its own task for each call.
/// Implemented by every `Fn(ServerCall) -> impl Future<Output = ()>`.
pub trait Handler: Send + Sync + 'static {
    /// The future that serves one call.
    type Future: Future<Output = ()> + Send + 'static;
    /// Starts serving `call`.
    fn call(&self, call: ServerCall) -> Self::Future;
}

impl<F, Fut> Handler for F
where
    F: Fn(ServerCall) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    type Future = Fut;
    fn call(&self, call: ServerCall) -> Fut {
        self(call)
    }
}

/// A running server. [`shutdown`](Server::shutdown) drains it gracefully;
/// dropping it starts the same drain without waiting for it.
pub struct Server {
    local: String,
    local_addr: SocketAddr,
    /// Dropped to stop accepting and drain every connection.
    stop: oneshot::Sender<()>,
    accept: JoinHandle<()>,
}

enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
}

/// What every connection of a server shares.
struct Shared<H> {
    local: String,
    config: Config,
    handler: H,
}

/// Serves every call through `router`, finishing it with the outcome.
fn route(router: Arc<AsyncRouter>) -> impl Handler {
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

    /// Binds to `addr` and serves every call with `handler`.
    pub async fn bind(
        addr: impl ToSocketAddrs,
        config: Config,
        handler: impl Handler,
    ) -> io::Result<Server> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        Ok(Self::start(
            Listener::Tcp(listener),
            addr.to_string(),
            addr,
            config,
            handler,
        ))
    }

    /// Binds to a unix domain socket at `path` (which must not exist yet).
    #[cfg(unix)]
    pub async fn bind_unix(
        path: impl AsRef<std::path::Path>,
        config: Config,
        handler: impl Handler,
    ) -> io::Result<Server> {
        let listener = Listener::Unix(tokio::net::UnixListener::bind(&path)?);
        let local = path.as_ref().display().to_string();
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        Ok(Self::start(listener, local, unspecified, config, handler))
    }

    fn start(
        listener: Listener,
        local: String,
        local_addr: SocketAddr,
        config: Config,
        handler: impl Handler,
    ) -> Server {
        let (stop, mut stopped) = oneshot::channel();
        let config = Config {
            release_on_poll: false,
            ..config
        };
        let shared = Arc::new(Shared {
            local: local.clone(),
            config,
            handler,
        });
        let accept = tokio::spawn(async move {
            let (mut connections, mut tasks) = (Vec::<Commands>::new(), JoinSet::new());
            loop {
                let accepted = tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept(&shared, &mut tasks) => accepted,
                };
                let Ok(commands) = accepted else {
                    // Out of descriptors, most likely: give it a moment.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                connections.retain(|c| !c.is_closed());
                connections.push(commands);
                while tasks.try_join_next().is_some() {}
            }
            for commands in connections {
                let _ = commands.send(Input::Shutdown);
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
}

impl Listener {
    /// Accepts a connection and starts its task; returns its command queue.
    async fn accept<H: Handler>(
        &self,
        shared: &Arc<Shared<H>>,
        tasks: &mut JoinSet<()>,
    ) -> io::Result<Commands> {
        Ok(match self {
            Listener::Tcp(listener) => {
                let (socket, peer) = listener.accept().await?;
                let _ = socket.set_nodelay(true);
                serve(socket, peer.to_string(), shared, tasks)
            }
            #[cfg(unix)]
            Listener::Unix(listener) => {
                serve(listener.accept().await?.0, "unix".into(), shared, tasks)
            }
        })
    }
}

/// Serves one connection as its own task.
fn serve<H: Handler>(
    socket: impl Transport,
    peer: String,
    shared: &Arc<Shared<H>>,
    tasks: &mut JoinSet<()>,
) -> Commands {
    let (tx, rx) = mpsc::unbounded_channel();
    let conn = Connection::server(shared.config.clone(), Instant::now());
    let shared = shared.clone();
    let origin = Arc::new(Origin {
        peer_addr: peer,
        local_addr: shared.local.clone(),
        clock: Arc::new(Instant::now),
    });
    let on_call = move |call, request, link, cancel| {
        let call = ServerCall::new(call, request, link, origin.clone(), cancel);
        tokio::spawn(shared.handler.call(call));
    };
    tasks.spawn(driver::run(conn, socket, (tx.clone(), rx), on_call));
    tx
}

/// The server side of one call, handed to the handler in its own task.
///
/// Dropping it without [`finish`](service::AsyncServerCall::finish) ends the
/// call with UNKNOWN.
pub type ServerCall = service::AsyncServerCall<Link>;
