//! A file of fixed-size index entries, mirrored in memory.
//!
//! Both segment indexes (`.index`, `.timeindex`) are append-only arrays of
//! big-endian fixed-size entries. The whole array is kept in memory (an
//! index is at most `segment.index.bytes`, 10 MiB by default) and new
//! entries are written at the end of the file with positional writes, so
//! lookups never touch the disk. Kafka memory-maps the same files; reading
//! them once keeps this crate free of `unsafe`.
//!
//! Offset and time index entries reach the file [`WRITE_EVERY`] at a
//! time, not one by one:
//! with 10 KB batches every batch gets an offset index entry, and a
//! `pwrite` of 8 bytes per batch was ~6 % of the broker's CPU (issue 18).
//! Entries still waiting are written by `sync`, `flush` (a segment that
//! stops being active), `truncate` and on drop. The page cache, not this
//! buffer, is what a crashed broker's disk state depended on before, so
//! only a killed process can lose the waiting entries; an index short of
//! its newest entries is still valid (it is sparse by design), and
//! opening the segment scans the log from the last entry on anyway. The
//! transaction index, whose entries are few and say which records a
//! consumer must skip, is written through ([`IndexFile::write_through`]).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::StorageError;

/// How many new entries wait in memory before they are written together.
pub(crate) const WRITE_EVERY: usize = 64;

/// One fixed-size entry of an index file.
pub(crate) trait IndexEntry: Copy {
    /// Encoded size in bytes.
    const SIZE: usize;
    /// Decodes an entry from exactly `SIZE` bytes.
    fn decode(bytes: &[u8]) -> Self;
    /// Appends the encoding to `out`.
    fn encode(&self, out: &mut Vec<u8>);
}

/// The `N` bytes of `bytes` at `at`, zero-filled if `bytes` is too short
/// (entries are only decoded from `chunks_exact`, so that never happens).
pub(crate) fn field<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = bytes.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

/// An index file and its entries.
#[derive(Debug)]
pub(crate) struct IndexFile<E: IndexEntry> {
    path: PathBuf,
    file: File,
    entries: Vec<E>,
    /// How many of `entries` are in the file; the rest wait in memory.
    /// Atomic so that `sync(&self)` can write them.
    written: AtomicUsize,
    /// Write once this many entries wait (1: every entry at once).
    group: usize,
    max_entries: usize,
}

/// Why an index file on disk cannot be trusted (it is then rebuilt).
pub(crate) type IndexProblem = String;

