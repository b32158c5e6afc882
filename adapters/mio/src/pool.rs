//! Blocking handles for server calls: a worker pool, or any call an inline
//! handler detaches to a thread of its own.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use bytes::Bytes;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallId, Event, Request};

use crate::event_loop::{gone, Input, Link};
use crate::server::{Calls, InlineHandler, Server, ServerHandle};

impl Calls<'_> {
    /// Hands the call to another thread as a blocking [`ServerCall`]; its
    /// events no longer reach the inline handler.
    pub fn detach(&mut self, call: CallId, request: Request) -> ServerCall {
        let (tx, inbox) = mpsc::channel();
        self.handles.inboxes.insert(call, tx);
        let info = self.info;
        let (remote, token) = (info.remote.clone(), info.token);
        ServerCall {
            link: Link {
                remote,
                token,
                call,
            },
            request,
            peer: info.peer,
            local: info.local,
            inbox,
            backlog: VecDeque::new(),
            state: State::Open,
        }
    }
}

impl Server {
    /// Binds to `addr` and runs `handler` on `workers` threads, one call at a
    /// time each, with blocking [`ServerCall`] handles.
    pub fn serve_pool(
        self,
        addr: impl ToSocketAddrs,
        workers: usize,
        handler: impl Fn(ServerCall) + Send + Sync + 'static,
    ) -> io::Result<ServerHandle> {
        let (tx, rx) = mpsc::channel::<ServerCall>();
        let (rx, handler) = (Arc::new(Mutex::new(rx)), Arc::new(handler));
        let mut handle = self.serve(addr, Pool(tx))?;
        for _ in 0..workers.max(1) {
            let (rx, handler) = (rx.clone(), handler.clone());
            handle.workers.push(thread::spawn(move || loop {
                // The queue closes when the event loops are gone.
                let Ok(call) = rx
                    .lock()
                    .map_err(drop)
                    .and_then(|rx| rx.recv().map_err(drop))
                else {
                    return;
                };
                // A panicking handler's call ends with UNKNOWN (its drop).
                let _ = catch_unwind(AssertUnwindSafe(|| handler(call)));
            }));
        }
        Ok(handle)
    }
}

/// The inline handler of the worker pool: every call is detached to a worker.
#[derive(Clone)]
struct Pool(Sender<ServerCall>);

impl InlineHandler for Pool {
    fn on_event(&mut self, calls: &mut Calls<'_>, event: Event) {
        if let Event::CallStarted { call, request } = event {
            let _ = self.0.send(calls.detach(call, request));
        }
    }
}

enum State {
    Open,
    HalfClosed,
    Ended(Status),
    Finished,
}

/// The server side of one call as a blocking handle, for a worker thread.
///
/// Dropping it without [`finish`](Self::finish) ends the call with UNKNOWN.
pub struct ServerCall {
    link: Link,
    request: Request,
    peer: SocketAddr,
    local: SocketAddr,
    inbox: Receiver<Event>,
    /// Events taken by `is_cancelled` before `recv` asked.
    backlog: VecDeque<Event>,
    state: State,
}

impl ServerCall {
    /// The request head: path, metadata, deadline, encodings.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The client's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// Our address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The next request message; `Ok(None)` once the client half-closed;
    /// `Err` with CANCELLED or DEADLINE_EXCEEDED once the call is cancelled.
    pub fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        loop {
            match &self.state {
                State::Open => {}
                State::HalfClosed => return Ok(None),
                State::Ended(status) => return Err(status.clone()),
                State::Finished => return Err(Status::new(Code::Internal, "the call is finished")),
            }
            let next = self.backlog.pop_front().ok_or(());
            match next.or_else(|_| self.inbox.recv()) {
                Ok(Event::Message { message, .. }) => {
                    self.link.input(Input::Consumed);
                    return Ok(Some(message));
                }
                Ok(Event::HalfClosed { .. }) => self.state = State::HalfClosed,
                Ok(Event::Cancelled { status, .. }) => self.state = State::Ended(status),
                Ok(_) => {}
                Err(_) => self.state = State::Ended(gone()),
            }
        }
    }

    /// Whether the call was cancelled (by the client, its deadline, or the
    /// connection), checked without blocking.
    pub fn is_cancelled(&mut self) -> bool {
        while let Ok(event) = self.inbox.try_recv() {
            match event {
                Event::Cancelled { status, .. } => self.state = State::Ended(status),
                event => self.backlog.push_back(event),
            }
        }
        matches!(self.state, State::Ended(_))
    }

    /// Sends the response headers with initial metadata (optional).
    pub fn send_headers(&mut self, metadata: Metadata) {
        self.link.input(|call| Input::Headers(call, metadata));
    }

    /// Sends a response message, blocking while the send buffer is full.
    pub fn send(&mut self, message: Bytes) -> Result<(), Status> {
        match &self.state {
            State::Ended(status) => Err(status.clone()),
            _ => self.link.send(message),
        }
    }

    /// Ends the call with `status` and trailing metadata.
    pub fn finish(mut self, status: Status, trailers: Metadata) {
        self.finish_with(status, trailers);
    }

    fn finish_with(&mut self, status: Status, trailers: Metadata) {
        if matches!(self.state, State::Finished | State::Ended(_)) {
            return;
        }
        self.state = State::Finished;
        self.link
            .input(|call| Input::Finish(call, status, trailers));
    }
}

impl Drop for ServerCall {
    fn drop(&mut self) {
        let status = Status::new(Code::Unknown, "the handler returned without a status");
        self.finish_with(status, Metadata::new());
    }
}
