//! Prefix-coded integers (RFC 7541 §5.1).

use super::error::DecodeError;

/// Continuation octets we accept after the prefix: five carry 35 bits, more than
/// any value we allow, with room for the zero padding some encoders add.
const MAX_CONTINUATION_OCTETS: usize = 5;

/// The largest value we decode. Every length, index and table size we accept is
/// far smaller; the cap keeps arithmetic on 32-bit targets exact.
const MAX_VALUE: u64 = u32::MAX as u64;

/// The all-ones value of an `prefix_bits` wide prefix, `prefix_bits` clamped to 1..=8.
fn prefix_max(prefix_bits: u8) -> u8 {
    u8::MAX >> (8 - prefix_bits.clamp(1, 8))
}

/// Appends `value` with an `prefix_bits` wide prefix (1..=8, clamped). `flags`
/// supplies the bits of the first octet above the prefix (the representation
/// type); its prefix bits are ignored.
pub fn encode(value: usize, prefix_bits: u8, flags: u8, dst: &mut Vec<u8>) {
    let max = prefix_max(prefix_bits);
    let flags = flags & !max;
    let Some(mut rest) = value.checked_sub(usize::from(max)) else {
        // Fits in the prefix; the conversion cannot fail since value < max.
        dst.push(flags | u8::try_from(value).unwrap_or(max));
        return;
    };
    dst.push(flags | max);
    while rest >= 0x80 {
        dst.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    dst.push(rest as u8);
}

/// Decodes an integer with an `prefix_bits` wide prefix (1..=8, clamped) from
/// the start of `src`, ignoring the bits above the prefix in the first octet.
///
/// Returns the value and the number of octets it took. Values above
/// `u32::MAX`, or spread over more than five continuation octets, are
/// [`DecodeError::IntegerOverflow`].
pub fn decode(src: &[u8], prefix_bits: u8) -> Result<(usize, usize), DecodeError> {
    let max = prefix_max(prefix_bits);
    let (&first, rest) = src.split_first().ok_or(DecodeError::Truncated)?;
    let prefix = first & max;
    if prefix < max {
        return Ok((usize::from(prefix), 1));
    }
    let mut value = u64::from(max);
    for (i, &octet) in rest.iter().enumerate() {
        if i >= MAX_CONTINUATION_OCTETS {
            return Err(DecodeError::IntegerOverflow);
        }
        // i < 5, so the shift is at most 28 and the sum stays below 2^36.
        value += u64::from(octet & 0x7f) << (7 * i);
        if octet & 0x80 == 0 {
            if value > MAX_VALUE {
                return Err(DecodeError::IntegerOverflow);
            }
            let value = usize::try_from(value).map_err(|_| DecodeError::IntegerOverflow)?;
            return Ok((value, i + 2));
        }
    }
    Err(DecodeError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(value: usize, prefix: u8, flags: u8) -> Vec<u8> {
        let mut out = Vec::new();
        encode(value, prefix, flags, &mut out);
        out
    }

    // RFC 7541 C.1.1
    #[test]
    fn c_1_1_ten_in_five_bits() {
        assert_eq!(enc(10, 5, 0), [0x0a]);
        assert_eq!(decode(&[0x0a], 5), Ok((10, 1)));
    }

    // RFC 7541 C.1.2
    #[test]
    fn c_1_2_1337_in_five_bits() {
        assert_eq!(enc(1337, 5, 0), [0x1f, 0x9a, 0x0a]);
        assert_eq!(decode(&[0x1f, 0x9a, 0x0a], 5), Ok((1337, 3)));
    }

    // RFC 7541 C.1.3
    #[test]
    fn c_1_3_42_at_octet_boundary() {
        assert_eq!(enc(42, 8, 0), [0x2a]);
        assert_eq!(decode(&[0x2a], 8), Ok((42, 1)));
    }

    #[test]
    fn flags_are_kept_and_ignored() {
        assert_eq!(enc(10, 5, 0xe0), [0xea]);
        assert_eq!(enc(31, 5, 0x20), [0x3f, 0x00]);
        assert_eq!(decode(&[0xea], 5), Ok((10, 1)));
        assert_eq!(decode(&[0xff, 0x00], 5), Ok((31, 2)));
    }

    #[test]
    fn boundaries_round_trip() {
        for prefix in 1..=8u8 {
            for value in [
                0,
                1,
                (1 << prefix) - 2,
                (1 << prefix) - 1,
                1 << prefix,
                127,
                128,
                255,
                256,
                16383,
                16384,
                u32::MAX as usize,
            ] {
                let bytes = enc(value, prefix, 0);
                assert_eq!(
                    decode(&bytes, prefix),
                    Ok((value, bytes.len())),
                    "{value}/{prefix}"
                );
            }
        }
    }

    #[test]
    fn truncated() {
        assert_eq!(decode(&[], 5), Err(DecodeError::Truncated));
        assert_eq!(decode(&[0x3f], 5), Err(DecodeError::Truncated));
        assert_eq!(decode(&[0x1f, 0x80, 0x80], 5), Err(DecodeError::Truncated));
    }

    #[test]
    fn overflow() {
        // More than u32::MAX.
        let mut big = Vec::new();
        encode(u32::MAX as usize, 5, 0, &mut big);
        assert_eq!(decode(&big, 5), Ok((u32::MAX as usize, big.len())));
        assert_eq!(
            decode(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f], 5),
            Err(DecodeError::IntegerOverflow)
        );
        // Six continuation octets, even if they are zero padding.
        assert_eq!(
            decode(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 5),
            Err(DecodeError::IntegerOverflow)
        );
        // Five are fine.
        assert_eq!(
            decode(&[0x1f, 0x81, 0x80, 0x80, 0x80, 0x00], 5),
            Ok((32, 6))
        );
        // An endless continuation is rejected without reading it all.
        let endless = [0xffu8; 100];
        assert_eq!(decode(&endless, 8), Err(DecodeError::IntegerOverflow));
    }

    #[test]
    fn odd_prefixes_do_not_panic() {
        assert_eq!(decode(&[0xff, 0x00], 0), Ok((1, 2)));
        assert_eq!(decode(&[0xff, 0x00], 9), Ok((255, 2)));
        let mut out = Vec::new();
        encode(300, 0, 0, &mut out);
        encode(300, 200, 0, &mut out);
    }
}
