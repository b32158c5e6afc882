//! Custom metadata: the application's own header fields on a call.
//!
//! [`Metadata`] is an ordered multimap. Keys are restricted to `0-9 a-z _ . -`;
//! keys ending in `-bin` carry arbitrary bytes, which travel base64-encoded
//! (sent unpadded, accepted padded or unpadded), and every other key carries a
//! visible-ASCII value. Names the protocol uses itself (`grpc-*`,
//! `content-type`, `te`, pseudo-headers, …) are not metadata: [`Metadata::insert`]
//! refuses them and [`Metadata::from_headers`] leaves them out.
//!
//! The base64 codec lives here too ([`base64_encode_unpadded`],
//! [`base64_decode`]) because `grpc-status-details-bin` needs the same one.

use bytes::Bytes;

use crate::hpack::Header;

/// The per-field overhead that SETTINGS_MAX_HEADER_LIST_SIZE counts (RFC 9113
/// §6.5.2); gRPC suggests computing metadata size the same way.
const FIELD_OVERHEAD: usize = 32;

/// Names that are never user metadata although they are not `grpc-*`: the
/// library writes the gRPC ones itself, and HTTP/2 forbids the connection-specific
/// ones outright (RFC 9113 §8.2.2), so letting an application send them would
/// only produce a malformed request.
const RESERVED_NAMES: &[&[u8]] = &[
    b"content-type",
    b"content-length",
    b"te",
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"transfer-encoding",
    b"upgrade",
    b"host",
];

/// Why a metadata entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// A key must have at least one character.
    #[error("metadata key is empty")]
    EmptyKey,
    /// A key may only contain `0-9 a-z _ . -` (this also rules out upper case and
    /// pseudo-headers).
    #[error("metadata key {key:?} contains byte {byte:#04x}; only 0-9 a-z _ . - are allowed")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// The first offending byte.
        byte: u8,
    },
    /// The key is one the protocol or the library uses (`grpc-*`, `content-type`,
    /// `te`, connection-specific HTTP fields).
    #[error("metadata key {key:?} is reserved")]
    ReservedKey {
        /// The key as given.
        key: String,
    },
    /// A `-bin` key was given a text value; use [`Metadata::insert_bin`].
    #[error("metadata key {key:?} ends in -bin and takes a binary value")]
    BinaryKey {
        /// The key as given.
        key: String,
    },
    /// A binary value was given to a key that does not end in `-bin`; use
    /// [`Metadata::insert`].
    #[error("metadata key {key:?} does not end in -bin and takes a text value")]
    NotBinaryKey {
        /// The key as given.
        key: String,
    },
    /// A text value may only contain bytes 0x20–0x7E.
    #[error("metadata value for {key:?} contains byte {byte:#04x}; only 0x20-0x7e are allowed")]
    InvalidValue {
        /// The key the value was for.
        key: String,
        /// The first offending byte.
        byte: u8,
    },
    /// A received `-bin` value is not valid base64. The call layer treats this
    /// as INTERNAL.
    #[error("metadata value for {key:?} is not valid base64")]
    InvalidBinary {
        /// The key the value was for.
        key: String,
    },
}

/// One metadata value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetadataValue {
    /// The value of a key not ending in `-bin`: text, sent as it is. Values
    /// inserted locally are visible ASCII; received ones may be any UTF-8 text
    /// that HTTP allowed (see [`Metadata::from_headers`]).
    Ascii(Bytes),
    /// The value of a `-bin` key, already base64-decoded.
    Binary(Bytes),
}

impl MetadataValue {
    /// The text of an ASCII value; `None` for a binary one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            MetadataValue::Ascii(v) => std::str::from_utf8(v).ok(),
            MetadataValue::Binary(_) => None,
        }
    }

    /// The raw bytes: the text of an ASCII value, the decoded bytes of a binary one.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            MetadataValue::Ascii(v) | MetadataValue::Binary(v) => v,
        }
    }

    /// Whether this is the value of a `-bin` key.
    pub fn is_binary(&self) -> bool {
        matches!(self, MetadataValue::Binary(_))
    }

    /// The length of the value as it travels (base64 for binary values).
    fn wire_len(&self) -> usize {
        match self {
            MetadataValue::Ascii(v) => v.len(),
            MetadataValue::Binary(v) => base64_unpadded_len(v.len()),
        }
    }
}

