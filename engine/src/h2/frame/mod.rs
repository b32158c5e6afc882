//! HTTP/2 frames (RFC 9113 §4 and §6): the 9-octet frame head and one type per
//! frame kind, each with a symmetric `decode`/`encode`.
//!
//! Decoding is zero-copy: payload fields are slices of the `Bytes` handed in.
//! Decoding checks everything a frame can be judged on by itself (stream id 0 or
//! not, lengths, padding, setting ranges); checks that need connection state
//! (SETTINGS_MAX_FRAME_SIZE, stream states, flow control) belong to the caller.

use bytes::Bytes;

use super::{Error, ErrorCode, Reason, StreamId};

mod continuation;
mod data;
mod go_away;
mod headers;
mod ping;
mod priority;
mod push_promise;
mod rst_stream;
mod settings;
mod unknown;
mod window_update;

pub use continuation::Continuation;
pub use data::Data;
pub use go_away::GoAway;
pub use headers::{Headers, PrioritySpec};
pub use ping::Ping;
pub use priority::Priority;
pub use push_promise::PushPromise;
pub use rst_stream::RstStream;
pub use settings::{setting_id, Settings};
pub use unknown::Unknown;
pub use window_update::WindowUpdate;

/// Length of the frame head: 24-bit length, type, flags, 31-bit stream id.
pub const HEAD_LEN: usize = 9;
/// SETTINGS_MAX_FRAME_SIZE before the peer says otherwise, and its lower bound.
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest SETTINGS_MAX_FRAME_SIZE allowed: the 24-bit length field's range.
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;

/// Flag bits. Their meaning depends on the frame type, so equal values share a bit.
pub mod flags {
    /// DATA, HEADERS: the sender's last frame on the stream.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgement.
    pub const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the header block ends here.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a pad-length octet and padding are present.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: the dependency, exclusive bit and weight are present.
    pub const PRIORITY: u8 = 0x20;
}

/// The frame types of RFC 9113 §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// DATA (§6.1).
    Data = 0,
    /// HEADERS (§6.2).
    Headers = 1,
    /// PRIORITY (§6.3).
    Priority = 2,
    /// RST_STREAM (§6.4).
    RstStream = 3,
    /// SETTINGS (§6.5).
    Settings = 4,
    /// PUSH_PROMISE (§6.6).
    PushPromise = 5,
    /// PING (§6.7).
    Ping = 6,
    /// GOAWAY (§6.8).
    GoAway = 7,
    /// WINDOW_UPDATE (§6.9).
    WindowUpdate = 8,
    /// CONTINUATION (§6.10).
    Continuation = 9,
}

impl Kind {
    /// The known frame type with this type octet, if any.
    pub fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::Data,
            1 => Kind::Headers,
            2 => Kind::Priority,
            3 => Kind::RstStream,
            4 => Kind::Settings,
            5 => Kind::PushPromise,
            6 => Kind::Ping,
            7 => Kind::GoAway,
            8 => Kind::WindowUpdate,
            9 => Kind::Continuation,
            _ => return None,
        })
    }

    /// The RFC name, e.g. `"WINDOW_UPDATE"`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Data => "DATA",
            Kind::Headers => "HEADERS",
            Kind::Priority => "PRIORITY",
            Kind::RstStream => "RST_STREAM",
            Kind::Settings => "SETTINGS",
            Kind::PushPromise => "PUSH_PROMISE",
            Kind::Ping => "PING",
            Kind::GoAway => "GOAWAY",
            Kind::WindowUpdate => "WINDOW_UPDATE",
            Kind::Continuation => "CONTINUATION",
        }
    }
}

/// The name of any frame type octet: the RFC name, or `"UNKNOWN"`.
pub fn kind_name(kind: u8) -> &'static str {
    Kind::from_u8(kind).map_or("UNKNOWN", Kind::name)
}

/// The 9-octet frame head (RFC 9113 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Payload length (24 bits).
    pub length: u32,
    /// Frame type octet; kept raw because unknown types must be tolerated.
    pub kind: u8,
    /// Flag octet, including flags this implementation does not know.
    pub flags: u8,
    /// Stream id, reserved bit cleared.
    pub stream_id: StreamId,
}

