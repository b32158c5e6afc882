//! h2spec 2.6.0 `generic` group (44 cases): behaviour every working HTTP/2
//! server must accept (RFC 9113, RFC 7541). One test per case, named after the
//! case id; each sends what the case sends and asserts h2spec's verdict.

use grpc_sansio::h2::frame::setting_id;
use grpc_sansio::h2::ErrorCode;
use grpc_sansio::hpack::Header;
use spec_tests::factory::{FrameFactory as F, HeadersOptions, PriorityFields};
use spec_tests::server::TestServer;

const PING_ZERO: [u8; 8] = [0; 8];

// ----- generic/1: Starting HTTP/2 -----

/// generic/1/1 — RFC 9113 §3.4: the server's connection preface is a SETTINGS
/// frame, which must be the first frame it sends.
#[test]
fn generic_1_1_sends_client_preface() {
    let mut s = TestServer::without_handshake();
    s.send(&F::preface());
    s.send(&F::settings_initial_window(65_535));
    s.expect_first_frame_settings().unwrap();
}

// ----- generic/2: Streams and Multiplexing -----

/// generic/2/1 — RFC 9113 §5.1 (idle): PRIORITY is allowed on an idle stream.
#[test]
fn generic_2_1_priority_on_idle_stream() {
    let mut s = TestServer::new();
    s.send(&F::priority(1, PriorityFields::new(0, 255)));
    s.send(&F::ping(PING_ZERO, false));
    s.expect_ping_ack(PING_ZERO).unwrap();
}

/// generic/2/2 — RFC 9113 §5.1 (half-closed (remote)): WINDOW_UPDATE is
/// accepted, and lets the held-back response body flow.
#[test]
fn generic_2_2_window_update_on_half_closed_remote_stream() {
    let mut s = TestServer::new();
    s.send(&F::settings_initial_window(0));
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, true));
    s.send(&F::window_update(1, 1));
    s.expect_data().unwrap();
}

/// generic/2/3 — RFC 9113 §5.1 (half-closed (remote)): PRIORITY is accepted.
#[test]
fn generic_2_3_priority_on_half_closed_remote_stream() {
    let mut s = TestServer::new();
    s.send(&F::settings_initial_window(0));
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, true));
    s.send(&F::priority(1, PriorityFields::new(0, 255)));
    s.send(&F::window_update(1, 1));
    s.expect_data().unwrap();
}

/// generic/2/4 — RFC 9113 §5.1 (half-closed (remote)): RST_STREAM is accepted
/// and is no connection error.
#[test]
fn generic_2_4_rst_stream_on_half_closed_remote_stream() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, true));
    s.send(&F::rst_stream(1, ErrorCode::CANCEL));
    s.send(&F::ping(PING_ZERO, false));
    s.expect_ping_ack(PING_ZERO).unwrap();
}

/// generic/2/5 — RFC 9113 §5.1 (closed), §6.3: PRIORITY is accepted on a
/// closed stream.
#[test]
fn generic_2_5_priority_on_closed_stream() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, true));
    s.wait_stream_end().unwrap();
    s.send(&F::priority(1, PriorityFields::new(0, 255)));
    s.send(&F::ping(PING_ZERO, false));
    s.expect_ping_ack(PING_ZERO).unwrap();
}

// ----- generic/3.1: DATA -----

/// generic/3.1/1 — RFC 9113 §6.1: a DATA frame carries the request body.
#[test]
fn generic_3_1_1_data_frame() {
    let mut s = TestServer::new();
    let block = s.factory.post_request();
    s.send(&F::headers(1, &block, false));
    s.send(&F::data(1, b"test", true, None));
    s.expect_response_headers(1).unwrap();
}

/// generic/3.1/2 — RFC 9113 §6.1: a body may span several DATA frames.
#[test]
fn generic_3_1_2_multiple_data_frames() {
    let mut s = TestServer::new();
    let block = s.factory.post_request();
    s.send(&F::headers(1, &block, false));
    s.send(&F::data(1, b"test", false, None));
    s.send(&F::data(1, b"test", true, None));
    s.expect_response_headers(1).unwrap();
}

