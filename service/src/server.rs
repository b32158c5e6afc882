//! Blocking handlers: a service's methods, and the typed request stream and
//! response sink a handler works with.

use std::marker::PhantomData;
use std::sync::Arc;

use prost::Message;

use super::codec::{decode_request, encode};
use super::context::{CallContext, ResponseHeaders};
use super::transport::ServerStream;
use super::MethodKind;
use grpc_sansio::grpc::status::{Code, Status};
use grpc_sansio::hash::FxHashMap;

/// A type-erased blocking handler: runs the call over its stream and returns
/// how it ended (the router finishes the call).
pub(crate) type Handler =
    Arc<dyn Fn(&mut CallContext, &mut dyn ServerStream) -> Result<(), Status> + Send + Sync>;

/// One registered method.
pub(crate) struct Method<H> {
    pub(crate) kind: MethodKind,
    pub(crate) handler: H,
}

/// A service for blocking adapters: its name (`package.Service`) and a
/// handler per method. Generated code builds one from a user's implementation
/// (`into_service`); [`Router::add`](super::Router::add) serves it.
///
/// Handlers run on the adapter's thread for the call: they may block.
pub struct Service {
    name: String,
    methods: FxHashMap<String, Method<Handler>>,
}

impl Service {
    /// A service named `name` (`package.Service`) with no methods yet.
    pub fn new(name: impl Into<String>) -> Self {
        Service {
            name: name.into(),
            methods: FxHashMap::default(),
        }
    }

    /// The full name, `package.Service`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The methods and their kinds, in no particular order.
    pub fn methods(&self) -> impl Iterator<Item = (&str, MethodKind)> + '_ {
        self.methods.iter().map(|(name, m)| (name.as_str(), m.kind))
    }

    pub(crate) fn method(&self, name: &str) -> Option<&Method<Handler>> {
        self.methods.get(name)
    }

    /// Adds a method handled over the raw stream: the escape hatch for
    /// hand-written services. A method of the same name is replaced.
    pub fn raw<F>(mut self, method: &str, kind: MethodKind, handler: F) -> Self
    where
        F: Fn(&mut CallContext, &mut dyn ServerStream) -> Result<(), Status>
            + Send
            + Sync
            + 'static,
    {
        self.methods.insert(
            method.to_owned(),
            Method {
                kind,
                handler: Arc::new(handler),
            },
        );
        self
    }

    /// Adds a unary method: one request, one response.
    pub fn unary<Req, Resp, F>(self, method: &str, handler: F) -> Self
    where
        Req: Message + Default + 'static,
        Resp: Message + 'static,
        F: Fn(&mut CallContext, Req) -> Result<Resp, Status> + Send + Sync + 'static,
    {
        self.raw(method, MethodKind::Unary, move |ctx, stream| {
            let request = recv_single::<Req>(stream)?;
            let response = handler(ctx, request)?;
            send_message(stream, &ctx.headers, &response, Last::Yes)
        })
    }

    /// Adds a server-streaming method: one request, a stream of responses.
    pub fn server_streaming<Req, Resp, F>(self, method: &str, handler: F) -> Self
    where
        Req: Message + Default + 'static,
        Resp: Message + 'static,
        F: Fn(&mut CallContext, Req, ResponseSink<'_, Resp>) -> Result<(), Status>
            + Send
            + Sync
            + 'static,
    {
        self.raw(method, MethodKind::ServerStreaming, move |ctx, stream| {
            let request = recv_single::<Req>(stream)?;
            let sink = ResponseSink::new(stream, ctx.headers.clone());
            handler(ctx, request, sink)
        })
    }

    /// Adds a client-streaming method: a stream of requests, one response.
    pub fn client_streaming<Req, Resp, F>(self, method: &str, handler: F) -> Self
    where
        Req: Message + Default + 'static,
        Resp: Message + 'static,
        F: Fn(&mut CallContext, RequestStream<'_, Req>) -> Result<Resp, Status>
            + Send
            + Sync
            + 'static,
    {
        self.raw(method, MethodKind::ClientStreaming, move |ctx, stream| {
            let response = handler(ctx, RequestStream::new(stream))?;
            send_message(stream, &ctx.headers, &response, Last::Yes)
        })
    }

    /// Adds a bidirectional-streaming method.
    pub fn bidi_streaming<Req, Resp, F>(self, method: &str, handler: F) -> Self
    where
        Req: Message + Default + 'static,
        Resp: Message + 'static,
        F: Fn(&mut CallContext, BidiStream<'_, Req, Resp>) -> Result<(), Status>
            + Send
            + Sync
            + 'static,
    {
        self.raw(method, MethodKind::BidiStreaming, move |ctx, stream| {
            let headers = ctx.headers.clone();
            handler(ctx, BidiStream::new(stream, headers))
        })
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut methods: Vec<_> = self.methods().collect();
        methods.sort();
        f.debug_struct("Service")
            .field("name", &self.name)
            .field("methods", &methods)
            .finish()
    }
}

/// The status of a unary or server-streaming call whose client half-closed
/// without its one request message.
pub(crate) fn missing_request() -> Status {
    Status::new(
        Code::Internal,
        "the client half-closed without sending the request message",
    )
}

fn recv_single<Req: Message + Default>(stream: &mut dyn ServerStream) -> Result<Req, Status> {
    match stream.recv()? {
        Some(bytes) => decode_request(bytes),
        None => Err(missing_request()),
    }
}

/// Whether a response is the call's one and only (unary, client-streaming):
/// then it goes out with the call's end, nothing to wait for.
#[derive(Clone, Copy)]
pub(crate) enum Last {
    Yes,
    No,
}

fn send_message<M: Message>(
    stream: &mut dyn ServerStream,
    headers: &ResponseHeaders,
    message: &M,
    last: Last,
) -> Result<(), Status> {
    if let Some(metadata) = headers.take_nonempty() {
        stream.send_headers(metadata)?;
    }
    match last {
        Last::Yes => stream.send_last(encode(message)),
        Last::No => stream.send(encode(message)),
    }
}

/// The requests of a client-streaming or bidi call, decoded.
pub struct RequestStream<'a, Req> {
    stream: &'a mut dyn ServerStream,
    done: bool,
    _message: PhantomData<fn() -> Req>,
}

impl<'a, Req: Message + Default> RequestStream<'a, Req> {
    pub(crate) fn new(stream: &'a mut dyn ServerStream) -> Self {
        RequestStream {
            stream,
            done: false,
            _message: PhantomData,
        }
    }

    /// The next request; `Ok(None)` once the client half-closed; `Err` when
    /// the call was cancelled or a message did not decode (INTERNAL).
    pub fn recv(&mut self) -> Result<Option<Req>, Status> {
        if self.done {
            return Ok(None);
        }
        match self.stream.recv()? {
            Some(bytes) => decode_request(bytes).map(Some),
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }
}

impl<Req: Message + Default> Iterator for RequestStream<'_, Req> {
    type Item = Result<Req, Status>;

    /// The next request; the iteration ends after the client half-closed or
    /// after the first error.
    fn next(&mut self) -> Option<Self::Item> {
        let item = self.recv().transpose();
        if matches!(item, Some(Err(_))) {
            self.done = true;
        }
        item
    }
}

impl<Req> std::fmt::Debug for RequestStream<'_, Req> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestStream")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Where a server-streaming or bidi handler sends its responses. The
/// response headers set on the context go out before the first message.
pub struct ResponseSink<'a, Resp> {
    stream: &'a mut dyn ServerStream,
    headers: ResponseHeaders,
    _message: PhantomData<fn(Resp)>,
}

