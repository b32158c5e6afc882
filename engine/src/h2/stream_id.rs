use std::fmt;

/// An HTTP/2 stream identifier (31 bits; the reserved high bit is always clear).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId(u32);

impl StreamId {
    /// Stream 0: the connection itself.
    pub const ZERO: StreamId = StreamId(0);
    /// The largest stream id, also the "last stream id" of a graceful GOAWAY.
    pub const MAX: StreamId = StreamId(0x7fff_ffff);

    /// Builds a stream id, dropping the reserved high bit as RFC 9113 §4.1 requires
    /// of receivers.
    pub const fn new(id: u32) -> Self {
        StreamId(id & 0x7fff_ffff)
    }

    /// The numeric value.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Whether this is stream 0, the connection.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Whether a client opens streams with this id (odd ids).
    pub const fn is_client_initiated(self) -> bool {
        self.0 % 2 == 1
    }

    /// Whether a server opens streams with this id (even ids other than 0).
    pub const fn is_server_initiated(self) -> bool {
        self.0 != 0 && self.0 % 2 == 0
    }
}

impl From<u32> for StreamId {
    fn from(id: u32) -> Self {
        StreamId::new(id)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
