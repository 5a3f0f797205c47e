//! The cleaner's offset map: for each key of the dirty section, the offset
//! of its latest record, within a fixed memory budget.
//!
//! Kafka keeps 16-byte MD5 digests of keys in a flat table; durian keeps
//! the keys themselves (no collision can ever drop a live record) and
//! charges each entry its key length plus a fixed overhead against the
//! budget (`CleanerConfig::dedupe_buffer_bytes`).

use std::collections::HashMap;

use bytes::Bytes;

/// Bytes charged per entry on top of the key: the offset, the hash table
/// slot and the key's handle, rounded up.
pub(crate) const ENTRY_OVERHEAD: usize = 64;

/// Key → offset of its latest record. See the module docs.
#[derive(Debug)]
pub(crate) struct OffsetMap {
    latest: HashMap<Bytes, i64>,
    used: usize,
    budget: usize,
}

/// The map refused a new key: its budget is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MapFull;

impl OffsetMap {
    /// An empty map that may hold entries worth `budget` bytes.
    pub(crate) fn new(budget: usize) -> OffsetMap {
        OffsetMap {
            latest: HashMap::new(),
            used: 0,
            budget,
        }
    }

    /// Records that `key` was written at `offset`. Offsets must be offered
    /// in increasing order, so the last one wins. A key already present
    /// costs nothing more; a new one that does not fit is refused.
    pub(crate) fn put(&mut self, key: &[u8], offset: i64) -> Result<(), MapFull> {
        if let Some(slot) = self.latest.get_mut(key) {
            *slot = offset;
            return Ok(());
        }
        let cost = key.len().saturating_add(ENTRY_OVERHEAD);
        if self.used.saturating_add(cost) > self.budget {
            return Err(MapFull);
        }
        self.used += cost;
        self.latest.insert(Bytes::copy_from_slice(key), offset);
        Ok(())
    }

    /// The offset of the latest record of `key`, if the map saw one.
    pub(crate) fn get(&self, key: &[u8]) -> Option<i64> {
        self.latest.get(key).copied()
    }

    /// Number of keys.
    pub(crate) fn len(&self) -> usize {
        self.latest.len()
    }

    /// Bytes of the budget in use.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_offset_wins() {
        let mut map = OffsetMap::new(1 << 20);
        assert_eq!(map.put(b"a", 1), Ok(()));
        assert_eq!(map.put(b"b", 2), Ok(()));
        assert_eq!(map.put(b"a", 7), Ok(()));
        assert_eq!(map.get(b"a"), Some(7));
        assert_eq!(map.get(b"b"), Some(2));
        assert_eq!(map.get(b"c"), None);
        assert_eq!(map.len(), 2);
        assert_eq!(map.used(), 2 * (1 + ENTRY_OVERHEAD));
    }

    #[test]
    fn the_budget_bounds_new_keys_but_not_updates() {
        let mut map = OffsetMap::new(2 * (3 + ENTRY_OVERHEAD));
        assert_eq!(map.put(b"one", 0), Ok(()));
        assert_eq!(map.put(b"two", 1), Ok(()));
        assert_eq!(map.put(b"six", 2), Err(MapFull));
        assert_eq!(map.get(b"six"), None);
        // Updating a known key needs no room.
        assert_eq!(map.put(b"one", 3), Ok(()));
        assert_eq!(map.get(b"one"), Some(3));
    }
}
