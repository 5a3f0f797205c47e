//! What the cleaner keeps, the cleaned copy of one sealed segment (written
//! without the partition lock, from a [`SealedSegment`] view), and the
//! swap of that copy into the log (under the lock).
//!
//! A record is kept when it has a key, no later record of that key is in
//! the offset map, and it is not a tombstone whose segment's newest
//! timestamp is older than `delete.retention.ms`. Batches of aborted
//! transactions are dropped whole (the transaction index says which).
//! Control batches (transaction markers) are always kept, as are batches
//! whose records all stay (byte for byte); a batch losing some records is
//! rebuilt (`records.rs`) and one losing all of them is dropped. Keyless
//! records, which a compacted topic refuses at produce, are dropped, as
//! Kafka's cleaner does with those written before the topic was compacted.

use std::collections::HashMap;
use std::path::Path;

use durian_core::record::BatchHeader;

use super::offset_map::OffsetMap;
use super::records::Records;
use super::swap::{self, CLEANED};
use super::CleanOutcome;
use crate::storage::faults::{FaultPoint, Faults};
use crate::storage::partition_log::PartitionLog;
use crate::storage::segment::{PlacedBatch, SealedSegment, Segment};
use crate::storage::txn_index::AbortedTxn;
use crate::storage::{LogConfig, StorageError};

/// Most bytes one batch may decompress to while being cleaned.
pub(super) fn max_decompressed(config: &LogConfig) -> usize {
    config.max_message_bytes.saturating_mul(64).max(64 << 20)
}

/// The aborted transactions of the log, by producer: offset ranges from
/// the transaction's first batch to its abort marker.
pub(super) struct AbortedRanges(HashMap<i64, Vec<(i64, i64)>>);

impl AbortedRanges {
    /// Collects the entries of every segment's transaction index.
    pub(super) fn of<'a>(entries: impl Iterator<Item = &'a AbortedTxn>) -> AbortedRanges {
        let mut ranges: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
        for txn in entries {
            ranges
                .entry(txn.producer_id)
                .or_default()
                .push((txn.first_offset, txn.last_offset));
        }
        AbortedRanges(ranges)
    }

    /// Whether `header` is a data batch of an aborted transaction.
    fn contains(&self, header: &BatchHeader) -> bool {
        header.is_transactional()
            && !header.is_control()
            && self.0.get(&header.producer_id).is_some_and(|ranges| {
                ranges
                    .iter()
                    .any(|&(first, last)| first <= header.base_offset && header.base_offset <= last)
            })
    }
}

/// Every batch of `segment`, as (position, header).
fn batches(segment: &SealedSegment) -> Result<Vec<(u64, BatchHeader)>, StorageError> {
    let mut found = Vec::new();
    segment.for_each_header(|position, header| found.push((position, *header)))?;
    Ok(found)
}

/// Adds the keyed records at or after `first_dirty` of `segment` to the
/// map. Returns `false` when the map filled up before the segment's end.
pub(super) fn add_to_map(
    segment: &SealedSegment,
    first_dirty: i64,
    aborted: &AbortedRanges,
    max_decompressed: usize,
    map: &mut OffsetMap,
) -> Result<bool, StorageError> {
    for (position, header) in batches(segment)? {
        if header.is_control() || aborted.contains(&header) || header.last_offset() < first_dirty {
            continue;
        }
        let bytes = segment.read_bytes(position, header.total_len())?;
        let records = Records::parse(&bytes, &header, max_decompressed)?;
        for i in 0..records.len() {
            let record = records.view(&header, i)?;
            if let (Some(key), true) = (record.key, record.offset >= first_dirty) {
                if map.put(key, record.offset).is_err() {
                    return Ok(false);
                }
            }
        }
    }
    Ok(true)
}

/// What decides which records stay.
pub(super) struct Rules<'a> {
    /// Key → latest offset over the dirty section.
    pub map: &'a OffsetMap,
    /// The aborted transactions, whose data batches go.
    pub aborted: &'a AbortedRanges,
    /// Tombstones in segments whose newest timestamp is below this go.
    pub delete_horizon: i64,
    /// Most bytes one batch may decompress to.
    pub max_decompressed: usize,
}

/// The cleaned batches of one segment, or `None` when nothing changes.
fn filter_segment(
    segment: &SealedSegment,
    rules: &Rules<'_>,
    outcome: &mut CleanOutcome,
) -> Result<Option<Vec<Vec<u8>>>, StorageError> {
    let drop_tombstones = segment.retention_timestamp() < rules.delete_horizon;
    let mut changed = false;
    let mut kept_batches = Vec::new();
    for (position, header) in batches(segment)? {
        let bytes = segment.read_bytes(position, header.total_len())?;
        if header.is_control() {
            kept_batches.push(bytes);
            continue;
        }
        if rules.aborted.contains(&header) {
            changed = true;
            outcome.records_removed += u64::try_from(header.record_count).unwrap_or(0);
            continue;
        }
        let records = Records::parse(&bytes, &header, rules.max_decompressed)?;
        let mut kept = Vec::with_capacity(records.len());
        for i in 0..records.len() {
            let record = records.view(&header, i)?;
            let keep = record.key.is_some_and(|key| {
                rules
                    .map
                    .get(key)
                    .is_none_or(|latest| record.offset >= latest)
            }) && !(record.null_value && drop_tombstones);
            if keep {
                kept.push(i);
            }
        }
        outcome.records_removed += (records.len() - kept.len()) as u64;
        if kept.len() == records.len() {
            kept_batches.push(bytes);
        } else if kept.is_empty() {
            changed = true;
        } else {
            changed = true;
            kept_batches.push(records.rebuild(&bytes, &header, &kept)?);
        }
    }
    Ok(changed.then_some(kept_batches))
}

