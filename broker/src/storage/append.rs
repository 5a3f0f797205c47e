//! The append path of a partition log.
//!
//! ```text
//! records ─▶ validate every batch ─▶ producer checks ─▶ roll? ─▶ rewrite headers ─▶ write
//!            (nothing written         (duplicate? stop,          (base offset,       + index
//!             if any batch fails)      answer original offsets)   leader epoch,
//!                                                                 LogAppendTime)
//! ```
//!
//! Batches are stored exactly as the producer sent them except for the base
//! offset and partition leader epoch (outside the CRC) and, for
//! LogAppendTime topics, the timestamp type and max timestamp (the CRC is
//! then recomputed). Those header fields are stamped into copies of the
//! headers (`stamped.rs`), never into the producer's bytes, so an append
//! copies nothing but 61 bytes per batch before the write.

use durian_core::record::{validate_batch, BatchHeader, TimestampType};

use super::faults::FaultPoint;
use super::layout::{segment_file, INDEX_SUFFIX, LOG_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX};
use super::partition_log::{AppendResult, PartitionLog};
use super::producer_state::{SequenceCheck, StagedProducers};
use super::recovery::remove_if_exists;
use super::scanned::ScannedRecords;
use super::segment::{PlacedBatch, Segment, NO_TIMESTAMP};
use super::stamped::StampedHeaders;
use super::{FlushPolicy, StorageError};

