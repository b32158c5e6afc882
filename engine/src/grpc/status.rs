//! gRPC status: the code and message that end every call.
//!
//! [`Code`] is the closed set of 17 codes from `doc/statuscodes.md`, with the
//! mappings the spec gives from HTTP statuses and HTTP/2 reset codes. [`Status`]
//! carries a code, a message and opaque details, and converts to and from the
//! `grpc-status`, `grpc-message` and `grpc-status-details-bin` trailer fields.
//! The details usually carry a `google.rpc.Status`; `grpc-sansio-service`
//! decodes it (`RichDetails`), so the engine needs no protobuf codec.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;

use super::metadata::{base64_decode, base64_encode_unpadded};
use crate::h2::ErrorCode;
use crate::hpack::Header;

/// The trailer field carrying the numeric code.
const GRPC_STATUS: &str = "grpc-status";
/// The trailer field carrying the percent-encoded message.
const GRPC_MESSAGE: &str = "grpc-message";
/// The trailer field carrying base64 details (usually a `google.rpc.Status`).
const GRPC_STATUS_DETAILS_BIN: &str = "grpc-status-details-bin";

/// A gRPC status code (`doc/statuscodes.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// Not an error.
    Ok = 0,
    /// The operation was cancelled, typically by the caller.
    Cancelled = 1,
    /// Unknown error, including errors that carry too little information.
    Unknown = 2,
    /// The client gave an invalid argument.
    InvalidArgument = 3,
    /// The deadline expired before the operation could complete.
    DeadlineExceeded = 4,
    /// A requested entity was not found.
    NotFound = 5,
    /// An entity the client tried to create already exists.
    AlreadyExists = 6,
    /// The caller lacks permission for the operation.
    PermissionDenied = 7,
    /// A resource (quota, space, a size limit) has been exhausted.
    ResourceExhausted = 8,
    /// The system is not in a state required for the operation.
    FailedPrecondition = 9,
    /// The operation was aborted, typically by a concurrency conflict.
    Aborted = 10,
    /// The operation was attempted past the valid range.
    OutOfRange = 11,
    /// The operation is not implemented or not supported.
    Unimplemented = 12,
    /// An invariant the system relies on was broken.
    Internal = 13,
    /// The service is currently unavailable; retrying may help.
    Unavailable = 14,
    /// Unrecoverable data loss or corruption.
    DataLoss = 15,
    /// The request lacks valid authentication credentials.
    Unauthenticated = 16,
}

impl Code {
    /// Every code, in numeric order.
    pub const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The code with this number; numbers outside 0–16 are [`Code::Unknown`], as
    /// the spec asks of receivers.
    pub fn from_i32(value: i32) -> Code {
        usize::try_from(value)
            .ok()
            .and_then(|i| Code::ALL.get(i).copied())
            .unwrap_or(Code::Unknown)
    }

