//! The aborted-transaction index (`.txnindex`) of a segment.
//!
//! ```text
//! entry (34 bytes, big-endian, Kafka's layout):
//!   version i16 (0) | producer_id i64 | first_offset i64 | last_offset i64 | last_stable_offset i64
//! ```
//!
//! One entry per abort marker, in the segment holding the marker:
//! `first_offset` is the transaction's first batch (possibly in an earlier
//! segment), `last_offset` the marker, and `last_stable_offset` the
//! partition's LSO just after the marker. A read_committed fetch asks which
//! aborted transactions overlap the range it returns, so the consumer can
//! drop their records. The entries are kept in memory (a few per abort).
//!
//! Opening keeps the whole entries of the file and cuts a torn last one.
//! A missing or unreadable file is rebuilt from the log, and so are the
//! entries of a recovered segment from the producer snapshot on, by the
//! partition's producer replay (see `PartitionLog::load_producer_state`).

use std::path::Path;

use durian_core::record::BATCH_HEADER_LEN;

use super::index_file::{field, IndexEntry, IndexFile, IndexProblem};
use super::{LogConfig, StorageError};

/// Version of the entries written.
const ENTRY_VERSION: i16 = 0;

/// One aborted transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AbortedTxn {
    /// The producer whose transaction it was.
    pub producer_id: i64,
    /// Offset of the transaction's first batch.
    pub first_offset: i64,
    /// Offset of the abort marker.
    pub last_offset: i64,
    /// The partition's last stable offset right after the marker.
    pub last_stable_offset: i64,
}

/// An entry as stored, with its version.
#[derive(Debug, Clone, Copy)]
struct Stored {
    version: i16,
    txn: AbortedTxn,
}

impl IndexEntry for Stored {
    const SIZE: usize = 34;

    fn decode(bytes: &[u8]) -> Self {
        Stored {
            version: i16::from_be_bytes(field(bytes, 0)),
            txn: AbortedTxn {
                producer_id: i64::from_be_bytes(field(bytes, 2)),
                first_offset: i64::from_be_bytes(field(bytes, 10)),
                last_offset: i64::from_be_bytes(field(bytes, 18)),
                last_stable_offset: i64::from_be_bytes(field(bytes, 26)),
            },
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.txn.producer_id.to_be_bytes());
        out.extend_from_slice(&self.txn.first_offset.to_be_bytes());
        out.extend_from_slice(&self.txn.last_offset.to_be_bytes());
        out.extend_from_slice(&self.txn.last_stable_offset.to_be_bytes());
    }
}

/// A segment's `.txnindex`. See the module docs.
#[derive(Debug)]
pub(crate) struct TxnIndex {
    file: IndexFile<Stored>,
}

/// Most entries a segment of `config` can need: one abort marker is at
/// least a batch header long.
fn max_entries(config: &LogConfig) -> usize {
    usize::try_from(config.segment_bytes / BATCH_HEADER_LEN as u64).unwrap_or(usize::MAX / 2) + 1
}

impl TxnIndex {
    /// Creates (or empties) the index at `path`.
    pub(crate) fn create(path: &Path, config: &LogConfig) -> Result<TxnIndex, StorageError> {
        Ok(TxnIndex {
            // Written through: few entries, each deciding what consumers skip.
            file: IndexFile::create(path, max_entries(config))?.write_through(),
        })
    }

    /// Opens the index at `path` of a segment whose log ends before
    /// `next_offset`. A torn last entry, and entries for markers past the
    /// log end (the log was cut), are cut off; `Ok(Err(problem))` means the
    /// file is missing or unreadable and must be rebuilt from the log.
    pub(crate) fn load(
        path: &Path,
        config: &LogConfig,
        next_offset: i64,
    ) -> Result<Result<TxnIndex, IndexProblem>, StorageError> {
        cut_torn_tail(path)?;
        let file = match IndexFile::<Stored>::open(path, max_entries(config))? {
            Ok(file) => file.write_through(),
            Err(problem) => return Ok(Err(problem)),
        };
        if let Some(bad) = file.entries().iter().find(|e| e.version != ENTRY_VERSION) {
            return Ok(Err(format!("unknown entry version {}", bad.version)));
        }
        let mut index = TxnIndex { file };
        index.truncate_from(next_offset)?;
        Ok(Ok(index))
    }

    /// Drops the entries whose marker is at or after `offset` (the log was
    /// cut there, or the markers from there on are about to be replayed).
    pub(crate) fn truncate_from(&mut self, offset: i64) -> Result<(), StorageError> {
        let kept = self
            .file
            .entries()
            .iter()
            .take_while(|e| e.txn.last_offset < offset)
            .count();
        self.file.truncate(kept)
    }

    /// Records an aborted transaction (its marker was just appended).
    pub(crate) fn append(&mut self, txn: AbortedTxn) -> Result<(), StorageError> {
        self.file.push(Stored {
            version: ENTRY_VERSION,
            txn,
        })
    }

    /// The entries, oldest first.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &AbortedTxn> {
        self.file.entries().iter().map(|stored| &stored.txn)
    }

    /// Forces the file to disk.
    pub(crate) fn sync(&self) -> Result<(), StorageError> {
        self.file.sync()
    }

    /// Where the file lives.
    pub(crate) fn path(&self) -> &Path {
        self.file.path()
    }
}

/// Cuts a file whose length is not a whole number of entries (a write
/// interrupted by a crash) back to its whole entries.
fn cut_torn_tail(path: &Path) -> Result<(), StorageError> {
    let file = match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StorageError::io(path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| StorageError::io(path, e))?
        .len();
    let whole = len - len % Stored::SIZE as u64;
    if whole != len {
        tracing::warn!(index = %path.display(), len, "cutting a torn entry off a transaction index");
        file.set_len(whole).map_err(|e| StorageError::io(path, e))?;
    }
    Ok(())
}
