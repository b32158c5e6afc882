//! h2spec's `http2` group: 94 default cases and the strict-only http2/5.4.1/2.
//! Ids carry RFC 7540 section numbers; the table gives RFC 9113's.

use grpc_sansio::h2::frame::{flags, setting_id};
use grpc_sansio::h2::ErrorCode;
use grpc_sansio::hpack::Header;

use super::case::{Case, CaseError, CaseResult};
use super::client::Client;
use super::verdict::Expect;
use crate::factory::{kind, FrameFactory as F, HeadersOptions, PriorityFields};

const PING_ZERO: [u8; 8] = [0; 8];
const PROTOCOL_ERROR: ErrorCode = ErrorCode::PROTOCOL_ERROR;
const STREAM_CLOSED: ErrorCode = ErrorCode::STREAM_CLOSED;
const FRAME_SIZE_ERROR: ErrorCode = ErrorCode::FRAME_SIZE_ERROR;
const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode::FLOW_CONTROL_ERROR;

/// The group, in h2spec's order.
pub(super) const CASES: &[Case] = &[
    // 3.5: HTTP/2 Connection Preface
    Case::new("http2/3.5/1", "3.4", "Sends client connection preface", client_preface)
        .without_handshake(),
    Case::new("http2/3.5/2", "3.4", "Sends invalid connection preface", invalid_preface)
        .without_handshake(),
    // 4.1: Frame Format
    Case::new("http2/4.1/1", "4.1", "Sends a frame with unknown type", unknown_type),
    Case::new("http2/4.1/2", "4.1", "Sends a frame with undefined flag", undefined_flag),
    Case::new("http2/4.1/3", "4.1", "Sends a frame with reserved field bit", reserved_bit),
    // 4.2: Frame Size
    Case::new(
        "http2/4.2/1",
        "4.2",
        "Sends a DATA frame with 2^14 octets in length",
        data_of_max_frame_size,
    ),
    Case::new(
        "http2/4.2/2",
        "4.2",
        "Sends a large size DATA frame that exceeds the SETTINGS_MAX_FRAME_SIZE",
        data_over_max_frame_size,
    ),
    Case::new(
        "http2/4.2/3",
        "4.2",
        "Sends a large size HEADERS frame that exceeds the SETTINGS_MAX_FRAME_SIZE",
        headers_over_max_frame_size,
    ),
    // 4.3: Header Compression and Decompression
    Case::new("http2/4.3/1", "4.3", "Sends invalid header block fragment", invalid_block),
    Case::new(
        "http2/4.3/2",
        "4.3",
        "Sends a PRIORITY frame while sending the header blocks",
        priority_inside_header_block,
    ),
    Case::new(
        "http2/4.3/3",
        "4.3",
        "Sends a HEADERS frame to another stream while sending the header blocks",
        headers_to_another_stream_inside_block,
    ),
    // 5.1: Stream States
    Case::new("http2/5.1/1", "5.1", "idle: Sends a DATA frame", idle_data),
    Case::new("http2/5.1/2", "5.1", "idle: Sends a RST_STREAM frame", idle_rst_stream),
    Case::new("http2/5.1/3", "5.1", "idle: Sends a WINDOW_UPDATE frame", idle_window_update),
    Case::new("http2/5.1/4", "5.1", "idle: Sends a CONTINUATION frame", idle_continuation),
    Case::new(
        "http2/5.1/5",
        "5.1",
        "half closed (remote): Sends a DATA frame",
        half_closed_data,
    ),
    Case::new(
        "http2/5.1/6",
        "5.1",
        "half closed (remote): Sends a HEADERS frame",
        half_closed_headers,
    ),
    Case::new(
        "http2/5.1/7",
        "5.1",
        "half closed (remote): Sends a CONTINUATION frame",
        half_closed_continuation,
    ),
    Case::new(
        "http2/5.1/8",
        "5.1",
        "closed: Sends a DATA frame after sending RST_STREAM frame",
        data_after_rst_stream,
    ),
    Case::new(
        "http2/5.1/9",
        "5.1",
        "closed: Sends a HEADERS frame after sending RST_STREAM frame",
        headers_after_rst_stream,
    ),
    Case::new(
        "http2/5.1/10",
        "5.1",
        "closed: Sends a CONTINUATION frame after sending RST_STREAM frame",
        continuation_after_rst_stream,
    ),
    Case::new("http2/5.1/11", "5.1", "closed: Sends a DATA frame", closed_data),
    Case::new("http2/5.1/12", "5.1", "closed: Sends a HEADERS frame", closed_headers),
    Case::new("http2/5.1/13", "5.1", "closed: Sends a CONTINUATION frame", closed_continuation),
    // 5.1.1: Stream Identifiers
    Case::new(
        "http2/5.1.1/1",
        "5.1.1",
        "Sends even-numbered stream identifier",
        even_stream_id,
    ),
    Case::new(
        "http2/5.1.1/2",
        "5.1.1",
        "Sends stream identifier that is numerically smaller than previous",
        smaller_stream_id,
    ),
    // 5.1.2: Stream Concurrency
    Case::new(
        "http2/5.1.2/1",
        "5.1.2",
        "Sends HEADERS frames that causes their advertised concurrent stream limit to be exceeded",
        exceeding_max_concurrent_streams,
    ),
    // 5.3.1: Stream Dependencies (RFC 7540; RFC 9113 §5.3.2 deprecates the scheme)
    Case::new(
        "http2/5.3.1/1",
        "5.3.2",
        "Sends HEADERS frame that depends on itself (an RFC 7540 §5.3.1 rule)",
        headers_depending_on_itself,
    ),
    Case::new(
        "http2/5.3.1/2",
        "5.3.2",
        "Sends PRIORITY frame that depend on itself (an RFC 7540 §5.3.1 rule)",
        priority_depending_on_itself,
    ),
    // 5.4.1: Connection Error Handling
    Case::new(
        "http2/5.4.1/1",
        "5.4.1",
        "Sends an invalid PING frame for connection close",
        closed_after_connection_error,
    ),
    Case::new(
        "http2/5.4.1/2",
        "5.4.1",
        "Sends an invalid PING frame to receive GOAWAY frame",
        goaway_on_connection_error,
    )
    .strict_only(),
    // 5.5: Extending HTTP/2
    Case::new(
        "http2/5.5/1",
        "5.5",
        "Sends an unknown extension frame",
        unknown_extension_frame,
    ),
    Case::new(
        "http2/5.5/2",
        "5.5",
        "Sends an unknown extension frame in the middle of a header block",
        unknown_frame_inside_header_block,
    ),
    // 6.1: DATA
    Case::new(
        "http2/6.1/1",
        "6.1",
        "Sends a DATA frame with 0x0 stream identifier",
        data_on_stream_0,
    ),
    Case::new(
        "http2/6.1/2",
        "6.1",
        "Sends a DATA frame on the stream that is not in \"open\" or \"half-closed (local)\" state",
        data_on_stream_not_open,
    ),
    Case::new(
        "http2/6.1/3",
        "6.1",
        "Sends a DATA frame with invalid pad length",
        data_with_invalid_pad_length,
    ),
    // 6.2: HEADERS
    Case::new(
        "http2/6.2/1",
        "6.2",
        "Sends a HEADERS frame without the END_HEADERS flag, and a PRIORITY frame",
        headers_then_priority,
    ),
    Case::new(
        "http2/6.2/2",
        "6.2",
        "Sends a HEADERS frame to another stream while sending a HEADERS frame",
        headers_to_another_stream,
    ),
    Case::new(
        "http2/6.2/3",
        "6.2",
        "Sends a HEADERS frame with 0x0 stream identifier",
        headers_on_stream_0,
    ),
    Case::new(
        "http2/6.2/4",
        "6.2",
        "Sends a HEADERS frame with invalid pad length",
        headers_with_invalid_pad_length,
    ),
    // 6.3: PRIORITY
    Case::new(
        "http2/6.3/1",
        "6.3",
        "Sends a PRIORITY frame with 0x0 stream identifier",
        priority_on_stream_0,
    ),
    Case::new(
        "http2/6.3/2",
        "6.3",
        "Sends a PRIORITY frame with a length other than 5 octets",
        priority_with_invalid_length,
    ),
    // 6.4: RST_STREAM
    Case::new(
        "http2/6.4/1",
        "6.4",
        "Sends a RST_STREAM frame with 0x0 stream identifier",
        rst_stream_on_stream_0,
    ),
    Case::new(
        "http2/6.4/2",
        "6.4",
        "Sends a RST_STREAM frame on a idle stream",
        rst_stream_on_idle_stream,
    ),
    Case::new(
        "http2/6.4/3",
        "6.4",
        "Sends a RST_STREAM frame with a length other than 4 octets",
        rst_stream_with_invalid_length,
    ),
    // 6.5: SETTINGS
    Case::new(
        "http2/6.5/1",
        "6.5",
        "Sends a SETTINGS frame with ACK flag and payload",
        settings_ack_with_payload,
    ),
    Case::new(
        "http2/6.5/2",
        "6.5",
        "Sends a SETTINGS frame with a stream identifier other than 0x0",
        settings_on_stream_1,
    ),
    Case::new(
        "http2/6.5/3",
        "6.5",
        "Sends a SETTINGS frame with a length other than a multiple of 6 octets",
        settings_with_invalid_length,
    ),
    // 6.5.2: Defined SETTINGS Parameters
    Case::new(
        "http2/6.5.2/1",
        "6.5.2",
        "SETTINGS_ENABLE_PUSH (0x2): Sends the value other than 0 or 1",
        enable_push_invalid,
    ),
    Case::new(
        "http2/6.5.2/2",
        "6.5.2",
        "SETTINGS_INITIAL_WINDOW_SIZE (0x4): Sends the value above the maximum flow control window size",
        initial_window_size_above_maximum,
    ),
    Case::new(
        "http2/6.5.2/3",
        "6.5.2",
        "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value below the initial value",
        max_frame_size_below_initial,
    ),
    Case::new(
        "http2/6.5.2/4",
        "6.5.2",
        "SETTINGS_MAX_FRAME_SIZE (0x5): Sends the value above the maximum allowed frame size",
        max_frame_size_above_maximum,
    ),
    Case::new(
        "http2/6.5.2/5",
        "6.5.2",
        "Sends a SETTINGS frame with unknown identifier",
        unknown_setting,
    ),
    // 6.5.3: Settings Synchronization
    Case::new(
        "http2/6.5.3/1",
        "6.5.3",
        "Sends multiple values of SETTINGS_INITIAL_WINDOW_SIZE",
        multiple_values_of_a_setting,
    )
    .needs_body(1),
    Case::new(
        "http2/6.5.3/2",
        "6.5.3",
        "Sends a SETTINGS frame without ACK flag",
        settings_acknowledged,
    ),
    // 6.7: PING
    Case::new("http2/6.7/1", "6.7", "Sends a PING frame", ping_frame),
    Case::new("http2/6.7/2", "6.7", "Sends a PING frame with ACK", ping_ack_not_answered),
    Case::new(
        "http2/6.7/3",
        "6.7",
        "Sends a PING frame with a stream identifier field value other than 0x0",
        ping_on_stream_1,
    ),
    Case::new(
        "http2/6.7/4",
        "6.7",
        "Sends a PING frame with a length field value other than 8",
        ping_with_invalid_length,
    ),
    // 6.8: GOAWAY
    Case::new(
        "http2/6.8/1",
        "6.8",
        "Sends a GOAWAY frame with a stream identifier other than 0x0",
        goaway_on_stream_1,
    ),
    // 6.9: WINDOW_UPDATE
    Case::new(
        "http2/6.9/1",
        "6.9",
        "Sends a WINDOW_UPDATE frame with a flow control window increment of 0",
        window_update_zero_on_connection,
    ),
    Case::new(
        "http2/6.9/2",
        "6.9",
        "Sends a WINDOW_UPDATE frame with a flow control window increment of 0 on a stream",
        window_update_zero_on_stream,
    ),
    Case::new(
        "http2/6.9/3",
        "6.9",
        "Sends a WINDOW_UPDATE frame with a length other than 4 octets",
        window_update_with_invalid_length,
    ),
    // 6.9.1: The Flow-Control Window
    Case::new(
        "http2/6.9.1/1",
        "6.9.1",
        "Sends SETTINGS frame to set the initial window size to 1 and sends HEADERS frame",
        initial_window_size_1,
    )
    .needs_body(1),
    Case::new(
        "http2/6.9.1/2",
        "6.9.1",
        "Sends multiple WINDOW_UPDATE frames increasing the flow control window to above 2^31-1",
        connection_window_overflow,
    ),
    Case::new(
        "http2/6.9.1/3",
        "6.9.1",
        "Sends multiple WINDOW_UPDATE frames increasing the flow control window to above 2^31-1 on a stream",
        stream_window_overflow,
    ),
    // 6.9.2: Initial Flow-Control Window Size
    Case::new(
        "http2/6.9.2/1",
        "6.9.2",
        "Changes SETTINGS_INITIAL_WINDOW_SIZE after sending HEADERS frame",
        initial_window_size_change,
    )
    .needs_body(1),
    Case::new(
        "http2/6.9.2/2",
        "6.9.2",
        "Sends a SETTINGS frame for window size to be negative",
        negative_window,
    )
    .needs_body(5),
    Case::new(
        "http2/6.9.2/3",
        "6.9.2",
        "Sends a SETTINGS_INITIAL_WINDOW_SIZE settings with an exceeded maximum window size value",
        initial_window_size_exceeding_maximum,
    ),
    // 6.10: CONTINUATION
    Case::new(
        "http2/6.10/1",
        "6.10",
        "Sends multiple CONTINUATION frames preceded by a HEADERS frame",
        multiple_continuation_frames,
    ),
    Case::new(
        "http2/6.10/2",
        "6.10",
        "Sends a CONTINUATION frame followed by any frame other than CONTINUATION",
        continuation_then_other_frame,
    ),
    Case::new(
        "http2/6.10/3",
        "6.10",
        "Sends a CONTINUATION frame with 0x0 stream identifier",
        continuation_on_stream_0,
    ),
    Case::new(
        "http2/6.10/4",
        "6.10",
        "Sends a CONTINUATION frame preceded by a HEADERS frame with END_HEADERS flag",
        continuation_after_end_headers,
    ),
    Case::new(
        "http2/6.10/5",
        "6.10",
        "Sends a CONTINUATION frame preceded by a CONTINUATION frame with END_HEADERS flag",
        continuation_after_continuation_end_headers,
    ),
    Case::new(
        "http2/6.10/6",
        "6.10",
        "Sends a CONTINUATION frame preceded by a DATA frame",
        continuation_after_data,
    ),
    // 7: Error Codes
    Case::new(
        "http2/7/1",
        "7",
        "Sends a GOAWAY frame with unknown error code",
        goaway_unknown_code,
    ),
    Case::new(
        "http2/7/2",
        "7",
        "Sends a RST_STREAM frame with unknown error code",
        rst_stream_unknown_code,
    ),
    // 8.1: HTTP Request/Response Exchange
    Case::new(
        "http2/8.1/1",
        "8.1",
        "Sends a second HEADERS frame without the END_STREAM flag",
        second_headers_without_end_stream,
    ),
    // 8.1.2: HTTP Header Fields
    Case::new(
        "http2/8.1.2/1",
        "8.2",
        "Sends a HEADERS frame that contains the header field name in uppercase letters",
        uppercase_field_name,
    ),
    // 8.1.2.1: Pseudo-Header Fields
    Case::new(
        "http2/8.1.2.1/1",
        "8.3",
        "Sends a HEADERS frame that contains a unknown pseudo-header field",
        unknown_pseudo_header,
    ),
    Case::new(
        "http2/8.1.2.1/2",
        "8.3",
        "Sends a HEADERS frame that contains the pseudo-header field defined for response",
        response_pseudo_header,
    ),
    Case::new(
        "http2/8.1.2.1/3",
        "8.3",
        "Sends a HEADERS frame that contains a pseudo-header field as trailers",
        pseudo_header_in_trailers,
    ),
    Case::new(
        "http2/8.1.2.1/4",
        "8.3",
        "Sends a HEADERS frame that contains a pseudo-header field that appears in a header block after a regular header field",
        pseudo_header_after_regular,
    ),
    // 8.1.2.2: Connection-Specific Header Fields
    Case::new(
        "http2/8.1.2.2/1",
        "8.2.2",
        "Sends a HEADERS frame that contains the connection-specific header field",
        connection_specific_field,
    ),
    Case::new(
        "http2/8.1.2.2/2",
        "8.2.2",
        "Sends a HEADERS frame that contains the TE header field with any value other than \"trailers\"",
        te_other_than_trailers,
    ),
    // 8.1.2.3: Request Pseudo-Header Fields
    Case::new(
        "http2/8.1.2.3/1",
        "8.3.1",
        "Sends a HEADERS frame with empty \":path\" pseudo-header field",
        empty_path,
    ),
    Case::new(
        "http2/8.1.2.3/2",
        "8.3.1",
        "Sends a HEADERS frame that omits \":method\" pseudo-header field",
        missing_method,
    ),
    Case::new(
        "http2/8.1.2.3/3",
        "8.3.1",
        "Sends a HEADERS frame that omits \":scheme\" pseudo-header field",
        missing_scheme,
    ),
    Case::new(
        "http2/8.1.2.3/4",
        "8.3.1",
        "Sends a HEADERS frame that omits \":path\" pseudo-header field",
        missing_path,
    ),
    Case::new(
        "http2/8.1.2.3/5",
        "8.3.1",
        "Sends a HEADERS frame with duplicated \":method\" pseudo-header field",
        duplicated_method,
    ),
    Case::new(
        "http2/8.1.2.3/6",
        "8.3.1",
        "Sends a HEADERS frame with duplicated \":scheme\" pseudo-header field",
        duplicated_scheme,
    ),
    Case::new(
        "http2/8.1.2.3/7",
        "8.3.1",
        "Sends a HEADERS frame with duplicated \":path\" pseudo-header field",
        duplicated_path,
    ),
    // 8.1.2.6: Malformed Requests and Responses
    Case::new(
        "http2/8.1.2.6/1",
        "8.1.1",
        "Sends a HEADERS frame with the \"content-length\" header field which does not equal the DATA frame payload length",
        data_exceeding_content_length,
    ),
    Case::new(
        "http2/8.1.2.6/2",
        "8.1.1",
        "Sends a HEADERS frame with the \"content-length\" header field which does not equal the sum of the multiple DATA frames payload length",
        multiple_data_exceeding_content_length,
    ),
    // 8.2: Server Push
    Case::new(
        "http2/8.2/1",
        "8.4",
        "Sends a PUSH_PROMISE frame",
        push_promise_from_client,
    ),
];

