//! The header block encoder (RFC 7541 §3, §6).

use bytes::Bytes;

use super::header::Header;
use super::static_table::{self, Match};
use super::table::DynamicTable;
use super::{huffman, integer, DEFAULT_TABLE_SIZE};

/// Which fields the encoder adds to the dynamic table.
///
/// Fields marked [`Header::sensitive`], `authorization`, `proxy-authorization`
/// and short `cookie`s are never indexed under any policy: they go out as
/// "never indexed" literals (RFC 7541 §7.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IndexPolicy {
    /// Index fields that are likely to repeat and small enough (at most a
    /// quarter of the table), skipping names whose values change with every
    /// message, such as `grpc-timeout`, `grpc-message`, `date` or
    /// `content-length`.
    #[default]
    Default,
    /// Index every field that fits in the table, as the RFC 7541 Appendix C
    /// examples do.
    Always,
    /// Never touch the dynamic table; only static entries are referenced.
    Never,
}

/// When the encoder Huffman-codes string literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HuffmanPolicy {
    /// Only when that makes the string shorter: raw strings are cheaper to
    /// decode, so a tie goes to raw.
    #[default]
    WhenShorter,
    /// Always, as the RFC 7541 C.4 and C.6 examples do.
    Always,
    /// Never, as the RFC 7541 C.3 and C.5 examples do.
    Never,
}

/// Dynamic table size updates owed to the peer at the start of the next block.
#[derive(Debug, Clone, Copy)]
struct PendingUpdate {
    /// The smallest size since the last block, which must be signalled.
    smallest: usize,
    /// The size to use from now on.
    last: usize,
}

/// Encodes header blocks for one peer, mirroring its decoder's dynamic table.
///
/// ```
/// # use grpc_sansio::hpack::{Encoder, Header};
/// let mut encoder = Encoder::new();
/// let mut block = Vec::new();
/// encoder.encode(&[Header::new(":method", "POST")], &mut block);
/// assert_eq!(block, [0x83]);
/// ```
#[derive(Debug)]
pub struct Encoder {
    /// Our model of the peer decoder's table.
    table: DynamicTable,
    /// The peer's SETTINGS_HEADER_TABLE_SIZE.
    peer_max: usize,
    /// Our own cap, so that a peer announcing a huge table cannot make us
    /// keep one.
    max_own: usize,
    pending: Option<PendingUpdate>,
    index_policy: IndexPolicy,
    huffman_policy: HuffmanPolicy,
}

/// Fields that carry credentials: indexing them would let an attacker who can
/// inject headers probe their values through compression (RFC 7541 §7.1).
fn never_index(name: &[u8], value: &[u8]) -> bool {
    match name {
        b"authorization" | b"proxy-authorization" => true,
        // Short cookies are guessable; long ones are not worth the risk
        // trade-off of losing compression (RFC 7541 §7.1.3).
        b"cookie" => value.len() < 20,
        _ => false,
    }
}

/// Names whose values rarely repeat: indexing them only churns the table.
fn volatile(name: &[u8]) -> bool {
    matches!(
        name,
        b"grpc-timeout"
            | b"grpc-message"
            | b"grpc-status-details-bin"
            | b"content-length"
            | b"date"
            | b"age"
            | b"etag"
            | b"expires"
            | b"last-modified"
            | b"if-modified-since"
            | b"if-none-match"
            | b"location"
            | b"set-cookie"
    )
}

impl Encoder {
    /// An encoder for a fresh connection: the peer's table size is 4096, as is
    /// our own cap, indexing and Huffman use the default policies.
    pub fn new() -> Self {
        Encoder {
            table: DynamicTable::new(DEFAULT_TABLE_SIZE),
            peer_max: DEFAULT_TABLE_SIZE,
            max_own: DEFAULT_TABLE_SIZE,
            pending: None,
            index_policy: IndexPolicy::default(),
            huffman_policy: HuffmanPolicy::default(),
        }
    }

