//! The header field type shared by the encoder and the decoder.

use bytes::Bytes;

/// What every table entry and header list field costs on top of its octets
/// (RFC 7541 §4.1, RFC 9113 §6.5.2).
pub(crate) const ENTRY_OVERHEAD: usize = 32;

/// The accounted size of a field with the given name and value lengths.
///
/// Saturates instead of overflowing: a saturated size exceeds every limit anyway.
pub(crate) fn field_size(name_len: usize, value_len: usize) -> usize {
    name_len
        .saturating_add(value_len)
        .saturating_add(ENTRY_OVERHEAD)
}

/// One header field as decoded or to be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    /// The field name. HTTP/2 requires lowercase; HPACK itself does not care.
    pub name: Bytes,
    /// The field value, arbitrary octets.
    pub value: Bytes,
    /// Must never enter a compression table (RFC 7541 §7.1.3): the encoder uses
    /// the "never indexed" representation, and the decoder sets it for fields that
    /// arrived that way so that a proxy keeps the protection.
    pub sensitive: bool,
}

impl Header {
    /// A field that the encoder may index.
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Header {
            name: name.into(),
            value: value.into(),
            sensitive: false,
        }
    }

    /// A field that must never be indexed, such as a credential.
    pub fn sensitive(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        Header {
            name: name.into(),
            value: value.into(),
            sensitive: true,
        }
    }

    /// `name.len() + value.len() + 32`, the size that tables and header list
    /// limits count (RFC 7541 §4.1, RFC 9113 §6.5.2).
    pub fn size(&self) -> usize {
        field_size(self.name.len(), self.value.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_counts_overhead() {
        assert_eq!(Header::new("custom-key", "custom-header").size(), 55);
        assert_eq!(Header::new("", "").size(), 32);
    }

    #[test]
    fn constructors_set_sensitivity() {
        assert!(!Header::new("a", "b").sensitive);
        assert!(Header::sensitive("a", "b").sensitive);
    }

    #[test]
    fn size_saturates() {
        assert_eq!(field_size(usize::MAX, 1), usize::MAX);
    }
}
