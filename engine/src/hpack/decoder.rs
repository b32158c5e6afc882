//! The header block decoder (RFC 7541 §3, §6).

use std::ops::Range;

use bytes::Bytes;

use super::error::DecodeError;
use super::header::{field_size, Header};
use super::table::DynamicTable;
use super::{huffman, integer, static_table, DEFAULT_MAX_HEADER_LIST_SIZE, DEFAULT_TABLE_SIZE};

/// String literals up to this length are always accepted (and then judged by
/// the header list limit); longer ones only if a limit of ours allows them.
const MIN_STRING_LIMIT: usize = 64 * 1024;

/// Huffman scratch capacity kept between blocks; a rare huge string should
/// not pin its buffer for the life of the connection.
const SCRATCH_RETAIN: usize = 4096;

/// Decodes header blocks from one peer, keeping its dynamic table.
///
/// ```
/// # use bytes::Bytes;
/// # use grpc_sansio::hpack::{Decoder, Header};
/// let mut decoder = Decoder::new(4096);
/// let headers = decoder.decode_to_vec(&Bytes::from_static(&[0x82, 0x86, 0x84])).unwrap();
/// assert_eq!(headers[0], Header::new(":method", "GET"));
/// ```
#[derive(Debug)]
pub struct Decoder {
    /// The peer encoder's view of our table.
    table: DynamicTable,
    /// Our SETTINGS_HEADER_TABLE_SIZE: the ceiling for size updates.
    max_table_size: usize,
    /// Set when our setting fell below the table's limit: the next block must
    /// start with a size update at most this large.
    required_update: Option<usize>,
    /// Our SETTINGS_MAX_HEADER_LIST_SIZE.
    max_header_list_size: usize,
    /// Reused output buffer for Huffman strings, so that only the final copy
    /// of each string allocates.
    scratch: Vec<u8>,
}

/// How a literal field interacts with the dynamic table (RFC 7541 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Indexing {
    /// §6.2.1: add to the table.
    Incremental,
    /// §6.2.2: leave the table alone.
    Without,
    /// §6.2.3: leave the table alone, and so must every intermediary.
    Never,
}

/// A decoded string, located but not yet copied.
#[derive(Debug)]
enum Text {
    /// Raw octets at this range of the block.
    Raw(Range<usize>),
    /// Huffman-decoded octets at this range of the scratch buffer.
    Decoded(Range<usize>),
    /// A name taken from a table.
    Table(Bytes),
}

impl Text {
    fn len(&self) -> usize {
        match self {
            Text::Raw(r) | Text::Decoded(r) => r.len(),
            Text::Table(b) => b.len(),
        }
    }
}

/// The running total of the header list against our limit.
#[derive(Debug)]
struct Budget {
    used: usize,
    limit: usize,
    exceeded: bool,
}

impl Budget {
    /// Whether a field of `size` octets still fits. Once one does not, none do:
    /// the list is rejected as a whole and emitting more would be wasted work.
    fn admit(&mut self, size: usize) -> bool {
        if self.exceeded {
            return false;
        }
        let used = self.used.saturating_add(size);
        if used > self.limit {
            self.exceeded = true;
            return false;
        }
        self.used = used;
        true
    }
}

/// A position in the block; every range it hands out is within the block.
#[derive(Debug)]
struct Cursor<'a> {
    src: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn rest(&self) -> &[u8] {
        self.src.get(self.pos..).unwrap_or_default()
    }

    fn integer(&mut self, prefix_bits: u8) -> Result<usize, DecodeError> {
        let (value, len) = integer::decode(self.rest(), prefix_bits)?;
        self.pos += len;
        Ok(value)
    }

    /// Reads a string literal header (RFC 7541 §5.2) and skips its octets,
    /// checking the length against the input before anything is allocated.
    fn string(&mut self, max_len: usize) -> Result<(bool, Range<usize>), DecodeError> {
        let huffman = self.peek().is_some_and(|b| b & 0x80 != 0);
        let len = self.integer(7)?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|&end| end <= self.src.len())
            .ok_or(DecodeError::Truncated)?;
        if len > max_len {
            return Err(DecodeError::StringTooLong { len, max: max_len });
        }
        let range = self.pos..end;
        self.pos = end;
        Ok((huffman, range))
    }
}

