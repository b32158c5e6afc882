//! PUSH_PROMISE (RFC 9113 §6.6).

use bytes::Bytes;

use super::{bad_length, encode_padded, flags, require_stream, strip_padding, Frame, Head, Kind};
use crate::h2::{Error, StreamId};

/// Octets of the promised stream id.
const PROMISED_ID_LEN: usize = 4;

/// A PUSH_PROMISE frame. gRPC never enables push, but the frame is still decoded
/// so the connection can reject it with the right error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushPromise {
    /// The stream the promise is associated with (never 0).
    pub stream_id: StreamId,
    /// The stream the server reserves, reserved bit cleared.
    pub promised_id: StreamId,
    /// The header block fragment, without padding.
    pub header_block: Bytes,
    /// END_HEADERS: no CONTINUATION follows.
    pub end_headers: bool,
    /// The number of padding octets, when the frame is PADDED.
    pub pad_len: Option<u8>,
}

impl PushPromise {
    /// Decodes the payload of a PUSH_PROMISE frame.
    pub fn decode(head: Head, payload: Bytes) -> Result<Self, Error> {
        require_stream(Kind::PushPromise, &head)?;
        let (body, pad_len) =
            strip_padding(Kind::PushPromise, head.flags, payload, PROMISED_ID_LEN)?;
        // `strip_padding` guaranteed the octets; the error is only a fallback.
        let Some(&[p0, p1, p2, p3]) = body.get(..PROMISED_ID_LEN) else {
            return Err(bad_length(Kind::PushPromise, body.len()));
        };
        Ok(PushPromise {
            stream_id: head.stream_id,
            promised_id: StreamId::new(u32::from_be_bytes([p0, p1, p2, p3])),
            header_block: body.slice(PROMISED_ID_LEN..),
            end_headers: head.flags & flags::END_HEADERS != 0,
            pad_len,
        })
    }

    /// Appends the head and payload to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        let f = if self.end_headers {
            flags::END_HEADERS
        } else {
            0
        };
        encode_padded(
            dst,
            Kind::PushPromise,
            f,
            self.stream_id,
            self.pad_len,
            &self.promised_id.get().to_be_bytes(),
            &self.header_block,
        );
    }
}

impl From<PushPromise> for Frame {
    fn from(f: PushPromise) -> Frame {
        Frame::PushPromise(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{conn_err, decode, encode, raw};
    use super::*;
    use crate::h2::{ErrorCode, Reason};

    #[test]
    fn decode_and_encode_plain() {
        let bytes = raw(5, flags::END_HEADERS, 1, b"\0\0\0\x02\x82\x84");
        let frame = decode(&bytes).unwrap();
        assert_eq!(
            frame,
            Frame::PushPromise(PushPromise {
                stream_id: StreamId::new(1),
                promised_id: StreamId::new(2),
                header_block: Bytes::from_static(b"\x82\x84"),
                end_headers: true,
                pad_len: None,
            })
        );
        assert_eq!(encode(&frame), bytes);
    }

    #[test]
    fn decode_and_encode_padded() {
        let bytes = raw(5, flags::PADDED, 1, b"\x01\0\0\0\x04\x82\0");
        let frame = decode(&bytes).unwrap();
        assert_eq!(
            frame,
            Frame::PushPromise(PushPromise {
                stream_id: StreamId::new(1),
                promised_id: StreamId::new(4),
                header_block: Bytes::from_static(b"\x82"),
                end_headers: false,
                pad_len: Some(1),
            })
        );
        assert_eq!(encode(&frame), bytes);
    }

    #[test]
    fn too_short_is_frame_size_error() {
        let err = |len| {
            conn_err(
                ErrorCode::FRAME_SIZE_ERROR,
                Reason::BadFrameLength {
                    frame: "PUSH_PROMISE",
                    len,
                },
            )
        };
        assert_eq!(decode(&raw(5, 0, 1, b"\0\0\x02")), err(3));
        assert_eq!(decode(&raw(5, flags::PADDED, 1, b"\0\0\0\x02")), err(4));
        assert_eq!(decode(&raw(5, flags::PADDED, 1, b"")), err(0));
    }

    #[test]
    fn padding_errors() {
        let bad = conn_err(
            ErrorCode::PROTOCOL_ERROR,
            Reason::BadPadding {
                frame: "PUSH_PROMISE",
            },
        );
        // Padding may not eat into the promised id.
        assert_eq!(decode(&raw(5, flags::PADDED, 1, b"\x01\0\0\0\x02")), bad);
        assert_eq!(decode(&raw(5, flags::PADDED, 1, b"\x02\0\0\0\x02\0")), bad);
        // Filling exactly the fragment's room is fine.
        assert!(decode(&raw(5, flags::PADDED, 1, b"\x01\0\0\0\x02\0")).is_ok());
    }

    #[test]
    fn stream_zero_is_protocol_error() {
        assert_eq!(
            decode(&raw(5, 0, 0, b"\0\0\0\x02")),
            conn_err(
                ErrorCode::PROTOCOL_ERROR,
                Reason::StreamIdZero {
                    frame: "PUSH_PROMISE"
                }
            )
        );
    }

    #[test]
    fn unknown_flags_ignored_and_reserved_bits_masked() {
        let frame = decode(&raw(5, !flags::PADDED, 0x8000_0001, b"\x80\0\0\x02")).unwrap();
        assert_eq!(
            frame,
            Frame::PushPromise(PushPromise {
                stream_id: StreamId::new(1),
                promised_id: StreamId::new(2),
                header_block: Bytes::new(),
                end_headers: true,
                pad_len: None,
            })
        );
    }
}
