//! One partition's log: an ordered run of segments in `<data>/<topic>-<partition>/`.
//!
//! ```text
//!  log start offset           recovery point            log end offset
//!        │                          │                          │
//!  [ 000.log | 120.log | 250.log | 371.log (active) ............]
//!    older segments (sealed, flushed)       appends go here ──▶
//! ```
//!
//! All I/O is synchronous `std::fs`; the broker wraps each log in a mutex
//! and calls it from a blocking-friendly context. Reads take `&self` and
//! use positional reads, so they never move a shared file cursor.
//!
//! The append path lives in `append.rs`, reads in `read.rs`, deletion in
//! `retention.rs`; this file holds the state and the open/close lifecycle.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::checkpoint::{sync_dir, write_atomically};
use super::cleaner::CleanerState;
use super::dir_status::LogDirStatus;
use super::faults::Faults;
use super::layout::{CLEAN_SHUTDOWN_FILE, PRODUCER_SNAPSHOT_FILE};
use super::marker::{aborted_entry, read_marker};
use super::producer_state::{decode_snapshot, encode_snapshot, ProducerStateManager, ProducerView};
use super::recovery::{load_segments, remove_if_exists, OpenReport};
use super::segment::{Segment, TxnIndexState};
use super::{LogConfig, StorageError};
use crate::clock::now_ms;
use durian_core::record::ControlRecordType;

/// What the data directory remembers about a log between runs, passed to
/// [`PartitionLog::open_with`] by the [`LogManager`](super::LogManager).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecoveryHints {
    /// Offset up to which the log was flushed (from
    /// `recovery-point-offset-checkpoint`); after a crash only segments
    /// from the one holding it are validated. `None` validates every segment.
    pub recovery_point: Option<i64>,
    /// Log start offset (from `log-start-offset-checkpoint`), which
    /// DeleteRecords may have moved into the middle of a segment.
    pub log_start_offset: Option<i64>,
    /// Where the log cleaner stopped (from `cleaner-offset-checkpoint`):
    /// records below it were deduplicated. `None` counts the whole log as
    /// dirty.
    pub cleaner_offset: Option<i64>,
}

/// Outcome of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendResult {
    /// Offset assigned to the first record (-1 when nothing was appended).
    pub base_offset: i64,
    /// Offset of the last record appended.
    pub last_offset: i64,
    /// The broker time stamped on the batches under LogAppendTime, else -1.
    pub log_append_time: i64,
    /// The log start offset after the append.
    pub log_start_offset: i64,
    /// The batch was a retry of one already in the log: nothing was
    /// written and the offsets are the original ones.
    pub duplicate: bool,
}

/// Outcome of a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    /// Whole record batches as stored, possibly starting before the
    /// requested offset (the batch containing it); empty at the log end.
    pub records: bytes::Bytes,
    /// Offset up to which records are readable (the log end offset on a
    /// single replica).
    pub high_watermark: i64,
    /// First offset still held.
    pub log_start_offset: i64,
    /// Offset below which no transaction is open (at most the high
    /// watermark): read_committed consumers read up to it.
    pub last_stable_offset: i64,
    /// For read_committed: the aborted transactions overlapping the
    /// records, as (producer id, first offset); `None` for read_uncommitted.
    pub aborted_transactions: Option<Vec<(i64, i64)>>,
}

/// A partition's log. See the module docs.
#[derive(Debug)]
pub struct PartitionLog {
    pub(super) dir: PathBuf,
    pub(super) config: LogConfig,
    /// Sealed segments by base offset, all older than `active`.
    pub(super) older: BTreeMap<i64, Segment>,
    /// The segment appends go to.
    pub(super) active: Segment,
    pub(super) log_start_offset: i64,
    pub(super) recovery_point: i64,
    pub(super) producers: ProducerStateManager,
    /// Whether `.clean_shutdown` exists on disk (it must go before a write).
    pub(super) clean_marker_on_disk: bool,
    pub(super) open_report: OpenReport,
    pub(super) deleted: bool,
    /// Storage faults injected by tests (nothing in production builds).
    pub(super) faults: Faults,
    /// The health of the log directory, shared with its other logs.
    pub(super) dir_status: Arc<LogDirStatus>,
    /// Records appended since the last fsync (for `flush.messages`).
    pub(super) unflushed_records: u64,
    /// Broker time of the oldest append since the last fsync (for `flush.ms`).
    pub(super) first_unflushed_ms: Option<i64>,
    /// What the log cleaner remembers (compacted topics).
    pub(super) cleaner: CleanerState,
}

