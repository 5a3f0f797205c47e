//! A read-only view of a sealed segment, for the log cleaner to read
//! without holding the partition lock.
//!
//! A sealed segment's bytes never change again: appends go to the active
//! segment only. The view shares the segment's open `.log` file (an
//! `Arc<File>`), so it keeps reading the same bytes even if the segment is
//! deleted (retention, DeleteRecords) or replaced by a cleaned copy in the
//! meantime: on Unix an unlinked or renamed-over file stays readable
//! through the descriptors still open on it, and the file is closed when
//! its last holder drops it. Whether the view still matches the log is for
//! the holder to check ([`Segment::is_viewed_by`](super::Segment::is_viewed_by))
//! before acting on what it read.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use durian_core::record::BatchHeader;

use super::{read_clamped, visit_headers};
use crate::storage::txn_index::AbortedTxn;
use crate::storage::StorageError;

/// See the module docs; made by [`Segment::sealed_view`](super::Segment::sealed_view).
#[derive(Debug, Clone)]
pub(crate) struct SealedSegment {
    pub(super) base_offset: i64,
    pub(super) log_path: PathBuf,
    pub(super) log: Arc<File>,
    pub(super) size: u64,
    pub(super) next_offset: i64,
    /// The segment's newest timestamp (see `Segment::retention_timestamp`).
    pub(super) retention_timestamp: i64,
    /// Its transaction index entries.
    pub(super) aborted: Vec<AbortedTxn>,
}

impl SealedSegment {
    /// Base offset (the file name).
    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Offset after the last batch.
    pub(crate) fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Newest timestamp, as retention and the cleaner's tombstone horizon
    /// see it.
    pub(crate) fn retention_timestamp(&self) -> i64 {
        self.retention_timestamp
    }

    /// The aborted transactions whose marker is in this segment, in order.
    pub(crate) fn aborted_txns(&self) -> impl Iterator<Item = &AbortedTxn> {
        self.aborted.iter()
    }

    /// Reads `len` bytes at `position`, clamped to the segment size.
    pub(crate) fn read_bytes(&self, position: u64, len: usize) -> Result<Vec<u8>, StorageError> {
        read_clamped(&self.log, &self.log_path, self.size, position, len)
    }

    /// Calls `visit` with every batch header in order.
    pub(crate) fn for_each_header(
        &self,
        visit: impl FnMut(u64, &BatchHeader),
    ) -> Result<(), StorageError> {
        visit_headers(&self.log, &self.log_path, self.size, visit)
    }
}
