use std::fmt;

use super::StreamId;

/// An HTTP/2 error code (RFC 9113 §7), as carried by RST_STREAM and GOAWAY.
///
/// Unknown codes are kept as they are: RFC 9113 §7 says they must not trigger any
/// special behaviour, but an application may still want to log them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Graceful shutdown, or a stream no longer needed.
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    /// An unspecific protocol error.
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    /// An unexpected internal error.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x2);
    /// The peer violated flow control.
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    /// A SETTINGS frame was not acknowledged in time.
    pub const SETTINGS_TIMEOUT: ErrorCode = ErrorCode(0x4);
    /// A frame arrived after the stream was half-closed.
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(0x5);
    /// A frame had an invalid size.
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(0x6);
    /// The stream was refused before any processing.
    pub const REFUSED_STREAM: ErrorCode = ErrorCode(0x7);
    /// The stream is no longer needed.
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    /// The HPACK state could not be maintained.
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);
    /// A CONNECT tunnel failed.
    pub const CONNECT_ERROR: ErrorCode = ErrorCode(0xa);
    /// The peer is generating excessive load.
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(0xb);
    /// The transport does not meet security requirements.
    pub const INADEQUATE_SECURITY: ErrorCode = ErrorCode(0xc);
    /// HTTP/1.1 is required instead.
    pub const HTTP_1_1_REQUIRED: ErrorCode = ErrorCode(0xd);

    /// The RFC name of a known code.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "NO_ERROR",
            0x1 => "PROTOCOL_ERROR",
            0x2 => "INTERNAL_ERROR",
            0x3 => "FLOW_CONTROL_ERROR",
            0x4 => "SETTINGS_TIMEOUT",
            0x5 => "STREAM_CLOSED",
            0x6 => "FRAME_SIZE_ERROR",
            0x7 => "REFUSED_STREAM",
            0x8 => "CANCEL",
            0x9 => "COMPRESSION_ERROR",
            0xa => "CONNECT_ERROR",
            0xb => "ENHANCE_YOUR_CALM",
            0xc => "INADEQUATE_SECURITY",
            0xd => "HTTP_1_1_REQUIRED",
            _ => return None,
        })
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "UNKNOWN_ERROR({:#x})", self.0),
        }
    }
}

/// A protocol error detected while processing input, with the scope RFC 9113 §5.4
/// gives it: a connection error ends the connection with GOAWAY, a stream error
/// resets one stream with RST_STREAM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The whole connection is unusable; a GOAWAY with `code` has been queued.
    #[error("connection error {code}: {reason}")]
    Connection {
        /// The code sent in GOAWAY.
        code: ErrorCode,
        /// What went wrong.
        reason: Reason,
    },
    /// One stream is unusable; an RST_STREAM with `code` has been (or will be) queued.
    #[error("stream {id} error {code}: {reason}")]
    Stream {
        /// The stream reset.
        id: StreamId,
        /// The code sent in RST_STREAM.
        code: ErrorCode,
        /// What went wrong.
        reason: Reason,
    },
}

impl Error {
    /// A connection error.
    pub fn connection(code: ErrorCode, reason: Reason) -> Self {
        Error::Connection { code, reason }
    }

    /// A stream error on stream `id`.
    pub fn stream(id: StreamId, code: ErrorCode, reason: Reason) -> Self {
        Error::Stream { id, code, reason }
    }

    /// The wire code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Connection { code, .. } | Error::Stream { code, .. } => *code,
        }
    }

    /// Why it happened.
    pub fn reason(&self) -> &Reason {
        match self {
            Error::Connection { reason, .. } | Error::Stream { reason, .. } => reason,
        }
    }

    /// Whether the error ends the whole connection.
    pub fn is_connection_error(&self) -> bool {
        matches!(self, Error::Connection { .. })
    }
}

