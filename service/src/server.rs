//! Blocking handlers: a service's methods, and the typed request stream and
//! response sink a handler works with.

use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
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

/// Writes one flavour of the server side's typed surface: the service
/// (`$Service`, a name and a handler per method) and the typed request
/// stream, response sink and bidi stream a handler works with, with the
/// helpers the handlers share (`recv_single`, `send_message`). `$next` reads
/// the next raw request; `[$($async)?]` is `[async]` or `[]`, `[$($aw)*]`
/// `[.await]` or `[]`: the one difference between the twins.
macro_rules! server_shell {
    (
        $Stream:ident, $next:path, $Handler:ty;
        $(#[$service_doc:meta])* $Service:ident;
        $(#[$requests_doc:meta])* $RequestStream:ident;
        $(#[$sink_doc:meta])* $ResponseSink:ident;
        $(#[$bidi_doc:meta])* $BidiStream:ident;
        [$($async:tt)?] [$($aw:tt)*]
    ) => {
        $(#[$service_doc])*
        pub struct $Service {
            name: String,
            methods: FxHashMap<String, Method<$Handler>>,
        }

        impl $Service {
            /// A service named `name` (`package.Service`) with no methods yet.
            pub fn new(name: impl Into<String>) -> Self {
                $Service {
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

            pub(crate) fn method(&self, name: &str) -> Option<&Method<$Handler>> {
                self.methods.get(name)
            }

            fn insert(mut self, method: &str, kind: MethodKind, handler: $Handler) -> Self {
                self.methods
                    .insert(method.to_owned(), Method { kind, handler });
                self
            }
        }

        impl std::fmt::Debug for $Service {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut methods: Vec<_> = self.methods().collect();
                methods.sort();
                f.debug_struct(stringify!($Service))
                    .field("name", &self.name)
                    .field("methods", &methods)
                    .finish()
            }
        }

        /// The one request of a unary or server-streaming call.
        $($async)? fn recv_single<Req: Message + Default>(
            stream: &mut dyn $Stream,
        ) -> Result<Req, Status> {
            $crate::server::single_request($next(stream) $($aw)*?)
        }

        /// Sends a response, after the response headers set on the context.
        $($async)? fn send_message<M: Message>(
            stream: &mut dyn $Stream,
            headers: &ResponseHeaders,
            message: &M,
            last: Last,
        ) -> Result<(), Status> {
            if let Some(metadata) = headers.take_nonempty() {
                stream.send_headers(metadata) $($aw)*?;
            }
            match last {
                Last::Yes => stream.send_last(encode(message)),
                Last::No => stream.send(encode(message)) $($aw)*,
            }
        }

        $(#[$requests_doc])*
        pub struct $RequestStream<'a, Req> {
            stream: &'a mut dyn $Stream,
            done: bool,
            _message: PhantomData<fn() -> Req>,
        }

        impl<'a, Req: Message + Default> $RequestStream<'a, Req> {
            pub(crate) fn new(stream: &'a mut dyn $Stream) -> Self {
                $RequestStream {
                    stream,
                    done: false,
                    _message: PhantomData,
                }
            }

            /// The next request; `Ok(None)` once the client half-closed;
            /// `Err` when the call was cancelled or a message did not decode
            /// (INTERNAL).
            pub $($async)? fn recv(&mut self) -> Result<Option<Req>, Status> {
                if self.done {
                    return Ok(None);
                }
                let next = $next(&mut *self.stream) $($aw)*?;
                $crate::server::next_request(&mut self.done, next)
            }
        }

        impl<Req> std::fmt::Debug for $RequestStream<'_, Req> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($RequestStream))
                    .field("done", &self.done)
                    .finish_non_exhaustive()
            }
        }

        $(#[$sink_doc])*
        pub struct $ResponseSink<'a, Resp> {
            stream: &'a mut dyn $Stream,
            headers: ResponseHeaders,
            _message: PhantomData<fn(Resp)>,
        }

        impl<'a, Resp: Message> $ResponseSink<'a, Resp> {
            pub(crate) fn new(stream: &'a mut dyn $Stream, headers: ResponseHeaders) -> Self {
                $ResponseSink {
                    stream,
                    headers,
                    _message: PhantomData,
                }
            }
        }

        impl<Resp> std::fmt::Debug for $ResponseSink<'_, Resp> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ResponseSink)).finish_non_exhaustive()
            }
        }

        $(#[$bidi_doc])*
        pub struct $BidiStream<'a, Req, Resp> {
            requests: $RequestStream<'a, Req>,
            headers: ResponseHeaders,
            _message: PhantomData<fn(Resp)>,
        }

        impl<'a, Req: Message + Default, Resp: Message> $BidiStream<'a, Req, Resp> {
            pub(crate) fn new(stream: &'a mut dyn $Stream, headers: ResponseHeaders) -> Self {
                $BidiStream {
                    requests: $RequestStream::new(stream),
                    headers,
                    _message: PhantomData,
                }
            }

            /// The next request; `Ok(None)` once the client half-closed.
            pub $($async)? fn recv(&mut self) -> Result<Option<Req>, Status> {
                self.requests.recv() $($aw)*
            }
        }

        impl<Req, Resp> std::fmt::Debug for $BidiStream<'_, Req, Resp> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($BidiStream))
                    .field("done", &self.requests.done)
                    .finish_non_exhaustive()
            }
        }

        $crate::server::server_shell!(@send $ResponseSink [Resp], stream, [$($async)?] [$($aw)*]);
        $crate::server::server_shell!(@send $BidiStream [Req, Resp], requests.stream, [$($async)?] [$($aw)*]);
    };

    // Sending, alike for the sink and the bidi stream.
    (@send $Type:ident [$($P:ident),+], $($stream:ident).+, [$($async:tt)?] [$($aw:tt)*]) => {
        impl<$($P),+> $Type<'_, $($P),+>
        where
            Resp: Message,
        {
            /// Sends a response, waiting while the send buffer is full; `Err`
            /// once the call is over for the client.
            pub $($async)? fn send(&mut self, message: &Resp) -> Result<(), Status> {
                send_message(self.$($stream).+, &self.headers, message, Last::No) $($aw)*
            }

            /// Sends the response headers now, before any message (they
            /// would go out with the first message otherwise). Does nothing
            /// once they were sent.
            pub $($async)? fn send_headers(&mut self) -> Result<(), Status> {
                match self.headers.take_unsent() {
                    Some(metadata) => self.$($stream).+.send_headers(metadata) $($aw)*,
                    None => Ok(()),
                }
            }
        }
    };
}

