//! HEADERS (RFC 9113 §6.2) and the priority fields it shares with PRIORITY.

use bytes::Bytes;

use super::{bad_length, encode_padded, flags, require_stream, strip_padding, Frame, Head, Kind};
use crate::h2::{Error, ErrorCode, Reason, StreamId};

/// The deprecated priority fields of HEADERS and PRIORITY (RFC 9113 §5.3.2).
/// Kept so they can be checked and skipped; this engine does not prioritise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrioritySpec {
    /// The stream depended on.
    pub dependency: StreamId,
    /// Whether the dependency is exclusive (the E bit).
    pub exclusive: bool,
    /// The weight as on the wire: 0..=255 means 1..=256.
    pub weight: u8,
}

impl PrioritySpec {
    /// Octets on the wire.
    pub(super) const LEN: usize = 5;

    /// Parses the 5 octets.
    pub(super) fn parse(bytes: [u8; Self::LEN]) -> Self {
        let [d0, d1, d2, d3, weight] = bytes;
        PrioritySpec {
            dependency: StreamId::new(u32::from_be_bytes([d0, d1, d2, d3])),
            exclusive: d0 & 0x80 != 0,
            weight,
        }
    }

    /// The 5 octets.
    pub(super) fn to_bytes(self) -> [u8; Self::LEN] {
        let e = if self.exclusive { 0x8000_0000 } else { 0 };
        let [d0, d1, d2, d3] = (self.dependency.get() | e).to_be_bytes();
        [d0, d1, d2, d3, self.weight]
    }

    /// Reads the spec at the start of `bytes` (the caller checked the length).
    pub(super) fn read(bytes: &[u8]) -> Option<Self> {
        let head: [u8; Self::LEN] = bytes.get(..Self::LEN)?.try_into().ok()?;
        Some(Self::parse(head))
    }

    /// Whether the stream depends on itself (RFC 7540 §5.3.1; RFC 9113 dropped the
    /// rule, but h2spec and deployed peers still expect the stream error).
    pub fn is_self_dependent(self, stream_id: StreamId) -> bool {
        self.dependency == stream_id
    }

    /// §5.3.1: a stream depending on itself is a stream error of type PROTOCOL_ERROR.
    pub(super) fn check(self, stream_id: StreamId) -> Result<Self, Error> {
        if self.is_self_dependent(stream_id) {
            return Err(Error::stream(
                stream_id,
                ErrorCode::PROTOCOL_ERROR,
                Reason::SelfDependency(stream_id),
            ));
        }
        Ok(self)
    }
}

/// A HEADERS frame: opens a stream or carries trailers, with the first fragment
/// of a header block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    /// The stream (never 0).
    pub stream_id: StreamId,
    /// The priority fields, when the PRIORITY flag is set.
    pub priority: Option<PrioritySpec>,
    /// The header block fragment, without padding.
    pub header_block: Bytes,
    /// END_STREAM: the sender's last frame on the stream.
    pub end_stream: bool,
    /// END_HEADERS: no CONTINUATION follows.
    pub end_headers: bool,
    /// The number of padding octets, when the frame is PADDED.
    pub pad_len: Option<u8>,
}

impl Headers {
    /// An unpadded HEADERS frame without priority fields.
    pub fn new(
        stream_id: StreamId,
        header_block: Bytes,
        end_stream: bool,
        end_headers: bool,
    ) -> Self {
        Headers {
            stream_id,
            priority: None,
            header_block,
            end_stream,
            end_headers,
            pad_len: None,
        }
    }

    /// Decodes the payload of a HEADERS frame.
    ///
    /// A self-dependency is a stream error (§5.3.1). The error does not carry the
    /// header block fragment, so HPACK never sees that block.
    pub fn decode(head: Head, payload: Bytes) -> Result<Self, Error> {
        require_stream(Kind::Headers, &head)?;
        let has_priority = head.flags & flags::PRIORITY != 0;
        let fixed = if has_priority { PrioritySpec::LEN } else { 0 };
        let (mut body, pad_len) = strip_padding(Kind::Headers, head.flags, payload, fixed)?;
        let priority = if has_priority {
            // `strip_padding` guaranteed the octets; the error is only a fallback.
            let spec = PrioritySpec::read(&body).ok_or_else(|| bad_length(Kind::Headers, 0))?;
            body = body.slice(PrioritySpec::LEN..);
            // Self-dependency is checked by the connection after HPACK decoding,
            // so the block still updates the dynamic table (RFC 9113 §4.3).
            Some(spec)
        } else {
            None
        };
        Ok(Headers {
            stream_id: head.stream_id,
            priority,
            header_block: body,
            end_stream: head.flags & flags::END_STREAM != 0,
            end_headers: head.flags & flags::END_HEADERS != 0,
            pad_len,
        })
    }