/// generic/3.1/3 — RFC 9113 §6.1: DATA may be padded.
#[test]
fn generic_3_1_3_data_frame_with_padding() {
    let mut s = TestServer::new();
    let block = s.factory.post_request();
    s.send(&F::headers(1, &block, false));
    s.send(&F::data(1, b"test", true, Some(5)));
    s.expect_response_headers(1).unwrap();
}

// ----- generic/3.2: HEADERS -----

/// generic/3.2/1 — RFC 9113 §6.2: a HEADERS frame opens a stream.
#[test]
fn generic_3_2_1_headers_frame() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, true));
    s.expect_response_headers(1).unwrap();
}

/// generic/3.2/2 — RFC 9113 §6.2: HEADERS may be padded.
#[test]
fn generic_3_2_2_headers_frame_with_padding() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    let opts = HeadersOptions {
        end_stream: true,
        end_headers: true,
        pad_len: Some(8),
        priority: None,
    };
    s.send(&F::headers_with(1, &block, opts));
    s.expect_response_headers(1).unwrap();
}

/// generic/3.2/3 — RFC 9113 §6.2: the priority fields of HEADERS are still
/// parsed (and may be ignored).
#[test]
fn generic_3_2_3_headers_frame_with_priority() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    let opts = HeadersOptions {
        end_stream: true,
        end_headers: true,
        pad_len: None,
        priority: Some(PriorityFields::new(0, 255)),
    };
    s.send(&F::headers_with(1, &block, opts));
    s.expect_response_headers(1).unwrap();
}

// ----- generic/3.3: PRIORITY -----

/// generic/3.3/1 — RFC 9113 §6.3: PRIORITY with weight field 0 (priority 1).
#[test]
fn generic_3_3_1_priority_frame_with_priority_1() {
    let mut s = TestServer::new();
    s.send(&F::priority(1, PriorityFields::new(0, 0)));
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, true));
    s.expect_response_headers(1).unwrap();
}

/// generic/3.3/2 — RFC 9113 §6.3: PRIORITY with weight field 255 (priority 256).
#[test]
fn generic_3_3_2_priority_frame_with_priority_256() {
    let mut s = TestServer::new();
    s.send(&F::priority(1, PriorityFields::new(0, 255)));
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, true));
    s.expect_response_headers(1).unwrap();
}

/// generic/3.3/3 — RFC 9113 §6.3: PRIORITY with a stream dependency.
#[test]
fn generic_3_3_3_priority_frame_with_stream_dependency() {
    let mut s = TestServer::new();
    s.send(&F::priority(3, PriorityFields::new(1, 0)));
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, true));
    s.expect_response_headers(1).unwrap();
}

/// generic/3.3/4 — RFC 9113 §6.3: PRIORITY with the exclusive bit.
#[test]
fn generic_3_3_4_priority_frame_with_exclusive() {
    let mut s = TestServer::new();
    let fields = PriorityFields {
        dependency: 0,
        exclusive: true,
        weight: 0,
    };
    s.send(&F::priority(1, fields));
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, true));
    s.expect_response_headers(1).unwrap();
}

/// generic/3.3/5 — RFC 9113 §6.3: PRIORITY affects no stream state, so a
/// PRIORITY on idle stream 3 does not close the lower stream 1.
#[test]
fn generic_3_3_5_priority_on_idle_stream_then_headers_on_lower_stream() {
    let mut s = TestServer::new();
    s.send(&F::priority(3, PriorityFields::new(0, 255)));
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, true));
    s.expect_response_headers(1).unwrap();
}

// ----- generic/3.4: RST_STREAM -----

/// generic/3.4/1 — RFC 9113 §6.4: RST_STREAM on an open stream is accepted.
#[test]
fn generic_3_4_1_rst_stream_frame() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, false));
    s.send(&F::rst_stream(1, ErrorCode::CANCEL));
    s.send(&F::ping(PING_ZERO, false));
    s.expect_ping_ack(PING_ZERO).unwrap();
}

// ----- generic/3.5: SETTINGS -----

