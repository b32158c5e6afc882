//! The blocking client: a `Channel` multiplexing calls over one connection,
//! driven by its own thread.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallOptions, Config};
use grpc_sansio::session::Session;
use grpc_sansio_service::{self as service, channel, handle::gone};

use crate::driver::{self, Input, Link, Transport};

/// A connection to a server, shared by any number of calls and threads.
/// The connection shuts down gracefully when the last clone is dropped.
#[derive(Clone)]
pub struct Channel(Arc<Owner>);

/// The connection thread's input; tells it when no `Channel` is left.
struct Owner(channel::Sender<Input>);

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.0.send(Input::Shutdown(None));
    }
}

impl Channel {
    /// Connects over TCP.
    pub fn connect(addr: impl ToSocketAddrs, config: Config) -> io::Result<Channel> {
        Self::over_tcp(TcpStream::connect(addr)?, config)
    }

    /// Connects over TCP, giving up after `timeout`.
    pub fn connect_timeout(
        addr: &SocketAddr,
        timeout: Duration,
        config: Config,
    ) -> io::Result<Channel> {
        Self::over_tcp(TcpStream::connect_timeout(addr, timeout)?, config)
    }

    /// Connects over a unix domain socket.
    #[cfg(unix)]
    pub fn connect_unix(path: impl AsRef<std::path::Path>, config: Config) -> io::Result<Channel> {
        let socket = std::os::unix::net::UnixStream::connect(path)?;
        Ok(Self::over(socket, config))
    }

    fn over_tcp(socket: TcpStream, config: Config) -> io::Result<Channel> {
        socket.set_nodelay(true)?;
        Ok(Self::over(socket, config))
    }

    /// Runs a channel over any connected transport.
    pub fn over<T: Transport>(socket: T, config: Config) -> Channel {
        let session = Session::client(config, Instant::now());
        let (tx, _, _) = driver::spawn(socket, session, driver::NoCalls);
        Channel(Arc::new(Owner(tx)))
    }

    /// Starts a call. Its deadline, metadata and compression are in `options`.
    pub fn call(&self, options: CallOptions) -> Result<ClientCall, Status> {
        let Owner(tx) = &*self.0;
        let (reply, wait) = mpsc::channel();
        if !tx.send(Input::Start { options, reply }) {
            return Err(gone());
        }
        let (call, inbox) = wait.recv().map_err(|_| gone())??;
        Ok(ClientCall::new(call, Link(tx.clone()), inbox))
    }

    /// A unary call: one request, one response.
    pub fn unary(&self, options: CallOptions, request: Bytes) -> Result<UnaryResponse, Status> {
        service::unary_call(&mut self.call(options)?, request)
    }
}

/// What a unary call returns: the message with the server's metadata.
pub type UnaryResponse = service::Response<Bytes>;

/// The client side of one call. Dropping it before the end cancels the call.
pub type ClientCall = service::ClientCall<Link>;

/// Generated client stubs and the service layer's `Client` run over a `Channel`.
impl service::ClientTransport for Channel {
    fn call(&self, options: CallOptions) -> Result<Box<dyn service::ClientStream>, Status> {
        Ok(Box::new(Channel::call(self, options)?))
    }
}