// ----- helpers -----

/// HEADERS options: END_STREAM as given, END_HEADERS clear.
fn open_block(end_stream: bool) -> HeadersOptions {
    HeadersOptions {
        end_stream,
        end_headers: false,
        ..HeadersOptions::default()
    }
}

/// Sends a HEADERS frame with END_HEADERS carrying `headers`.
fn send_headers(c: &mut dyn Client, stream: u32, headers: &[Header], end_stream: bool) {
    let block = c.factory().encode(headers);
    c.send(&F::headers(stream, &block, end_stream));
}

/// Sends the common GET request on `stream` (END_HEADERS set).
fn send_get(c: &mut dyn Client, stream: u32, end_stream: bool) {
    let block = c.get_request();
    c.send(&F::headers(stream, &block, end_stream));
}

/// Sends the common POST request on `stream` (END_HEADERS set).
fn send_post(c: &mut dyn Client, stream: u32, end_stream: bool) {
    let block = c.post_request();
    c.send(&F::headers(stream, &block, end_stream));
}

/// Sends the common GET fields with `extra` appended (END_STREAM,
/// END_HEADERS) and expects a stream error PROTOCOL_ERROR: the 8.1.2.x
/// malformed-request cases.
fn get_with_fields_is_malformed(c: &mut dyn Client, extra: &[Header]) -> CaseResult {
    let mut headers = c.get_headers();
    headers.extend_from_slice(extra);
    send_headers(c, 1, &headers, true);
    c.expect_stream_error(PROTOCOL_ERROR)
}

