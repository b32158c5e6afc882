//! Async handlers: the async counterparts of [`Service`](super::Service) and
//! its typed streams, for async adapters. They return futures and name no
//! runtime.

use std::marker::PhantomData;
use std::sync::Arc;

use prost::Message;

use super::async_transport::{recv_message, AsyncServerStream};
use super::codec::{decode_request, encode};
use super::context::{CallContext, ResponseHeaders};
use super::server::{missing_request, Last, Method};
use super::{BoxFuture, MethodKind};
use grpc_sansio::grpc::status::Status;
use grpc_sansio::hash::FxHashMap;

/// A type-erased async handler.
pub(crate) type AsyncHandler = Arc<
    dyn for<'a> Fn(
            &'a mut CallContext,
            &'a mut dyn AsyncServerStream,
        ) -> BoxFuture<'a, Result<(), Status>>
        + Send
        + Sync,
>;

/// A service for async adapters: its name and an async handler per method.
/// Generated code builds one from a user's async implementation
/// (`into_async_service`); [`AsyncRouter::add`](super::AsyncRouter::add)
/// serves it.
pub struct AsyncService {
    name: String,
    methods: FxHashMap<String, Method<AsyncHandler>>,
}

impl AsyncService {
    /// A service named `name` (`package.Service`) with no methods yet.
    pub fn new(name: impl Into<String>) -> Self {
        AsyncService {
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

    pub(crate) fn method(&self, name: &str) -> Option<&Method<AsyncHandler>> {
        self.methods.get(name)
    }

    /// Adds a method handled over the raw stream. A method of the same name is
    /// replaced.
    pub fn raw<F>(mut self, method: &str, kind: MethodKind, handler: F) -> Self
    where
        F: for<'a> Fn(
                &'a mut CallContext,
                &'a mut dyn AsyncServerStream,
            ) -> BoxFuture<'a, Result<(), Status>>
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

    /// Adds a unary method.
    pub fn unary<Req, Resp, F>(self, method: &str, handler: F) -> Self
    where
        Req: Message + Default + 'static,
        Resp: Message + 'static,
        F: for<'a> Fn(&'a mut CallContext, Req) -> BoxFuture<'a, Result<Resp, Status>>
            + Send
            + Sync
            + 'static,
    {
        let handler = Arc::new(handler);
        self.raw(method, MethodKind::Unary, move |ctx, stream| {
            let handler = handler.clone();
            Box::pin(async move {
                let request = recv_single::<Req>(&mut *stream).await?;
                let response = handler(&mut *ctx, request).await?;
                send_message(stream, &ctx.headers, &response, Last::Yes).await
            })
        })
    }

    /// Adds a server-streaming method.
    pub fn server_streaming<Req, Resp, F>(self, method: &str, handler: F) -> Self
    where
        Req: Message + Default + 'static,
        Resp: Message + 'static,
        F: for<'a> Fn(
                &'a mut CallContext,
                Req,
                AsyncResponseSink<'a, Resp>,
            ) -> BoxFuture<'a, Result<(), Status>>
            + Send
            + Sync
            + 'static,
    {
        let handler = Arc::new(handler);
        self.raw(method, MethodKind::ServerStreaming, move |ctx, stream| {
            let handler = handler.clone();
            Box::pin(async move {
                let request = recv_single::<Req>(&mut *stream).await?;
                let sink = AsyncResponseSink::new(stream, ctx.headers.clone());
                handler(ctx, request, sink).await
            })
        })
    }

    /// Adds a client-streaming method.
    pub fn client_streaming<Req, Resp, F>(self, method: &str, handler: F) -> Self
    where
        Req: Message + Default + 'static,
        Resp: Message + 'static,
        F: for<'a> Fn(
                &'a mut CallContext,
                AsyncRequestStream<'a, Req>,
            ) -> BoxFuture<'a, Result<Resp, Status>>
            + Send
            + Sync
            + 'static,
    {
        let handler = Arc::new(handler);
        self.raw(method, MethodKind::ClientStreaming, move |ctx, stream| {
            let handler = handler.clone();
            Box::pin(async move {
                let response = handler(&mut *ctx, AsyncRequestStream::new(&mut *stream)).await?;
                send_message(stream, &ctx.headers, &response, Last::Yes).await
            })
        })
    }

    /// Adds a bidirectional-streaming method.
    pub fn bidi_streaming<Req, Resp, F>(self, method: &str, handler: F) -> Self
    where
        Req: Message + Default + 'static,
        Resp: Message + 'static,
        F: for<'a> Fn(
                &'a mut CallContext,
                AsyncBidiStream<'a, Req, Resp>,
            ) -> BoxFuture<'a, Result<(), Status>>
            + Send
            + Sync
            + 'static,
    {
        let handler = Arc::new(handler);
        self.raw(method, MethodKind::BidiStreaming, move |ctx, stream| {
            let handler = handler.clone();
            Box::pin(async move {
                let headers = ctx.headers.clone();
                handler(ctx, AsyncBidiStream::new(stream, headers)).await
            })
        })
    }
}

