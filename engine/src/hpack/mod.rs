//! HPACK (RFC 7541). Placeholder until the codec lands.

/// An HPACK decoding error.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The block ended in the middle of a representation.
    #[error("the header block is truncated")]
    Truncated,
}
