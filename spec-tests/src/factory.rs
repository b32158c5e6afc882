//! A raw HTTP/2 frame factory, modelled on python-hyper/h2's `FrameFactory`.
//!
//! Every frame is written octet by octet here, never through the engine's frame
//! encoder, so that tests can build frames the engine itself would refuse to
//! produce: wrong lengths, reserved bits, stream 0 where a stream is required,
//! padding longer than the payload, and so on.
//!
//! Header blocks are the exception: they are HPACK-encoded with the engine's
//! [`Encoder`], one per factory, so that the dynamic table the factory builds
//! matches what the peer's decoder expects over the whole connection (as the
//! h2spec client does with its one encoder per connection).

use grpc_sansio::h2::frame::{flags, setting_id, Kind};
use grpc_sansio::h2::ErrorCode;
use grpc_sansio::hpack::{Encoder, Header, IndexPolicy};

/// The 24-octet client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The `:authority` of every request the factory builds.
pub const AUTHORITY: &str = "127.0.0.1:8080";

/// The default length of a dummy header value (h2spec's `--max-header-length`).
pub const DUMMY_HEADER_LEN: usize = 4000;

/// The frame type octets (RFC 9113 §6), as plain numbers for [`FrameFactory::raw`].
pub mod kind {
    use super::Kind;

    /// DATA.
    pub const DATA: u8 = Kind::Data as u8;
    /// HEADERS.
    pub const HEADERS: u8 = Kind::Headers as u8;
    /// PRIORITY.
    pub const PRIORITY: u8 = Kind::Priority as u8;
    /// RST_STREAM.
    pub const RST_STREAM: u8 = Kind::RstStream as u8;
    /// SETTINGS.
    pub const SETTINGS: u8 = Kind::Settings as u8;
    /// PUSH_PROMISE.
    pub const PUSH_PROMISE: u8 = Kind::PushPromise as u8;
    /// PING.
    pub const PING: u8 = Kind::Ping as u8;
    /// GOAWAY.
    pub const GOAWAY: u8 = Kind::GoAway as u8;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u8 = Kind::WindowUpdate as u8;
    /// CONTINUATION.
    pub const CONTINUATION: u8 = Kind::Continuation as u8;
}

/// The priority fields of a PRIORITY frame or a HEADERS frame with the
/// PRIORITY flag (RFC 7540 §6.3; deprecated but still parsed in RFC 9113).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriorityFields {
    /// The stream this one depends on.
    pub dependency: u32,
    /// The exclusive bit.
    pub exclusive: bool,
    /// The weight field as sent (the weight is this plus one).
    pub weight: u8,
}

impl PriorityFields {
    /// A dependency on `dependency` with the given weight field, not exclusive.
    pub fn new(dependency: u32, weight: u8) -> Self {
        PriorityFields {
            dependency,
            exclusive: false,
            weight,
        }
    }

    fn to_bytes(self) -> [u8; 5] {
        let dep = self.dependency | if self.exclusive { 0x8000_0000 } else { 0 };
        let [a, b, c, d] = dep.to_be_bytes();
        [a, b, c, d, self.weight]
    }
}

/// Everything a HEADERS frame can carry besides its header block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadersOptions {
    /// END_STREAM.
    pub end_stream: bool,
    /// END_HEADERS.
    pub end_headers: bool,
    /// PADDED with this pad length (that many zero octets follow the block).
    pub pad_len: Option<u8>,
    /// PRIORITY with these fields.
    pub priority: Option<PriorityFields>,
}

/// Builds client frames by hand and HPACK-encodes request header blocks.
#[derive(Debug)]
pub struct FrameFactory {
    encoder: Encoder,
    /// The `:path` of requests (h2spec's `--path`, default `/`).
    pub path: String,
    /// The `:authority` of requests.
    pub authority: String,
    /// The value length of dummy headers (h2spec's `--max-header-length`).
    pub dummy_len: usize,
}

impl Default for FrameFactory {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameFactory {
    /// A factory with a fresh HPACK encoding context. Like h2spec's Go encoder,
    /// it indexes every field that fits in the table and Huffman-codes strings
    /// when that is shorter.
    pub fn new() -> Self {
        let mut encoder = Encoder::new();
        encoder.set_index_policy(IndexPolicy::Always);
        FrameFactory {
            encoder,
            path: "/".to_owned(),
            authority: AUTHORITY.to_owned(),
            dummy_len: DUMMY_HEADER_LEN,
        }
    }

    // ----- raw frames -----

    /// Any frame: a 9-octet head with the length of `payload`, then `payload`.
    /// The stream id is written as given, reserved bit included.
    pub fn raw(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        Self::raw_with_length(payload.len() as u32, kind, flags, stream, payload)
    }

