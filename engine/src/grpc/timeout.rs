//! The `grpc-timeout` header: a relative deadline of at most 8 ASCII digits and
//! one unit (`H` hours, `M` minutes, `S` seconds, `m` milli-, `u` micro-,
//! `n` nanoseconds).
//!
//! [`parse`] is strict about the grammar; [`format()`] picks the finest unit whose
//! value fits in 8 digits and rounds up, so that a deadline is never shortened
//! on the way.

use std::time::Duration;

/// The largest value the 8 digits can hold.
const MAX_VALUE: u64 = 99_999_999;

/// At most this many digits precede the unit.
const MAX_DIGITS: usize = 8;

/// The units from finest to coarsest, with their length in nanoseconds.
const UNITS: [(u8, u64); 6] = [
    (b'n', 1),
    (b'u', 1_000),
    (b'm', 1_000_000),
    (b'S', 1_000_000_000),
    (b'M', 60 * 1_000_000_000),
    (b'H', 3_600 * 1_000_000_000),
];

/// Why a `grpc-timeout` value was refused. The call layer answers INTERNAL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeoutError {
    /// The value is empty.
    #[error("grpc-timeout is empty")]
    Empty,
    /// The last byte is not one of `H M S m u n`.
    #[error("grpc-timeout unit {0:#04x} is not one of H M S m u n")]
    InvalidUnit(u8),
    /// There is a unit but no digits before it.
    #[error("grpc-timeout has no digits")]
    MissingValue,
    /// More than 8 bytes precede the unit.
    #[error("grpc-timeout has more than 8 digits")]
    TooLong,
    /// Something other than an ASCII digit precedes the unit (a sign, a space, …).
    #[error("grpc-timeout contains non-digit byte {0:#04x}")]
    InvalidDigit(u8),
    /// The duration does not fit in a [`Duration`]. Cannot happen with 8 digits;
    /// kept so that the arithmetic stays checked rather than assumed.
    #[error("grpc-timeout overflows")]
    Overflow,
}

/// Parses a `grpc-timeout` value: 1 to 8 ASCII digits, then exactly one unit.
pub fn parse(value: &[u8]) -> Result<Duration, TimeoutError> {
    let Some((&unit, digits)) = value.split_last() else {
        return Err(TimeoutError::Empty);
    };
    let Some(&(_, unit_nanos)) = UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(TimeoutError::InvalidUnit(unit));
    };
    if digits.is_empty() {
        return Err(TimeoutError::MissingValue);
    }
    if digits.len() > MAX_DIGITS {
        return Err(TimeoutError::TooLong);
    }
    let mut count: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(TimeoutError::InvalidDigit(d));
        }
        count = count
            .checked_mul(10)
            .and_then(|c| c.checked_add(u64::from(d - b'0')))
            .ok_or(TimeoutError::Overflow)?;
    }
    // Whole seconds and the sub-second rest separately, so that hours do not
    // have to pass through a nanosecond count.
    let secs = if unit_nanos >= 1_000_000_000 {
        count.checked_mul(unit_nanos / 1_000_000_000)
    } else {
        Some(count / (1_000_000_000 / unit_nanos))
    }
    .ok_or(TimeoutError::Overflow)?;
    let sub_nanos = if unit_nanos >= 1_000_000_000 {
        0
    } else {
        (count % (1_000_000_000 / unit_nanos)) * unit_nanos
    };
    // `sub_nanos` is below one second, so the conversion cannot fail.
    let sub_nanos = u32::try_from(sub_nanos).map_err(|_| TimeoutError::Overflow)?;
    Ok(Duration::new(secs, sub_nanos))
}

