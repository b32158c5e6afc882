use std::time::{Duration, Instant};

use bytes::Bytes;

use super::byte_str::ByteStr;
use super::compression::{Encoding, EncodingSet};
use super::metadata::Metadata;
use super::status::Status;
use crate::h2::{ErrorCode, PeerSettings, StreamId};

/// A call on a connection: the HTTP/2 stream that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub(crate) StreamId);

impl CallId {
    /// The call carried by this stream: for tests and tools that name calls
    /// themselves (a command for a stream with no call is ignored).
    pub fn from_stream_id(stream: StreamId) -> CallId {
        CallId(stream)
    }

    /// The HTTP/2 stream id.
    pub fn stream_id(self) -> StreamId {
        self.0
    }
}

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "call {}", self.0)
    }
}

/// What a server learns when a call starts. Its text fields share the
/// received header block rather than copy it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The `:path`, `/package.Service/Method`.
    pub path: ByteStr,
    /// The `:authority`, when sent (not UTF-8 octets replaced by U+FFFD).
    pub authority: Option<ByteStr>,
    /// The request's `content-type` (`application/grpc` or `application/grpc+…`;
    /// not UTF-8 octets replaced by U+FFFD).
    pub content_type: ByteStr,
    /// User metadata, reserved and pseudo headers removed.
    pub metadata: Metadata,
    /// The `grpc-timeout` the client sent.
    pub timeout: Option<Duration>,
    /// When the call expires: arrival time plus `timeout`.
    pub deadline: Option<Instant>,
    /// The encoding of the client's compressed messages.
    pub encoding: Encoding,
    /// The encodings the client accepts for our messages.
    pub accept_encodings: EncodingSet,
    /// The client's HTTP/2 settings.
    pub peer_settings: PeerSettings,
}

impl Request {
    /// The service part of the path (`package.Service`).
    pub fn service(&self) -> &str {
        self.split().0
    }

    /// The method part of the path (`Method`).
    pub fn method(&self) -> &str {
        self.split().1
    }

    fn split(&self) -> (&str, &str) {
        let path = self.path.strip_prefix('/').unwrap_or(&self.path);
        path.split_once('/').unwrap_or((path, ""))
    }
}

/// What a gRPC connection has to tell the application. Drain with
/// [`Connection::poll_event`](super::Connection::poll_event) until `None`.
///
/// Every call ends with exactly one terminal event (client: [`Event::Finished`];
/// server: [`Event::Cancelled`], unless the server's own
/// [`finish`](super::Connection::finish) ended it), and nothing follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Server: a new call; answer it, or finish it with a status.
    CallStarted {
        /// The call.
        call: CallId,
        /// Its request head.
        request: Request,
    },
    /// Client: the server's initial metadata.
    Headers {
        /// The call.
        call: CallId,
        /// User metadata.
        metadata: Metadata,
    },
    /// One whole message, decompressed. Taking it from `poll_event` returns its
    /// flow-control credit to the peer.
    Message {
        /// The call.
        call: CallId,
        /// The message bytes (a slice of the received data when it sat in one
        /// DATA frame uncompressed).
        message: Bytes,
        /// Whether it arrived compressed (the prefix's flag): some protocols,
        /// the interop tests among them, check how the peer sent it.
        compressed: bool,
    },
    /// Server: the client has sent all its messages (half-close).
    HalfClosed {
        /// The call.
        call: CallId,
    },
    /// Client: the call is over, with the server's status, a status built from
    /// the HTTP response, or a local one (deadline, cancellation, connection loss).
    Finished {
        /// The call.
        call: CallId,
        /// The outcome.
        status: Status,
        /// Trailing metadata.
        trailers: Metadata,
    },
    /// Server: the call ended without our `finish`: the client cancelled, the
    /// deadline passed, the connection failed, or the client broke the protocol.
    Cancelled {
        /// The call.
        call: CallId,
        /// Why, as a gRPC status (CANCELLED, DEADLINE_EXCEEDED, …).
        status: Status,
    },
    /// A call refused for a full send buffer may send again.
    Writable {
        /// The call.
        call: CallId,
    },
    /// The peer is going away: start no new calls on this connection.
    GoAway {
        /// The HTTP/2 code the peer gave.
        code: ErrorCode,
    },
}
