//! The static table (RFC 7541 Appendix A).

use bytes::Bytes;

/// The number of static entries; dynamic indices start right after.
pub(crate) const LEN: usize = 61;

/// Builds one entry; `Bytes::from_static` is `const`, so decoded static fields
/// are handed out without allocating.
const fn entry(name: &'static str, value: &'static str) -> (Bytes, Bytes) {
    (
        Bytes::from_static(name.as_bytes()),
        Bytes::from_static(value.as_bytes()),
    )
}

/// The entries, index 1 first.
static ENTRIES: [(Bytes, Bytes); LEN] = [
    entry(":authority", ""),
    entry(":method", "GET"),
    entry(":method", "POST"),
    entry(":path", "/"),
    entry(":path", "/index.html"),
    entry(":scheme", "http"),
    entry(":scheme", "https"),
    entry(":status", "200"),
    entry(":status", "204"),
    entry(":status", "206"),
    entry(":status", "304"),
    entry(":status", "400"),
    entry(":status", "404"),
    entry(":status", "500"),
    entry("accept-charset", ""),
    entry("accept-encoding", "gzip, deflate"),
    entry("accept-language", ""),
    entry("accept-ranges", ""),
    entry("accept", ""),
    entry("access-control-allow-origin", ""),
    entry("age", ""),
    entry("allow", ""),
    entry("authorization", ""),
    entry("cache-control", ""),
    entry("content-disposition", ""),
    entry("content-encoding", ""),
    entry("content-language", ""),
    entry("content-length", ""),
    entry("content-location", ""),
    entry("content-range", ""),
    entry("content-type", ""),
    entry("cookie", ""),
    entry("date", ""),
    entry("etag", ""),
    entry("expect", ""),
    entry("expires", ""),
    entry("from", ""),
    entry("host", ""),
    entry("if-match", ""),
    entry("if-modified-since", ""),
    entry("if-none-match", ""),
    entry("if-range", ""),
    entry("if-unmodified-since", ""),
    entry("last-modified", ""),
    entry("link", ""),
    entry("location", ""),
    entry("max-forwards", ""),
    entry("proxy-authenticate", ""),
    entry("proxy-authorization", ""),
    entry("range", ""),
    entry("referer", ""),
    entry("refresh", ""),
    entry("retry-after", ""),
    entry("server", ""),
    entry("set-cookie", ""),
    entry("strict-transport-security", ""),
    entry("transfer-encoding", ""),
    entry("user-agent", ""),
    entry("vary", ""),
    entry("via", ""),
    entry("www-authenticate", ""),
];

/// The entry at the 1-based HPACK `index`, if it is static.
pub(crate) fn get(index: usize) -> Option<&'static (Bytes, Bytes)> {
    ENTRIES.get(index.checked_sub(1)?)
}

/// The outcome of looking a field up in a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    /// Name and value match the entry at this 1-based index.
    Full(usize),
    /// Only the name matches; this is the lowest such index.
    Name(usize),
}

/// Finds `name: value` in the static table.
///
/// A `match` on the name instead of a scan: the compiler turns it into a
/// length switch and a few comparisons.
pub(crate) fn find(name: &[u8], value: &[u8]) -> Option<Match> {
    // Names with several entries pick the value; everything else is a name match.
    let with_values = |first: usize, values: &[&[u8]]| -> Match {
        values
            .iter()
            .position(|v| *v == value)
            .map_or(Match::Name(first), |i| Match::Full(first + i))
    };
    let index = match name {
        b":authority" => 1,
        b":method" => return Some(with_values(2, &[b"GET", b"POST"])),
        b":path" => return Some(with_values(4, &[b"/", b"/index.html"])),
        b":scheme" => return Some(with_values(6, &[b"http", b"https"])),
        b":status" => {
            return Some(with_values(
                8,
                &[b"200", b"204", b"206", b"304", b"400", b"404", b"500"],
            ))
        }
        b"accept-charset" => 15,
        b"accept-encoding" => return Some(with_values(16, &[b"gzip, deflate"])),
        b"accept-language" => 17,
        b"accept-ranges" => 18,
        b"accept" => 19,
        b"access-control-allow-origin" => 20,
        b"age" => 21,
        b"allow" => 22,
        b"authorization" => 23,
        b"cache-control" => 24,
        b"content-disposition" => 25,
        b"content-encoding" => 26,
        b"content-language" => 27,
        b"content-length" => 28,
        b"content-location" => 29,
        b"content-range" => 30,
        b"content-type" => 31,
        b"cookie" => 32,
        b"date" => 33,
        b"etag" => 34,
        b"expect" => 35,
        b"expires" => 36,
        b"from" => 37,
        b"host" => 38,
        b"if-match" => 39,
        b"if-modified-since" => 40,
        b"if-none-match" => 41,
        b"if-range" => 42,
        b"if-unmodified-since" => 43,
        b"last-modified" => 44,
        b"link" => 45,
        b"location" => 46,
        b"max-forwards" => 47,
        b"proxy-authenticate" => 48,
        b"proxy-authorization" => 49,
        b"range" => 50,
        b"referer" => 51,
        b"refresh" => 52,
        b"retry-after" => 53,
        b"server" => 54,
        b"set-cookie" => 55,
        b"strict-transport-security" => 56,
        b"transfer-encoding" => 57,
        b"user-agent" => 58,
        b"vary" => 59,
        b"via" => 60,
        b"www-authenticate" => 61,
        _ => return None,
    };
    // The remaining entries all have empty values.
    Some(if value.is_empty() {
        Match::Full(index)
    } else {
        Match::Name(index)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_agrees_with_the_table() {
        for index in 1..=LEN {
            let (name, value) = get(index).unwrap();
            assert_eq!(find(name, value), Some(Match::Full(index)), "{index}");
            let first = (1..=LEN).find(|&i| get(i).unwrap().0 == name).unwrap();
            assert_eq!(
                find(name, b"\x00not a static value"),
                Some(Match::Name(first)),
                "{index}"
            );
        }
        assert_eq!(find(b"grpc-status", b"0"), None);
        assert_eq!(find(b"", b""), None);
    }

    #[test]
    fn out_of_range() {
        assert!(get(0).is_none());
        assert!(get(62).is_none());
        assert!(get(usize::MAX).is_none());
        assert_eq!(get(61).unwrap().0, "www-authenticate");
    }
}
