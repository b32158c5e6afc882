//! Decoding errors.

/// Why a Huffman-coded string was rejected (RFC 7541 §5.2).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HuffmanError {
    /// The string contains the EOS symbol.
    Eos,
    /// The string ends with more than 7 bits of padding.
    PaddingTooLong,
    /// The padding is not a prefix of EOS (all ones).
    PaddingNotOnes,
}

impl std::fmt::Display for HuffmanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HuffmanError::Eos => "the EOS symbol appears inside the string",
            HuffmanError::PaddingTooLong => "the padding is longer than 7 bits",
            HuffmanError::PaddingNotOnes => "the padding is not all ones",
        })
    }
}

/// An HPACK decoding error.
///
/// Every variant except [`DecodeError::HeaderListTooLarge`] means the decoder's
/// dynamic table may no longer match the peer's: a connection error of type
/// `COMPRESSION_ERROR` (RFC 9113 §4.3). See [`DecodeError::is_connection_error`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The block ended in the middle of a representation.
    #[error("the header block is truncated")]
    Truncated,
    /// An integer does not fit in 32 bits or uses too many continuation octets.
    #[error("an HPACK integer is too large")]
    IntegerOverflow,
    /// An index that is 0 or past the end of the static and dynamic tables.
    #[error("header table index {index} is not in 1..={max}")]
    InvalidIndex {
        /// The index the peer sent.
        index: usize,
        /// The largest index valid at that point (61 plus the dynamic entries).
        max: usize,
    },
    /// A Huffman-coded string is malformed.
    #[error("invalid Huffman code: {0}")]
    InvalidHuffman(HuffmanError),
    /// A string literal longer than we accept at all.
    #[error("a string literal of {len} octets exceeds the limit of {max}")]
    StringTooLong {
        /// The length the peer announced.
        len: usize,
        /// Our limit.
        max: usize,
    },
    /// A dynamic table size update above our SETTINGS_HEADER_TABLE_SIZE.
    #[error("a dynamic table size update to {requested} exceeds our limit of {max}")]
    TableSizeUpdateTooLarge {
        /// The size the peer asked for.
        requested: usize,
        /// Our SETTINGS_HEADER_TABLE_SIZE.
        max: usize,
    },
    /// A dynamic table size update after the first field of a block (RFC 7541 §4.2).
    #[error("a dynamic table size update follows a header field")]
    TableSizeUpdateNotAtStart,
    /// We lowered SETTINGS_HEADER_TABLE_SIZE and the block did not start with a
    /// size update at or below the new value (RFC 7541 §4.2).
    #[error("the header block lacks the required dynamic table size update to at most {max}")]
    TableSizeUpdateMissing {
        /// The largest size the update may announce.
        max: usize,
    },
    /// The decoded header list exceeds our SETTINGS_MAX_HEADER_LIST_SIZE. The
    /// whole block was still decoded, so the tables are in sync: only the
    /// stream has to go.
    #[error("the header list exceeds the limit of {limit} octets")]
    HeaderListTooLarge {
        /// Our limit.
        limit: usize,
    },
}

impl DecodeError {
    /// Whether the connection must end with `COMPRESSION_ERROR`. Only
    /// [`DecodeError::HeaderListTooLarge`] leaves the compression state intact.
    pub fn is_connection_error(&self) -> bool {
        !matches!(self, DecodeError::HeaderListTooLarge { .. })
    }
}

impl From<HuffmanError> for DecodeError {
    fn from(e: HuffmanError) -> Self {
        DecodeError::InvalidHuffman(e)
    }
}