/// An ordered multimap of custom metadata, kept in insertion (or arrival) order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    // Keys are kept as `Bytes` so that sending and receiving never copy them;
    // every stored key is ASCII (checked on the way in), hence valid UTF-8.
    entries: Vec<(Bytes, MetadataValue)>,
}

impl Metadata {
    /// An empty map.
    pub fn new() -> Self {
        Metadata::default()
    }

    /// Appends a text value under `key`, after any existing ones.
    ///
    /// The key must be valid, not reserved and not end in `-bin`; the value may
    /// only contain bytes 0x20–0x7E.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), MetadataError> {
        validate_key(key)?;
        if is_binary_key(key.as_bytes()) {
            return Err(MetadataError::BinaryKey { key: key.into() });
        }
        if let Some(&byte) = value.as_bytes().iter().find(|&&b| !is_visible_ascii(b)) {
            return Err(MetadataError::InvalidValue {
                key: key.into(),
                byte,
            });
        }
        self.entries.push((
            Bytes::copy_from_slice(key.as_bytes()),
            MetadataValue::Ascii(Bytes::copy_from_slice(value.as_bytes())),
        ));
        Ok(())
    }

    /// Appends a binary value under `key`, after any existing ones. The key must
    /// be valid, not reserved and end in `-bin`; any bytes are allowed.
    pub fn insert_bin(&mut self, key: &str, value: impl Into<Bytes>) -> Result<(), MetadataError> {
        validate_key(key)?;
        if !is_binary_key(key.as_bytes()) {
            return Err(MetadataError::NotBinaryKey { key: key.into() });
        }
        self.entries.push((
            Bytes::copy_from_slice(key.as_bytes()),
            MetadataValue::Binary(value.into()),
        ));
        Ok(())
    }

    /// The first text value under `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .filter(|(k, _)| k.as_ref() == key.as_bytes())
            .find_map(|(_, v)| v.as_str())
    }

    /// The first binary value under `key`.
    pub fn get_bin(&self, key: &str) -> Option<&Bytes> {
        self.entries
            .iter()
            .filter(|(k, _)| k.as_ref() == key.as_bytes())
            .find_map(|(_, v)| match v {
                MetadataValue::Binary(b) => Some(b),
                MetadataValue::Ascii(_) => None,
            })
    }

    /// Every value under `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a MetadataValue> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| k.as_ref() == key.as_bytes())
            .map(|(_, v)| v)
    }

    /// Whether at least one value is stored under `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get_all(key).next().is_some()
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &MetadataValue)> + '_ {
        self.entries
            .iter()
            // Stored keys are ASCII, so the fallback is never taken.
            .map(|(k, v)| (std::str::from_utf8(k).unwrap_or_default(), v))
    }

    /// Removes every value under `key`; returns how many there were.
    pub fn remove(&mut self, key: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|(k, _)| k.as_ref() != key.as_bytes());
        before - self.entries.len()
    }

    /// The number of entries (a key with two values counts twice).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The size these entries add to a header list as SETTINGS_MAX_HEADER_LIST_SIZE
    /// counts it: name + encoded value + 32 per entry, binary values counted after
    /// base64. Saturates rather than overflowing.
    pub fn header_size(&self) -> usize {
        self.entries.iter().fold(0usize, |acc, (k, v)| {
            acc.saturating_add(k.len())
                .saturating_add(v.wire_len())
                .saturating_add(FIELD_OVERHEAD)
        })
    }

    /// Appends one header field per entry, in order; binary values are
    /// base64-encoded without padding.
    pub fn to_headers(&self, out: &mut Vec<Header>) {
        out.reserve(self.entries.len());
        for (k, v) in &self.entries {
            let value = match v {
                MetadataValue::Ascii(text) => text.clone(),
                MetadataValue::Binary(bytes) => Bytes::from(base64_encode_unpadded(bytes)),
            };
            out.push(Header::new(k.clone(), value));
        }
    }

    /// The user metadata in a received header list, in order.
    ///
    /// Left out: pseudo-headers, every `grpc-*` name (the spec reserves them all),
    /// `content-type`, `te`, `content-length` and the connection-specific fields.
    /// `user-agent` is kept. Names are taken as they come (the HTTP/2 layer has
    /// checked them), even if [`Metadata::insert`] would refuse them.
    ///
    /// `-bin` values are split on `,` (a peer may join duplicates) and each part
    /// is base64-decoded, padded or not; an undecodable one is
    /// [`MetadataError::InvalidBinary`]. Text values are accepted leniently, as
    /// the spec asks: anything HTTP allows except text that is not UTF-8, which
    /// is dropped (the spec permits discarding such values).
    pub fn from_headers(fields: &[Header]) -> Result<Metadata, MetadataError> {
        let mut md = Metadata::new();
        for field in fields {
            let name = field.name.as_ref();
            if name.is_empty() || is_reserved_on_receive(name) {
                continue;
            }
            let Ok(key) = std::str::from_utf8(name) else {
                continue;
            };
            if is_binary_key(name) {
                for part in field.value.split(|&b| b == b',') {
                    let decoded = base64_decode(trim_ows(part))
                        .map_err(|_| MetadataError::InvalidBinary { key: key.into() })?;
                    md.entries.push((
                        field.name.clone(),
                        MetadataValue::Binary(Bytes::from(decoded)),
                    ));
                }
            } else {
                let value = field.value.as_ref();
                // NUL, CR and LF can never be in a field value (RFC 9113 §8.2.1);
                // the HTTP/2 layer rejects them, this only keeps the promise local.
                if value.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n'))
                    || std::str::from_utf8(value).is_err()
                {
                    continue;
                }
                md.entries.push((
                    field.name.clone(),
                    MetadataValue::Ascii(field.value.clone()),
                ));
            }
        }
        Ok(md)
    }
}

