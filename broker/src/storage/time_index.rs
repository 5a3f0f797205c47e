//! The sparse time index of a segment (`<base>.timeindex`).
//!
//! ```text
//! entry (12 bytes, big-endian): timestamp i64 | relative offset u32
//! ```
//!
//! An entry records that the largest timestamp seen so far in the segment
//! reached `timestamp` at the batch ending at `base + relative offset`.
//! Entries are added only when that maximum grows, so timestamps are strictly
//! increasing. When a segment stops being active a closing entry with the
//! segment's final maximum is written, so the last entry of an inactive
//! segment is its largest timestamp.

use std::path::Path;

use super::index_file::{field, IndexEntry, IndexFile, IndexProblem};
use super::StorageError;

/// One time index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    /// Largest timestamp in the segment up to and including the batch.
    pub timestamp: i64,
    /// Last offset of that batch minus the segment base offset.
    pub relative_offset: u32,
}

impl IndexEntry for TimeEntry {
    const SIZE: usize = 12;

    fn decode(bytes: &[u8]) -> Self {
        TimeEntry {
            timestamp: i64::from_be_bytes(field(bytes, 0)),
            relative_offset: u32::from_be_bytes(field(bytes, 8)),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&self.relative_offset.to_be_bytes());
    }
}

/// The time index of one segment.
#[derive(Debug)]
pub(crate) struct TimeIndex {
    base_offset: i64,
    file: IndexFile<TimeEntry>,
}

impl TimeIndex {
    /// Creates an empty index file.
    pub(crate) fn create(
        path: &Path,
        base_offset: i64,
        max_entries: usize,
    ) -> Result<Self, StorageError> {
        Ok(TimeIndex {
            base_offset,
            file: IndexFile::create(path, max_entries)?,
        })
    }

    /// Loads an index file and checks it against a segment whose next
    /// offset is `next_offset`: timestamps and offsets strictly increasing,
    /// offsets inside the segment. `Ok(Err(_))` says why it must be rebuilt.
    pub(crate) fn load(
        path: &Path,
        base_offset: i64,
        max_entries: usize,
        next_offset: i64,
    ) -> Result<Result<Self, IndexProblem>, StorageError> {
        let file = match IndexFile::<TimeEntry>::open(path, max_entries)? {
            Ok(file) => file,
            Err(problem) => return Ok(Err(problem)),
        };
        let limit = next_offset - base_offset;
        let mut previous: Option<TimeEntry> = None;
        for entry in file.entries() {
            if i64::from(entry.relative_offset) >= limit {
                return Ok(Err(format!(
                    "entry names offset {} past the segment end {next_offset}",
                    base_offset.saturating_add(i64::from(entry.relative_offset))
                )));
            }
            if let Some(prev) = previous {
                if entry.timestamp <= prev.timestamp || entry.relative_offset < prev.relative_offset
                {
                    return Ok(Err("entries are not increasing".to_string()));
                }
            }
            previous = Some(*entry);
        }
        Ok(Ok(TimeIndex { base_offset, file }))
    }

    /// Records that the segment's largest timestamp reached `timestamp` at
    /// the batch ending at `offset`; ignored unless `timestamp` is new.
    pub(crate) fn append(&mut self, timestamp: i64, offset: i64) -> Result<(), StorageError> {
        if self.file.last().is_some_and(|e| timestamp <= e.timestamp) {
            return Ok(());
        }
        let relative_offset = u32::try_from(offset - self.base_offset).unwrap_or(u32::MAX);
        self.file.push(TimeEntry {
            timestamp,
            relative_offset,
        })
    }

    /// The offset to start searching from for the first batch with a
    /// timestamp `>= timestamp`: the offset of the last entry whose
    /// timestamp is `<= timestamp`, else the segment's base offset.
    pub(crate) fn lookup(&self, timestamp: i64) -> i64 {
        let entries = self.file.entries();
        let after = entries.partition_point(|e| e.timestamp <= timestamp);
        after
            .checked_sub(1)
            .and_then(|i| entries.get(i))
            .map_or(self.base_offset, |e| {
                self.base_offset
                    .saturating_add(i64::from(e.relative_offset))
            })
    }

    /// The newest entry as (timestamp, absolute offset).
    pub(crate) fn last_entry(&self) -> Option<(i64, i64)> {
        self.file.last().map(|e| {
            (
                e.timestamp,
                self.base_offset
                    .saturating_add(i64::from(e.relative_offset)),
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_validation() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.timeindex");
        let mut index = TimeIndex::create(&path, 50, 10).expect("create");
        assert_eq!(index.lookup(1_000), 50, "empty index: segment start");
        index.append(1_000, 52).expect("append");
        index.append(900, 55).expect("ignored: not a new maximum");
        index.append(2_000, 58).expect("append");
        assert_eq!(index.lookup(999), 50);
        assert_eq!(index.lookup(1_000), 52);
        assert_eq!(index.lookup(1_999), 52);
        assert_eq!(index.lookup(5_000), 58);
        assert_eq!(index.last_entry(), Some((2_000, 58)));
        // Entries are written in groups (see `index_file`); flush writes
        // the waiting ones.
        index.flush().expect("flush");
        assert!(TimeIndex::load(&path, 50, 10, 59).expect("io").is_ok());
        assert!(
            TimeIndex::load(&path, 50, 10, 58).expect("io").is_err(),
            "offset past the end"
        );
    }
}
