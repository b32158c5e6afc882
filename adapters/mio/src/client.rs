//! The client: one connection driven by its own event-loop thread, and
//! blocking call handles usable from any thread.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::sync::Arc;

use bytes::Bytes;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::{CallOptions, Config};
use grpc_sansio::service::{self, handle::gone};

use crate::event_loop::{Cmd, EventLoop, Link, Remote};

/// A connection to a server, shared by any number of calls and threads. It
/// shuts down gracefully (GOAWAY, then close once calls end) when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Client {
    link: Link,
    local_addr: SocketAddr,
    _owner: Arc<Owner>,
}

/// Tells the loop when no `Client` is left.
struct Owner(Remote);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.send(Cmd::Shutdown(None));
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
        Ok(Client {
            _owner: Arc::new(Owner(remote.clone())),
            link: Link { remote, token },
            local_addr,
        })
    }

    /// Our end of the connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Starts a call. Its deadline, metadata and compression are in `options`.
    pub fn call(&self, options: CallOptions) -> Result<ClientCall, Status> {
        let ((tx, inbox), (reply, started)) = (mpsc::channel(), mpsc::channel());
        let Link { remote, token } = &self.link;
        if !remote.send(Cmd::Start(*token, options, tx, reply)) {
            return Err(gone());
        }
        let call = started.recv().map_err(|_| gone())??;
        Ok(ClientCall::new(call, self.link.clone(), inbox))
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
