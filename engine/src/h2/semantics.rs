//! HTTP message rules the HTTP/2 layer enforces (RFC 9113 §8.1-§8.3): field
//! validity, pseudo-headers, connection-specific fields and content-length.
//! A violation makes the message malformed: a stream error PROTOCOL_ERROR.

use crate::hpack::Header;

/// What a header block is, which decides the rules that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockKind {
    Request,
    Response,
    Trailers,
}

/// What the checks learned about a valid block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BlockInfo {
    /// The `content-length`, when present.
    pub(crate) content_length: Option<u64>,
    /// A response's `:status`.
    pub(crate) status: Option<u16>,
}

const CONNECTION_SPECIFIC: [&[u8]; 5] = [
    b"connection",
    b"proxy-connection",
    b"keep-alive",
    b"transfer-encoding",
    b"upgrade",
];

/// Checks one decoded header block.
pub(crate) fn check(kind: BlockKind, headers: &[Header]) -> Result<BlockInfo, &'static str> {
    let mut info = BlockInfo::default();
    let mut seen_regular = false;
    let (mut method, mut scheme, mut path, mut authority, mut status) =
        (None::<&[u8]>, false, false, false, false);
    for field in headers {
        let name = &field.name[..];
        check_value(&field.value)?;
        if let Some(pseudo) = name.strip_prefix(b":") {
            if seen_regular {
                return Err("pseudo-header after a regular field");
            }
            let slot = match (kind, pseudo) {
                (BlockKind::Request, b"method") => {
                    if method.is_some() {
                        return Err("duplicate :method");
                    }
                    method = Some(&field.value);
                    continue;
                }
                (BlockKind::Request, b"scheme") => &mut scheme,
                (BlockKind::Request, b"path") => {
                    if field.value.is_empty() {
                        return Err("empty :path");
                    }
                    &mut path
                }
                (BlockKind::Request, b"authority") => &mut authority,
                (BlockKind::Response, b"status") => {
                    info.status = Some(parse_status(&field.value)?);
                    &mut status
                }
                (BlockKind::Trailers, _) => return Err("pseudo-header in trailers"),
                _ => return Err("unknown or misplaced pseudo-header"),
            };
            if std::mem::replace(slot, true) {
                return Err("duplicate pseudo-header");
            }
            continue;
        }
        seen_regular = true;
        check_name(name)?;
        if CONNECTION_SPECIFIC.contains(&name) {
            return Err("connection-specific header field");
        }
        if name == b"te" && &field.value[..] != b"trailers" {
            return Err("te other than \"trailers\"");
        }
        if name == b"content-length" {
            let len = parse_content_length(&field.value)?;
            if info.content_length.is_some_and(|prev| prev != len) {
                return Err("conflicting content-length");
            }
            info.content_length = Some(len);
        }
    }
    match kind {
        BlockKind::Request => {
            let method = method.ok_or("missing :method")?;
            // CONNECT carries neither :scheme nor :path (§8.5).
            if method != b"CONNECT" && !(scheme && path) {
                return Err("missing :scheme or :path");
            }
        }
        BlockKind::Response if !status => return Err("missing :status"),
        _ => {}
    }
    Ok(info)
}

/// §8.2.1: lowercase, visible ASCII other than separators the RFC excludes.
fn check_name(name: &[u8]) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty field name");
    }
    for &b in name {
        if b.is_ascii_uppercase() {
            return Err("uppercase field name");
        }
        if !(0x21..=0x7e).contains(&b) || b == b':' {
            return Err("invalid octet in field name");
        }
    }
    Ok(())
}

/// §8.2.1: no NUL, CR or LF, and no leading or trailing whitespace.
fn check_value(value: &[u8]) -> Result<(), &'static str> {
    if value.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n') {
        return Err("invalid octet in field value");
    }
    if value.first().is_some_and(|b| *b == b' ' || *b == b'\t')
        || value.last().is_some_and(|b| *b == b' ' || *b == b'\t')
    {
        return Err("whitespace around a field value");
    }
    Ok(())
}

fn parse_status(value: &[u8]) -> Result<u16, &'static str> {
    match value {
        [a, b, c] if value.iter().all(u8::is_ascii_digit) => {
            Ok(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => Err("invalid :status"),
    }
}

fn parse_content_length(value: &[u8]) -> Result<u64, &'static str> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return Err("invalid content-length");
    }
    Ok(value.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &'static str, value: &'static str) -> Header {
        Header::new(name.as_bytes(), value.as_bytes())
    }

    fn get() -> Vec<Header> {
        vec![
            h(":method", "GET"),
            h(":scheme", "http"),
            h(":path", "/"),
            h(":authority", "example.com"),
        ]
    }

    #[test]
    fn a_plain_request_passes() {
        let mut req = get();
        req.push(h("content-length", "4"));
        req.push(h("te", "trailers"));
        assert_eq!(
            check(BlockKind::Request, &req).unwrap().content_length,
            Some(4)
        );
    }

    #[test]
    fn malformed_requests_are_rejected() {
        let cases: Vec<Vec<Header>> = vec![
            [get(), vec![h("X-TEST", "ok")]].concat(),
            [get(), vec![h(":test", "ok")]].concat(),
            [get(), vec![h(":status", "200")]].concat(),
            [vec![h("x-test", "ok")], get()].concat(),
            [get(), vec![h("connection", "keep-alive")]].concat(),
            [get(), vec![h("te", "trailers, deflate")]].concat(),
            vec![h(":method", "GET"), h(":scheme", "http"), h(":path", "")],
            vec![h(":path", "/"), h(":authority", "a")],
            vec![h(":method", "GET"), h(":path", "/")],
            vec![h(":method", "GET"), h(":scheme", "http")],
            [get(), vec![h(":method", "GET")]].concat(),
            [get(), vec![h(":scheme", "http")]].concat(),
            [get(), vec![h(":path", "/")]].concat(),
            [get(), vec![h("content-length", "x")]].concat(),
            [get(), vec![h("x", "a\r\nb")]].concat(),
        ];
        for (i, case) in cases.iter().enumerate() {
            assert!(check(BlockKind::Request, case).is_err(), "case {i}");
        }
    }

    #[test]
    fn trailers_take_no_pseudo_headers() {
        assert!(check(BlockKind::Trailers, &[h("grpc-status", "0")]).is_ok());
        assert!(check(BlockKind::Trailers, &[h(":method", "POST")]).is_err());
    }

    #[test]
    fn responses_need_a_status() {
        let info = check(BlockKind::Response, &[h(":status", "200")]).unwrap();
        assert_eq!(info.status, Some(200));
        assert!(check(BlockKind::Response, &[h("x", "y")]).is_err());
        assert!(check(BlockKind::Response, &[h(":status", "20x")]).is_err());
    }
}
