//! Test helpers: an executor, in-memory server streams, and loopback client
//! transports that dispatch straight into a router, all without threads or
//! sockets.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use bytes::Bytes;

use super::*;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::CallOptions;

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs a future to completion on this thread.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

/// What a handler sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Sent {
    Headers(Metadata),
    Message(Bytes),
}

/// A server stream over queued requests, recording what is sent.
#[derive(Debug, Default)]
pub(crate) struct MemoryStream {
    pub(crate) requests: VecDeque<Bytes>,
    /// Returned by `recv` once the requests run out, instead of `Ok(None)`.
    pub(crate) recv_error: Option<Status>,
    pub(crate) sent: Vec<Sent>,
    /// What `set_compression` chose.
    pub(crate) encoding: Option<Encoding>,
}

impl MemoryStream {
    pub(crate) fn new(requests: impl IntoIterator<Item = Bytes>) -> Self {
        MemoryStream {
            requests: requests.into_iter().collect(),
            ..MemoryStream::default()
        }
    }

    pub(crate) fn messages(&self) -> Vec<Bytes> {
        self.sent
            .iter()
            .filter_map(|s| match s {
                Sent::Message(m) => Some(m.clone()),
                Sent::Headers(_) => None,
            })
            .collect()
    }

    pub(crate) fn headers(&self) -> Metadata {
        self.sent
            .iter()
            .find_map(|s| match s {
                Sent::Headers(h) => Some(h.clone()),
                Sent::Message(_) => None,
            })
            .unwrap_or_default()
    }
}

impl ServerStream for MemoryStream {
    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        match self.requests.pop_front() {
            Some(message) => Ok(Some(message)),
            None => match &self.recv_error {
                Some(status) => Err(status.clone()),
                None => Ok(None),
            },
        }
    }

    /// Nothing in memory is compressed.
    fn recv_compressed(&self) -> bool {
        false
    }

    fn send_headers(&mut self, metadata: Metadata) -> Result<(), Status> {
        assert!(self.sent.is_empty(), "headers after a message");
        self.sent.push(Sent::Headers(metadata));
        Ok(())
    }

    fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status> {
        assert!(self.sent.is_empty(), "compression chosen after the headers");
        self.encoding = Some(encoding);
        Ok(())
    }

    fn send_with(&mut self, message: Bytes, _compress: bool) -> Result<(), Status> {
        self.sent.push(Sent::Message(message));
        Ok(())
    }
}

impl AsyncServerStream for MemoryStream {
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, Status>> {
        Box::pin(std::future::ready(ServerStream::recv(self)))
    }

    fn try_recv(&mut self) -> Option<Result<Option<Bytes>, Status>> {
        Some(ServerStream::recv(self))
    }

    fn send_headers(&mut self, metadata: Metadata) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(std::future::ready(ServerStream::send_headers(
            self, metadata,
        )))
    }

    fn recv_compressed(&self) -> bool {
        ServerStream::recv_compressed(self)
    }

    fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status> {
        ServerStream::set_compression(self, encoding)
    }

    fn send_with(&mut self, message: Bytes, compress: bool) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(std::future::ready(ServerStream::send_with(
            self, message, compress,
        )))
    }

    fn send_last_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        ServerStream::send_last_with(self, message, compress)
    }
}

/// Where a loopback call dispatches to.
#[derive(Clone)]
pub(crate) enum Target {
    Blocking(Arc<Router>),
    Async(Arc<AsyncRouter>),
}

/// A client transport that runs each call through a router once the client
/// has sent everything (requests are buffered until the first read).
#[derive(Clone)]
pub(crate) struct Loopback {
    target: Target,
    /// Every call's options, as the transport received them.
    pub(crate) calls: Arc<Mutex<Vec<CallOptions>>>,
}

impl Loopback {
    pub(crate) fn new(router: Router) -> Self {
        Loopback {
            target: Target::Blocking(Arc::new(router)),
            calls: Arc::default(),
        }
    }

    pub(crate) fn new_async(router: AsyncRouter) -> Self {
        Loopback {
            target: Target::Async(Arc::new(router)),
            calls: Arc::default(),
        }
    }

    fn open(&self, options: CallOptions) -> LoopbackCall {
        self.calls.lock().unwrap().push(options.clone());
        LoopbackCall {
            target: self.target.clone(),
            options,
            requests: VecDeque::new(),
            result: None,
        }
    }
}