impl<E: IndexEntry> IndexFile<E> {
    /// Creates (or empties) the index file at `path`.
    pub(crate) fn create(path: &Path, max_entries: usize) -> Result<Self, StorageError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| StorageError::io(path, e))?;
        Ok(IndexFile {
            path: path.to_path_buf(),
            file,
            entries: Vec::new(),
            written: AtomicUsize::new(0),
            group: WRITE_EVERY,
            max_entries,
        })
    }

    /// Opens an existing index file and decodes its entries.
    ///
    /// `Ok(Err(problem))` means the file is missing or malformed (length not
    /// a multiple of the entry size, more entries than allowed) and should be
    /// rebuilt; `Err` is an I/O failure. The caller checks the entries'
    /// meaning (monotonic, inside the log).
    pub(crate) fn open(
        path: &Path,
        max_entries: usize,
    ) -> Result<Result<Self, IndexProblem>, StorageError> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Err("index file is missing".to_string()))
            }
            Err(e) => return Err(StorageError::io(path, e)),
        };
        let len = file
            .metadata()
            .map_err(|e| StorageError::io(path, e))?
            .len();
        if len % E::SIZE as u64 != 0 {
            return Ok(Err(format!(
                "length {len} is not a multiple of the {}-byte entry size",
                E::SIZE
            )));
        }
        // Checked before allocating so a huge junk file is never read in.
        // One entry of slack: the closing time index entry of a segment is
        // written even when the index is full.
        let count = len / E::SIZE as u64;
        if count > max_entries as u64 + 1 {
            return Ok(Err(format!(
                "{count} entries exceed the maximum of {max_entries}"
            )));
        }
        let mut raw = vec![0u8; len as usize];
        file.read_exact_at(&mut raw, 0)
            .map_err(|e| StorageError::io(path, e))?;
        let entries: Vec<E> = raw.chunks_exact(E::SIZE).map(E::decode).collect();
        Ok(Ok(IndexFile {
            path: path.to_path_buf(),
            file,
            written: AtomicUsize::new(entries.len()),
            group: WRITE_EVERY,
            entries,
            max_entries,
        }))
    }

    /// Writes every entry as it is pushed instead of in groups.
    pub(crate) fn write_through(mut self) -> Self {
        self.group = 1;
        self
    }

    /// The entries, oldest first.
    pub(crate) fn entries(&self) -> &[E] {
        &self.entries
    }

    /// The newest entry.
    pub(crate) fn last(&self) -> Option<&E> {
        self.entries.last()
    }

    /// Whether no more entries fit (the segment must roll).
    pub(crate) fn is_full(&self) -> bool {
        self.entries.len() >= self.max_entries
    }

    /// Adds `entry` at the end; it reaches the file with the next
    /// [`WRITE_EVERY`] entries (at once if [`write_through`](Self::write_through)),
    /// or at `flush`/`sync`/drop. The caller keeps
    /// entries monotonic and checks [`is_full`](Self::is_full) first. An
    /// error means the waiting entries could not be written: they stay in
    /// memory, where lookups still use them, except a written-through
    /// entry, which is dropped as before.
    pub(crate) fn push(&mut self, entry: E) -> Result<(), StorageError> {
        self.entries.push(entry);
        if self.entries.len() - *self.written.get_mut() >= self.group {
            if let Err(e) = self.flush() {
                if self.group == 1 {
                    // Written through: memory never holds what the file lacks.
                    self.entries.pop();
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Writes the entries still waiting in memory to the file.
    pub(crate) fn flush(&self) -> Result<(), StorageError> {
        let written = self.written.load(Ordering::Acquire);
        let Some(waiting) = self.entries.get(written..).filter(|w| !w.is_empty()) else {
            return Ok(());
        };
        let mut buf = Vec::with_capacity(waiting.len() * E::SIZE);
        for entry in waiting {
            entry.encode(&mut buf);
        }
        self.file
            .write_all_at(&buf, (written * E::SIZE) as u64)
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.written.store(self.entries.len(), Ordering::Release);
        Ok(())
    }

    /// Keeps the first `count` entries, cutting the file after them.
    pub(crate) fn truncate(&mut self, count: usize) -> Result<(), StorageError> {
        if count >= self.entries.len() {
            return Ok(());
        }
        let written = self.written.get_mut();
        if count < *written {
            self.file
                .set_len((count * E::SIZE) as u64)
                .map_err(|e| StorageError::io(&self.path, e))?;
            *written = count;
        }
        self.entries.truncate(count);
        Ok(())
    }

    /// Writes the waiting entries and forces the file to disk.
    pub(crate) fn sync(&self) -> Result<(), StorageError> {
        self.flush()?;
        self.file
            .sync_data()
            .map_err(|e| StorageError::io(&self.path, e))
    }

    /// Where the file lives.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl<E: IndexEntry> Drop for IndexFile<E> {
    fn drop(&mut self) {
        // Best effort: drop cannot report a failure, and an index missing
        // its newest entries stays valid (opening the segment scans the
        // log after the last entry).
        if let Err(error) = self.flush() {
            tracing::warn!(%error, "could not write an index's last entries");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4-byte big-endian entry, enough to see what reached the file.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Entry(u32);

    impl IndexEntry for Entry {
        const SIZE: usize = 4;
        fn decode(bytes: &[u8]) -> Self {
            Entry(u32::from_be_bytes(field(bytes, 0)))
        }
        fn encode(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.0.to_be_bytes());
        }
    }

    /// The entries the file holds now, read back from disk.
    fn on_disk(path: &Path) -> Vec<u32> {
        let bytes = std::fs::read(path).expect("read the index file");
        bytes
            .chunks_exact(Entry::SIZE)
            .map(|c| Entry::decode(c).0)
            .collect()
    }

    #[test]
    fn entries_reach_the_file_a_group_at_a_time_and_at_sync() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.index");
        let mut index = IndexFile::<Entry>::create(&path, 1_000).expect("create");
        for n in 0..WRITE_EVERY as u32 - 1 {
            index.push(Entry(n)).expect("push");
        }
        assert!(
            on_disk(&path).is_empty(),
            "fewer than a group wait in memory"
        );
        assert_eq!(index.entries().len(), WRITE_EVERY - 1, "lookups see them");
        index.push(Entry(WRITE_EVERY as u32 - 1)).expect("push");
        let expected: Vec<u32> = (0..WRITE_EVERY as u32).collect();
        assert_eq!(on_disk(&path), expected, "a full group is written");
        index.push(Entry(1_000)).expect("push");
        index.sync().expect("sync");
        let mut expected = expected;
        expected.push(1_000);
        assert_eq!(on_disk(&path), expected, "sync writes what waits");
    }

    #[test]
    fn waiting_entries_are_written_on_drop_and_read_back_by_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.index");
        let mut index = IndexFile::<Entry>::create(&path, 1_000).expect("create");
        for n in 0..3 {
            index.push(Entry(n)).expect("push");
        }
        drop(index);
        assert_eq!(on_disk(&path), vec![0, 1, 2]);
        let mut reopened = IndexFile::<Entry>::open(&path, 1_000)
            .expect("open")
            .expect("a valid index");
        assert_eq!(reopened.entries(), &[Entry(0), Entry(1), Entry(2)]);
        // Appends continue after what was read, not over it.
        reopened.push(Entry(3)).expect("push");
        reopened.flush().expect("flush");
        assert_eq!(on_disk(&path), vec![0, 1, 2, 3]);
    }

    #[test]
    fn truncate_cuts_written_and_waiting_entries_alike() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("0.index");
        let mut index = IndexFile::<Entry>::create(&path, 1_000).expect("create");
        let count = WRITE_EVERY as u32 + 5;
        for n in 0..count {
            index.push(Entry(n)).expect("push");
        }
        // Into the waiting entries: the file keeps its full group.
        index.truncate(WRITE_EVERY + 2).expect("truncate");
        assert_eq!(on_disk(&path).len(), WRITE_EVERY);
        // Into the written ones: the file is cut, and later entries are
        // written right after the cut.
        index.truncate(10).expect("truncate");
        assert_eq!(on_disk(&path), (0..10).collect::<Vec<u32>>());
        index.push(Entry(500)).expect("push");
        index.flush().expect("flush");
        let mut expected: Vec<u32> = (0..10).collect();
        expected.push(500);
        assert_eq!(on_disk(&path), expected);
        assert_eq!(index.entries().len(), 11);
    }
}