/// Sends `headers` (END_STREAM, END_HEADERS) and expects a stream error
/// PROTOCOL_ERROR.
fn fields_are_malformed(c: &mut dyn Client, headers: &[Header]) -> CaseResult {
    send_headers(c, 1, headers, true);
    c.expect_stream_error(PROTOCOL_ERROR)
}

// ----- 3.5, 4.x -----

fn client_preface(c: &mut dyn Client) -> CaseResult {
    c.send(&F::preface());
    c.send(&F::settings_initial_window(65_535));
    c.expect(Expect::FirstFrameSettings)
}

fn invalid_preface(c: &mut dyn Client) -> CaseResult {
    c.send(b"INVALID CONNECTION PREFACE\r\n\r\n");
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn unknown_type(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(0x16, 0, 0, &[0; 8]));
    c.send(&F::ping(PING_ZERO, false));
    c.expect(Expect::PingAck(PING_ZERO))
}

fn undefined_flag(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(kind::PING, 0x16, 0, &[0; 8]));
    c.expect(Expect::AnyPing)
}

fn reserved_bit(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(kind::PING, 0x16, 0x8000_0000, &[0; 8]));
    c.expect(Expect::AnyPing)
}

fn data_of_max_frame_size(c: &mut dyn Client) -> CaseResult {
    let max = c.max_frame_size() as usize;
    send_post(c, 1, false);
    c.send(&F::data(1, &vec![b'x'; max], true, None));
    c.expect(Expect::ResponseHeaders(1))
}

