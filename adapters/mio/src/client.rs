//! The client: one connection driven by its own event-loop thread, and
//! blocking call handles usable from any thread.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallOptions, Config, Event};
use grpc_sansio::service::{self, CallState, Command};
use mio::Token;

use crate::event_loop::{gone, Cmd, EventLoop, Input, Link, Remote};

/// A connection to a server, shared by any number of calls and threads. It
/// shuts down gracefully (GOAWAY, then close once calls end) when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Client {
    remote: Remote,
    token: Token,
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
        let mut event_loop = EventLoop::new(config, None, None)?;
        let token = event_loop.add(mio::net::TcpStream::from_std(socket), false)?;
        let (remote, _) = event_loop.spawn()?;
        Ok(Client {
            _owner: Arc::new(Owner(remote.clone())),
            remote,
            token,
            local_addr,
        })
    }

    /// Our end of the connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Starts a call. Its deadline, metadata and compression are in `options`.
    pub fn call(&self, options: CallOptions) -> Result<ClientCall, Status> {
        let (reply, wait) = mpsc::channel();
        if !self
            .remote
            .send(Cmd::Call(self.token, Input::Start(options, reply)))
        {
            return Err(gone());
        }
        let (call, inbox) = wait.recv().map_err(|_| gone())??;
        Ok(ClientCall {
            link: Link {
                remote: self.remote.clone(),
                token: self.token,
                call,
            },
            inbox,
            state: CallState::client(),
        })
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
pub struct ClientCall {
    link: Link,
    inbox: Receiver<Event>,
    state: CallState,
}

impl ClientCall {
    /// Sends a request message, blocking while the send buffer is full.
    pub fn send(&mut self, message: Bytes) -> Result<(), Status> {
        self.send_with(message, true)
    }

    /// [`send`](Self::send), uncompressed when `compress` is false.
    pub fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        if let Some((status, _)) = self.state.end() {
            return Err(status.clone());
        }
        self.link.send(message, compress).map_err(|refused| {
            // If the call already ended (the server answered first), its end
            // is queued behind what we have not read: report that instead.
            Link::poll(&self.inbox, &mut self.state);
            self.state.refusal(refused)
        })
    }

    /// Half-closes: no more request messages.
    pub fn close_send(&mut self) {
        self.link.command(Command::CloseSend);
    }

    /// The server's initial metadata, waiting for it if needed (empty for a
    /// Trailers-Only response).
    pub fn headers(&mut self) -> Result<&Metadata, Status> {
        while self.state.poll_headers().is_none() {
            Link::wait(&self.inbox, &mut self.state);
        }
        Ok(self.state.poll_headers().expect("just seen"))
    }

    /// The next response message; `Ok(None)` when the call ended with OK;
    /// `Err(status)` when it ended otherwise.
    pub fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        self.link.recv(&self.inbox, &mut self.state)
    }

    /// Whether the message the last `recv` returned arrived compressed.
    pub fn recv_compressed(&self) -> bool {
        self.state.recv_compressed()
    }

    /// Waits for the end of the call (discarding unread messages) and returns
    /// its status and trailing metadata.
    pub fn finish(mut self) -> (Status, Metadata) {
        self.wait_end()
    }

    fn wait_end(&mut self) -> (Status, Metadata) {
        while let Ok(Some(_)) = self.recv() {}
        self.state.end().cloned().expect("recv returned the end")
    }

    /// Cancels the call (RST_STREAM CANCEL).
    pub fn cancel(mut self) {
        self.cancel_now();
    }

    fn cancel_now(&mut self) {
        if self
            .state
            .end_here(Status::new(Code::Cancelled, "cancelled"))
        {
            self.link.command(Command::Cancel);
        }
    }
}

impl Drop for ClientCall {
    fn drop(&mut self) {
        self.cancel_now();
    }
}

/// Generated client stubs and the service layer's `Client` run over a `Client`.
impl service::ClientTransport for Client {
    fn call(&self, options: CallOptions) -> Result<Box<dyn service::ClientStream>, Status> {
        Ok(Box::new(Client::call(self, options)?))
    }
}

impl service::ClientStream for ClientCall {
    fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        let result = ClientCall::send_with(self, message, compress);
        if result.is_err() {
            // A refused send (too large, say) ends the call, so `finish`
            // returns at once.
            self.cancel_now();
        }
        result
    }
    fn close_send(&mut self) {
        ClientCall::close_send(self)
    }
    fn headers(&mut self) -> Result<Metadata, Status> {
        ClientCall::headers(self).cloned()
    }
    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        ClientCall::recv(self)
    }
    fn recv_compressed(&self) -> bool {
        self.state.recv_compressed()
    }
    fn finish(&mut self) -> (Status, Metadata) {
        self.wait_end()
    }
    fn cancel(&mut self) {
        self.cancel_now()
    }
}
