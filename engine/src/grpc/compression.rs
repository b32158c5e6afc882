//! Per-message compression (`grpc-encoding`, `grpc-accept-encoding`).
//!
//! "gzip" is RFC 1952 (members may be concatenated, as Go's reader accepts) and
//! "deflate" is the zlib format of RFC 1950 (header and Adler-32), which is what
//! gRPC C-core, Java and Go produce under that name.
//!
//! Decompression never allocates more than the caller's limit plus one octet,
//! whatever the input claims: the output buffer grows in bounded steps and the
//! inflater writes only into space already reserved.

use std::io::Write;

use flate2::{Compression, Crc, Decompress, FlushDecompress, Status};

/// A message encoding gRPC names in `grpc-encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// No compression.
    Identity,
    /// gzip, RFC 1952.
    Gzip,
    /// zlib, RFC 1950 (gRPC's "deflate").
    Deflate,
}

impl Encoding {
    /// Every encoding, in the order [`EncodingSet::to_header_value`] lists them.
    pub const ALL: [Encoding; 3] = [Encoding::Identity, Encoding::Deflate, Encoding::Gzip];

    /// The encoding with this exact (lower-case) name.
    pub fn from_name(name: &[u8]) -> Option<Encoding> {
        match name {
            b"identity" => Some(Encoding::Identity),
            b"gzip" => Some(Encoding::Gzip),
            b"deflate" => Some(Encoding::Deflate),
            _ => None,
        }
    }

    /// The name used in `grpc-encoding` and `grpc-accept-encoding`.
    pub fn name(&self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Encoding::Identity => 1,
            Encoding::Deflate => 2,
            Encoding::Gzip => 4,
        }
    }
}

/// A set of encodings, e.g. what a peer accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EncodingSet(u8);

impl EncodingSet {
    /// The empty set.
    pub const fn empty() -> EncodingSet {
        EncodingSet(0)
    }

    /// Every encoding this crate implements.
    pub const fn all() -> EncodingSet {
        EncodingSet(0b111)
    }

    /// Whether `encoding` is in the set.
    pub fn contains(&self, encoding: Encoding) -> bool {
        self.0 & encoding.bit() != 0
    }

    /// Adds `encoding`.
    pub fn insert(&mut self, encoding: Encoding) {
        self.0 |= encoding.bit();
    }

    /// Removes `encoding`.
    pub fn remove(&mut self, encoding: Encoding) {
        self.0 &= !encoding.bit();
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The members, in the order of [`Encoding::ALL`].
    pub fn iter(&self) -> impl Iterator<Item = Encoding> + '_ {
        Encoding::ALL.into_iter().filter(|e| self.contains(*e))
    }

    /// Parses a peer's `grpc-accept-encoding`: comma-separated names with
    /// optional whitespace; names we do not implement are skipped, since the
    /// peer may support more than we do.
    pub fn parse(value: &[u8]) -> EncodingSet {
        let mut set = EncodingSet::empty();
        for name in value.split(|b| *b == b',') {
            if let Some(encoding) = Encoding::from_name(name.trim_ascii()) {
                set.insert(encoding);
            }
        }
        set
    }

    /// The `grpc-accept-encoding` value for this set, e.g.
    /// `identity,deflate,gzip` (always in that order).
    pub fn to_header_value(&self) -> String {
        let mut value = String::new();
        for encoding in self.iter() {
            if !value.is_empty() {
                value.push(',');
            }
            value.push_str(encoding.name());
        }
        value
    }
}

impl From<Encoding> for EncodingSet {
    fn from(encoding: Encoding) -> EncodingSet {
        EncodingSet(encoding.bit())
    }
}

/// Errors of compression and decompression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompressionError {
    /// The decompressed message would exceed the limit (the call fails with
    /// RESOURCE_EXHAUSTED).
    #[error("decompressed message exceeds the limit of {max} octets")]
    TooLarge {
        /// The limit in force.
        max: usize,
    },
    /// The compressed data is malformed or truncated (the call fails with
    /// INTERNAL).
    #[error("corrupt compressed message: {0}")]
    Corrupt(String),
    /// The compressor failed (not expected when writing to memory).
    #[error("compression failed: {0}")]
    Compress(String),
}