    /// The code's number.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The canonical upper-case name, such as `"DEADLINE_EXCEEDED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The `grpc-status` value: decimal without leading zeros. Static so that
    /// sending a status allocates nothing.
    fn wire_value(self) -> &'static str {
        match self {
            Code::Ok => "0",
            Code::Cancelled => "1",
            Code::Unknown => "2",
            Code::InvalidArgument => "3",
            Code::DeadlineExceeded => "4",
            Code::NotFound => "5",
            Code::AlreadyExists => "6",
            Code::PermissionDenied => "7",
            Code::ResourceExhausted => "8",
            Code::FailedPrecondition => "9",
            Code::Aborted => "10",
            Code::OutOfRange => "11",
            Code::Unimplemented => "12",
            Code::Internal => "13",
            Code::Unavailable => "14",
            Code::DataLoss => "15",
            Code::Unauthenticated => "16",
        }
    }

    /// The code to report for a response with this HTTP status and no
    /// `grpc-status` (`doc/http-grpc-status-mapping.md`). 1xx responses are not
    /// final and should be skipped by the caller rather than mapped; here they
    /// fall under "anything else", like 200 without a status.
    pub fn from_http_status(status: u16) -> Code {
        match status {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }

    /// The code to report for a stream reset (RST_STREAM, or GOAWAY for a stream
    /// the peer did process) with this HTTP/2 error code
    /// (`doc/PROTOCOL-HTTP2.md`, "Errors").
    ///
    /// CANCEL maps to [`Code::Cancelled`]; a client whose own deadline has passed
    /// reports [`Code::DeadlineExceeded`] instead, which only it can know.
    pub fn from_reset(code: ErrorCode) -> Code {
        match code {
            ErrorCode::REFUSED_STREAM => Code::Unavailable,
            ErrorCode::CANCEL => Code::Cancelled,
            ErrorCode::ENHANCE_YOUR_CALM => Code::ResourceExhausted,
            ErrorCode::INADEQUATE_SECURITY => Code::PermissionDenied,
            _ => Code::Internal,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Code> for i32 {
    fn from(code: Code) -> i32 {
        code.as_i32()
    }
}

/// The outcome of a call: a code, a human-readable message and optional
/// binary details (by convention a serialized `google.rpc.Status`; the service
/// crate reads and writes those).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    code: Code,
    message: String,
    details: Bytes,
}

impl Status {
    /// A status with this code and message and no details.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status {
            code,
            message: message.into(),
            details: Bytes::new(),
        }
    }

    /// The OK status, with no message.
    pub fn ok() -> Status {
        Status::new(Code::Ok, String::new())
    }

    /// Replaces the details (sent as `grpc-status-details-bin`).
    pub fn with_details(mut self, details: Bytes) -> Status {
        self.details = details;
        self
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The message (already percent-decoded when received).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The raw details; empty when there are none.
    pub fn details(&self) -> &Bytes {
        &self.details
    }

    /// Whether the code is [`Code::Ok`].
    pub fn is_ok(&self) -> bool {
        self.code == Code::Ok
    }

    /// Appends the status trailer fields: `grpc-status` always,
    /// `grpc-message` (percent-encoded) when the message is not empty, and
    /// `grpc-status-details-bin` (unpadded base64) when there are details.
    pub fn to_headers(&self, out: &mut Vec<Header>) {
        out.push(Header::new(GRPC_STATUS, self.code.wire_value()));
        if !self.message.is_empty() {
            let value = match encode_message(&self.message) {
                Cow::Borrowed(s) => Bytes::copy_from_slice(s.as_bytes()),
                Cow::Owned(s) => Bytes::from(s),
            };
            out.push(Header::new(GRPC_MESSAGE, value));
        }
        if !self.details.is_empty() {
            out.push(Header::new(
                GRPC_STATUS_DETAILS_BIN,
                base64_encode_unpadded(&self.details),
            ));
        }
    }

    /// Reads the status from a received trailer (or Trailers-Only) field list;
    /// `None` when there is no `grpc-status`, in which case the caller makes one up
    /// (see [`Code::from_http_status`]). The first of repeated fields wins.
    ///
    /// Never fails otherwise, as a status is the last thing a call reports:
    /// a `grpc-status` that is not a decimal number gives [`Code::Unknown`] with a
    /// message saying so (the peer's message appended), a number outside 0–16
    /// gives [`Code::Unknown`] with the peer's message, and details that are not
    /// valid base64 are dropped.
    pub fn from_headers(fields: &[Header]) -> Option<Status> {
        let find = |name: &str| {
            fields
                .iter()
                .find(|h| h.name.as_ref() == name.as_bytes())
                .map(|h| h.value.as_ref())
        };
        let raw_code = find(GRPC_STATUS)?;
        let message = find(GRPC_MESSAGE).map(decode_message).unwrap_or_default();
        let details = find(GRPC_STATUS_DETAILS_BIN)
            .and_then(|v| base64_decode(v).ok())
            .map(Bytes::from)
            .unwrap_or_default();

        let status = match parse_code(raw_code) {
            Some(code) => Status::new(code, message),
            None => {
                let mut text = format!(
                    "invalid grpc-status {:?}",
                    String::from_utf8_lossy(raw_code)
                );
                if !message.is_empty() {
                    text.push_str(": ");
                    text.push_str(&message);
                }
                Status::new(Code::Unknown, text)
            }
        };
        Some(status.with_details(details))
    }
}

/// `Some` for a decimal number (any size: too large is simply unknown), `None`
/// for anything else. Leading zeros and surrounding whitespace are tolerated on
/// receive although senders must not produce them.
fn parse_code(raw: &[u8]) -> Option<Code> {
    let digits = raw.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().try_fold(0i32, |acc, &d| {
        acc.checked_mul(10)?.checked_add(i32::from(d - b'0'))
    });
    Some(value.map_or(Code::Unknown, Code::from_i32))
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for Status {}

/// Whether a byte of the UTF-8 message goes on the wire as it is: space and
/// visible ASCII except `%` (`Percent-Byte-Unencoded` in the spec).
fn is_unreserved(b: u8) -> bool {
    (0x20..=0x7e).contains(&b) && b != b'%'
}

/// Percent-encodes a status message for `grpc-message`: bytes 0x20–0x7E other
/// than `%` pass as they are, every other byte of the UTF-8 encoding becomes
/// `%XX` with upper-case hex. Borrows when nothing needs escaping.
pub fn encode_message(msg: &str) -> Cow<'_, str> {
    let bytes = msg.as_bytes();
    // HTTP/2 forbids whitespace around a field value (RFC 9113 §8.2.1), so a
    // leading or trailing space is escaped too; decoders accept any `%XX`.
    let passes =
        |i: usize, b: u8| is_unreserved(b) && !(b == b' ' && (i == 0 || i + 1 == bytes.len()));
    let escapes = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| !passes(i, b))
        .count();
    if escapes == 0 {
        return Cow::Borrowed(msg);
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(msg.len() + 2 * escapes);
    for (i, &b) in bytes.iter().enumerate() {
        if passes(i, b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    Cow::Owned(out)
}

/// Decodes a received `grpc-message`. Never fails, as the spec requires: valid
/// `%XX` escapes (either case) are decoded, a broken escape is kept literally,
/// and bytes that are not UTF-8 become U+FFFD.
pub fn decode_message(raw: &[u8]) -> String {
    if !raw.contains(&b'%') {
        return String::from_utf8_lossy(raw).into_owned();
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            if let [hi, lo, after @ ..] = tail {
                if let (Some(hi), Some(lo)) = (hex_value(*hi), hex_value(*lo)) {
                    out.push(hi << 4 | lo);
                    rest = after;
                    continue;
                }
            }
        }
        out.push(b);
        rest = tail;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(name: &str, value: &[u8]) -> Header {
        Header::new(
            Bytes::copy_from_slice(name.as_bytes()),
            Bytes::copy_from_slice(value),
        )
    }

    #[test]
    fn code_numbers_and_names() {
        for (i, code) in Code::ALL.iter().enumerate() {
            assert_eq!(code.as_i32(), i as i32);
            assert_eq!(Code::from_i32(i as i32), *code);
            assert_eq!(i32::from(*code), i as i32);
            assert_eq!(code.wire_value(), i.to_string());
            assert_eq!(code.to_string(), code.as_str());
        }
        assert_eq!(Code::from_i32(-1), Code::Unknown);
        assert_eq!(Code::from_i32(17), Code::Unknown);
        assert_eq!(Code::from_i32(i32::MAX), Code::Unknown);
        assert_eq!(Code::from_i32(i32::MIN), Code::Unknown);
        assert_eq!(Code::DeadlineExceeded.as_str(), "DEADLINE_EXCEEDED");
        assert_eq!(Code::Unauthenticated.as_str(), "UNAUTHENTICATED");
    }

    #[test]
    fn every_code_round_trips_through_headers() {
        for code in Code::ALL {
            for message in ["", "boom", "50% done\r\n"] {
                let status =
                    Status::new(code, message).with_details(Bytes::from_static(b"\x01\x02"));
                let mut out = Vec::new();
                status.to_headers(&mut out);
                assert_eq!(out[0].name.as_ref(), b"grpc-status");
                assert_eq!(out[0].value.as_ref(), code.as_i32().to_string().as_bytes());
                assert_eq!(out.len(), if message.is_empty() { 2 } else { 3 });
                assert_eq!(Status::from_headers(&out), Some(status));
            }
        }
    }

    #[test]
    fn ok_status_sends_only_grpc_status() {
        let mut out = Vec::new();
        Status::ok().to_headers(&mut out);
        assert_eq!(out, [Header::new("grpc-status", "0")]);
        assert!(Status::ok().is_ok());
        assert!(!Status::new(Code::Internal, "x").is_ok());
    }

    #[test]
    fn from_headers_without_status_is_none() {
        assert_eq!(Status::from_headers(&[]), None);
        assert_eq!(Status::from_headers(&[h("grpc-message", b"lonely")]), None);
    }

    #[test]
    fn from_headers_leniency() {
        let parse = |v: &[u8]| {
            Status::from_headers(&[h("grpc-status", v), h("grpc-message", b"peer%20said")]).unwrap()
        };
        assert_eq!(parse(b"5"), Status::new(Code::NotFound, "peer said"));
        assert_eq!(parse(b"05"), Status::new(Code::NotFound, "peer said"));
        assert_eq!(parse(b" 14 "), Status::new(Code::Unavailable, "peer said"));
        assert_eq!(parse(b"17"), Status::new(Code::Unknown, "peer said"));
        assert_eq!(
            parse(b"99999999999999999999"),
            Status::new(Code::Unknown, "peer said")
        );
        for bad in [&b""[..], b"-1", b"+1", b"abc", b"1.0", b"\xff"] {
            let status = parse(bad);
            assert_eq!(status.code(), Code::Unknown, "{bad:?}");
            assert!(
                status.message().starts_with("invalid grpc-status"),
                "{status}"
            );
            assert!(status.message().ends_with(": peer said"), "{status}");
        }
        let lone = Status::from_headers(&[h("grpc-status", b"x")]).unwrap();
        assert_eq!(lone.message(), "invalid grpc-status \"x\"");
        // The first of repeated fields wins.
        let first =
            Status::from_headers(&[h("grpc-status", b"1"), h("grpc-status", b"2")]).unwrap();
        assert_eq!(first.code(), Code::Cancelled);
        // Undecodable details are dropped, the rest survives.
        let bad_details =
            Status::from_headers(&[h("grpc-status", b"13"), h("grpc-status-details-bin", b"!")])
                .unwrap();
        assert_eq!(bad_details, Status::new(Code::Internal, ""));
    }

    #[test]
    fn details_padded_and_unpadded() {
        for enc in [&b"AQID"[..], b"AQI", b"AQI="] {
            let status =
                Status::from_headers(&[h("grpc-status", b"2"), h("grpc-status-details-bin", enc)])
                    .unwrap();
            assert_eq!(
                status.details().as_ref(),
                &[1, 2, 3][..enc.iter().filter(|&&b| b != b'=').count() * 3 / 4]
            );
        }
        let mut out = Vec::new();
        Status::new(Code::Unknown, "")
            .with_details(Bytes::from_static(&[1, 2]))
            .to_headers(&mut out);
        assert_eq!(out[1], Header::new("grpc-status-details-bin", "AQI"));
    }

    #[test]
    fn display() {
        assert_eq!(Status::ok().to_string(), "OK");
        assert_eq!(
            Status::new(Code::NotFound, "no such thing").to_string(),
            "NOT_FOUND: no such thing"
        );
        let err: Box<dyn std::error::Error> = Box::new(Status::new(Code::Internal, "x"));
        assert_eq!(err.to_string(), "INTERNAL: x");
    }

    #[test]
    fn percent_encoding_cases() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("plain text", "plain text"),
            // A space at either end would make an invalid HTTP/2 field value.
            (" ~!\"#$&'()*+,-./:;<=>?@[\\]^_`{|} ", "%20~!\"#$&'()*+,-./:;<=>?@[\\]^_`{|}%20"),
            ("100%", "100%25"),
            ("%25", "%2525"),
            ("a\tb", "a%09b"),
            ("line\r\nbreak", "line%0D%0Abreak"),
            ("\0\u{1f}\u{7f}", "%00%1F%7F"),
            ("caf\u{e9}", "caf%C3%A9"),
            ("\u{2603}", "%E2%98%83"),
            ("\u{1F600}", "%F0%9F%98%80"),
            // The interop special_status_message text
            // (doc/interop-test-descriptions.md), encoded per the ABNF in
            // doc/PROTOCOL-HTTP2.md (Percent-Byte-Unencoded = %x20-%x24 / %x26-%x7E).
            (
                "\t\ntest with whitespace\r\nand Unicode BMP \u{263A} and non-BMP \u{1F608}\t\n",
                "%09%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA and non-BMP %F0%9F%98%88%09%0A",
            ),
        ];
        for &(raw, encoded) in cases {
            assert_eq!(encode_message(raw), encoded, "{raw:?}");
            assert_eq!(decode_message(encoded.as_bytes()), raw, "{encoded:?}");
        }
        assert!(matches!(encode_message("no escapes"), Cow::Borrowed(_)));
    }

    #[test]
    fn decoder_leniency() {
        let cases: &[(&[u8], &str)] = &[
            (b"%", "%"),
            (b"%4", "%4"),
            (b"abc%", "abc%"),
            (b"%zz", "%zz"),
            (b"%4g", "%4g"),
            (b"%%41", "%A"),
            (b"%e2%98%83", "\u{2603}"),
            (b"%E2%82", "\u{FFFD}"),
            (b"%E2%82 tail", "\u{FFFD} tail"),
            (b"%FF", "\u{FFFD}"),
            (b"raw \xff byte", "raw \u{FFFD} byte"),
            (b"unescaped \xe2\x98\x83 utf8", "unescaped \u{2603} utf8"),
        ];
        for &(raw, decoded) in cases {
            assert_eq!(decode_message(raw), decoded, "{raw:?}");
        }
    }

    #[test]
    fn http_status_mapping() {
        let cases = [
            (400, Code::Internal),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::Unimplemented),
            (429, Code::Unavailable),
            (502, Code::Unavailable),
            (503, Code::Unavailable),
            (504, Code::Unavailable),
            (200, Code::Unknown),
            (100, Code::Unknown),
            (405, Code::Unknown),
            (415, Code::Unknown),
            (500, Code::Unknown),
            (0, Code::Unknown),
            (u16::MAX, Code::Unknown),
        ];
        for (http, code) in cases {
            assert_eq!(Code::from_http_status(http), code, "{http}");
        }
    }

    #[test]
    fn reset_mapping() {
        let cases = [
            (ErrorCode::NO_ERROR, Code::Internal),
            (ErrorCode::PROTOCOL_ERROR, Code::Internal),
            (ErrorCode::INTERNAL_ERROR, Code::Internal),
            (ErrorCode::FLOW_CONTROL_ERROR, Code::Internal),
            (ErrorCode::SETTINGS_TIMEOUT, Code::Internal),
            (ErrorCode::STREAM_CLOSED, Code::Internal),
            (ErrorCode::FRAME_SIZE_ERROR, Code::Internal),
            (ErrorCode::REFUSED_STREAM, Code::Unavailable),
            (ErrorCode::CANCEL, Code::Cancelled),
            (ErrorCode::COMPRESSION_ERROR, Code::Internal),
            (ErrorCode::CONNECT_ERROR, Code::Internal),
            (ErrorCode::ENHANCE_YOUR_CALM, Code::ResourceExhausted),
            (ErrorCode::INADEQUATE_SECURITY, Code::PermissionDenied),
            (ErrorCode::HTTP_1_1_REQUIRED, Code::Internal),
            (ErrorCode(0xdead), Code::Internal),
        ];
        for (reset, code) in cases {
            assert_eq!(Code::from_reset(reset), code, "{reset}");
        }
    }

    proptest! {
        #[test]
        fn message_encode_decode_is_identity(msg in any::<String>()) {
            let encoded = encode_message(&msg);
            prop_assert!(encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode_message(encoded.as_bytes()), msg);
        }

        #[test]
        fn decode_message_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_message(&raw);
        }

        #[test]
        fn status_round_trip(code in 0i32..17, msg in any::<String>(), details in proptest::collection::vec(any::<u8>(), 0..64)) {
            let status = Status::new(Code::from_i32(code), msg).with_details(Bytes::from(details));
            let mut out = Vec::new();
            status.to_headers(&mut out);
            prop_assert_eq!(Status::from_headers(&out), Some(status));
        }
    }
}