    /// Chooses which fields are indexed from now on.
    pub fn set_index_policy(&mut self, policy: IndexPolicy) {
        self.index_policy = policy;
    }

    /// Chooses when strings are Huffman-coded from now on.
    pub fn set_huffman_policy(&mut self, policy: HuffmanPolicy) {
        self.huffman_policy = policy;
    }

    /// The peer's SETTINGS_HEADER_TABLE_SIZE changed. The next block starts
    /// with the dynamic table size update(s) that this requires (RFC 7541 §4.2).
    pub fn set_max_table_size(&mut self, size: usize) {
        self.peer_max = size;
        self.schedule_update();
    }

    /// Caps the table we use regardless of what the peer allows (default 4096).
    pub fn set_max_own_table_size(&mut self, size: usize) {
        self.max_own = size;
        self.schedule_update();
    }

    /// The dynamic table's occupancy in octets (RFC 7541 §4.1).
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// The dynamic table, newest entry first, for checks against the RFC examples.
    #[cfg(test)]
    pub(crate) fn table_entries(&self) -> Vec<Header> {
        self.table
            .iter()
            .map(|e| Header::new(e.name.clone(), e.value.clone()))
            .collect()
    }

    /// Records the table size to announce at the start of the next block.
    fn schedule_update(&mut self) {
        let target = self.peer_max.min(self.max_own);
        self.pending = match self.pending {
            None if target == self.table.max_size() => None,
            None => Some(PendingUpdate {
                smallest: target,
                last: target,
            }),
            Some(p) => Some(PendingUpdate {
                smallest: p.smallest.min(target),
                last: target,
            }),
        };
    }

