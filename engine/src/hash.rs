//! A fast hasher for the engine's and the adapters' maps.
//!
//! std's SipHash resists hash flooding, which these maps do not need: their
//! keys are stream ids and tokens the engine counts (bounded by
//! `max_concurrent_streams` and the connection limits, so colliding keys
//! cannot build a long probe sequence) or look-ups in a table fixed at start
//! (the router's names). SipHash cost 6–8 % of a unary call's CPU on the
//! loopback benchmark; this is the multiply-rotate hash of rustc (FxHash).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// The odd constant of FxHash (2^64 / φ).
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// FxHash: per word, rotate, xor in, multiply.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Builds [`FxHasher`]s.
pub type FxBuildHasher = BuildHasherDefault<FxHasher>;

/// A `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, FxBuildHasher>;

/// A `HashSet` with [`FxHasher`].
pub type FxHashSet<T> = HashSet<T, FxBuildHasher>;

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_neighbours_apart() {
        let build = FxBuildHasher::default();
        assert_eq!(build.hash_one(7u32), build.hash_one(7u32));
        assert_ne!(build.hash_one(1u32), build.hash_one(3u32));
        assert_eq!(
            build.hash_one("grpc.testing"),
            build.hash_one("grpc.testing")
        );
        assert_ne!(build.hash_one("TestService"), build.hash_one("TestServicf"));
    }

    #[test]
    fn the_tail_of_a_string_counts() {
        let build = FxBuildHasher::default();
        // Strings that differ only past the last full word.
        assert_ne!(build.hash_one("abcdefgh1"), build.hash_one("abcdefgh2"));
    }

    #[test]
    fn a_map_of_sequential_ids_finds_them_all() {
        let mut map = FxHashMap::default();
        for id in (1u32..20_000).step_by(2) {
            map.insert(id, id * 2);
        }
        assert!((1u32..20_000).step_by(2).all(|id| map[&id] == id * 2));
        assert!(!map.contains_key(&2));
    }
}