/// Where cleaned copies go and how they are written: the log's directory
/// and settings as they were when the clean began.
pub(super) struct Target<'a> {
    /// The log's directory.
    pub dir: &'a Path,
    /// The log's settings (index sizes, intervals).
    pub config: &'a LogConfig,
    /// The log's fault hook (tests).
    pub faults: &'a Faults,
    /// Broker time of the clean.
    pub now_ms: i64,
}

/// Writes the cleaned copy of `segment` as `<base>.*.cleaned` files, if
/// cleaning changes it, and returns whether it did. Runs without the
/// partition lock: `segment` is a view of a sealed segment, whose bytes do
/// not change. On an error nothing of the copy is left.
pub(super) fn write_cleaned_copy(
    target: &Target<'_>,
    segment: &SealedSegment,
    rules: &Rules<'_>,
    outcome: &mut CleanOutcome,
) -> Result<bool, StorageError> {
    let removed_before = outcome.records_removed;
    let Some(cleaned) = filter_segment(segment, rules, outcome)? else {
        return Ok(false);
    };
    if let Err(e) = write_cleaned(target, segment, &cleaned) {
        swap::discard(target.dir, segment.base_offset());
        outcome.records_removed = removed_before;
        return Err(e);
    }
    Ok(true)
}

/// Writes `batches` as `<base>.*.cleaned` with fresh indexes and the old
/// segment's transaction index entries (its markers are all kept), and
/// fsyncs them.
fn write_cleaned(
    target: &Target<'_>,
    old: &SealedSegment,
    batches: &[Vec<u8>],
) -> Result<(), StorageError> {
    let base = old.base_offset();
    let mut cleaned =
        Segment::create_named(target.dir, base, target.config, target.now_ms, CLEANED)?;
    for bytes in batches {
        let header = BatchHeader::parse(bytes)?;
        cleaned
            .append(
                bytes,
                &[PlacedBatch {
                    position: 0,
                    header,
                }],
                target.now_ms,
            )
            .map_err(|failed| failed.error)?;
    }
    for txn in old.aborted_txns() {
        cleaned.append_aborted(*txn)?;
    }
    cleaned.seal();
    if cleaned.indexes_dirty() {
        return Err(StorageError::io(
            target.dir,
            std::io::Error::other(format!(
                "log cleaner: could not write the indexes of cleaned segment {base}"
            )),
        ));
    }
    target
        .faults
        .check(FaultPoint::CleanerWrite)
        .map_err(|e| StorageError::io(target.dir, e))?;
    cleaned.sync()
}

impl PartitionLog {
    /// Swaps the cleaned copy of the sealed segment at `base` (written by
    /// [`write_cleaned_copy`]) in, under the partition lock, and returns
    /// the sizes of the old and the new segment. The caller checked that
    /// the segment is still the one the copy was made from. Failures
    /// before the swap commits remove the copy and leave the log as it
    /// was; failures after it take the log directory offline (the next
    /// open finishes the swap).
    pub(super) fn swap_in(&mut self, base: i64, now_ms: i64) -> Result<(u64, u64), StorageError> {
        let old_size = self.older.get(&base).map_or(0, Segment::size);
        let committed = self
            .remove_clean_marker()
            .and_then(|()| swap::commit(&self.dir, base, &self.faults));
        if let Err(e) = committed {
            swap::discard(&self.dir, base);
            return Err(e);
        }
        // Committed: from here on the disk holds the cleaned segment (or a
        // swap the next open finishes), so a failure leaves the log
        // directory offline rather than serving the old copy.
        let replaced = swap::replace(&self.dir, base, &self.faults)
            .and_then(|()| self.reopen_segment(base, now_ms));
        let fresh = self.offline_on_error(replaced)?;
        let new_size = fresh.size();
        // The old segment's file stays open for whoever still holds a view
        // of it (the cleaner's own, until this pass ends).
        self.older.insert(base, fresh);
        Ok((old_size, new_size))
    }

    /// Opens the segment at `base` after its files were replaced.
    fn reopen_segment(&self, base: i64, now_ms: i64) -> Result<Segment, StorageError> {
        let mut segment = match Segment::open(&self.dir, base, &self.config, now_ms)? {
            Ok(segment) => segment,
            Err(problem) => {
                tracing::warn!(log = %self.dir.display(), segment = base, %problem, "recovering a cleaned segment");
                Segment::recover(&self.dir, base, &self.config, now_ms)?.0
            }
        };
        segment.set_faults(self.faults.clone());
        Ok(segment)
    }
}
