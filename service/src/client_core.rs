//! The rules of a typed client call, once, for the blocking
//! [`Client`](super::Client) and the [`AsyncClient`](super::AsyncClient).
//!
//! [`ClientCore`] lays a call's options over the client's defaults and runs
//! the interceptors' `on_start`; [`CallCore`] is one call's bookkeeping
//! without I/O: its headers and end once known, the rule for a send after the
//! end, the "missing response" and "cancelled locally" statuses, decoding,
//! and telling the interceptors (once) how the call ended. Both clients are
//! thin shells over them, written once by [`client_shell!`]: each shell
//! method asks the core what to do, does the one transport operation the
//! core cannot (blocking, or `.await`ed), and hands the answer back.

use std::sync::Arc;

use bytes::Bytes;
use prost::Message;

use super::clock::Clock;
use super::codec::decode_response;
use super::interceptor::{ClientChain, ClientInterceptor, OutgoingCall, Scope, Started};
use super::options::{RequestOptions, Response};
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
    /// the core of the call and what to ask the transport for, or the
    /// rejection (already observed).
    pub(crate) fn open(
        &self,
        path: &str,
        kind: MethodKind,
        options: Option<RequestOptions>,
    ) -> Result<(CallCore, CallOptions), Status> {
        let options = options.unwrap_or_default();
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
        Ok((CallCore::new(observer), wire))
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
struct Observer {
    call: OutgoingCall,
    started: Started,
    chain: Arc<ClientChain>,
    clock: Option<Arc<dyn Clock>>,
    done: bool,
}

impl Observer {
    fn observe(&mut self, status: &Status, trailers: &Metadata) {
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
fn cancelled_locally() -> Status {
    Status::new(Code::Cancelled, "the call was cancelled by the client")
}

/// The status of a unary or client-streaming call that ended OK without its
/// one response message.
fn missing_response() -> Status {
    Status::new(Code::Internal, "the server sent no response message")
}

/// One typed client call's rules, without I/O: what is known of its end, and
/// what each operation answers from that.
pub(crate) struct CallCore {
    observer: Observer,
    headers: Option<Metadata>,
    end: Option<(Status, Metadata)>,
    /// A receive returned the end (`Ok(None)` or the error): an iterator over
    /// the responses stops.
    delivered_end: bool,
}

impl CallCore {
    fn new(observer: Observer) -> Self {
        CallCore {
            observer,
            headers: None,
            end: None,
            delivered_end: false,
        }
    }

    /// A transport that refused to start the call: observed, returned.
    pub(crate) fn refused(mut self, status: Status) -> Status {
        self.observer.observe(&status, &Metadata::new());
        self.end = Some((status.clone(), Metadata::new()));
        status
    }

    /// Whether the transport's end is not known yet (the call may run).
    pub(crate) fn is_open(&self) -> bool {
        self.end.is_none()
    }

    /// Whether a receive returned the end.
    pub(crate) fn delivered_end(&self) -> bool {
        self.delivered_end
    }

    /// Whether a message may go to the transport: not after the end (its
    /// error status, or FAILED_PRECONDITION after an OK end).
    pub(crate) fn check_send(&self) -> Result<(), Status> {
        match &self.end {
            Some((status, _)) if !status.is_ok() => Err(status.clone()),
            Some(_) => Err(Status::new(Code::FailedPrecondition, "the call is over")),
            None => Ok(()),
        }
    }

    /// The headers when known without the transport: as received, or empty
    /// once the call ended without them.
    pub(crate) fn known_headers(&self) -> Option<Metadata> {
        match (&self.headers, &self.end) {
            (Some(headers), _) => Some(headers.clone()),
            (None, Some(_)) => Some(Metadata::new()),
            (None, None) => None,
        }
    }

    /// Notes the headers the transport returned.
    pub(crate) fn note_headers(&mut self, headers: Metadata) -> Metadata {
        self.headers = Some(headers.clone());
        headers
    }

    /// The end, when known.
    pub(crate) fn end(&self) -> Option<(Status, Metadata)> {
        self.end.clone()
    }

    /// Notes the transport's end (asked for once) and returns it; not yet
    /// observed.
    pub(crate) fn note_end(&mut self, end: (Status, Metadata)) -> (Status, Metadata) {
        self.end.get_or_insert(end).clone()
    }

    /// What a receive answers once the transport has no more messages: the
    /// end of the stream on OK, the status otherwise.
    pub(crate) fn recv_end(&self) -> Result<Option<Bytes>, Status> {
        match &self.end {
            Some((status, _)) if !status.is_ok() => Err(status.clone()),
            _ => Ok(None),
        }
    }

    /// Observes what a receive returned when it is the end.
    pub(crate) fn received(
        &mut self,
        result: Result<Option<Bytes>, Status>,
    ) -> Result<Option<Bytes>, Status> {
        if !matches!(result, Ok(Some(_))) {
            self.delivered_end = true;
            self.observe();
        }
        result
    }

    /// Tells the interceptors how the call ended, once it has.
    pub(crate) fn observe(&mut self) {
        if let Some((status, trailers)) = &self.end {
            self.observer.observe(status, trailers);
        }
    }

    /// Ends the call with `status` and observes that; returns the status. The
    /// shell cancels the transport first when the call [`is_open`](Self::is_open).
    pub(crate) fn fail(&mut self, status: Status) -> Status {
        let trailers = self.end.take().map(|(_, t)| t).unwrap_or_default();
        self.observer.observe(&status, &trailers);
        self.end = Some((status.clone(), trailers));
        status
    }

    /// After a failed operation and the transport's end: that end's status
    /// when it failed, `err` otherwise.
    pub(crate) fn failure(&self, err: Status) -> Status {
        match &self.end {
            Some((status, _)) if !status.is_ok() => status.clone(),
            _ => err,
        }
    }

    /// The status a local cancel ends the call with, if it has not ended.
    pub(crate) fn cancel(&self) -> Option<Status> {
        self.is_open().then(cancelled_locally)
    }

    /// The one response message of a unary or client-streaming call,
    /// decoded: INTERNAL when there is none or it does not decode.
    pub(crate) fn decode_single<Resp: Message + Default>(
        message: Option<Bytes>,
    ) -> Result<Resp, Status> {
        decode_response::<Resp>(message.ok_or_else(missing_response)?)
    }

    /// The answer of a unary or client-streaming call: its message with the
    /// headers and trailers when the call ended OK.
    pub(crate) fn response<Resp>(
        headers: Metadata,
        message: Resp,
        (status, trailers): (Status, Metadata),
    ) -> Result<Response<Resp>, Status> {
        if !status.is_ok() {
            return Err(status);
        }
        Ok(Response {
            message,
            headers,
            trailers,
        })
    }

    /// A call's end as the typed calls return it: the trailers on OK.
    pub(crate) fn trailers_on_ok(
        (status, trailers): (Status, Metadata),
    ) -> Result<Metadata, Status> {
        if status.is_ok() {
            Ok(trailers)
        } else {
            Err(status)
        }
    }

    /// The trailers, once the call has ended.
    pub(crate) fn trailers(&self) -> Option<&Metadata> {
        self.end.as_ref().map(|(_, trailers)| trailers)
    }
}

/// Writes a typed client over one transport flavour: the call shell
/// (`$Call`), the client (`$Client`) and the typed calls (`$ResponseStream`,
/// `$ClientStreamingCall`, `$BidiCall`). `[$($async)?]` is `[async]` or `[]`,
/// `[$($aw)*]` is `[.await]` or `[]`: the one difference between the twins.
macro_rules! client_shell {
    (
        $Call:ident over $Stream:ident, $Transport:ident;
        $(#[$client_doc:meta])* $Client:ident;
        $(#[$stream_doc:meta])* $ResponseStream:ident;
        $(#[$cs_doc:meta])* $ClientStreamingCall:ident;
        $(#[$bidi_doc:meta])* $BidiCall:ident;
        [$($async:tt)?] [$($aw:tt)*]
    ) => {
        /// A call in progress: the transport's stream and the call's core.
        /// Dropping it before the end cancels the call.
        struct $Call {
            stream: Box<dyn $Stream>,
            core: $crate::client_core::CallCore,
        }

        impl $Call {
            $($async)? fn send(&mut self, message: Bytes) -> Result<(), Status> {
                self.core.check_send()?;
                self.stream.send(message) $($aw)*
            }

            /// [`send`](Self::send) and [`close_send`](Self::close_send) in one.
            $($async)? fn send_last(&mut self, message: Bytes) -> Result<(), Status> {
                self.core.check_send()?;
                self.stream.send_last(message) $($aw)*
            }

            $($async)? fn close_send(&mut self) {
                if self.core.is_open() {
                    self.stream.close_send() $($aw)*;
                }
            }

            $($async)? fn headers(&mut self) -> Result<Metadata, Status> {
                if let Some(headers) = self.core.known_headers() {
                    return Ok(headers);
                }
                match self.stream.headers() $($aw)* {
                    Ok(headers) => Ok(self.core.note_headers(headers)),
                    Err(err) => Err(self.fail_with_end(err) $($aw)*),
                }
            }

            /// The transport's end of the call, asked for once; not yet observed.
            $($async)? fn end_raw(&mut self) -> (Status, Metadata) {
                match self.core.end() {
                    Some(end) => end,
                    None => {
                        let end = self.stream.finish() $($aw)*;
                        self.core.note_end(end)
                    }
                }
            }

            /// The next message, without observing the end.
            $($async)? fn recv_raw(&mut self) -> Result<Option<Bytes>, Status> {
                if self.core.is_open() {
                    if let Ok(Some(message)) = self.stream.recv() $($aw)* {
                        return Ok(Some(message));
                    }
                }
                self.end_raw() $($aw)*;
                self.core.recv_end()
            }

            /// The next message; the end is observed when reached.
            $($async)? fn recv(&mut self) -> Result<Option<Bytes>, Status> {
                let result = self.recv_raw() $($aw)*;
                self.core.received(result)
            }

            /// The next message, decoded; a message that does not decode
            /// ends the call (INTERNAL).
            $($async)? fn recv_decoded<Resp: Message + Default>(
                &mut self,
            ) -> Result<Option<Resp>, Status> {
                match self.recv() $($aw)*? {
                    Some(bytes) => match $crate::codec::decode_response(bytes) {
                        Ok(message) => Ok(Some(message)),
                        Err(status) => {
                            let status = self.fail(status);
                            self.core.received(Err(status)).map(|_| None)
                        }
                    },
                    None => Ok(None),
                }
            }

            /// Ends the call with `status` (cancelling it if it is still
            /// running) and observes that; returns the status.
            fn fail(&mut self, status: Status) -> Status {
                if self.core.is_open() {
                    self.stream.cancel();
                }
                self.core.fail(status)
            }

            /// After a failed operation: the transport's own status if it has
            /// a failure, `err` otherwise; observed.
            $($async)? fn fail_with_end(&mut self, err: Status) -> Status {
                self.end_raw() $($aw)*;
                let status = self.core.failure(err);
                self.fail(status)
            }

            $($async)? fn finish(&mut self) -> Result<Metadata, Status> {
                let end = self.end_raw() $($aw)*;
                self.core.observe();
                $crate::client_core::CallCore::trailers_on_ok(end)
            }

            fn cancel(&mut self) {
                if let Some(status) = self.core.cancel() {
                    self.fail(status);
                }
            }

            /// Receives the one response of a unary or client-streaming call
            /// and the end; observes the outcome.
            $($async)? fn single_response<Resp: Message + Default>(
                &mut self,
            ) -> Result<Response<Resp>, Status> {
                match self.single_raw() $($aw)* {
                    Ok(response) => {
                        self.core.observe();
                        Ok(response)
                    }
                    Err(status) => Err(self.fail(status)),
                }
            }

            $($async)? fn single_raw<Resp: Message + Default>(
                &mut self,
            ) -> Result<Response<Resp>, Status> {
                use $crate::client_core::CallCore;
                let headers = self.headers() $($aw)*?;
                let message = CallCore::decode_single(self.recv_raw() $($aw)*?)?;
                let end = self.end_raw() $($aw)*;
                CallCore::response(headers, message, end)
            }
        }

        impl Drop for $Call {
            fn drop(&mut self) {
                self.cancel();
                self.core.observe();
            }
        }

        $(#[$client_doc])*
        #[derive(Clone)]
        pub struct $Client {
            transport: Arc<dyn $Transport>,
            core: $crate::client_core::ClientCore,
        }

        impl $Client {
            /// A client over `transport`, with no interceptor, clock or default.
            pub fn new(transport: impl $Transport + 'static) -> Self {
                $Client::from_shared(Arc::new(transport))
            }

            /// A client over a shared transport.
            pub fn from_shared(transport: Arc<dyn $Transport>) -> Self {
                $Client {
                    transport,
                    core: Default::default(),
                }
            }

            /// Adds a client interceptor for every call (see
            /// [the order](crate::interceptor)).
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

            $($async)? fn start(
                &self,
                path: &str,
                kind: MethodKind,
                options: Option<RequestOptions>,
            ) -> Result<$Call, Status> {
                let (core, wire) = self.core.open(path, kind, options)?;
                match self.transport.call(wire) $($aw)* {
                    Ok(stream) => Ok($Call { stream, core }),
                    Err(status) => Err(core.refused(status)),
                }
            }

            /// Starts a call and sends its one request (unary and server
            /// streaming).
            $($async)? fn start_with(
                &self,
                path: &str,
                kind: MethodKind,
                request: Bytes,
                options: Option<RequestOptions>,
            ) -> Result<$Call, Status> {
                let mut call = self.start(path, kind, options) $($aw)*?;
                if let Err(err) = call.send_last(request) $($aw)* {
                    return Err(call.fail_with_end(err) $($aw)*);
                }
                Ok(call)
            }

            /// A unary call: one request, one response (with the server's
            /// metadata). `options` (or `None`) are laid over the defaults.
            pub $($async)? fn unary<Req, Resp>(
                &self,
                path: &str,
                request: &Req,
                options: impl Into<Option<RequestOptions>>,
            ) -> Result<Response<Resp>, Status>
            where
                Req: Message,
                Resp: Message + Default,
            {
                let options = options.into();
                let request = encode(request);
                let mut call = self.start_with(path, MethodKind::Unary, request, options) $($aw)*?;
                call.single_response() $($aw)*
            }

            /// A server-streaming call: one request, a stream of responses.
            pub $($async)? fn server_streaming<Req, Resp>(
                &self,
                path: &str,
                request: &Req,
                options: impl Into<Option<RequestOptions>>,
            ) -> Result<$ResponseStream<Resp>, Status>
            where
                Req: Message,
                Resp: Message + Default,
            {
                let (options, kind) = (options.into(), MethodKind::ServerStreaming);
                let call = self.start_with(path, kind, encode(request), options) $($aw)*?;
                Ok($ResponseStream { call, _message: PhantomData })
            }

            /// A client-streaming call: send requests, then
            /// `close_and_recv` the response.
            pub $($async)? fn client_streaming<Req, Resp>(
                &self,
                path: &str,
                options: impl Into<Option<RequestOptions>>,
            ) -> Result<$ClientStreamingCall<Req, Resp>, Status>
            where
                Req: Message,
                Resp: Message + Default,
            {
                let (options, kind) = (options.into(), MethodKind::ClientStreaming);
                let call = self.start(path, kind, options) $($aw)*?;
                Ok($ClientStreamingCall { call, _message: PhantomData })
            }

            /// A bidirectional-streaming call.
            pub $($async)? fn bidi_streaming<Req, Resp>(
                &self,
                path: &str,
                options: impl Into<Option<RequestOptions>>,
            ) -> Result<$BidiCall<Req, Resp>, Status>
            where
                Req: Message,
                Resp: Message + Default,
            {
                let (options, kind) = (options.into(), MethodKind::BidiStreaming);
                let call = self.start(path, kind, options) $($aw)*?;
                Ok($BidiCall { call, _message: PhantomData })
            }
        }

        impl std::fmt::Debug for $Client {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($Client))
                    .field("core", &self.core)
                    .finish_non_exhaustive()
            }
        }

        $(#[$stream_doc])*
        pub struct $ResponseStream<Resp> {
            call: $Call,
            _message: PhantomData<fn() -> Resp>,
        }

        impl<Resp: Message + Default> $ResponseStream<Resp> {
            /// The server's initial metadata (empty for a Trailers-Only
            /// response).
            pub $($async)? fn headers(&mut self) -> Result<Metadata, Status> {
                self.call.headers() $($aw)*
            }

            /// The next response; `Ok(None)` once the call ended with OK;
            /// `Err` once it ended otherwise (or a message did not decode:
            /// INTERNAL).
            pub $($async)? fn recv(&mut self) -> Result<Option<Resp>, Status> {
                self.call.recv_decoded() $($aw)*
            }

            /// Waits for the end (discarding unread responses); the trailers
            /// on OK.
            pub $($async)? fn finish(mut self) -> Result<Metadata, Status> {
                self.call.finish() $($aw)*
            }
        }

        $(#[$cs_doc])*
        pub struct $ClientStreamingCall<Req, Resp> {
            call: $Call,
            _message: PhantomData<fn(Req) -> Resp>,
        }

        impl<Req: Message, Resp: Message + Default> $ClientStreamingCall<Req, Resp> {
            /// Sends a request. After an `Err` the call is over: its status
            /// comes from [`close_and_recv`](Self::close_and_recv).
            pub $($async)? fn send(&mut self, message: &Req) -> Result<(), Status> {
                self.call.send(encode(message)) $($aw)*
            }

            /// Half-closes and waits for the response.
            pub $($async)? fn close_and_recv(mut self) -> Result<Response<Resp>, Status> {
                self.call.close_send() $($aw)*;
                self.call.single_response() $($aw)*
            }
        }

        $(#[$bidi_doc])*
        pub struct $BidiCall<Req, Resp> {
            call: $Call,
            _message: PhantomData<fn(Req) -> Resp>,
        }

        impl<Req: Message, Resp: Message + Default> $BidiCall<Req, Resp> {
            /// Sends a request.
            pub $($async)? fn send(&mut self, message: &Req) -> Result<(), Status> {
                self.call.send(encode(message)) $($aw)*
            }

            /// Half-closes: no more requests.
            pub $($async)? fn close_send(&mut self) {
                self.call.close_send() $($aw)*;
            }

            /// The server's initial metadata.
            pub $($async)? fn headers(&mut self) -> Result<Metadata, Status> {
                self.call.headers() $($aw)*
            }

            /// The next response; `Ok(None)` once the call ended with OK.
            pub $($async)? fn recv(&mut self) -> Result<Option<Resp>, Status> {
                self.call.recv_decoded() $($aw)*
            }

            /// Half-closes, waits for the end (discarding unread responses);
            /// the trailers on OK.
            pub $($async)? fn finish(mut self) -> Result<Metadata, Status> {
                self.call.close_send() $($aw)*;
                self.call.finish() $($aw)*
            }
        }

        $crate::client_core::client_shell!(@common $ResponseStream<Resp>);
        $crate::client_core::client_shell!(@common $ClientStreamingCall<Req, Resp>);
        $crate::client_core::client_shell!(@common $BidiCall<Req, Resp>);
    };

    // What every typed call has, whatever its flavour: the trailers, a cancel
    // and a `Debug` that says whether it ended.
    (@common $Type:ident<$($P:ident),+>) => {
        impl<$($P),+> $Type<$($P),+> {
            /// The trailers, once the call has ended.
            pub fn trailers(&self) -> Option<&Metadata> {
                self.call.core.trailers()
            }

            /// Cancels the call (RST_STREAM CANCEL), as dropping it does.
            pub fn cancel(mut self) {
                self.call.cancel();
            }
        }

        impl<$($P),+> std::fmt::Debug for $Type<$($P),+> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($Type))
                    .field("ended", &!self.call.core.is_open())
                    .finish_non_exhaustive()
            }
        }
    };
}

pub(crate) use client_shell;