fn data_over_max_frame_size(c: &mut dyn Client) -> CaseResult {
    let max = c.max_frame_size() as usize;
    send_post(c, 1, false);
    c.send(&F::data(1, &vec![b'x'; max + 1], true, None));
    c.expect_stream_error(FRAME_SIZE_ERROR)
}

fn headers_over_max_frame_size(c: &mut dyn Client) -> CaseResult {
    let mut headers = c.get_headers();
    headers.extend(c.factory().dummy_headers(5));
    let block = c.factory().encode(&headers);
    let max = c.max_frame_size() as usize;
    if block.len() <= max {
        return Err(format!(
            "the block is {} octets, not above SETTINGS_MAX_FRAME_SIZE {max}: \
             raise the dummy header length",
            block.len()
        )
        .into());
    }
    c.send(&F::headers(1, &block, true));
    c.expect_conn_error(FRAME_SIZE_ERROR)
}

fn invalid_block(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(
        kind::HEADERS,
        flags::END_STREAM | flags::END_HEADERS,
        1,
        &[0x40],
    ));
    c.expect_conn_error(ErrorCode::COMPRESSION_ERROR)
}

fn priority_inside_header_block(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    c.send(&F::headers_with(1, &block, open_block(false)));
    c.send(&F::priority(1, PriorityFields::new(0, 255)));
    let dummy = c.factory().dummy_block(1);
    c.send(&F::continuation(1, &dummy, true));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn headers_to_another_stream_inside_block(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    c.send(&F::headers_with(1, &block, open_block(false)));
    send_get(c, 3, true);
    let dummy = c.factory().dummy_block(1);
    c.send(&F::continuation(1, &dummy, true));
    c.expect_conn_error(PROTOCOL_ERROR)
}

// ----- 5.1: stream states -----

fn idle_data(c: &mut dyn Client) -> CaseResult {
    c.send(&F::data(1, b"test", true, None));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn idle_rst_stream(c: &mut dyn Client) -> CaseResult {
    c.send(&F::rst_stream(1, ErrorCode::CANCEL));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn idle_window_update(c: &mut dyn Client) -> CaseResult {
    c.send(&F::window_update(1, 100));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn idle_continuation(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    c.send(&F::continuation(1, &block, true));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn half_closed_data(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1, true);
    c.send(&F::data(1, b"test", true, None));
    c.expect_stream_error(STREAM_CLOSED)
}

fn half_closed_headers(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1, true);
    send_get(c, 1, true);
    c.expect_stream_error(STREAM_CLOSED)
}

fn half_closed_continuation(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    c.send(&F::headers(1, &block, true));
    c.send(&F::continuation(1, &block, true));
    c.expect(Expect::StreamError(vec![STREAM_CLOSED, PROTOCOL_ERROR]))
}

fn data_after_rst_stream(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1, false);
    c.send(&F::rst_stream(1, ErrorCode::CANCEL));
    c.send(&F::data(1, b"test", true, None));
    c.expect_stream_error(STREAM_CLOSED)
}

fn headers_after_rst_stream(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1, false);
    c.send(&F::rst_stream(1, ErrorCode::CANCEL));
    send_get(c, 1, true);
    c.expect_stream_error(STREAM_CLOSED)
}

fn continuation_after_rst_stream(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1, false);
    c.send(&F::rst_stream(1, ErrorCode::CANCEL));
    let dummy = c.factory().dummy_block(1);
    c.send(&F::continuation(1, &dummy, true));
    c.expect(Expect::StreamError(vec![STREAM_CLOSED, PROTOCOL_ERROR]))
}

