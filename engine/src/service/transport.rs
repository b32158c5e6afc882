//! What a blocking adapter implements for its call handles.

use bytes::Bytes;

use crate::grpc::metadata::Metadata;
use crate::grpc::status::Status;
use crate::grpc::CallOptions;

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

    /// Sends the response headers with this initial metadata. Only called
    /// once, before any message; without it the first message sends empty
    /// headers.
    fn send_headers(&mut self, metadata: Metadata) -> Result<(), Status>;

    /// Sends a response message, blocking while the send buffer is full.
    fn send(&mut self, message: Bytes) -> Result<(), Status>;
}

impl<S: ServerStream + ?Sized> ServerStream for &mut S {
    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        (**self).recv()
    }
    fn send_headers(&mut self, metadata: Metadata) -> Result<(), Status> {
        (**self).send_headers(metadata)
    }
    fn send(&mut self, message: Bytes) -> Result<(), Status> {
        (**self).send(message)
    }
}

impl<S: ServerStream + ?Sized> ServerStream for Box<S> {
    fn recv(&mut self) -> Result<Option<Bytes>, Status> {
        (**self).recv()
    }
    fn send_headers(&mut self, metadata: Metadata) -> Result<(), Status> {
        (**self).send_headers(metadata)
    }
    fn send(&mut self, message: Bytes) -> Result<(), Status> {
        (**self).send(message)
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
    /// once the call is over.
    fn send(&mut self, message: Bytes) -> Result<(), Status>;

    /// Half-closes: no more request messages.
    fn close_send(&mut self);

    /// The server's initial metadata, waiting for it (empty for a
    /// Trailers-Only response); `Err` when the call failed before.
    fn headers(&mut self) -> Result<Metadata, Status>;

    /// The next response message; `Ok(None)` once the call ended with OK;
    /// `Err(status)` once it ended otherwise.
    fn recv(&mut self) -> Result<Option<Bytes>, Status>;

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
    if let Err(refused) = stream.send(request) {
        let (status, _) = stream.finish();
        return Err(super::pick_status(status, refused));
    }
    stream.close_send();
    let message = stream.recv()?;
    let headers = stream.headers()?;
    let (status, trailers) = stream.finish();
    super::unary_outcome(status, message, headers, trailers)
}