fn corrupt(what: impl Into<String>) -> CompressionError {
    CompressionError::Corrupt(what.into())
}

/// Appends `src` compressed with `encoding` (default level) to `dst`.
pub fn compress(encoding: Encoding, src: &[u8], dst: &mut Vec<u8>) -> Result<(), CompressionError> {
    let failed = |e: std::io::Error| CompressionError::Compress(e.to_string());
    match encoding {
        Encoding::Identity => dst.extend_from_slice(src),
        Encoding::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(dst, Compression::default());
            enc.write_all(src).map_err(failed)?;
            enc.finish().map_err(failed)?;
        }
        Encoding::Deflate => {
            let mut enc = flate2::write::ZlibEncoder::new(dst, Compression::default());
            enc.write_all(src).map_err(failed)?;
            enc.finish().map_err(failed)?;
        }
    }
    Ok(())
}

/// Decompresses `src`, failing with [`CompressionError::TooLarge`] as soon as
/// the output would exceed `max_len` octets. At most `max_len + 1` octets of
/// output are ever allocated.
pub fn decompress(
    encoding: Encoding,
    src: &[u8],
    max_len: usize,
) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    decompress_into(encoding, src, max_len, &mut out)?;
    Ok(out)
}

/// [`decompress`] into a caller-owned buffer, so tests can inspect its
/// capacity after a failure.
fn decompress_into(
    encoding: Encoding,
    src: &[u8],
    max_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), CompressionError> {
    match encoding {
        Encoding::Identity => {
            if src.len() > max_len {
                return Err(CompressionError::TooLarge { max: max_len });
            }
            out.extend_from_slice(src);
        }
        Encoding::Deflate => {
            let mut inflater = Decompress::new(true);
            let used = inflate(&mut inflater, src, out, max_len)?;
            if used != src.len() {
                return Err(corrupt("data after the end of the zlib stream"));
            }
        }
        Encoding::Gzip => gunzip(src, max_len, out)?,
    }
    Ok(())
}

/// Smallest first reservation of the output buffer, so tiny outputs do not
/// reallocate often.
const MIN_FIRST_RESERVE: usize = 512;

/// Inflates one stream from `input`, appending to `out` while keeping
/// `out.len() <= max_len` and `out.capacity()` near `max_len + 1` at most.
/// Returns the input octets the stream used.
fn inflate(
    inflater: &mut Decompress,
    input: &[u8],
    out: &mut Vec<u8>,
    max_len: usize,
) -> Result<usize, CompressionError> {
    // One octet past the limit tells "exactly max_len" from "more".
    let limit = max_len.saturating_add(1);
    let start_in = inflater.total_in();
    loop {
        if out.len() > max_len {
            return Err(CompressionError::TooLarge { max: max_len });
        }
        if out.len() == out.capacity() {
            // Start from the real input size (never from a length the data
            // claims), then double; never past `limit`.
            let cap = out.capacity();
            let first = input.len().saturating_mul(2).max(MIN_FIRST_RESERVE);
            let target = cap.saturating_mul(2).max(first).min(limit);
            // target > len: len <= max_len < limit, and cap == len.
            out.reserve_exact(target - out.len());
        }
        let used = usize::try_from(inflater.total_in() - start_in).unwrap_or(usize::MAX);
        let rest = input.get(used..).unwrap_or_default();
        let (in_before, out_before) = (inflater.total_in(), out.len());
        let status = inflater
            .decompress_vec(rest, out, FlushDecompress::None)
            .map_err(|e| corrupt(e.to_string()))?;
        match status {
            Status::StreamEnd => {
                if out.len() > max_len {
                    return Err(CompressionError::TooLarge { max: max_len });
                }
                let used = usize::try_from(inflater.total_in() - start_in).unwrap_or(usize::MAX);
                return Ok(used);
            }
            Status::Ok | Status::BufError => {
                let stuck = inflater.total_in() == in_before && out.len() == out_before;
                // No progress although output space is free: the input ended
                // before the stream did. (A full buffer is grown above.)
                if stuck && out.len() < out.capacity() {
                    return Err(corrupt("truncated compressed stream"));
                }
            }
        }
    }
}