fn closed_data(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1, true);
    c.expect(Expect::StreamEnd)?;
    c.send(&F::data(1, b"test", true, None));
    c.expect_stream_error(STREAM_CLOSED)
}

fn closed_headers(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    let frame = F::headers(1, &block, true);
    c.send(&frame);
    c.expect(Expect::StreamEnd)?;
    c.send(&frame);
    c.expect_conn_error(STREAM_CLOSED)
}

fn closed_continuation(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1, true);
    c.expect(Expect::StreamEnd)?;
    let dummy = c.factory().dummy_block(1);
    c.send(&F::continuation(1, &dummy, true));
    c.expect(Expect::ConnectionError(vec![STREAM_CLOSED, PROTOCOL_ERROR]))
}

// ----- 5.1.1, 5.1.2 -----

fn even_stream_id(c: &mut dyn Client) -> CaseResult {
    send_get(c, 2, true);
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn smaller_stream_id(c: &mut dyn Client) -> CaseResult {
    send_get(c, 5, true);
    send_get(c, 3, true);
    c.expect_conn_error(PROTOCOL_ERROR)
}

/// A zero window holds every response body back, so the earlier streams stay
/// open; that needs requests answered with a body, hence the body request.
fn exceeding_max_concurrent_streams(c: &mut dyn Client) -> CaseResult {
    let Some(max) = c.server_settings().max_concurrent_streams else {
        return Err(CaseError::Skip(
            "the server did not advertise SETTINGS_MAX_CONCURRENT_STREAMS".to_owned(),
        ));
    };
    c.send(&F::settings_initial_window(0));
    for i in 0..=max {
        c.send_body_request(1 + 2 * i);
    }
    c.expect(Expect::StreamError(vec![
        PROTOCOL_ERROR,
        ErrorCode::REFUSED_STREAM,
    ]))
}

// ----- 5.3.1, 5.4.1, 5.5 -----

fn headers_depending_on_itself(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    let opts = HeadersOptions {
        end_stream: true,
        end_headers: true,
        pad_len: None,
        priority: Some(PriorityFields::new(1, 255)),
    };
    c.send(&F::headers_with(1, &block, opts));
    c.expect_stream_error(PROTOCOL_ERROR)
}

fn priority_depending_on_itself(c: &mut dyn Client) -> CaseResult {
    c.send(&F::priority(1, PriorityFields::new(1, 255)));
    c.expect_stream_error(PROTOCOL_ERROR)
}

fn closed_after_connection_error(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(kind::PING, 0, 3, &[0; 8]));
    c.expect(Expect::Close)
}

