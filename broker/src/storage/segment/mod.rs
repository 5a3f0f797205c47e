//! One segment of a partition log: a `.log` file of record batches plus
//! its `.index`, `.timeindex` and `.txnindex`.
//!
//! ```text
//! append(batches) ──▶ .log  (write at end, one pwritev per append)
//!                 └─▶ .index / .timeindex  (an entry every index.interval.bytes)
//! read(offset)    ──▶ .index lookup ──▶ scan headers from there ──▶ byte range
//! ```
//!
//! Opening a segment found on disk is in `segment/load.rs`.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use durian_core::record::BatchHeader;

use super::batch_io::{batch_at, first_record_at_or_after, read_vec_at, BatchAt, Undecodable};
use super::faults::{FaultPoint, Faults};
use super::layout::{segment_file, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX};
use super::offset_index::OffsetIndex;
use super::stamped::{write_all_vectored_at, StampedHeaders};
use super::time_index::TimeIndex;
use super::txn_index::{AbortedTxn, TxnIndex};
use super::{LogConfig, StorageError};

mod load;
mod range;
mod sealed;

pub(crate) use sealed::SealedSegment;

/// "No timestamp", as Kafka writes it.
pub(crate) const NO_TIMESTAMP: i64 = -1;

/// A batch about to be appended: where it sits in the appended bytes and
/// its header after offsets were assigned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlacedBatch {
    /// Byte position within the appended buffer.
    pub position: usize,
    /// The header with the assigned base offset.
    pub header: BatchHeader,
}

/// A failed write of appended batches.
#[derive(Debug)]
pub(crate) struct WriteFailed {
    /// What went wrong.
    pub error: StorageError,
    /// Whether the log was cut back to its size before the write; if not,
    /// a partial batch may follow the last whole one.
    pub undone: bool,
}

/// One segment and its indexes.
#[derive(Debug)]
pub(crate) struct Segment {
    base_offset: i64,
    log_path: PathBuf,
    /// Shared with the [`SealedSegment`] views the log cleaner reads
    /// without the partition lock: a view keeps the file open (and its
    /// bytes readable) even after the segment is deleted or replaced.
    log: Arc<File>,
    /// Bytes of whole batches in the log.
    size: u64,
    /// Offset after the last batch (`base_offset` while empty).
    next_offset: i64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    bytes_since_index_entry: u64,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    /// When the segment counts as created for `segment.ms`: the broker
    /// time of its first append; for a segment found on disk, its first
    /// batch's max timestamp (capped at the open time), else the open time.
    rolling_timestamp: i64,
    index_interval_bytes: u64,
    /// Storage faults injected by tests (nothing in production builds).
    faults: Faults,
    /// An index write failed: no more entries, roll on the next append,
    /// rebuild the indexes on the next open.
    index_dirty: bool,
    /// Aborted transactions whose marker is in this segment.
    txn_index: TxnIndex,
    /// Whether the `.txnindex` can be trusted (see [`TxnIndexState`]).
    txn_index_state: TxnIndexState,
}

/// How far a segment's `.txnindex` can be trusted after opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnIndexState {
    /// It matches the log.
    Current,
    /// The segment was recovered: entries before the producer snapshot are
    /// kept, later ones are rebuilt by the producer replay.
    Recovered,
    /// The file was missing or unreadable: every entry is rebuilt, which
    /// needs a replay from the segment's start.
    Lost,
}

impl Segment {
    /// Creates an empty segment at `base_offset` in `dir`.
    pub(crate) fn create(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
    ) -> Result<Segment, StorageError> {
        Self::create_named(dir, base_offset, config, now_ms, "")
    }

