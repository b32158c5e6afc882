//! The requests the cases send.
//!
//! h2spec sends plain HTTP requests (`GET`, `POST`, `HEAD` to the configured
//! path). A gRPC server answers those at once, with 405 or 415 and no body,
//! and resets a stream whose request had not ended (RST_STREAM NO_ERROR, RFC
//! 9113 §8.1). Cases that need the request stream to stay open, or need a
//! response body, then test something else than they mean to. With
//! [`RequestKind::Grpc`] every request is a gRPC call to the path instead, so
//! a server serving that method keeps the stream open until the request ends
//! and answers with a message.

use grpc_sansio::hpack::Header;

use crate::factory::FrameFactory;
use grpc_sansio::testing;

/// The one empty gRPC message a body request carries: not compressed,
/// length 0 (every protobuf request type decodes it as its default).
const EMPTY_GRPC_MESSAGE: [u8; 5] = [0; 5];

/// What kind of request the cases send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RequestKind {
    /// h2spec's: `:method`, `:scheme`, `:path`, `:authority` and nothing else.
    #[default]
    Http,
    /// gRPC calls: `GET` becomes `POST` (other methods stay as the case sends
    /// them), followed by `content-type: application/grpc` and `te: trailers`.
    /// The request that should get a response body carries one empty message.
    Grpc,
}

impl RequestKind {
    /// The request the body-needing cases send, for messages.
    pub fn body_request(self, path: &str) -> String {
        match self {
            RequestKind::Http => format!("GET {path}"),
            RequestKind::Grpc => format!("gRPC call POST {path} with one empty message"),
        }
    }

    /// The common request fields for `method` with the factory's `:path`
    /// and `:authority`, in h2spec's order, pseudo-header fields first.
    pub fn headers(self, factory: &FrameFactory, method: &str) -> Vec<Header> {
        match self {
            RequestKind::Http => factory.request_headers(method),
            RequestKind::Grpc => {
                let method = if method == "GET" { "POST" } else { method };
                let mut fields = factory.request_headers(method);
                testing::add_grpc_fields(&mut fields);
                fields
            }
        }
    }

    /// The frames of the complete request a server answers with a body, on
    /// `stream` with the encoded GET `block`: h2spec's GET with END_STREAM,
    /// or a gRPC call with one empty message.
    pub fn body_request_frames(self, stream: u32, block: &[u8]) -> Vec<u8> {
        match self {
            RequestKind::Http => FrameFactory::headers(stream, block, true),
            RequestKind::Grpc => {
                let mut frames = FrameFactory::headers(stream, block, false);
                frames.extend(FrameFactory::data(stream, &EMPTY_GRPC_MESSAGE, true, None));
                frames
            }
        }
    }
}
