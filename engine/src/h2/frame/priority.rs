//! PRIORITY (RFC 9113 §6.3).

use bytes::Bytes;

use super::{require_stream, write_head, Frame, Head, Kind, PrioritySpec};
use crate::h2::{Error, ErrorCode, Reason, StreamId};

/// A PRIORITY frame. Deprecated by RFC 9113 but still legal, so it is parsed and
/// validated, then ignored by the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priority {
    /// The stream (never 0).
    pub stream_id: StreamId,
    /// Its dependency and weight.
    pub spec: PrioritySpec,
}

impl Priority {
    /// Decodes the payload of a PRIORITY frame.
    pub fn decode(head: Head, payload: Bytes) -> Result<Self, Error> {
        require_stream(Kind::Priority, &head)?;
        let Ok(spec) = <[u8; PrioritySpec::LEN]>::try_from(payload.as_ref()) else {
            // §6.3: a stream error, unlike most length errors.
            return Err(Error::stream(
                head.stream_id,
                ErrorCode::FRAME_SIZE_ERROR,
                Reason::BadFrameLength {
                    frame: Kind::Priority.name(),
                    len: head.length,
                },
            ));
        };
        let spec = PrioritySpec::parse(spec).check(head.stream_id)?;
        Ok(Priority {
            stream_id: head.stream_id,
            spec,
        })
    }

    /// Appends the head and payload to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        write_head(dst, Kind::Priority, 0, self.stream_id, PrioritySpec::LEN);
        dst.extend_from_slice(&self.spec.to_bytes());
    }
}

impl From<Priority> for Frame {
    fn from(f: Priority) -> Frame {
        Frame::Priority(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{conn_err, decode, encode, raw, stream_err};
    use super::*;

    #[test]
    fn decode_and_encode() {
        let bytes = raw(2, 0, 5, b"\x00\x00\x00\x03\xff");
        let frame = decode(&bytes).unwrap();
        assert_eq!(
            frame,
            Frame::Priority(Priority {
                stream_id: StreamId::new(5),
                spec: PrioritySpec {
                    dependency: StreamId::new(3),
                    exclusive: false,
                    weight: 255,
                },
            })
        );
        assert_eq!(encode(&frame), bytes);
        let bytes = raw(2, 0, 5, b"\x80\x00\x00\x00\x00");
        let Frame::Priority(p) = decode(&bytes).unwrap() else {
            panic!()
        };
        assert!(p.spec.exclusive);
        assert_eq!(p.spec.dependency, StreamId::ZERO);
        assert_eq!(encode(&p.into()), bytes);
    }

    #[test]
    fn wrong_length_is_stream_frame_size_error() {
        for payload in [&b"\0\0\0\x03"[..], b"\0\0\0\x03\x10\0", b""] {
            assert_eq!(
                decode(&raw(2, 0, 5, payload)),
                stream_err(
                    5,
                    ErrorCode::FRAME_SIZE_ERROR,
                    Reason::BadFrameLength {
                        frame: "PRIORITY",
                        len: payload.len() as u32
                    }
                )
            );
        }
    }

    #[test]
    fn self_dependency_is_stream_error() {
        assert_eq!(
            decode(&raw(2, 0, 5, b"\x80\x00\x00\x05\x10")),
            stream_err(
                5,
                ErrorCode::PROTOCOL_ERROR,
                Reason::SelfDependency(StreamId::new(5))
            )
        );
    }

    #[test]
    fn stream_zero_is_protocol_error() {
        assert_eq!(
            decode(&raw(2, 0, 0, b"\0\0\0\x03\x10")),
            conn_err(
                ErrorCode::PROTOCOL_ERROR,
                Reason::StreamIdZero { frame: "PRIORITY" }
            )
        );
    }

    #[test]
    fn unknown_flags_ignored_and_reserved_bit_masked() {
        let frame = decode(&raw(2, 0xff, 0x8000_0005, b"\0\0\0\x03\x10")).unwrap();
        assert_eq!(frame.stream_id(), StreamId::new(5));
    }
}