impl Head {
    /// Parses a head. The reserved bit of the stream id is dropped, as §4.1 requires.
    pub fn parse(bytes: &[u8; HEAD_LEN]) -> Head {
        let [l0, l1, l2, kind, flags, s0, s1, s2, s3] = *bytes;
        Head {
            length: u32::from_be_bytes([0, l0, l1, l2]),
            kind,
            flags,
            stream_id: StreamId::new(u32::from_be_bytes([s0, s1, s2, s3])),
        }
    }

    /// Appends the 9 octets. `length` must fit in 24 bits; only the low 24 are written.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(&self.to_bytes());
    }

    /// The 9 octets, for writing over a placeholder. `length` must fit in 24
    /// bits; only the low 24 are written.
    pub fn to_bytes(&self) -> [u8; HEAD_LEN] {
        debug_assert!(self.length <= MAX_MAX_FRAME_SIZE, "frame too long");
        let [_, l0, l1, l2] = self.length.to_be_bytes();
        let [s0, s1, s2, s3] = self.stream_id.get().to_be_bytes();
        [l0, l1, l2, self.kind, self.flags, s0, s1, s2, s3]
    }
}

/// Writes a head for a payload of `len` octets (a caller bug if it exceeds 24 bits).
fn write_head(dst: &mut Vec<u8>, kind: Kind, flags: u8, stream_id: StreamId, len: usize) {
    Head {
        length: u32::try_from(len).unwrap_or(u32::MAX),
        kind: kind as u8,
        flags,
        stream_id,
    }
    .encode(dst);
}

/// A frame of any type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// DATA.
    Data(Data),
    /// HEADERS.
    Headers(Headers),
    /// PRIORITY.
    Priority(Priority),
    /// RST_STREAM.
    RstStream(RstStream),
    /// SETTINGS.
    Settings(Settings),
    /// PUSH_PROMISE.
    PushPromise(PushPromise),
    /// PING.
    Ping(Ping),
    /// GOAWAY.
    GoAway(GoAway),
    /// WINDOW_UPDATE.
    WindowUpdate(WindowUpdate),
    /// CONTINUATION.
    Continuation(Continuation),
    /// A frame type this implementation does not know; §4.1 says to ignore it,
    /// but it is handed up so the connection can still reject it mid header block.
    Unknown(Unknown),
}

impl Frame {
    /// Decodes one frame whose head has been parsed and whose payload is
    /// `payload` (`payload.len()` must equal `head.length`; a mismatch is a
    /// FRAME_SIZE_ERROR connection error).
    ///
    /// Does not check SETTINGS_MAX_FRAME_SIZE: the connection knows the setting.
    /// Unknown frame types become [`Frame::Unknown`]; unknown flags are ignored.
    pub fn decode(head: Head, payload: Bytes) -> Result<Frame, Error> {
        if usize::try_from(head.length).ok() != Some(payload.len()) {
            return Err(Error::connection(
                ErrorCode::FRAME_SIZE_ERROR,
                Reason::BadFrameLength {
                    frame: kind_name(head.kind),
                    len: head.length,
                },
            ));
        }
        let Some(kind) = Kind::from_u8(head.kind) else {
            return Ok(Frame::Unknown(Unknown::decode(head, payload)));
        };
        Ok(match kind {
            Kind::Data => Data::decode(head, payload)?.into(),
            Kind::Headers => Headers::decode(head, payload)?.into(),
            Kind::Priority => Priority::decode(head, payload)?.into(),
            Kind::RstStream => RstStream::decode(head, payload)?.into(),
            Kind::Settings => Settings::decode(head, payload)?.into(),
            Kind::PushPromise => PushPromise::decode(head, payload)?.into(),
            Kind::Ping => Ping::decode(head, payload)?.into(),
            Kind::GoAway => GoAway::decode(head, payload)?.into(),
            Kind::WindowUpdate => WindowUpdate::decode(head, payload)?.into(),
            Kind::Continuation => Continuation::decode(head, payload)?.into(),
        })
    }

