//! h2spec 2.6.0 `http2` group: 94 default cases plus the strict-only
//! http2/5.4.1/2 (95 tests). Section numbers in the ids are RFC 7540's; each
//! doc comment also names the RFC 9113 section. One test per case: it sends
//! what the case sends and asserts h2spec's verdict.

use grpc_sansio::h2::frame::{flags, setting_id};
use grpc_sansio::h2::ErrorCode;
use grpc_sansio::hpack::Header;
use spec_tests::factory::{kind, FrameFactory as F, HeadersOptions, PriorityFields};
use spec_tests::server::TestServer;

const PING_ZERO: [u8; 8] = [0; 8];
const PROTOCOL_ERROR: ErrorCode = ErrorCode::PROTOCOL_ERROR;
const STREAM_CLOSED: ErrorCode = ErrorCode::STREAM_CLOSED;
const FRAME_SIZE_ERROR: ErrorCode = ErrorCode::FRAME_SIZE_ERROR;
const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode::FLOW_CONTROL_ERROR;

/// HEADERS options: END_STREAM as given, END_HEADERS clear.
fn open_block(end_stream: bool) -> HeadersOptions {
    HeadersOptions {
        end_stream,
        end_headers: false,
        ..HeadersOptions::default()
    }
}

/// Sends a HEADERS frame with END_HEADERS carrying `headers`.
fn send_headers(s: &mut TestServer, stream: u32, headers: &[Header], end_stream: bool) {
    let block = s.factory.encode(headers);
    s.send(&F::headers(stream, &block, end_stream));
}

/// Sends the common GET request on `stream` (END_HEADERS set).
fn send_get(s: &mut TestServer, stream: u32, end_stream: bool) {
    let block = s.factory.get_request();
    s.send(&F::headers(stream, &block, end_stream));
}

/// Sends the common POST request on `stream` (END_HEADERS set).
fn send_post(s: &mut TestServer, stream: u32, end_stream: bool) {
    let block = s.factory.post_request();
    s.send(&F::headers(stream, &block, end_stream));
}

// ----- http2/3.5: HTTP/2 Connection Preface (RFC 9113 §3.4) -----

/// http2/3.5/1 — RFC 9113 §3.4: the server's preface is a SETTINGS frame, the
/// first frame it sends.
#[test]
fn http2_3_5_1_client_connection_preface() {
    let mut s = TestServer::without_handshake();
    s.send(&F::preface());
    s.send(&F::settings_initial_window(65_535));
    s.expect_first_frame_settings().unwrap();
}

/// http2/3.5/2 — RFC 9113 §3.4: an invalid preface is a connection error
/// PROTOCOL_ERROR (the GOAWAY may be left out).
#[test]
fn http2_3_5_2_invalid_connection_preface() {
    let mut s = TestServer::without_handshake();
    s.send(b"INVALID CONNECTION PREFACE\r\n\r\n");
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/4.1: Frame Format (RFC 9113 §4.1) -----

/// http2/4.1/1 — RFC 9113 §4.1, §5.5: frames of unknown type are ignored.
#[test]
fn http2_4_1_1_frame_with_unknown_type() {
    let mut s = TestServer::new();
    s.send(&F::raw(0x16, 0, 0, &[0; 8]));
    s.send(&F::ping(PING_ZERO, false));
    s.expect_ping_ack(PING_ZERO).unwrap();
}

/// http2/4.1/2 — RFC 9113 §4.1: undefined flags are ignored.
#[test]
fn http2_4_1_2_frame_with_undefined_flag() {
    let mut s = TestServer::new();
    s.send(&F::raw(kind::PING, 0x16, 0, &[0; 8]));
    s.expect_ping().unwrap();
}

/// http2/4.1/3 — RFC 9113 §4.1: the reserved bit of the stream id is ignored.
#[test]
fn http2_4_1_3_frame_with_reserved_bit() {
    let mut s = TestServer::new();
    s.send(&F::raw(kind::PING, 0x16, 0x8000_0000, &[0; 8]));
    s.expect_ping().unwrap();
}

// ----- http2/4.2: Frame Size (RFC 9113 §4.2) -----

/// http2/4.2/1 — RFC 9113 §4.2: a DATA frame of exactly SETTINGS_MAX_FRAME_SIZE
/// octets is accepted.
#[test]
fn http2_4_2_1_data_frame_of_max_frame_size() {
    let mut s = TestServer::new();
    let max = s.max_frame_size() as usize;
    send_post(&mut s, 1, false);
    s.send(&F::data(1, &vec![b'x'; max], true, None));
    s.expect_response_headers(1).unwrap();
}

/// http2/4.2/2 — RFC 9113 §4.2: a DATA frame above SETTINGS_MAX_FRAME_SIZE is
/// a FRAME_SIZE_ERROR.
#[test]
fn http2_4_2_2_data_frame_exceeding_max_frame_size() {
    let mut s = TestServer::new();
    let max = s.max_frame_size() as usize;
    send_post(&mut s, 1, false);
    s.send(&F::data(1, &vec![b'x'; max + 1], true, None));
    s.expect_stream_error(FRAME_SIZE_ERROR).unwrap();
}

/// http2/4.2/3 — RFC 9113 §4.2: a HEADERS frame above SETTINGS_MAX_FRAME_SIZE
/// is a connection error FRAME_SIZE_ERROR (it can alter connection state).
#[test]
fn http2_4_2_3_headers_frame_exceeding_max_frame_size() {
    let mut s = TestServer::new();
    let mut headers = s.factory.get_headers();
    headers.extend(s.factory.dummy_headers(5));
    let block = s.factory.encode(&headers);
    assert!(block.len() > s.max_frame_size() as usize);
    s.send(&F::headers(1, &block, true));
    s.expect_conn_error(FRAME_SIZE_ERROR).unwrap();
}

// ----- http2/4.3: Header Compression and Decompression (RFC 9113 §4.3) -----

/// http2/4.3/1 — RFC 9113 §4.3: an undecodable header block is a connection
/// error COMPRESSION_ERROR.
#[test]
fn http2_4_3_1_invalid_header_block_fragment() {
    let mut s = TestServer::new();
    s.send(&F::raw(
        kind::HEADERS,
        flags::END_STREAM | flags::END_HEADERS,
        1,
        &[0x40],
    ));
    s.expect_conn_error(ErrorCode::COMPRESSION_ERROR).unwrap();
}

/// http2/4.3/2 — RFC 9113 §4.3, §6.3: a PRIORITY inside a header block is a
/// connection error PROTOCOL_ERROR.
#[test]
fn http2_4_3_2_priority_frame_while_sending_header_blocks() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers_with(1, &block, open_block(false)));
    s.send(&F::priority(1, PriorityFields::new(0, 255)));
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(1, &dummy, true));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/4.3/3 — RFC 9113 §4.3: a HEADERS frame on another stream inside a
/// header block is a connection error PROTOCOL_ERROR.
#[test]
fn http2_4_3_3_headers_frame_to_another_stream_while_sending_header_blocks() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers_with(1, &block, open_block(false)));
    send_get(&mut s, 3, true);
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(1, &dummy, true));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/5.1: Stream States (RFC 9113 §5.1) -----

