//! One cleaning of one partition, in three steps so that the partition
//! lock is held only briefly:
//!
//! ```text
//! lock    snapshot   the plan, views of the sealed segments below the bound,
//!                    the aborted transactions, the settings
//! no lock build      offset map, cleaned copies (*.cleaned, fsynced)
//! lock    install    are the segments read still the ones in the log?
//!                      yes: swap each copy in, advance the first dirty offset
//!                      no:  discard the copies; the next pass retries
//! ```
//!
//! Why the unlocked step is safe: it reads only sealed segments, which
//! never change (appends go to the active segment, which is never cleaned
//! and whose keys do not enter the offset map, as before), through views
//! that share the segments' open files, so a concurrent retention delete or
//! DeleteRecords cannot pull the bytes away mid-read. Those are the only
//! operations that remove sealed segments, and the install step notices
//! them ([`Segment::is_viewed_by`]) and throws the work away, so a cleaned
//! copy never resurrects a deleted segment (a log whose settings no longer
//! ask for compaction, or that was deleted, gets its copies removed
//! too). The aborted transactions of the snapshot are complete for the
//! cleaned range: the bound lies at or below the last stable offset, so
//! every transaction with data there had its marker written before the
//! snapshot. Fetches run under the lock, so they
//! see either the old segment or its cleaned copy, never a half-swapped one.
//! Two cleans of one log must not overlap (their `.cleaned` files would
//! collide); the [`LogManager`](crate::storage::LogManager) runs one pass
//! at a time.

use std::path::PathBuf;

use super::offset_map::OffsetMap;
use super::rewrite::{self, AbortedRanges, Rules, Target};
use super::swap;
use super::{CleanOutcome, CleanerConfig, Plan};
use crate::storage::faults::Faults;
use crate::storage::partition_log::PartitionLog;
use crate::storage::segment::{SealedSegment, Segment};
use crate::storage::{LogConfig, StorageError};

/// What a clean needs of the log, taken under the lock.
pub(super) struct Snapshot {
    dir: PathBuf,
    config: LogConfig,
    faults: Faults,
    now_ms: i64,
    plan: Plan,
    aborted: AbortedRanges,
    /// Views of the sealed segments below the bound, oldest first.
    segments: Vec<SealedSegment>,
}

/// The cleaned copies written without the lock, waiting to be swapped in.
pub(super) struct Cleaned {
    dir: PathBuf,
    now_ms: i64,
    /// Every segment the clean read: the copies are valid only while all
    /// of them are still in the log, unchanged.
    read: Vec<SealedSegment>,
    /// Base offsets of the segments with a cleaned copy, oldest first.
    copies: Vec<i64>,
    outcome: CleanOutcome,
}

impl PartitionLog {
    /// Takes what a clean of `plan` needs (the first step; the lock is held).
    pub(super) fn snapshot_for(&self, plan: Plan, now_ms: i64) -> Result<Snapshot, StorageError> {
        let segments = self
            .older
            .range(..plan.upper)
            .map(|(_, segment)| segment.sealed_view())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Snapshot {
            dir: self.dir.clone(),
            config: self.config.clone(),
            faults: self.faults.clone(),
            now_ms,
            aborted: AbortedRanges::of(self.segments().flat_map(Segment::aborted_txns)),
            plan,
            segments,
        })
    }

    /// Swaps the cleaned copies in if the segments they were made from are
    /// still in the log (the third step; the lock is held). Returns `None`
    /// when the log changed under the clean and the copies were discarded.
    pub(super) fn install(
        &mut self,
        cleaned: Cleaned,
    ) -> Result<Option<CleanOutcome>, StorageError> {
        let unchanged = cleaned.read.iter().all(|view| {
            self.older
                .get(&view.base_offset())
                .is_some_and(|segment| segment.is_viewed_by(view))
        });
        if !unchanged || !self.config.cleanup_policy.compact {
            tracing::debug!(log = %self.dir.display(), "the log changed during the clean; its work is discarded and the next pass retries");
            cleaned.discard_from(0);
            return Ok(None);
        }
        let mut outcome = cleaned.outcome;
        for (i, &base) in cleaned.copies.iter().enumerate() {
            match self.swap_in(base, cleaned.now_ms) {
                Ok((before, after)) => {
                    outcome.segments_rewritten += 1;
                    outcome.bytes_before += before;
                    outcome.bytes_after += after;
                }
                Err(e) => {
                    cleaned.discard_from(i + 1);
                    return Err(e);
                }
            }
        }
        self.cleaner.first_dirty_offset = Some(outcome.cleaned_up_to);
        Ok(Some(outcome))
    }
}

impl Snapshot {
    /// Builds the offset map over the dirty section and writes the cleaned
    /// copies of the sealed segments below the bound the map reached (the
    /// second step: no lock is held, and the caller is on a thread that may
    /// block on the disk).
    pub(super) fn build(self, cleaner: &CleanerConfig) -> Result<Cleaned, StorageError> {
        let first_dirty = self.plan.first_dirty;
        let max_decompressed = rewrite::max_decompressed(&self.config);
        let mut map = OffsetMap::new(cleaner.dedupe_buffer_bytes);
        let mut end = self.plan.upper;
        for segment in &self.segments {
            if segment.next_offset() <= first_dirty {
                continue;
            }
            if !rewrite::add_to_map(
                segment,
                first_dirty,
                &self.aborted,
                max_decompressed,
                &mut map,
            )? {
                end = segment.base_offset();
                break;
            }
        }
        let below_end = || self.segments.iter().filter(|s| s.base_offset() < end);
        if end <= first_dirty || below_end().all(|s| s.next_offset() <= first_dirty) {
            return Err(StorageError::InvalidConfig(format!(
                "log cleaner: the offset map ({} bytes, log.cleaner.dedupe.buffer.size) cannot hold the keys of one segment of {}",
                cleaner.dedupe_buffer_bytes,
                self.dir.display()
            )));
        }
        let rules = Rules {
            map: &map,
            aborted: &self.aborted,
            delete_horizon: self.now_ms.saturating_sub(self.config.delete_retention_ms),
            max_decompressed,
        };
        let target = Target {
            dir: &self.dir,
            config: &self.config,
            faults: &self.faults,
            now_ms: self.now_ms,
        };
        let mut outcome = CleanOutcome {
            cleaned_up_to: end,
            ..CleanOutcome::default()
        };
        let mut copies = Vec::new();
        for segment in below_end() {
            match rewrite::write_cleaned_copy(&target, segment, &rules, &mut outcome) {
                Ok(true) => copies.push(segment.base_offset()),
                Ok(false) => {}
                Err(e) => {
                    for &base in &copies {
                        swap::discard(&self.dir, base);
                    }
                    return Err(e);
                }
            }
        }
        tracing::debug!(log = %self.dir.display(), keys = map.len(), ?outcome, "log cleaner built cleaned copies");
        // Tests hold the cleaner here to act on the log mid-clean.
        self.faults.cleaner_pause();
        Ok(Cleaned {
            dir: self.dir,
            now_ms: self.now_ms,
            read: self.segments,
            copies,
            outcome,
        })
    }
}

impl Cleaned {
    /// Removes the cleaned copies not swapped in, from the `first`th on.
    pub(super) fn discard_from(&self, first: usize) {
        for &base in self.copies.iter().skip(first) {
            swap::discard(&self.dir, base);
        }
    }
}
