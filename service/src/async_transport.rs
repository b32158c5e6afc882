//! What an async adapter implements for its call handles: the blocking
//! interfaces with boxed futures, naming no runtime.

use bytes::Bytes;

use super::BoxFuture;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::CallOptions;

/// The server side of one call, as an async adapter runs it. See
/// [`ServerStream`](super::ServerStream); the methods mean the same.
pub trait AsyncServerStream: Send {
    /// The next request message; `Ok(None)` once the client half-closed.
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, Status>>;

    /// [`recv`](Self::recv)'s answer if it is already here, without a
    /// future; `None`: it is not, await `recv`. [`recv_message`] does both.
    fn try_recv(&mut self) -> Option<Result<Option<Bytes>, Status>> {
        None
    }

    /// Whether the message the last `recv` returned arrived compressed.
    fn recv_compressed(&self) -> bool;

    /// Sends the response headers with this initial metadata.
    fn send_headers(&mut self, metadata: Metadata) -> BoxFuture<'_, Result<(), Status>>;

    /// Compresses the response messages with `encoding` from now on (before
    /// the headers, an encoding the client accepts).
    fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status>;

    /// Sends a response message, waiting while the send buffer is full;
    /// `compress: false` sends it uncompressed even when the call compresses.
    fn send_with(&mut self, message: Bytes, compress: bool) -> BoxFuture<'_, Result<(), Status>>;

    /// Sends a response message, compressed when the call compresses.
    fn send(&mut self, message: Bytes) -> BoxFuture<'_, Result<(), Status>> {
        self.send_with(message, true)
    }

    /// Sends the last response message (of a unary or client-streaming
    /// call), compressed when the call compresses, without waiting: it goes
    /// out with the call's end, and a refusal ends the call with that status
    /// (see [`ServerStream::send_last`](super::ServerStream::send_last)).
    fn send_last(&mut self, message: Bytes) -> Result<(), Status> {
        self.send_last_with(message, true)
    }

    /// [`send_last`](Self::send_last), uncompressed when `compress` is false.
    fn send_last_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status>;
}

/// The next request message of `stream`: [`AsyncServerStream::try_recv`],
/// or `recv` when it must wait. A call whose request is already in (every
/// unary call served where it was read) spares `recv`'s boxed future.
pub async fn recv_message(stream: &mut dyn AsyncServerStream) -> Result<Option<Bytes>, Status> {
    match stream.try_recv() {
        Some(answer) => answer,
        None => stream.recv().await,
    }
}

/// Starts client calls: what an async adapter's channel implements.
pub trait AsyncClientTransport: Send + Sync {
    /// Starts a call described by `options`.
    fn call(
        &self,
        options: CallOptions,
    ) -> BoxFuture<'_, Result<Box<dyn AsyncClientStream>, Status>>;
}

impl<T: AsyncClientTransport + ?Sized> AsyncClientTransport for std::sync::Arc<T> {
    fn call(
        &self,
        options: CallOptions,
    ) -> BoxFuture<'_, Result<Box<dyn AsyncClientStream>, Status>> {
        (**self).call(options)
    }
}

/// The client side of one call, as an async adapter runs it. See
/// [`ClientStream`](super::ClientStream); the methods mean the same. Dropping
/// it before the end must cancel the call.
pub trait AsyncClientStream: Send {
    /// Sends a request message; `compress: false` sends it uncompressed even
    /// when the call compresses.
    fn send_with(&mut self, message: Bytes, compress: bool) -> BoxFuture<'_, Result<(), Status>>;

    /// Sends a request message, compressed when the call compresses.
    fn send(&mut self, message: Bytes) -> BoxFuture<'_, Result<(), Status>> {
        self.send_with(message, true)
    }

    /// Half-closes.
    fn close_send(&mut self) -> BoxFuture<'_, ()>;

    /// Sends the last request message and half-closes. A handle that can
    /// queue both at once sends the end of the stream with the message.
    fn send_last(&mut self, message: Bytes) -> BoxFuture<'_, Result<(), Status>> {
        Box::pin(async move {
            self.send(message).await?;
            self.close_send().await;
            Ok(())
        })
    }

    /// The server's initial metadata.
    fn headers(&mut self) -> BoxFuture<'_, Result<Metadata, Status>>;

    /// The next response message; `Ok(None)` once the call ended with OK.
    fn recv(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, Status>>;

    /// Whether the message the last `recv` returned arrived compressed.
    fn recv_compressed(&self) -> bool;

    /// Waits for the end of the call and returns its status and trailers.
    fn finish(&mut self) -> BoxFuture<'_, (Status, Metadata)>;

    /// Cancels the call, without waiting (it is called from `Drop`).
    fn cancel(&mut self);
}

/// [`unary_call`](super::unary_call) for async adapters.
pub async fn unary_call_async(
    stream: &mut dyn AsyncClientStream,
    request: Bytes,
) -> Result<super::Response<Bytes>, Status> {
    if let Err(refused) = stream.send_last(request).await {
        let (status, _) = stream.finish().await;
        return Err(super::pick_status(status, refused));
    }
    let message = stream.recv().await?;
    let headers = stream.headers().await?;
    let (status, trailers) = stream.finish().await;
    super::unary_outcome(status, message, headers, trailers)
}