    /// Like [`raw`](Self::raw) but with a length field that need not match the
    /// payload (only the low 24 bits of `length` are written).
    pub fn raw_with_length(
        length: u32,
        kind: u8,
        flags: u8,
        stream: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut v = Vec::with_capacity(9 + payload.len());
        v.extend_from_slice(&length.to_be_bytes()[1..]);
        v.push(kind);
        v.push(flags);
        v.extend_from_slice(&stream.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// The client connection preface.
    pub fn preface() -> Vec<u8> {
        PREFACE.to_vec()
    }

    /// SETTINGS with the given (identifier, value) pairs, in order.
    pub fn settings(values: &[(u16, u32)]) -> Vec<u8> {
        let mut payload = Vec::with_capacity(values.len() * 6);
        for (id, value) in values {
            payload.extend_from_slice(&id.to_be_bytes());
            payload.extend_from_slice(&value.to_be_bytes());
        }
        Self::raw(kind::SETTINGS, 0, 0, &payload)
    }

    /// SETTINGS_INITIAL_WINDOW_SIZE alone, the most used SETTINGS in the cases.
    pub fn settings_initial_window(size: u32) -> Vec<u8> {
        Self::settings(&[(setting_id::INITIAL_WINDOW_SIZE, size)])
    }

    /// An empty SETTINGS with the ACK flag.
    pub fn settings_ack() -> Vec<u8> {
        Self::raw(kind::SETTINGS, flags::ACK, 0, &[])
    }

    /// PING on stream 0, with or without ACK.
    pub fn ping(payload: [u8; 8], ack: bool) -> Vec<u8> {
        Self::raw(kind::PING, if ack { flags::ACK } else { 0 }, 0, &payload)
    }

    /// GOAWAY on stream 0.
    pub fn goaway(last_stream: u32, code: ErrorCode, debug: &[u8]) -> Vec<u8> {
        let mut payload = Vec::with_capacity(8 + debug.len());
        payload.extend_from_slice(&last_stream.to_be_bytes());
        payload.extend_from_slice(&code.0.to_be_bytes());
        payload.extend_from_slice(debug);
        Self::raw(kind::GOAWAY, 0, 0, &payload)
    }

    /// WINDOW_UPDATE; any increment, 0 and the reserved bit included.
    pub fn window_update(stream: u32, increment: u32) -> Vec<u8> {
        Self::raw(kind::WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
    }

    /// RST_STREAM.
    pub fn rst_stream(stream: u32, code: ErrorCode) -> Vec<u8> {
        Self::raw(kind::RST_STREAM, 0, stream, &code.0.to_be_bytes())
    }

    /// PRIORITY.
    pub fn priority(stream: u32, fields: PriorityFields) -> Vec<u8> {
        Self::raw(kind::PRIORITY, 0, stream, &fields.to_bytes())
    }

    /// DATA; with `pad_len`, the PADDED flag, the pad-length octet and that many
    /// zero octets of padding.
    pub fn data(stream: u32, data: &[u8], end_stream: bool, pad_len: Option<u8>) -> Vec<u8> {
        let mut f = if end_stream { flags::END_STREAM } else { 0 };
        let payload = match pad_len {
            None => data.to_vec(),
            Some(pad) => {
                f |= flags::PADDED;
                let mut p = Vec::with_capacity(1 + data.len() + usize::from(pad));
                p.push(pad);
                p.extend_from_slice(data);
                p.resize(p.len() + usize::from(pad), 0);
                p
            }
        };
        Self::raw(kind::DATA, f, stream, &payload)
    }

    /// HEADERS with END_HEADERS and optionally END_STREAM.
    pub fn headers(stream: u32, block: &[u8], end_stream: bool) -> Vec<u8> {
        Self::headers_with(
            stream,
            block,
            HeadersOptions {
                end_stream,
                end_headers: true,
                ..HeadersOptions::default()
            },
        )
    }

    /// HEADERS with every option spelled out.
    pub fn headers_with(stream: u32, block: &[u8], opts: HeadersOptions) -> Vec<u8> {
        let mut f = 0;
        if opts.end_stream {
            f |= flags::END_STREAM;
        }
        if opts.end_headers {
            f |= flags::END_HEADERS;
        }
        let mut payload = Vec::with_capacity(block.len() + 6);
        if let Some(pad) = opts.pad_len {
            f |= flags::PADDED;
            payload.push(pad);
        }
        if let Some(prio) = opts.priority {
            f |= flags::PRIORITY;
            payload.extend_from_slice(&prio.to_bytes());
        }
        payload.extend_from_slice(block);
        if let Some(pad) = opts.pad_len {
            payload.resize(payload.len() + usize::from(pad), 0);
        }
        Self::raw(kind::HEADERS, f, stream, &payload)
    }

    /// CONTINUATION.
    pub fn continuation(stream: u32, fragment: &[u8], end_headers: bool) -> Vec<u8> {
        let f = if end_headers { flags::END_HEADERS } else { 0 };
        Self::raw(kind::CONTINUATION, f, stream, fragment)
    }

    /// PUSH_PROMISE (which a client may never send).
    pub fn push_promise(stream: u32, promised: u32, block: &[u8], end_headers: bool) -> Vec<u8> {
        let f = if end_headers { flags::END_HEADERS } else { 0 };
        let mut payload = Vec::with_capacity(4 + block.len());
        payload.extend_from_slice(&promised.to_be_bytes());
        payload.extend_from_slice(block);
        Self::raw(kind::PUSH_PROMISE, f, stream, &payload)
    }

    // ----- header blocks -----

    /// HPACK-encodes `headers` with this connection's encoder (dynamic table on).
    pub fn encode(&mut self, headers: &[Header]) -> Vec<u8> {
        let mut block = Vec::new();
        self.encoder.encode(headers, &mut block);
        block
    }

    /// Changes the encoder's table size; the next block starts with a dynamic
    /// table size update (RFC 7541 §4.2, §6.3).
    pub fn set_max_table_size(&mut self, size: usize) {
        self.encoder.set_max_table_size(size);
    }

    /// The h2spec common request: `:method`, `:scheme http`, `:path`,
    /// `:authority`, in that order.
    pub fn request_headers(&self, method: &str) -> Vec<Header> {
        grpc_sansio::testing::request(method, &self.path, &self.authority)
    }

    /// `count` dummy headers `x-dummy0`, `x-dummy1`, … each with a value of
    /// [`dummy_len`](Self::dummy_len) `x` characters (h2spec's `DummyHeaders`).
    pub fn dummy_headers(&self, count: usize) -> Vec<Header> {
        let value = "x".repeat(self.dummy_len);
        (0..count)
            .map(|i| Header::new(format!("x-dummy{i}"), value.clone()))
            .collect()
    }

    /// The encoded block of `count` dummy headers.
    pub fn dummy_block(&mut self, count: usize) -> Vec<u8> {
        let headers = self.dummy_headers(count);
        self.encode(&headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_head_layout() {
        let f = FrameFactory::raw(0x16, 0xab, 0x8000_0003, &[1, 2, 3]);
        assert_eq!(f, [0, 0, 3, 0x16, 0xab, 0x80, 0, 0, 3, 1, 2, 3]);
    }

    #[test]
    fn padded_data_and_headers() {
        let d = FrameFactory::data(1, b"test", true, Some(5));
        assert_eq!(&d[..9], &[0, 0, 10, 0, 0x9, 0, 0, 0, 1]);
        assert_eq!(&d[9..], b"\x05test\0\0\0\0\0");
        let h = FrameFactory::headers_with(
            3,
            b"ab",
            HeadersOptions {
                end_stream: true,
                end_headers: true,
                pad_len: Some(1),
                priority: Some(PriorityFields {
                    dependency: 1,
                    exclusive: true,
                    weight: 255,
                }),
            },
        );
        assert_eq!(h[4], 0x1 | 0x4 | 0x8 | 0x20);
        assert_eq!(&h[9..], &[1, 0x80, 0, 0, 1, 255, b'a', b'b', 0]);
    }

    #[test]
    fn settings_and_control_frames() {
        assert_eq!(
            FrameFactory::settings(&[(4, 65_535)]),
            [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0xff, 0xff]
        );
        assert_eq!(FrameFactory::settings_ack(), [0, 0, 0, 4, 1, 0, 0, 0, 0]);
        assert_eq!(
            FrameFactory::rst_stream(1, ErrorCode::CANCEL),
            [0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 8]
        );
        assert_eq!(
            FrameFactory::goaway(0, ErrorCode(0xff), b"x")[9..],
            [0, 0, 0, 0, 0, 0, 0, 0xff, b'x']
        );
    }

    #[test]
    fn table_size_update_leads_the_next_block() {
        let mut f = FrameFactory::new();
        f.set_max_table_size(128);
        let get = f.request_headers("GET");
        let block = f.encode(&get);
        assert_eq!(&block[..2], &[0x3f, 0x61]);
        let block = f.encode(&get);
        assert_ne!(
            block[0] & 0xe0,
            0x20,
            "only the first block carries the update"
        );
    }

    #[test]
    fn dummy_header_is_about_3500_octets_and_indexed() {
        let mut f = FrameFactory::new();
        let first = f.dummy_block(1);
        assert!((3500..3520).contains(&first.len()), "{}", first.len());
        let second = f.dummy_block(1);
        assert_eq!(second.len(), 1, "the second copy is an indexed field");
    }
}