const GZIP_FHCRC: u8 = 0x02;
const GZIP_FEXTRA: u8 = 0x04;
const GZIP_FNAME: u8 = 0x08;
const GZIP_FCOMMENT: u8 = 0x10;
const GZIP_RESERVED: u8 = 0xe0;

/// Decodes one or more concatenated gzip members.
fn gunzip(src: &[u8], max_len: usize, out: &mut Vec<u8>) -> Result<(), CompressionError> {
    let mut rest = src;
    let mut inflater = Decompress::new(false);
    loop {
        rest = rest.get(gzip_header_len(rest)?..).unwrap_or_default();
        let start = out.len();
        inflater.reset(false);
        let used = inflate(&mut inflater, rest, out, max_len)?;
        rest = rest.get(used..).unwrap_or_default();
        let Some((trailer, after)) = rest.split_first_chunk::<8>() else {
            return Err(corrupt("truncated gzip trailer"));
        };
        let member = out.get(start..).unwrap_or_default();
        let mut crc = Crc::new();
        crc.update(member);
        let [c0, c1, c2, c3, s0, s1, s2, s3] = *trailer;
        if u32::from_le_bytes([c0, c1, c2, c3]) != crc.sum() {
            return Err(corrupt("gzip CRC mismatch"));
        }
        // ISIZE is the length modulo 2^32; Crc counts the same way.
        if u32::from_le_bytes([s0, s1, s2, s3]) != crc.amount() {
            return Err(corrupt("gzip length mismatch"));
        }
        rest = after;
        if rest.is_empty() {
            return Ok(());
        }
    }
}

