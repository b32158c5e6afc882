//! h2spec's `generic` group (44 cases): what every working HTTP/2 server
//! must accept.

use grpc_sansio::h2::frame::setting_id;
use grpc_sansio::h2::ErrorCode;
use grpc_sansio::hpack::Header;

use super::case::{Case, CaseResult};
use super::client::Client;
use super::verdict::Expect;
use crate::factory::{FrameFactory as F, HeadersOptions, PriorityFields};

const PING_ZERO: [u8; 8] = [0; 8];

/// The group, in h2spec's order.
pub(super) const CASES: &[Case] = &[
    Case::new("generic/1/1", "3.4", "Sends a client connection preface", client_preface)
        .without_handshake(),
    Case::new("generic/2/1", "5.1", "Sends a PRIORITY frame on idle stream", priority_on_idle),
    Case::new(
        "generic/2/2",
        "5.1",
        "Sends a WINDOW_UPDATE frame on half-closed (remote) stream",
        window_update_on_half_closed,
    ),
    Case::new(
        "generic/2/3",
        "5.1",
        "Sends a PRIORITY frame on half-closed (remote) stream",
        priority_on_half_closed,
    ),
    Case::new(
        "generic/2/4",
        "5.1",
        "Sends a RST_STREAM frame on half-closed (remote) stream",
        rst_stream_on_half_closed,
    ),
    Case::new("generic/2/5", "5.1", "Sends a PRIORITY frame on closed stream", priority_on_closed),
    Case::new("generic/3.1/1", "6.1", "Sends a DATA frame", data_frame),
    Case::new("generic/3.1/2", "6.1", "Sends multiple DATA frames", multiple_data_frames),
    Case::new("generic/3.1/3", "6.1", "Sends a DATA frame with padding", padded_data_frame),
    Case::new("generic/3.2/1", "6.2", "Sends a HEADERS frame", headers_frame),
    Case::new("generic/3.2/2", "6.2", "Sends a HEADERS frame with padding", padded_headers_frame),
    Case::new("generic/3.2/3", "6.2", "Sends a HEADERS frame with priority", headers_with_priority),
    Case::new("generic/3.3/1", "6.3", "Sends a PRIORITY frame with priority 1", priority_weight_1),
    Case::new("generic/3.3/2", "6.3", "Sends a PRIORITY frame with priority 256", priority_weight_256),
    Case::new(
        "generic/3.3/3",
        "6.3",
        "Sends a PRIORITY frame with stream dependency",
        priority_with_dependency,
    ),
    Case::new("generic/3.3/4", "6.3", "Sends a PRIORITY frame with exclusive", priority_exclusive),
    Case::new(
        "generic/3.3/5",
        "6.3",
        "Sends a PRIORITY frame for an idle stream, then send a HEADER frame for a lower stream ID",
        priority_on_idle_then_lower_stream,
    ),
    Case::new("generic/3.4/1", "6.4", "Sends a RST_STREAM frame", rst_stream_frame),
    Case::new("generic/3.5/1", "6.5", "Sends a SETTINGS frame", settings_frame),
    Case::new("generic/3.7/1", "6.7", "Sends a PING frame", ping_frame),
    Case::new("generic/3.8/1", "6.8", "Sends a GOAWAY frame", goaway_frame),
    Case::new(
        "generic/3.9/1",
        "6.9",
        "Sends a WINDOW_UPDATE frame with stream ID 0",
        window_update_on_connection,
    ),
    Case::new(
        "generic/3.9/2",
        "6.9",
        "Sends a WINDOW_UPDATE frame with arbitrary stream ID",
        window_update_on_stream,
    ),
    Case::new("generic/3.10/1", "6.10", "Sends a CONTINUATION frame", continuation_frame),
    Case::new(
        "generic/3.10/2",
        "6.10",
        "Sends multiple CONTINUATION frames",
        multiple_continuation_frames,
    ),
    Case::new("generic/4/1", "8.1", "Sends a GET request", get_request),
    Case::new("generic/4/2", "8.1", "Sends a HEAD request", head_request),
    Case::new("generic/4/3", "8.1", "Sends a POST request", post_request),
    Case::new("generic/4/4", "8.1", "Sends a POST request with trailers", post_with_trailers),
    Case::new(
        "generic/5/1",
        "4.3",
        "Sends an indexed header field representation (RFC 7541 §6.1)",
        hpack_5_1,
    ),
    Case::new(
        "generic/5/2",
        "4.3",
        "Sends a literal header field with incremental indexing, Huffman-coded (RFC 7541 §6.2.1)",
        hpack_5_2,
    ),
    Case::new(
        "generic/5/3",
        "4.3",
        "Sends a literal header field with incremental indexing (RFC 7541 §6.2.1)",
        hpack_5_3,
    ),
    Case::new(
        "generic/5/4",
        "4.3",
        "Sends a literal header field with incremental indexing, new name (RFC 7541 §6.2.1)",
        hpack_5_4,
    ),
    Case::new(
        "generic/5/5",
        "4.3",
        "Sends a literal header field with incremental indexing, new name, Huffman-coded (RFC 7541 §6.2.1)",
        hpack_5_5,
    ),
    Case::new(
        "generic/5/6",
        "4.3",
        "Sends a literal header field without indexing (RFC 7541 §6.2.2)",
        hpack_5_6,
    ),
    Case::new(
        "generic/5/7",
        "4.3",
        "Sends a literal header field without indexing, Huffman-coded (RFC 7541 §6.2.2)",
        hpack_5_7,
    ),
    Case::new(
        "generic/5/8",
        "4.3",
        "Sends a literal header field without indexing, new name (RFC 7541 §6.2.2)",
        hpack_5_8,
    ),
    Case::new(
        "generic/5/9",
        "4.3",
        "Sends a literal header field without indexing, new name, Huffman-coded (RFC 7541 §6.2.2)",
        hpack_5_9,
    ),
    Case::new(
        "generic/5/10",
        "4.3",
        "Sends a literal header field never indexed (RFC 7541 §6.2.3)",
        hpack_5_10,
    ),
    Case::new(
        "generic/5/11",
        "4.3",
        "Sends a literal header field never indexed, Huffman-coded (RFC 7541 §6.2.3)",
        hpack_5_11,
    ),
    Case::new(
        "generic/5/12",
        "4.3",
        "Sends a literal header field never indexed, new name (RFC 7541 §6.2.3)",
        hpack_5_12,
    ),
    Case::new(
        "generic/5/13",
        "4.3",
        "Sends a literal header field never indexed, new name, Huffman-coded (RFC 7541 §6.2.3)",
        hpack_5_13,
    ),
    Case::new(
        "generic/5/14",
        "4.3",
        "Sends a dynamic table size update (RFC 7541 §6.3)",
        hpack_5_14,
    ),
    Case::new(
        "generic/5/15",
        "4.3",
        "Sends multiple dynamic table size updates (RFC 7541 §6.3)",
        hpack_5_15,
    ),
];