    /// Appends the 9-octet head and the payload to `dst`.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        match self {
            Frame::Data(f) => f.encode(dst),
            Frame::Headers(f) => f.encode(dst),
            Frame::Priority(f) => f.encode(dst),
            Frame::RstStream(f) => f.encode(dst),
            Frame::Settings(f) => f.encode(dst),
            Frame::PushPromise(f) => f.encode(dst),
            Frame::Ping(f) => f.encode(dst),
            Frame::GoAway(f) => f.encode(dst),
            Frame::WindowUpdate(f) => f.encode(dst),
            Frame::Continuation(f) => f.encode(dst),
            Frame::Unknown(f) => f.encode(dst),
        }
    }

    /// The stream the frame belongs to; 0 for connection-level frames.
    pub fn stream_id(&self) -> StreamId {
        match self {
            Frame::Data(f) => f.stream_id,
            Frame::Headers(f) => f.stream_id,
            Frame::Priority(f) => f.stream_id,
            Frame::RstStream(f) => f.stream_id,
            Frame::Settings(_) | Frame::Ping(_) | Frame::GoAway(_) => StreamId::ZERO,
            Frame::PushPromise(f) => f.stream_id,
            Frame::WindowUpdate(f) => f.stream_id,
            Frame::Continuation(f) => f.stream_id,
            Frame::Unknown(f) => f.stream_id,
        }
    }

    /// The RFC name of the frame's type, or `"UNKNOWN"`.
    pub fn kind_name(&self) -> &'static str {
        let kind = match self {
            Frame::Data(_) => Kind::Data,
            Frame::Headers(_) => Kind::Headers,
            Frame::Priority(_) => Kind::Priority,
            Frame::RstStream(_) => Kind::RstStream,
            Frame::Settings(_) => Kind::Settings,
            Frame::PushPromise(_) => Kind::PushPromise,
            Frame::Ping(_) => Kind::Ping,
            Frame::GoAway(_) => Kind::GoAway,
            Frame::WindowUpdate(_) => Kind::WindowUpdate,
            Frame::Continuation(_) => Kind::Continuation,
            Frame::Unknown(_) => return "UNKNOWN",
        };
        kind.name()
    }
}

/// A connection error of type FRAME_SIZE_ERROR for a frame of the wrong length.
fn bad_length(kind: Kind, len: usize) -> Error {
    Error::connection(
        ErrorCode::FRAME_SIZE_ERROR,
        Reason::BadFrameLength {
            frame: kind.name(),
            len: u32::try_from(len).unwrap_or(u32::MAX),
        },
    )
}

/// Rejects a stream-level frame on stream 0 (connection PROTOCOL_ERROR).
fn require_stream(kind: Kind, head: &Head) -> Result<(), Error> {
    if head.stream_id.is_zero() {
        return Err(Error::connection(
            ErrorCode::PROTOCOL_ERROR,
            Reason::StreamIdZero { frame: kind.name() },
        ));
    }
    Ok(())
}

/// Rejects a connection-level frame on a stream (connection PROTOCOL_ERROR).
fn require_connection(kind: Kind, head: &Head) -> Result<(), Error> {
    if !head.stream_id.is_zero() {
        return Err(Error::connection(
            ErrorCode::PROTOCOL_ERROR,
            Reason::StreamIdNotZero {
                frame: kind.name(),
                id: head.stream_id,
            },
        ));
    }
    Ok(())
}

/// Removes the pad-length octet and the padding of a frame that may be PADDED.
///
/// `fixed` is the length of the fields between the pad-length octet and the
/// padded content (5 priority octets of HEADERS, 4 promised-id octets of
/// PUSH_PROMISE); the result still starts with them. Returns the pad length when
/// the frame was padded.
///
/// Padding may fill all the room left for content (an empty DATA or header block
/// fragment): RFC 9113 §6.1 only forbids padding as long as the whole payload or
/// longer, i.e. longer than what follows the pad-length octet, and §6.2 forbids
/// padding that "exceeds the size remaining for the header block fragment".
fn strip_padding(
    kind: Kind,
    flags: u8,
    payload: Bytes,
    fixed: usize,
) -> Result<(Bytes, Option<u8>), Error> {
    let len = payload.len();
    if flags & flags::PADDED == 0 {
        if len < fixed {
            return Err(bad_length(kind, len));
        }
        return Ok((payload, None));
    }
    let Some(&pad_len) = payload.first() else {
        return Err(bad_length(kind, len));
    };
    // `len >= 1` here, so neither subtraction can underflow once `rest >= fixed`.
    let rest = len - 1;
    if rest < fixed {
        return Err(bad_length(kind, len));
    }
    let pad = usize::from(pad_len);
    if pad > rest - fixed {
        return Err(Error::connection(
            ErrorCode::PROTOCOL_ERROR,
            Reason::BadPadding { frame: kind.name() },
        ));
    }
    Ok((payload.slice(1..len - pad), Some(pad_len)))
}