impl PartitionLog {
    /// The highest producer id this log holds state for.
    pub fn max_producer_id(&self) -> Option<i64> {
        self.producers.max_producer_id()
    }

    /// Opens the log in `dir`, creating it if needed, recovering it if the
    /// last close was not clean. Equivalent to [`open_with`](Self::open_with)
    /// without hints (so a crash means validating every segment).
    pub fn open(dir: &Path, config: LogConfig) -> Result<PartitionLog, StorageError> {
        Self::open_with(dir, config, RecoveryHints::default())
    }

    /// Opens the log in `dir` using what the data directory's checkpoints
    /// remember about it.
    ///
    /// A clean shutdown is recognised by the `.clean_shutdown` marker that
    /// [`close`](Self::close) writes; the marker is removed at once, so a
    /// crash from now on is seen as unclean on the next open. See
    /// [`OpenReport`] (via [`open_report`](Self::open_report)) for what
    /// recovery did.
    pub fn open_with(
        dir: &Path,
        config: LogConfig,
        hints: RecoveryHints,
    ) -> Result<PartitionLog, StorageError> {
        config.validate()?;
        fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        let marker = dir.join(CLEAN_SHUTDOWN_FILE);
        let clean = marker.exists();
        let now = now_ms();
        let recovery_point = hints.recovery_point.unwrap_or(0);
        let loaded = load_segments(dir, &config, clean, recovery_point, now)?;
        let mut report = loaded.report;
        let mut older = loaded.segments;
        let active = match older.pop_last() {
            Some((_, segment)) => segment,
            None => Segment::create(
                dir,
                hints.log_start_offset.unwrap_or(0).max(0),
                &config,
                now,
            )?,
        };
        let log_end = active.next_offset();
        let first_base = older
            .first_key_value()
            .map_or(active.base_offset(), |(base, _)| *base);
        let log_start_offset = hints
            .log_start_offset
            .unwrap_or(first_base)
            .max(first_base)
            .min(log_end);
        if report.segments_recovered > 0 {
            for segment in older.values().chain(std::iter::once(&active)) {
                segment.sync()?;
            }
        }
        let mut log = PartitionLog {
            dir: dir.to_path_buf(),
            config,
            older,
            active,
            log_start_offset,
            recovery_point: log_end,
            producers: ProducerStateManager::default(),
            clean_marker_on_disk: clean,
            open_report: OpenReport::default(),
            deleted: false,
            faults: Faults::default(),
            dir_status: Arc::new(LogDirStatus::new(dir)),
            unflushed_records: 0,
            first_unflushed_ms: None,
            cleaner: CleanerState::resumed(hints.cleaner_offset),
        };
        report.producer_state_rebuilt = !log.load_producer_state(now)?;
        log.remove_clean_marker()?;
        log.open_report = report;
        Ok(log)
    }

