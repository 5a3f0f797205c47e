//! Opening a segment found on disk, in two flavours: [`Segment::open`]
//! trusts the files after a clean shutdown (checking only the index files
//! and the log tail), [`Segment::recover`] validates every batch and
//! rebuilds the indexes (the partition-level logic is in `recovery.rs`).

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::Arc;

use super::{Segment, TxnIndexState, NO_TIMESTAMP};
use crate::storage::batch_io::{batch_at, BatchAt};
use crate::storage::faults::Faults;
use crate::storage::layout::{
    segment_file, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX,
};
use crate::storage::offset_index::OffsetIndex;
use crate::storage::recovery::{validate_log, Truncation};
use crate::storage::time_index::TimeIndex;
use crate::storage::txn_index::TxnIndex;
use crate::storage::{LogConfig, StorageError};

/// What a segment found to be wrong when opened after a clean shutdown.
pub(crate) type SegmentProblem = String;

impl Segment {
    /// Opens a segment written before a clean shutdown.
    ///
    /// The index files are loaded and checked, and batch headers are scanned
    /// from the last offset index entry to the end of the log to find the
    /// next offset. `Ok(Err(problem))` means the files disagree (missing or
    /// damaged index, junk at the end of the log) and the segment must be
    /// recovered instead.
    pub(crate) fn open(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<Result<Segment, SegmentProblem>, StorageError> {
        let log_path = segment_file(dir, base_offset, LOG_SUFFIX);
        let log = open_log(&log_path)?;
        let size = file_len(&log, &log_path)?;
        let offset_index = match OffsetIndex::load(
            &segment_file(dir, base_offset, INDEX_SUFFIX),
            base_offset,
            config.max_offset_index_entries(),
            size,
        )? {
            Ok(index) => index,
            Err(problem) => return Ok(Err(format!("offset index: {problem}"))),
        };
        let mut tail = TailScan {
            next_offset: base_offset,
            max_timestamp: NO_TIMESTAMP,
            offset_of_max_timestamp: -1,
        };
        if let Err(problem) = scan_tail(
            &log,
            &log_path,
            base_offset,
            offset_index.last_entry(),
            size,
            &mut tail,
        )? {
            return Ok(Err(problem));
        }
        let time_index = match TimeIndex::load(
            &segment_file(dir, base_offset, TIME_INDEX_SUFFIX),
            base_offset,
            config.max_time_index_entries(),
            tail.next_offset,
        )? {
            Ok(index) => index,
            Err(problem) => return Ok(Err(format!("time index: {problem}"))),
        };
        let txn_path = segment_file(dir, base_offset, TXN_INDEX_SUFFIX);
        let (txn_index, txn_index_state) =
            load_txn_index(&txn_path, config, tail.next_offset, TxnIndexState::Current)?;
        let (mut max_timestamp, mut offset_of_max) =
            time_index.last_entry().unwrap_or((NO_TIMESTAMP, -1));
        if tail.max_timestamp > max_timestamp {
            max_timestamp = tail.max_timestamp;
            offset_of_max = tail.offset_of_max_timestamp;
        }
        let mut segment = Segment {
            base_offset,
            log_path,
            log: Arc::new(log),
            size,
            next_offset: tail.next_offset,
            offset_index,
            time_index,
            // Conservatively index the next append.
            bytes_since_index_entry: u64::from(config.index_interval_bytes) + 1,
            max_timestamp,
            offset_of_max_timestamp: offset_of_max,
            rolling_timestamp: now_ms,
            index_interval_bytes: u64::from(config.index_interval_bytes),
            faults: Faults::default(),
            index_dirty: false,
            txn_index,
            txn_index_state,
        };
        segment.rolling_timestamp = segment
            .first_batch_timestamp()?
            .map_or(now_ms, |ts| ts.min(now_ms));
        Ok(Ok(segment))
    }

    /// Opens a segment validating every batch (CRC, lengths, increasing
    /// offsets not below `base_offset`), cuts the log at the first invalid
    /// or torn batch, and rebuilds both indexes from the valid batches.
    pub(crate) fn recover(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<(Segment, Truncation), StorageError> {
        let log_path = segment_file(dir, base_offset, LOG_SUFFIX);
        let log = open_log(&log_path)?;
        let file_size = file_len(&log, &log_path)?;
        let scan_handle = log
            .try_clone()
            .map_err(|e| StorageError::io(&log_path, e))?;
        // Entries past the validated log are dropped below.
        let (txn_index, txn_index_state) = load_txn_index(
            &segment_file(dir, base_offset, TXN_INDEX_SUFFIX),
            config,
            i64::MAX,
            TxnIndexState::Recovered,
        )?;
        let mut segment = Segment {
            base_offset,
            log_path,
            log: Arc::new(log),
            size: 0,
            next_offset: base_offset,
            offset_index: OffsetIndex::create(
                &segment_file(dir, base_offset, INDEX_SUFFIX),
                base_offset,
                config.max_offset_index_entries(),
            )?,
            time_index: TimeIndex::create(
                &segment_file(dir, base_offset, TIME_INDEX_SUFFIX),
                base_offset,
                config.max_time_index_entries(),
            )?,
            bytes_since_index_entry: 0,
            max_timestamp: NO_TIMESTAMP,
            offset_of_max_timestamp: -1,
            rolling_timestamp: now_ms,
            index_interval_bytes: u64::from(config.index_interval_bytes),
            faults: Faults::default(),
            index_dirty: false,
            txn_index,
            txn_index_state,
        };
        let path = segment.log_path.clone();
        let truncation = validate_log(
            &scan_handle,
            &path,
            base_offset,
            file_size,
            |position, header| {
                segment.index_batch(header, position);
                Ok(())
            },
        )?;
        if truncation.valid_bytes < file_size {
            segment
                .log
                .set_len(truncation.valid_bytes)
                .map_err(|e| StorageError::io(&segment.log_path, e))?;
        }
        segment.size = truncation.valid_bytes;
        segment.txn_index.truncate_from(segment.next_offset)?;
        segment.seal();
        segment.rolling_timestamp = segment
            .first_batch_timestamp()?
            .map_or(now_ms, |ts| ts.min(now_ms));
        Ok((segment, truncation))
    }

    fn first_batch_timestamp(&self) -> Result<Option<i64>, StorageError> {
        Ok(match batch_at(&self.log, &self.log_path, 0, self.size)? {
            BatchAt::Batch(header) if header.max_timestamp >= 0 => Some(header.max_timestamp),
            _ => None,
        })
    }
}

/// Loads a segment's `.txnindex` (entries for markers before
/// `next_offset`), in state `state`; a missing or unreadable one is
/// emptied and [`TxnIndexState::Lost`], to be rebuilt from the log.
fn load_txn_index(
    path: &Path,
    config: &LogConfig,
    next_offset: i64,
    state: TxnIndexState,
) -> Result<(TxnIndex, TxnIndexState), StorageError> {
    match TxnIndex::load(path, config, next_offset)? {
        Ok(index) => Ok((index, state)),
        Err(problem) => {
            tracing::warn!(index = %path.display(), %problem, "rebuilding a transaction index from the log");
            Ok((TxnIndex::create(path, config)?, TxnIndexState::Lost))
        }
    }
}

/// What a scan of the log tail found.
struct TailScan {
    next_offset: i64,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
}

/// Walks headers from the last indexed batch (`indexed` = its last offset
/// and position) or from the segment start; the walk must end exactly at
/// `size` with offsets increasing.
fn scan_tail(
    log: &File,
    path: &Path,
    base_offset: i64,
    indexed: Option<(i64, u32)>,
    size: u64,
    tail: &mut TailScan,
) -> Result<Result<(), SegmentProblem>, StorageError> {
    let mut position = indexed.map_or(0, |(_, position)| u64::from(position));
    tail.next_offset = base_offset;
    let mut expected_last = indexed.map(|(offset, _)| offset);
    loop {
        match batch_at(log, path, position, size)? {
            BatchAt::End => return Ok(Ok(())),
            BatchAt::Torn => return Ok(Err(format!("torn batch at position {position}"))),
            BatchAt::Invalid(reason) => {
                return Ok(Err(format!(
                    "invalid batch at position {position}: {reason}"
                )))
            }
            BatchAt::Batch(header) => {
                let consistent = match expected_last.take() {
                    // The indexed batch must end at the indexed offset.
                    Some(last) => header.last_offset() == last && header.base_offset >= base_offset,
                    None => header.base_offset >= tail.next_offset,
                };
                let fits = header.last_offset() - base_offset <= i64::from(u32::MAX);
                if !consistent || !fits || header.last_offset_delta < 0 {
                    return Ok(Err(format!(
                        "unexpected offsets in the batch at position {position}"
                    )));
                }
                if header.max_timestamp > tail.max_timestamp {
                    tail.max_timestamp = header.max_timestamp;
                    tail.offset_of_max_timestamp = header.last_offset();
                }
                tail.next_offset = header.next_offset();
                position += header.total_len() as u64;
            }
        }
    }
}

/// Opens an existing log file for reading and writing.
pub(crate) fn open_log(path: &Path) -> Result<File, StorageError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| StorageError::io(path, e))
}

/// The length of an open file.
pub(crate) fn file_len(file: &File, path: &Path) -> Result<u64, StorageError> {
    file.metadata()
        .map(|m| m.len())
        .map_err(|e| StorageError::io(path, e))
}
