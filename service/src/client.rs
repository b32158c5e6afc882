//! The typed blocking client: what generated client stubs call. It runs the
//! client interceptors and turns the raw [`ClientStream`] of a transport into
//! typed calls.

use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;

use super::clock::Clock;
use super::codec::{decode_response, encode};
use super::interceptor::{ClientChain, ClientInterceptor, OutgoingCall, Scope, Started};
use super::options::{RequestOptions, Response};
use super::transport::{ClientStream, ClientTransport};
use super::MethodKind;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::grpc::CallOptions;

/// What the blocking and the async client share: interceptors, clock and
/// default options.
#[derive(Clone, Default)]
pub(crate) struct ClientCore {
    chain: Arc<ClientChain>,
    clock: Option<Arc<dyn Clock>>,
    pub(crate) defaults: RequestOptions,
}

impl ClientCore {
    pub(crate) fn push(&mut self, scope: Scope, interceptor: impl ClientInterceptor) {
        Arc::make_mut(&mut self.chain).push(scope, Arc::new(interceptor));
    }

    pub(crate) fn set_clock(&mut self, clock: impl Clock + 'static) {
        self.clock = Some(Arc::new(clock));
    }

    /// Lays `options` over the defaults and runs the `on_start` hooks; returns
    /// the observer of the call and what to ask the transport for, or the
    /// rejection (already observed).
    pub(crate) fn open(
        &self,
        path: &str,
        kind: MethodKind,
        options: RequestOptions,
    ) -> Result<(Observer, CallOptions), Status> {
        let mut call = OutgoingCall {
            path: path.to_owned(),
            kind,
            options: options.over(&self.defaults),
        };
        let (started, rejected) = self.chain.start(&mut call, self.clock.as_ref());
        let mut observer = Observer {
            call,
            started,
            chain: self.chain.clone(),
            clock: self.clock.clone(),
            done: false,
        };
        if let Some(status) = rejected {
            observer.observe(&status, &Metadata::new());
            return Err(status);
        }
        let wire = observer.call.options.to_call_options(&observer.call.path);
        Ok((observer, wire))
    }
}

impl std::fmt::Debug for ClientCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCore")
            .field("interceptors", &self.chain.len())
            .field("clock", &self.clock.is_some())
            .field("defaults", &self.defaults)
            .finish()
    }
}

/// Tells the interceptors, once, how a call ended.
pub(crate) struct Observer {
    call: OutgoingCall,
    started: Started,
    chain: Arc<ClientChain>,
    clock: Option<Arc<dyn Clock>>,
    done: bool,
}

impl Observer {
    pub(crate) fn observe(&mut self, status: &Status, trailers: &Metadata) {
        if !self.done {
            self.done = true;
            self.chain.finish(
                &self.call,
                self.started,
                status,
                trailers,
                self.clock.as_ref(),
            );
        }
    }
}

/// The status of a call that was given up locally.
pub(crate) fn cancelled_locally() -> Status {
    Status::new(Code::Cancelled, "the call was cancelled by the client")
}

/// The status of a unary or client-streaming call that ended OK without its
/// one response message.
pub(crate) fn missing_response() -> Status {
    Status::new(Code::Internal, "the server sent no response message")
}

/// A call in progress: the transport's stream, its end once known, and the
/// observer. Dropping it before the end cancels the call.
struct Call {
    stream: Box<dyn ClientStream>,
    observer: Observer,
    headers: Option<Metadata>,
    end: Option<(Status, Metadata)>,
}

impl Call {
    fn send(&mut self, message: Bytes) -> Result<(), Status> {
        match &self.end {
            Some((status, _)) if !status.is_ok() => Err(status.clone()),
            Some(_) => Err(Status::new(Code::FailedPrecondition, "the call is over")),
            None => self.stream.send(message),
        }
    }

    /// [`send`](Self::send) and [`close_send`](Self::close_send) in one.
    fn send_last(&mut self, message: Bytes) -> Result<(), Status> {
        match &self.end {
            None => self.stream.send_last(message),
            Some(_) => self.send(message),
        }
    }

    fn close_send(&mut self) {
        if self.end.is_none() {
            self.stream.close_send();
        }
    }

