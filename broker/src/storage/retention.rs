//! Removing old data from a partition log: retention and DeleteRecords.
//!
//! Only whole sealed segments are ever deleted; the active segment stays,
//! so a log always has somewhere to append. The log start offset moves to
//! the first remaining record (or to the DeleteRecords offset, which may
//! lie inside a segment: reads below it are then out of range even though
//! the bytes are still on disk until the segment goes).

use super::partition_log::PartitionLog;
use super::StorageError;

impl PartitionLog {
    /// Makes `offset` the new log start (DeleteRecords): records below it
    /// become unreadable and sealed segments holding only such records are
    /// deleted. Returns the new log start offset, which never moves back.
    ///
    /// `offset` must not exceed the high watermark; Kafka's "-1 = high
    /// watermark" is the caller's to map.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, StorageError> {
        self.ensure_live()?;
        if offset < 0 || offset > self.high_watermark() {
            return Err(StorageError::OffsetOutOfRange {
                requested: offset,
                start: self.log_start_offset,
                end: self.high_watermark(),
            });
        }
        if offset > self.log_start_offset {
            self.log_start_offset = offset;
            self.delete_segments_while(|segment| segment.next_offset() <= offset)?;
            self.producers.remove_before(self.log_start_offset);
        }
        Ok(self.log_start_offset)
    }

    /// Applies `retention.ms` and `retention.bytes`: deletes the oldest
    /// sealed segments whose newest timestamp is older than `now_ms -
    /// retention.ms`, then the oldest sealed segments while the log exceeds
    /// `retention.bytes`. Returns how many segments were deleted. Also
    /// forgets producers idle for `producer_id_expiration_ms`.
    pub fn enforce_retention(&mut self, now_ms: i64) -> Result<usize, StorageError> {
        self.ensure_live()?;
        self.producers
            .remove_expired(now_ms, self.config.producer_id_expiration_ms);
        let mut deleted = 0;
        // Only `cleanup.policy=delete` (alone or with compact) deletes by age
        // and size; a compact-only log keeps every key's latest record.
        if !self.config.cleanup_policy.delete {
            return Ok(0);
        }
        if let Some(retention_ms) = self.config.retention_ms {
            let horizon = now_ms.saturating_sub(retention_ms);
            deleted += self.delete_segments_while(|segment| {
                segment
                    .retention_timestamp()
                    .is_ok_and(|newest| newest < horizon)
            })?;
        }
        if let Some(retention_bytes) = self.config.retention_bytes {
            let mut excess = self.size_bytes().saturating_sub(retention_bytes);
            deleted += self.delete_segments_while(|segment| {
                let fits = segment.size() <= excess;
                if fits {
                    excess -= segment.size();
                }
                fits
            })?;
        }
        if deleted > 0 {
            self.producers.remove_before(self.log_start_offset);
        }
        Ok(deleted)
    }

    /// Deletes sealed segments from the oldest while `condition` holds,
    /// advancing the log start past them. Returns how many were deleted.
    fn delete_segments_while(
        &mut self,
        mut condition: impl FnMut(&super::segment::Segment) -> bool,
    ) -> Result<usize, StorageError> {
        let mut deleted = 0;
        while let Some(entry) = self.older.first_entry() {
            if !condition(entry.get()) {
                break;
            }
            let segment = entry.remove();
            let next_base = self
                .older
                .first_key_value()
                .map_or(self.active.base_offset(), |(base, _)| *base);
            self.log_start_offset = self.log_start_offset.max(next_base);
            segment.delete()?;
            deleted += 1;
        }
        if deleted > 0 {
            super::checkpoint::sync_dir(&self.dir)?;
        }
        Ok(deleted)
    }
}
