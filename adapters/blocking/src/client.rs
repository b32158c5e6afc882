//! The blocking client: a `Channel` multiplexing calls over one connection,
//! driven by its own thread.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallId, CallOptions, Config, Connection, Event};
use grpc_sansio::service::{self, CallState, Command};

use crate::driver::{self, gone, Input, Transport};

/// A connection to a server, shared by any number of calls and threads.
/// The connection shuts down gracefully when the last clone is dropped.
#[derive(Clone)]
pub struct Channel {
    tx: Sender<Input>,
    _owner: Arc<Owner>,
}

/// Tells the connection thread when no `Channel` is left.
struct Owner(Sender<Input>);

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.0.send(Input::Shutdown);
    }
}

impl Channel {
    /// Connects over TCP.
    pub fn connect(addr: impl ToSocketAddrs, config: Config) -> io::Result<Channel> {
        let socket = TcpStream::connect(addr)?;
        Self::over_tcp(socket, config)
    }

    /// Connects over TCP, giving up after `timeout`.
    pub fn connect_timeout(
        addr: &SocketAddr,
        timeout: Duration,
        config: Config,
    ) -> io::Result<Channel> {
        let socket = TcpStream::connect_timeout(addr, timeout)?;
        Self::over_tcp(socket, config)
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
        let (tx, rx) = mpsc::channel();
        let input_tx = tx.clone();
        thread::spawn(move || {
            let config = Config {
                release_on_poll: false,
                ..config
            };
            let conn = Connection::client(config, Instant::now());
            driver::run(conn, socket, rx, input_tx, |_, _, _, _| {});
        });
        Channel {
            _owner: Arc::new(Owner(tx.clone())),
            tx,
        }
    }

    /// Starts a call. Its deadline, metadata and compression are in `options`.
    pub fn call(&self, options: CallOptions) -> Result<ClientCall, Status> {
        let (reply, wait) = mpsc::channel();
        self.tx
            .send(Input::Start { options, reply })
            .map_err(|_| gone())?;
        let (call, inbox) = wait.recv().map_err(|_| gone())??;
        Ok(ClientCall {
            call,
            inbox,
            tx: self.tx.clone(),
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
    call: CallId,
    inbox: Receiver<Event>,
    tx: Sender<Input>,
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
        driver::send(&self.tx, self.call, message, compress).map_err(|refused| {
            // If the call already ended (the server answered first), its end
            // is queued behind what we have not read: report that instead.
            driver::poll(&self.inbox, &mut self.state);
            self.state.refusal(refused)
        })
    }

    /// Half-closes: no more request messages.
    pub fn close_send(&mut self) {
        let _ = self.tx.send(Input::Call(Command::CloseSend(self.call)));
    }

    /// The server's initial metadata, waiting for it if needed (empty for a
    /// Trailers-Only response).
    pub fn headers(&mut self) -> Result<&Metadata, Status> {
        while self.state.poll_headers().is_none() {
            driver::wait(&self.inbox, &mut self.state);
        }
        Ok(self.state.poll_headers().expect("just seen"))
    }

    /// The next response message; `Ok(None)` when the call ended with OK;
    /// `Err(status)` when it ended otherwise.
    pub fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        driver::recv(&self.tx, self.call, &self.inbox, &mut self.state)
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
        loop {
            while let Ok(Some(_)) = self.recv() {}
            if let Some(end) = self.state.end() {
                return end.clone();
            }
        }
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
            let _ = self.tx.send(Input::Call(Command::Cancel(self.call)));
        }
    }
}

impl Drop for ClientCall {
    fn drop(&mut self) {
        self.cancel_now();
    }
}

/// Generated client stubs and the service layer's `Client` run over a `Channel`.
impl service::ClientTransport for Channel {
    fn call(&self, options: CallOptions) -> Result<Box<dyn service::ClientStream>, Status> {
        Ok(Box::new(Channel::call(self, options)?))
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