    /// Creates an empty segment whose four files carry `extra` after their
    /// usual names (the log cleaner writes `<name>.cleaned` files, which a
    /// log never lists as segments).
    pub(crate) fn create_named(
        dir: &Path,
        base_offset: i64,
        config: &LogConfig,
        now_ms: i64,
        extra: &str,
    ) -> Result<Segment, StorageError> {
        let path = |suffix: &str| {
            let mut name = segment_file(dir, base_offset, suffix).into_os_string();
            name.push(extra);
            PathBuf::from(name)
        };
        let log_path = path(LOG_SUFFIX);
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log_path)
            .map_err(|e| StorageError::io(&log_path, e))?;
        let offset_index = OffsetIndex::create(
            &path(INDEX_SUFFIX),
            base_offset,
            config.max_offset_index_entries(),
        )?;
        let time_index = TimeIndex::create(
            &path(TIME_INDEX_SUFFIX),
            base_offset,
            config.max_time_index_entries(),
        )?;
        let txn_index = TxnIndex::create(&path(TXN_INDEX_SUFFIX), config)?;
        Ok(Segment {
            base_offset,
            log_path,
            log: Arc::new(log),
            size: 0,
            next_offset: base_offset,
            offset_index,
            time_index,
            bytes_since_index_entry: 0,
            max_timestamp: NO_TIMESTAMP,
            offset_of_max_timestamp: -1,
            rolling_timestamp: now_ms,
            index_interval_bytes: u64::from(config.index_interval_bytes),
            faults: Faults::default(),
            index_dirty: false,
            txn_index,
            txn_index_state: TxnIndexState::Current,
        })
    }

    /// Installs the fault hook this segment's writes and fsyncs go through.
    pub(crate) fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// Base offset (the file name).
    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Offset after the last batch.
    pub(crate) fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Bytes in the log file.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Whether the segment holds no batch.
    pub(crate) fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Largest timestamp and the offset where it was reached.
    pub(crate) fn max_timestamp(&self) -> Option<(i64, i64)> {
        (self.max_timestamp != NO_TIMESTAMP)
            .then_some((self.offset_of_max_timestamp, self.max_timestamp))
    }

    /// Whether an append of `bytes` ending at `last_offset` at `now_ms`
    /// must go to a new segment instead.
    pub(crate) fn should_roll(
        &self,
        bytes: u64,
        last_offset: i64,
        now_ms: i64,
        config: &LogConfig,
    ) -> bool {
        if self.is_empty() {
            return false;
        }
        self.size + bytes > config.segment_bytes
            || now_ms.saturating_sub(self.rolling_timestamp) > config.segment_ms
            || self.offset_index.is_full()
            || self.time_index.is_full()
            || self.index_dirty
            || last_offset - self.base_offset > i64::from(u32::MAX)
    }

    /// Appends `bytes`, whole batches written as they are (offsets already
    /// in them), and indexes the batches. On a failed write the log is cut
    /// back to its old size ([`WriteFailed::undone`] says whether that
    /// worked).
    ///
    /// The age for `segment.ms` counts from the broker time `now_ms` of the
    /// first append, not from record timestamps: producers sending old
    /// timestamps would otherwise roll a segment on every append.
    pub(crate) fn append(
        &mut self,
        bytes: &[u8],
        batches: &[PlacedBatch],
        now_ms: i64,
    ) -> Result<(), WriteFailed> {
        self.append_with(bytes.len(), batches, now_ms, |log, start| {
            log.write_all_at(bytes, start)
        })
    }

    /// [`Segment::append`] of the placed batches of `records` with their
    /// `stamped` headers in place of the ones in `records`, in one
    /// vectored write: the produce path, which never copies the records.
    pub(crate) fn append_stamped(
        &mut self,
        records: &[u8],
        stamped: &StampedHeaders,
        batches: &[PlacedBatch],
        now_ms: i64,
    ) -> Result<(), WriteFailed> {
        self.append_with(records.len(), batches, now_ms, |log, start| {
            let mut slices = stamped.slices(records, batches).map_err(io::Error::other)?;
            write_all_vectored_at(log, &mut slices, start)
        })
    }

    /// Writes `len` bytes with `write` (given the log file and the write
    /// position), then accounts for and indexes `batches`; a failed write
    /// is cut back.
    fn append_with(
        &mut self,
        len: usize,
        batches: &[PlacedBatch],
        now_ms: i64,
        write: impl FnOnce(&File, u64) -> io::Result<()>,
    ) -> Result<(), WriteFailed> {
        let start = self.size;
        let written = self
            .faults
            .check(FaultPoint::LogWrite)
            .and_then(|()| write(&self.log, start));
        if let Err(e) = written {
            // Leave no partial batch behind for readers or the next append.
            let undone = self.log.set_len(start).is_ok();
            return Err(WriteFailed {
                error: StorageError::io(&self.log_path, e),
                undone,
            });
        }
        if self.is_empty() {
            self.rolling_timestamp = now_ms;
        }
        // The bytes are in the file: account for them, then index them;
        // indexing cannot fail the append (see `index_batch`).
        self.size = start + len as u64;
        for batch in batches {
            let position = start + batch.position as u64;
            self.index_batch(&batch.header, position);
        }
        Ok(())
    }

    /// Updates the in-memory state and the indexes for a batch at `position`.
    ///
    /// Never fails: the indexes are derived from the log, so a failed index
    /// write (ENOSPC, EIO) must not fail an append whose batches are
    /// already readable. It marks the indexes dirty instead (see
    /// [`mark_index_dirty`](Self::mark_index_dirty)).
    pub(crate) fn index_batch(&mut self, header: &BatchHeader, position: u64) {
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = header.last_offset();
        }
        // A full index takes no more entries (the segment rolls on the next
        // append); lookups then scan a little further.
        let room = !self.offset_index.is_full() && !self.time_index.is_full();
        let add_entry =
            room && !self.index_dirty && self.bytes_since_index_entry > self.index_interval_bytes;
        self.next_offset = header.next_offset();
        self.bytes_since_index_entry = if add_entry {
            0
        } else {
            self.bytes_since_index_entry
        };
        self.bytes_since_index_entry += header.total_len() as u64;
        if add_entry {
            if let Err(e) = self.write_index_entries(position) {
                self.mark_index_dirty(&e);
            }
        }
    }

    /// Writes the time index entry, then the offset index entry, for the
    /// batch at `position`. In this order an interrupted pair leaves the
    /// time index at most one entry ahead, which opening tolerates (the tail
    /// scan from the last offset entry finds the larger timestamp anyway).
    fn write_index_entries(&mut self, position: u64) -> Result<(), StorageError> {
        if self.max_timestamp != NO_TIMESTAMP {
            self.faults
                .check(FaultPoint::IndexWrite)
                .map_err(|e| StorageError::io(self.time_index.path(), e))?;
            self.time_index
                .append(self.max_timestamp, self.offset_of_max_timestamp)?;
        }
        let pos = u32::try_from(position).unwrap_or(u32::MAX);
        self.faults
            .check(FaultPoint::IndexWrite)
            .map_err(|e| StorageError::io(self.offset_index.path(), e))?;
        self.offset_index.append(self.next_offset - 1, pos)
    }

    /// After a failed index write: no more index entries for this segment
    /// (lookups scan forward from the last good one, so reads stay
    /// correct), the segment rolls on the next append, and its index files
    /// are removed so the next open rebuilds them from the log. If removing
    /// them fails too, what is on disk is a valid prefix of entries (or a
    /// torn last entry, which opening detects and rebuilds).
    pub(crate) fn mark_index_dirty(&mut self, error: &StorageError) {
        if self.index_dirty {
            return;
        }
        self.index_dirty = true;
        tracing::warn!(
            segment = %self.log_path.display(),
            %error,
            "index write failed; the segment's indexes will be rebuilt from its log on the next open"
        );
        for path in [self.offset_index.path(), self.time_index.path()] {
            if let Err(e) = fs::remove_file(path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(index = %path.display(), error = %e, "could not remove a dirty index file");
                }
            }
        }
    }

    /// Whether an index write failed (the index files are incomplete).
    pub(crate) fn indexes_dirty(&self) -> bool {
        self.index_dirty
    }

    /// Finds the first batch whose last offset is `>= offset`, as (position,
    /// header); `None` if the segment has no such batch.
    pub(crate) fn find_batch(
        &self,
        offset: i64,
    ) -> Result<Option<(u64, BatchHeader)>, StorageError> {
        let start = u64::from(self.offset_index.lookup(offset));
        match self.scan_for(start, |h| h.last_offset() >= offset)? {
            Scan::Found(position, header) => Ok(Some((position, header))),
            Scan::Exhausted => Ok(None),
            // A damaged index entry points into the middle of a batch:
            // fall back to a scan from the start of the segment.
            Scan::Broken if start > 0 => match self.scan_for(0, |h| h.last_offset() >= offset)? {
                Scan::Found(position, header) => Ok(Some((position, header))),
                Scan::Exhausted | Scan::Broken => Ok(None),
            },
            Scan::Broken => Ok(None),
        }
    }

    /// Walks batch headers from `position` to the first one matching `wanted`.
    fn scan_for(
        &self,
        mut position: u64,
        wanted: impl Fn(&BatchHeader) -> bool,
    ) -> Result<Scan, StorageError> {
        loop {
            match batch_at(&self.log, &self.log_path, position, self.size)? {
                BatchAt::Batch(header) if wanted(&header) => {
                    return Ok(Scan::Found(position, header))
                }
                BatchAt::Batch(header) => position += header.total_len() as u64,
                BatchAt::End => return Ok(Scan::Exhausted),
                BatchAt::Torn | BatchAt::Invalid(_) => return Ok(Scan::Broken),
            }
        }
    }

    /// Reads `len` bytes at `position`, clamped to the segment size.
    pub(crate) fn read_bytes(&self, position: u64, len: usize) -> Result<Vec<u8>, StorageError> {
        read_clamped(&self.log, &self.log_path, self.size, position, len)
    }

    /// The earliest record at or after `min_offset` with a timestamp
    /// `>= timestamp`, as (offset, timestamp); `None` if there is none here.
    pub(crate) fn find_by_timestamp(
        &self,
        timestamp: i64,
        min_offset: i64,
        max_decompressed: usize,
    ) -> Result<Option<(i64, i64)>, StorageError> {
        if self.max_timestamp < timestamp {
            return Ok(None);
        }
        let start_offset = self.time_index.lookup(timestamp).max(min_offset);
        let mut position = u64::from(self.offset_index.lookup(start_offset));
        loop {
            let header = match batch_at(&self.log, &self.log_path, position, self.size)? {
                BatchAt::Batch(header) => header,
                BatchAt::End | BatchAt::Torn | BatchAt::Invalid(_) => return Ok(None),
            };
            position += header.total_len() as u64;
            if header.max_timestamp < timestamp || header.last_offset() < min_offset {
                continue;
            }
            let bytes =
                self.read_bytes(position - header.total_len() as u64, header.total_len())?;
            match first_record_at_or_after(&bytes, &header, timestamp, min_offset, max_decompressed)
            {
                Ok(Some(found)) => return Ok(Some(found)),
                Ok(None) => continue,
                // Records unreadable: answer at batch granularity.
                Err(Undecodable) => {
                    return Ok(Some((
                        header.base_offset.max(min_offset),
                        header.max_timestamp,
                    )))
                }
            }
        }
    }

    /// Newest timestamp for time retention: the largest record timestamp,
    /// else the file's modification time.
    pub(crate) fn retention_timestamp(&self) -> Result<i64, StorageError> {
        if self.max_timestamp != NO_TIMESTAMP {
            return Ok(self.max_timestamp);
        }
        let modified = self
            .log
            .metadata()
            .and_then(|m| m.modified())
            .map_err(|e| StorageError::io(&self.log_path, e))?;
        Ok(modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64))
    }

    /// Writes the closing time index entry (the segment's final maximum)
    /// when the segment stops being active, and the index entries still
    /// waiting in memory (see `index_file`) rather than at drop.
    /// Like any index write, a failure only marks the indexes dirty.
    pub(crate) fn seal(&mut self) {
        if self.index_dirty {
            return;
        }
        if self.max_timestamp != NO_TIMESTAMP {
            let written = self
                .faults
                .check(FaultPoint::IndexWrite)
                .map_err(|e| StorageError::io(self.time_index.path(), e))
                .and_then(|()| {
                    self.time_index
                        .append(self.max_timestamp, self.offset_of_max_timestamp)
                });
            if let Err(e) = written {
                self.mark_index_dirty(&e);
                return;
            }
        }
        let flushed = self
            .offset_index
            .flush()
            .and_then(|()| self.time_index.flush());
        if let Err(e) = flushed {
            self.mark_index_dirty(&e);
        }
    }

    /// Forces the log and both indexes to disk.
    pub(crate) fn sync(&self) -> Result<(), StorageError> {
        self.faults
            .check(FaultPoint::Fsync)
            .and_then(|()| self.log.sync_data())
            .map_err(|e| StorageError::io(&self.log_path, e))?;
        self.offset_index.sync()?;
        self.time_index.sync()?;
        self.txn_index.sync()
    }

    /// Records an aborted transaction whose marker was just appended here.
    pub(crate) fn append_aborted(&mut self, txn: AbortedTxn) -> Result<(), StorageError> {
        self.faults
            .check(FaultPoint::IndexWrite)
            .map_err(|e| StorageError::io(self.txn_index.path(), e))?;
        self.txn_index.append(txn)
    }

    /// The aborted transactions whose marker is in this segment, in order.
    pub(crate) fn aborted_txns(&self) -> impl Iterator<Item = &AbortedTxn> {
        self.txn_index.entries()
    }

    /// How far the `.txnindex` can be trusted.
    pub(crate) fn txn_index_state(&self) -> TxnIndexState {
        self.txn_index_state
    }

    /// Drops the `.txnindex` entries whose marker is at or after `offset`,
    /// before the producer replay adds them again.
    pub(crate) fn truncate_txn_index(&mut self, offset: i64) -> Result<(), StorageError> {
        self.txn_index.truncate_from(offset)
    }

    /// Notes that the `.txnindex` was rebuilt.
    pub(crate) fn set_txn_index_rebuilt(&mut self) {
        self.txn_index_state = TxnIndexState::Current;
    }

    /// Forces only the log to disk (per-append fsync).
    pub(crate) fn sync_log(&self) -> Result<(), StorageError> {
        self.faults
            .check(FaultPoint::Fsync)
            .and_then(|()| self.log.sync_data())
            .map_err(|e| StorageError::io(&self.log_path, e))
    }

    /// Removes the segment's files.
    pub(crate) fn delete(self) -> Result<(), StorageError> {
        let index_path = self.offset_index.path().to_path_buf();
        let time_path = self.time_index.path().to_path_buf();
        let txn_path = self.txn_index.path().to_path_buf();
        for path in [&self.log_path, &index_path, &time_path, &txn_path] {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StorageError::io(path, e)),
            }
        }
        Ok(())
    }

    /// Calls `visit` with every batch header in order (used to rebuild the
    /// producer state); stops quietly at the end of whole batches.
    pub(crate) fn for_each_header(
        &self,
        visit: impl FnMut(u64, &BatchHeader),
    ) -> Result<(), StorageError> {
        visit_headers(&self.log, &self.log_path, self.size, visit)
    }

    /// A read-only view of this segment for reading it without the
    /// partition lock; only meaningful for a sealed segment, whose bytes no
    /// longer change (see [`SealedSegment`]).
    pub(crate) fn sealed_view(&self) -> Result<SealedSegment, StorageError> {
        Ok(SealedSegment {
            base_offset: self.base_offset,
            log_path: self.log_path.clone(),
            log: Arc::clone(&self.log),
            size: self.size,
            next_offset: self.next_offset,
            retention_timestamp: self.retention_timestamp()?,
            aborted: self.txn_index.entries().copied().collect(),
        })
    }

    /// Whether `view` was taken of this very segment and the segment has
    /// not changed since (same open file, same length): the check the log
    /// cleaner makes before swapping a cleaned copy in.
    pub(crate) fn is_viewed_by(&self, view: &SealedSegment) -> bool {
        Arc::ptr_eq(&self.log, &view.log)
            && self.size == view.size
            && self.next_offset == view.next_offset
    }
}

/// Reads `len` bytes at `position` of a log of `size` bytes, clamped to it.
fn read_clamped(
    log: &File,
    path: &Path,
    size: u64,
    position: u64,
    len: usize,
) -> Result<Vec<u8>, StorageError> {
    let available = size.saturating_sub(position);
    let len = (len as u64).min(available) as usize;
    read_vec_at(log, path, position, len)
}

/// Calls `visit` with every batch header of a log of `size` bytes, in
/// order; stops quietly at the end of whole batches.
fn visit_headers(
    log: &File,
    path: &Path,
    size: u64,
    mut visit: impl FnMut(u64, &BatchHeader),
) -> Result<(), StorageError> {
    let mut position = 0;
    while let BatchAt::Batch(header) = batch_at(log, path, position, size)? {
        visit(position, &header);
        position += header.total_len() as u64;
    }
    Ok(())
}

/// Where a header scan ended.
enum Scan {
    /// A matching batch at this position.
    Found(u64, BatchHeader),
    /// The end of the segment, without a match.
    Exhausted,
    /// Bytes that are not a batch (only possible with damaged files).
    Broken,
}
