//! DATA (RFC 9113 §6.1).

use bytes::Bytes;

use super::{encode_padded, flags, require_stream, strip_padding, Frame, Head, Kind, HEAD_LEN};
use crate::h2::{Error, StreamId};

/// A DATA frame: a chunk of a stream's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// The stream (never 0).
    pub stream_id: StreamId,
    /// The data, without the pad-length octet and padding.
    pub data: Bytes,
    /// END_STREAM: the sender's last frame on the stream.
    pub end_stream: bool,
    /// The number of padding octets, when the frame is PADDED.
    pub pad_len: Option<u8>,
}

impl Data {
    /// An unpadded DATA frame.
    pub fn new(stream_id: StreamId, data: Bytes, end_stream: bool) -> Self {
        Data {
            stream_id,
            data,
            end_stream,
            pad_len: None,
        }
    }

    /// The payload length counted by flow control (§6.9.1 counts the whole
    /// payload): data, plus the pad-length octet and padding when padded.
    pub fn flow_len(&self) -> u32 {
        let data = u32::try_from(self.data.len()).unwrap_or(u32::MAX);
        match self.pad_len {
            None => data,
            Some(pad) => data.saturating_add(1).saturating_add(u32::from(pad)),
        }
    }

    /// Writes only the head of an unpadded DATA frame of `len` octets, so callers
    /// can append the payload straight from their own buffers.
    pub fn encode_head(stream_id: StreamId, len: u32, end_stream: bool, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&Self::head_bytes(stream_id, len, end_stream));
    }

    /// The head of an unpadded DATA frame of `len` octets, for callers that
    /// write the payload first and the head over a placeholder before it.
    pub fn head_bytes(stream_id: StreamId, len: u32, end_stream: bool) -> [u8; HEAD_LEN] {
        Head {
            length: len,
            kind: Kind::Data as u8,
            flags: if end_stream { flags::END_STREAM } else { 0 },
            stream_id,
        }
        .to_bytes()
    }

    /// Decodes the payload of a DATA frame.
    pub fn decode(head: Head, payload: Bytes) -> Result<Self, Error> {
        require_stream(Kind::Data, &head)?;
        let (data, pad_len) = strip_padding(Kind::Data, head.flags, payload, 0)?;
        Ok(Data {
            stream_id: head.stream_id,
            data,
            end_stream: head.flags & flags::END_STREAM != 0,
            pad_len,
        })
    }

    /// Appends the head and payload to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        let flags = if self.end_stream {
            flags::END_STREAM
        } else {
            0
        };
        encode_padded(
            dst,
            Kind::Data,
            flags,
            self.stream_id,
            self.pad_len,
            &[],
            &self.data,
        );
    }
}

impl From<Data> for Frame {
    fn from(f: Data) -> Frame {
        Frame::Data(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{conn_err, decode, encode, raw};
    use super::*;
    use crate::h2::{ErrorCode, Reason};

    #[test]
    fn decode_and_encode_plain() {
        let bytes = raw(0, flags::END_STREAM, 1, b"hello");
        let frame = decode(&bytes).unwrap();
        let expected = Data::new(StreamId::new(1), Bytes::from_static(b"hello"), true);
        assert_eq!(frame, Frame::Data(expected.clone()));
        assert_eq!(expected.flow_len(), 5);
        assert_eq!(encode(&frame), bytes);
    }

    #[test]
    fn decode_and_encode_padded() {
        let bytes = raw(0, flags::PADDED, 3, b"\x03abc\0\0\0");
        let frame = decode(&bytes).unwrap();
        let expected = Data {
            stream_id: StreamId::new(3),
            data: Bytes::from_static(b"abc"),
            end_stream: false,
            pad_len: Some(3),
        };
        assert_eq!(frame, Frame::Data(expected.clone()));
        assert_eq!(expected.flow_len(), 7);
        assert_eq!(encode(&frame), bytes);
    }

    #[test]
    fn padding_may_fill_the_whole_frame() {
        // Pad length = payload length - 1: empty data, still valid (§6.1).
        let frame = decode(&raw(0, flags::PADDED, 1, b"\x02\0\0")).unwrap();
        let Frame::Data(d) = frame else { panic!() };
        assert!(d.data.is_empty());
        assert_eq!(d.pad_len, Some(2));
        assert_eq!(d.flow_len(), 3);
        // Pad length 0 with nothing else.
        let frame = decode(&raw(0, flags::PADDED, 1, b"\x00")).unwrap();
        let Frame::Data(d) = frame else { panic!() };
        assert_eq!(d.pad_len, Some(0));
        assert_eq!(d.flow_len(), 1);
    }

    #[test]
    fn padding_as_long_as_payload_is_protocol_error() {
        let bad = conn_err(
            ErrorCode::PROTOCOL_ERROR,
            Reason::BadPadding { frame: "DATA" },
        );
        assert_eq!(decode(&raw(0, flags::PADDED, 1, b"\x04ab\0")), bad);
        assert_eq!(decode(&raw(0, flags::PADDED, 1, b"\x01")), bad);
        assert_eq!(decode(&raw(0, flags::PADDED, 1, b"\xff")), bad);
    }

    #[test]
    fn padded_without_pad_length_is_frame_size_error() {
        assert_eq!(
            decode(&raw(0, flags::PADDED, 1, b"")),
            conn_err(
                ErrorCode::FRAME_SIZE_ERROR,
                Reason::BadFrameLength {
                    frame: "DATA",
                    len: 0
                }
            )
        );
    }

    #[test]
    fn stream_zero_is_protocol_error() {
        assert_eq!(
            decode(&raw(0, 0, 0, b"x")),
            conn_err(
                ErrorCode::PROTOCOL_ERROR,
                Reason::StreamIdZero { frame: "DATA" }
            )
        );
        // The reserved bit does not make the id non-zero.
        assert_eq!(
            decode(&raw(0, 0, 0x8000_0000, b"x")),
            conn_err(
                ErrorCode::PROTOCOL_ERROR,
                Reason::StreamIdZero { frame: "DATA" }
            )
        );
    }

    #[test]
    fn unknown_flags_ignored_and_reserved_bit_masked() {
        let frame = decode(&raw(0, 0xf6, 0x8000_0005, b"x")).unwrap();
        assert_eq!(
            frame,
            Frame::Data(Data::new(StreamId::new(5), Bytes::from_static(b"x"), false))
        );
    }

    #[test]
    fn encode_head_matches_encode() {
        let data = Data::new(StreamId::new(7), Bytes::from_static(b"abcd"), true);
        let mut dst = Vec::new();
        Data::encode_head(data.stream_id, 4, true, &mut dst);
        assert_eq!(dst, Data::head_bytes(data.stream_id, 4, true));
        dst.extend_from_slice(&data.data);
        assert_eq!(dst, encode(&data.into()));
    }
}