    /// Loads the producer snapshot (written at the last roll or clean
    /// close) and replays the batch headers after it, or rebuilds the state
    /// from every header. Returns whether a snapshot was used.
    ///
    /// A snapshot taken beyond the log end (recovery cut the log below it)
    /// describes batches that are gone: it is deleted, so it can never be
    /// applied to different batches that later reach the same offsets.
    ///
    /// The replay also rebuilds `.txnindex` entries: each abort marker
    /// replayed in a recovered segment, or one whose index was lost, adds
    /// its entry. A lost index needs every marker of its segment replayed,
    /// so a snapshot taken after such a segment's start is not used (the
    /// state is rebuilt from the log start).
    fn load_producer_state(&mut self, now_ms: i64) -> Result<bool, StorageError> {
        let path = self.dir.join(PRODUCER_SNAPSHOT_FILE);
        let snapshot = match fs::read(&path) {
            Ok(bytes) => decode_snapshot(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(StorageError::io(&path, e)),
        };
        let log_end = self.log_end_offset();
        let first_lost = self
            .segments()
            .find(|segment| segment.txn_index_state() == TxnIndexState::Lost)
            .map(Segment::base_offset);
        let (from, used) = match snapshot {
            Some((at, state))
                if (0..=log_end).contains(&at) && first_lost.is_none_or(|base| base >= at) =>
            {
                self.producers = state;
                (at, true)
            }
            Some((at, _)) if (0..=log_end).contains(&at) => {
                // Valid, but too late to rebuild a stale transaction index.
                self.producers.clear();
                (self.log_start_offset, false)
            }
            _ => {
                remove_if_exists(&path)?;
                self.producers.clear();
                (self.log_start_offset, false)
            }
        };
        let start = self.log_start_offset.max(from);
        let producers = &mut self.producers;
        let segments = self
            .older
            .values_mut()
            .chain(std::iter::once(&mut self.active));
        for segment in segments {
            if segment.next_offset() <= start {
                continue;
            }
            let mut replayed = Vec::new();
            segment.for_each_header(|position, header| {
                if header.base_offset >= from && header.last_offset() >= start {
                    replayed.push((position, *header));
                }
            })?;
            let stale = segment.txn_index_state() != TxnIndexState::Current;
            if stale {
                segment.truncate_txn_index(start)?;
            }
            let mut aborted = Vec::new();
            for (position, header) in replayed {
                let Some(txn) = producers.replay(&header, now_ms) else {
                    continue;
                };
                // The header tells a marker from data; its record tells
                // commit from abort and carries the coordinator epoch.
                let bytes = segment.read_bytes(position, header.total_len())?;
                let Some((kind, coordinator_epoch)) = read_marker(bytes) else {
                    continue;
                };
                producers.set_coordinator_epoch(txn.producer_id, coordinator_epoch);
                if stale && kind == ControlRecordType::Abort {
                    aborted.push(aborted_entry(producers, txn));
                }
            }
            for txn in aborted {
                segment.append_aborted(txn)?;
            }
            segment.set_txn_index_rebuilt();
        }
        self.producers.remove_before(self.log_start_offset);
        Ok(used)
    }

    /// Saves the producer state as of the log end, so the next open (even
    /// after a crash) replays only the headers after it. Called at every
    /// roll and at a clean close.
    pub(super) fn snapshot_producers(&self) -> Result<(), StorageError> {
        let snapshot = encode_snapshot(&self.producers, self.log_end_offset());
        write_atomically(&self.dir.join(PRODUCER_SNAPSHOT_FILE), &snapshot)
    }

    /// Flushes, seals the active segment's time index, saves the producer
    /// state and marks the log clean. The log stays usable; a later append
    /// removes the marker again.
    pub fn shutdown(&mut self) -> Result<(), StorageError> {
        if self.deleted {
            return Ok(());
        }
        self.active.seal();
        self.flush()?;
        self.snapshot_producers()?;
        write_atomically(&self.dir.join(CLEAN_SHUTDOWN_FILE), b"")?;
        self.clean_marker_on_disk = true;
        Ok(())
    }

    /// Flushes and marks the log clean, so the next open needs no recovery.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn close(mut self) -> Result<(), StorageError> {
        self.shutdown()
    }

    /// Forces everything appended so far to disk and advances the recovery
    /// point to the log end.
    pub fn flush(&mut self) -> Result<(), StorageError> {
        self.ensure_live()?;
        let synced = self.active.sync();
        self.offline_on_error(synced)?;
        self.recovery_point = self.log_end_offset();
        self.unflushed_records = 0;
        self.first_unflushed_ms = None;
        Ok(())
    }

    /// Whether `flush.messages` or `flush.ms` asks for an fsync at `now_ms`.
    pub(crate) fn flush_due(&self, now_ms: i64) -> bool {
        self.config
            .flush_messages
            .is_some_and(|every| self.unflushed_records >= every)
            || self.config.flush_ms.is_some_and(|ms| {
                self.first_unflushed_ms
                    .is_some_and(|first| now_ms.saturating_sub(first) >= ms)
            })
    }

    /// Flushes if `flush.messages` or `flush.ms` says so; returns whether it did.
    pub fn flush_if_due(&mut self, now_ms: i64) -> Result<bool, StorageError> {
        if !self.flush_due(now_ms) {
            return Ok(false);
        }
        self.flush()?;
        Ok(true)
    }