// ----- generic/1, generic/2 -----

fn client_preface(c: &mut dyn Client) -> CaseResult {
    c.send(&F::preface());
    c.send(&F::settings_initial_window(65_535));
    c.expect(Expect::FirstFrameSettings)
}

fn priority_on_idle(c: &mut dyn Client) -> CaseResult {
    c.send(&F::priority(1, PriorityFields::new(0, 255)));
    c.send(&F::ping(PING_ZERO, false));
    c.expect(Expect::PingAck(PING_ZERO))
}

/// h2spec does not skip 2/2 and 2/3 on a short body, so neither does this:
/// they send the body request whatever the probe found.
fn window_update_on_half_closed(c: &mut dyn Client) -> CaseResult {
    c.send(&F::settings_initial_window(0));
    c.send_body_request(1);
    c.send(&F::window_update(1, 1));
    c.expect(Expect::AnyData)
}

fn priority_on_half_closed(c: &mut dyn Client) -> CaseResult {
    c.send(&F::settings_initial_window(0));
    c.send_body_request(1);
    c.send(&F::priority(1, PriorityFields::new(0, 255)));
    c.send(&F::window_update(1, 1));
    c.expect(Expect::AnyData)
}

fn rst_stream_on_half_closed(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1);
    c.send(&F::rst_stream(1, ErrorCode::CANCEL));
    c.send(&F::ping(PING_ZERO, false));
    c.expect(Expect::PingAck(PING_ZERO))
}

fn priority_on_closed(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1);
    c.expect(Expect::StreamEnd)?;
    c.send(&F::priority(1, PriorityFields::new(0, 255)));
    c.send(&F::ping(PING_ZERO, false));
    c.expect(Expect::PingAck(PING_ZERO))
}

// ----- generic/3.x: frame definitions -----

/// Sends the common GET request on `stream` with END_STREAM and END_HEADERS.
fn send_get(c: &mut dyn Client, stream: u32) {
    let block = c.get_request();
    c.send(&F::headers(stream, &block, true));
}

/// Sends the common POST request headers on stream 1, without END_STREAM.
fn send_post(c: &mut dyn Client) {
    let block = c.post_request();
    c.send(&F::headers(1, &block, false));
}

fn data_frame(c: &mut dyn Client) -> CaseResult {
    send_post(c);
    c.send(&F::data(1, b"test", true, None));
    c.expect(Expect::ResponseHeaders(1))
}

