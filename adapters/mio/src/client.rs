//! The client: one connection driven by its own event-loop thread, and
//! blocking call handles usable from any thread.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::sync::Arc;

use bytes::Bytes;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallOptions, Config};
use grpc_sansio_service::{self as service, handle::gone};
use mio::Token;

use crate::event_loop::{Cmd, EventLoop, Link, Remote};

/// A connection to a server, shared by any number of calls and threads. It
/// shuts down gracefully (GOAWAY, then close once calls end) when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Client(Arc<Shared>);

/// What the clones of a `Client` share; the last one tells the loop it is left.
struct Shared {
    remote: Remote,
    token: Token,
    local_addr: SocketAddr,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.remote.send(Cmd::Shutdown(None));
    }
}

impl Client {
    /// Connects over TCP and starts the connection's event-loop thread.
    pub fn connect(addr: impl ToSocketAddrs, config: Config) -> io::Result<Client> {
        let socket = std::net::TcpStream::connect(addr)?;
        socket.set_nonblocking(true)?;
        let local_addr = socket.local_addr()?;
        let mut event_loop = EventLoop::new(config, None)?;
        let token = event_loop.add(mio::net::TcpStream::from_std(socket), None)?;
        let (remote, _) = event_loop.spawn()?;
        let shared = Shared {
            remote,
            token,
            local_addr,
        };
        Ok(Client(Arc::new(shared)))
    }

    /// Our end of the connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.0.local_addr
    }

    /// Starts a call. Its deadline, metadata and compression are in `options`.
    pub fn call(&self, options: CallOptions) -> Result<ClientCall, Status> {
        let (reply, started) = mpsc::channel();
        if !self.0.remote.send(Cmd::Start(self.0.token, options, reply)) {
            return Err(gone());
        }
        started.recv().map_err(|_| gone())?
    }

    /// A unary call: one request, one response.
    pub fn unary(&self, options: CallOptions, request: Bytes) -> Result<UnaryResponse, Status> {
        let mut call = self.call(options)?;
        service::unary_call(&mut call, request)
    }
}

/// What a unary call returns: the message with the server's metadata.
pub type UnaryResponse = service::Response<Bytes>;

/// The client side of one call. Dropping it before the end cancels the call.
pub type ClientCall = service::ClientCall<Link>;

/// Generated client stubs and the service layer's `Client` run over a `Client`.
impl service::ClientTransport for Client {
    fn call(&self, options: CallOptions) -> Result<Box<dyn service::ClientStream>, Status> {
        Ok(Box::new(Client::call(self, options)?))
    }
}