/// `block[range]` without copying, or empty if the range is not in the block
/// (never the case for ranges from a [`Cursor`]; this just cannot panic).
fn share(block: &Bytes, range: Range<usize>) -> Bytes {
    if range.start <= range.end && range.end <= block.len() {
        block.slice(range)
    } else {
        Bytes::new()
    }
}

impl Decoder {
    /// A decoder for a connection where our SETTINGS_HEADER_TABLE_SIZE is
    /// `max_table_size` (4096 unless we announced otherwise and the peer knew
    /// it from the start). The header list limit starts at 16 KiB.
    pub fn new(max_table_size: usize) -> Self {
        Decoder {
            table: DynamicTable::new(max_table_size),
            max_table_size,
            required_update: None,
            max_header_list_size: DEFAULT_MAX_HEADER_LIST_SIZE,
            scratch: Vec::new(),
        }
    }

    /// We changed our SETTINGS_HEADER_TABLE_SIZE and the peer acknowledged it.
    ///
    /// If `size` is below the table's current limit, the next block must start
    /// with a dynamic table size update to at most `size` (the smallest such
    /// setting if it changed several times), else the block fails with
    /// [`DecodeError::TableSizeUpdateMissing`] (RFC 7541 §4.2).
    pub fn set_max_table_size(&mut self, size: usize) {
        if size < self.table.max_size() {
            self.required_update = Some(self.required_update.map_or(size, |r| r.min(size)));
        }
        self.max_table_size = size;
    }