    fn headers(&mut self) -> Result<Metadata, Status> {
        if let Some(headers) = &self.headers {
            return Ok(headers.clone());
        }
        if self.end.is_some() {
            return Ok(Metadata::new());
        }
        match self.stream.headers() {
            Ok(headers) => {
                self.headers = Some(headers.clone());
                Ok(headers)
            }
            Err(err) => Err(self.fail_with_end(err)),
        }
    }

    /// The transport's end of the call, asked for once; not yet observed.
    fn end_raw(&mut self) -> (Status, Metadata) {
        self.end.get_or_insert_with(|| self.stream.finish()).clone()
    }

    /// The next message, without observing the end.
    fn recv_raw(&mut self) -> Result<Option<Bytes>, Status> {
        if self.end.is_none() {
            if let Ok(Some(message)) = self.stream.recv() {
                return Ok(Some(message));
            }
        }
        let (status, _) = self.end_raw();
        if status.is_ok() {
            Ok(None)
        } else {
            Err(status)
        }
    }

    /// The next message; the end is observed when reached.
    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        let result = self.recv_raw();
        if !matches!(result, Ok(Some(_))) {
            self.observe();
        }
        result
    }

    fn observe(&mut self) {
        if let Some((status, trailers)) = &self.end {
            self.observer.observe(status, trailers);
        }
    }

    /// Ends the call with `status` (cancelling it if it is still running) and
    /// observes that; returns the status.
    fn fail(&mut self, status: Status) -> Status {
        if self.end.is_none() {
            self.stream.cancel();
        }
        let trailers = self.end.take().map(|(_, t)| t).unwrap_or_default();
        self.observer.observe(&status, &trailers);
        self.end = Some((status.clone(), trailers));
        status
    }

    /// After a failed operation: the transport's own status if it has a
    /// failure, `err` otherwise; observed.
    fn fail_with_end(&mut self, err: Status) -> Status {
        let (status, _) = self.end_raw();
        self.fail(if status.is_ok() { err } else { status })
    }

    fn finish(&mut self) -> (Status, Metadata) {
        let end = self.end_raw();
        self.observe();
        end
    }

    fn cancel(&mut self) {
        if self.end.is_none() {
            self.fail(cancelled_locally());
        }
    }

    fn trailers(&self) -> Option<&Metadata> {
        self.end.as_ref().map(|(_, trailers)| trailers)
    }

    /// Receives the one response of a unary or client-streaming call and the
    /// end; observes the outcome.
    fn single_response<Resp: Message + Default>(&mut self) -> Result<Response<Resp>, Status> {
        let result = self.headers().and_then(|headers| {
            let message = self.recv_raw()?.ok_or_else(missing_response)?;
            let message = decode_response::<Resp>(message)?;
            let (status, trailers) = self.end_raw();
            if !status.is_ok() {
                return Err(status);
            }
            Ok(Response {
                message,
                headers,
                trailers,
            })
        });
        match result {
            Ok(response) => {
                self.observe();
                Ok(response)
            }
            Err(status) => Err(self.fail(status)),
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.cancel();
        self.observe();
    }
}

/// A typed client over a blocking [`ClientTransport`]: runs the client
/// interceptors and encodes and decodes messages. Generated stubs wrap one;
/// cloning is cheap.
#[derive(Clone)]
pub struct Client {
    transport: Arc<dyn ClientTransport>,
    core: ClientCore,
}

impl Client {
    /// A client over `transport`, with no interceptor, clock or default.
    pub fn new(transport: impl ClientTransport + 'static) -> Self {
        Client::from_shared(Arc::new(transport))
    }

    /// A client over a shared transport.
    pub fn from_shared(transport: Arc<dyn ClientTransport>) -> Self {
        Client {
            transport,
            core: ClientCore::default(),
        }
    }

    /// Adds a client interceptor for every call (see
    /// [the order](super::interceptor)).
    pub fn with_interceptor(mut self, interceptor: impl ClientInterceptor) -> Self {
        self.core.push(Scope::All, interceptor);
        self
    }

    /// Adds a client interceptor for unary calls only.
    pub fn with_unary_interceptor(mut self, interceptor: impl ClientInterceptor) -> Self {
        self.core.push(Scope::Unary, interceptor);
        self
    }

