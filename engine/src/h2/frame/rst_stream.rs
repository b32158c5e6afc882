//! RST_STREAM (RFC 9113 §6.4).

use bytes::Bytes;

use super::{bad_length, require_stream, write_head, Frame, Head, Kind};
use crate::h2::{Error, ErrorCode, StreamId};

/// An RST_STREAM frame: ends a stream at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RstStream {
    /// The stream (never 0).
    pub stream_id: StreamId,
    /// Why the stream was reset.
    pub error_code: ErrorCode,
}

impl RstStream {
    /// Decodes the payload of an RST_STREAM frame.
    pub fn decode(head: Head, payload: Bytes) -> Result<Self, Error> {
        require_stream(Kind::RstStream, &head)?;
        let Ok(code) = <[u8; 4]>::try_from(payload.as_ref()) else {
            return Err(bad_length(Kind::RstStream, payload.len()));
        };
        Ok(RstStream {
            stream_id: head.stream_id,
            error_code: ErrorCode(u32::from_be_bytes(code)),
        })
    }

    /// Appends the head and payload to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        write_head(dst, Kind::RstStream, 0, self.stream_id, 4);
        dst.extend_from_slice(&self.error_code.0.to_be_bytes());
    }
}

impl From<RstStream> for Frame {
    fn from(f: RstStream) -> Frame {
        Frame::RstStream(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{conn_err, decode, encode, raw};
    use super::*;
    use crate::h2::Reason;

    #[test]
    fn decode_and_encode() {
        let bytes = raw(3, 0, 1, b"\0\0\0\x08");
        let frame = decode(&bytes).unwrap();
        assert_eq!(
            frame,
            Frame::RstStream(RstStream {
                stream_id: StreamId::new(1),
                error_code: ErrorCode::CANCEL,
            })
        );
        assert_eq!(encode(&frame), bytes);
        // Unknown codes are kept.
        let bytes = raw(3, 0, 1, b"\xde\xad\xbe\xef");
        let Frame::RstStream(r) = decode(&bytes).unwrap() else {
            panic!()
        };
        assert_eq!(r.error_code, ErrorCode(0xdead_beef));
        assert_eq!(encode(&r.into()), bytes);
    }

    #[test]
    fn wrong_length_is_frame_size_error() {
        for payload in [&b"\0\0\x08"[..], b"\0\0\0\x08\0", b""] {
            assert_eq!(
                decode(&raw(3, 0, 1, payload)),
                conn_err(
                    ErrorCode::FRAME_SIZE_ERROR,
                    Reason::BadFrameLength {
                        frame: "RST_STREAM",
                        len: payload.len() as u32
                    }
                )
            );
        }
    }

    #[test]
    fn stream_zero_is_protocol_error() {
        assert_eq!(
            decode(&raw(3, 0, 0, b"\0\0\0\x08")),
            conn_err(
                ErrorCode::PROTOCOL_ERROR,
                Reason::StreamIdZero {
                    frame: "RST_STREAM"
                }
            )
        );
    }

    #[test]
    fn unknown_flags_ignored_and_reserved_bit_masked() {
        let frame = decode(&raw(3, 0xff, 0x8000_0001, b"\0\0\0\x01")).unwrap();
        assert_eq!(
            frame,
            Frame::RstStream(RstStream {
                stream_id: StreamId::new(1),
                error_code: ErrorCode::PROTOCOL_ERROR,
            })
        );
    }
}