fn multiple_data_frames(c: &mut dyn Client) -> CaseResult {
    send_post(c);
    c.send(&F::data(1, b"test", false, None));
    c.send(&F::data(1, b"test", true, None));
    c.expect(Expect::ResponseHeaders(1))
}

fn padded_data_frame(c: &mut dyn Client) -> CaseResult {
    send_post(c);
    c.send(&F::data(1, b"test", true, Some(5)));
    c.expect(Expect::ResponseHeaders(1))
}

fn headers_frame(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1);
    c.expect(Expect::ResponseHeaders(1))
}

fn padded_headers_frame(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    let opts = HeadersOptions {
        end_stream: true,
        end_headers: true,
        pad_len: Some(8),
        priority: None,
    };
    c.send(&F::headers_with(1, &block, opts));
    c.expect(Expect::ResponseHeaders(1))
}

fn headers_with_priority(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    let opts = HeadersOptions {
        end_stream: true,
        end_headers: true,
        pad_len: None,
        priority: Some(PriorityFields::new(0, 255)),
    };
    c.send(&F::headers_with(1, &block, opts));
    c.expect(Expect::ResponseHeaders(1))
}

/// Sends `priority` on `stream`, then the common GET on stream 1.
fn priority_then_get(c: &mut dyn Client, stream: u32, priority: PriorityFields) -> CaseResult {
    c.send(&F::priority(stream, priority));
    send_get(c, 1);
    c.expect(Expect::ResponseHeaders(1))
}

fn priority_weight_1(c: &mut dyn Client) -> CaseResult {
    priority_then_get(c, 1, PriorityFields::new(0, 0))
}

fn priority_weight_256(c: &mut dyn Client) -> CaseResult {
    priority_then_get(c, 1, PriorityFields::new(0, 255))
}

fn priority_with_dependency(c: &mut dyn Client) -> CaseResult {
    priority_then_get(c, 3, PriorityFields::new(1, 0))
}

fn priority_exclusive(c: &mut dyn Client) -> CaseResult {
    let fields = PriorityFields {
        dependency: 0,
        exclusive: true,
        weight: 0,
    };
    priority_then_get(c, 1, fields)
}

fn priority_on_idle_then_lower_stream(c: &mut dyn Client) -> CaseResult {
    priority_then_get(c, 3, PriorityFields::new(0, 255))
}

fn rst_stream_frame(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    c.send(&F::headers(1, &block, false));
    c.send(&F::rst_stream(1, ErrorCode::CANCEL));
    c.send(&F::ping(PING_ZERO, false));
    c.expect(Expect::PingAck(PING_ZERO))
}

fn settings_frame(c: &mut dyn Client) -> CaseResult {
    c.send(&F::settings(&[
        (setting_id::HEADER_TABLE_SIZE, 4096),
        (setting_id::ENABLE_PUSH, 1),
        (setting_id::MAX_CONCURRENT_STREAMS, 100),
        (setting_id::INITIAL_WINDOW_SIZE, 65_535),
        (setting_id::MAX_FRAME_SIZE, 16_384),
        (setting_id::MAX_HEADER_LIST_SIZE, 100),
    ]));
    c.expect(Expect::SettingsAck)
}

fn ping_frame(c: &mut dyn Client) -> CaseResult {
    c.send(&F::ping(*b"h2spec\0\0", false));
    c.expect(Expect::PingAck(*b"h2spec\0\0"))
}

fn goaway_frame(c: &mut dyn Client) -> CaseResult {
    c.send(&F::goaway(0, ErrorCode::NO_ERROR, b"h2spec"));
    c.send(&F::ping(PING_ZERO, false));
    c.expect(Expect::PingAckOrClose(PING_ZERO))
}

fn window_update_on_connection(c: &mut dyn Client) -> CaseResult {
    c.send(&F::window_update(0, 1));
    c.send(&F::ping(PING_ZERO, false));
    c.expect(Expect::PingAck(PING_ZERO))
}

fn window_update_on_stream(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1);
    c.send(&F::window_update(1, 1));
    c.expect(Expect::ResponseHeaders(1))
}

/// HEADERS with END_STREAM but not END_HEADERS.
const OPEN_BLOCK: HeadersOptions = HeadersOptions {
    end_stream: true,
    end_headers: false,
    pad_len: None,
    priority: None,
};

fn continuation_frame(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    c.send(&F::headers_with(1, &block[..5], OPEN_BLOCK));
    c.send(&F::continuation(1, &block[5..], true));
    c.expect(Expect::ResponseHeaders(1))
}

fn multiple_continuation_frames(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    if block.len() <= 10 {
        return Err(format!(
            "the request block is {} octets: too short to split",
            block.len()
        )
        .into());
    }
    c.send(&F::headers_with(1, &block[..5], OPEN_BLOCK));
    c.send(&F::continuation(1, &block[5..10], false));
    c.send(&F::continuation(1, &block[10..], true));
    c.expect(Expect::ResponseHeaders(1))
}