/// Length of the gzip member header at the start of `src`, checked.
fn gzip_header_len(src: &[u8]) -> Result<usize, CompressionError> {
    let truncated = || corrupt("truncated gzip header");
    let fixed = src.get(..10).ok_or_else(truncated)?;
    if fixed[..2] != [0x1f, 0x8b] {
        return Err(corrupt("not gzip data"));
    }
    if fixed[2] != 8 {
        return Err(corrupt("unsupported gzip compression method"));
    }
    let flags = fixed[3];
    if flags & GZIP_RESERVED != 0 {
        return Err(corrupt("reserved gzip flags set"));
    }
    let mut pos = 10usize;
    if flags & GZIP_FEXTRA != 0 {
        let xlen = src.get(pos..pos + 2).ok_or_else(truncated)?;
        let xlen = usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
        pos = pos + 2 + xlen;
    }
    for flag in [GZIP_FNAME, GZIP_FCOMMENT] {
        if flags & flag != 0 {
            let field = src.get(pos..).ok_or_else(truncated)?;
            let nul = field.iter().position(|b| *b == 0).ok_or_else(truncated)?;
            pos += nul + 1;
        }
    }
    if flags & GZIP_FHCRC != 0 {
        let header = src.get(..pos).ok_or_else(truncated)?;
        let stored = src.get(pos..pos + 2).ok_or_else(truncated)?;
        let mut crc = Crc::new();
        crc.update(header);
        // The header CRC is the low 16 bits of the CRC-32.
        if u32::from(u16::from_le_bytes([stored[0], stored[1]])) != crc.sum() & 0xffff {
            return Err(corrupt("gzip header CRC mismatch"));
        }
        pos += 2;
    }
    if pos > src.len() {
        return Err(truncated());
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `gzip.compress(b"hello", mtime=0)` from Python.
    const PY_GZIP_HELLO: [u8; 25] = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
        0x07, 0x00, 0x86, 0xa6, 0x10, 0x36, 0x05, 0x00, 0x00, 0x00,
    ];
    /// `zlib.compress(b"hello")` from Python.
    const PY_ZLIB_HELLO: [u8; 13] = [
        0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x06, 0x2c, 0x02, 0x15,
    ];
    /// Python's `GzipFile(filename="greeting.txt")` writing `b"hello, gRPC"`:
    /// has FNAME and an mtime.
    const PY_GZIP_NAMED: [u8; 44] = [
        0x1f, 0x8b, 0x08, 0x08, 0x00, 0xf1, 0x53, 0x65, 0x02, 0xff, 0x67, 0x72, 0x65, 0x65, 0x74,
        0x69, 0x6e, 0x67, 0x2e, 0x74, 0x78, 0x74, 0x00, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51,
        0x48, 0x0f, 0x0a, 0x70, 0x06, 0x00, 0xbe, 0x60, 0xbb, 0xdb, 0x0b, 0x00, 0x00, 0x00,
    ];

    fn is_corrupt<T: std::fmt::Debug>(r: Result<T, CompressionError>) -> bool {
        matches!(r, Err(CompressionError::Corrupt(_)))
    }

    #[test]
    fn names() {
        for e in Encoding::ALL {
            assert_eq!(Encoding::from_name(e.name().as_bytes()), Some(e));
        }
        assert_eq!(Encoding::from_name(b"GZIP"), None);
        assert_eq!(Encoding::from_name(b"snappy"), None);
        assert_eq!(Encoding::from_name(b""), None);
    }

    #[test]
    fn accept_encoding_format_and_parse() {
        assert_eq!(
            EncodingSet::all().to_header_value(),
            "identity,deflate,gzip"
        );
        assert_eq!(EncodingSet::empty().to_header_value(), "");
        let mut set = EncodingSet::from(Encoding::Gzip);
        set.insert(Encoding::Identity);
        assert_eq!(set.to_header_value(), "identity,gzip");
        assert!(!set.contains(Encoding::Deflate));
        set.remove(Encoding::Gzip);
        assert_eq!(set, EncodingSet::from(Encoding::Identity));

        assert_eq!(
            EncodingSet::parse(b"gzip, deflate ,identity"),
            EncodingSet::all()
        );
        let p = EncodingSet::parse(b" snappy,\tgzip ,,zstd,br ");
        assert_eq!(p, EncodingSet::from(Encoding::Gzip));
        assert!(EncodingSet::parse(b"").is_empty());
        assert!(EncodingSet::parse(b",,, ,").is_empty());
        assert!(EncodingSet::parse(b"Gzip").is_empty());
        for bits in 0..8u8 {
            let s = EncodingSet(bits);
            assert_eq!(EncodingSet::parse(s.to_header_value().as_bytes()), s);
        }
    }

    #[test]
    fn interop_with_python() {
        assert_eq!(
            decompress(Encoding::Gzip, &PY_GZIP_HELLO, 5).unwrap(),
            b"hello"
        );
        assert_eq!(
            decompress(Encoding::Deflate, &PY_ZLIB_HELLO, 5).unwrap(),
            b"hello"
        );
        assert_eq!(
            decompress(Encoding::Gzip, &PY_GZIP_NAMED, 100).unwrap(),
            b"hello, gRPC"
        );
        assert_eq!(
            decompress(Encoding::Gzip, &PY_GZIP_HELLO, 4),
            Err(CompressionError::TooLarge { max: 4 })
        );
        // The formats are not interchangeable.
        assert!(is_corrupt(decompress(Encoding::Gzip, &PY_ZLIB_HELLO, 100)));
        assert!(is_corrupt(decompress(
            Encoding::Deflate,
            &PY_GZIP_HELLO,
            100
        )));
    }

    #[test]
    fn our_output_has_the_expected_framing() {
        let mut gz = Vec::new();
        compress(Encoding::Gzip, b"hello", &mut gz).unwrap();
        assert_eq!(gz[..3], [0x1f, 0x8b, 0x08]);
        assert_eq!(gz[gz.len() - 8..], PY_GZIP_HELLO[PY_GZIP_HELLO.len() - 8..]);
        let mut zl = vec![0xaa];
        compress(Encoding::Deflate, b"hello", &mut zl).unwrap();
        assert_eq!(zl[0], 0xaa, "compress appends");
        assert_eq!(zl[1] & 0x0f, 8, "zlib CM = deflate");
        assert_eq!(u16::from_be_bytes([zl[1], zl[2]]) % 31, 0, "zlib FCHECK");
        assert_eq!(zl[zl.len() - 4..], PY_ZLIB_HELLO[PY_ZLIB_HELLO.len() - 4..]);
    }

    #[test]
    fn gzip_optional_header_fields_and_members() {
        // FEXTRA, FCOMMENT and FHCRC around Python's deflate body.
        let mut h = vec![0x1f, 0x8b, 8, GZIP_FEXTRA | GZIP_FCOMMENT | GZIP_FHCRC];
        h.extend_from_slice(&[0, 0, 0, 0, 0, 0xff]);
        h.extend_from_slice(&[3, 0, b'a', b'b', b'c']);
        h.extend_from_slice(b"a comment\0");
        let mut crc = Crc::new();
        crc.update(&h);
        h.extend_from_slice(&(crc.sum() as u16).to_le_bytes());
        let mut blob = h.clone();
        blob.extend_from_slice(&PY_GZIP_HELLO[10..]);
        assert_eq!(decompress(Encoding::Gzip, &blob, 5).unwrap(), b"hello");
        let crc_at = h.len() - 2;
        blob[crc_at] ^= 1;
        assert!(is_corrupt(decompress(Encoding::Gzip, &blob, 5)));

        // Concatenated members; the limit covers their sum.
        let mut two = PY_GZIP_HELLO.to_vec();
        two.extend_from_slice(&PY_GZIP_NAMED);
        assert_eq!(
            decompress(Encoding::Gzip, &two, 16).unwrap(),
            b"hellohello, gRPC"
        );
        assert_eq!(
            decompress(Encoding::Gzip, &two, 15),
            Err(CompressionError::TooLarge { max: 15 })
        );
        // Trailing garbage is not a member.
        let mut junk = PY_GZIP_HELLO.to_vec();
        junk.push(0);
        assert!(is_corrupt(decompress(Encoding::Gzip, &junk, 100)));
        let mut junk = PY_ZLIB_HELLO.to_vec();
        junk.push(0);
        assert!(is_corrupt(decompress(Encoding::Deflate, &junk, 100)));
    }

    #[test]
    fn truncated_and_corrupt() {
        for (enc, blob) in [
            (Encoding::Gzip, &PY_GZIP_HELLO[..]),
            (Encoding::Deflate, &PY_ZLIB_HELLO[..]),
            (Encoding::Gzip, &PY_GZIP_NAMED[..]),
        ] {
            for cut in 0..blob.len() {
                let r = decompress(enc, &blob[..cut], 100);
                assert!(is_corrupt(r.clone()), "{enc:?} cut at {cut}: {r:?}");
            }
        }
        let mut bad = PY_GZIP_HELLO;
        bad[17] ^= 0x40; // CRC-32
        assert!(is_corrupt(decompress(Encoding::Gzip, &bad, 100)));
        let mut bad = PY_GZIP_HELLO;
        bad[21] ^= 1; // ISIZE
        assert!(is_corrupt(decompress(Encoding::Gzip, &bad, 100)));
        let mut bad = PY_ZLIB_HELLO;
        bad[12] ^= 1; // Adler-32
        assert!(is_corrupt(decompress(Encoding::Deflate, &bad, 100)));
        let mut bad = PY_ZLIB_HELLO;
        bad[1] ^= 1; // header check
        assert!(is_corrupt(decompress(Encoding::Deflate, &bad, 100)));
        let mut bad = PY_GZIP_HELLO;
        bad[3] = 0x20; // reserved flag
        assert!(is_corrupt(decompress(Encoding::Gzip, &bad, 100)));
        assert!(is_corrupt(decompress(Encoding::Gzip, &[0xff; 40], 100)));
        assert!(is_corrupt(decompress(Encoding::Deflate, &[0xff; 40], 100)));
    }

    #[test]
    fn identity() {
        let mut v = vec![1];
        compress(Encoding::Identity, b"abc", &mut v).unwrap();
        assert_eq!(v, [1, b'a', b'b', b'c']);
        assert_eq!(decompress(Encoding::Identity, b"abc", 3).unwrap(), b"abc");
        assert_eq!(
            decompress(Encoding::Identity, b"abc", 2),
            Err(CompressionError::TooLarge { max: 2 })
        );
    }

    #[test]
    fn large_round_trip() {
        // Several MiB through many buffer growths and inflater calls.
        let mut x = 1u32;
        let data: Vec<u8> = (0..3_000_000)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                if i % 3 == 0 {
                    (x >> 24) as u8
                } else {
                    (i % 7) as u8
                }
            })
            .collect();
        for enc in Encoding::ALL {
            let mut c = Vec::new();
            compress(enc, &data, &mut c).unwrap();
            assert_eq!(decompress(enc, &c, DEFAULT_MAX).unwrap(), data);
        }
    }

    const DEFAULT_MAX: usize = 4 << 20;

    #[test]
    fn exact_limit_boundary() {
        let data = vec![b'x'; 100_000];
        for enc in [Encoding::Gzip, Encoding::Deflate] {
            let mut c = Vec::new();
            compress(enc, &data, &mut c).unwrap();
            assert_eq!(decompress(enc, &c, data.len()).unwrap(), data);
            assert_eq!(
                decompress(enc, &c, data.len() - 1),
                Err(CompressionError::TooLarge {
                    max: data.len() - 1
                })
            );
            assert_eq!(
                decompress(enc, &c, 0),
                Err(CompressionError::TooLarge { max: 0 })
            );
        }
    }

    #[test]
    fn bomb_allocates_no_more_than_the_limit() {
        const MAX: usize = 4 << 20;
        let zeros = vec![0u8; 1 << 20];
        for enc in [Encoding::Gzip, Encoding::Deflate] {
            // 64 MiB of zeros compress to about 64 KiB.
            let mut bomb = Vec::new();
            match enc {
                Encoding::Gzip => {
                    let mut w = flate2::write::GzEncoder::new(&mut bomb, Compression::fast());
                    for _ in 0..64 {
                        w.write_all(&zeros).unwrap();
                    }
                    w.finish().unwrap();
                }
                _ => {
                    let mut w = flate2::write::ZlibEncoder::new(&mut bomb, Compression::fast());
                    for _ in 0..64 {
                        w.write_all(&zeros).unwrap();
                    }
                    w.finish().unwrap();
                }
            }
            assert!(bomb.len() < 1 << 20);
            let mut out = Vec::new();
            let r = decompress_into(enc, &bomb, MAX, &mut out);
            assert_eq!(r, Err(CompressionError::TooLarge { max: MAX }));
            assert!(
                out.capacity() <= MAX + 64 * 1024,
                "{enc:?}: capacity {}",
                out.capacity()
            );
            assert_eq!(
                decompress(enc, &bomb, MAX),
                Err(CompressionError::TooLarge { max: MAX })
            );
        }
        // Many small gzip members: the limit holds across members too.
        let mut member = Vec::new();
        compress(Encoding::Gzip, &zeros, &mut member).unwrap();
        let bomb = member.repeat(64);
        let mut out = Vec::new();
        let r = decompress_into(Encoding::Gzip, &bomb, MAX, &mut out);
        assert_eq!(r, Err(CompressionError::TooLarge { max: MAX }));
        assert!(out.capacity() <= MAX + 64 * 1024);
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(any::<u8>(), 0..4096), small in any::<bool>()) {
            // Low-entropy data compresses, random data does not: try both.
            let data: Vec<u8> = if small { data.iter().map(|b| b % 4).collect() } else { data };
            for enc in Encoding::ALL {
                let mut c = Vec::new();
                compress(enc, &data, &mut c).unwrap();
                prop_assert_eq!(&decompress(enc, &c, data.len()).unwrap(), &data);
                if !data.is_empty() {
                    prop_assert_eq!(
                        decompress(enc, &c, data.len() - 1),
                        Err(CompressionError::TooLarge { max: data.len() - 1 })
                    );
                }
            }
        }

        #[test]
        fn arbitrary_input_never_panics(
            data in proptest::collection::vec(any::<u8>(), 0..512),
            max in 0usize..2048,
        ) {
            for enc in Encoding::ALL {
                if let Ok(out) = decompress(enc, &data, max) {
                    prop_assert!(out.len() <= max);
                }
            }
        }

        #[test]
        fn bit_flips_are_detected_or_harmless(
            data in proptest::collection::vec(any::<u8>(), 1..300),
            at in any::<proptest::sample::Index>(),
            bit in 0u8..8,
        ) {
            for enc in [Encoding::Gzip, Encoding::Deflate] {
                let mut c = Vec::new();
                compress(enc, &data, &mut c).unwrap();
                let i = at.index(c.len());
                c[i] ^= 1 << bit;
                // Checksums catch payload changes; header bits like mtime or
                // the OS byte may legitimately not matter.
                if let Ok(out) = decompress(enc, &c, 4096) {
                    prop_assert_eq!(out, data.clone());
                }
            }
        }
    }
}