    /// Encodes one header block, appending it to `dst`.
    pub fn encode<'a>(&mut self, headers: impl IntoIterator<Item = &'a Header>, dst: &mut Vec<u8>) {
        if let Some(p) = self.pending.take() {
            // If the size went down and up again, the peer must still evict as
            // if it had seen the minimum (RFC 7541 §4.2).
            if p.smallest < p.last {
                self.size_update(p.smallest, dst);
            }
            self.size_update(p.last, dst);
        }
        for header in headers {
            self.field(header, dst);
        }
    }

    fn size_update(&mut self, size: usize, dst: &mut Vec<u8>) {
        integer::encode(size, 5, 0x20, dst);
        self.table.set_max_size(size);
    }

    /// Encodes one field with the smallest representation the policy allows.
    fn field(&mut self, header: &Header, dst: &mut Vec<u8>) {
        let (name, value) = (&header.name[..], &header.value[..]);
        let never = header.sensitive || never_index(name, value);
        let in_static = static_table::find(name, value);
        if let (false, Some(Match::Full(index))) = (never, in_static) {
            integer::encode(index, 7, 0x80, dst);
            return;
        }
        let in_dynamic = self.table.find(name, value);
        if let (false, Some(Match::Full(i))) = (never, in_dynamic) {
            integer::encode(static_table::LEN + 1 + i, 7, 0x80, dst);
            return;
        }
        // A name reference: static first, its indices are smaller.
        let name_index = match (in_static, in_dynamic) {
            (Some(Match::Full(i) | Match::Name(i)), _) => Some(i),
            (None, Some(Match::Full(i) | Match::Name(i))) => Some(static_table::LEN + 1 + i),
            (None, None) => None,
        };

        let index_it = !never && self.should_index(header);
        let (flags, prefix_bits) = match (never, index_it) {
            (true, _) => (0x10, 4),
            (false, true) => (0x40, 6),
            (false, false) => (0x00, 4),
        };
        integer::encode(name_index.unwrap_or(0), prefix_bits, flags, dst);
        if name_index.is_none() {
            self.string(name, dst);
        }
        self.string(value, dst);

        if index_it {
            // Reuse the table's copy of the name where there is one; copy the
            // rest so that the table never pins the caller's larger buffers.
            let name = name_index
                .and_then(|i| self.name_at(i))
                .unwrap_or_else(|| Bytes::copy_from_slice(name));
            self.table.insert(name, Bytes::copy_from_slice(value));
        }
    }

    /// The name at a 1-based HPACK index.
    fn name_at(&self, index: usize) -> Option<Bytes> {
        match static_table::get(index) {
            Some((name, _)) => Some(name.clone()),
            None => self
                .table
                .get(index.checked_sub(static_table::LEN + 1)?)
                .map(|e| e.name.clone()),
        }
    }

    /// Whether a field not yet in the table should be added to it.
    fn should_index(&self, header: &Header) -> bool {
        let size = header.size();
        let max = self.table.max_size();
        match self.index_policy {
            IndexPolicy::Never => false,
            // Anything larger would only empty the table.
            IndexPolicy::Always => size <= max,
            IndexPolicy::Default => size <= max / 4 && !volatile(&header.name),
        }
    }

    /// Appends a string literal (RFC 7541 §5.2).
    fn string(&self, s: &[u8], dst: &mut Vec<u8>) {
        let coded_len = match self.huffman_policy {
            HuffmanPolicy::Never => None,
            HuffmanPolicy::Always => Some(huffman::encoded_len(s)),
            HuffmanPolicy::WhenShorter => Some(huffman::encoded_len(s)).filter(|&n| n < s.len()),
        };
        match coded_len {
            Some(len) => {
                integer::encode(len, 7, 0x80, dst);
                huffman::encode(s, dst);
            }
            None => {
                integer::encode(s.len(), 7, 0x00, dst);
                dst.extend_from_slice(s);
            }
        }
    }
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(e: &mut Encoder, headers: &[Header]) -> Vec<u8> {
        let mut out = Vec::new();
        e.encode(headers, &mut out);
        out
    }

    #[test]
    fn static_full_and_name_matches() {
        let mut e = Encoder::new();
        assert_eq!(encode(&mut e, &[Header::new(":status", "404")]), [0x8d]);
        // Name match with a value: indexed by the default policy.
        let out = encode(&mut e, &[Header::new(":path", "/a")]);
        assert_eq!(out, [0x44, 0x02, b'/', b'a']);
        assert_eq!(encode(&mut e, &[Header::new(":path", "/a")]), [0xbe]);
    }

    #[test]
    fn credentials_are_never_indexed() {
        let mut e = Encoder::new();
        e.set_index_policy(IndexPolicy::Always);
        e.set_huffman_policy(HuffmanPolicy::Never);
        let out = encode(&mut e, &[Header::new("authorization", "x")]);
        assert_eq!(out, [0x1f, 0x08, 0x01, b'x']);
        let out = encode(&mut e, &[Header::new("cookie", "a=b")]);
        assert_eq!(out, [0x1f, 0x11, 0x03, b'a', b'=', b'b']);
        let out = encode(&mut e, &[Header::sensitive("x", "y")]);
        assert_eq!(out, [0x10, 0x01, b'x', 0x01, b'y']);
        assert_eq!(e.table_size(), 0);
        // Even an exact static match is sent as a never-indexed literal.
        let out = encode(&mut e, &[Header::sensitive(":method", "GET")]);
        assert_eq!(out, [0x12, 0x03, b'G', b'E', b'T']);
        // A long cookie is ordinary.
        let long = "a".repeat(30);
        let out = encode(&mut e, &[Header::new("cookie", long.clone())]);
        assert_eq!(out[0], 0x60);
        assert_eq!(e.table_size(), 6 + 30 + 32);
    }

    #[test]
    fn sensitive_copy_of_an_indexed_field_is_still_a_literal() {
        let mut e = Encoder::new();
        e.set_huffman_policy(HuffmanPolicy::Never);
        encode(&mut e, &[Header::new("k", "v")]);
        let out = encode(&mut e, &[Header::sensitive("k", "v")]);
        // Name by reference to entry 62, value literal.
        assert_eq!(out, [0x1f, 0x2f, 0x01, b'v']);
    }

    #[test]
    fn default_policy_skips_volatile_and_large() {
        let mut e = Encoder::new();
        encode(&mut e, &[Header::new("grpc-timeout", "1S")]);
        assert_eq!(e.table_size(), 0);
        encode(&mut e, &[Header::new("x", vec![b'v'; 1000])]);
        assert_eq!(e.table_size(), 0);
        encode(&mut e, &[Header::new("grpc-encoding", "gzip")]);
        assert_eq!(e.table_size(), 13 + 4 + 32);
    }

    #[test]
    fn never_policy_leaves_the_table_alone() {
        let mut e = Encoder::new();
        e.set_index_policy(IndexPolicy::Never);
        e.set_huffman_policy(HuffmanPolicy::Never);
        let out = encode(&mut e, &[Header::new(":path", "/sample/path")]);
        assert_eq!(out[..2], [0x04, 0x0c]);
        assert_eq!(e.table_size(), 0);
    }

    #[test]
    fn huffman_only_when_shorter() {
        let mut e = Encoder::new();
        e.set_index_policy(IndexPolicy::Never);
        // "307" codes to 3 octets too: raw wins the tie.
        assert_eq!(
            encode(&mut e, &[Header::new(":status", "307")]),
            [0x08, 0x03, b'3', b'0', b'7']
        );
        // "302" codes to 2.
        assert_eq!(
            encode(&mut e, &[Header::new(":status", "302")]),
            [0x08, 0x82, 0x64, 0x02]
        );
    }

    #[test]
    fn size_updates_are_announced() {
        let mut e = Encoder::new();
        e.set_max_table_size(4096);
        assert_eq!(encode(&mut e, &[]), []);
        e.set_max_table_size(0);
        assert_eq!(encode(&mut e, &[]), [0x20]);
        assert_eq!(encode(&mut e, &[]), []);
        // Down and up again: the minimum, then the final size.
        e.set_max_table_size(4096);
        assert_eq!(encode(&mut e, &[]), [0x3f, 0xe1, 0x1f]);
        e.set_max_table_size(100);
        e.set_max_table_size(4096);
        assert_eq!(encode(&mut e, &[]), [0x3f, 0x45, 0x3f, 0xe1, 0x1f]);
    }

    #[test]
    fn own_cap_limits_a_huge_peer_table() {
        let mut e = Encoder::new();
        e.set_max_table_size(usize::MAX);
        assert_eq!(encode(&mut e, &[]), []);
        e.set_max_own_table_size(8192);
        e.set_max_table_size(6000);
        // 6000 = 31 + 5969 = 31 + 81 + 46 * 128
        assert_eq!(encode(&mut e, &[]), [0x3f, 0xd1, 0x2e]);
    }

    #[test]
    fn name_reference_to_an_entry_the_insertion_evicts() {
        let mut e = Encoder::new();
        e.set_index_policy(IndexPolicy::Always);
        e.set_huffman_policy(HuffmanPolicy::Never);
        e.set_max_table_size(70);
        encode(&mut e, &[Header::new("aaaa", "b")]);
        let out = encode(&mut e, &[Header::new("aaaa", "cc")]);
        assert_eq!(out, [0x7e, 0x02, b'c', b'c']);
        assert_eq!(e.table_entries(), [Header::new("aaaa", "cc")]);
    }

    #[test]
    fn shrinking_evicts_our_model_too() {
        let mut e = Encoder::new();
        e.set_huffman_policy(HuffmanPolicy::Never);
        encode(&mut e, &[Header::new("k", "v")]);
        assert_eq!(e.table_size(), 34);
        e.set_max_table_size(0);
        e.set_max_table_size(4096);
        // The entry is gone: a literal again, after the two updates.
        let out = encode(&mut e, &[Header::new("k", "v")]);
        assert_eq!(out, [0x20, 0x3f, 0xe1, 0x1f, 0x40, 0x01, b'k', 0x01, b'v']);
    }
}
