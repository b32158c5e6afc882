use bytes::Bytes;

use super::{ErrorCode, StreamId};
use crate::hpack::Header;

/// Which side ended a stream or a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    /// We did, through the API or because the peer broke a rule.
    Local,
    /// The peer did.
    Remote,
}

/// What the connection has to tell the application. Drain with
/// [`Connection::poll_event`](super::Connection::poll_event) until `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete, valid header block: request headers (server), response headers
    /// including 1xx (client), or trailers (either, always with `end_stream`).
    Headers {
        /// The stream.
        stream: StreamId,
        /// The fields in wire order, pseudo-headers first.
        headers: Vec<Header>,
        /// The peer has nothing more to send on this stream.
        end_stream: bool,
    },
    /// Body octets. Padding is already returned to the peer; release `data.len()`
    /// with [`Connection::release_capacity`](super::Connection::release_capacity)
    /// once consumed, or the peer stalls.
    Data {
        /// The stream.
        stream: StreamId,
        /// The payload, a slice of the received bytes (no copy).
        data: Bytes,
        /// The peer has nothing more to send on this stream.
        end_stream: bool,
    },
    /// The stream ended abnormally: RST_STREAM from the peer, a stream error we
    /// detected, a GOAWAY that excluded it, or the connection failing.
    Reset {
        /// The stream.
        stream: StreamId,
        /// The code sent or received.
        code: ErrorCode,
        /// Who reset it.
        initiator: Initiator,
    },
    /// A stream whose `send_data` was refused for a full buffer has room again.
    Writable {
        /// The stream.
        stream: StreamId,
    },
    /// The peer sent a PING; the acknowledgement is already queued. Reported so
    /// a keepalive policy can count the peer's pings.
    Ping {
        /// The opaque data.
        payload: [u8; 8],
    },
    /// The peer acknowledged one of our PINGs.
    PingAck {
        /// The opaque data we sent.
        payload: [u8; 8],
    },
    /// The peer sent GOAWAY: no new streams; ours above `last_stream_id` were
    /// not processed (they also get [`Event::Reset`] with REFUSED_STREAM).
    GoAway {
        /// The last stream the peer processes.
        last_stream_id: StreamId,
        /// Why.
        code: ErrorCode,
        /// Diagnostic data.
        debug_data: Bytes,
    },
}
