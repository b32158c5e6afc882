//! SETTINGS (RFC 9113 §6.5).

use bytes::Bytes;

use super::{
    bad_length, flags, require_connection, write_head, Frame, Head, Kind, DEFAULT_MAX_FRAME_SIZE,
    MAX_MAX_FRAME_SIZE,
};
use crate::h2::{Error, ErrorCode, Reason, StreamId};

/// Setting identifiers (RFC 9113 §6.5.2).
pub mod setting_id {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub const HEADER_TABLE_SIZE: u16 = 1;
    /// SETTINGS_ENABLE_PUSH.
    pub const ENABLE_PUSH: u16 = 2;
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub const MAX_CONCURRENT_STREAMS: u16 = 3;
    /// SETTINGS_INITIAL_WINDOW_SIZE.
    pub const INITIAL_WINDOW_SIZE: u16 = 4;
    /// SETTINGS_MAX_FRAME_SIZE.
    pub const MAX_FRAME_SIZE: u16 = 5;
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub const MAX_HEADER_LIST_SIZE: u16 = 6;
}

/// Octets per setting: a 16-bit id and a 32-bit value.
const SETTING_LEN: usize = 6;

/// The largest flow-control window (§6.9.1).
const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;

/// A SETTINGS frame. `None` means the frame did not carry that setting, so the
/// previous value stands. `Default` is an empty, non-ACK SETTINGS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// ACK: acknowledges the peer's SETTINGS; such a frame carries no settings.
    pub ack: bool,
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub header_table_size: Option<u32>,
    /// SETTINGS_ENABLE_PUSH.
    pub enable_push: Option<bool>,
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE (at most 2^31-1).
    pub initial_window_size: Option<u32>,
    /// SETTINGS_MAX_FRAME_SIZE (16384 to 2^24-1).
    pub max_frame_size: Option<u32>,
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub max_header_list_size: Option<u32>,
}

impl Settings {
    /// A SETTINGS acknowledgement.
    pub fn ack() -> Self {
        Settings {
            ack: true,
            ..Settings::default()
        }
    }

    /// Decodes the payload of a SETTINGS frame, validating each value's range.
    /// Unknown identifiers are ignored (§6.5.2); for repeated ones the last wins.
    pub fn decode(head: Head, payload: Bytes) -> Result<Self, Error> {
        require_connection(Kind::Settings, &head)?;
        let ack = head.flags & flags::ACK != 0;
        if (ack && !payload.is_empty()) || payload.len() % SETTING_LEN != 0 {
            return Err(bad_length(Kind::Settings, payload.len()));
        }
        let mut settings = Settings {
            ack,
            ..Settings::default()
        };
        for chunk in payload.chunks_exact(SETTING_LEN) {
            let &[i0, i1, v0, v1, v2, v3] = chunk else {
                continue;
            };
            let id = u16::from_be_bytes([i0, i1]);
            let value = u32::from_be_bytes([v0, v1, v2, v3]);
            let invalid = |code| {
                Err(Error::connection(
                    code,
                    Reason::InvalidSetting { id, value },
                ))
            };
            match id {
                setting_id::HEADER_TABLE_SIZE => settings.header_table_size = Some(value),
                setting_id::ENABLE_PUSH => match value {
                    0 | 1 => settings.enable_push = Some(value == 1),
                    _ => return invalid(ErrorCode::PROTOCOL_ERROR),
                },
                setting_id::MAX_CONCURRENT_STREAMS => settings.max_concurrent_streams = Some(value),
                setting_id::INITIAL_WINDOW_SIZE => {
                    if value > MAX_WINDOW_SIZE {
                        return invalid(ErrorCode::FLOW_CONTROL_ERROR);
                    }
                    settings.initial_window_size = Some(value);
                }
                setting_id::MAX_FRAME_SIZE => {
                    if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) {
                        return invalid(ErrorCode::PROTOCOL_ERROR);
                    }
                    settings.max_frame_size = Some(value);
                }
                setting_id::MAX_HEADER_LIST_SIZE => settings.max_header_list_size = Some(value),
                _ => {}
            }
        }
        Ok(settings)
    }

    /// Appends the head and payload to `dst`: the set fields in identifier
    /// order. An ACK is written with an empty payload, whatever the fields
    /// hold, since §6.5 forbids anything else.
    pub fn encode(&self, dst: &mut Vec<u8>) {
        if self.ack {
            write_head(dst, Kind::Settings, flags::ACK, StreamId::ZERO, 0);
            return;
        }
        let fields = [
            (setting_id::HEADER_TABLE_SIZE, self.header_table_size),
            (setting_id::ENABLE_PUSH, self.enable_push.map(u32::from)),
            (
                setting_id::MAX_CONCURRENT_STREAMS,
                self.max_concurrent_streams,
            ),
            (setting_id::INITIAL_WINDOW_SIZE, self.initial_window_size),
            (setting_id::MAX_FRAME_SIZE, self.max_frame_size),
            (setting_id::MAX_HEADER_LIST_SIZE, self.max_header_list_size),
        ];
        let count = fields.iter().filter(|(_, v)| v.is_some()).count();
        write_head(dst, Kind::Settings, 0, StreamId::ZERO, count * SETTING_LEN);
        for (id, value) in fields {
            if let Some(value) = value {
                dst.extend_from_slice(&id.to_be_bytes());
                dst.extend_from_slice(&value.to_be_bytes());
            }
        }
    }
}

