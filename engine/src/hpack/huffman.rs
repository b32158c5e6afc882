//! The static Huffman code for string literals (RFC 7541 §5.2, Appendix B).
//!
//! Public so that benchmarks and fuzzers can reach it directly.

use super::error::{DecodeError, HuffmanError};
use super::huffman_table::{Step, ACCEPT, DECODE, EMIT, ENCODE, EOS_SEEN, ONES};

/// Appends the Huffman coding of `src` to `dst`, padded with the most
/// significant bits of EOS.
pub fn encode(src: &[u8], dst: &mut Vec<u8>) {
    // Bits waiting to be written sit in the low `bits` bits of `acc`; older
    // bits shifted beyond 64 are already written, so losing them is fine.
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    dst.reserve(src.len());
    for &octet in src {
        let (code, len) = ENCODE[usize::from(octet)];
        // bits <= 7 here and len <= 30, so nothing pending is shifted out.
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            dst.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        dst.push(((acc << (8 - bits)) | (0xff >> bits)) as u8);
    }
}

/// The length of [`encode`]'s output for `src`, without encoding.
pub fn encoded_len(src: &[u8]) -> usize {
    let bits: u64 = src
        .iter()
        .map(|&octet| u64::from(ENCODE[usize::from(octet)].1))
        .sum();
    usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX)
}

/// Appends the decoding of the Huffman-coded `src` to `dst`.
///
/// Rejects EOS inside the string, padding longer than 7 bits and padding that
/// is not all ones (RFC 7541 §5.2) as [`DecodeError::InvalidHuffman`]. On error,
/// `dst` may hold part of the output.
pub fn decode(src: &[u8], dst: &mut Vec<u8>) -> Result<(), DecodeError> {
    // Every code is at least 5 bits, so the output is at most 8/5 of the input.
    dst.reserve(src.len() / 5 * 8 + 8);
    let mut state = 0u8;
    // The empty string is valid: nothing decoded, no padding.
    let mut flags = ACCEPT | ONES;
    for &octet in src {
        for nibble in [octet >> 4, octet & 0x0f] {
            let step: Step = DECODE[usize::from(state)][usize::from(nibble & 0x0f)];
            // One test on the common path: most nibbles neither emit nor fail.
            if step.flags & (EMIT | EOS_SEEN) != 0 {
                if step.flags & EOS_SEEN != 0 {
                    return Err(HuffmanError::Eos.into());
                }
                dst.push(step.symbol);
            }
            state = step.next;
            flags = step.flags;
        }
    }
    if flags & ACCEPT != 0 {
        Ok(())
    } else if flags & ONES != 0 {
        Err(HuffmanError::PaddingTooLong.into())
    } else {
        Err(HuffmanError::PaddingNotOnes.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(s, &mut out);
        assert_eq!(out.len(), encoded_len(s));
        out
    }

    fn dec(s: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::new();
        decode(s, &mut out).map(|()| out)
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // The Huffman strings of RFC 7541 C.4 and C.6.
    const VECTORS: &[(&str, &str)] = &[
        ("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
        ("no-cache", "a8eb 1064 9cbf"),
        ("custom-key", "25a8 49e9 5ba9 7d7f"),
        ("custom-value", "25a8 49e9 5bb8 e8b4 bf"),
        ("302", "6402"),
        ("307", "640e ff"),
        ("private", "aec3 771a 4b"),
        (
            "Mon, 21 Oct 2013 20:13:21 GMT",
            "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff",
        ),
        (
            "Mon, 21 Oct 2013 20:13:22 GMT",
            "d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff",
        ),
        ("https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"),
        ("gzip", "9bd9 ab"),
        (
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
        ),
    ];

    #[test]
    fn rfc_vectors() {
        for &(plain, coded) in VECTORS {
            assert_eq!(enc(plain.as_bytes()), hex(coded), "{plain}");
            assert_eq!(dec(&hex(coded)).unwrap(), plain.as_bytes(), "{plain}");
        }
    }

    #[test]
    fn every_symbol_round_trips() {
        for octet in 0..=255u8 {
            for n in 1..=9 {
                let plain = vec![octet; n];
                assert_eq!(dec(&enc(&plain)).unwrap(), plain, "{octet} x {n}");
            }
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(dec(&enc(&all)).unwrap(), all);
    }

    #[test]
    fn empty() {
        assert_eq!(enc(b""), b"");
        assert_eq!(dec(b"").unwrap(), b"");
    }

    #[test]
    fn eos_is_rejected() {
        // EOS is 30 ones; 32 ones contain it.
        assert_eq!(
            dec(&[0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::InvalidHuffman(HuffmanError::Eos))
        );
        // 'a' (00011) then EOS then padding.
        let mut bits = String::from("00011");
        bits.push_str(&"1".repeat(30));
        bits.push_str(&"1".repeat(5));
        let bytes: Vec<u8> = (0..bits.len() / 8)
            .map(|i| u8::from_str_radix(&bits[i * 8..i * 8 + 8], 2).unwrap())
            .collect();
        assert_eq!(
            dec(&bytes),
            Err(DecodeError::InvalidHuffman(HuffmanError::Eos))
        );
    }

    #[test]
    fn long_padding_is_rejected() {
        // A whole octet of ones is 8 bits of padding.
        assert_eq!(
            dec(&[0xff]),
            Err(DecodeError::InvalidHuffman(HuffmanError::PaddingTooLong))
        );
        // 'a' (00011) + 11 ones.
        assert_eq!(
            dec(&[0b0001_1111, 0xff]),
            Err(DecodeError::InvalidHuffman(HuffmanError::PaddingTooLong))
        );
        // 'a' + 3 ones is fine.
        assert_eq!(dec(&[0b0001_1111]).unwrap(), b"a");
    }

    #[test]
    fn padding_with_zeros_is_rejected() {
        // 'a' (00011) + 000.
        assert_eq!(
            dec(&[0b0001_1000]),
            Err(DecodeError::InvalidHuffman(HuffmanError::PaddingNotOnes))
        );
        // 'a' + 101.
        assert_eq!(
            dec(&[0b0001_1101]),
            Err(DecodeError::InvalidHuffman(HuffmanError::PaddingNotOnes))
        );
        // A lone zero octet: five bits of '0' then 000 of padding.
        assert_eq!(
            dec(&[0x00]),
            Err(DecodeError::InvalidHuffman(HuffmanError::PaddingNotOnes))
        );
    }
}
