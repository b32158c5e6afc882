//! The request header fields every client in these tests sends, written once:
//! the h2spec cases, the pairs and the raw gRPC clients all build on these, so
//! a change of order or spelling reaches every suite at the same time.

use grpc_sansio::hpack::Header;

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