impl ClientTransport for Loopback {
    fn call(&self, options: CallOptions) -> Result<Box<dyn ClientStream>, Status> {
        Ok(Box::new(self.open(options)))
    }
}

impl AsyncClientTransport for Loopback {
    fn call(
        &self,
        options: CallOptions,
    ) -> BoxFuture<'_, Result<Box<dyn AsyncClientStream>, Status>> {
        let call: Box<dyn AsyncClientStream> = Box::new(self.open(options));
        Box::pin(std::future::ready(Ok(call)))
    }
}

struct Outcome {
    headers: Metadata,
    messages: VecDeque<Bytes>,
    status: Status,
    trailers: Metadata,
}

struct LoopbackCall {
    target: Target,
    options: CallOptions,
    requests: VecDeque<Bytes>,
    result: Option<Outcome>,
}

impl LoopbackCall {
    fn run(&mut self) -> &mut Outcome {
        if self.result.is_none() {
            let now = Instant::now();
            let deadline = self
                .options
                .deadline
                .or(self.options.timeout.map(|t| now + t));
            let ctx = CallContext::from_parts(
                self.options.path.clone(),
                self.options.metadata.clone(),
                deadline,
                now,
            )
            .with_peer_addr("loopback");
            let mut stream = MemoryStream::new(std::mem::take(&mut self.requests));
            let outcome = match &self.target {
                Target::Blocking(router) => router.dispatch(&mut stream, ctx),
                Target::Async(router) => block_on(router.dispatch(&mut stream, ctx)),
            };
            self.result = Some(Outcome {
                headers: stream.headers(),
                messages: stream.messages().into(),
                status: outcome.status,
                trailers: outcome.trailers,
            });
        }
        self.result.as_mut().expect("just set")
    }
}

impl ClientStream for LoopbackCall {
    fn send_with(&mut self, message: Bytes, _compress: bool) -> Result<(), Status> {
        if let Some(outcome) = &self.result {
            return Err(outcome.status.clone());
        }
        self.requests.push_back(message);
        Ok(())
    }

    fn close_send(&mut self) {}

    fn headers(&mut self) -> Result<Metadata, Status> {
        Ok(self.run().headers.clone())
    }

    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        let outcome = self.run();
        match outcome.messages.pop_front() {
            Some(message) => Ok(Some(message)),
            None if outcome.status.is_ok() => Ok(None),
            None => Err(outcome.status.clone()),
        }
    }

    /// Nothing in memory is compressed.
    fn recv_compressed(&self) -> bool {
        false
    }

    fn finish(&mut self) -> (Status, Metadata) {
        let outcome = self.run();
        (outcome.status.clone(), outcome.trailers.clone())
    }

    fn cancel(&mut self) {
        if self.result.is_none() {
            self.result = Some(Outcome {
                headers: Metadata::new(),
                messages: VecDeque::new(),
                status: Status::new(Code::Cancelled, "cancelled"),
                trailers: Metadata::new(),
            });
        }
    }
}

impl AsyncClientStream for LoopbackCall {
    fn send_with(&mut self, message: Bytes, compress: bool) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(std::future::ready(ClientStream::send_with(
            self, message, compress,
        )))
    }

    fn recv_compressed(&self) -> bool {
        ClientStream::recv_compressed(self)
    }

    fn close_send(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }

    fn headers(&mut self) -> BoxFuture<'_, Result<Metadata, Status>> {
        Box::pin(std::future::ready(ClientStream::headers(self)))
    }

    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, Status>> {
        Box::pin(std::future::ready(ClientStream::recv(self)))
    }

    fn finish(&mut self) -> BoxFuture<'_, (Status, Metadata)> {
        Box::pin(std::future::ready(ClientStream::finish(self)))
    }

    fn cancel(&mut self) {
        ClientStream::cancel(self);
    }
}

/// The head of a call to `/pkg.Svc/Get` whose client accepts `accept`.
pub(crate) fn request_head(
    accept: grpc_sansio::grpc::compression::EncodingSet,
) -> grpc_sansio::grpc::Request {
    grpc_sansio::grpc::Request {
        path: "/pkg.Svc/Get".into(),
        authority: None,
        content_type: "application/grpc".into(),
        metadata: Metadata::new(),
        timeout: None,
        deadline: None,
        encoding: grpc_sansio::grpc::compression::Encoding::Identity,
        accept_encodings: accept,
        peer_settings: Default::default(),
    }
}