/// generic/3.5/1 — RFC 9113 §6.5, §6.5.2: every defined setting with a legal
/// value (ENABLE_PUSH=1 is legal from a client) is acknowledged.
#[test]
fn generic_3_5_1_settings_frame() {
    let mut s = TestServer::new();
    s.send(&F::settings(&[
        (setting_id::HEADER_TABLE_SIZE, 4096),
        (setting_id::ENABLE_PUSH, 1),
        (setting_id::MAX_CONCURRENT_STREAMS, 100),
        (setting_id::INITIAL_WINDOW_SIZE, 65_535),
        (setting_id::MAX_FRAME_SIZE, 16_384),
        (setting_id::MAX_HEADER_LIST_SIZE, 100),
    ]));
    s.expect_settings_ack().unwrap();
}

// ----- generic/3.7: PING -----

/// generic/3.7/1 — RFC 9113 §6.7: a PING is answered with an ACK echoing it.
#[test]
fn generic_3_7_1_ping_frame() {
    let mut s = TestServer::new();
    s.send(&F::ping(*b"h2spec\0\0", false));
    s.expect_ping_ack(*b"h2spec\0\0").unwrap();
}

// ----- generic/3.8: GOAWAY -----

/// generic/3.8/1 — RFC 9113 §6.8: a GOAWAY from the client is accepted; the
/// server answers a later PING or closes the connection.
#[test]
fn generic_3_8_1_goaway_frame() {
    let mut s = TestServer::new();
    s.send(&F::goaway(0, ErrorCode::NO_ERROR, b"h2spec"));
    s.send(&F::ping(PING_ZERO, false));
    s.expect_ping_ack_or_close(PING_ZERO).unwrap();
}

// ----- generic/3.9: WINDOW_UPDATE -----

/// generic/3.9/1 — RFC 9113 §6.9: WINDOW_UPDATE on the connection.
#[test]
fn generic_3_9_1_window_update_frame_on_connection() {
    let mut s = TestServer::new();
    s.send(&F::window_update(0, 1));
    s.send(&F::ping(PING_ZERO, false));
    s.expect_ping_ack(PING_ZERO).unwrap();
}

/// generic/3.9/2 — RFC 9113 §6.9: WINDOW_UPDATE on a stream.
#[test]
fn generic_3_9_2_window_update_frame_on_stream() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, true));
    s.send(&F::window_update(1, 1));
    s.expect_response_headers(1).unwrap();
}

// ----- generic/3.10: CONTINUATION -----

/// generic/3.10/1 — RFC 9113 §6.10, §4.3: a header block split in the middle of
/// a representation over HEADERS and CONTINUATION.
#[test]
fn generic_3_10_1_continuation_frame() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    let opts = HeadersOptions {
        end_stream: true,
        end_headers: false,
        ..HeadersOptions::default()
    };
    s.send(&F::headers_with(1, &block[..5], opts));
    s.send(&F::continuation(1, &block[5..], true));
    s.expect_response_headers(1).unwrap();
}

/// generic/3.10/2 — RFC 9113 §6.10: a header block over HEADERS and two
/// CONTINUATION frames.
#[test]
fn generic_3_10_2_multiple_continuation_frames() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    assert!(
        block.len() > 10,
        "the request block is {} octets",
        block.len()
    );
    let opts = HeadersOptions {
        end_stream: true,
        end_headers: false,
        ..HeadersOptions::default()
    };
    s.send(&F::headers_with(1, &block[..5], opts));
    s.send(&F::continuation(1, &block[5..10], false));
    s.send(&F::continuation(1, &block[10..], true));
    s.expect_response_headers(1).unwrap();
}

// ----- generic/4: HTTP Message Exchanges -----

/// generic/4/1 — RFC 9113 §8.1: a GET request gets a response.
#[test]
fn generic_4_1_get_request() {
    let mut s = TestServer::new();
    let block = s.factory.get_request();
    s.send(&F::headers(1, &block, true));
    s.expect_response_headers(1).unwrap();
}

/// generic/4/2 — RFC 9113 §8.1: a HEAD request gets a response.
#[test]
fn generic_4_2_head_request() {
    let mut s = TestServer::new();
    let headers = s.factory.request_headers("HEAD");
    let block = s.factory.encode(&headers);
    s.send(&F::headers(1, &block, true));
    s.expect_response_headers(1).unwrap();
}

