//! PING (RFC 9113 §6.7).

use bytes::Bytes;

use super::{bad_length, flags, require_connection, write_head, Frame, Head, Kind};
use crate::h2::{Error, StreamId};

/// A PING frame: a liveness check and round-trip measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// ACK: the reply to a PING, echoing its payload.
    pub ack: bool,
    /// Opaque data, echoed by the reply.
    pub payload: [u8; 8],
}

impl Ping {
    /// Decodes the payload of a PING frame.
    pub fn decode(head: Head, payload: Bytes) -> Result<Self, Error> {
        require_connection(Kind::Ping, &head)?;
        let Ok(data) = <[u8; 8]>::try_from(payload.as_ref()) else {
            return Err(bad_length(Kind::Ping, payload.len()));
        };
        Ok(Ping {
            ack: head.flags & flags::ACK != 0,
            payload: data,
        })
    }

    /// Appends the head and payload to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        let f = if self.ack { flags::ACK } else { 0 };
        write_head(dst, Kind::Ping, f, StreamId::ZERO, 8);
        dst.extend_from_slice(&self.payload);
    }
}

impl From<Ping> for Frame {
    fn from(f: Ping) -> Frame {
        Frame::Ping(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{conn_err, decode, encode, raw};
    use super::*;
    use crate::h2::{ErrorCode, Reason};

    #[test]
    fn decode_and_encode() {
        let bytes = raw(6, 0, 0, b"abcdefgh");
        let frame = decode(&bytes).unwrap();
        assert_eq!(
            frame,
            Frame::Ping(Ping {
                ack: false,
                payload: *b"abcdefgh",
            })
        );
        assert_eq!(encode(&frame), bytes);
        let bytes = raw(6, flags::ACK, 0, b"\0\0\0\0\0\0\0\x01");
        let frame = decode(&bytes).unwrap();
        assert_eq!(
            frame,
            Frame::Ping(Ping {
                ack: true,
                payload: [0, 0, 0, 0, 0, 0, 0, 1],
            })
        );
        assert_eq!(encode(&frame), bytes);
    }

    #[test]
    fn wrong_length_is_frame_size_error() {
        for payload in [&b"abcdefg"[..], b"abcdefghi", b""] {
            assert_eq!(
                decode(&raw(6, 0, 0, payload)),
                conn_err(
                    ErrorCode::FRAME_SIZE_ERROR,
                    Reason::BadFrameLength {
                        frame: "PING",
                        len: payload.len() as u32
                    }
                )
            );
        }
    }

    #[test]
    fn nonzero_stream_is_protocol_error() {
        assert_eq!(
            decode(&raw(6, 0, 3, b"abcdefgh")),
            conn_err(
                ErrorCode::PROTOCOL_ERROR,
                Reason::StreamIdNotZero {
                    frame: "PING",
                    id: StreamId::new(3)
                }
            )
        );
    }

    #[test]
    fn unknown_flags_ignored_and_reserved_bit_masked() {
        let frame = decode(&raw(6, 0xfe, 0x8000_0000, b"abcdefgh")).unwrap();
        assert_eq!(
            frame,
            Frame::Ping(Ping {
                ack: false,
                payload: *b"abcdefgh",
            })
        );
    }
}