    /// First offset still held.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// Offset the next record will get.
    pub fn log_end_offset(&self) -> i64 {
        self.active.next_offset()
    }

    /// Offset up to which records are readable; the log end offset, since
    /// there is one replica.
    pub fn high_watermark(&self) -> i64 {
        self.log_end_offset()
    }

    /// Offset below which every transaction is decided (committed or
    /// aborted): the first offset of the oldest open transaction, or the
    /// high watermark when none is open. read_committed fetches stop here.
    pub fn last_stable_offset(&self) -> i64 {
        let high_watermark = self.high_watermark();
        self.producers
            .first_unstable_offset()
            .map_or(high_watermark, |first| {
                first.max(self.log_start_offset).min(high_watermark)
            })
    }

    /// Every producer the partition holds state for, by id, as
    /// DescribeProducers reports them.
    pub(crate) fn describe_producers(&self) -> Vec<ProducerView> {
        self.producers.describe()
    }

    /// Offset up to which the log is known to be on disk.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// Total bytes of all segment logs.
    pub fn size_bytes(&self) -> u64 {
        self.segments().map(Segment::size).sum()
    }

    /// Number of segments (including the active one).
    #[cfg(test)]
    pub fn segment_count(&self) -> usize {
        self.older.len() + 1
    }

    /// Base offsets of the segments, oldest first.
    #[cfg(test)]
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments().map(Segment::base_offset).collect()
    }

    /// Number of idempotent producers the log tracks.
    #[cfg(test)]
    pub fn producer_count(&self) -> usize {
        self.producers.len()
    }

    /// The directory of the log.
    #[cfg(test)]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Replaces the settings (e.g. after AlterConfigs); they apply to the
    /// next append, roll and retention pass.
    pub fn set_config(&mut self, config: LogConfig) -> Result<(), StorageError> {
        config.validate()?;
        if config != self.config {
            self.reset_cleaner_failure();
        }
        self.config = config;
        Ok(())
    }

    /// Routes this log's writes, fsyncs and rolls through `faults`, so a
    /// test can make them fail with ENOSPC or EIO.
    #[cfg(test)]
    pub fn set_faults(&mut self, faults: std::sync::Arc<super::StorageFaults>) {
        self.install_faults(Faults::installed(faults));
    }

    /// Installs `faults` in the log and every segment.
    pub(crate) fn install_faults(&mut self, faults: Faults) {
        for segment in self.older.values_mut() {
            segment.set_faults(faults.clone());
        }
        self.active.set_faults(faults.clone());
        self.faults = faults;
    }

    /// What opening the log found and did.
    pub fn open_report(&self) -> &OpenReport {
        &self.open_report
    }

    /// Marks the log deleted: every later call fails with
    /// [`StorageError::LogDeleted`]. Used when the topic is deleted while
    /// handles are still held.
    pub(crate) fn mark_deleted(&mut self) {
        self.deleted = true;
    }

    /// All segments, oldest first.
    pub(super) fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.older.values().chain(std::iter::once(&self.active))
    }

    pub(super) fn ensure_live(&self) -> Result<(), StorageError> {
        if self.deleted {
            return Err(StorageError::LogDeleted {
                dir: self.dir.clone(),
            });
        }
        self.dir_status.check()
    }

    /// Makes this log share the health of its log directory (the
    /// [`LogManager`](super::LogManager)'s), so one failure takes all of
    /// the directory's logs offline.
    pub(crate) fn share_dir_status(&mut self, status: Arc<LogDirStatus>) {
        self.dir_status = status;
    }

    /// Passes `result` through, taking the log directory offline if it is
    /// an error: for failures after which the files cannot be trusted (a
    /// failed fsync, a failed write that could not be undone).
    pub(super) fn offline_on_error<T>(
        &self,
        result: Result<T, StorageError>,
    ) -> Result<T, StorageError> {
        result.inspect_err(|e| self.dir_status.set_offline(e))
    }

    /// Removes the clean-shutdown marker before the log changes.
    pub(super) fn remove_clean_marker(&mut self) -> Result<(), StorageError> {
        if self.clean_marker_on_disk {
            remove_if_exists(&self.dir.join(CLEAN_SHUTDOWN_FILE))?;
            sync_dir(&self.dir)?;
            self.clean_marker_on_disk = false;
        }
        Ok(())
    }
}
