//! GOAWAY (RFC 9113 §6.8).

use bytes::Bytes;

use super::{bad_length, require_connection, write_head, Frame, Head, Kind};
use crate::h2::{Error, ErrorCode, StreamId};

/// Octets before the debug data: last stream id and error code.
const FIXED_LEN: usize = 8;

/// A GOAWAY frame: the sender will start no more streams and handle none above
/// `last_stream_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoAway {
    /// The highest stream the sender may have processed, reserved bit cleared.
    pub last_stream_id: StreamId,
    /// Why the connection is closing.
    pub error_code: ErrorCode,
    /// Opaque diagnostic data.
    pub debug_data: Bytes,
}

impl GoAway {
    /// Decodes the payload of a GOAWAY frame.
    pub fn decode(head: Head, payload: Bytes) -> Result<Self, Error> {
        require_connection(Kind::GoAway, &head)?;
        let Some(&[s0, s1, s2, s3, c0, c1, c2, c3]) = payload.get(..FIXED_LEN) else {
            return Err(bad_length(Kind::GoAway, payload.len()));
        };
        Ok(GoAway {
            last_stream_id: StreamId::new(u32::from_be_bytes([s0, s1, s2, s3])),
            error_code: ErrorCode(u32::from_be_bytes([c0, c1, c2, c3])),
            debug_data: payload.slice(FIXED_LEN..),
        })
    }

    /// Appends the head and payload to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        let len = FIXED_LEN + self.debug_data.len();
        write_head(dst, Kind::GoAway, 0, StreamId::ZERO, len);
        dst.extend_from_slice(&self.last_stream_id.get().to_be_bytes());
        dst.extend_from_slice(&self.error_code.0.to_be_bytes());
        dst.extend_from_slice(&self.debug_data);
    }
}

impl From<GoAway> for Frame {
    fn from(f: GoAway) -> Frame {
        Frame::GoAway(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{conn_err, decode, encode, raw};
    use super::*;
    use crate::h2::Reason;

    #[test]
    fn decode_and_encode() {
        let bytes = raw(7, 0, 0, b"\0\0\0\x05\0\0\0\x0bcalm down");
        let frame = decode(&bytes).unwrap();
        assert_eq!(
            frame,
            Frame::GoAway(GoAway {
                last_stream_id: StreamId::new(5),
                error_code: ErrorCode::ENHANCE_YOUR_CALM,
                debug_data: Bytes::from_static(b"calm down"),
            })
        );
        assert_eq!(encode(&frame), bytes);
        let bytes = raw(7, 0, 0, b"\x7f\xff\xff\xff\0\0\0\0");
        let Frame::GoAway(g) = decode(&bytes).unwrap() else {
            panic!()
        };
        assert_eq!(g.last_stream_id, StreamId::MAX);
        assert_eq!(g.error_code, ErrorCode::NO_ERROR);
        assert!(g.debug_data.is_empty());
        assert_eq!(encode(&g.into()), bytes);
    }

    #[test]
    fn too_short_is_frame_size_error() {
        for payload in [&b"\0\0\0\x05\0\0\0"[..], b""] {
            assert_eq!(
                decode(&raw(7, 0, 0, payload)),
                conn_err(
                    ErrorCode::FRAME_SIZE_ERROR,
                    Reason::BadFrameLength {
                        frame: "GOAWAY",
                        len: payload.len() as u32
                    }
                )
            );
        }
    }

    #[test]
    fn nonzero_stream_is_protocol_error() {
        assert_eq!(
            decode(&raw(7, 0, 1, b"\0\0\0\0\0\0\0\0")),
            conn_err(
                ErrorCode::PROTOCOL_ERROR,
                Reason::StreamIdNotZero {
                    frame: "GOAWAY",
                    id: StreamId::new(1)
                }
            )
        );
    }

    #[test]
    fn unknown_flags_ignored_and_reserved_bits_masked() {
        let frame = decode(&raw(7, 0xff, 0x8000_0000, b"\x80\0\0\x03\0\0\0\x02")).unwrap();
        assert_eq!(
            frame,
            Frame::GoAway(GoAway {
                last_stream_id: StreamId::new(3),
                error_code: ErrorCode::INTERNAL_ERROR,
                debug_data: Bytes::new(),
            })
        );
    }
}
