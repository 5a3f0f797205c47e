//! Whole batches of a segment located without reading them, for Fetch
//! responses sent with `sendfile` (see `storage::file_range`).
//!
//! ```text
//! first batch (found by the fetch) ─▶ .index: a batch that surely ends by the byte limit
//!                                  ─▶ headers from there to the last batch that fits
//! ```
//!
//! The read path reads `max_bytes` and trims the buffer to whole batches;
//! here only the batch headers near the limit are read (two or three
//! 61-byte reads with the default `index.interval.bytes`), so the range
//! covers exactly the bytes the read path would have returned.

use std::sync::Arc;

use durian_core::record::BatchHeader;

use super::super::batch_io::{batch_at, BatchAt};
use super::super::{FileRange, StorageError};
use super::Segment;

/// Whole batches located in a segment file.
#[derive(Debug, Clone)]
pub(crate) struct LocatedBatches {
    /// The file range they cover.
    pub range: FileRange,
    /// The header of the last of them.
    pub last: BatchHeader,
}

impl Segment {
    /// The whole batches from the one at `position` (whose header is
    /// `first` and which fits in `max_bytes`) that end within `max_bytes`
    /// of `position`, as a range of the segment file. `None` when the
    /// bytes there are not a well-formed sequence of batches (a damaged
    /// index or log): the caller then reads, as before.
    pub(crate) fn locate_batches(
        &self,
        position: u64,
        first: BatchHeader,
        max_bytes: usize,
    ) -> Result<Option<LocatedBatches>, StorageError> {
        let limit = position.saturating_add(max_bytes as u64).min(self.size);
        let mut end = position + first.total_len() as u64;
        let mut last = first;
        if end > limit {
            return Ok(None);
        }
        // Skip ahead to an indexed batch that ends within the limit.
        if let Some(indexed) = self.offset_index.batch_ending_by(limit) {
            if indexed >= end {
                match batch_at(&self.log, &self.log_path, indexed, self.size)? {
                    BatchAt::Batch(header) if indexed + header.total_len() as u64 <= limit => {
                        end = indexed + header.total_len() as u64;
                        last = header;
                    }
                    _ => return Ok(None),
                }
            }
        }
        while end < limit {
            match batch_at(&self.log, &self.log_path, end, self.size)? {
                BatchAt::Batch(header) => {
                    let next = end + header.total_len() as u64;
                    if next > limit {
                        break;
                    }
                    end = next;
                    last = header;
                }
                BatchAt::End => break,
                BatchAt::Torn | BatchAt::Invalid(_) => return Ok(None),
            }
        }
        let len = usize::try_from(end - position).unwrap_or(usize::MAX);
        Ok(Some(LocatedBatches {
            range: FileRange::new(Arc::clone(&self.log), position, len),
            last,
        }))
    }
}
