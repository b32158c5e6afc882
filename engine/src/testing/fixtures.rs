//! What in-memory tests share: the request header fields every client sends
//! (written once, so a change of order or spelling reaches every suite at the
//! same time), a recognisable body, a byte stream split into frames, and the
//! name of each end.

use bytes::Bytes;

use crate::grpc::codec;
use crate::h2::frame::{Frame, Head, HEAD_LEN};
use crate::h2::PREFACE;
use crate::hpack::Header;

/// One end of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The client-role connection.
    Client,
    /// The server-role connection.
    Server,
}

impl Side {
    /// The other end.
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// A request's pseudo-header fields in h2spec's order: `:method`,
/// `:scheme http`, `:path`, `:authority`.
pub fn request(method: &str, path: &str, authority: &str) -> Vec<Header> {
    vec![
        Header::new(":method", method.to_owned()),
        Header::new(":scheme", "http"),
        Header::new(":path", path.to_owned()),
        Header::new(":authority", authority.to_owned()),
    ]
}

/// Appends what makes a request a gRPC call (`content-type:
/// application/grpc`, `te: trailers`) to `headers`.
pub fn add_grpc_fields(headers: &mut Vec<Header>) {
    headers.push(Header::new("content-type", "application/grpc"));
    headers.push(Header::new("te", "trailers"));
}

/// A gRPC call's request fields, as a gRPC client sends them: POST to `path`
/// with the gRPC fields after the pseudo-header fields.
pub fn grpc_request(path: &str, authority: &str) -> Vec<Header> {
    let mut headers = request("POST", path, authority);
    add_grpc_fields(&mut headers);
    headers
}

/// The head of the first whole frame in `octets`, and its length head included.
pub fn next_frame(octets: &[u8]) -> Option<(Head, usize)> {
    let head = Head::parse(octets.first_chunk::<HEAD_LEN>()?);
    let total = HEAD_LEN + head.length as usize;
    (octets.len() >= total).then_some((head, total))
}

/// Splits a transmitted byte stream into frames, skipping a leading client
/// preface.
///
/// # Panics
///
/// If a frame does not decode or the stream ends inside a frame: a connection
/// only writes whole, valid frames.
pub fn parse_frames(octets: &[u8]) -> Vec<Frame> {
    let mut rest = octets.strip_prefix(&PREFACE[..]).unwrap_or(octets);
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let (head, total) = next_frame(rest).expect("the stream ends inside a frame");
        let payload = Bytes::copy_from_slice(&rest[HEAD_LEN..total]);
        frames.push(Frame::decode(head, payload).expect("a connection wrote an invalid frame"));
        rest = &rest[total..];
    }
    frames
}

/// A body of `len` octets with a recognisable pattern (the octet at `i` is
/// `(i * 7 + seed) % 251`), so misordered or lost chunks show.
pub fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| ((i * 7 + usize::from(seed)) % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// A gRPC response header block: `:status 200`, `content-type`.
pub fn grpc_response() -> Vec<Header> {
    vec![
        Header::new(":status", "200"),
        Header::new("content-type", "application/grpc"),
    ]
}

/// A length-prefixed message with the given compressed flag.
pub fn frame_message(compressed: bool, body: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(codec::PREFIX_LEN + body.len());
    codec::encode(body, compressed, &mut out).expect("a message below 4 GiB");
    Bytes::from(out)
}

/// The value of header `name` in a field list.
pub fn header_value<'a>(fields: &'a [Header], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|h| &h.name[..] == name.as_bytes())
        .map(|h| &h.value[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_header_fields_come_first_then_the_grpc_fields() {
        let names: Vec<_> = grpc_request("/p.S/M", "h")
            .iter()
            .map(|h| String::from_utf8_lossy(&h.name).into_owned())
            .collect();
        let expected = [
            ":method",
            ":scheme",
            ":path",
            ":authority",
            "content-type",
            "te",
        ];
        assert_eq!(names, expected);
    }
}
