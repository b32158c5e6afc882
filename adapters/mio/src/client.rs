//! The client: one connection driven by its own event-loop thread, and
//! blocking call handles usable from any thread.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallOptions, Config, Event};
use grpc_sansio::service;
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
            backlog: VecDeque::new(),
            headers: None,
            recv_compressed: false,
            end: None,
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
    /// Events taken after a refused send, before `recv` asked.
    backlog: VecDeque<Event>,
    headers: Option<Metadata>,
    end: Option<(Status, Metadata)>,
    recv_compressed: bool,
}

impl ClientCall {
    /// Sends a request message, blocking while the send buffer is full.
    pub fn send(&mut self, message: Bytes) -> Result<(), Status> {
        self.send_with(message, true)
    }

    /// [`send`](Self::send), uncompressed when `compress` is false.
    pub fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        if let Some((status, _)) = &self.end {
            return Err(status.clone());
        }
        let refused = match self.link.send(message, compress) {
            Ok(()) => return Ok(()),
            Err(status) => status,
        };
        // If the call already ended (the server answered first), its end is
        // queued behind what we have not read: report that status instead.
        while let Ok(event) = self.inbox.try_recv() {
            let ended = matches!(event, Event::Finished { .. } | Event::Cancelled { .. });
            self.backlog.push_back(event);
            if ended {
                break;
            }
        }
        match self.queued_end() {
            Some(status) if !status.is_ok() => Err(status.clone()),
            _ => Err(refused),
        }
    }

    /// The status of an end taken into the backlog, not yet seen by `recv`.
    fn queued_end(&self) -> Option<&Status> {
        self.backlog.iter().find_map(|event| match event {
            Event::Finished { status, .. } | Event::Cancelled { status, .. } => Some(status),
            _ => None,
        })
    }

    /// Half-closes: no more request messages.
    pub fn close_send(&mut self) {
        self.link.input(Input::CloseSend);
    }

    /// The server's initial metadata, waiting for it if needed (empty for a
    /// Trailers-Only response).
    pub fn headers(&mut self) -> Result<&Metadata, Status> {
        while self.headers.is_none() && self.end.is_none() {
            self.next();
        }
        Ok(self.headers.get_or_insert_with(Metadata::new))
    }

    /// The next response message; `Ok(None)` when the call ended with OK;
    /// `Err(status)` when it ended otherwise.
    pub fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            if let Some((status, _)) = &self.end {
                return if status.is_ok() {
                    Ok(None)
                } else {
                    Err(status.clone())
                };
            }
            if let Some(message) = self.next() {
                return Ok(Some(message));
            }
        }
    }

    /// Whether the message the last `recv` returned arrived compressed.
    pub fn recv_compressed(&self) -> bool {
        self.recv_compressed
    }

    /// Waits for the end of the call (discarding unread messages) and returns
    /// its status and trailing metadata.
    pub fn finish(mut self) -> (Status, Metadata) {
        self.wait_end()
    }

    fn wait_end(&mut self) -> (Status, Metadata) {
        while self.end.is_none() {
            self.next();
        }
        self.end
            .clone()
            .unwrap_or_else(|| (gone(), Metadata::new()))
    }

    /// Cancels the call (RST_STREAM CANCEL).
    pub fn cancel(mut self) {
        self.cancel_now();
    }

    fn cancel_now(&mut self) {
        if self.end.is_none() {
            self.end = Some((Status::new(Code::Cancelled, "cancelled"), Metadata::new()));
            self.link.input(Input::Cancel);
        }
    }

    /// Takes one event; returns a message if it was one.
    fn next(&mut self) -> Option<Bytes> {
        let next = self.backlog.pop_front().ok_or(());
        match next.or_else(|_| self.inbox.recv()) {
            Ok(Event::Headers { metadata, .. }) => self.headers = Some(metadata),
            Ok(Event::Message {
                message,
                compressed,
                ..
            }) => {
                self.link.input(Input::Consumed);
                self.recv_compressed = compressed;
                return Some(message);
            }
            Ok(Event::Finished {
                status, trailers, ..
            }) => self.end = Some((status, trailers)),
            Ok(Event::Cancelled { status, .. }) => self.end = Some((status, Metadata::new())),
            Ok(_) => {}
            Err(_) => self.end = Some((gone(), Metadata::new())),
        }
        None
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
        if result.is_err() && self.end.is_none() && self.queued_end().is_none() {
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
        self.recv_compressed
    }
    fn finish(&mut self) -> (Status, Metadata) {
        self.wait_end()
    }
    fn cancel(&mut self) {
        self.cancel_now()
    }
}