impl std::fmt::Debug for AsyncService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut methods: Vec<_> = self.methods().collect();
        methods.sort();
        f.debug_struct("AsyncService")
            .field("name", &self.name)
            .field("methods", &methods)
            .finish()
    }
}

async fn recv_single<Req: Message + Default>(
    stream: &mut dyn AsyncServerStream,
) -> Result<Req, Status> {
    match recv_message(stream).await? {
        Some(bytes) => decode_request(bytes),
        None => Err(missing_request()),
    }
}

async fn send_message<M: Message>(
    stream: &mut dyn AsyncServerStream,
    headers: &ResponseHeaders,
    message: &M,
    last: Last,
) -> Result<(), Status> {
    if let Some(metadata) = headers.take_nonempty() {
        stream.send_headers(metadata).await?;
    }
    match last {
        Last::Yes => stream.send_last(encode(message)),
        Last::No => stream.send(encode(message)).await,
    }
}

/// The requests of a client-streaming or bidi call, decoded.
pub struct AsyncRequestStream<'a, Req> {
    stream: &'a mut dyn AsyncServerStream,
    done: bool,
    _message: PhantomData<fn() -> Req>,
}

impl<'a, Req: Message + Default> AsyncRequestStream<'a, Req> {
    pub(crate) fn new(stream: &'a mut dyn AsyncServerStream) -> Self {
        AsyncRequestStream {
            stream,
            done: false,
            _message: PhantomData,
        }
    }

    /// The next request; `Ok(None)` once the client half-closed.
    pub async fn recv(&mut self) -> Result<Option<Req>, Status> {
        if self.done {
            return Ok(None);
        }
        match recv_message(&mut *self.stream).await? {
            Some(bytes) => decode_request(bytes).map(Some),
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }
}

impl<Req> std::fmt::Debug for AsyncRequestStream<'_, Req> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncRequestStream")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Where an async server-streaming handler sends its responses.
pub struct AsyncResponseSink<'a, Resp> {
    stream: &'a mut dyn AsyncServerStream,
    headers: ResponseHeaders,
    _message: PhantomData<fn(Resp)>,
}

impl<'a, Resp: Message> AsyncResponseSink<'a, Resp> {
    pub(crate) fn new(stream: &'a mut dyn AsyncServerStream, headers: ResponseHeaders) -> Self {
        AsyncResponseSink {
            stream,
            headers,
            _message: PhantomData,
        }
    }

    /// Sends a response.
    pub async fn send(&mut self, message: &Resp) -> Result<(), Status> {
        send_message(self.stream, &self.headers, message, Last::No).await
    }

    /// Sends the response headers now, before any message.
    pub async fn send_headers(&mut self) -> Result<(), Status> {
        match self.headers.take_unsent() {
            Some(metadata) => self.stream.send_headers(metadata).await,
            None => Ok(()),
        }
    }
}

impl<Resp> std::fmt::Debug for AsyncResponseSink<'_, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncResponseSink").finish_non_exhaustive()
    }
}

/// Both directions of an async bidi call.
pub struct AsyncBidiStream<'a, Req, Resp> {
    stream: &'a mut dyn AsyncServerStream,
    headers: ResponseHeaders,
    done: bool,
    _message: PhantomData<fn(Resp) -> Req>,
}

impl<'a, Req: Message + Default, Resp: Message> AsyncBidiStream<'a, Req, Resp> {
    pub(crate) fn new(stream: &'a mut dyn AsyncServerStream, headers: ResponseHeaders) -> Self {
        AsyncBidiStream {
            stream,
            headers,
            done: false,
            _message: PhantomData,
        }
    }

    /// The next request; `Ok(None)` once the client half-closed.
    pub async fn recv(&mut self) -> Result<Option<Req>, Status> {
        if self.done {
            return Ok(None);
        }
        match recv_message(&mut *self.stream).await? {
            Some(bytes) => decode_request(bytes).map(Some),
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }

    /// Sends a response.
    pub async fn send(&mut self, message: &Resp) -> Result<(), Status> {
        send_message(self.stream, &self.headers, message, Last::No).await
    }

    /// Sends the response headers now, before any message.
    pub async fn send_headers(&mut self) -> Result<(), Status> {
        match self.headers.take_unsent() {
            Some(metadata) => self.stream.send_headers(metadata).await,
            None => Ok(()),
        }
    }
}

impl<Req, Resp> std::fmt::Debug for AsyncBidiStream<'_, Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncBidiStream")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