    /// Appends the head and payload to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        let mut f = 0;
        if self.end_stream {
            f |= flags::END_STREAM;
        }
        if self.end_headers {
            f |= flags::END_HEADERS;
        }
        let spec = self.priority.map(|p| {
            f |= flags::PRIORITY;
            p.to_bytes()
        });
        let fixed: &[u8] = match &spec {
            Some(bytes) => bytes,
            None => &[],
        };
        encode_padded(
            dst,
            Kind::Headers,
            f,
            self.stream_id,
            self.pad_len,
            fixed,
            &self.header_block,
        );
    }
}

impl From<Headers> for Frame {
    fn from(f: Headers) -> Frame {
        Frame::Headers(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{conn_err, decode, encode, raw};
    use super::*;

    #[test]
    fn decode_and_encode_plain() {
        let bytes = raw(1, flags::END_STREAM | flags::END_HEADERS, 1, b"\x82\x86");
        let frame = decode(&bytes).unwrap();
        assert_eq!(
            frame,
            Frame::Headers(Headers::new(
                StreamId::new(1),
                Bytes::from_static(b"\x82\x86"),
                true,
                true
            ))
        );
        assert_eq!(encode(&frame), bytes);
    }

    #[test]
    fn decode_and_encode_padded_with_priority() {
        let bytes = raw(
            1,
            flags::PADDED | flags::PRIORITY | flags::END_HEADERS,
            3,
            b"\x02\x80\x00\x00\x01\x0f\x82\0\0",
        );
        let frame = decode(&bytes).unwrap();
        assert_eq!(
            frame,
            Frame::Headers(Headers {
                stream_id: StreamId::new(3),
                priority: Some(PrioritySpec {
                    dependency: StreamId::new(1),
                    exclusive: true,
                    weight: 15,
                }),
                header_block: Bytes::from_static(b"\x82"),
                end_stream: false,
                end_headers: true,
                pad_len: Some(2),
            })
        );
        assert_eq!(encode(&frame), bytes);
    }

    #[test]
    fn padding_may_leave_an_empty_fragment() {
        let frame = decode(&raw(
            1,
            flags::PADDED | flags::PRIORITY,
            3,
            b"\x01\0\0\0\x01\x0f\0",
        ))
        .unwrap();
        let Frame::Headers(h) = frame else { panic!() };
        assert!(h.header_block.is_empty());
        assert_eq!(h.pad_len, Some(1));
    }

    #[test]
    fn padding_errors() {
        assert_eq!(
            decode(&raw(1, flags::PADDED, 1, b"")),
            conn_err(
                ErrorCode::FRAME_SIZE_ERROR,
                Reason::BadFrameLength {
                    frame: "HEADERS",
                    len: 0
                }
            )
        );
        let bad = conn_err(
            ErrorCode::PROTOCOL_ERROR,
            Reason::BadPadding { frame: "HEADERS" },
        );
        assert_eq!(decode(&raw(1, flags::PADDED, 1, b"\x02\x82")), bad);
        // Padding may not eat into the priority fields.
        assert_eq!(
            decode(&raw(
                1,
                flags::PADDED | flags::PRIORITY,
                3,
                b"\x01\0\0\0\x01\x0f"
            )),
            bad
        );
    }

    #[test]
    fn priority_too_short_is_frame_size_error() {
        assert_eq!(
            decode(&raw(1, flags::PRIORITY, 3, b"\0\0\0\x01")),
            conn_err(
                ErrorCode::FRAME_SIZE_ERROR,
                Reason::BadFrameLength {
                    frame: "HEADERS",
                    len: 4
                }
            )
        );
        assert_eq!(
            decode(&raw(1, flags::PRIORITY | flags::PADDED, 3, b"\0\0\0\0\x01")),
            conn_err(
                ErrorCode::FRAME_SIZE_ERROR,
                Reason::BadFrameLength {
                    frame: "HEADERS",
                    len: 5
                }
            )
        );
    }

    #[test]
    fn self_dependency_is_left_to_the_connection() {
        // The block must still reach the HPACK decoder, so decoding succeeds.
        let Frame::Headers(h) =
            decode(&raw(1, flags::PRIORITY, 3, b"\x80\0\0\x03\x0f\x82")).unwrap()
        else {
            panic!("not HEADERS")
        };
        assert!(h.priority.unwrap().is_self_dependent(h.stream_id));
    }

    #[test]
    fn stream_zero_is_protocol_error() {
        assert_eq!(
            decode(&raw(1, flags::END_HEADERS, 0, b"\x82")),
            conn_err(
                ErrorCode::PROTOCOL_ERROR,
                Reason::StreamIdZero { frame: "HEADERS" }
            )
        );
    }

    #[test]
    fn unknown_flags_ignored_and_reserved_bit_masked() {
        // Everything but PADDED and PRIORITY, whose presence changes the layout.
        let frame = decode(&raw(
            1,
            !(flags::PADDED | flags::PRIORITY),
            0x8000_0001,
            b"\x82",
        ))
        .unwrap();
        assert_eq!(
            frame,
            Frame::Headers(Headers::new(
                StreamId::new(1),
                Bytes::from_static(b"\x82"),
                true,
                true
            ))
        );
    }
}
