//! The sparse offset index of a segment (`<base>.index`).
//!
//! ```text
//! entry (8 bytes, big-endian): relative offset u32 | file position u32
//! ```
//!
//! An entry is added for a batch after at least `index.interval.bytes` of log
//! were written since the previous entry. The relative offset is the batch's
//! *last* offset minus the segment's base offset, as Kafka does, so a lookup
//! for offset `o` finds the largest entry `<= o` and scans forward from its
//! position for the first batch whose last offset is `>= o`.

use std::path::Path;

use super::index_file::{field, IndexEntry, IndexFile, IndexProblem};
use super::StorageError;

/// One offset index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    /// Last offset of the indexed batch minus the segment base offset.
    pub relative_offset: u32,
    /// Byte position of the indexed batch in the `.log` file.
    pub position: u32,
}

impl IndexEntry for OffsetEntry {
    const SIZE: usize = 8;

    fn decode(bytes: &[u8]) -> Self {
        OffsetEntry {
            relative_offset: u32::from_be_bytes(field(bytes, 0)),
            position: u32::from_be_bytes(field(bytes, 4)),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
    }
}

/// The offset index of one segment.
#[derive(Debug)]
pub(crate) struct OffsetIndex {
    base_offset: i64,
    file: IndexFile<OffsetEntry>,
}

impl OffsetIndex {
    /// Creates an empty index file.
    pub(crate) fn create(
        path: &Path,
        base_offset: i64,
        max_entries: usize,
    ) -> Result<Self, StorageError> {
        Ok(OffsetIndex {
            base_offset,
            file: IndexFile::create(path, max_entries)?,
        })
    }

    /// Loads an index file and checks it against a log of `log_len` bytes:
    /// relative offsets and positions strictly increasing, positions inside
    /// the log. `Ok(Err(_))` says why it must be rebuilt.
    pub(crate) fn load(
        path: &Path,
        base_offset: i64,
        max_entries: usize,
        log_len: u64,
    ) -> Result<Result<Self, IndexProblem>, StorageError> {
        let file = match IndexFile::<OffsetEntry>::open(path, max_entries)? {
            Ok(file) => file,
            Err(problem) => return Ok(Err(problem)),
        };
        let mut previous: Option<OffsetEntry> = None;
        for entry in file.entries() {
            if u64::from(entry.position) >= log_len {
                return Ok(Err(format!(
                    "entry points at position {} past the log end {log_len}",
                    entry.position
                )));
            }
            if let Some(prev) = previous {
                if entry.relative_offset <= prev.relative_offset || entry.position <= prev.position
                {
                    return Ok(Err("entries are not strictly increasing".to_string()));
                }
            }
            previous = Some(*entry);
        }
        Ok(Ok(OffsetIndex { base_offset, file }))
    }

    /// Records that the batch ending at `last_offset` starts at `position`.
    pub(crate) fn append(&mut self, last_offset: i64, position: u32) -> Result<(), StorageError> {
        let relative_offset = self.relative(last_offset);
        if let Some(last) = self.file.last() {
            if relative_offset <= last.relative_offset || position <= last.position {
                return Ok(());
            }
        }
        self.file.push(OffsetEntry {
            relative_offset,
            position,
        })
    }

    /// The position to start scanning from for `offset`: the position of
    /// the last indexed batch ending at or before `offset`, else 0.
    pub(crate) fn lookup(&self, offset: i64) -> u32 {
        let target = offset - self.base_offset;
        if target < 0 {
            return 0;
        }
        let entries = self.file.entries();
        let after = entries.partition_point(|e| i64::from(e.relative_offset) <= target);
        after
            .checked_sub(1)
            .and_then(|i| entries.get(i))
            .map_or(0, |e| e.position)
    }

    /// A batch start from which a forward scan finds the last whole batch
    /// ending at or before `limit` in a few steps: the position of the
    /// next-to-last entry at or before `limit` (that batch ends at or
    /// before the last entry's position, so within `limit`); `None` when
    /// fewer than two entries lie there.
    pub(crate) fn batch_ending_by(&self, limit: u64) -> Option<u64> {
        let entries = self.file.entries();
        let within = entries.partition_point(|e| u64::from(e.position) <= limit);
        within
            .checked_sub(2)
            .and_then(|i| entries.get(i))
            .map(|e| u64::from(e.position))
    }

    /// The newest entry as (absolute last offset, position).
    pub(crate) fn last_entry(&self) -> Option<(i64, u32)> {
        self.file.last().map(|e| {
            (
                self.base_offset
                    .saturating_add(i64::from(e.relative_offset)),
                e.position,
            )
        })
    }

    /// Whether the index is full (the segment must roll).
    pub(crate) fn is_full(&self) -> bool {
        self.file.is_full()
    }

    /// Writes the entries still waiting in memory (see `index_file`).
    pub(crate) fn flush(&self) -> Result<(), StorageError> {
        self.file.flush()
    }

    /// Writes the waiting entries and forces the file to disk.
    pub(crate) fn sync(&self) -> Result<(), StorageError> {
        self.file.sync()
    }

    /// Where the file lives.
    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }

    fn relative(&self, offset: i64) -> u32 {
        // Segments roll before a relative offset could exceed u32::MAX.
        u32::try_from(offset - self.base_offset).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_the_last_entry_at_or_before_the_offset() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.index");
        let mut index = OffsetIndex::create(&path, 100, 10).expect("create");
        assert_eq!(index.lookup(150), 0, "empty index scans from the start");
        index.append(104, 300).expect("append"); // batch ending at 104 starts at 300
        index.append(110, 700).expect("append");
        index.append(110, 900).expect("ignored: not increasing");
        assert_eq!(index.lookup(99), 0);
        assert_eq!(index.lookup(103), 0);
        assert_eq!(index.lookup(104), 300);
        assert_eq!(index.lookup(109), 300);
        assert_eq!(index.lookup(500), 700);
        assert_eq!(index.last_entry(), Some((110, 700)));
        // Entries are written in groups (see `index_file`); flush writes
        // the waiting ones.
        index.flush().expect("flush");
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), 16);

        let loaded = OffsetIndex::load(&path, 100, 10, 800)
            .expect("io")
            .expect("valid");
        assert_eq!(loaded.lookup(109), 300);
        let problem = OffsetIndex::load(&path, 100, 10, 700).expect("io");
        assert!(problem.is_err(), "an entry at the log end is invalid");
        let problem = OffsetIndex::load(&path, 100, 1, 800).expect("io");
        assert!(problem.is_ok(), "one entry of slack");
        let missing = OffsetIndex::load(&dir.path().join("none"), 0, 10, 8).expect("io");
        assert!(missing.is_err());
    }
}
