//! The typed async client: [`Client`](super::Client) for async adapters.

use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use prost::Message;

use super::async_transport::{AsyncClientStream, AsyncClientTransport};
use super::client::{cancelled_locally, missing_response, ClientCore, Observer};
use super::clock::Clock;
use super::codec::{decode_response, encode};
use super::interceptor::{ClientInterceptor, Scope};
use super::options::{RequestOptions, Response};
use super::MethodKind;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::{Code, Status};

/// An async call in progress; see the blocking `Call` for the logic.
struct AsyncCall {
    stream: Box<dyn AsyncClientStream>,
    observer: Observer,
    headers: Option<Metadata>,
    end: Option<(Status, Metadata)>,
}

impl AsyncCall {
    async fn send(&mut self, message: Bytes) -> Result<(), Status> {
        match &self.end {
            Some((status, _)) if !status.is_ok() => Err(status.clone()),
            Some(_) => Err(Status::new(Code::FailedPrecondition, "the call is over")),
            None => self.stream.send(message).await,
        }
    }

    /// [`send`](Self::send) and [`close_send`](Self::close_send) in one.
    async fn send_last(&mut self, message: Bytes) -> Result<(), Status> {
        match &self.end {
            None => self.stream.send_last(message).await,
            Some(_) => self.send(message).await,
        }
    }

    async fn close_send(&mut self) {
        if self.end.is_none() {
            self.stream.close_send().await;
        }
    }

    async fn headers(&mut self) -> Result<Metadata, Status> {
        if let Some(headers) = &self.headers {
            return Ok(headers.clone());
        }
        if self.end.is_some() {
            return Ok(Metadata::new());
        }
        match self.stream.headers().await {
            Ok(headers) => {
                self.headers = Some(headers.clone());
                Ok(headers)
            }
            Err(err) => Err(self.fail_with_end(err).await),
        }
    }

    async fn end_raw(&mut self) -> (Status, Metadata) {
        if self.end.is_none() {
            let end = self.stream.finish().await;
            self.end = Some(end);
        }
        self.end
            .clone()
            .unwrap_or_else(|| (cancelled_locally(), Metadata::new()))
    }