fn goaway_on_connection_error(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(kind::PING, 0, 3, &[0; 8]));
    c.expect(Expect::AnyGoAway)
}

fn unknown_extension_frame(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(0x16, 0, 0, &[0; 8]));
    c.send(&F::ping(PING_ZERO, false));
    c.expect(Expect::PingAck(PING_ZERO))
}

fn unknown_frame_inside_header_block(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    c.send(&F::headers_with(1, &block, open_block(true)));
    c.send(&F::raw(0x16, 0, 0, &[0; 8]));
    c.expect_conn_error(PROTOCOL_ERROR)
}

// ----- 6.1: DATA -----

fn data_on_stream_0(c: &mut dyn Client) -> CaseResult {
    c.send(&F::data(0, b"test", true, None));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn data_on_stream_not_open(c: &mut dyn Client) -> CaseResult {
    send_post(c, 1, true);
    c.send(&F::data(1, b"test", true, None));
    c.expect_stream_error(STREAM_CLOSED)
}

fn data_with_invalid_pad_length(c: &mut dyn Client) -> CaseResult {
    let mut headers = c.post_headers();
    headers.push(Header::new("content-length", "4"));
    send_headers(c, 1, &headers, false);
    c.send(&F::raw(
        kind::DATA,
        flags::PADDED | flags::END_STREAM,
        1,
        b"\x06Test",
    ));
    c.expect_conn_error(PROTOCOL_ERROR)
}

// ----- 6.2: HEADERS -----

fn headers_then_priority(c: &mut dyn Client) -> CaseResult {
    priority_inside_header_block(c)
}

fn headers_to_another_stream(c: &mut dyn Client) -> CaseResult {
    headers_to_another_stream_inside_block(c)
}

fn headers_on_stream_0(c: &mut dyn Client) -> CaseResult {
    send_get(c, 0, true);
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn headers_with_invalid_pad_length(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    let mut payload = vec![(block.len() + 2) as u8];
    payload.extend_from_slice(&block);
    c.send(&F::raw(
        kind::HEADERS,
        flags::END_STREAM | flags::END_HEADERS | flags::PADDED,
        1,
        &payload,
    ));
    c.expect_stream_error(PROTOCOL_ERROR)
}

// ----- 6.3, 6.4: PRIORITY, RST_STREAM -----

fn priority_on_stream_0(c: &mut dyn Client) -> CaseResult {
    c.send(&F::priority(0, PriorityFields::new(0, 255)));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn priority_with_invalid_length(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1, true);
    c.send(&F::raw(kind::PRIORITY, 0, 1, b"\x80\x00\x00\x01"));
    c.expect_stream_error(FRAME_SIZE_ERROR)
}

fn rst_stream_on_stream_0(c: &mut dyn Client) -> CaseResult {
    c.send(&F::rst_stream(0, ErrorCode::CANCEL));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn rst_stream_on_idle_stream(c: &mut dyn Client) -> CaseResult {
    c.send(&F::rst_stream(1, ErrorCode::CANCEL));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn rst_stream_with_invalid_length(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1, true);
    c.send(&F::raw(kind::RST_STREAM, 0, 1, &[0, 0, 0]));
    c.expect_stream_error(FRAME_SIZE_ERROR)
}

// ----- 6.5: SETTINGS -----

fn settings_ack_with_payload(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(kind::SETTINGS, flags::ACK, 0, &[0]));
    c.expect_conn_error(FRAME_SIZE_ERROR)
}

fn settings_on_stream_1(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(kind::SETTINGS, 0, 1, &[0, 3, 0, 0, 0, 0x64]));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn settings_with_invalid_length(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(kind::SETTINGS, 0, 0, &[0, 3, 0]));
    c.expect(Expect::StreamError(vec![PROTOCOL_ERROR, FRAME_SIZE_ERROR]))
}

fn enable_push_invalid(c: &mut dyn Client) -> CaseResult {
    c.send(&F::settings(&[(setting_id::ENABLE_PUSH, 2)]));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn initial_window_size_above_maximum(c: &mut dyn Client) -> CaseResult {
    c.send(&F::settings_initial_window(1 << 31));
    c.expect_conn_error(FLOW_CONTROL_ERROR)
}

fn max_frame_size_below_initial(c: &mut dyn Client) -> CaseResult {
    c.send(&F::settings(&[(setting_id::MAX_FRAME_SIZE, 16_383)]));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn max_frame_size_above_maximum(c: &mut dyn Client) -> CaseResult {
    c.send(&F::settings(&[(setting_id::MAX_FRAME_SIZE, 16_777_216)]));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn unknown_setting(c: &mut dyn Client) -> CaseResult {
    c.send(&F::settings(&[(0xff, 1)]));
    c.send(&F::ping(PING_ZERO, false));
    c.expect(Expect::PingAck(PING_ZERO))
}

fn multiple_values_of_a_setting(c: &mut dyn Client) -> CaseResult {
    c.send(&F::settings(&[
        (setting_id::INITIAL_WINDOW_SIZE, 100),
        (setting_id::INITIAL_WINDOW_SIZE, 1),
    ]));
    c.expect(Expect::SettingsAck)?;
    c.send_body_request(1);
    c.expect(Expect::DataLen(1))
}

fn settings_acknowledged(c: &mut dyn Client) -> CaseResult {
    c.send(&F::settings(&[(setting_id::ENABLE_PUSH, 0)]));
    c.expect(Expect::SettingsAck)
}

// ----- 6.7, 6.8: PING, GOAWAY -----

fn ping_frame(c: &mut dyn Client) -> CaseResult {
    c.send(&F::ping(*b"h2spec\0\0", false));
    c.expect(Expect::PingAck(*b"h2spec\0\0"))
}

fn ping_ack_not_answered(c: &mut dyn Client) -> CaseResult {
    c.send(&F::ping(*b"invalid\0", true));
    c.send(&F::ping(*b"h2spec\0\0", false));
    c.expect(Expect::PingAck(*b"h2spec\0\0"))
}

fn ping_on_stream_1(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(kind::PING, 0, 1, &[0; 8]));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn ping_with_invalid_length(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(kind::PING, 0, 0, &[0; 6]));
    c.expect_conn_error(FRAME_SIZE_ERROR)
}

fn goaway_on_stream_1(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(kind::GOAWAY, 0, 1, &[0; 8]));
    c.expect_conn_error(PROTOCOL_ERROR)
}

// ----- 6.9: WINDOW_UPDATE -----

fn window_update_zero_on_connection(c: &mut dyn Client) -> CaseResult {
    c.send(&F::window_update(0, 0));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn window_update_zero_on_stream(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1, false);
    c.send(&F::window_update(1, 0));
    c.expect_stream_error(PROTOCOL_ERROR)
}

fn window_update_with_invalid_length(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 1]));
    c.expect_conn_error(FRAME_SIZE_ERROR)
}