/// generic/4/3 — RFC 9113 §8.1: a POST request with a body gets a response.
#[test]
fn generic_4_3_post_request() {
    let mut s = TestServer::new();
    let block = s.factory.post_request();
    s.send(&F::headers(1, &block, false));
    s.send(&F::data(1, b"test", true, None));
    s.expect_response_headers(1).unwrap();
}

/// generic/4/4 — RFC 9113 §8.1: a POST request with trailers gets a response.
#[test]
fn generic_4_4_post_request_with_trailers() {
    let mut s = TestServer::new();
    let mut headers = s.factory.post_headers();
    headers.push(Header::new("trailer", "x-test"));
    let block = s.factory.encode(&headers);
    s.send(&F::headers(1, &block, false));
    s.send(&F::data(1, b"test", false, None));
    let trailers = s.factory.encode(&[Header::new("x-test", "ok")]);
    s.send(&F::headers(1, &trailers, true));
    s.expect_response_headers(1).unwrap();
}

// ----- generic/5: HPACK -----

/// Sends the common GET block with `rep` appended, in one HEADERS frame with
/// END_STREAM and END_HEADERS.
fn get_with_appended(s: &mut TestServer, rep: &[u8]) {
    let mut block = s.factory.get_request();
    block.extend_from_slice(rep);
    s.send(&F::headers(1, &block, true));
}

/// generic/5/1 — RFC 7541 §6.1: an indexed header field (static 58, `user-agent`).
#[test]
fn generic_5_1_indexed_header_field() {
    let mut s = TestServer::new();
    get_with_appended(&mut s, b"\xba");
    s.expect_response_headers(1).unwrap();
}

/// generic/5/2 — RFC 7541 §6.2.1: literal with incremental indexing, new
/// name, Huffman-coded (`user-agent: h2spec`).
#[test]
fn generic_5_2_literal_incremental_indexing_huffman() {
    let mut s = TestServer::new();
    get_with_appended(
        &mut s,
        b"\x40\x87\xb5\x05\xb1\x61\xcc\x5a\x93\x84\x9c\x48\xac\xa4",
    );
    s.expect_response_headers(1).unwrap();
}

/// generic/5/3 — RFC 7541 §6.2.1: literal with incremental indexing, new
/// name, plain strings (`user-agent: h2spec`).
#[test]
fn generic_5_3_literal_incremental_indexing_plain() {
    let mut s = TestServer::new();
    get_with_appended(
        &mut s,
        b"\x40\x0a\x75\x73\x65\x72\x2d\x61\x67\x65\x6e\x74\x06\x68\x32\x73\x70\x65\x63",
    );
    s.expect_response_headers(1).unwrap();
}

/// generic/5/4 — RFC 7541 §6.2.1: literal with incremental indexing, new
/// name, plain strings (`x-test: h2spec`).
#[test]
fn generic_5_4_literal_incremental_indexing_new_name() {
    let mut s = TestServer::new();
    get_with_appended(
        &mut s,
        b"\x40\x06\x78\x2d\x74\x65\x73\x74\x06\x68\x32\x73\x70\x65\x63",
    );
    s.expect_response_headers(1).unwrap();
}

/// generic/5/5 — RFC 7541 §6.2.1: literal with incremental indexing, new
/// name, Huffman-coded (`x-test: h2spec`).
#[test]
fn generic_5_5_literal_incremental_indexing_new_name_huffman() {
    let mut s = TestServer::new();
    get_with_appended(&mut s, b"\x40\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4");
    s.expect_response_headers(1).unwrap();
}

/// generic/5/6 — RFC 7541 §6.2.2: literal without indexing, plain strings
/// (`user-agent: h2spec`).
#[test]
fn generic_5_6_literal_without_indexing() {
    let mut s = TestServer::new();
    get_with_appended(
        &mut s,
        b"\x00\x0a\x75\x73\x65\x72\x2d\x61\x67\x65\x6e\x74\x06\x68\x32\x73\x70\x65\x63",
    );
    s.expect_response_headers(1).unwrap();
}