/// Writes a (possibly padded) frame: head, pad-length octet, `fixed` fields,
/// `content`, then zeroed padding (§6.1: padding octets MUST be zero).
fn encode_padded(
    dst: &mut Vec<u8>,
    kind: Kind,
    flags: u8,
    stream_id: StreamId,
    pad_len: Option<u8>,
    fixed: &[u8],
    content: &[u8],
) {
    let body = fixed.len() + content.len();
    match pad_len {
        None => {
            write_head(dst, kind, flags & !flags::PADDED, stream_id, body);
            dst.extend_from_slice(fixed);
            dst.extend_from_slice(content);
        }
        Some(pad_len) => {
            let pad = usize::from(pad_len);
            write_head(dst, kind, flags | flags::PADDED, stream_id, 1 + body + pad);
            dst.push(pad_len);
            dst.extend_from_slice(fixed);
            dst.extend_from_slice(content);
            dst.resize(dst.len() + pad, 0);
        }
    }
}

#[cfg(test)]
mod test_util {
    use super::*;

    /// Decodes a frame from its wire bytes (head included).
    pub(super) fn decode(bytes: &[u8]) -> Result<Frame, Error> {
        let head: [u8; HEAD_LEN] = bytes[..HEAD_LEN].try_into().unwrap();
        Frame::decode(
            Head::parse(&head),
            Bytes::copy_from_slice(&bytes[HEAD_LEN..]),
        )
    }

    /// Encodes a frame to its wire bytes.
    pub(super) fn encode(frame: &Frame) -> Vec<u8> {
        let mut dst = Vec::new();
        frame.encode(&mut dst);
        dst
    }