fn initial_window_size_1(c: &mut dyn Client) -> CaseResult {
    c.send(&F::settings_initial_window(1));
    c.expect(Expect::SettingsAck)?;
    c.send_body_request(1);
    c.expect(Expect::DataLen(1))
}

fn connection_window_overflow(c: &mut dyn Client) -> CaseResult {
    c.send(&F::window_update(0, 0x7fff_ffff));
    c.send(&F::window_update(0, 0x7fff_ffff));
    c.expect(Expect::GoAway(FLOW_CONTROL_ERROR))
}

fn stream_window_overflow(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1, false);
    c.send(&F::window_update(1, 0x7fff_ffff));
    c.send(&F::window_update(1, 0x7fff_ffff));
    c.expect(Expect::RstStream(1, FLOW_CONTROL_ERROR))
}

fn initial_window_size_change(c: &mut dyn Client) -> CaseResult {
    c.send(&F::settings_initial_window(0));
    c.expect(Expect::AnySettings)?;
    c.send_body_request(1);
    c.send(&F::settings_initial_window(1));
    c.expect(Expect::AnySettings)?;
    c.expect(Expect::DataLen(1))
}

fn negative_window(c: &mut dyn Client) -> CaseResult {
    c.send(&F::settings_initial_window(3));
    c.expect(Expect::AnySettings)?;
    c.send_body_request(1);
    c.expect(Expect::AnyData)?;
    c.send(&F::settings_initial_window(2));
    c.expect(Expect::AnySettings)?;
    c.send(&F::window_update(1, 2));
    c.expect(Expect::DataLen(1))
}

fn initial_window_size_exceeding_maximum(c: &mut dyn Client) -> CaseResult {
    c.send(&F::raw(kind::SETTINGS, 0, 0, &[0, 4, 0x80, 0, 0, 0]));
    c.expect_conn_error(FLOW_CONTROL_ERROR)
}

// ----- 6.10: CONTINUATION -----

fn multiple_continuation_frames(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    c.send(&F::headers_with(1, &block, open_block(true)));
    let dummy = c.factory().dummy_block(1);
    c.send(&F::continuation(1, &dummy, false));
    let dummy = c.factory().dummy_block(1);
    c.send(&F::continuation(1, &dummy, true));
    c.expect(Expect::ResponseHeaders(1))
}