impl<'a, Resp: Message> ResponseSink<'a, Resp> {
    pub(crate) fn new(stream: &'a mut dyn ServerStream, headers: ResponseHeaders) -> Self {
        ResponseSink {
            stream,
            headers,
            _message: PhantomData,
        }
    }

    /// Sends a response, blocking while the send buffer is full; `Err` once
    /// the call is over for the client.
    pub fn send(&mut self, message: &Resp) -> Result<(), Status> {
        send_message(self.stream, &self.headers, message, Last::No)
    }

    /// Sends the response headers now, before any message (they would go out
    /// with the first message otherwise). Does nothing once they were sent.
    pub fn send_headers(&mut self) -> Result<(), Status> {
        match self.headers.take_unsent() {
            Some(metadata) => self.stream.send_headers(metadata),
            None => Ok(()),
        }
    }
}

impl<Resp> std::fmt::Debug for ResponseSink<'_, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseSink").finish_non_exhaustive()
    }
}

/// Both directions of a bidi call: receive requests and send responses, in
/// any order.
pub struct BidiStream<'a, Req, Resp> {
    stream: &'a mut dyn ServerStream,
    headers: ResponseHeaders,
    done: bool,
    _message: PhantomData<fn(Resp) -> Req>,
}

impl<'a, Req: Message + Default, Resp: Message> BidiStream<'a, Req, Resp> {
    pub(crate) fn new(stream: &'a mut dyn ServerStream, headers: ResponseHeaders) -> Self {
        BidiStream {
            stream,
            headers,
            done: false,
            _message: PhantomData,
        }
    }

    /// The next request; `Ok(None)` once the client half-closed.
    pub fn recv(&mut self) -> Result<Option<Req>, Status> {
        if self.done {
            return Ok(None);
        }
        match self.stream.recv()? {
            Some(bytes) => decode_request(bytes).map(Some),
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }

    /// Sends a response.
    pub fn send(&mut self, message: &Resp) -> Result<(), Status> {
        send_message(self.stream, &self.headers, message, Last::No)
    }

    /// Sends the response headers now, before any message.
    pub fn send_headers(&mut self) -> Result<(), Status> {
        match self.headers.take_unsent() {
            Some(metadata) => self.stream.send_headers(metadata),
            None => Ok(()),
        }
    }
}

impl<Req, Resp> std::fmt::Debug for BidiStream<'_, Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BidiStream")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