impl PartitionLog {
    /// Appends the record batches of one Produce partition.
    ///
    /// Every batch is validated first (magic 2, CRC-32C, lengths, record
    /// count, timestamps, size <= `max_message_bytes`, no client control
    /// batches), then checked against the idempotent producer state; if
    /// anything fails nothing is written. Offsets are assigned by stamping
    /// each batch's base offset (and leader epoch) into a copy of its
    /// header, written in place of the original; `records` is not changed.
    ///
    /// A batch an idempotent producer already wrote (same producer, epoch
    /// and sequence range among its last 5) is answered with its original
    /// offsets and `duplicate: true`, and nothing is written. An empty
    /// `records` appends nothing and answers offsets -1, as Kafka does.
    ///
    /// The broker's produce path scans the records itself and calls
    /// [`PartitionLog::append_scanned`]; this is the same append for tests
    /// and the fuzz targets.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn append(
        &mut self,
        records: &[u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendResult, StorageError> {
        let scanned = ScannedRecords::scan(records);
        self.append_scanned(records, scanned, leader_epoch, now_ms)
    }

    /// [`PartitionLog::append`] of records the caller already walked
    /// (`scanned` must come from these very bytes): the same checks and
    /// outcome, without walking the bytes again. The produce handler
    /// scans once to classify and decode-check the batches, then appends.
    pub(crate) fn append_scanned(
        &mut self,
        records: &[u8],
        scanned: ScannedRecords,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendResult, StorageError> {
        self.ensure_live()?;
        let headers = self.validate_records(records, scanned)?;
        if headers.is_empty() {
            return Ok(self.result(-1, -1, -1, false));
        }
        let first_offset = self.log_end_offset();
        let mut staged = StagedProducers::default();
        let mut placed = Vec::with_capacity(headers.len());
        let mut next_offset = first_offset;
        for (position, header) in headers {
            match self.producers.check(&staged, &header)? {
                SequenceCheck::Duplicate(original) => {
                    return Ok(self.result(original.first_offset, original.last_offset, -1, true))
                }
                SequenceCheck::Append => {}
            }
            let last_offset = next_offset
                .checked_add(i64::from(header.last_offset_delta))
                .filter(|last| *last < i64::MAX)
                .ok_or_else(|| StorageError::InvalidRecord {
                    reason: "the partition has run out of offsets".to_string(),
                })?;
            self.producers
                .stage(&mut staged, &header, next_offset, last_offset);
            placed.push(PlacedBatch {
                position,
                header: BatchHeader {
                    base_offset: next_offset,
                    partition_leader_epoch: leader_epoch,
                    ..header
                },
            });
            next_offset = last_offset + 1;
        }
        let last_offset = next_offset - 1;
        let log_append_time = self.write_placed(
            records,
            &mut placed,
            first_offset,
            last_offset,
            now_ms,
            |log| {
                log.producers.commit(staged, now_ms);
            },
        )?;
        Ok(self.result(first_offset, last_offset, log_append_time, false))
    }

    /// Writes batches whose offsets `first_offset..=last_offset` were
    /// assigned (with offsets, leader epoch and LogAppendTime stamped into
    /// copies of their headers), rolling first if needed, then runs `written` (the
    /// producer state update: from then on a retry must be seen as a
    /// duplicate, whatever the fsync does) and applies the flush policy.
    /// Returns the log append time, or -1.
    pub(super) fn write_placed(
        &mut self,
        records: &[u8],
        placed: &mut [PlacedBatch],
        first_offset: i64,
        last_offset: i64,
        now_ms: i64,
        written: impl FnOnce(&mut PartitionLog),
    ) -> Result<i64, StorageError> {
        let (stamped, log_append_time) = self.stamp_batches(records, placed, now_ms)?;
        self.remove_clean_marker()?;
        if self
            .active
            .should_roll(records.len() as u64, last_offset, now_ms, &self.config)
        {
            self.roll(now_ms)?;
        }
        if let Err(failed) = self
            .active
            .append_stamped(records, &stamped, placed, now_ms)
        {
            // Undone, the append simply did not happen; otherwise the file
            // may hold a partial batch the log does not account for.
            if !failed.undone {
                self.dir_status.set_offline(&failed.error);
            }
            return Err(failed.error);
        }
        written(self);
        if self.config.flush == FlushPolicy::Always {
            let synced = self.active.sync_log();
            self.offline_on_error(synced)?;
            self.recovery_point = self.log_end_offset();
        } else {
            self.unflushed_records += (last_offset - first_offset + 1) as u64;
            self.first_unflushed_ms.get_or_insert(now_ms);
            self.flush_if_due(now_ms)?;
        }
        Ok(log_append_time)
    }

    /// Whether appending `bytes` more bytes at `now_ms` may wait on the
    /// disk rather than only copy into the page cache: with
    /// `flush.messages=1` (an fsync per append) or a periodic flush
    /// (`flush.messages` above 1, a due `flush.ms`), when the append would roll
    /// the segment (the sealed one is synced), or on the first append after
    /// a clean start (the clean-shutdown marker is removed and the
    /// directory synced). The produce handler runs such appends on the
    /// blocking pool and the rest inline, because a thread hand-off per
    /// append costs more than the write itself.
    ///
    /// The roll check assumes the largest offset span a Produce can claim,
    /// so it errs towards "may block".
    pub fn append_may_block(&self, bytes: usize, now_ms: i64) -> bool {
        let widest_last_offset = self.log_end_offset().saturating_add(i64::from(i32::MAX));
        self.config.flush == FlushPolicy::Always
            || self.config.flush_messages.is_some()
            || self.flush_due(now_ms)
            || self.clean_marker_on_disk
            || self
                .active
                .should_roll(bytes as u64, widest_last_offset, now_ms, &self.config)
    }

    /// Validates each scanned batch of `records` in order, then refuses
    /// a walk that did not cover every byte; returns the batches'
    /// positions and headers.
    fn validate_records(
        &self,
        records: &[u8],
        scanned: ScannedRecords,
    ) -> Result<Vec<(usize, BatchHeader)>, StorageError> {
        // As Kafka's log append: a segment holds an append whole, so records
        // larger than one are refused (RECORD_LIST_TOO_LARGE), before the
        // producer checks take a sequence and before any roll or write.
        if records.len() as u64 > self.config.segment_bytes {
            return Err(StorageError::RecordListTooLarge {
                size: records.len(),
                max: self.config.segment_bytes,
            });
        }
        for (position, header) in scanned.batches() {
            let bytes = records
                .get(*position..*position + header.total_len())
                .ok_or_else(|| StorageError::CorruptBatch {
                    reason: "batch extends past the records".to_string(),
                })?;
            validate_batch(bytes, self.config.max_message_bytes)?;
            check_client_batch(header)?;
            if self.config.cleanup_policy.compact {
                super::cleaner::check_keyed(bytes, header, &self.config)?;
            }
        }
        scanned.into_whole_batches()
    }

    /// Stamps the assigned base offsets, the leader epoch and (for
    /// LogAppendTime) the broker time into copies of the batch headers.
    /// Returns them and the log append time, or -1.
    fn stamp_batches(
        &self,
        records: &[u8],
        placed: &mut [PlacedBatch],
        now_ms: i64,
    ) -> Result<(StampedHeaders, i64), StorageError> {
        let log_append_time =
            (self.config.message_timestamp_type == TimestampType::LogAppendTime).then_some(now_ms);
        let stamped = StampedHeaders::stamp(records, placed, log_append_time)?;
        Ok((stamped, log_append_time.unwrap_or(-1)))
    }

    /// Seals and flushes the active segment and starts a new one at the log end.
    ///
    /// A roll either completes or leaves the log as it was: the new
    /// segment is created first (a failure removes what it left behind and
    /// the old segment stays active, readable and appendable), and the old
    /// one is synced before it is replaced (a failed fsync takes the log
    /// directory offline, see `dir_status.rs`).
    pub(super) fn roll(&mut self, now_ms: i64) -> Result<(), StorageError> {
        let base = self.log_end_offset();
        let created = Segment::create(&self.dir, base, &self.config, now_ms).and_then(|fresh| {
            // Injected here, after the files exist, to exercise the cleanup.
            match self.faults.check(FaultPoint::Roll) {
                Ok(()) => Ok(fresh),
                Err(e) => {
                    let _ = fresh.delete();
                    Err(StorageError::io(&self.dir, e))
                }
            }
        });
        let mut fresh = match created {
            Ok(fresh) => fresh,
            Err(e) => {
                if base != self.active.base_offset() {
                    for suffix in [
                        LOG_SUFFIX,
                        INDEX_SUFFIX,
                        TIME_INDEX_SUFFIX,
                        TXN_INDEX_SUFFIX,
                    ] {
                        let _ = remove_if_exists(&segment_file(&self.dir, base, suffix));
                    }
                }
                return Err(e);
            }
        };
        fresh.set_faults(self.faults.clone());
        self.active.seal();
        // The rolled segment is complete: make it durable before moving on.
        if let Err(e) = self.active.sync() {
            let _ = fresh.delete();
            return self.offline_on_error(Err(e));
        }
        let old = std::mem::replace(&mut self.active, fresh);
        self.recovery_point = old.next_offset();
        self.unflushed_records = 0;
        self.first_unflushed_ms = None;
        self.older.insert(old.base_offset(), old);
        let synced = super::checkpoint::sync_dir(&self.dir);
        self.offline_on_error(synced)?;
        // A snapshot per roll bounds what the next open replays, even after
        // a crash. It is an optimisation: the previous one stays valid.
        if let Err(e) = self.snapshot_producers() {
            tracing::warn!(log = %self.dir.display(), error = %e, "could not snapshot the producer state at a roll");
        }
        Ok(())
    }

    fn result(&self, base: i64, last: i64, log_append_time: i64, duplicate: bool) -> AppendResult {
        AppendResult {
            base_offset: base,
            last_offset: last,
            log_append_time,
            log_start_offset: self.log_start_offset,
            duplicate,
        }
    }
}

/// Rules for batches coming from clients, beyond integrity.
fn check_client_batch(header: &BatchHeader) -> Result<(), StorageError> {
    if header.is_control() {
        return Err(StorageError::InvalidRecord {
            reason: "clients may not write control batches".to_string(),
        });
    }
    for timestamp in [header.base_timestamp, header.max_timestamp] {
        if timestamp < NO_TIMESTAMP {
            return Err(StorageError::InvalidTimestamp {
                timestamp,
                reason: "timestamps are milliseconds since the epoch or -1",
            });
        }
    }
    Ok(())
}