/// http2/5.1/1 — RFC 9113 §5.1 (idle): DATA is a connection error PROTOCOL_ERROR.
#[test]
fn http2_5_1_1_idle_data_frame() {
    let mut s = TestServer::new();
    s.send(&F::data(1, b"test", true, None));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/5.1/2 — RFC 9113 §5.1 (idle): RST_STREAM is a connection error
/// PROTOCOL_ERROR.
#[test]
fn http2_5_1_2_idle_rst_stream_frame() {
    let mut s = TestServer::new();
    s.send(&F::rst_stream(1, ErrorCode::CANCEL));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/5.1/3 — RFC 9113 §5.1 (idle): WINDOW_UPDATE is a connection error
/// PROTOCOL_ERROR.
#[test]
fn http2_5_1_3_idle_window_update_frame() {
    let mut s = TestServer::new();
    s.send(&F::window_update(1, 100));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/5.1/4 — RFC 9113 §5.1 (idle), §6.10: CONTINUATION without a header
/// block is a connection error PROTOCOL_ERROR.
#[test]
fn http2_5_1_4_idle_continuation_frame() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::continuation(1, &block, true));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/5.1/5 — RFC 9113 §5.1 (half-closed (remote)): DATA is a stream error
/// STREAM_CLOSED.
#[test]
fn http2_5_1_5_half_closed_remote_data_frame() {
    let mut s = TestServer::new();
    send_get(&mut s, 1, true);
    s.send(&F::data(1, b"test", true, None));
    s.expect_stream_error(STREAM_CLOSED).unwrap();
}

/// http2/5.1/6 — RFC 9113 §5.1 (half-closed (remote)): HEADERS is a stream
/// error STREAM_CLOSED.
#[test]
fn http2_5_1_6_half_closed_remote_headers_frame() {
    let mut s = TestServer::new();
    send_get(&mut s, 1, true);
    send_get(&mut s, 1, true);
    s.expect_stream_error(STREAM_CLOSED).unwrap();
}

/// http2/5.1/7 — RFC 9113 §5.1 (half-closed (remote)), §6.10: CONTINUATION
/// after a complete block is a STREAM_CLOSED or PROTOCOL_ERROR error.
#[test]
fn http2_5_1_7_half_closed_remote_continuation_frame() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, true));
    s.send(&F::continuation(1, &block, true));
    s.expect_stream_error_one_of(&[STREAM_CLOSED, PROTOCOL_ERROR])
        .unwrap();
}

/// http2/5.1/8 — RFC 9113 §5.1 (closed): DATA after RST_STREAM is a stream
/// error STREAM_CLOSED.
#[test]
fn http2_5_1_8_closed_data_frame_after_rst_stream() {
    let mut s = TestServer::new();
    send_get(&mut s, 1, false);
    s.send(&F::rst_stream(1, ErrorCode::CANCEL));
    s.send(&F::data(1, b"test", true, None));
    s.expect_stream_error(STREAM_CLOSED).unwrap();
}

/// http2/5.1/9 — RFC 9113 §5.1 (closed): HEADERS after RST_STREAM is a stream
/// error STREAM_CLOSED.
#[test]
fn http2_5_1_9_closed_headers_frame_after_rst_stream() {
    let mut s = TestServer::new();
    send_get(&mut s, 1, false);
    s.send(&F::rst_stream(1, ErrorCode::CANCEL));
    send_get(&mut s, 1, true);
    s.expect_stream_error(STREAM_CLOSED).unwrap();
}

/// http2/5.1/10 — RFC 9113 §5.1 (closed), §6.10: CONTINUATION after
/// RST_STREAM is a STREAM_CLOSED or PROTOCOL_ERROR error.
#[test]
fn http2_5_1_10_closed_continuation_frame_after_rst_stream() {
    let mut s = TestServer::new();
    send_get(&mut s, 1, false);
    s.send(&F::rst_stream(1, ErrorCode::CANCEL));
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(1, &dummy, true));
    s.expect_stream_error_one_of(&[STREAM_CLOSED, PROTOCOL_ERROR])
        .unwrap();
}

