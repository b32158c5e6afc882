//! HPACK header compression (RFC 7541).
//!
//! [`Decoder`] turns a complete header block into [`Header`]s and [`Encoder`]
//! does the reverse. Each side owns one dynamic table that must stay in step
//! with the peer's, so one connection has exactly one of each.
//!
//! The decoder treats its input as hostile: every length and index is checked
//! before use, memory is bounded by our settings, and nothing panics. Only
//! [`DecodeError::HeaderListTooLarge`] leaves the tables in sync; every other
//! error is a connection-level `COMPRESSION_ERROR`.

mod decoder;
mod encoder;
mod error;
mod header;
pub mod huffman;
mod huffman_table;
pub mod integer;
mod static_table;
mod table;

pub use decoder::Decoder;
pub use encoder::{Encoder, HuffmanPolicy, IndexPolicy};
pub use error::{DecodeError, HuffmanError};
pub use header::Header;

/// The table size both peers start with (RFC 9113 §6.5.2, SETTINGS_HEADER_TABLE_SIZE).
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// Our default SETTINGS_MAX_HEADER_LIST_SIZE.
pub const DEFAULT_MAX_HEADER_LIST_SIZE: usize = 16 * 1024;

#[cfg(test)]
mod rfc_tests;