fn continuation_then_other_frame(c: &mut dyn Client) -> CaseResult {
    let block = c.post_request();
    c.send(&F::headers_with(1, &block, open_block(false)));
    let dummy = c.factory().dummy_block(1);
    c.send(&F::continuation(1, &dummy, false));
    c.send(&F::data(1, b"test", true, None));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn continuation_on_stream_0(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    c.send(&F::headers_with(1, &block, open_block(true)));
    let dummy = c.factory().dummy_block(1);
    c.send(&F::continuation(0, &dummy, true));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn continuation_after_end_headers(c: &mut dyn Client) -> CaseResult {
    send_get(c, 1, true);
    let dummy = c.factory().dummy_block(1);
    c.send(&F::continuation(1, &dummy, true));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn continuation_after_continuation_end_headers(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    c.send(&F::headers_with(1, &block, open_block(true)));
    let dummy = c.factory().dummy_block(1);
    c.send(&F::continuation(1, &dummy, true));
    let dummy = c.factory().dummy_block(1);
    c.send(&F::continuation(1, &dummy, true));
    c.expect_conn_error(PROTOCOL_ERROR)
}

fn continuation_after_data(c: &mut dyn Client) -> CaseResult {
    let block = c.post_request();
    c.send(&F::headers_with(1, &block, open_block(false)));
    c.send(&F::data(1, b"test", true, None));
    let dummy = c.factory().dummy_block(1);
    c.send(&F::continuation(1, &dummy, false));
    let dummy = c.factory().dummy_block(1);
    c.send(&F::continuation(0, &dummy, true));
    c.expect_conn_error(PROTOCOL_ERROR)
}

// ----- 7: error codes -----

fn goaway_unknown_code(c: &mut dyn Client) -> CaseResult {
    c.send(&F::goaway(0, ErrorCode(0xff), b""));
    c.send(&F::ping(PING_ZERO, false));
    c.expect(Expect::PingAckOrClose(PING_ZERO))
}

fn rst_stream_unknown_code(c: &mut dyn Client) -> CaseResult {
    send_post(c, 1, false);
    c.send(&F::rst_stream(1, ErrorCode(0xff)));
    c.send(&F::ping(PING_ZERO, false));
    c.expect(Expect::PingAck(PING_ZERO))
}

// ----- 8.1.x: HTTP semantics -----

fn second_headers_without_end_stream(c: &mut dyn Client) -> CaseResult {
    send_post(c, 1, false);
    c.send(&F::data(1, b"test", false, None));
    send_headers(c, 1, &[Header::new("x-test", "ok")], false);
    c.expect_stream_error(PROTOCOL_ERROR)
}

fn uppercase_field_name(c: &mut dyn Client) -> CaseResult {
    get_with_fields_is_malformed(c, &[Header::new("X-TEST", "ok")])
}

fn unknown_pseudo_header(c: &mut dyn Client) -> CaseResult {
    get_with_fields_is_malformed(c, &[Header::new(":test", "ok")])
}

fn response_pseudo_header(c: &mut dyn Client) -> CaseResult {
    get_with_fields_is_malformed(c, &[Header::new(":status", "200")])
}

fn pseudo_header_in_trailers(c: &mut dyn Client) -> CaseResult {
    send_post(c, 1, false);
    c.send(&F::data(1, b"test", false, None));
    send_headers(c, 1, &[Header::new(":method", "POST")], false);
    c.expect_stream_error(PROTOCOL_ERROR)
}

fn pseudo_header_after_regular(c: &mut dyn Client) -> CaseResult {
    let mut headers = vec![Header::new("x-test", "ok")];
    headers.extend(c.get_headers());
    fields_are_malformed(c, &headers)
}

fn connection_specific_field(c: &mut dyn Client) -> CaseResult {
    get_with_fields_is_malformed(c, &[Header::new("connection", "keep-alive")])
}

fn te_other_than_trailers(c: &mut dyn Client) -> CaseResult {
    get_with_fields_is_malformed(
        c,
        &[
            Header::new("trailers", "test"),
            Header::new("te", "trailers, deflate"),
        ],
    )
}

fn empty_path(c: &mut dyn Client) -> CaseResult {
    let mut headers = c.get_headers();
    headers[2] = Header::new(":path", "");
    fields_are_malformed(c, &headers)
}

/// h2spec's block also lacks `:scheme`: it keeps `:path` and `:authority`.
fn missing_method(c: &mut dyn Client) -> CaseResult {
    let headers = c.get_headers();
    fields_are_malformed(c, &headers[2..])
}

fn missing_scheme(c: &mut dyn Client) -> CaseResult {
    let mut headers = c.get_headers();
    headers.remove(1);
    fields_are_malformed(c, &headers)
}

fn missing_path(c: &mut dyn Client) -> CaseResult {
    let mut headers = c.get_headers();
    headers.remove(2);
    fields_are_malformed(c, &headers)
}

fn duplicated_method(c: &mut dyn Client) -> CaseResult {
    let method = c.get_headers()[0].value.clone();
    get_with_fields_is_malformed(c, &[Header::new(":method", method)])
}

fn duplicated_scheme(c: &mut dyn Client) -> CaseResult {
    get_with_fields_is_malformed(c, &[Header::new(":scheme", "http")])
}

fn duplicated_path(c: &mut dyn Client) -> CaseResult {
    let path = c.factory().path.clone();
    get_with_fields_is_malformed(c, &[Header::new(":path", path)])
}

fn data_exceeding_content_length(c: &mut dyn Client) -> CaseResult {
    let mut headers = c.post_headers();
    headers.push(Header::new("content-length", "1"));
    send_headers(c, 1, &headers, false);
    c.send(&F::data(1, b"test", true, None));
    c.expect_stream_error(PROTOCOL_ERROR)
}

fn multiple_data_exceeding_content_length(c: &mut dyn Client) -> CaseResult {
    let mut headers = c.post_headers();
    headers.push(Header::new("content-length", "1"));
    send_headers(c, 1, &headers, false);
    c.send(&F::data(1, b"test", false, None));
    c.send(&F::data(1, b"test", true, None));
    c.expect_stream_error(PROTOCOL_ERROR)
}

fn push_promise_from_client(c: &mut dyn Client) -> CaseResult {
    let block = c.get_request();
    c.send(&F::push_promise(1, 3, &block, true));
    c.expect_conn_error(PROTOCOL_ERROR)
}