impl<'a> IntoIterator for &'a Metadata {
    type Item = (&'a str, &'a MetadataValue);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a MetadataValue)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

/// Checks the key grammar and the reserved names.
fn validate_key(key: &str) -> Result<(), MetadataError> {
    let bytes = key.as_bytes();
    if bytes.is_empty() {
        return Err(MetadataError::EmptyKey);
    }
    if let Some(&byte) = bytes.iter().find(|&&b| !is_key_byte(b)) {
        return Err(MetadataError::InvalidKey {
            key: key.into(),
            byte,
        });
    }
    if bytes.starts_with(b"grpc-") || RESERVED_NAMES.contains(&bytes) {
        return Err(MetadataError::ReservedKey { key: key.into() });
    }
    Ok(())
}

fn is_key_byte(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'_' | b'.' | b'-')
}

fn is_visible_ascii(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

fn is_binary_key(key: &[u8]) -> bool {
    key.ends_with(b"-bin")
}

/// Names that are never user metadata on receive.
fn is_reserved_on_receive(name: &[u8]) -> bool {
    name.starts_with(b":") || name.starts_with(b"grpc-") || RESERVED_NAMES.contains(&name)
}

/// Strips the optional whitespace a proxy may put around list elements.
fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

// ---------------------------------------------------------------------------
// Base64 (RFC 4648 §4, standard alphabet)
// ---------------------------------------------------------------------------

/// Why [`base64_decode`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Base64Error {
    /// A byte outside the standard alphabet (URL-safe `-` and `_` included), or
    /// `=` somewhere other than the end.
    #[error("invalid base64 byte {byte:#04x} at offset {offset}")]
    InvalidByte {
        /// Where in the input.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The unpadded length leaves a single character in the last group, which
    /// cannot encode a whole byte.
    #[error("invalid base64 length")]
    InvalidLength,
    /// Padding that does not complete the last group of four, or more than two `=`.
    #[error("invalid base64 padding")]
    InvalidPadding,
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Marks bytes outside the alphabet in [`DECODE`].
const INVALID: u8 = 0xff;

/// Byte → 6-bit value, built from [`ALPHABET`] so the two cannot disagree.
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// The length of the unpadded encoding of `n` bytes.
fn base64_unpadded_len(n: usize) -> usize {
    let tail = match n % 3 {
        0 => 0,
        1 => 2,
        _ => 3,
    };
    (n / 3).saturating_mul(4).saturating_add(tail)
}

fn sextet(v: u32) -> char {
    // `v & 0x3f` is below 64, so the index is always in range.
    char::from(ALPHABET[(v & 0x3f) as usize])
}

/// Encodes `input` as standard base64 without `=` padding, the form gRPC sends.
pub fn base64_encode_unpadded(input: &[u8]) -> String {
    let mut out = String::with_capacity(base64_unpadded_len(input.len()));
    let mut chunks = input.chunks_exact(3);
    for chunk in &mut chunks {
        if let [a, b, c] = *chunk {
            let n = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
            out.extend([sextet(n >> 18), sextet(n >> 12), sextet(n >> 6), sextet(n)]);
        }
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend([sextet(n >> 18), sextet(n >> 12)]);
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend([sextet(n >> 18), sextet(n >> 12), sextet(n >> 6)]);
        }
        _ => {}
    }
    out
}

/// Decodes standard base64, padded or unpadded (gRPC must accept both).
///
/// Padding, when present, must complete the last group of four. Unused low bits
/// in the last character are ignored rather than rejected: on receive we are
/// lenient, and such input still has only one sensible meaning.
pub fn base64_decode(input: &[u8]) -> Result<Vec<u8>, Base64Error> {
    let pad = input.iter().rev().take_while(|&&b| b == b'=').count();
    if pad > 0 && (pad > 2 || input.len() % 4 != 0) {
        return Err(Base64Error::InvalidPadding);
    }
    let data = input.get(..input.len() - pad).unwrap_or_default();
    if data.len() % 4 == 1 {
        return Err(Base64Error::InvalidLength);
    }

    let value = |offset: usize, byte: u8| -> Result<u32, Base64Error> {
        match DECODE[usize::from(byte)] {
            INVALID => Err(Base64Error::InvalidByte { offset, byte }),
            v => Ok(u32::from(v)),
        }
    };

    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    let mut chunks = data.chunks_exact(4);
    let mut offset = 0;
    for chunk in &mut chunks {
        if let [a, b, c, d] = *chunk {
            let n = value(offset, a)? << 18
                | value(offset + 1, b)? << 12
                | value(offset + 2, c)? << 6
                | value(offset + 3, d)?;
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
        }
        offset += 4;
    }
    match *chunks.remainder() {
        [a, b] => {
            let n = value(offset, a)? << 18 | value(offset + 1, b)? << 12;
            out.push((n >> 16) as u8);
        }
        [a, b, c] => {
            let n =
                value(offset, a)? << 18 | value(offset + 1, b)? << 12 | value(offset + 2, c)? << 6;
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]);
        }
        // A remainder of one was refused above; zero means nothing is left.
        _ => {}
    }
    Ok(out)
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
    fn key_validation_table() {
        let accepted = [
            "a",
            "x-custom",
            "x.y_z-0",
            "0",
            "authorization",
            "user-agent",
            "-",
            "trace-proto",
            "grpc",
        ];
        for key in accepted {
            let mut md = Metadata::new();
            assert_eq!(md.insert(key, "v"), Ok(()), "{key}");
        }
        let rejected: &[(&str, MetadataError)] = &[
            ("", MetadataError::EmptyKey),
            (
                "X-Custom",
                MetadataError::InvalidKey {
                    key: "X-Custom".into(),
                    byte: b'X',
                },
            ),
            (
                "a b",
                MetadataError::InvalidKey {
                    key: "a b".into(),
                    byte: b' ',
                },
            ),
            (
                ":path",
                MetadataError::InvalidKey {
                    key: ":path".into(),
                    byte: b':',
                },
            ),
            (
                "a/b",
                MetadataError::InvalidKey {
                    key: "a/b".into(),
                    byte: b'/',
                },
            ),
            (
                "é",
                MetadataError::InvalidKey {
                    key: "é".into(),
                    byte: 0xc3,
                },
            ),
            (
                "grpc-status",
                MetadataError::ReservedKey {
                    key: "grpc-status".into(),
                },
            ),
            (
                "grpc-custom",
                MetadataError::ReservedKey {
                    key: "grpc-custom".into(),
                },
            ),
            (
                "content-type",
                MetadataError::ReservedKey {
                    key: "content-type".into(),
                },
            ),
            ("te", MetadataError::ReservedKey { key: "te".into() }),
            (
                "connection",
                MetadataError::ReservedKey {
                    key: "connection".into(),
                },
            ),
            (
                "x-bin",
                MetadataError::BinaryKey {
                    key: "x-bin".into(),
                },
            ),
        ];
        for (key, err) in rejected {
            let mut md = Metadata::new();
            assert_eq!(md.insert(key, "v").as_ref(), Err(err), "{key}");
            assert!(md.is_empty());
        }
    }

    #[test]
    fn binary_key_validation_table() {
        let mut md = Metadata::new();
        assert_eq!(md.insert_bin("x-bin", vec![0, 1]), Ok(()));
        assert_eq!(md.insert_bin("trace-proto-bin", Bytes::new()), Ok(()));
        assert_eq!(
            md.insert_bin("x-custom", vec![0]),
            Err(MetadataError::NotBinaryKey {
                key: "x-custom".into()
            })
        );
        assert_eq!(
            md.insert_bin("grpc-status-details-bin", vec![0]),
            Err(MetadataError::ReservedKey {
                key: "grpc-status-details-bin".into()
            })
        );
        assert_eq!(
            md.insert_bin("X-bin", vec![0]),
            Err(MetadataError::InvalidKey {
                key: "X-bin".into(),
                byte: b'X'
            })
        );
        assert_eq!(md.len(), 2);
    }

    #[test]
    fn value_validation_table() {
        for value in [
            "",
            "plain",
            " leading and trailing ",
            "~!@#$%^&*()",
            "\u{20}\u{7e}",
        ] {
            let mut md = Metadata::new();
            assert_eq!(md.insert("k", value), Ok(()), "{value:?}");
            assert_eq!(md.get("k"), Some(value));
        }
        for (value, byte) in [
            ("tab\there", b'\t'),
            ("nl\n", b'\n'),
            ("del\u{7f}", 0x7f),
            ("é", 0xc3),
            ("\0", 0),
        ] {
            let mut md = Metadata::new();
            assert_eq!(
                md.insert("k", value),
                Err(MetadataError::InvalidValue {
                    key: "k".into(),
                    byte
                }),
                "{value:?}"
            );
        }
    }

    #[test]
    fn multimap_operations() {
        let mut md = Metadata::new();
        md.insert("a", "1").unwrap();
        md.insert("b", "2").unwrap();
        md.insert("a", "3").unwrap();
        md.insert_bin("c-bin", &b"\xff"[..]).unwrap();
        assert_eq!(md.len(), 4);
        assert_eq!(md.get("a"), Some("1"));
        assert_eq!(md.get("missing"), None);
        assert_eq!(md.get("c-bin"), None);
        assert_eq!(md.get_bin("c-bin").map(|b| b.as_ref()), Some(&b"\xff"[..]));
        assert_eq!(md.get_bin("a"), None);
        let all: Vec<_> = md.get_all("a").filter_map(MetadataValue::as_str).collect();
        assert_eq!(all, ["1", "3"]);
        let keys: Vec<_> = md.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b", "a", "c-bin"]);
        assert!(md.contains_key("b"));
        assert_eq!(md.remove("a"), 2);
        assert_eq!(md.remove("a"), 0);
        assert_eq!((&md).into_iter().count(), 2);
        assert_eq!(md.len(), 2);
        assert!(!md.is_empty());
    }

    #[test]
    fn order_preserved_through_headers() {
        let mut md = Metadata::new();
        md.insert("z", "1").unwrap();
        md.insert_bin("y-bin", vec![1, 2, 3, 4]).unwrap();
        md.insert("a", "2").unwrap();
        md.insert("z", "3").unwrap();
        md.insert("user-agent", "test/1.0").unwrap();
        let mut out = Vec::new();
        md.to_headers(&mut out);
        let names: Vec<_> = out.iter().map(|h| h.name.as_ref()).collect();
        assert_eq!(names, [&b"z"[..], b"y-bin", b"a", b"z", b"user-agent"]);
        assert_eq!(out[1].value.as_ref(), b"AQIDBA");
        assert_eq!(Metadata::from_headers(&out), Ok(md));
    }

    #[test]
    fn reserved_headers_filtered() {
        let fields = [
            h(":status", b"200"),
            h(":path", b"/a/b"),
            h("content-type", b"application/grpc"),
            h("te", b"trailers"),
            h("content-length", b"5"),
            h("grpc-status", b"0"),
            h("grpc-message", b"x"),
            h("grpc-timeout", b"1S"),
            h("grpc-encoding", b"gzip"),
            h("grpc-accept-encoding", b"gzip"),
            h("grpc-status-details-bin", b"!!not base64!!"),
            h("grpc-previous-rpc-attempts", b"1"),
            h("user-agent", b"grpc-go/1.0"),
            h("x-kept", b"yes"),
        ];
        let md = Metadata::from_headers(&fields).unwrap();
        let kept: Vec<_> = md.iter().map(|(k, v)| (k, v.as_str().unwrap())).collect();
        assert_eq!(kept, [("user-agent", "grpc-go/1.0"), ("x-kept", "yes")]);
    }

    #[test]
    fn receive_binary_padded_unpadded_and_joined() {
        let fields = [
            h("x-bin", b"AQID"),
            h("x-bin", b"AQ=="),
            h("x-bin", b"AQ"),
            h("x-bin", b"AQI=, AQI ,"),
            h("x-bin", b""),
        ];
        let md = Metadata::from_headers(&fields).unwrap();
        let values: Vec<_> = md.get_all("x-bin").map(MetadataValue::as_bytes).collect();
        assert_eq!(
            values,
            [&[1u8, 2, 3][..], &[1], &[1], &[1, 2], &[1, 2], &[], &[]]
        );
        assert!(md.get_all("x-bin").all(MetadataValue::is_binary));
    }

    #[test]
    fn receive_invalid_binary_is_an_error() {
        for bad in [
            &b"A"[..],
            b"AQ=",
            b"AQ===",
            b"A=Q=",
            b"AQ-_",
            b"AQ\x00\x00",
            b"AQ,A",
            b"=",
            b"%%%%",
        ] {
            let fields = [h("ok", b"1"), h("x-bin", bad)];
            assert_eq!(
                Metadata::from_headers(&fields),
                Err(MetadataError::InvalidBinary {
                    key: "x-bin".into()
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn receive_ascii_leniently() {
        let fields = [
            h("x-tab", b"a\tb"),
            h("x-utf8", "caf\u{e9}".as_bytes()),
            h("x-latin1", b"caf\xe9"),
            h("x-nul", b"a\0b"),
            h("X-Odd!", b"kept as received"),
            h("", b"nameless"),
        ];
        let md = Metadata::from_headers(&fields).unwrap();
        assert_eq!(md.get("x-tab"), Some("a\tb"));
        assert_eq!(md.get("x-utf8"), Some("caf\u{e9}"));
        assert_eq!(md.get("x-latin1"), None);
        assert_eq!(md.get("x-nul"), None);
        assert_eq!(md.get("X-Odd!"), Some("kept as received"));
        assert_eq!(md.len(), 3);
        // What was accepted can be sent back unchanged.
        let mut out = Vec::new();
        md.to_headers(&mut out);
        assert_eq!(Metadata::from_headers(&out), Ok(md));
    }

    #[test]
    fn header_size_counts_encoded_values() {
        let mut md = Metadata::new();
        assert_eq!(md.header_size(), 0);
        md.insert("ab", "cde").unwrap();
        md.insert_bin("x-bin", vec![0; 4]).unwrap();
        // 2 + 3 + 32, then 5 + len("AAAAAA") + 32.
        assert_eq!(md.header_size(), 37 + 5 + 6 + 32);
        let mut out = Vec::new();
        md.to_headers(&mut out);
        assert_eq!(
            md.header_size(),
            out.iter().map(Header::size).sum::<usize>()
        );
    }

    #[test]
    fn base64_known_vectors() {
        // RFC 4648 §10, without the padding.
        let cases: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
            (b"\xab\xab\xab", "q6ur"),
            (b"\xfb\xff", "+/8"),
        ];
        for &(raw, enc) in cases {
            assert_eq!(base64_encode_unpadded(raw), enc);
            assert_eq!(base64_decode(enc.as_bytes()).as_deref(), Ok(raw));
            let padded = format!("{enc}{}", "=".repeat((4 - enc.len() % 4) % 4));
            assert_eq!(base64_decode(padded.as_bytes()).as_deref(), Ok(raw));
        }
    }

    #[test]
    fn base64_rejects() {
        assert_eq!(base64_decode(b"Zg="), Err(Base64Error::InvalidPadding));
        assert_eq!(base64_decode(b"Z==="), Err(Base64Error::InvalidPadding));
        assert_eq!(base64_decode(b"===="), Err(Base64Error::InvalidPadding));
        assert_eq!(base64_decode(b"Zm9vY"), Err(Base64Error::InvalidLength));
        assert_eq!(
            base64_decode(b"Zg==Zg=="),
            Err(Base64Error::InvalidByte {
                offset: 2,
                byte: b'='
            })
        );
        assert_eq!(
            base64_decode(b"Zm9v-_"),
            Err(Base64Error::InvalidByte {
                offset: 4,
                byte: b'-'
            })
        );
        assert_eq!(
            base64_decode(b"Zm 9"),
            Err(Base64Error::InvalidByte {
                offset: 2,
                byte: b' '
            })
        );
        // Non-zero unused bits are tolerated.
        assert_eq!(base64_decode(b"Zh").as_deref(), Ok(&b"f"[..]));
    }

    proptest! {
        #[test]
        fn base64_round_trip(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let enc = base64_encode_unpadded(&data);
            prop_assert!(!enc.contains('='));
            prop_assert_eq!(enc.len(), base64_unpadded_len(data.len()));
            prop_assert_eq!(base64_decode(enc.as_bytes()), Ok(data.clone()));
            let padded = format!("{enc}{}", "=".repeat((4 - enc.len() % 4) % 4));
            prop_assert_eq!(base64_decode(padded.as_bytes()), Ok(data));
        }

        #[test]
        fn base64_decode_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = base64_decode(&data);
        }

        #[test]
        fn binary_metadata_round_trip(values in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..5)) {
            let mut md = Metadata::new();
            for v in &values {
                md.insert_bin("x-data-bin", v.clone()).unwrap();
            }
            let mut out = Vec::new();
            md.to_headers(&mut out);
            let back = Metadata::from_headers(&out).unwrap();
            let got: Vec<_> = back.get_all("x-data-bin").map(|v| v.as_bytes().to_vec()).collect();
            prop_assert_eq!(got, values.clone());

            // The same values joined with ',' into one field, padded this time.
            let joined: Vec<String> = values.iter().map(|v| {
                let e = base64_encode_unpadded(v);
                format!("{e}{}", "=".repeat((4 - e.len() % 4) % 4))
            }).collect();
            if !values.is_empty() {
                let field = h("x-data-bin", joined.join(",").as_bytes());
                let back = Metadata::from_headers(&[field]).unwrap();
                let got: Vec<_> = back.get_all("x-data-bin").map(|v| v.as_bytes().to_vec()).collect();
                prop_assert_eq!(got, values);
            }
        }

        #[test]
        fn from_headers_never_panics(name in "[a-z:-]{0,12}(-bin)?", value in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = Metadata::from_headers(&[h(&name, &value)]);
        }
    }
}
