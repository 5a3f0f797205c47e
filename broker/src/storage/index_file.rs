//! A file of fixed-size index entries, mirrored in memory.
//!
//! Both segment indexes (`.index`, `.timeindex`) are append-only arrays of
//! big-endian fixed-size entries. The whole array is kept in memory (an
//! index is at most `segment.index.bytes`, 10 MiB by default) and new
//! entries are written at the end of the file with positional writes, so
//! lookups never touch the disk. Kafka memory-maps the same files; reading
//! them once keeps this crate free of `unsafe`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::StorageError;

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
pub(crate) struct IndexFile<E> {
    path: PathBuf,
    file: File,
    entries: Vec<E>,
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
        let entries = raw.chunks_exact(E::SIZE).map(E::decode).collect();
        Ok(Ok(IndexFile {
            path: path.to_path_buf(),
            file,
            entries,
            max_entries,
        }))
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

    /// Writes `entry` at the end of the file. The caller keeps entries
    /// monotonic and checks [`is_full`](Self::is_full) first.
    pub(crate) fn push(&mut self, entry: E) -> Result<(), StorageError> {
        let mut buf = Vec::with_capacity(E::SIZE);
        entry.encode(&mut buf);
        let at = (self.entries.len() * E::SIZE) as u64;
        self.file
            .write_all_at(&buf, at)
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.entries.push(entry);
        Ok(())
    }

    /// Keeps the first `count` entries, cutting the file after them.
    pub(crate) fn truncate(&mut self, count: usize) -> Result<(), StorageError> {
        if count >= self.entries.len() {
            return Ok(());
        }
        self.file
            .set_len((count * E::SIZE) as u64)
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.entries.truncate(count);
        Ok(())
    }

    /// Forces the file to disk.
    pub(crate) fn sync(&self) -> Result<(), StorageError> {
        self.file
            .sync_data()
            .map_err(|e| StorageError::io(&self.path, e))
    }

    /// Where the file lives.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}