    /// Builds wire bytes from head fields and a payload.
    pub(super) fn raw(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        let len = payload.len() as u32;
        v.extend_from_slice(&len.to_be_bytes()[1..]);
        v.push(kind);
        v.push(flags);
        v.extend_from_slice(&stream_id.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// A connection error with `code`.
    pub(super) fn conn_err(code: ErrorCode, reason: Reason) -> Result<Frame, Error> {
        Err(Error::connection(code, reason))
    }

    /// A stream error with `code`.
    pub(super) fn stream_err(id: u32, code: ErrorCode, reason: Reason) -> Result<Frame, Error> {
        Err(Error::stream(StreamId::new(id), code, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::{decode, encode, raw};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn head_parse_and_encode() {
        let bytes = [0x01, 0x02, 0x03, 0xfa, 0x5a, 0x80, 0x00, 0x00, 0x07];
        let head = Head::parse(&bytes);
        assert_eq!(
            head,
            Head {
                length: 0x010203,
                kind: 0xfa,
                flags: 0x5a,
                stream_id: StreamId::new(7),
            }
        );
        let mut out = Vec::new();
        head.encode(&mut out);
        // The reserved bit is dropped on parse, so it is not written back.
        assert_eq!(out, [0x01, 0x02, 0x03, 0xfa, 0x5a, 0, 0, 0, 7]);
    }

    #[test]
    fn kinds_and_names() {
        for b in 0..=9u8 {
            let kind = Kind::from_u8(b).unwrap();
            assert_eq!(kind as u8, b);
            assert_eq!(kind_name(b), kind.name());
        }
        assert_eq!(Kind::from_u8(10), None);
        assert_eq!(kind_name(0xff), "UNKNOWN");
        assert_eq!(Kind::WindowUpdate.name(), "WINDOW_UPDATE");
        assert_eq!(Kind::GoAway.name(), "GOAWAY");
        assert_eq!(Kind::RstStream.name(), "RST_STREAM");
        assert_eq!(Kind::PushPromise.name(), "PUSH_PROMISE");
    }

    #[test]
    fn length_mismatch_is_frame_size_error() {
        let head = Head {
            length: 5,
            kind: Kind::Ping as u8,
            flags: 0,
            stream_id: StreamId::ZERO,
        };
        let err = Frame::decode(head, Bytes::from_static(&[0; 8])).unwrap_err();
        assert_eq!(
            err,
            Error::connection(
                ErrorCode::FRAME_SIZE_ERROR,
                Reason::BadFrameLength {
                    frame: "PING",
                    len: 5
                }
            )
        );
    }

    #[test]
    fn frame_accessors() {
        let f: Frame = Ping {
            ack: false,
            payload: [0; 8],
        }
        .into();
        assert_eq!(f.stream_id(), StreamId::ZERO);
        assert_eq!(f.kind_name(), "PING");
        let f: Frame = Data::new(StreamId::new(3), Bytes::new(), false).into();
        assert_eq!(f.stream_id(), StreamId::new(3));
        assert_eq!(f.kind_name(), "DATA");
        let f = decode(&raw(0x42, 0, 5, b"x")).unwrap();
        assert_eq!(f.stream_id(), StreamId::new(5));
        assert_eq!(f.kind_name(), "UNKNOWN");
    }

    #[test]
    fn payload_slices_share_the_input() {
        // Zero-copy: the decoded data points into the payload handed in.
        let payload = Bytes::from_static(b"\x02hello\0\0");
        let head = Head {
            length: payload.len() as u32,
            kind: 0,
            flags: flags::PADDED,
            stream_id: StreamId::new(1),
        };
        let Frame::Data(d) = Frame::decode(head, payload.clone()).unwrap() else {
            panic!("not DATA")
        };
        assert_eq!(d.data, "hello");
        assert_eq!(d.data.as_ptr(), payload[1..].as_ptr());
    }

    fn bytes_strategy() -> impl Strategy<Value = Bytes> {
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Bytes::from)
    }

    fn stream() -> impl Strategy<Value = StreamId> {
        (1u32..=0x7fff_ffff).prop_map(StreamId::new)
    }

    fn any_stream() -> impl Strategy<Value = StreamId> {
        (0u32..=0x7fff_ffff).prop_map(StreamId::new)
    }

    fn error_code() -> impl Strategy<Value = ErrorCode> {
        any::<u32>().prop_map(ErrorCode)
    }

    fn priority_spec() -> impl Strategy<Value = PrioritySpec> {
        (any_stream(), any::<bool>(), any::<u8>()).prop_map(|(dependency, exclusive, weight)| {
            PrioritySpec {
                dependency,
                exclusive,
                weight,
            }
        })
    }

    fn opt_setting(range: std::ops::RangeInclusive<u32>) -> impl Strategy<Value = Option<u32>> {
        proptest::option::of(range)
    }

    fn settings() -> impl Strategy<Value = Settings> {
        let values = (
            opt_setting(0..=u32::MAX),
            proptest::option::of(any::<bool>()),
            opt_setting(0..=u32::MAX),
            opt_setting(0..=0x7fff_ffff),
            opt_setting(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE),
            opt_setting(0..=u32::MAX),
        )
            .prop_map(|(a, b, c, d, e, f)| Settings {
                ack: false,
                header_table_size: a,
                enable_push: b,
                max_concurrent_streams: c,
                initial_window_size: d,
                max_frame_size: e,
                max_header_list_size: f,
            });
        prop_oneof![Just(Settings::ack()), values]
    }

    fn frame() -> impl Strategy<Value = Frame> {
        let pad = proptest::option::of(any::<u8>());
        prop_oneof![
            (stream(), bytes_strategy(), any::<bool>(), pad.clone()).prop_map(
                |(stream_id, data, end_stream, pad_len)| Frame::Data(Data {
                    stream_id,
                    data,
                    end_stream,
                    pad_len
                })
            ),
            (
                stream(),
                proptest::option::of(priority_spec()),
                bytes_strategy(),
                any::<bool>(),
                any::<bool>(),
                pad.clone()
            )
                .prop_filter_map(
                    "self-dependency",
                    |(stream_id, priority, header_block, end_stream, end_headers, pad_len)| {
                        if priority.is_some_and(|p| p.dependency == stream_id) {
                            return None;
                        }
                        Some(Frame::Headers(Headers {
                            stream_id,
                            priority,
                            header_block,
                            end_stream,
                            end_headers,
                            pad_len,
                        }))
                    }
                ),
            (stream(), priority_spec()).prop_filter_map("self-dependency", |(stream_id, spec)| {
                (spec.dependency != stream_id)
                    .then_some(Frame::Priority(Priority { stream_id, spec }))
            }),
            (stream(), error_code()).prop_map(|(stream_id, error_code)| Frame::RstStream(
                RstStream {
                    stream_id,
                    error_code
                }
            )),
            settings().prop_map(Frame::Settings),
            (
                stream(),
                any_stream(),
                bytes_strategy(),
                any::<bool>(),
                pad.clone()
            )
                .prop_map(
                    |(stream_id, promised_id, header_block, end_headers, pad_len)| {
                        Frame::PushPromise(PushPromise {
                            stream_id,
                            promised_id,
                            header_block,
                            end_headers,
                            pad_len,
                        })
                    }
                ),
            (any::<bool>(), any::<[u8; 8]>())
                .prop_map(|(ack, payload)| Frame::Ping(Ping { ack, payload })),
            (any_stream(), error_code(), bytes_strategy()).prop_map(
                |(last_stream_id, error_code, debug_data)| Frame::GoAway(GoAway {
                    last_stream_id,
                    error_code,
                    debug_data
                })
            ),
            (any_stream(), 1u32..=0x7fff_ffff).prop_map(|(stream_id, increment)| {
                Frame::WindowUpdate(WindowUpdate {
                    stream_id,
                    increment,
                })
            }),
            (stream(), bytes_strategy(), any::<bool>()).prop_map(
                |(stream_id, header_block, end_headers)| Frame::Continuation(Continuation {
                    stream_id,
                    header_block,
                    end_headers
                })
            ),
            (10u8..=255, any::<u8>(), any_stream(), bytes_strategy()).prop_map(
                |(kind, flags, stream_id, payload)| Frame::Unknown(Unknown {
                    kind,
                    flags,
                    stream_id,
                    payload
                })
            ),
        ]
    }

    proptest! {
        // Cheap cases, and every frame type and error path should be hit.
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn round_trip(frame in frame()) {
            let bytes = encode(&frame);
            let head = Head::parse(bytes[..HEAD_LEN].try_into().unwrap());
            prop_assert_eq!(head.length as usize, bytes.len() - HEAD_LEN);
            prop_assert_eq!(head.stream_id, frame.stream_id());
            prop_assert_eq!(kind_name(head.kind), frame.kind_name());
            let decoded = Frame::decode(head, Bytes::copy_from_slice(&bytes[HEAD_LEN..]));
            prop_assert_eq!(decoded, Ok(frame));
        }

        #[test]
        fn decode_never_panics(
            kind in prop_oneof![0u8..=10, any::<u8>()],
            flags in any::<u8>(),
            stream_id in prop_oneof![0u32..=3, any::<u32>()],
            payload in proptest::collection::vec(any::<u8>(), 0..80),
            length_delta in prop_oneof![Just(0i64), -2i64..=2],
        ) {
            let length = (payload.len() as i64 + length_delta).max(0) as u32;
            let head = Head { length, kind, flags, stream_id: StreamId::new(stream_id) };
            let _ = Frame::decode(head, Bytes::from(payload));
        }

        #[test]
        fn decoded_frames_re_encode_to_a_decodable_frame(
            kind in 0u8..=10,
            flags in any::<u8>(),
            stream_id in 0u32..=3,
            payload in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            // Whatever decodes must encode to something that decodes to the same frame.
            let bytes = raw(kind, flags, stream_id, &payload);
            if let Ok(frame) = decode(&bytes) {
                prop_assert_eq!(decode(&encode(&frame)), Ok(frame));
            }
        }
    }
}