impl From<Settings> for Frame {
    fn from(f: Settings) -> Frame {
        Frame::Settings(f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{conn_err, decode, encode, raw};
    use super::*;

    fn setting(id: u16, value: u32) -> Vec<u8> {
        let mut v = id.to_be_bytes().to_vec();
        v.extend_from_slice(&value.to_be_bytes());
        v
    }

    #[test]
    fn decode_and_encode_all() {
        let payload: Vec<u8> = [
            setting(1, 4096),
            setting(2, 0),
            setting(3, 100),
            setting(4, 65_535),
            setting(5, 16_384),
            setting(6, 8192),
        ]
        .concat();
        let bytes = raw(4, 0, 0, &payload);
        let frame = decode(&bytes).unwrap();
        assert_eq!(
            frame,
            Frame::Settings(Settings {
                ack: false,
                header_table_size: Some(4096),
                enable_push: Some(false),
                max_concurrent_streams: Some(100),
                initial_window_size: Some(65_535),
                max_frame_size: Some(16_384),
                max_header_list_size: Some(8192),
            })
        );
        assert_eq!(encode(&frame), bytes);
    }

    #[test]
    fn empty_and_ack() {
        let bytes = raw(4, 0, 0, b"");
        assert_eq!(
            decode(&bytes).unwrap(),
            Frame::Settings(Settings::default())
        );
        assert_eq!(encode(&Settings::default().into()), bytes);
        let bytes = raw(4, flags::ACK, 0, b"");
        assert_eq!(decode(&bytes).unwrap(), Frame::Settings(Settings::ack()));
        assert_eq!(encode(&Settings::ack().into()), bytes);
        // An ACK never carries settings, even if the struct holds some.
        let odd = Settings {
            max_frame_size: Some(20_000),
            ..Settings::ack()
        };
        assert_eq!(encode(&odd.into()), bytes);
    }

    #[test]
    fn encode_writes_only_set_fields_in_id_order() {
        let s = Settings {
            max_header_list_size: Some(7),
            enable_push: Some(true),
            ..Settings::default()
        };
        let payload = [setting(2, 1), setting(6, 7)].concat();
        assert_eq!(encode(&s.into()), raw(4, 0, 0, &payload));
    }

    #[test]
    fn unknown_ids_ignored_and_last_duplicate_wins() {
        let payload = [
            setting(3, 1),
            setting(0x8, 1),
            setting(0xabcd, 0xffff_ffff),
            setting(0, 5),
            setting(3, 2),
        ]
        .concat();
        let frame = decode(&raw(4, 0, 0, &payload)).unwrap();
        assert_eq!(
            frame,
            Frame::Settings(Settings {
                max_concurrent_streams: Some(2),
                ..Settings::default()
            })
        );
    }

    #[test]
    fn boundary_values_accepted() {
        let payload = [
            setting(4, (1 << 31) - 1),
            setting(5, (1 << 24) - 1),
            setting(2, 1),
            setting(1, u32::MAX),
        ]
        .concat();
        let Frame::Settings(s) = decode(&raw(4, 0, 0, &payload)).unwrap() else {
            panic!()
        };
        assert_eq!(s.initial_window_size, Some((1 << 31) - 1));
        assert_eq!(s.max_frame_size, Some((1 << 24) - 1));
        assert_eq!(s.enable_push, Some(true));
        assert_eq!(s.header_table_size, Some(u32::MAX));
    }

    #[test]
    fn invalid_values() {
        let cases = [
            (2, 2, ErrorCode::PROTOCOL_ERROR),
            (2, u32::MAX, ErrorCode::PROTOCOL_ERROR),
            (4, 1 << 31, ErrorCode::FLOW_CONTROL_ERROR),
            (4, u32::MAX, ErrorCode::FLOW_CONTROL_ERROR),
            (5, 16_383, ErrorCode::PROTOCOL_ERROR),
            (5, 0, ErrorCode::PROTOCOL_ERROR),
            (5, 1 << 24, ErrorCode::PROTOCOL_ERROR),
        ];
        for (id, value, code) in cases {
            assert_eq!(
                decode(&raw(4, 0, 0, &setting(id, value))),
                conn_err(code, Reason::InvalidSetting { id, value }),
                "setting {id} = {value}"
            );
        }
    }

    #[test]
    fn length_errors() {
        let err = |len| {
            conn_err(
                ErrorCode::FRAME_SIZE_ERROR,
                Reason::BadFrameLength {
                    frame: "SETTINGS",
                    len,
                },
            )
        };
        assert_eq!(decode(&raw(4, flags::ACK, 0, &setting(3, 1))), err(6));
        assert_eq!(decode(&raw(4, 0, 0, b"\0\x03\0\0\0")), err(5));
        assert_eq!(
            decode(&raw(4, 0, 0, &[setting(3, 1), vec![0]].concat())),
            err(7)
        );
    }

    #[test]
    fn nonzero_stream_is_protocol_error() {
        assert_eq!(
            decode(&raw(4, 0, 1, b"")),
            conn_err(
                ErrorCode::PROTOCOL_ERROR,
                Reason::StreamIdNotZero {
                    frame: "SETTINGS",
                    id: StreamId::new(1)
                }
            )
        );
    }

    #[test]
    fn unknown_flags_ignored_and_reserved_bit_masked() {
        let frame = decode(&raw(4, 0xfe, 0x8000_0000, &setting(3, 9))).unwrap();
        assert_eq!(
            frame,
            Frame::Settings(Settings {
                max_concurrent_streams: Some(9),
                ..Settings::default()
            })
        );
    }
}
