//! CONTINUATION (RFC 9113 §6.10).

use bytes::Bytes;

use super::{flags, require_stream, write_head, Frame, Head, Kind};
use crate::h2::{Error, StreamId};

/// A CONTINUATION frame: the next fragment of a header block begun by HEADERS
/// or PUSH_PROMISE. Whether one is expected is the connection's to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    /// The stream (never 0).
    pub stream_id: StreamId,
    /// The header block fragment.
    pub header_block: Bytes,
    /// END_HEADERS: the header block ends here.
    pub end_headers: bool,
}

impl Continuation {
    /// Decodes the payload of a CONTINUATION frame.
    pub fn decode(head: Head, payload: Bytes) -> Result<Self, Error> {
        require_stream(Kind::Continuation, &head)?;
        Ok(Continuation {
            stream_id: head.stream_id,
            header_block: payload,
            end_headers: head.flags & flags::END_HEADERS != 0,
        })
    }

    /// Appends the head and payload to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        let f = if self.end_headers {
            flags::END_HEADERS
        } else {
            0
        };
        write_head(
            dst,
            Kind::Continuation,
            f,
            self.stream_id,
            self.header_block.len(),
        );
        dst.extend_from_slice(&self.header_block);
    }
}

impl From<Continuation> for Frame {
    fn from(f: Continuation) -> Frame {
        Frame::Continuation(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{conn_err, decode, encode, raw};
    use super::*;
    use crate::h2::{ErrorCode, Reason};

    #[test]
    fn decode_and_encode() {
        for f in [0, flags::END_HEADERS] {
            let bytes = raw(9, f, 3, b"\x82\x86");
            let frame = decode(&bytes).unwrap();
            assert_eq!(
                frame,
                Frame::Continuation(Continuation {
                    stream_id: StreamId::new(3),
                    header_block: Bytes::from_static(b"\x82\x86"),
                    end_headers: f != 0,
                })
            );
            assert_eq!(encode(&frame), bytes);
        }
    }

    #[test]
    fn stream_zero_is_protocol_error() {
        assert_eq!(
            decode(&raw(9, flags::END_HEADERS, 0, b"")),
            conn_err(
                ErrorCode::PROTOCOL_ERROR,
                Reason::StreamIdZero {
                    frame: "CONTINUATION"
                }
            )
        );
    }

    #[test]
    fn unknown_flags_ignored_and_reserved_bit_masked() {
        // PADDED means nothing on CONTINUATION, so the first octet stays data.
        let frame = decode(&raw(9, !flags::END_HEADERS, 0x8000_0003, b"\x01\x82")).unwrap();
        assert_eq!(
            frame,
            Frame::Continuation(Continuation {
                stream_id: StreamId::new(3),
                header_block: Bytes::from_static(b"\x01\x82"),
                end_headers: false,
            })
        );
    }
}