    /// Sets our SETTINGS_MAX_HEADER_LIST_SIZE: the limit on the sum of
    /// `name + value + 32` over a decoded block (default 16384).
    pub fn set_max_header_list_size(&mut self, size: usize) {
        self.max_header_list_size = size;
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

    /// Decodes one complete header block, calling `emit` for each field in order.
    ///
    /// Raw string literals are handed out as slices of `block`, table entries
    /// as cheap clones; only Huffman strings and newly indexed fields allocate.
    ///
    /// Every error but [`DecodeError::HeaderListTooLarge`] is a connection
    /// error. That one is returned only after the whole block was decoded, so
    /// the dynamic table stays in sync: `emit` is not called again once the
    /// running list size exceeds the limit, which also stops a block of
    /// repeated references to a large entry without doing its work.
    pub fn decode(
        &mut self,
        block: &Bytes,
        mut emit: impl FnMut(Header),
    ) -> Result<(), DecodeError> {
        let mut cursor = Cursor { src: block, pos: 0 };
        let mut budget = Budget {
            used: 0,
            limit: self.max_header_list_size,
            exceeded: false,
        };
        let result = self.decode_block(block, &mut cursor, &mut budget, &mut emit);
        self.scratch.clear();
        self.scratch.shrink_to(SCRATCH_RETAIN);
        result?;
        if budget.exceeded {
            return Err(DecodeError::HeaderListTooLarge {
                limit: budget.limit,
            });
        }
        Ok(())
    }

    /// [`Decoder::decode`] into a `Vec`.
    pub fn decode_to_vec(&mut self, block: &Bytes) -> Result<Vec<Header>, DecodeError> {
        let mut headers = Vec::new();
        self.decode(block, |h| headers.push(h))?;
        Ok(headers)
    }

    fn decode_block(
        &mut self,
        block: &Bytes,
        cursor: &mut Cursor<'_>,
        budget: &mut Budget,
        emit: &mut impl FnMut(Header),
    ) -> Result<(), DecodeError> {
        self.size_updates(cursor)?;
        while let Some(first) = cursor.peek() {
            match first {
                0x80..=0xff => {
                    let index = cursor.integer(7)?;
                    let (name, value) = self.entry(index)?;
                    if budget.admit(field_size(name.len(), value.len())) {
                        emit(Header::new(name.clone(), value.clone()));
                    }
                }
                0x40..=0x7f => {
                    self.literal(block, cursor, 6, Indexing::Incremental, budget, emit)?
                }
                0x20..=0x3f => return Err(DecodeError::TableSizeUpdateNotAtStart),
                0x10..=0x1f => self.literal(block, cursor, 4, Indexing::Never, budget, emit)?,
                0x00..=0x0f => self.literal(block, cursor, 4, Indexing::Without, budget, emit)?,
            }
        }
        Ok(())
    }

    /// Applies the dynamic table size updates at the start of a block and
    /// checks that a required one is among them (RFC 7541 §4.2).
    fn size_updates(&mut self, cursor: &mut Cursor<'_>) -> Result<(), DecodeError> {
        let mut smallest: Option<usize> = None;
        while cursor.peek().is_some_and(|b| b & 0xe0 == 0x20) {
            let size = cursor.integer(5)?;
            if size > self.max_table_size {
                return Err(DecodeError::TableSizeUpdateTooLarge {
                    requested: size,
                    max: self.max_table_size,
                });
            }
            self.table.set_max_size(size);
            smallest = Some(smallest.map_or(size, |s| s.min(size)));
        }
        match (self.required_update.take(), smallest) {
            (Some(required), Some(s)) if s > required => {
                Err(DecodeError::TableSizeUpdateMissing { max: required })
            }
            (Some(required), None) => Err(DecodeError::TableSizeUpdateMissing { max: required }),
            _ => Ok(()),
        }
    }

    /// The name and value at a 1-based HPACK index (RFC 7541 §2.3.3).
    fn entry(&self, index: usize) -> Result<(&Bytes, &Bytes), DecodeError> {
        if let Some((name, value)) = static_table::get(index) {
            return Ok((name, value));
        }
        index
            .checked_sub(static_table::LEN + 1)
            .and_then(|i| self.table.get(i))
            .map(|e| (&e.name, &e.value))
            .ok_or(DecodeError::InvalidIndex {
                index,
                max: static_table::LEN + self.table.len(),
            })
    }

    /// The longest string literal we accept at all. Anything a limit of ours
    /// could let through must pass; beyond that it is an attack.
    fn max_string_len(&self) -> usize {
        MIN_STRING_LIMIT
            .max(self.max_header_list_size)
            .max(self.max_table_size)
    }

    /// Locates a string literal, Huffman-decoding it into the scratch buffer.
    fn text(&mut self, block: &Bytes, cursor: &mut Cursor<'_>) -> Result<Text, DecodeError> {
        let (is_huffman, range) = cursor.string(self.max_string_len())?;
        if !is_huffman {
            return Ok(Text::Raw(range));
        }
        let start = self.scratch.len();
        huffman::decode(block.get(range).unwrap_or_default(), &mut self.scratch)?;
        Ok(Text::Decoded(start..self.scratch.len()))
    }

    /// Turns located text into `Bytes`. `own` asks for a compact copy rather
    /// than a slice of the block, for text the table will keep: a slice would
    /// pin the whole block, which the table's size accounting does not see.
    fn materialize(&self, block: &Bytes, text: Text, own: bool) -> Bytes {
        match text {
            Text::Raw(range) if own => Bytes::copy_from_slice(block.get(range).unwrap_or_default()),
            Text::Raw(range) => share(block, range),
            Text::Decoded(range) => {
                Bytes::copy_from_slice(self.scratch.get(range).unwrap_or_default())
            }
            Text::Table(bytes) => bytes,
        }
    }

    /// Decodes a literal field representation (RFC 7541 §6.2).
    fn literal(
        &mut self,
        block: &Bytes,
        cursor: &mut Cursor<'_>,
        prefix_bits: u8,
        indexing: Indexing,
        budget: &mut Budget,
        emit: &mut impl FnMut(Header),
    ) -> Result<(), DecodeError> {
        self.scratch.clear();
        let name_index = cursor.integer(prefix_bits)?;
        let name = if name_index == 0 {
            self.text(block, cursor)?
        } else {
            Text::Table(self.entry(name_index)?.0.clone())
        };
        let value = self.text(block, cursor)?;

        let size = field_size(name.len(), value.len());
        let emit_it = budget.admit(size);
        let mut index_it = indexing == Indexing::Incremental;
        if index_it && size > self.table.max_size() {
            // It would only empty the table; no need to keep its contents.
            self.table.insert_oversized(size);
            index_it = false;
        }
        if !emit_it && !index_it {
            return Ok(());
        }

        let name = self.materialize(block, name, index_it);
        let value = self.materialize(block, value, index_it);
        if index_it {
            self.table.insert(name.clone(), value.clone());
        }
        if emit_it {
            emit(Header {
                name,
                value,
                sensitive: indexing == Indexing::Never,
            });
        }
        Ok(())
    }
}

impl Default for Decoder {
    /// A decoder with the protocol's default table size, 4096.
    fn default() -> Self {
        Decoder::new(DEFAULT_TABLE_SIZE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpack::error::HuffmanError;

    fn decode(d: &mut Decoder, bytes: &[u8]) -> Result<Vec<Header>, DecodeError> {
        d.decode_to_vec(&Bytes::copy_from_slice(bytes))
    }

    #[test]
    fn lone_size_update_prefix_is_truncated() {
        assert_eq!(
            decode(&mut Decoder::new(4096), &[0x3f]),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn huge_integers_overflow() {
        let block = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
        assert_eq!(
            decode(&mut Decoder::new(4096), &block),
            Err(DecodeError::IntegerOverflow)
        );
        // A string length of 2^32 - 1, far beyond the block.
        let block = [0x40, 0x7f, 0x80, 0xff, 0xff, 0xff, 0x0f];
        assert_eq!(
            decode(&mut Decoder::new(4096), &block),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn index_zero_and_past_the_end() {
        let mut d = Decoder::new(4096);
        assert_eq!(
            decode(&mut d, &[0x80]),
            Err(DecodeError::InvalidIndex { index: 0, max: 61 })
        );
        assert_eq!(
            decode(&mut d, &[0xbe]),
            Err(DecodeError::InvalidIndex { index: 62, max: 61 })
        );
        // A literal naming an absent entry.
        assert_eq!(
            decode(&mut Decoder::new(4096), &[0x7e, 0x00]),
            Err(DecodeError::InvalidIndex { index: 62, max: 61 })
        );
        // After one insertion, 62 is valid and 63 is not.
        let mut d = Decoder::new(4096);
        decode(&mut d, &[0x40, 0x01, b'a', 0x01, b'b']).unwrap();
        assert_eq!(decode(&mut d, &[0xbe]).unwrap(), [Header::new("a", "b")]);
        assert_eq!(
            decode(&mut d, &[0xbf]),
            Err(DecodeError::InvalidIndex { index: 63, max: 62 })
        );
    }

    #[test]
    fn size_update_above_setting() {
        let mut d = Decoder::new(4096);
        // 4097 = 31 + 4066 = 0x3f, 0xe2, 0x1f
        assert_eq!(
            decode(&mut d, &[0x3f, 0xe2, 0x1f]),
            Err(DecodeError::TableSizeUpdateTooLarge {
                requested: 4097,
                max: 4096
            })
        );
    }

    #[test]
    fn size_update_mid_block() {
        let mut d = Decoder::new(4096);
        assert_eq!(
            decode(&mut d, &[0x82, 0x20]),
            Err(DecodeError::TableSizeUpdateNotAtStart)
        );
    }

    #[test]
    fn two_size_updates_at_start() {
        let mut d = Decoder::new(4096);
        decode(&mut d, &[0x40, 0x01, b'a', 0x01, b'b']).unwrap();
        assert_eq!(d.table_size(), 34);
        // 0 then 4096 (0x3f 0xe1 0x1f): the entry is gone, the limit is back.
        assert_eq!(
            decode(&mut d, &[0x20, 0x3f, 0xe1, 0x1f, 0x82])
                .unwrap()
                .len(),
            1
        );
        assert_eq!(d.table_size(), 0);
        assert_eq!(d.table.max_size(), 4096);
    }

    #[test]
    fn lowered_setting_requires_update() {
        let mut d = Decoder::new(4096);
        d.set_max_table_size(100);
        assert_eq!(
            decode(&mut d, &[0x82]),
            Err(DecodeError::TableSizeUpdateMissing { max: 100 })
        );

        let mut d = Decoder::new(4096);
        d.set_max_table_size(100);
        // An update above the new setting is rejected as such.
        assert_eq!(
            decode(&mut d, &[0x3f, 0x46, 0x82]),
            Err(DecodeError::TableSizeUpdateTooLarge {
                requested: 101,
                max: 100
            })
        );

        let mut d = Decoder::new(4096);
        d.set_max_table_size(100);
        assert_eq!(decode(&mut d, &[0x3f, 0x45, 0x82]).unwrap().len(), 1);
        // Only the first block needs it.
        assert_eq!(decode(&mut d, &[0x82]).unwrap().len(), 1);

        // An empty block does not carry the update either.
        let mut d = Decoder::new(4096);
        d.set_max_table_size(0);
        assert_eq!(
            decode(&mut d, &[]),
            Err(DecodeError::TableSizeUpdateMissing { max: 0 })
        );
    }

    #[test]
    fn lowered_then_raised_requires_the_minimum() {
        let mut d = Decoder::new(4096);
        d.set_max_table_size(100);
        d.set_max_table_size(4096);
        // Only the final size is not enough.
        assert_eq!(
            decode(&mut d, &[0x3f, 0xe1, 0x1f]),
            Err(DecodeError::TableSizeUpdateMissing { max: 100 })
        );
        let mut d = Decoder::new(4096);
        d.set_max_table_size(100);
        d.set_max_table_size(4096);
        decode(&mut d, &[0x3f, 0x45, 0x3f, 0xe1, 0x1f]).unwrap();
    }

    #[test]
    fn raised_setting_requires_nothing() {
        let mut d = Decoder::new(4096);
        d.set_max_table_size(8192);
        decode(&mut d, &[0x82]).unwrap();
        // And allows growing.
        decode(&mut d, &[0x3f, 0xe1, 0x3f]).unwrap();
        assert_eq!(d.table.max_size(), 8192);
    }

    #[test]
    fn string_longer_than_input() {
        let mut d = Decoder::new(4096);
        assert_eq!(
            decode(&mut d, &[0x40, 0x05, b'a', b'b']),
            Err(DecodeError::Truncated)
        );
        assert_eq!(
            decode(&mut d, &[0x04, 0x7f, 0xff, 0xff, 0x03]),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn string_longer_than_limit() {
        let mut d = Decoder::new(4096);
        let len = MIN_STRING_LIMIT + 1;
        let mut block = vec![0x00, 0x01, b'a'];
        integer::encode(len, 7, 0, &mut block);
        block.resize(block.len() + len, b'x');
        assert_eq!(
            decode(&mut d, &block),
            Err(DecodeError::StringTooLong {
                len,
                max: MIN_STRING_LIMIT
            })
        );
    }

    #[test]
    fn bad_huffman_in_a_field() {
        let mut d = Decoder::new(4096);
        // Name "a" raw, value Huffman 0xff: 8 bits of padding.
        assert_eq!(
            decode(&mut d, &[0x00, 0x01, b'a', 0x81, 0xff]),
            Err(DecodeError::InvalidHuffman(HuffmanError::PaddingTooLong))
        );
        assert_eq!(
            decode(&mut d, &[0x00, 0x01, b'a', 0x84, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::InvalidHuffman(HuffmanError::Eos))
        );
        assert_eq!(
            decode(&mut d, &[0x00, 0x01, b'a', 0x81, 0x18]),
            Err(DecodeError::InvalidHuffman(HuffmanError::PaddingNotOnes))
        );
    }

    #[test]
    fn raw_literals_are_zero_copy() {
        let mut d = Decoder::new(4096);
        let block = Bytes::from_static(&[0x00, 0x01, b'a', 0x01, b'b']);
        let h = d.decode_to_vec(&block).unwrap();
        assert_eq!(h[0].value.as_ptr(), block[4..].as_ptr());
        assert!(!h[0].sensitive);
    }

    #[test]
    fn never_indexed_is_sensitive_and_not_stored() {
        let mut d = Decoder::new(4096);
        let h = decode(&mut d, &[0x10, 0x01, b'a', 0x01, b'b']).unwrap();
        assert_eq!(h, [Header::sensitive("a", "b")]);
        assert_eq!(d.table_size(), 0);
    }

    #[test]
    fn oversized_literal_with_indexing_empties_the_table() {
        let mut d = Decoder::new(64);
        decode(&mut d, &[0x40, 0x01, b'a', 0x01, b'b']).unwrap();
        assert_eq!(d.table_size(), 34);
        let mut block = vec![0x40, 0x01, b'a', 0x20];
        block.extend_from_slice(&[b'x'; 32]);
        let h = decode(&mut d, &block).unwrap();
        assert_eq!(h[0].value.len(), 32);
        assert_eq!(d.table_size(), 0);
    }

    #[test]
    fn name_survives_eviction_of_its_own_entry() {
        // RFC 7541 §4.4: the new entry may reference a name that the
        // insertion itself evicts.
        let mut d = Decoder::new(70);
        decode(&mut d, &[0x40, 0x04, b'a', b'a', b'a', b'a', 0x01, b'b']).unwrap();
        let h = decode(&mut d, &[0x7e, 0x02, b'c', b'c']).unwrap();
        assert_eq!(h, [Header::new("aaaa", "cc")]);
        assert_eq!(d.table_entries(), [Header::new("aaaa", "cc")]);
        assert_eq!(d.table_size(), 38);
    }

    #[test]
    fn header_list_limit_is_exact() {
        let mut d = Decoder::new(4096);
        // ":method GET" is 7 + 3 + 32 = 42.
        d.set_max_header_list_size(84);
        assert_eq!(decode(&mut d, &[0x82, 0x82]).unwrap().len(), 2);
        let mut seen = 0;
        assert_eq!(
            d.decode(&Bytes::from_static(&[0x82, 0x82, 0x82]), |_| seen += 1),
            Err(DecodeError::HeaderListTooLarge { limit: 84 })
        );
        assert_eq!(seen, 2);
    }

    #[test]
    fn error_after_list_overflow_wins() {
        let mut d = Decoder::new(4096);
        d.set_max_header_list_size(10);
        assert_eq!(
            decode(&mut d, &[0x82, 0x80]),
            Err(DecodeError::InvalidIndex { index: 0, max: 61 })
        );
    }

    #[test]
    fn scratch_does_not_stay_large() {
        let mut d = Decoder::new(4096);
        let value = vec![b'a'; 50_000];
        let mut coded = Vec::new();
        huffman::encode(&value, &mut coded);
        let mut block = vec![0x00, 0x01, b'v'];
        integer::encode(coded.len(), 7, 0x80, &mut block);
        block.extend_from_slice(&coded);
        d.set_max_header_list_size(100_000);
        assert_eq!(decode(&mut d, &block).unwrap()[0].value, value);
        assert!(d.scratch.capacity() <= SCRATCH_RETAIN);
    }
}
