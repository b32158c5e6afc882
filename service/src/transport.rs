//! What a blocking adapter implements for its call handles.

use bytes::Bytes;

use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::metadata::Metadata;
use grpc_sansio::grpc::status::Status;
use grpc_sansio::grpc::CallOptions;

/// The server side of one call, as a blocking adapter runs it: the raw
/// messages of the call. The router and the typed handlers work over this.
///
/// The adapter does not end the call here: [`Router::dispatch`](super::Router::dispatch)
/// returns the status and trailers for the adapter to finish with (a
/// Trailers-Only response when nothing was sent).
pub trait ServerStream: Send {
    /// The next request message; `Ok(None)` once the client half-closed;
    /// `Err` (CANCELLED, DEADLINE_EXCEEDED, …) once the call is over.
    fn recv(&mut self) -> Result<Option<Bytes>, Status>;

    /// Whether the message the last [`recv`](Self::recv) returned arrived
    /// compressed.
    fn recv_compressed(&self) -> bool;

    /// Sends the response headers with this initial metadata. Only called
    /// once, before any message; without it the first message sends empty
    /// headers.
    fn send_headers(&mut self, metadata: Metadata) -> Result<(), Status>;

    /// Compresses the response messages with `encoding` from now on. Only
    /// before the headers, and only an encoding the client accepts.
    fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status>;

    /// Sends a response message, blocking while the send buffer is full;
    /// `compress: false` sends it uncompressed even when the call compresses.
    fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status>;

    /// Sends a response message, compressed when the call compresses.
    fn send(&mut self, message: Bytes) -> Result<(), Status> {
        self.send_with(message, true)
    }

    /// Sends the last response message (of a unary or client-streaming
    /// call), compressed when the call compresses. A handle may hold it to
    /// go out with the call's end, sparing the wait for the engine to take
    /// it; a refusal then ends the call with that status.
    fn send_last(&mut self, message: Bytes) -> Result<(), Status> {
        self.send_last_with(message, true)
    }

    /// [`send_last`](Self::send_last), uncompressed when `compress` is false.
    fn send_last_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        self.send_with(message, compress)
    }
}

impl<S: ServerStream + ?Sized> ServerStream for &mut S {
    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        (**self).recv()
    }
    fn recv_compressed(&self) -> bool {
        (**self).recv_compressed()
    }
    fn send_headers(&mut self, metadata: Metadata) -> Result<(), Status> {
        (**self).send_headers(metadata)
    }
    fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status> {
        (**self).set_compression(encoding)
    }
    fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        (**self).send_with(message, compress)
    }
    fn send_last_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        (**self).send_last_with(message, compress)
    }
}

impl<S: ServerStream + ?Sized> ServerStream for Box<S> {
    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        (**self).recv()
    }
    fn recv_compressed(&self) -> bool {
        (**self).recv_compressed()
    }
    fn send_headers(&mut self, metadata: Metadata) -> Result<(), Status> {
        (**self).send_headers(metadata)
    }
    fn set_compression(&mut self, encoding: Encoding) -> Result<(), Status> {
        (**self).set_compression(encoding)
    }
    fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        (**self).send_with(message, compress)
    }
    fn send_last_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status> {
        (**self).send_last_with(message, compress)
    }
}

/// Starts client calls: what a blocking adapter's channel implements for the
/// typed [`Client`](super::Client) and the generated stubs.
pub trait ClientTransport: Send + Sync {
    /// Starts a call; its path, deadline, metadata and compression are in
    /// `options`.
    fn call(&self, options: CallOptions) -> Result<Box<dyn ClientStream>, Status>;
}

impl<T: ClientTransport + ?Sized> ClientTransport for std::sync::Arc<T> {
    fn call(&self, options: CallOptions) -> Result<Box<dyn ClientStream>, Status> {
        (**self).call(options)
    }
}

/// The client side of one call, as a blocking adapter runs it.
///
/// Dropping it before the end must cancel the call.
pub trait ClientStream: Send {
    /// Sends a request message, blocking while the send buffer is full; `Err`
    /// once the call is over. `compress: false` sends it uncompressed even
    /// when the call compresses.
    fn send_with(&mut self, message: Bytes, compress: bool) -> Result<(), Status>;

    /// Sends a request message, compressed when the call compresses.
    fn send(&mut self, message: Bytes) -> Result<(), Status> {
        self.send_with(message, true)
    }

    /// Half-closes: no more request messages.
    fn close_send(&mut self);

    /// Sends the last request message and half-closes. A handle that can
    /// queue both at once sends the end of the stream with the message.
    fn send_last(&mut self, message: Bytes) -> Result<(), Status> {
        self.send(message)?;
        self.close_send();
        Ok(())
    }

    /// The server's initial metadata, waiting for it (empty for a
    /// Trailers-Only response); `Err` when the call failed before.
    fn headers(&mut self) -> Result<Metadata, Status>;

    /// The next response message; `Ok(None)` once the call ended with OK;
    /// `Err(status)` once it ended otherwise.
    fn recv(&mut self) -> Result<Option<Bytes>, Status>;

    /// Whether the message the last [`recv`](Self::recv) returned arrived
    /// compressed.
    fn recv_compressed(&self) -> bool;

    /// Waits for the end of the call (discarding unread messages) and returns
    /// its status and trailers. Calling it again returns the same.
    fn finish(&mut self) -> (Status, Metadata);

    /// Cancels the call (RST_STREAM CANCEL), unless it has ended.
    fn cancel(&mut self);
}

/// One request, one response over a raw call: what every adapter's `unary`
/// does, written once. A refused send reports the call's own status when the
/// server already ended it (say, UNIMPLEMENTED), else the refusal.
pub fn unary_call(
    stream: &mut dyn ClientStream,
    request: Bytes,
) -> Result<super::Response<Bytes>, Status> {
    if let Err(refused) = stream.send_last(request) {
        let (status, _) = stream.finish();
        return Err(super::pick_status(status, refused));
    }
    let message = stream.recv()?;
    let headers = stream.headers()?;
    let (status, trailers) = stream.finish();
    super::unary_outcome(status, message, headers, trailers)
}