/// What happened, in words a log reader can act on. Variants name who misbehaved:
/// most are the peer's protocol violations, `Local*` ones are ours (timeouts we
/// enforce, limits we set).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// The peer did not open with the 24-octet connection preface.
    #[error("the peer did not send the HTTP/2 connection preface")]
    BadPreface,
    /// The peer's first frame was not SETTINGS.
    #[error("the peer's first frame was not SETTINGS")]
    FirstFrameNotSettings,
    /// A frame longer than our SETTINGS_MAX_FRAME_SIZE.
    #[error("a {frame} frame of {len} octets exceeds the maximum frame size {max}")]
    FrameTooLarge {
        /// The frame type's name.
        frame: &'static str,
        /// Its payload length.
        len: u32,
        /// Our advertised maximum.
        max: u32,
    },
    /// A frame whose length is wrong for its type.
    #[error("a {frame} frame has an invalid length of {len} octets")]
    BadFrameLength {
        /// The frame type's name.
        frame: &'static str,
        /// Its payload length.
        len: u32,
    },
    /// A padded frame whose padding is as long as or longer than its payload.
    #[error("a {frame} frame's padding is longer than its payload")]
    BadPadding {
        /// The frame type's name.
        frame: &'static str,
    },
    /// A frame that must belong to a stream arrived on stream 0.
    #[error("a {frame} frame arrived on stream 0")]
    StreamIdZero {
        /// The frame type's name.
        frame: &'static str,
    },
    /// A connection-level frame arrived on a stream.
    #[error("a {frame} frame arrived on stream {id}, which must be 0")]
    StreamIdNotZero {
        /// The frame type's name.
        frame: &'static str,
        /// The stream id it carried.
        id: StreamId,
    },
    /// A stream declared a dependency on itself (RFC 9113 §5.3.1).
    #[error("stream {0} depends on itself")]
    SelfDependency(StreamId),
    /// A SETTINGS parameter with a value outside its range (RFC 9113 §6.5.2).
    #[error("setting {id:#x} has the invalid value {value}")]
    InvalidSetting {
        /// The setting identifier.
        id: u16,
        /// The value sent.
        value: u32,
    },
    /// A WINDOW_UPDATE with an increment of 0.
    #[error("a WINDOW_UPDATE has an increment of 0")]
    ZeroWindowIncrement,
    /// A WINDOW_UPDATE or a SETTINGS change pushed a window past 2^31-1.
    #[error("a flow-control window exceeds 2^31-1")]
    WindowOverflow,
    /// The peer sent more DATA than the window it was given.
    #[error("the peer sent {len} octets of DATA with only {window} of window")]
    WindowExceeded {
        /// Flow-controlled length of the frame.
        len: u32,
        /// Window that remained.
        window: i64,
    },
    /// A frame that is not allowed in the stream's state (RFC 9113 §5.1).
    #[error("a {frame} frame is not allowed on a stream that is {state}")]
    UnexpectedFrame {
        /// The frame type's name.
        frame: &'static str,
        /// The stream's state.
        state: &'static str,
    },
    /// A frame other than CONTINUATION interrupted a header block.
    #[error("a {frame} frame interrupted a header block on stream {id}")]
    HeaderBlockInterrupted {
        /// The frame type's name.
        frame: &'static str,
        /// The stream whose block was open.
        id: StreamId,
    },
    /// A CONTINUATION frame arrived with no header block open.
    #[error("a CONTINUATION frame arrived without a header block to continue")]
    UnexpectedContinuation,
    /// A header block spread over more CONTINUATION frames or octets than we allow.
    #[error("a header block exceeds {frames} frames or {bytes} octets")]
    HeaderBlockTooLarge {
        /// Our frame limit.
        frames: usize,
        /// Our octet limit.
        bytes: usize,
    },
    /// A stream id that the peer may not use: wrong parity or lower than one it used before.
    #[error("the peer used the stream id {0}, which it may not open")]
    BadStreamId(StreamId),
    /// The peer sent PUSH_PROMISE, which we never enable.
    #[error("the peer sent PUSH_PROMISE although push is disabled")]
    PushDisabled,
    /// HPACK decoding failed (always a connection error: the tables are out of sync).
    #[error("HPACK decoding failed: {0}")]
    Hpack(#[from] crate::hpack::DecodeError),
    /// The decoded header list is larger than our SETTINGS_MAX_HEADER_LIST_SIZE.
    #[error("the header list exceeds the limit of {0} octets")]
    HeaderListTooLarge(usize),
    /// A request or response that breaks RFC 9113 §8 (pseudo-headers, connection headers, content-length).
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    /// The peer opened more streams than our SETTINGS_MAX_CONCURRENT_STREAMS.
    #[error("the peer exceeded the limit of {0} concurrent streams")]
    TooManyStreams(u32),
    /// The peer refused or reset the stream.
    #[error("the peer reset the stream with {0}")]
    PeerReset(ErrorCode),
    /// A frame on a stream that the peer or we already closed.
    #[error("a {frame} frame arrived on the closed stream {id}")]
    StreamClosed {
        /// The frame type's name.
        frame: &'static str,
        /// The stream.
        id: StreamId,
    },
    /// The peer floods us with frames that cost work but carry nothing (RST_STREAM,
    /// SETTINGS, PING, empty DATA): the rapid-reset class of attacks.
    #[error("the peer sent too many {0} frames")]
    Flood(&'static str),
    /// The peer did not acknowledge our SETTINGS in time.
    #[error("the peer did not acknowledge SETTINGS in time")]
    LocalSettingsTimeout,
    /// The peer sent a GOAWAY with an error code.
    #[error("the peer sent GOAWAY with {0}")]
    PeerGoAway(ErrorCode),
}

/// A local misuse of the connection's API. Nothing was sent; the connection is
/// unaffected.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// No stream with this id is open.
    #[error("stream {0} is not open")]
    UnknownStream(StreamId),
    /// The stream exists but we may no longer send on it.
    #[error("stream {stream} is {state}, so nothing more can be sent on it")]
    SendClosed {
        /// The stream.
        stream: StreamId,
        /// Its state.
        state: &'static str,
    },
    /// A response must start with its final HEADERS before any DATA.
    #[error("stream {0} must send its response headers before data")]
    HeadersFirst(StreamId),
    /// The stream's send buffer is full; wait for [`Event::Writable`](super::Event::Writable).
    #[error("the send buffer of stream {0} is full")]
    SendBufferFull(StreamId),
    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS is reached.
    #[error("the peer allows no more than {0} concurrent streams")]
    StreamLimit(u32),
    /// A GOAWAY was sent or received: no new streams.
    #[error("the connection is going away")]
    GoingAway,
    /// The connection failed or closed.
    #[error("the connection is closed")]
    Closed,
    /// All 2^31 stream ids are used up; open a new connection.
    #[error("stream ids are exhausted")]
    StreamIdsExhausted,
    /// Only clients open streams (server push is never used).
    #[error("only a client opens streams")]
    NotAClient,
    /// The headers break RFC 9113 §8.
    #[error("malformed headers: {0}")]
    Malformed(&'static str),
    /// The header list exceeds the peer's SETTINGS_MAX_HEADER_LIST_SIZE.
    #[error("the header list of {size} octets exceeds the peer's limit of {limit}")]
    HeaderListTooLarge {
        /// Its size.
        size: usize,
        /// The peer's limit.
        limit: u32,
    },
}
