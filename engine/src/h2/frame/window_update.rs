//! WINDOW_UPDATE (RFC 9113 §6.9).

use bytes::Bytes;

use super::{bad_length, write_head, Frame, Head, Kind};
use crate::h2::{Error, ErrorCode, Reason, StreamId};

/// A WINDOW_UPDATE frame: grants flow-control credit to a stream, or to the
/// whole connection on stream 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowUpdate {
    /// The stream, or 0 for the connection window.
    pub stream_id: StreamId,
    /// Octets of credit granted (1 to 2^31-1).
    pub increment: u32,
}

impl WindowUpdate {
    /// Decodes the payload of a WINDOW_UPDATE frame.
    pub fn decode(head: Head, payload: Bytes) -> Result<Self, Error> {
        let Ok(raw) = <[u8; 4]>::try_from(payload.as_ref()) else {
            return Err(bad_length(Kind::WindowUpdate, payload.len()));
        };
        // The high bit is reserved and must be ignored (§6.9).
        let increment = u32::from_be_bytes(raw) & 0x7fff_ffff;
        if increment == 0 {
            // §6.9: the error's scope follows the window being updated.
            return Err(if head.stream_id.is_zero() {
                Error::connection(ErrorCode::PROTOCOL_ERROR, Reason::ZeroWindowIncrement)
            } else {
                Error::stream(
                    head.stream_id,
                    ErrorCode::PROTOCOL_ERROR,
                    Reason::ZeroWindowIncrement,
                )
            });
        }
        Ok(WindowUpdate {
            stream_id: head.stream_id,
            increment,
        })
    }

    /// Appends the head and payload to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        write_head(dst, Kind::WindowUpdate, 0, self.stream_id, 4);
        dst.extend_from_slice(&(self.increment & 0x7fff_ffff).to_be_bytes());
    }
}

impl From<WindowUpdate> for Frame {
    fn from(f: WindowUpdate) -> Frame {
        Frame::WindowUpdate(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{conn_err, decode, encode, raw, stream_err};
    use super::*;

    #[test]
    fn decode_and_encode() {
        for stream_id in [0, 1] {
            let bytes = raw(8, 0, stream_id, b"\0\x01\0\0");
            let frame = decode(&bytes).unwrap();
            assert_eq!(
                frame,
                Frame::WindowUpdate(WindowUpdate {
                    stream_id: StreamId::new(stream_id),
                    increment: 65_536,
                })
            );
            assert_eq!(encode(&frame), bytes);
        }
        let bytes = raw(8, 0, 0, b"\x7f\xff\xff\xff");
        let Frame::WindowUpdate(w) = decode(&bytes).unwrap() else {
            panic!()
        };
        assert_eq!(w.increment, 0x7fff_ffff);
        assert_eq!(encode(&w.into()), bytes);
    }

    #[test]
    fn wrong_length_is_frame_size_error() {
        for (stream_id, payload) in [(0, &b"\0\0\x01"[..]), (1, b"\0\0\0\x01\0"), (1, b"")] {
            assert_eq!(
                decode(&raw(8, 0, stream_id, payload)),
                conn_err(
                    ErrorCode::FRAME_SIZE_ERROR,
                    Reason::BadFrameLength {
                        frame: "WINDOW_UPDATE",
                        len: payload.len() as u32
                    }
                )
            );
        }
    }

    #[test]
    fn zero_increment() {
        assert_eq!(
            decode(&raw(8, 0, 0, b"\0\0\0\0")),
            conn_err(ErrorCode::PROTOCOL_ERROR, Reason::ZeroWindowIncrement)
        );
        assert_eq!(
            decode(&raw(8, 0, 3, b"\0\0\0\0")),
            stream_err(3, ErrorCode::PROTOCOL_ERROR, Reason::ZeroWindowIncrement)
        );
        // Only the reserved bit set still means an increment of 0.
        assert_eq!(
            decode(&raw(8, 0, 3, b"\x80\0\0\0")),
            stream_err(3, ErrorCode::PROTOCOL_ERROR, Reason::ZeroWindowIncrement)
        );
    }

    #[test]
    fn unknown_flags_ignored_and_reserved_bits_masked() {
        let frame = decode(&raw(8, 0xff, 0x8000_0007, b"\x80\0\0\x10")).unwrap();
        assert_eq!(
            frame,
            Frame::WindowUpdate(WindowUpdate {
                stream_id: StreamId::new(7),
                increment: 16,
            })
        );
    }
}
