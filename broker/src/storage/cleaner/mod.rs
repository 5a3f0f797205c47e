//! The log cleaner: compaction of partitions with `cleanup.policy`
//! containing `compact`. It keeps the latest record of every key in the
//! sealed segments, keeping offsets.
//!
//! ```text
//!  log start        first dirty             upper bound          active
//!    │ clean section   │   dirty section        │  not cleanable yet │
//!    [ seg | seg       | seg | seg               | seg               | seg ]
//!
//!  1. due?   dirty bytes / (clean + dirty bytes) >= min.cleanable.dirty.ratio,
//!            or the oldest dirty segment is max.compaction.lag.ms old
//!  2. map    key -> latest offset over the dirty section (bounded memory)
//!  3. rewrite every sealed segment below the bound, one by one, dropping
//!            superseded records, old tombstones, keyless records and
//!            aborted transactions, into .cleaned copies (see `rewrite.rs`)
//!  4. swap   .cleaned -> .swap -> in place (see `swap.rs`)
//! ```
//!
//! Steps 2 and 3 run without the partition lock, on views of the sealed
//! segments; the lock is taken only to plan and to swap, so appends and
//! fetches of the partition do not wait for a clean (see `pass.rs`).
//!
//! The upper bound is a segment boundary: the first sealed segment that
//! reaches the last stable offset or holds a record newer than
//! `min.compaction.lag.ms`, else the active segment, which is never
//! rewritten. The broker runs [`LogManager::clean_all`](super::LogManager::clean_all)
//! from its maintenance task; an error is logged and the partition is
//! skipped by later passes (see [`PartitionLog::cleaner_failure`]).

mod offset_map;
mod pass;
mod records;
mod rewrite;
pub(crate) mod swap;

use durian_core::record::BatchHeader;

use super::log_manager::lock_log;
use super::partition_log::PartitionLog;
use super::{LogConfig, SharedLog, StorageError};
use pass::{Cleaned, Snapshot};

/// Settings of the log cleaner shared by every partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanerConfig {
    /// Memory the key → offset map of one cleaning may use, in bytes
    /// (Kafka's `log.cleaner.dedupe.buffer.size`, default 128 MiB). Each
    /// key costs its length plus 64 bytes. When the dirty section holds
    /// more keys, a pass cleans up to the last segment whose keys fit and
    /// the next pass continues; if not even one segment fits, the
    /// partition is marked failed.
    pub dedupe_buffer_bytes: usize,
}

impl Default for CleanerConfig {
    fn default() -> Self {
        CleanerConfig {
            dedupe_buffer_bytes: 128 << 20,
        }
    }
}

/// What one cleaning of a partition did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CleanOutcome {
    /// The new first dirty offset: records below it were deduplicated.
    pub cleaned_up_to: i64,
    /// Sealed segments replaced by a cleaned copy.
    pub segments_rewritten: usize,
    /// Records removed.
    pub records_removed: u64,
    /// Bytes of the segments rewritten, before and after.
    pub bytes_before: u64,
    /// See `bytes_before`.
    pub bytes_after: u64,
}

/// A partition ((topic, partition)) a cleaner pass compacted, and how.
pub type CleanedPartition = ((String, i32), CleanOutcome);

/// The cleaner's memory of one partition (its first dirty offset is kept
/// in the data directory's `cleaner-offset-checkpoint`).
#[derive(Debug, Default)]
pub(crate) struct CleanerState {
    /// Offset below which the log was deduplicated by an earlier pass.
    first_dirty_offset: Option<i64>,
    /// Why the last pass failed; the partition is skipped from then on.
    failed: Option<String>,
}

/// What the cleaner would clean now.
struct Plan {
    first_dirty: i64,
    upper: i64,
}

impl CleanerState {
    /// The state of a log opened with this first dirty offset, if known.
    pub(crate) fn resumed(first_dirty_offset: Option<i64>) -> CleanerState {
        CleanerState {
            first_dirty_offset,
            failed: None,
        }
    }
}

impl PartitionLog {
    /// Compacts the log if its `cleanup.policy` includes `compact` and
    /// cleaning is due at `now_ms` (see the module docs). Returns `None`
    /// when nothing was due. An error marks the partition failed: later
    /// calls return `Ok(None)` until [`set_config`](Self::set_config)
    /// changes its settings. For tests, which call it to clean now; the
    /// broker cleans through the [`LogManager`](super::LogManager), which
    /// does not hold the partition lock for the whole clean as this
    /// `&mut self` call must.
    #[cfg(test)]
    pub fn clean(
        &mut self,
        now_ms: i64,
        cleaner: &CleanerConfig,
    ) -> Result<Option<CleanOutcome>, StorageError> {
        let Some(snapshot) = self.start_clean(now_ms)? else {
            return Ok(None);
        };
        let built = snapshot.build(cleaner);
        self.finish_clean(built)
    }

