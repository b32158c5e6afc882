//! Async handlers: the async counterparts of [`Service`](super::Service) and
//! its typed streams, for async adapters. They return futures and name no
//! runtime.

use std::marker::PhantomData;
use std::sync::Arc;

use prost::Message;

use super::async_transport::{recv_message, AsyncServerStream};
use super::codec::encode;
use super::context::{CallContext, ResponseHeaders};
use super::server::{server_shell, Last, Method};
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

server_shell! {
    AsyncServerStream, recv_message, AsyncHandler;
    /// A service for async adapters: its name and an async handler per
    /// method. Generated code builds one from a user's async implementation
    /// (`into_async_service`); [`AsyncRouter::add`](super::AsyncRouter::add)
    /// serves it.
    AsyncService;
    /// The requests of a client-streaming or bidi call, decoded.
    AsyncRequestStream;
    /// Where an async server-streaming or bidi handler sends its responses.
    AsyncResponseSink;
    /// Both directions of an async bidi call.
    AsyncBidiStream;
    [async] [.await]
}

impl AsyncService {
    /// Adds a method handled over the raw stream. A method of the same name is
    /// replaced.
    pub fn raw<F>(self, method: &str, kind: MethodKind, handler: F) -> Self
    where
        F: for<'a> Fn(
                &'a mut CallContext,
                &'a mut dyn AsyncServerStream,
            ) -> BoxFuture<'a, Result<(), Status>>
            + Send
            + Sync
            + 'static,
    {
        self.insert(method, kind, Arc::new(handler))
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
