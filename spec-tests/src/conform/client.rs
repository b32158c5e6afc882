//! What a case needs of the connection it runs over: the one seam between the
//! case table and its two drivers, TCP ([`Conn`](super::Conn)) and in memory
//! ([`TestServer`](crate::server::TestServer)). Writing each case once against
//! this trait is what keeps the two runs from drifting apart.

use grpc_sansio::h2::frame::Settings;
use grpc_sansio::h2::ErrorCode;
use grpc_sansio::hpack::Header;

use super::case::CaseResult;
use super::request::RequestKind;
use super::verdict::Expect;
use crate::factory::FrameFactory;

/// h2spec's client end of one connection, after the handshake unless the
/// case said otherwise.
pub trait Client {
    /// Writes `bytes` to the server.
    fn send(&mut self, bytes: &[u8]);

    /// Judges what the server sends next by `expect`, consuming frames up to
    /// the deciding one.
    fn expect(&mut self, expect: Expect) -> CaseResult;

    /// The frame factory and HPACK encoder of this connection.
    fn factory(&mut self) -> &mut FrameFactory;

    /// The settings the server advertised in the handshake.
    fn server_settings(&self) -> &Settings;

    /// Plain h2spec requests or gRPC calls.
    fn requests(&self) -> RequestKind;

    /// conn-err with one code.
    fn expect_conn_error(&mut self, code: ErrorCode) -> CaseResult {
        self.expect(Expect::ConnectionError(vec![code]))
    }

    /// stream-err with one code.
    fn expect_stream_error(&mut self, code: ErrorCode) -> CaseResult {
        self.expect(Expect::StreamError(vec![code]))
    }

    /// The server's SETTINGS_HEADER_TABLE_SIZE, 4096 if not advertised.
    fn header_table_size(&self) -> u32 {
        self.server_settings().header_table_size.unwrap_or(4096)
    }

    /// The server's SETTINGS_MAX_FRAME_SIZE, 16384 if not advertised.
    fn max_frame_size(&self) -> u32 {
        self.server_settings().max_frame_size.unwrap_or(16_384)
    }

    /// The common request fields for `method` (see [`RequestKind::headers`]).
    fn request_headers(&mut self, method: &str) -> Vec<Header> {
        let kind = self.requests();
        kind.headers(self.factory(), method)
    }

    /// The common GET request fields.
    fn get_headers(&mut self) -> Vec<Header> {
        self.request_headers("GET")
    }

    /// The common POST request fields.
    fn post_headers(&mut self) -> Vec<Header> {
        self.request_headers("POST")
    }

    /// The encoded common GET block.
    fn get_request(&mut self) -> Vec<u8> {
        let headers = self.get_headers();
        self.factory().encode(&headers)
    }

    /// The encoded common POST block.
    fn post_request(&mut self) -> Vec<u8> {
        let headers = self.post_headers();
        self.factory().encode(&headers)
    }

    /// Sends, on `stream`, the complete request a server answers with a body
    /// (see [`RequestKind::body_request_frames`]).
    fn send_body_request(&mut self, stream: u32) {
        let block = self.get_request();
        let frames = self.requests().body_request_frames(stream, &block);
        self.send(&frames);
    }
}