/// http2/5.1/11 — RFC 9113 §5.1 (closed): DATA on a stream that ended is a
/// STREAM_CLOSED error.
#[test]
fn http2_5_1_11_closed_data_frame() {
    let mut s = TestServer::new();
    send_get(&mut s, 1, true);
    s.wait_stream_end().unwrap();
    s.send(&F::data(1, b"test", true, None));
    s.expect_stream_error(STREAM_CLOSED).unwrap();
}

/// http2/5.1/12 — RFC 9113 §5.1 (closed): HEADERS on a stream that ended is a
/// connection error STREAM_CLOSED.
#[test]
fn http2_5_1_12_closed_headers_frame() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    let frame = F::headers(1, &block, true);
    s.send(&frame);
    s.wait_stream_end().unwrap();
    s.send(&frame);
    s.expect_conn_error(STREAM_CLOSED).unwrap();
}

/// http2/5.1/13 — RFC 9113 §5.1 (closed), §6.10: CONTINUATION on a stream that
/// ended is a connection error STREAM_CLOSED or PROTOCOL_ERROR.
#[test]
fn http2_5_1_13_closed_continuation_frame() {
    let mut s = TestServer::new();
    send_get(&mut s, 1, true);
    s.wait_stream_end().unwrap();
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(1, &dummy, true));
    s.expect_conn_error_one_of(&[STREAM_CLOSED, PROTOCOL_ERROR])
        .unwrap();
}

// ----- http2/5.1.1: Stream Identifiers (RFC 9113 §5.1.1) -----