    /// Adds a client interceptor for streaming calls only.
    pub fn with_stream_interceptor(mut self, interceptor: impl ClientInterceptor) -> Self {
        self.core.push(Scope::Streaming, interceptor);
        self
    }

    /// Sets the clock that times calls for the interceptors.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.core.set_clock(clock);
        self
    }

    /// Sets the options every call starts from.
    pub fn with_default_options(mut self, options: RequestOptions) -> Self {
        self.core.defaults = options;
        self
    }

    /// The options every call starts from.
    pub fn default_options(&self) -> &RequestOptions {
        &self.core.defaults
    }

    fn start(&self, path: &str, kind: MethodKind, options: RequestOptions) -> Result<Call, Status> {
        let (mut observer, wire) = self.core.open(path, kind, options)?;
        match self.transport.call(wire) {
            Ok(stream) => Ok(Call {
                stream,
                observer,
                headers: None,
                end: None,
            }),
            Err(status) => {
                observer.observe(&status, &Metadata::new());
                Err(status)
            }
        }
    }

    /// Starts a call and sends its one request (unary and server streaming).
    fn start_with(
        &self,
        path: &str,
        kind: MethodKind,
        request: Bytes,
        options: RequestOptions,
    ) -> Result<Call, Status> {
        let mut call = self.start(path, kind, options)?;
        if let Err(err) = call.send_last(request) {
            return Err(call.fail_with_end(err));
        }
        Ok(call)
    }

    /// A unary call: one request, one response.
    pub fn unary<Req, Resp>(
        &self,
        path: &str,
        request: &Req,
        options: RequestOptions,
    ) -> Result<Response<Resp>, Status>
    where
        Req: Message,
        Resp: Message + Default,
    {
        let mut call = self.start_with(path, MethodKind::Unary, encode(request), options)?;
        call.single_response()
    }

    /// A server-streaming call: one request, a stream of responses.
    pub fn server_streaming<Req, Resp>(
        &self,
        path: &str,
        request: &Req,
        options: RequestOptions,
    ) -> Result<ResponseStream<Resp>, Status>
    where
        Req: Message,
        Resp: Message + Default,
    {
        let call = self.start_with(path, MethodKind::ServerStreaming, encode(request), options)?;
        Ok(ResponseStream {
            call,
            fused: false,
            _message: PhantomData,
        })
    }

    /// A client-streaming call: send requests, then
    /// [`close_and_recv`](ClientStreamingCall::close_and_recv) the response.
    pub fn client_streaming<Req, Resp>(
        &self,
        path: &str,
        options: RequestOptions,
    ) -> Result<ClientStreamingCall<Req, Resp>, Status>
    where
        Req: Message,
        Resp: Message + Default,
    {
        let call = self.start(path, MethodKind::ClientStreaming, options)?;
        Ok(ClientStreamingCall {
            call,
            _message: PhantomData,
        })
    }

    /// A bidirectional-streaming call.
    pub fn bidi_streaming<Req, Resp>(
        &self,
        path: &str,
        options: RequestOptions,
    ) -> Result<BidiCall<Req, Resp>, Status>
    where
        Req: Message,
        Resp: Message + Default,
    {
        let call = self.start(path, MethodKind::BidiStreaming, options)?;
        Ok(BidiCall {
            call,
            _message: PhantomData,
        })
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("core", &self.core)
            .finish_non_exhaustive()
    }
}

/// The responses of a server-streaming call. Dropping it before the end
/// cancels the call.
pub struct ResponseStream<Resp> {
    call: Call,
    fused: bool,
    _message: PhantomData<fn() -> Resp>,
}

impl<Resp: Message + Default> ResponseStream<Resp> {
    /// The server's initial metadata (empty for a Trailers-Only response).
    pub fn headers(&mut self) -> Result<Metadata, Status> {
        self.call.headers()
    }

    /// The next response; `Ok(None)` once the call ended with OK; `Err` once
    /// it ended otherwise (or a message did not decode: INTERNAL).
    pub fn recv(&mut self) -> Result<Option<Resp>, Status> {
        match self.call.recv()? {
            Some(bytes) => match decode_response(bytes) {
                Ok(message) => Ok(Some(message)),
                Err(status) => Err(self.call.fail(status)),
            },
            None => Ok(None),
        }
    }