/// Formats a duration as a `grpc-timeout` value: the finest unit whose value
/// fits in 8 digits, rounded up so the peer never sees a shorter deadline
/// (as grpc-go's `encodeTimeout`). Zero is `"0n"`; anything longer than
/// 99,999,999 hours is clamped to `"99999999H"`.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    for (unit, unit_nanos) in UNITS {
        let unit_nanos = u128::from(unit_nanos);
        let count = nanos.div_ceil(unit_nanos);
        if count <= u128::from(MAX_VALUE) {
            let mut out = count.to_string();
            out.push(char::from(unit));
            return out;
        }
    }
    format!("{MAX_VALUE}H")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NS: u64 = 1;
    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;

    fn nanos(n: u64) -> Duration {
        Duration::from_nanos(n)
    }

    #[test]
    fn parse_accepts() {
        let cases: &[(&str, Duration)] = &[
            ("0n", Duration::ZERO),
            ("1n", nanos(NS)),
            ("1u", nanos(US)),
            ("1m", nanos(MS)),
            ("1S", Duration::from_secs(1)),
            ("1M", Duration::from_secs(60)),
            ("1H", Duration::from_secs(3600)),
            ("00000001S", Duration::from_secs(1)),
            ("99999999n", nanos(99_999_999)),
            ("99999999u", nanos(99_999_999 * US)),
            ("99999999m", nanos(99_999_999 * MS)),
            ("1500m", Duration::from_millis(1500)),
            ("2500000u", Duration::from_micros(2_500_000)),
            ("99999999S", Duration::from_secs(99_999_999)),
            ("99999999M", Duration::from_secs(99_999_999 * 60)),
            ("99999999H", Duration::from_secs(99_999_999 * 3600)),
        ];
        for (raw, want) in cases {
            assert_eq!(parse(raw.as_bytes()), Ok(*want), "{raw}");
        }
    }

    #[test]
    fn parse_rejects() {
        let cases: &[(&[u8], TimeoutError)] = &[
            (b"", TimeoutError::Empty),
            (b"1", TimeoutError::InvalidUnit(b'1')),
            (b"100", TimeoutError::InvalidUnit(b'0')),
            (b"1s", TimeoutError::InvalidUnit(b's')),
            (b"1h", TimeoutError::InvalidUnit(b'h')),
            (b"1S ", TimeoutError::InvalidUnit(b' ')),
            (b"1SS", TimeoutError::InvalidDigit(b'S')),
            (b"S", TimeoutError::MissingValue),
            (b"123456789S", TimeoutError::TooLong),
            (b"000000001n", TimeoutError::TooLong),
            (b"-1S", TimeoutError::InvalidDigit(b'-')),
            (b"+1S", TimeoutError::InvalidDigit(b'+')),
            (b" 1S", TimeoutError::InvalidDigit(b' ')),
            (b"1 S", TimeoutError::InvalidDigit(b' ')),
            (b"1.5S", TimeoutError::InvalidDigit(b'.')),
            (b"\xff1S", TimeoutError::InvalidDigit(0xff)),
        ];
        for (raw, want) in cases {
            assert_eq!(parse(raw).as_ref(), Err(want), "{raw:?}");
        }
    }

    #[test]
    fn format_cases() {
        let cases: &[(Duration, &str)] = &[
            (Duration::ZERO, "0n"),
            (nanos(1), "1n"),
            (nanos(99_999_999), "99999999n"),
            (nanos(100_000_000), "100000u"),
            (nanos(100_000_001), "100001u"),
            (Duration::from_secs(1), "1000000u"),
            (Duration::from_millis(1), "1000000n"),
            (nanos(99_999_999 * US), "99999999u"),
            (nanos(99_999_999 * US + 1), "100000m"),
            (Duration::from_secs(100), "100000m"),
            (nanos(99_999_999 * MS), "99999999m"),
            (nanos(99_999_999 * MS + 1), "100000S"),
            (Duration::from_secs(99_999_999), "99999999S"),
            (Duration::from_secs(99_999_999) + nanos(1), "1666667M"),
            (Duration::from_secs(99_999_999 * 60), "99999999M"),
            (Duration::from_secs(99_999_999 * 60 + 1), "1666667H"),
            (Duration::from_secs(99_999_999 * 3600), "99999999H"),
            (
                Duration::from_secs(99_999_999 * 3600) + nanos(1),
                "99999999H",
            ),
            (Duration::MAX, "99999999H"),
        ];
        for (d, want) in cases {
            assert_eq!(format(*d), *want, "{d:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trip_never_shortens(n in 0u64..=u64::MAX, secs in 0u64..=99_999_999 * 3600, sub in 0u32..1_000_000_000) {
            for d in [nanos(n), Duration::new(secs, sub).min(Duration::from_secs(99_999_999 * 3600))] {
                let text = format(d);
                let back = parse(text.as_bytes()).unwrap();
                prop_assert!(back >= d, "{:?} -> {} -> {:?}", d, text, back);
                let unit = UNITS.iter().find(|(u, _)| Some(u) == text.as_bytes().last()).unwrap().1;
                prop_assert!(back - d < nanos(unit), "{:?} -> {} -> {:?}", d, text, back);
                prop_assert!(text.len() <= 9);
            }
        }

        #[test]
        fn parse_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..12)) {
            let _ = parse(&raw);
        }

        #[test]
        fn parse_format_is_identity_on_canonical_values(count in 0u64..=MAX_VALUE, unit in 0usize..6) {
            let (u, _) = UNITS[unit];
            let text = format!("{count}{}", char::from(u));
            let d = parse(text.as_bytes()).unwrap();
            prop_assert_eq!(parse(format(d).as_bytes()), Ok(d));
        }
    }
}
