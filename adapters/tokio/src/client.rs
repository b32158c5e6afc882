//! The async client: a `Channel` multiplexing calls over one connection,
//! driven by its own task.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallOptions, Config, Connection};
use grpc_sansio::service::{self, AsyncClientStream, AsyncClientTransport, BoxFuture};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};

use crate::driver::{self, Commands, Handle, Input, Transport};
use grpc_sansio::service::Command;

/// A connection to a server, shared by any number of calls and tasks. The
/// connection shuts down gracefully once the last clone and the last call
/// are dropped.
#[derive(Clone)]
pub struct Channel {
    owner: Arc<Owner>,
}

/// Tells the connection task when no `Channel` or call is left.
struct Owner(Commands);

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.0.send(Input::Shutdown);
    }
}

impl Channel {
    /// Connects over TCP.
    pub async fn connect(addr: impl ToSocketAddrs, config: Config) -> io::Result<Channel> {
        let socket = TcpStream::connect(addr).await?;
        socket.set_nodelay(true)?;
        Ok(Self::over(socket, config))
    }

    /// Connects over TCP, giving up after `timeout`.
    pub async fn connect_timeout(
        addr: impl ToSocketAddrs,
        timeout: Duration,
        config: Config,
    ) -> io::Result<Channel> {
        let connect = tokio::time::timeout(timeout, Self::connect(addr, config));
        let timed_out = || io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
        connect.await.map_err(|_| timed_out())?
    }

    /// Connects over a unix domain socket.
    #[cfg(unix)]
    pub async fn connect_unix(
        path: impl AsRef<std::path::Path>,
        config: Config,
    ) -> io::Result<Channel> {
        let socket = tokio::net::UnixStream::connect(path).await?;
        Ok(Self::over(socket, config))
    }

    /// Runs a channel over any connected transport, in a task of the current
    /// tokio runtime (panics outside one).
    pub fn over(socket: impl Transport, config: Config) -> Channel {
        let (tx, rx) = mpsc::unbounded_channel();
        let config = Config {
            release_on_poll: false,
            ..config
        };
        let conn = Connection::client(config, Instant::now());
        tokio::spawn(driver::run(conn, socket, (tx.clone(), rx), |_, _| {}));
        Channel {
            owner: Arc::new(Owner(tx)),
        }
    }

    /// Starts a call. Its deadline, metadata and compression are in `options`.
    pub async fn call(&self, options: CallOptions) -> Result<ClientCall, Status> {
        let gone = || Status::new(Code::Unavailable, "the connection is gone");
        let (reply, wait) = oneshot::channel();
        self.owner
            .0
            .send(Input::Start(options, reply))
            .map_err(|_| gone())?;
        let handle = wait.await.map_err(|_| gone())??;
        Ok(ClientCall {
            handle,
            _owner: self.owner.clone(),
        })
    }

    /// A unary call: one request, one response.
    pub async fn unary(
        &self,
        options: CallOptions,
        request: Bytes,
    ) -> Result<UnaryResponse, Status> {
        let mut call = self.call(options).await?;
        service::unary_call_async(&mut call, request).await
    }
}

/// What a unary call returns: the message with the server's metadata.
pub type UnaryResponse = service::Response<Bytes>;

/// The client side of one call. Dropping it before the end cancels the call
/// (RST_STREAM CANCEL).
pub struct ClientCall {
    handle: Handle,
    _owner: Arc<Owner>,
}

impl ClientCall {
    /// Sends a request message, waiting while the send buffer is full. An
    /// error is the call's status when it has ended, or why the message was
    /// refused.
    pub async fn send(&mut self, message: Bytes) -> Result<(), Status> {
        self.handle.send(message, true).await
    }

    /// [`send`](Self::send), uncompressed when `compress` is false.
    pub async fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        self.handle.send(message, compress).await
    }

    /// Whether the message the last `recv` returned arrived compressed.
    pub fn recv_compressed(&self) -> bool {
        self.handle.state.recv_compressed()
    }

    /// Half-closes: no more request messages.
    pub fn close_send(&mut self) {
        self.handle.command(Command::CloseSend(self.handle.call));
    }

    /// The server's initial metadata, waiting for it if needed (empty for a
    /// Trailers-Only response).
    pub async fn headers(&mut self) -> Result<&Metadata, Status> {
        while self.handle.state.poll_headers().is_none() {
            self.handle.wait().await;
        }
        Ok(self.handle.state.poll_headers().expect("just seen"))
    }

    /// The next response message; `Ok(None)` when the call ended with OK;
    /// `Err(status)` when it ended otherwise.
    pub async fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        self.handle.recv().await
    }

    /// Waits for the end of the call (discarding unread messages) and returns
    /// its status and trailing metadata.
    pub async fn finish(mut self) -> (Status, Metadata) {
        self.wait_end().await
    }

    async fn wait_end(&mut self) -> (Status, Metadata) {
        while let Ok(Some(_)) = self.handle.recv().await {}
        self.handle
            .state
            .end()
            .cloned()
            .expect("recv returned the end")
    }

    /// Cancels the call (RST_STREAM CANCEL), as dropping it does.
    pub fn cancel(self) {}

    fn cancel_now(&mut self) {
        let cancel = Command::Cancel(self.handle.call);
        self.handle
            .end_with(Status::new(Code::Cancelled, "cancelled"), cancel);
    }
}

impl Drop for ClientCall {
    fn drop(&mut self) {
        self.cancel_now();
    }
}

/// Generated async client stubs and the service layer's `AsyncClient` run
/// over a `Channel`.
impl AsyncClientTransport for Channel {
    fn call(
        &self,
        options: CallOptions,
    ) -> BoxFuture<'_, Result<Box<dyn AsyncClientStream>, Status>> {
        Box::pin(async move {
            let call = Channel::call(self, options).await?;
            Ok(Box::new(call) as Box<dyn AsyncClientStream>)
        })
    }
}

impl AsyncClientStream for ClientCall {
    fn send_with(&mut self, message: Bytes, compress: bool) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async move {
            let result = ClientCall::send_with(self, message, compress).await;
            if result.is_err() {
                // A refused send (too large, say) ends the call, so `finish`
                // returns at once.
                self.cancel_now();
            }
            result
        })
    }
    fn close_send(&mut self) -> BoxFuture<'_, ()> {
        ClientCall::close_send(self);
        Box::pin(std::future::ready(()))
    }
    fn headers(&mut self) -> BoxFuture<'_, Result<Metadata, Status>> {
        Box::pin(async move { ClientCall::headers(self).await.cloned() })
    }
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, Status>> {
        Box::pin(ClientCall::recv(self))
    }
    fn recv_compressed(&self) -> bool {
        self.handle.state.recv_compressed()
    }
    fn finish(&mut self) -> BoxFuture<'_, (Status, Metadata)> {
        Box::pin(self.wait_end())
    }
    fn cancel(&mut self) {
        self.cancel_now();
    }
}
