//! The async client: a `Channel` multiplexing calls over one connection,
//! driven by its own task.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallOptions, Config, Connection};
use grpc_sansio::service::{
    self, handle::gone, AsyncClientStream, AsyncClientTransport, BoxFuture,
};
use tokio::net::{TcpStream, ToSocketAddrs};
use tokio::sync::{mpsc, oneshot};

use crate::driver::{self, Input, Link, Owner, Transport};

/// A connection to a server, shared by any number of calls and tasks. The
/// connection shuts down gracefully once the last clone and the last call
/// are dropped.
#[derive(Clone)]
pub struct Channel {
    owner: Arc<Owner>,
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
        tokio::spawn(driver::run(conn, socket, (tx.clone(), rx), |_, _, _, _| {}));
        Channel {
            owner: Arc::new(Owner(tx)),
        }
    }

    /// Starts a call. Its deadline, metadata and compression are in `options`.
    pub async fn call(&self, options: CallOptions) -> Result<ClientCall, Status> {
        let (reply, wait) = oneshot::channel();
        self.owner
            .0
            .send(Input::Start(options, reply))
            .map_err(|_| gone())?;
        let (call, mut link) = wait.await.map_err(|_| gone())??;
        // The connection lives as long as its calls.
        link.owner = Some(self.owner.clone());
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
            let call = Channel::call(self, options).await?;
            Ok(Box::new(call) as Box<dyn AsyncClientStream>)
        })
    }
}
