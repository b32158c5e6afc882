//! Frames of unknown type (RFC 9113 §4.1, §5.5).

use bytes::Bytes;

use super::{Frame, Head};
use crate::h2::StreamId;

/// A frame whose type this implementation does not know. §5.5 says to ignore
/// and discard it, except that one inside a header block is a PROTOCOL_ERROR
/// (§6.2), which only the connection can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// The type octet.
    pub kind: u8,
    /// The flag octet, uninterpreted.
    pub flags: u8,
    /// The stream id, reserved bit cleared.
    pub stream_id: StreamId,
    /// The payload, uninterpreted.
    pub payload: Bytes,
}

impl Unknown {
    /// Wraps the frame; nothing about an unknown frame can be invalid.
    pub fn decode(head: Head, payload: Bytes) -> Self {
        Unknown {
            kind: head.kind,
            flags: head.flags,
            stream_id: head.stream_id,
            payload,
        }
    }

    /// Appends the head and payload to `dst` exactly as received.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        Head {
            length: u32::try_from(self.payload.len()).unwrap_or(u32::MAX),
            kind: self.kind,
            flags: self.flags,
            stream_id: self.stream_id,
        }
        .encode(dst);
        dst.extend_from_slice(&self.payload);
    }
}

impl From<Unknown> for Frame {
    fn from(f: Unknown) -> Frame {
        Frame::Unknown(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{decode, encode, raw};
    use super::*;

    #[test]
    fn decode_and_encode() {
        for stream_id in [0, 9] {
            let bytes = raw(0xfa, 0xff, stream_id, b"anything");
            let frame = decode(&bytes).unwrap();
            assert_eq!(
                frame,
                Frame::Unknown(Unknown {
                    kind: 0xfa,
                    flags: 0xff,
                    stream_id: StreamId::new(stream_id),
                    payload: Bytes::from_static(b"anything"),
                })
            );
            assert_eq!(encode(&frame), bytes);
        }
    }

    #[test]
    fn reserved_bit_masked() {
        let frame = decode(&raw(10, 0, 0x8000_0000, b"")).unwrap();
        assert_eq!(frame.stream_id(), StreamId::ZERO);
    }
}
