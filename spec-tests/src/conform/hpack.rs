//! h2spec's `hpack` group (8 cases): RFC 7541 decoding errors, each a
//! connection error COMPRESSION_ERROR (RFC 9113 §4.3).

use grpc_sansio::h2::ErrorCode;
use grpc_sansio::hpack::integer;

use super::case::{Case, CaseResult};
use super::client::Client;
use crate::factory::FrameFactory as F;

/// The group, in h2spec's order.
pub(super) const CASES: &[Case] = &[
    Case::new(
        "hpack/2.3.3/1",
        "4.3",
        "Sends a indexed header field representation with invalid index (RFC 7541 §2.3.3)",
        indexed_field_with_invalid_index,
    ),
    Case::new(
        "hpack/2.3.3/2",
        "4.3",
        "Sends a literal header field representation with invalid index (RFC 7541 §2.3.3)",
        literal_with_invalid_name_index,
    ),
    Case::new(
        "hpack/4.2/1",
        "4.3",
        "Sends a dynamic table size update at the end of header block (RFC 7541 §4.2)",
        table_size_update_at_end,
    ),
    Case::new(
        "hpack/5.2/1",
        "4.3",
        "Sends a Huffman-encoded string literal representation with padding longer than 7 bits (RFC 7541 §5.2)",
        huffman_padding_longer_than_7_bits,
    ),
    Case::new(
        "hpack/5.2/2",
        "4.3",
        "Sends a Huffman-encoded string literal representation padded by zero (RFC 7541 §5.2)",
        huffman_padded_by_zero,
    ),
    Case::new(
        "hpack/5.2/3",
        "4.3",
        "Sends a Huffman-encoded string literal representation containing the EOS symbol (RFC 7541 §5.2)",
        huffman_containing_eos,
    ),
    Case::new(
        "hpack/6.1/1",
        "4.3",
        "Sends a indexed header field representation with index 0 (RFC 7541 §6.1)",
        indexed_field_with_index_0,
    ),
    Case::new(
        "hpack/6.3/1",
        "4.3",
        "Sends a dynamic table size update larger than the value of SETTINGS_HEADER_TABLE_SIZE (RFC 7541 §6.3)",
        table_size_update_above_settings,
    ),
];

/// Sends the common GET block with `rep` appended, in one HEADERS frame on
/// stream 1 with END_STREAM and END_HEADERS, and expects COMPRESSION_ERROR.
fn get_with_appended(c: &mut dyn Client, rep: &[u8]) -> CaseResult {
    let mut block = c.get_request();
    block.extend_from_slice(rep);
    c.send(&F::headers(1, &block, true));
    c.expect_conn_error(ErrorCode::COMPRESSION_ERROR)
}

fn indexed_field_with_invalid_index(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, b"\xc6")
}

fn literal_with_invalid_name_index(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, b"\x7f\x07\x00")
}

fn table_size_update_at_end(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, b"\x21")
}

fn huffman_padding_longer_than_7_bits(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, b"\x00\x85\xf2\xb2\x4a\x84\xff\x84\x49\x50\x9f\xff")
}

fn huffman_padded_by_zero(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, b"\x00\x85\xf2\xb2\x4a\x84\xff\x83\x49\x50\x90")
}

fn huffman_containing_eos(c: &mut dyn Client) -> CaseResult {
    get_with_appended(
        c,
        b"\x00\x85\xf2\xb2\x4a\x84\xff\x87\x49\x51\xff\xff\xff\xfa\x7f",
    )
}

fn indexed_field_with_index_0(c: &mut dyn Client) -> CaseResult {
    get_with_appended(c, b"\x80")
}

fn table_size_update_above_settings(c: &mut dyn Client) -> CaseResult {
    let size = c.header_table_size() as usize + 1;
    let mut block = Vec::new();
    integer::encode(size, 5, 0x20, &mut block);
    block.extend_from_slice(&c.get_request());
    c.send(&F::headers(1, &block, true));
    c.expect_conn_error(ErrorCode::COMPRESSION_ERROR)
}