    /// [`clean`](Self::clean) of a shared log, holding its lock only to
    /// plan and to swap the cleaned segments in: the offset map and the
    /// cleaned copies are built with the lock released (see `pass.rs`), so
    /// appends and fetches of the partition go on meanwhile. Blocks on the
    /// disk: call it on a thread that may. Two cleans of one log must not
    /// run at once (the [`LogManager`](super::LogManager) serialises its
    /// passes).
    pub(crate) fn clean_shared(
        log: &SharedLog,
        now_ms: i64,
        cleaner: &CleanerConfig,
    ) -> Result<Option<CleanOutcome>, StorageError> {
        let started = lock_log(log).start_clean(now_ms);
        let Some(snapshot) = started? else {
            return Ok(None);
        };
        let built = snapshot.build(cleaner);
        lock_log(log).finish_clean(built)
    }

    /// The first step of a clean: whether one is due, and what it needs.
    fn start_clean(&mut self, now_ms: i64) -> Result<Option<Snapshot>, StorageError> {
        self.ensure_live()?;
        if !self.config.cleanup_policy.compact || self.cleaner.failed.is_some() {
            return Ok(None);
        }
        let Some(plan) = self.plan(now_ms) else {
            return Ok(None);
        };
        self.snapshot_for(plan, now_ms)
            .map(Some)
            .inspect_err(|e| self.cleaner.failed = Some(e.to_string()))
    }

    /// The last step of a clean: swaps what `built` wrote in, or records
    /// why the clean failed. A log deleted or taken offline meanwhile only
    /// gets the copies removed.
    fn finish_clean(
        &mut self,
        built: Result<Cleaned, StorageError>,
    ) -> Result<Option<CleanOutcome>, StorageError> {
        if let Err(e) = self.ensure_live() {
            if let Ok(cleaned) = &built {
                cleaned.discard_from(0);
            }
            return Err(e);
        }
        let installed = built.and_then(|cleaned| self.install(cleaned));
        if let Err(e) = &installed {
            self.cleaner.failed = Some(e.to_string());
        }
        installed
    }

    /// Where the cleaner stopped, for the checkpoint (`None` before the
    /// first pass of a log never cleaned).
    pub(crate) fn cleaner_offset(&self) -> Option<i64> {
        self.cleaner.first_dirty_offset
    }

    /// Why cleaning this partition failed, if it did; the cleaner skips it.
    #[cfg(test)]
    pub fn cleaner_failure(&self) -> Option<&str> {
        self.cleaner.failed.as_deref()
    }

    /// Forgets a cleaning failure (new settings may fix it).
    pub(crate) fn reset_cleaner_failure(&mut self) {
        self.cleaner.failed = None;
    }

    /// The dirty section and the bound, if cleaning is due.
    fn plan(&self, now_ms: i64) -> Option<Plan> {
        let first_dirty = self
            .cleaner
            .first_dirty_offset
            .unwrap_or(self.log_start_offset)
            .max(self.log_start_offset);
        let last_stable = self.last_stable_offset();
        let min_lag = self.config.min_compaction_lag_ms;
        let mut upper = self.active.base_offset();
        for segment in self.older.values() {
            let newest = segment.retention_timestamp().unwrap_or(i64::MAX);
            let too_young = min_lag > 0 && newest > now_ms.saturating_sub(min_lag);
            if segment.next_offset() > last_stable || too_young {
                upper = segment.base_offset();
                break;
            }
        }
        let mut clean_bytes = 0u64;
        let mut dirty_bytes = 0u64;
        let mut oldest_dirty: Option<i64> = None;
        for segment in self.older.range(..upper).map(|(_, s)| s) {
            if segment.next_offset() <= first_dirty {
                clean_bytes += segment.size();
            } else {
                dirty_bytes += segment.size();
                if oldest_dirty.is_none() {
                    oldest_dirty = segment.retention_timestamp().ok();
                }
            }
        }
        if dirty_bytes == 0 {
            return None;
        }
        let ratio = dirty_bytes as f64 / (clean_bytes + dirty_bytes) as f64;
        let forced = oldest_dirty.is_some_and(|newest| {
            now_ms.saturating_sub(newest) >= self.config.max_compaction_lag_ms
        });
        (ratio >= self.config.min_cleanable_dirty_ratio.get() || forced)
            .then_some(Plan { first_dirty, upper })
    }
}

/// Refuses a produced batch holding a record without a key when the topic
/// is compacted, as Kafka does ("Compacted topic cannot accept message
/// without key", INVALID_RECORD): the cleaner could never supersede it.
pub(crate) fn check_keyed(
    batch: &[u8],
    header: &BatchHeader,
    config: &LogConfig,
) -> Result<(), StorageError> {
    let records = records::Records::parse(batch, header, rewrite::max_decompressed(config))?;
    for i in 0..records.len() {
        if records.view(header, i)?.key.is_none() {
            return Err(StorageError::InvalidRecord {
                reason: "Compacted topic cannot accept message without key".to_string(),
            });
        }
    }
    Ok(())
}
