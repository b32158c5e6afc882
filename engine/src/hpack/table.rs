//! The dynamic table (RFC 7541 §2.3.2, §4).

use std::collections::VecDeque;

use bytes::Bytes;

use super::header::field_size;
use super::static_table::Match;

/// One dynamic table entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The field name.
    pub(crate) name: Bytes,
    /// The field value.
    pub(crate) value: Bytes,
}

impl Entry {
    /// The accounted size, `name + value + 32`.
    fn size(&self) -> usize {
        field_size(self.name.len(), self.value.len())
    }
}

/// A FIFO of header fields bounded by an accounted size (RFC 7541 §4.1).
///
/// The newest entry has relative index 0, which is HPACK index 62.
#[derive(Debug)]
pub(crate) struct DynamicTable {
    /// Newest first.
    entries: VecDeque<Entry>,
    /// The sum of the entries' sizes; never above `max_size`.
    size: usize,
    /// The current limit, as set by the last dynamic table size update.
    max_size: usize,
}

impl DynamicTable {
    /// An empty table with the given limit.
    pub(crate) fn new(max_size: usize) -> Self {
        DynamicTable {
            entries: VecDeque::new(),
            size: 0,
            max_size,
        }
    }

    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The occupied size in octets.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The limit in octets.
    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    /// The entry at a 0-based relative index (0 is the newest).
    pub(crate) fn get(&self, index: usize) -> Option<&Entry> {
        self.entries.get(index)
    }

    /// Iterates from the newest entry to the oldest.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// Changes the limit, evicting the oldest entries until the table fits
    /// (RFC 7541 §4.3).
    pub(crate) fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size;
        self.evict_to(max_size);
    }

    /// Adds an entry (RFC 7541 §4.4): the oldest entries go until it fits, and
    /// one larger than the whole table just empties it.
    ///
    /// The caller owns the copies: entries should not be slices of a larger
    /// buffer, or the table would pin memory it does not account for.
    pub(crate) fn insert(&mut self, name: Bytes, value: Bytes) {
        let entry = Entry { name, value };
        let size = entry.size();
        match self.max_size.checked_sub(size) {
            Some(room) => {
                self.evict_to(room);
                self.size += size;
                self.entries.push_front(entry);
            }
            None => self.clear(),
        }
    }

    /// The effect of inserting an entry of `size` octets without its contents:
    /// used when the decoder need not keep a field that would not fit anyway.
    pub(crate) fn insert_oversized(&mut self, size: usize) {
        debug_assert!(size > self.max_size);
        self.clear();
    }

    /// Empties the table.
    fn clear(&mut self) {
        self.entries.clear();
        self.size = 0;
    }

    /// Evicts the oldest entries until the size is at most `target`.
    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            match self.entries.pop_back() {
                Some(entry) => self.size = self.size.saturating_sub(entry.size()),
                // Unreachable while `size` is the sum of the entries; stay sane anyway.
                None => self.size = 0,
            }
        }
    }

    /// Finds `name: value`, preferring a full match, as a 0-based relative index.
    pub(crate) fn find(&self, name: &[u8], value: &[u8]) -> Option<Match> {
        let mut name_match = None;
        for (i, entry) in self.entries.iter().enumerate() {
            if entry.name == name {
                if entry.value == value {
                    return Some(Match::Full(i));
                }
                name_match.get_or_insert(i);
            }
        }
        name_match.map(Match::Name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &DynamicTable) -> Vec<&[u8]> {
        t.iter().map(|e| &e.name[..]).collect()
    }

    #[test]
    fn insert_evicts_oldest() {
        let mut t = DynamicTable::new(100);
        t.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1")); // 34
        t.insert(Bytes::from_static(b"b"), Bytes::from_static(b"2")); // 34
        assert_eq!((t.len(), t.size()), (2, 68));
        t.insert(Bytes::from_static(b"c"), Bytes::from_static(b"3"));
        assert_eq!(names(&t), [b"c", b"b"]);
        assert_eq!(t.size(), 68);
    }

    #[test]
    fn entry_exactly_the_table_size_fits() {
        let mut t = DynamicTable::new(34);
        t.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1"));
        assert_eq!(t.size(), 34);
        t.insert(Bytes::from_static(b"b"), Bytes::from_static(b"2"));
        assert_eq!(names(&t), [b"b"]);
    }

    #[test]
    fn oversized_entry_empties_the_table() {
        let mut t = DynamicTable::new(40);
        t.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1"));
        t.insert(Bytes::from_static(b"big"), Bytes::from_static(b"123456"));
        assert_eq!((t.len(), t.size()), (0, 0));
        t.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1"));
        t.insert_oversized(41);
        assert_eq!((t.len(), t.size()), (0, 0));
    }

    #[test]
    fn shrinking_evicts() {
        let mut t = DynamicTable::new(100);
        t.insert(Bytes::from_static(b"a"), Bytes::from_static(b"1"));
        t.insert(Bytes::from_static(b"b"), Bytes::from_static(b"2"));
        t.set_max_size(40);
        assert_eq!(names(&t), [b"b"]);
        t.set_max_size(0);
        assert_eq!((t.len(), t.size()), (0, 0));
    }

    #[test]
    fn find_prefers_full_match() {
        let mut t = DynamicTable::new(4096);
        t.insert(Bytes::from_static(b"k"), Bytes::from_static(b"1"));
        t.insert(Bytes::from_static(b"k"), Bytes::from_static(b"2"));
        assert_eq!(t.find(b"k", b"1"), Some(Match::Full(1)));
        assert_eq!(t.find(b"k", b"3"), Some(Match::Name(0)));
        assert_eq!(t.find(b"x", b"1"), None);
    }
}