/// http2/5.1.1/1 — RFC 9113 §5.1.1: a client-opened stream with an even id is
/// a connection error PROTOCOL_ERROR.
#[test]
fn http2_5_1_1_1_even_numbered_stream_identifier() {
    let mut s = TestServer::new();
    send_get(&mut s, 2, true);
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/5.1.1/2 — RFC 9113 §5.1.1: a stream id lower than one already used is
/// a connection error PROTOCOL_ERROR.
#[test]
fn http2_5_1_1_2_stream_identifier_smaller_than_previous() {
    let mut s = TestServer::new();
    send_get(&mut s, 5, true);
    send_get(&mut s, 3, true);
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/5.1.2: Stream Concurrency (RFC 9113 §5.1.2) -----

/// http2/5.1.2/1 — RFC 9113 §5.1.2: the stream beyond the advertised
/// SETTINGS_MAX_CONCURRENT_STREAMS is refused (PROTOCOL_ERROR or
/// REFUSED_STREAM). A zero window holds every response body back, so the
/// earlier streams stay open.
#[test]
fn http2_5_1_2_1_exceeding_max_concurrent_streams() {
    let mut s = TestServer::new();
    let max = s
        .server_settings()
        .max_concurrent_streams
        .expect("the server advertises SETTINGS_MAX_CONCURRENT_STREAMS");
    s.send(&F::settings_initial_window(0));
    let block = s.factory.get_request();
    for i in 0..=max {
        s.send(&F::headers(1 + 2 * i, &block, true));
    }
    s.expect_stream_error_one_of(&[PROTOCOL_ERROR, ErrorCode::REFUSED_STREAM])
        .unwrap();
}

// ----- http2/5.3.1: Stream Dependencies (RFC 7540 §5.3.1; RFC 9113 §5.3.2 deprecates) -----

/// http2/5.3.1/1 — RFC 7540 §5.3.1 (dropped by RFC 9113 §5.3.2): a HEADERS
/// frame making a stream depend on itself is a stream error PROTOCOL_ERROR.
#[test]
fn http2_5_3_1_1_headers_frame_depending_on_itself() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    let opts = HeadersOptions {
        end_stream: true,
        end_headers: true,
        pad_len: None,
        priority: Some(PriorityFields::new(1, 255)),
    };
    s.send(&F::headers_with(1, &block, opts));
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

/// http2/5.3.1/2 — RFC 7540 §5.3.1 (dropped by RFC 9113 §5.3.2): a PRIORITY
/// frame making a stream depend on itself is a stream error PROTOCOL_ERROR.
#[test]
fn http2_5_3_1_2_priority_frame_depending_on_itself() {
    let mut s = TestServer::new();
    s.send(&F::priority(1, PriorityFields::new(1, 255)));
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/5.4.1: Connection Error Handling (RFC 9113 §5.4.1) -----

/// http2/5.4.1/1 — RFC 9113 §5.4.1: after a connection error the endpoint
/// closes the connection (an invalid PING on stream 3 triggers one).
#[test]
fn http2_5_4_1_1_connection_closed_after_connection_error() {
    let mut s = TestServer::new();
    s.send(&F::raw(kind::PING, 0, 3, &[0; 8]));
    s.expect_close().unwrap();
}

/// http2/5.4.1/2 (strict only) — RFC 9113 §5.4.1: an endpoint that meets a
/// connection error should send GOAWAY first.
#[test]
fn http2_5_4_1_2_goaway_sent_on_connection_error_strict() {
    let mut s = TestServer::new();
    s.send(&F::raw(kind::PING, 0, 3, &[0; 8]));
    s.expect_goaway_any().unwrap();
}

// ----- http2/5.5: Extending HTTP/2 (RFC 9113 §5.5) -----

/// http2/5.5/1 — RFC 9113 §5.5: unknown frame types are ignored.
#[test]
fn http2_5_5_1_unknown_extension_frame() {
    let mut s = TestServer::new();
    s.send(&F::raw(0x16, 0, 0, &[0; 8]));
    s.send(&F::ping(PING_ZERO, false));
    s.expect_ping_ack(PING_ZERO).unwrap();
}

/// http2/5.5/2 — RFC 9113 §5.5, §4.3: an unknown frame in the middle of a
/// header block is a connection error PROTOCOL_ERROR.
#[test]
fn http2_5_5_2_unknown_extension_frame_in_header_block() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers_with(1, &block, open_block(true)));
    s.send(&F::raw(0x16, 0, 0, &[0; 8]));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/6.1: DATA (RFC 9113 §6.1) -----

/// http2/6.1/1 — RFC 9113 §6.1: DATA on stream 0 is a connection error
/// PROTOCOL_ERROR.
#[test]
fn http2_6_1_1_data_frame_on_stream_0() {
    let mut s = TestServer::new();
    s.send(&F::data(0, b"test", true, None));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.1/2 — RFC 9113 §6.1: DATA on a stream not open for receiving is a
/// stream error STREAM_CLOSED.
#[test]
fn http2_6_1_2_data_frame_on_stream_not_open() {
    let mut s = TestServer::new();
    send_post(&mut s, 1, true);
    s.send(&F::data(1, b"test", true, None));
    s.expect_stream_error(STREAM_CLOSED).unwrap();
}

/// http2/6.1/3 — RFC 9113 §6.1: padding as long as the payload is a connection
/// error PROTOCOL_ERROR.
#[test]
fn http2_6_1_3_data_frame_with_invalid_pad_length() {
    let mut s = TestServer::new();
    let mut headers = s.factory.post_headers();
    headers.push(Header::new("content-length", "4"));
    send_headers(&mut s, 1, &headers, false);
    s.send(&F::raw(
        kind::DATA,
        flags::PADDED | flags::END_STREAM,
        1,
        b"\x06Test",
    ));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/6.2: HEADERS (RFC 9113 §6.2) -----

/// http2/6.2/1 — RFC 9113 §6.2: a HEADERS without END_HEADERS followed by a
/// PRIORITY is a connection error PROTOCOL_ERROR.
#[test]
fn http2_6_2_1_headers_without_end_headers_then_priority() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers_with(1, &block, open_block(false)));
    s.send(&F::priority(1, PriorityFields::new(0, 255)));
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(1, &dummy, true));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.2/2 — RFC 9113 §6.2: HEADERS to another stream inside a header
/// block is a connection error PROTOCOL_ERROR.
#[test]
fn http2_6_2_2_headers_to_another_stream_while_sending_headers() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers_with(1, &block, open_block(false)));
    send_get(&mut s, 3, true);
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(1, &dummy, true));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.2/3 — RFC 9113 §6.2: HEADERS on stream 0 is a connection error
/// PROTOCOL_ERROR.
#[test]
fn http2_6_2_3_headers_frame_on_stream_0() {
    let mut s = TestServer::new();
    send_get(&mut s, 0, true);
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.2/4 — RFC 9113 §6.2: padding longer than the room left for the
/// block is a PROTOCOL_ERROR (a connection error in RFC 9113; h2spec also
/// accepts a stream error).
#[test]
fn http2_6_2_4_headers_frame_with_invalid_pad_length() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    let mut payload = vec![(block.len() + 2) as u8];
    payload.extend_from_slice(&block);
    s.send(&F::raw(
        kind::HEADERS,
        flags::END_STREAM | flags::END_HEADERS | flags::PADDED,
        1,
        &payload,
    ));
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/6.3: PRIORITY (RFC 9113 §6.3) -----

/// http2/6.3/1 — RFC 9113 §6.3: PRIORITY on stream 0 is a connection error
/// PROTOCOL_ERROR.
#[test]
fn http2_6_3_1_priority_frame_on_stream_0() {
    let mut s = TestServer::new();
    s.send(&F::priority(0, PriorityFields::new(0, 255)));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.3/2 — RFC 9113 §6.3: a PRIORITY whose length is not 5 is a stream
/// error FRAME_SIZE_ERROR.
#[test]
fn http2_6_3_2_priority_frame_with_invalid_length() {
    let mut s = TestServer::new();
    send_get(&mut s, 1, true);
    s.send(&F::raw(kind::PRIORITY, 0, 1, b"\x80\x00\x00\x01"));
    s.expect_stream_error(FRAME_SIZE_ERROR).unwrap();
}

// ----- http2/6.4: RST_STREAM (RFC 9113 §6.4) -----

/// http2/6.4/1 — RFC 9113 §6.4: RST_STREAM on stream 0 is a connection error
/// PROTOCOL_ERROR.
#[test]
fn http2_6_4_1_rst_stream_frame_on_stream_0() {
    let mut s = TestServer::new();
    s.send(&F::rst_stream(0, ErrorCode::CANCEL));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.4/2 — RFC 9113 §6.4: RST_STREAM on an idle stream is a connection
/// error PROTOCOL_ERROR.
#[test]
fn http2_6_4_2_rst_stream_frame_on_idle_stream() {
    let mut s = TestServer::new();
    s.send(&F::rst_stream(1, ErrorCode::CANCEL));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.4/3 — RFC 9113 §6.4: an RST_STREAM whose length is not 4 is a
/// FRAME_SIZE_ERROR (a connection error; h2spec also accepts a stream error).
#[test]
fn http2_6_4_3_rst_stream_frame_with_invalid_length() {
    let mut s = TestServer::new();
    send_get(&mut s, 1, true);
    s.send(&F::raw(kind::RST_STREAM, 0, 1, &[0, 0, 0]));
    s.expect_stream_error(FRAME_SIZE_ERROR).unwrap();
}

// ----- http2/6.5: SETTINGS (RFC 9113 §6.5) -----

/// http2/6.5/1 — RFC 9113 §6.5: a SETTINGS ACK with a payload is a connection
/// error FRAME_SIZE_ERROR.
#[test]
fn http2_6_5_1_settings_ack_with_payload() {
    let mut s = TestServer::new();
    s.send(&F::raw(kind::SETTINGS, flags::ACK, 0, &[0]));
    s.expect_conn_error(FRAME_SIZE_ERROR).unwrap();
}

/// http2/6.5/2 — RFC 9113 §6.5: SETTINGS on a stream other than 0 is a
/// connection error PROTOCOL_ERROR.
#[test]
fn http2_6_5_2_settings_frame_on_stream_1() {
    let mut s = TestServer::new();
    s.send(&F::raw(kind::SETTINGS, 0, 1, &[0, 3, 0, 0, 0, 0x64]));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.5/3 — RFC 9113 §6.5: a SETTINGS length that is not a multiple of 6
/// is a FRAME_SIZE_ERROR (h2spec accepts PROTOCOL_ERROR or FRAME_SIZE_ERROR,
/// as a stream or connection error).
#[test]
fn http2_6_5_3_settings_frame_with_invalid_length() {
    let mut s = TestServer::new();
    s.send(&F::raw(kind::SETTINGS, 0, 0, &[0, 3, 0]));
    s.expect_stream_error_one_of(&[PROTOCOL_ERROR, FRAME_SIZE_ERROR])
        .unwrap();
}

// ----- http2/6.5.2: Defined SETTINGS Parameters (RFC 9113 §6.5.2) -----

/// http2/6.5.2/1 — RFC 9113 §6.5.2: SETTINGS_ENABLE_PUSH other than 0 or 1 is
/// a connection error PROTOCOL_ERROR.
#[test]
fn http2_6_5_2_1_enable_push_invalid_value() {
    let mut s = TestServer::new();
    s.send(&F::settings(&[(setting_id::ENABLE_PUSH, 2)]));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.5.2/2 — RFC 9113 §6.5.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1
/// is a connection error FLOW_CONTROL_ERROR.
#[test]
fn http2_6_5_2_2_initial_window_size_above_maximum() {
    let mut s = TestServer::new();
    s.send(&F::settings_initial_window(1 << 31));
    s.expect_conn_error(FLOW_CONTROL_ERROR).unwrap();
}

/// http2/6.5.2/3 — RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE below 16384 is a
/// connection error PROTOCOL_ERROR.
#[test]
fn http2_6_5_2_3_max_frame_size_below_initial_value() {
    let mut s = TestServer::new();
    s.send(&F::settings(&[(setting_id::MAX_FRAME_SIZE, 16_383)]));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.5.2/4 — RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE above 2^24-1 is a
/// connection error PROTOCOL_ERROR.
#[test]
fn http2_6_5_2_4_max_frame_size_above_maximum() {
    let mut s = TestServer::new();
    s.send(&F::settings(&[(setting_id::MAX_FRAME_SIZE, 16_777_216)]));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.5.2/5 — RFC 9113 §6.5.2: an unknown setting is ignored.
#[test]
fn http2_6_5_2_5_unknown_setting_ignored() {
    let mut s = TestServer::new();
    s.send(&F::settings(&[(0xff, 1)]));
    s.send(&F::ping(PING_ZERO, false));
    s.expect_ping_ack(PING_ZERO).unwrap();
}

// ----- http2/6.5.3: Settings Synchronization (RFC 9113 §6.5.3) -----

/// http2/6.5.3/1 — RFC 9113 §6.5.3: values are processed in order, so the last
/// INITIAL_WINDOW_SIZE (1) wins. Needs a response body.
#[test]
fn http2_6_5_3_1_multiple_values_of_same_setting() {
    let mut s = TestServer::new();
    s.send(&F::settings(&[
        (setting_id::INITIAL_WINDOW_SIZE, 100),
        (setting_id::INITIAL_WINDOW_SIZE, 1),
    ]));
    s.expect_settings_ack().unwrap();
    send_get(&mut s, 1, true);
    s.expect_data_len(1).unwrap();
}

/// http2/6.5.3/2 — RFC 9113 §6.5.3: a SETTINGS frame is acknowledged.
#[test]
fn http2_6_5_3_2_settings_acknowledged() {
    let mut s = TestServer::new();
    s.send(&F::settings(&[(setting_id::ENABLE_PUSH, 0)]));
    s.expect_settings_ack().unwrap();
}

// ----- http2/6.7: PING (RFC 9113 §6.7) -----

/// http2/6.7/1 — RFC 9113 §6.7: a PING is answered with an ACK echoing it.
#[test]
fn http2_6_7_1_ping_frame() {
    let mut s = TestServer::new();
    s.send(&F::ping(*b"h2spec\0\0", false));
    s.expect_ping_ack(*b"h2spec\0\0").unwrap();
}

/// http2/6.7/2 — RFC 9113 §6.7: a PING ACK gets no reply; the next PING the
/// server sends is the ACK of the second PING.
#[test]
fn http2_6_7_2_ping_ack_not_answered() {
    let mut s = TestServer::new();
    s.send(&F::ping(*b"invalid\0", true));
    s.send(&F::ping(*b"h2spec\0\0", false));
    s.expect_ping_ack(*b"h2spec\0\0").unwrap();
}

/// http2/6.7/3 — RFC 9113 §6.7: PING on a stream other than 0 is a connection
/// error PROTOCOL_ERROR.
#[test]
fn http2_6_7_3_ping_frame_on_stream_1() {
    let mut s = TestServer::new();
    s.send(&F::raw(kind::PING, 0, 1, &[0; 8]));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.7/4 — RFC 9113 §6.7: a PING whose length is not 8 is a connection
/// error FRAME_SIZE_ERROR.
#[test]
fn http2_6_7_4_ping_frame_with_invalid_length() {
    let mut s = TestServer::new();
    s.send(&F::raw(kind::PING, 0, 0, &[0; 6]));
    s.expect_conn_error(FRAME_SIZE_ERROR).unwrap();
}

// ----- http2/6.8: GOAWAY (RFC 9113 §6.8) -----

/// http2/6.8/1 — RFC 9113 §6.8: GOAWAY on a stream other than 0 is a
/// connection error PROTOCOL_ERROR.
#[test]
fn http2_6_8_1_goaway_frame_on_stream_1() {
    let mut s = TestServer::new();
    s.send(&F::raw(kind::GOAWAY, 0, 1, &[0; 8]));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/6.9: WINDOW_UPDATE (RFC 9113 §6.9) -----

/// http2/6.9/1 — RFC 9113 §6.9: a zero increment on the connection is a
/// connection error PROTOCOL_ERROR.
#[test]
fn http2_6_9_1_window_update_zero_increment_on_connection() {
    let mut s = TestServer::new();
    s.send(&F::window_update(0, 0));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.9/2 — RFC 9113 §6.9: a zero increment on a stream is a stream error
/// PROTOCOL_ERROR.
#[test]
fn http2_6_9_2_window_update_zero_increment_on_stream() {
    let mut s = TestServer::new();
    send_get(&mut s, 1, false);
    s.send(&F::window_update(1, 0));
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.9/3 — RFC 9113 §6.9: a WINDOW_UPDATE whose length is not 4 is a
/// connection error FRAME_SIZE_ERROR.
#[test]
fn http2_6_9_3_window_update_with_invalid_length() {
    let mut s = TestServer::new();
    s.send(&F::raw(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 1]));
    s.expect_conn_error(FRAME_SIZE_ERROR).unwrap();
}

// ----- http2/6.9.1: The Flow-Control Window (RFC 9113 §6.9.1) -----

/// http2/6.9.1/1 — RFC 9113 §6.9.1: the server sends no more than the window
/// allows (INITIAL_WINDOW_SIZE=1 gives one octet). Needs a response body.
#[test]
fn http2_6_9_1_1_initial_window_size_1() {
    let mut s = TestServer::new();
    s.send(&F::settings_initial_window(1));
    s.expect_settings_ack().unwrap();
    send_get(&mut s, 1, true);
    s.expect_data_len(1).unwrap();
}

/// http2/6.9.1/2 — RFC 9113 §6.9.1: a connection window above 2^31-1 is a
/// connection error FLOW_CONTROL_ERROR, and a GOAWAY must say so.
#[test]
fn http2_6_9_1_2_connection_window_overflow() {
    let mut s = TestServer::new();
    s.send(&F::window_update(0, 0x7fff_ffff));
    s.send(&F::window_update(0, 0x7fff_ffff));
    s.expect_goaway(FLOW_CONTROL_ERROR).unwrap();
}

/// http2/6.9.1/3 — RFC 9113 §6.9.1: a stream window above 2^31-1 is a stream
/// error FLOW_CONTROL_ERROR: the first RST_STREAM is on that stream.
#[test]
fn http2_6_9_1_3_stream_window_overflow() {
    let mut s = TestServer::new();
    send_get(&mut s, 1, false);
    s.send(&F::window_update(1, 0x7fff_ffff));
    s.send(&F::window_update(1, 0x7fff_ffff));
    s.expect_rst_stream(1, FLOW_CONTROL_ERROR).unwrap();
}

// ----- http2/6.9.2: Initial Flow-Control Window Size (RFC 9113 §6.9.2) -----

/// http2/6.9.2/1 — RFC 9113 §6.9.2: a new INITIAL_WINDOW_SIZE changes the
/// windows of open streams by the difference. Needs a response body.
#[test]
fn http2_6_9_2_1_initial_window_size_change_after_headers() {
    let mut s = TestServer::new();
    s.send(&F::settings_initial_window(0));
    s.expect_settings().unwrap();
    send_get(&mut s, 1, true);
    s.send(&F::settings_initial_window(1));
    s.expect_settings().unwrap();
    s.expect_data_len(1).unwrap();
}

/// http2/6.9.2/2 — RFC 9113 §6.9.2: a sender tracks a negative window. Needs a
/// body of at least 5 octets.
#[test]
fn http2_6_9_2_2_negative_window_tracked() {
    let mut s = TestServer::new();
    s.send(&F::settings_initial_window(3));
    s.expect_settings().unwrap();
    send_get(&mut s, 1, true);
    s.expect_data().unwrap();
    s.send(&F::settings_initial_window(2));
    s.expect_settings().unwrap();
    s.send(&F::window_update(1, 2));
    s.expect_data_len(1).unwrap();
}

/// http2/6.9.2/3 — RFC 9113 §6.9.2: INITIAL_WINDOW_SIZE above 2^31-1 is a
/// connection error FLOW_CONTROL_ERROR.
#[test]
fn http2_6_9_2_3_initial_window_size_exceeding_maximum() {
    let mut s = TestServer::new();
    s.send(&F::raw(kind::SETTINGS, 0, 0, &[0, 4, 0x80, 0, 0, 0]));
    s.expect_conn_error(FLOW_CONTROL_ERROR).unwrap();
}

// ----- http2/6.10: CONTINUATION (RFC 9113 §6.10) -----

/// http2/6.10/1 — RFC 9113 §6.10: any number of CONTINUATION frames may follow
/// a HEADERS frame.
#[test]
fn http2_6_10_1_multiple_continuation_frames() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers_with(1, &block, open_block(true)));
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(1, &dummy, false));
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(1, &dummy, true));
    s.expect_response_headers(1).unwrap();
}

/// http2/6.10/2 — RFC 9113 §6.10: a frame other than CONTINUATION after a
/// CONTINUATION without END_HEADERS is a connection error PROTOCOL_ERROR.
#[test]
fn http2_6_10_2_continuation_followed_by_other_frame() {
    let mut s = TestServer::new();
    let block = s.factory.post_request();
    s.send(&F::headers_with(1, &block, open_block(false)));
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(1, &dummy, false));
    s.send(&F::data(1, b"test", true, None));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.10/3 — RFC 9113 §6.10: CONTINUATION on stream 0 is a connection
/// error PROTOCOL_ERROR.
#[test]
fn http2_6_10_3_continuation_frame_on_stream_0() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers_with(1, &block, open_block(true)));
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(0, &dummy, true));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.10/4 — RFC 9113 §6.10: CONTINUATION after a HEADERS with
/// END_HEADERS is a connection error PROTOCOL_ERROR.
#[test]
fn http2_6_10_4_continuation_after_headers_with_end_headers() {
    let mut s = TestServer::new();
    send_get(&mut s, 1, true);
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(1, &dummy, true));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.10/5 — RFC 9113 §6.10: CONTINUATION after a CONTINUATION with
/// END_HEADERS is a connection error PROTOCOL_ERROR.
#[test]
fn http2_6_10_5_continuation_after_continuation_with_end_headers() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers_with(1, &block, open_block(true)));
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(1, &dummy, true));
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(1, &dummy, true));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

/// http2/6.10/6 — RFC 9113 §6.10: DATA inside a header block, then
/// CONTINUATION frames (the last on stream 0), is a connection error
/// PROTOCOL_ERROR.
#[test]
fn http2_6_10_6_continuation_after_data_frame() {
    let mut s = TestServer::new();
    let block = s.factory.post_request();
    s.send(&F::headers_with(1, &block, open_block(false)));
    s.send(&F::data(1, b"test", true, None));
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(1, &dummy, false));
    let dummy = s.factory.dummy_block(1);
    s.send(&F::continuation(0, &dummy, true));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/7: Error Codes (RFC 9113 §7) -----

/// http2/7/1 — RFC 9113 §7: an unknown error code in GOAWAY triggers nothing
/// special; the server answers a PING or closes.
#[test]
fn http2_7_1_goaway_with_unknown_error_code() {
    let mut s = TestServer::new();
    s.send(&F::goaway(0, ErrorCode(0xff), b""));
    s.send(&F::ping(PING_ZERO, false));
    s.expect_ping_ack_or_close(PING_ZERO).unwrap();
}

/// http2/7/2 — RFC 9113 §7: an unknown error code in RST_STREAM triggers
/// nothing special.
#[test]
fn http2_7_2_rst_stream_with_unknown_error_code() {
    let mut s = TestServer::new();
    send_post(&mut s, 1, false);
    s.send(&F::rst_stream(1, ErrorCode(0xff)));
    s.send(&F::ping(PING_ZERO, false));
    s.expect_ping_ack(PING_ZERO).unwrap();
}

// ----- http2/8.1: HTTP Request/Response Exchange (RFC 9113 §8.1) -----

/// http2/8.1/1 — RFC 9113 §8.1: a second HEADERS (trailers) without
/// END_STREAM makes the request malformed: stream error PROTOCOL_ERROR.
#[test]
fn http2_8_1_1_second_headers_without_end_stream() {
    let mut s = TestServer::new();
    send_post(&mut s, 1, false);
    s.send(&F::data(1, b"test", false, None));
    send_headers(&mut s, 1, &[Header::new("x-test", "ok")], false);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/8.1.2: HTTP Header Fields (RFC 9113 §8.2, §8.2.1) -----

/// http2/8.1.2/1 — RFC 9113 §8.2: an uppercase field name makes the request
/// malformed: stream error PROTOCOL_ERROR.
#[test]
fn http2_8_1_2_1_uppercase_header_field_name() {
    let mut s = TestServer::new();
    let mut headers = s.factory.get_headers();
    headers.push(Header::new("X-TEST", "ok"));
    send_headers(&mut s, 1, &headers, true);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/8.1.2.1: Pseudo-Header Fields (RFC 9113 §8.3) -----

/// http2/8.1.2.1/1 — RFC 9113 §8.3: an unknown pseudo-header makes the request
/// malformed.
#[test]
fn http2_8_1_2_1_1_unknown_pseudo_header() {
    let mut s = TestServer::new();
    let mut headers = s.factory.get_headers();
    headers.push(Header::new(":test", "ok"));
    send_headers(&mut s, 1, &headers, true);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

/// http2/8.1.2.1/2 — RFC 9113 §8.3: a response pseudo-header in a request
/// makes it malformed.
#[test]
fn http2_8_1_2_1_2_response_pseudo_header_in_request() {
    let mut s = TestServer::new();
    let mut headers = s.factory.get_headers();
    headers.push(Header::new(":status", "200"));
    send_headers(&mut s, 1, &headers, true);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

/// http2/8.1.2.1/3 — RFC 9113 §8.3, §8.1: a pseudo-header in trailers makes
/// the request malformed.
#[test]
fn http2_8_1_2_1_3_pseudo_header_in_trailers() {
    let mut s = TestServer::new();
    send_post(&mut s, 1, false);
    s.send(&F::data(1, b"test", false, None));
    send_headers(&mut s, 1, &[Header::new(":method", "POST")], false);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

/// http2/8.1.2.1/4 — RFC 9113 §8.3: a pseudo-header after a regular field
/// makes the request malformed.
#[test]
fn http2_8_1_2_1_4_pseudo_header_after_regular_field() {
    let mut s = TestServer::new();
    let mut headers = vec![Header::new("x-test", "ok")];
    headers.extend(s.factory.get_headers());
    send_headers(&mut s, 1, &headers, true);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/8.1.2.2: Connection-Specific Header Fields (RFC 9113 §8.2.2) -----

/// http2/8.1.2.2/1 — RFC 9113 §8.2.2: a connection-specific field makes the
/// request malformed.
#[test]
fn http2_8_1_2_2_1_connection_specific_header_field() {
    let mut s = TestServer::new();
    let mut headers = s.factory.get_headers();
    headers.push(Header::new("connection", "keep-alive"));
    send_headers(&mut s, 1, &headers, true);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

/// http2/8.1.2.2/2 — RFC 9113 §8.2.2: TE with a value other than "trailers"
/// makes the request malformed.
#[test]
fn http2_8_1_2_2_2_te_other_than_trailers() {
    let mut s = TestServer::new();
    let mut headers = s.factory.get_headers();
    headers.push(Header::new("trailers", "test"));
    headers.push(Header::new("te", "trailers, deflate"));
    send_headers(&mut s, 1, &headers, true);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/8.1.2.3: Request Pseudo-Header Fields (RFC 9113 §8.3.1) -----

/// http2/8.1.2.3/1 — RFC 9113 §8.3.1: an empty `:path` makes the request
/// malformed.
#[test]
fn http2_8_1_2_3_1_empty_path() {
    let mut s = TestServer::new();
    let mut headers = s.factory.get_headers();
    headers[2] = Header::new(":path", "");
    send_headers(&mut s, 1, &headers, true);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

/// http2/8.1.2.3/2 — RFC 9113 §8.3.1: a request without `:method` (h2spec's
/// block also lacks `:scheme`) is malformed.
#[test]
fn http2_8_1_2_3_2_missing_method() {
    let mut s = TestServer::new();
    let headers = s.factory.get_headers();
    send_headers(&mut s, 1, &headers[2..], true);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

/// http2/8.1.2.3/3 — RFC 9113 §8.3.1: a request without `:scheme` is malformed.
#[test]
fn http2_8_1_2_3_3_missing_scheme() {
    let mut s = TestServer::new();
    let mut headers = s.factory.get_headers();
    headers.remove(1);
    send_headers(&mut s, 1, &headers, true);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

/// http2/8.1.2.3/4 — RFC 9113 §8.3.1: a request without `:path` is malformed.
#[test]
fn http2_8_1_2_3_4_missing_path() {
    let mut s = TestServer::new();
    let mut headers = s.factory.get_headers();
    headers.remove(2);
    send_headers(&mut s, 1, &headers, true);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

/// http2/8.1.2.3/5 — RFC 9113 §8.3.1: a duplicated `:method` makes the request
/// malformed.
#[test]
fn http2_8_1_2_3_5_duplicated_method() {
    let mut s = TestServer::new();
    let mut headers = s.factory.get_headers();
    headers.push(Header::new(":method", "GET"));
    send_headers(&mut s, 1, &headers, true);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

/// http2/8.1.2.3/6 — RFC 9113 §8.3.1: a duplicated `:scheme` makes the request
/// malformed.
#[test]
fn http2_8_1_2_3_6_duplicated_scheme() {
    let mut s = TestServer::new();
    let mut headers = s.factory.get_headers();
    headers.push(Header::new(":scheme", "http"));
    send_headers(&mut s, 1, &headers, true);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

/// http2/8.1.2.3/7 — RFC 9113 §8.3.1: a duplicated `:path` makes the request
/// malformed.
#[test]
fn http2_8_1_2_3_7_duplicated_path() {
    let mut s = TestServer::new();
    let mut headers = s.factory.get_headers();
    headers.push(Header::new(":path", "/"));
    send_headers(&mut s, 1, &headers, true);
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/8.1.2.6: Malformed Requests and Responses (RFC 9113 §8.1.1) -----

/// http2/8.1.2.6/1 — RFC 9113 §8.1.1: a body longer than `content-length`
/// makes the request malformed.
#[test]
fn http2_8_1_2_6_1_data_exceeding_content_length() {
    let mut s = TestServer::new();
    let mut headers = s.factory.post_headers();
    headers.push(Header::new("content-length", "1"));
    send_headers(&mut s, 1, &headers, false);
    s.send(&F::data(1, b"test", true, None));
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

/// http2/8.1.2.6/2 — RFC 9113 §8.1.1: a body over several DATA frames longer
/// than `content-length` makes the request malformed.
#[test]
fn http2_8_1_2_6_2_multiple_data_exceeding_content_length() {
    let mut s = TestServer::new();
    let mut headers = s.factory.post_headers();
    headers.push(Header::new("content-length", "1"));
    send_headers(&mut s, 1, &headers, false);
    s.send(&F::data(1, b"test", false, None));
    s.send(&F::data(1, b"test", true, None));
    s.expect_stream_error(PROTOCOL_ERROR).unwrap();
}

// ----- http2/8.2: Server Push (RFC 9113 §8.4) -----

/// http2/8.2/1 — RFC 9113 §8.4: a client may not send PUSH_PROMISE: connection
/// error PROTOCOL_ERROR.
#[test]
fn http2_8_2_1_push_promise_from_client() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::push_promise(1, 3, &block, true));
    s.expect_conn_error(PROTOCOL_ERROR).unwrap();
}