    async fn recv_raw(&mut self) -> Result<Option<Bytes>, Status> {
        if self.end.is_none() {
            if let Ok(Some(message)) = self.stream.recv().await {
                return Ok(Some(message));
            }
        }
        let (status, _) = self.end_raw().await;
        if status.is_ok() {
            Ok(None)
        } else {
            Err(status)
        }
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        let result = self.recv_raw().await;
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

    fn fail(&mut self, status: Status) -> Status {
        if self.end.is_none() {
            self.stream.cancel();
        }
        let trailers = self.end.take().map(|(_, t)| t).unwrap_or_default();
        self.observer.observe(&status, &trailers);
        self.end = Some((status.clone(), trailers));
        status
    }

    async fn fail_with_end(&mut self, err: Status) -> Status {
        let (status, _) = self.end_raw().await;
        self.fail(if status.is_ok() { err } else { status })
    }

    async fn finish(&mut self) -> (Status, Metadata) {
        let end = self.end_raw().await;
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

    async fn single_response<Resp: Message + Default>(&mut self) -> Result<Response<Resp>, Status> {
        let result = async {
            let headers = self.headers().await?;
            let message = self.recv_raw().await?.ok_or_else(missing_response)?;
            let message = decode_response::<Resp>(message)?;
            let (status, trailers) = self.end_raw().await;
            if !status.is_ok() {
                return Err(status);
            }
            Ok(Response {
                message,
                headers,
                trailers,
            })
        }
        .await;
        match result {
            Ok(response) => {
                self.observe();
                Ok(response)
            }
            Err(status) => Err(self.fail(status)),
        }
    }
}

impl Drop for AsyncCall {
    fn drop(&mut self) {
        self.cancel();
        self.observe();
    }
}

/// A typed client over an [`AsyncClientTransport`]: [`Client`](super::Client)
/// for async adapters. Cloning is cheap.
#[derive(Clone)]
pub struct AsyncClient {
    transport: Arc<dyn AsyncClientTransport>,
    core: ClientCore,
}

impl AsyncClient {
    /// A client over `transport`.
    pub fn new(transport: impl AsyncClientTransport + 'static) -> Self {
        AsyncClient::from_shared(Arc::new(transport))
    }

    /// A client over a shared transport.
    pub fn from_shared(transport: Arc<dyn AsyncClientTransport>) -> Self {
        AsyncClient {
            transport,
            core: ClientCore::default(),
        }
    }

    /// Adds a client interceptor for every call.
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

    async fn start(
        &self,
        path: &str,
        kind: MethodKind,
        options: RequestOptions,
    ) -> Result<AsyncCall, Status> {
        let (mut observer, wire) = self.core.open(path, kind, options)?;
        match self.transport.call(wire).await {
            Ok(stream) => Ok(AsyncCall {
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

    async fn start_with(
        &self,
        path: &str,
        kind: MethodKind,
        request: Bytes,
        options: RequestOptions,
    ) -> Result<AsyncCall, Status> {
        let mut call = self.start(path, kind, options).await?;
        if let Err(err) = call.send_last(request).await {
            return Err(call.fail_with_end(err).await);
        }
        Ok(call)
    }

    /// A unary call.
    pub async fn unary<Req, Resp>(
        &self,
        path: &str,
        request: &Req,
        options: RequestOptions,
    ) -> Result<Response<Resp>, Status>
    where
        Req: Message,
        Resp: Message + Default,
    {
        let mut call = self
            .start_with(path, MethodKind::Unary, encode(request), options)
            .await?;
        call.single_response().await
    }

    /// A server-streaming call.
    pub async fn server_streaming<Req, Resp>(
        &self,
        path: &str,
        request: &Req,
        options: RequestOptions,
    ) -> Result<AsyncResponseStream<Resp>, Status>
    where
        Req: Message,
        Resp: Message + Default,
    {
        let call = self
            .start_with(path, MethodKind::ServerStreaming, encode(request), options)
            .await?;
        Ok(AsyncResponseStream {
            call,
            _message: PhantomData,
        })
    }

    /// A client-streaming call.
    pub async fn client_streaming<Req, Resp>(
        &self,
        path: &str,
        options: RequestOptions,
    ) -> Result<AsyncClientStreamingCall<Req, Resp>, Status>
    where
        Req: Message,
        Resp: Message + Default,
    {
        let call = self
            .start(path, MethodKind::ClientStreaming, options)
            .await?;
        Ok(AsyncClientStreamingCall {
            call,
            _message: PhantomData,
        })
    }

    /// A bidirectional-streaming call.
    pub async fn bidi_streaming<Req, Resp>(
        &self,
        path: &str,
        options: RequestOptions,
    ) -> Result<AsyncBidiCall<Req, Resp>, Status>
    where
        Req: Message,
        Resp: Message + Default,
    {
        let call = self.start(path, MethodKind::BidiStreaming, options).await?;
        Ok(AsyncBidiCall {
            call,
            _message: PhantomData,
        })
    }
}

impl std::fmt::Debug for AsyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncClient")
            .field("core", &self.core)
            .finish_non_exhaustive()
    }
}

/// The responses of an async server-streaming call.
pub struct AsyncResponseStream<Resp> {
    call: AsyncCall,
    _message: PhantomData<fn() -> Resp>,
}

impl<Resp: Message + Default> AsyncResponseStream<Resp> {
    /// The server's initial metadata.
    pub async fn headers(&mut self) -> Result<Metadata, Status> {
        self.call.headers().await
    }

    /// The next response; `Ok(None)` once the call ended with OK.
    pub async fn recv(&mut self) -> Result<Option<Resp>, Status> {
        match self.call.recv().await? {
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

    /// Waits for the end; the trailers on OK.
    pub async fn finish(mut self) -> Result<Metadata, Status> {
        let (status, trailers) = self.call.finish().await;
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

impl<Resp> std::fmt::Debug for AsyncResponseStream<Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncResponseStream")
            .field("ended", &self.call.end.is_some())
            .finish_non_exhaustive()
    }
}

/// An async client-streaming call in progress.
pub struct AsyncClientStreamingCall<Req, Resp> {
    call: AsyncCall,
    _message: PhantomData<fn(Req) -> Resp>,
}

impl<Req: Message, Resp: Message + Default> AsyncClientStreamingCall<Req, Resp> {
    /// Sends a request.
    pub async fn send(&mut self, message: &Req) -> Result<(), Status> {
        self.call.send(encode(message)).await
    }

    /// Half-closes and waits for the response.
    pub async fn close_and_recv(mut self) -> Result<Response<Resp>, Status> {
        self.call.close_send().await;
        self.call.single_response().await
    }

    /// Cancels the call.
    pub fn cancel(mut self) {
        self.call.cancel();
    }
}

impl<Req, Resp> std::fmt::Debug for AsyncClientStreamingCall<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncClientStreamingCall")
            .field("ended", &self.call.end.is_some())
            .finish_non_exhaustive()
    }
}

/// An async bidirectional-streaming call in progress.
pub struct AsyncBidiCall<Req, Resp> {
    call: AsyncCall,
    _message: PhantomData<fn(Req) -> Resp>,
}

impl<Req: Message, Resp: Message + Default> AsyncBidiCall<Req, Resp> {
    /// Sends a request.
    pub async fn send(&mut self, message: &Req) -> Result<(), Status> {
        self.call.send(encode(message)).await
    }

    /// Half-closes.
    pub async fn close_send(&mut self) {
        self.call.close_send().await;
    }

    /// The server's initial metadata.
    pub async fn headers(&mut self) -> Result<Metadata, Status> {
        self.call.headers().await
    }

    /// The next response; `Ok(None)` once the call ended with OK.
    pub async fn recv(&mut self) -> Result<Option<Resp>, Status> {
        match self.call.recv().await? {
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

    /// Half-closes and waits for the end; the trailers on OK.
    pub async fn finish(mut self) -> Result<Metadata, Status> {
        self.call.close_send().await;
        let (status, trailers) = self.call.finish().await;
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

impl<Req, Resp> std::fmt::Debug for AsyncBidiCall<Req, Resp> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncBidiCall")
            .field("ended", &self.call.end.is_some())
            .finish_non_exhaustive()
    }
}
