//! Blocking handles for server calls: a worker pool, or any call an inline
//! handler detaches to a thread of its own.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::{CallId, Event, Request};
use grpc_sansio::service::{self, CallContext, CallState, CancelToken, Command, Router};

use crate::event_loop::Link;
use crate::server::{Calls, InlineHandler, Server, ServerHandle};

impl Calls<'_> {
    /// Hands the call to another thread as a blocking [`ServerCall`]; its
    /// events no longer reach the inline handler.
    pub fn detach(&mut self, call: CallId, request: Request) -> ServerCall {
        let (tx, inbox) = mpsc::channel();
        let cancel = self.handles.attach(call, tx);
        let info = self.info;
        let (remote, token) = (info.remote.clone(), info.token);
        ServerCall {
            link: Link {
                remote,
                token,
                call,
            },
            request,
            cancel,
            peer: info.peer,
            local: info.local,
            inbox,
            state: CallState::server(),
            headers_sent: false,
        }
    }
}

impl Server {
    /// Binds to `addr` and serves the services of `router` (generated code
    /// registers into it) on `workers` threads; unknown methods are answered
    /// UNIMPLEMENTED.
    pub fn serve_router(
        self,
        addr: impl ToSocketAddrs,
        workers: usize,
        router: Arc<Router>,
    ) -> io::Result<ServerHandle> {
        self.serve_pool(addr, workers, move |mut call: ServerCall| {
            let context = call.context();
            let outcome = router.dispatch(&mut call, context);
            call.finish(outcome.status, outcome.trailers);
        })
    }

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

/// The server side of one call as a blocking handle, for a worker thread.
///
/// Dropping it without [`finish`](Self::finish) ends the call with UNKNOWN.
pub struct ServerCall {
    link: Link,
    request: Request,
    cancel: CancelToken,
    peer: SocketAddr,
    local: SocketAddr,
    inbox: Receiver<Event>,
    state: CallState,
    headers_sent: bool,
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
        self.link.recv(&self.inbox, &mut self.state)
    }

    /// Whether the message the last `recv` returned arrived compressed.
    pub fn recv_compressed(&self) -> bool {
        self.state.recv_compressed()
    }

    /// The service layer's view of the call: deadline, metadata, addresses
    /// and a cancellation token the connection fires.
    pub fn context(&self) -> CallContext {
        CallContext::new(&self.request, Instant::now())
            .with_peer_addr(self.peer.to_string())
            .with_local_addr(self.local.to_string())
            .with_cancel_token(self.cancel.clone())
            .with_clock(Arc::new(Instant::now))
    }

    /// Whether the call was cancelled (by the client, its deadline, or the
    /// connection), checked without blocking.
    pub fn is_cancelled(&mut self) -> bool {
        Link::poll(&self.inbox, &mut self.state);
        self.cancel.is_cancelled() || self.state.is_over()
    }

    /// Sends the response headers with initial metadata (optional).
    pub fn send_headers(&mut self, metadata: Metadata) {
        self.headers_sent = true;
        self.link.command(|call| Command::Headers(call, metadata));
    }

    /// Compresses the responses with `encoding`: before the headers, and
    /// only an encoding the client accepts.
    pub fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status> {
        service::check_compression(&self.request, self.headers_sent, encoding)?;
        self.link.command(|call| Command::Encoding(call, encoding));
        Ok(())
    }

    /// Sends a response message, blocking while the send buffer is full.
    pub fn send(&mut self, message: Bytes) -> Result<(), Status> {
        self.send_with(message, true)
    }

    /// [`send`](Self::send), uncompressed when `compress` is false.
    pub fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        if let Some((status, _)) = self.state.end() {
            return Err(status.clone());
        }
        self.headers_sent = true;
        self.link.send(message, compress)
    }

    /// Ends the call with `status` and trailing metadata.
    pub fn finish(mut self, status: Status, trailers: Metadata) {
        self.finish_with(status, trailers);
    }

    fn finish_with(&mut self, status: Status, trailers: Metadata) {
        if self.state.end_here(status.clone()) {
            self.link
                .command(|call| Command::Finish(call, status, trailers));
        }
    }
}

impl service::ServerStream for ServerCall {
    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        ServerCall::recv(self)
    }
    fn recv_compressed(&self) -> bool {
        self.state.recv_compressed()
    }
    fn send_headers(&mut self, metadata: Metadata) -> Result<(), Status> {
        ServerCall::send_headers(self, metadata);
        Ok(())
    }
    fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status> {
        ServerCall::set_compression(self, encoding)
    }
    fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        ServerCall::send_with(self, message, compress)
    }
}

impl Drop for ServerCall {
    fn drop(&mut self) {
        let status = Status::new(Code::Unknown, "the handler returned without a status");
        self.finish_with(status, Metadata::new());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Client;
    use grpc_sansio::grpc::{CallOptions, Config};

    /// A handler that is not reading still sees its call cancelled, through
    /// the context's token.
    #[test]
    fn the_context_token_fires_when_the_client_cancels() {
        let (seen, outcome) = mpsc::channel();
        let seen = Mutex::new(seen);
        let server = Server::new(Config::server())
            .serve_pool("127.0.0.1:0", 1, move |call: ServerCall| {
                let context = call.context();
                let seen = seen.lock().unwrap().clone();
                let _ = seen.send(None);
                while !context.is_cancelled() {
                    thread::sleep(std::time::Duration::from_millis(1));
                }
                let _ = seen.send(Some(context.check()));
                drop(call);
            })
            .unwrap();
        let client = Client::connect(server.local_addr(), Config::client()).unwrap();
        let mut call = client.call(CallOptions::new("/x.Y/Z")).unwrap();
        call.send(Bytes::from_static(b"hi")).unwrap();
        assert_eq!(outcome.recv().unwrap(), None, "the handler started");
        call.cancel();
        let checked = outcome.recv().unwrap().unwrap();
        assert_eq!(checked.unwrap_err().code(), Code::Cancelled);
        drop(client);
        server.shutdown();
    }
}