pub(crate) use server_shell;

/// The one request of a unary or server-streaming call, decoded: INTERNAL
/// when the client half-closed without it.
pub(crate) fn single_request<Req: Message + Default>(next: Option<Bytes>) -> Result<Req, Status> {
    match next {
        Some(bytes) => decode_request(bytes),
        None => Err(missing_request()),
    }
}

/// The next request of a stream, decoded; the half-close sets `done`.
pub(crate) fn next_request<Req: Message + Default>(
    done: &mut bool,
    next: Option<Bytes>,
) -> Result<Option<Req>, Status> {
    match next {
        Some(bytes) => decode_request(bytes).map(Some),
        None => {
            *done = true;
            Ok(None)
        }
    }
}

/// The next raw request of a blocking call.
fn next_message(stream: &mut dyn ServerStream) -> Result<Option<Bytes>, Status> {
    stream.recv()
}

server_shell! {
    ServerStream, next_message, Handler;
    /// A service for blocking adapters: its name (`package.Service`) and a
    /// handler per method. Generated code builds one from a user's
    /// implementation (`into_service`); [`Router::add`](super::Router::add)
    /// serves it.
    ///
    /// Handlers run on the adapter's thread for the call: they may block.
    Service;
    /// The requests of a client-streaming or bidi call, decoded.
    RequestStream;
    /// Where a server-streaming or bidi handler sends its responses. The
    /// response headers set on the context go out before the first message.
    ResponseSink;
    /// Both directions of a bidi call: receive requests and send responses,
    /// in any order.
    BidiStream;
    [] []
}

impl Service {
    /// Adds a method handled over the raw stream: the escape hatch for
    /// hand-written services. A method of the same name is replaced.
    pub fn raw<F>(self, method: &str, kind: MethodKind, handler: F) -> Self
    where
        F: Fn(&mut CallContext, &mut dyn ServerStream) -> Result<(), Status>
            + Send
            + Sync
            + 'static,
    {
        self.insert(method, kind, Arc::new(handler))
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

/// The status of a unary or server-streaming call whose client half-closed
/// without its one request message.
pub(crate) fn missing_request() -> Status {
    Status::new(
        Code::Internal,
        "the client half-closed without sending the request message",
    )
}

/// Whether a response is the call's one and only (unary, client-streaming):
/// then it goes out with the call's end, nothing to wait for.
#[derive(Clone, Copy)]
pub(crate) enum Last {
    Yes,
    No,
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