    /// The trailers, once the call has ended.
    pub fn trailers(&self) -> Option<&Metadata> {
        self.call.trailers()
    }

    /// Waits for the end (discarding unread responses); the trailers on OK.
    pub fn finish(mut self) -> Result<Metadata, Status> {
        let (status, trailers) = self.call.finish();
        if status.is_ok() {
            Ok(trailers)
        } else {
            Err(status)
        }
    }

    /// Cancels the call.
    pub fn cancel(mut self) {
        self.call.cancel();
    }
}

impl<Resp: Message + Default> Iterator for ResponseStream<Resp> {
    type Item = Result<Resp, Status>;

    /// The next response; the iteration ends with the call, after yielding
    /// its error if it failed.
    fn next(&mut self) -> Option<Self::Item> {
        if self.fused {
            return None;
        }
        let item = self.recv().transpose();
        if !matches!(item, Some(Ok(_))) {
            self.fused = true;
        }
        item
    }
}

impl<Resp> std::fmt::Debug for ResponseStream<Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream")
            .field("ended", &self.call.end.is_some())
            .finish_non_exhaustive()
    }
}

/// A client-streaming call in progress. Dropping it before the end cancels
/// the call.
pub struct ClientStreamingCall<Req, Resp> {
    call: Call,
    _message: PhantomData<fn(Req) -> Resp>,
}

impl<Req: Message, Resp: Message + Default> ClientStreamingCall<Req, Resp> {
    /// Sends a request. After an `Err` the call is over: its status comes
    /// from [`close_and_recv`](Self::close_and_recv).
    pub fn send(&mut self, message: &Req) -> Result<(), Status> {
        self.call.send(encode(message))
    }

    /// Half-closes and waits for the response.
    pub fn close_and_recv(mut self) -> Result<Response<Resp>, Status> {
        self.call.close_send();
        self.call.single_response()
    }

    /// Cancels the call.
    pub fn cancel(mut self) {
        self.call.cancel();
    }
}

impl<Req, Resp> std::fmt::Debug for ClientStreamingCall<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientStreamingCall")
            .field("ended", &self.call.end.is_some())
            .finish_non_exhaustive()
    }
}

/// A bidirectional-streaming call in progress. Dropping it before the end
/// cancels the call.
pub struct BidiCall<Req, Resp> {
    call: Call,
    _message: PhantomData<fn(Req) -> Resp>,
}

impl<Req: Message, Resp: Message + Default> BidiCall<Req, Resp> {
    /// Sends a request.
    pub fn send(&mut self, message: &Req) -> Result<(), Status> {
        self.call.send(encode(message))
    }

    /// Half-closes: no more requests.
    pub fn close_send(&mut self) {
        self.call.close_send();
    }

    /// The server's initial metadata.
    pub fn headers(&mut self) -> Result<Metadata, Status> {
        self.call.headers()
    }

    /// The next response; `Ok(None)` once the call ended with OK.
    pub fn recv(&mut self) -> Result<Option<Resp>, Status> {
        match self.call.recv()? {
            Some(bytes) => match decode_response(bytes) {
                Ok(message) => Ok(Some(message)),
                Err(status) => Err(self.call.fail(status)),
            },
            None => Ok(None),
        }
    }

    /// The trailers, once the call has ended.
    pub fn trailers(&self) -> Option<&Metadata> {
        self.call.trailers()
    }

    /// Half-closes, waits for the end (discarding unread responses); the
    /// trailers on OK.
    pub fn finish(mut self) -> Result<Metadata, Status> {
        self.call.close_send();
        let (status, trailers) = self.call.finish();
        if status.is_ok() {
            Ok(trailers)
        } else {
            Err(status)
        }
    }

    /// Cancels the call.
    pub fn cancel(mut self) {
        self.call.cancel();
    }
}

impl<Req, Resp> std::fmt::Debug for BidiCall<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BidiCall")
            .field("ended", &self.call.end.is_some())
            .finish_non_exhaustive()
    }
}