/// generic/5/7 — RFC 7541 §6.2.2: literal without indexing, Huffman-coded
/// (`user-agent: h2spec`).
#[test]
fn generic_5_7_literal_without_indexing_huffman() {
    let mut s = TestServer::new();
    get_with_appended(
        &mut s,
        b"\x00\x87\xb5\x05\xb1\x61\xcc\x5a\x93\x84\x9c\x48\xac\xa4",
    );
    s.expect_response_headers(1).unwrap();
}

/// generic/5/8 — RFC 7541 §6.2.2: literal without indexing, new name, plain
/// strings (`x-test: h2spec`).
#[test]
fn generic_5_8_literal_without_indexing_new_name() {
    let mut s = TestServer::new();
    get_with_appended(
        &mut s,
        b"\x00\x06\x78\x2d\x74\x65\x73\x74\x06\x68\x32\x73\x70\x65\x63",
    );
    s.expect_response_headers(1).unwrap();
}

/// generic/5/9 — RFC 7541 §6.2.2: literal without indexing, new name,
/// Huffman-coded (`x-test: h2spec`).
#[test]
fn generic_5_9_literal_without_indexing_new_name_huffman() {
    let mut s = TestServer::new();
    get_with_appended(&mut s, b"\x00\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4");
    s.expect_response_headers(1).unwrap();
}

/// generic/5/10 — RFC 7541 §6.2.3: literal never indexed, plain strings
/// (`user-agent: h2spec`).
#[test]
fn generic_5_10_literal_never_indexed() {
    let mut s = TestServer::new();
    get_with_appended(
        &mut s,
        b"\x10\x0a\x75\x73\x65\x72\x2d\x61\x67\x65\x6e\x74\x06\x68\x32\x73\x70\x65\x63",
    );
    s.expect_response_headers(1).unwrap();
}

/// generic/5/11 — RFC 7541 §6.2.3: literal never indexed, Huffman-coded
/// (`user-agent: h2spec`).
#[test]
fn generic_5_11_literal_never_indexed_huffman() {
    let mut s = TestServer::new();
    get_with_appended(
        &mut s,
        b"\x10\x87\xb5\x05\xb1\x61\xcc\x5a\x93\x84\x9c\x48\xac\xa4",
    );
    s.expect_response_headers(1).unwrap();
}

/// generic/5/12 — RFC 7541 §6.2.3: literal never indexed, new name,
/// Huffman-coded (`x-test: h2spec`).
#[test]
fn generic_5_12_literal_never_indexed_new_name() {
    let mut s = TestServer::new();
    get_with_appended(&mut s, b"\x10\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4");
    s.expect_response_headers(1).unwrap();
}

/// generic/5/13 — RFC 7541 §6.2.3: literal never indexed, new name,
/// Huffman-coded (h2spec sends the same octets as 5/12).
#[test]
fn generic_5_13_literal_never_indexed_new_name_huffman() {
    let mut s = TestServer::new();
    get_with_appended(&mut s, b"\x10\x85\xf2\xb2\x4a\x84\xff\x84\x9c\x48\xac\xa4");
    s.expect_response_headers(1).unwrap();
}

/// generic/5/14 — RFC 7541 §6.3: a dynamic table size update (to 128) at the
/// start of the block.
#[test]
fn generic_5_14_dynamic_table_size_update() {
    let mut s = TestServer::new();
    s.factory.set_max_table_size(128);
    let block = s.factory.get_request();
    assert_eq!(&block[..2], b"\x3f\x61", "the block starts with the update");
    s.send(&F::headers(1, &block, true));
    s.expect_response_headers(1).unwrap();
}

/// generic/5/15 — RFC 7541 §4.2, §6.3: two size updates (128, then 4096) at
/// the start of the block.
#[test]
fn generic_5_15_multiple_dynamic_table_size_updates() {
    let mut s = TestServer::new();
    let mut block = b"\x3f\x61\x3f\xe1\x1f".to_vec();
    block.extend_from_slice(&s.factory.get_request());
    s.send(&F::headers(1, &block, true));
    s.expect_response_headers(1).unwrap();
}
