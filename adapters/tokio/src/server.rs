//! The async server: an accept task, a task per connection, and a task per
//! call running the handler.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{Config, Connection, Request};
use grpc_sansio::service::{self, AsyncRouter, AsyncServerStream, BoxFuture, CallContext, Command};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use crate::driver::{self, Commands, Handle, Input, Transport};

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
    move |mut call: ServerCall| {
        let router = router.clone();
        async move {
            let context = call.context();
            let outcome = router.dispatch(&mut call, context).await;
            call.finish(outcome.status, outcome.trailers);
        }
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
    tasks.spawn(driver::run(
        conn,
        socket,
        (tx.clone(), rx),
        move |handle, request| {
            let local_addr = shared.local.clone();
            let call = ServerCall {
                handle,
                request,
                local_addr,
                peer_addr: peer.clone(),
                headers_sent: false,
            };
            tokio::spawn(shared.handler.call(call));
        },
    ));
    tx
}

/// The server side of one call, handed to the handler in its own task.
///
/// Dropping it without [`finish`](Self::finish) ends the call with UNKNOWN.
pub struct ServerCall {
    handle: Handle,
    request: Request,
    local_addr: String,
    peer_addr: String,
    headers_sent: bool,
}

impl ServerCall {
    /// The request head: path, metadata, deadline, encodings.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The client's address (`ip:port`, or "unix").
    pub fn peer_addr(&self) -> &str {
        &self.peer_addr
    }

    /// Our address (`ip:port`, or the unix socket's path).
    pub fn local_addr(&self) -> &str {
        &self.local_addr
    }

    /// The next request message; `Ok(None)` once the client half-closed;
    /// `Err` with CANCELLED or DEADLINE_EXCEEDED once the call is cancelled.
    pub async fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        self.handle.recv().await
    }

    /// The service layer's view of the call: deadline, metadata, peer address
    /// and a cancellation token the connection fires.
    pub fn context(&self) -> CallContext {
        CallContext::new(&self.request, Instant::now())
            .with_peer_addr(self.peer_addr.clone())
            .with_local_addr(self.local_addr.clone())
            .with_cancel_token(self.handle.cancel.clone())
            .with_clock(Arc::new(Instant::now))
    }

    /// Whether the call was cancelled (by the client, its deadline, or the
    /// connection), checked without waiting.
    pub fn is_cancelled(&mut self) -> bool {
        self.handle.poll();
        self.handle.cancel.is_cancelled() || self.handle.state.is_over()
    }

    /// Waits until the call is cancelled and says why. Messages that arrive
    /// meanwhile stay for [`recv`](Self::recv).
    pub async fn cancelled(&mut self) -> Status {
        loop {
            if let Some((status, _)) = self.handle.state.end() {
                return status.clone();
            }
            self.handle.wait().await;
        }
    }

    /// Sends the response headers with initial metadata (optional: the first
    /// message sends empty ones).
    pub fn send_headers(&mut self, metadata: Metadata) {
        self.headers_sent = true;
        self.handle
            .command(Command::Headers(self.handle.call, metadata));
    }

    /// Sends a response message, waiting while the connection's send buffer
    /// is full. An error says why the call ended.
    pub async fn send(&mut self, message: Bytes) -> Result<(), Status> {
        self.send_with(message, true).await
    }

    /// [`send`](Self::send), uncompressed when `compress` is false.
    pub async fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        self.headers_sent = true;
        self.handle.send(message, compress).await
    }

    /// Whether the message the last `recv` returned arrived compressed.
    pub fn recv_compressed(&self) -> bool {
        self.handle.state.recv_compressed()
    }

    /// Compresses the responses with `encoding`: before the headers, and
    /// only an encoding the client accepts.
    pub fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status> {
        service::check_compression(&self.request, self.headers_sent, encoding)?;
        self.handle
            .command(Command::Encoding(self.handle.call, encoding));
        Ok(())
    }

    /// Ends the call with `status` and trailing metadata.
    pub fn finish(mut self, status: Status, trailers: Metadata) {
        let finish = Command::Finish(self.handle.call, status.clone(), trailers);
        self.handle.end_with(status, finish);
    }
}

impl AsyncServerStream for ServerCall {
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, Status>> {
        Box::pin(ServerCall::recv(self))
    }
    fn send_headers(&mut self, metadata: Metadata) -> BoxFuture<'_, Result<(), Status>> {
        ServerCall::send_headers(self, metadata);
        Box::pin(std::future::ready(Ok(())))
    }
    fn recv_compressed(&self) -> bool {
        self.handle.state.recv_compressed()
    }
    fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status> {
        ServerCall::set_compression(self, encoding)
    }
    fn send_with(&mut self, message: Bytes, compress: bool) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(ServerCall::send_with(self, message, compress))
    }
}

impl Drop for ServerCall {
    fn drop(&mut self) {
        let status = Status::new(Code::Unknown, "the handler returned without a status");
        let finish = Command::Finish(self.handle.call, status.clone(), Metadata::new());
        self.handle.end_with(status, finish);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Channel;
    use grpc_sansio::grpc::CallOptions;

    /// A handler that is not reading still sees its call cancelled, through
    /// the context's token.
    #[tokio::test]
    async fn the_context_token_fires_when_the_client_cancels() {
        let (seen, mut outcome) = mpsc::unbounded_channel();
        let server = Server::bind("127.0.0.1:0", Config::server(), move |call: ServerCall| {
            let seen = seen.clone();
            async move {
                let context = call.context();
                assert_eq!(context.peer_addr(), Some(call.peer_addr()));
                let _ = seen.send(None);
                context.cancelled().await;
                let _ = seen.send(Some(context.check()));
                drop(call);
            }
        })
        .await
        .unwrap();
        let channel = Channel::connect(server.local_addr(), Config::client())
            .await
            .unwrap();
        let mut call = channel.call(CallOptions::new("/x.Y/Z")).await.unwrap();
        call.send(Bytes::from_static(b"hi")).await.unwrap();
        assert_eq!(outcome.recv().await, Some(None), "the handler started");
        call.cancel();
        let checked = outcome.recv().await.flatten().unwrap();
        assert_eq!(checked.unwrap_err().code(), Code::Cancelled);
        drop(channel);
        server.shutdown().await;
    }
}
