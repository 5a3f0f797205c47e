//! The record batches of one produced partition, found by one walk over
//! the bytes. The produce handler classifies and deep-checks them from it,
//! and [`PartitionLog::append_scanned`](super::PartitionLog::append_scanned)
//! validates and places them, so the bytes are walked once per append.
//!
//! ```text
//!  records ─▶ ScannedRecords::scan ─┬─▶ compressed? (inline or blocking pool)
//!             (positions, headers,  ├─▶ records decode (produce_validate)
//!              how the walk ended)  └─▶ append: CRC, sizes, client rules, place
//! ```

use durian_core::compression::Compression;
use durian_core::record::{BatchError, BatchHeader, BatchScanner};

use super::StorageError;

/// How the walk over the records ended.
#[derive(Debug)]
enum ScanEnd {
    /// Every byte belongs to a whole batch.
    Complete,
    /// A batch header does not parse; the walk stopped there.
    Failed(BatchError),
    /// The records end in a partial batch after `consumed` whole bytes.
    Truncated {
        /// Bytes covered by the whole batches.
        consumed: usize,
    },
}

/// Positions and headers of the whole batches of a produced record set,
/// and how the walk over it ended.
#[derive(Debug)]
pub struct ScannedRecords {
    batches: Vec<(usize, BatchHeader)>,
    end: ScanEnd,
}

impl ScannedRecords {
    /// Walks `records` once, batch by batch, up to the end or the first
    /// header that does not parse.
    pub fn scan(records: &[u8]) -> ScannedRecords {
        let mut scanner = BatchScanner::new(records);
        let mut batches = Vec::new();
        let mut end = ScanEnd::Complete;
        for batch in scanner.by_ref() {
            match batch {
                Ok(batch) => batches.push((batch.position, batch.header)),
                Err(e) => {
                    end = ScanEnd::Failed(e);
                    break;
                }
            }
        }
        if matches!(end, ScanEnd::Complete) && scanner.truncated() {
            end = ScanEnd::Truncated {
                consumed: scanner.consumed(),
            };
        }
        ScannedRecords { batches, end }
    }

    /// The whole batches, as (byte position, header), in order.
    pub fn batches(&self) -> &[(usize, BatchHeader)] {
        &self.batches
    }

    /// Whether no batch is compressed and no header failed to parse (a
    /// partial tail does not count: the append refuses it without work).
    pub fn all_uncompressed(&self) -> bool {
        !matches!(self.end, ScanEnd::Failed(_))
            && self
                .batches
                .iter()
                .all(|(_, header)| header.compression() == Compression::None)
    }

    /// The batches if the walk covered every byte, else why it did not.
    pub(super) fn into_whole_batches(self) -> Result<Vec<(usize, BatchHeader)>, StorageError> {
        match self.end {
            ScanEnd::Complete => Ok(self.batches),
            ScanEnd::Failed(e) => Err(e.into()),
            ScanEnd::Truncated { consumed } => Err(StorageError::CorruptBatch {
                reason: format!("the records end in a partial batch after {consumed} whole bytes"),
            }),
        }
    }
}
