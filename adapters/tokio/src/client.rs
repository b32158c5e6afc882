//! The async client: a `Channel` multiplexing calls over one connection,
//! driven by its own task.

use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallOptions, Config};
use grpc_sansio::session::Session;
use grpc_sansio_service::handle::gone;
use grpc_sansio_service::{self as service, AsyncClientStream, AsyncClientTransport, BoxFuture};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};

use crate::driver::{self, Commands, Handles, Input, Link, Transport};

/// A connection to a server, shared by any number of calls and tasks. The
/// connection shuts down gracefully once the last clone and the last call
/// are dropped.
#[derive(Clone)]
pub struct Channel {
    /// Every clone and call holds one: the connection drains once all are gone.
    commands: Commands,
}

impl Channel {
    /// Connects over TCP.
    pub async fn connect(addr: impl ToSocketAddrs, config: Config) -> io::Result<Channel> {
        let socket = TcpStream::connect(addr).await?;
        let _ = socket.set_nodelay(true);
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
        let session = Session::client(config, Instant::now());
        let (commands, inputs) = mpsc::unbounded_channel();
        // A server starts no calls.
        tokio::spawn(driver::run(session, socket, inputs, Handles));
        Channel { commands }
    }

    /// Starts a call. Its deadline, metadata and compression are in `options`.
    pub async fn call(&self, options: CallOptions) -> Result<ClientCall, Status> {
        let (inbox, events) = mpsc::unbounded_channel();
        let (reply, started) = oneshot::channel();
        let start = Input::Start(options, inbox, reply);
        self.commands.send(start).map_err(|_| gone())?;
        let call = started.await.map_err(|_| gone())??;
        let link = Link::new(self.commands.clone(), events);
        Ok(ClientCall::new(call, link))
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
pub type ClientCall = service::AsyncClientCall<Link>;

/// Generated async client stubs and the service layer's `AsyncClient` run
/// over a `Channel`.
impl AsyncClientTransport for Channel {
    fn call(
        &self,
        options: CallOptions,
    ) -> BoxFuture<'_, Result<Box<dyn AsyncClientStream>, Status>> {
        Box::pin(async move {
            Ok(Box::new(Channel::call(self, options).await?) as Box<dyn AsyncClientStream>)
        })
    }
}
