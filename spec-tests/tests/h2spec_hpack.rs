//! h2spec 2.6.0 `hpack` group (8 cases): RFC 7541 decoding errors, each a
//! connection error COMPRESSION_ERROR (RFC 9113 §4.3). One test per case: it
//! sends what the case sends and asserts h2spec's verdict.

use grpc_sansio::h2::ErrorCode;
use grpc_sansio::hpack::integer;
use spec_tests::factory::FrameFactory as F;
use spec_tests::server::TestServer;

const COMPRESSION_ERROR: ErrorCode = ErrorCode::COMPRESSION_ERROR;

/// Sends the common GET block with `rep` appended, in one HEADERS frame on
/// stream 1 with END_STREAM and END_HEADERS.
fn get_with_appended(s: &mut TestServer, rep: &[u8]) {
    let mut block = s.factory.get_request();
    block.extend_from_slice(rep);
    s.send(&F::headers(1, &block, true));
}

/// hpack/2.3.3/1 — RFC 7541 §2.3.3: an indexed field beyond both tables
/// (index 70) is a decoding error.
#[test]
fn hpack_2_3_3_1_indexed_field_with_invalid_index() {
    let mut s = TestServer::new();
    get_with_appended(&mut s, b"\xc6");
    s.expect_conn_error(COMPRESSION_ERROR).unwrap();
}

/// hpack/2.3.3/2 — RFC 7541 §2.3.3: a literal whose name index (70) is beyond
/// both tables is a decoding error.
#[test]
fn hpack_2_3_3_2_literal_with_invalid_name_index() {
    let mut s = TestServer::new();
    get_with_appended(&mut s, b"\x7f\x07\x00");
    s.expect_conn_error(COMPRESSION_ERROR).unwrap();
}

/// hpack/4.2/1 — RFC 7541 §4.2: a dynamic table size update must come at the
/// start of a block; one at the end is a decoding error.
#[test]
fn hpack_4_2_1_table_size_update_at_end_of_block() {
    let mut s = TestServer::new();
    get_with_appended(&mut s, b"\x21");
    s.expect_conn_error(COMPRESSION_ERROR).unwrap();
}

/// hpack/5.2/1 — RFC 7541 §5.2: Huffman padding longer than 7 bits is a
/// decoding error.
#[test]
fn hpack_5_2_1_huffman_padding_longer_than_7_bits() {
    let mut s = TestServer::new();
    get_with_appended(&mut s, b"\x00\x85\xf2\xb2\x4a\x84\xff\x84\x49\x50\x9f\xff");
    s.expect_conn_error(COMPRESSION_ERROR).unwrap();
}

/// hpack/5.2/2 — RFC 7541 §5.2: Huffman padding that is not the EOS prefix
/// (zero bits) is a decoding error.
#[test]
fn hpack_5_2_2_huffman_padded_by_zero() {
    let mut s = TestServer::new();
    get_with_appended(&mut s, b"\x00\x85\xf2\xb2\x4a\x84\xff\x83\x49\x50\x90");
    s.expect_conn_error(COMPRESSION_ERROR).unwrap();
}

/// hpack/5.2/3 — RFC 7541 §5.2: a Huffman string containing the EOS symbol is
/// a decoding error.
#[test]
fn hpack_5_2_3_huffman_containing_eos() {
    let mut s = TestServer::new();
    get_with_appended(
        &mut s,
        b"\x00\x85\xf2\xb2\x4a\x84\xff\x87\x49\x51\xff\xff\xff\xfa\x7f",
    );
    s.expect_conn_error(COMPRESSION_ERROR).unwrap();
}

/// hpack/6.1/1 — RFC 7541 §6.1: an indexed field with index 0 is a decoding
/// error.
#[test]
fn hpack_6_1_1_indexed_field_with_index_0() {
    let mut s = TestServer::new();
    get_with_appended(&mut s, b"\x80");
    s.expect_conn_error(COMPRESSION_ERROR).unwrap();
}

/// hpack/6.3/1 — RFC 7541 §6.3, §4.2: a size update above the advertised
/// SETTINGS_HEADER_TABLE_SIZE is a decoding error.
#[test]
fn hpack_6_3_1_table_size_update_above_settings() {
    let mut s = TestServer::new();
    let size = s.header_table_size() as usize + 1;
    let mut block = Vec::new();
    integer::encode(size, 5, 0x20, &mut block);
    block.extend_from_slice(&s.factory.get_request());
    s.send(&F::headers(1, &block, true));
    s.expect_conn_error(COMPRESSION_ERROR).unwrap();
}