// ----- generic/4: HTTP message exchanges -----

fn get_request(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1);
    c.expect(Expect::ResponseHeaders(1))
}

fn head_request(c: &mut dyn Client) -> CaseResult {
    let headers = c.request_headers("HEAD");
    let block = c.factory().encode(&headers);
    c.send(&F::headers(1, &block, true));
    c.expect(Expect::ResponseHeaders(1))
}

fn post_request(c: &mut dyn Client) -> CaseResult {
    send_post(c);
    c.send(&F::data(1, b"test", true, None));
    c.expect(Expect::ResponseHeaders(1))
}

fn post_with_trailers(c: &mut dyn Client) -> CaseResult {
    let mut headers = c.post_headers();
    headers.push(Header::new("trailer", "x-test"));
    let block = c.factory().encode(&headers);
    c.send(&F::headers(1, &block, false));
    c.send(&F::data(1, b"test", false, None));
    let trailers = c.factory().encode(&[Header::new("x-test", "ok")]);
    c.send(&F::headers(1, &trailers, true));
    c.expect(Expect::ResponseHeaders(1))
}

// ----- generic/5: HPACK -----

/// Sends the common GET block with `rep` appended, in one HEADERS frame with
/// END_STREAM and END_HEADERS, and expects a response.
fn get_with_appended(c: &mut dyn Client, rep: &[u8]) -> CaseResult {
    let mut block = c.get_request();
    block.extend_from_slice(rep);
    c.send(&F::headers(1, &block, true));
    c.expect(Expect::ResponseHeaders(1))
}

/// `user-agent: h2spec`, name and value Huffman-coded, after the first octet.
const USER_AGENT_HUFFMAN: &[u8] = b"\x87\xb5\x05\xb1\x61\xcc\x5a\x93\x84\x9c\x48\xac\xa4";
/// `user-agent: h2spec` as plain strings.
const USER_AGENT_PLAIN: &[u8] =
    b"\x0a\x75\x73\x65\x72\x2d\x61\x67\x65\x6e\x74\x06\x68\x32\x73\x70\x65\x63";
/// `x-test: h2spec` as plain strings.
const X_TEST_PLAIN: &[u8] = b"\x06\x78\x2d\x74\x65\x73\x74\x06\x68\x32\x73\x70\x65\x63";
/// `x-test: h2spec`, Huffman-coded.
const X_TEST_HUFFMAN: &[u8] = b"\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4";

/// A literal representation: the first octet, then name and value.
fn literal(first: u8, strings: &[u8]) -> Vec<u8> {
    let mut rep = vec![first];
    rep.extend_from_slice(strings);
    rep
}

fn hpack_5_1(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, b"\xba")
}

fn hpack_5_2(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, &literal(0x40, USER_AGENT_HUFFMAN))
}

fn hpack_5_3(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, &literal(0x40, USER_AGENT_PLAIN))
}

fn hpack_5_4(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, &literal(0x40, X_TEST_PLAIN))
}

fn hpack_5_5(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, &literal(0x40, X_TEST_HUFFMAN))
}

fn hpack_5_6(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, &literal(0x00, USER_AGENT_PLAIN))
}

fn hpack_5_7(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, &literal(0x00, USER_AGENT_HUFFMAN))
}

fn hpack_5_8(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, &literal(0x00, X_TEST_PLAIN))
}

fn hpack_5_9(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, &literal(0x00, X_TEST_HUFFMAN))
}

fn hpack_5_10(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, &literal(0x10, USER_AGENT_PLAIN))
}

fn hpack_5_11(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, &literal(0x10, USER_AGENT_HUFFMAN))
}

fn hpack_5_12(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, &literal(0x10, X_TEST_HUFFMAN))
}

/// h2spec sends the same octets as 5/12.
fn hpack_5_13(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, &literal(0x10, X_TEST_HUFFMAN))
}

fn hpack_5_14(c: &mut dyn Client) -> CaseResult {
    c.factory().set_max_table_size(128);
    let block = c.get_request();
    if !block.starts_with(b"\x3f\x61") {
        return Err("the encoder did not start the block with the size update"
            .to_owned()
            .into());
    }
    c.send(&F::headers(1, &block, true));
    c.expect(Expect::ResponseHeaders(1))
}

fn hpack_5_15(c: &mut dyn Client) -> CaseResult {
    let mut block = b"\x3f\x61\x3f\xe1\x1f".to_vec();
    block.extend_from_slice(&c.get_request());
    c.send(&F::headers(1, &block, true));
    c.expect(Expect::ResponseHeaders(1))
}
