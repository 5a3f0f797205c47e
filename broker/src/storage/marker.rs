//! Transaction markers: the control batches the transaction coordinator
//! has a partition write when a transaction commits or aborts.
//!
//! ```text
//! append_marker(marker) ─▶ epoch checks ─▶ control batch (core's encoding)
//!                        ─▶ written like a produced batch (roll, flush policy)
//!                        ─▶ producer's open transaction closed (the LSO may move)
//!                        ─▶ abort: entry in the active segment's .txnindex
//! ```
//!
//! Also here: which aborted transactions overlap a fetch's range.

use bytes::Bytes;
use durian_core::record::{
    end_txn_marker_batch, parse_control_key, parse_end_txn_marker_value, BatchHeader,
    ControlRecordType, RecordIter,
};

use super::partition_log::PartitionLog;
use super::producer_state::{CompletedTxn, ProducerStateManager};
use super::segment::PlacedBatch;
use super::txn_index::AbortedTxn;
use super::StorageError;

/// A transaction marker to write into a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    /// The producer whose transaction ends.
    pub producer_id: i64,
    /// The producer's epoch (the one the transaction ran under, or the
    /// bumped one when the coordinator aborts on a fenced producer's behalf).
    pub producer_epoch: i16,
    /// Commit (true) or abort (false).
    pub commit: bool,
    /// Epoch of the coordinator writing the marker; a marker from an older
    /// coordinator than the partition has seen for the producer is refused.
    pub coordinator_epoch: i32,
}

impl TxnMarker {
    /// The control record type this marker writes.
    pub fn kind(&self) -> ControlRecordType {
        if self.commit {
            ControlRecordType::Commit
        } else {
            ControlRecordType::Abort
        }
    }
}

impl PartitionLog {
    /// Appends a transaction marker as one control batch (its timestamp
    /// `now_ms`, leader epoch `leader_epoch`) and returns its offset.
    ///
    /// The producer's open transaction, if any, ends: the last stable
    /// offset may move forward, and an abort is recorded in the
    /// aborted-transaction index. A marker for an epoch older than the one
    /// the partition holds for the producer is refused with
    /// [`StorageError::InvalidProducerEpoch`], one from an older coordinator
    /// with [`StorageError::TransactionCoordinatorFenced`], as Kafka does.
    /// A marker for a producer without an open transaction is still
    /// written (the coordinator retries markers it is unsure of).
    pub(crate) fn append_marker(
        &mut self,
        marker: TxnMarker,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<i64, StorageError> {
        self.ensure_live()?;
        self.producers.check_marker(
            marker.producer_id,
            marker.producer_epoch,
            marker.coordinator_epoch,
        )?;
        let batch = end_txn_marker_batch(
            marker.producer_id,
            marker.producer_epoch,
            marker.kind(),
            marker.coordinator_epoch,
            now_ms,
        )?;
        let offset = self.log_end_offset();
        if offset == i64::MAX {
            return Err(StorageError::InvalidRecord {
                reason: "the partition has run out of offsets".to_string(),
            });
        }
        let header = BatchHeader {
            base_offset: offset,
            partition_leader_epoch: leader_epoch,
            ..BatchHeader::parse(&batch)?
        };
        let mut placed = [PlacedBatch {
            position: 0,
            header,
        }];
        let mut completed = None;
        self.write_placed(&batch, &mut placed, offset, offset, now_ms, |log| {
            completed = Some(log.producers.complete_txn(
                marker.producer_id,
                marker.producer_epoch,
                marker.coordinator_epoch,
                offset,
                now_ms,
                now_ms,
            ));
        })?;
        if let Some(txn) = completed.filter(|_| !marker.commit) {
            // A read_committed reader must learn of the abort, or it would
            // take the aborted records for committed ones: if the index
            // cannot be written the log directory goes offline.
            let entry = aborted_entry(&self.producers, txn);
            let written = self.active.append_aborted(entry);
            self.offline_on_error(written)?;
        }
        Ok(offset)
    }

    /// The aborted transactions that overlap the offsets `from..upper`
    /// (a fetch's range), as (producer id, first offset), in marker order.
    ///
    /// An entry lives in the segment of its marker, which comes after the
    /// transaction's records, so only segments reaching `from` are looked
    /// at; the walk stops at the first entry whose last stable offset
    /// reaches `upper` (every transaction starting before `upper` was
    /// decided by then).
    pub fn aborted_transactions(&self, from: i64, upper: i64) -> Vec<(i64, i64)> {
        let mut found = Vec::new();
        for segment in self.segments().filter(|s| s.next_offset() > from) {
            for txn in segment.aborted_txns() {
                if txn.last_offset >= from && txn.first_offset < upper {
                    found.push((txn.producer_id, txn.first_offset));
                }
                if txn.last_stable_offset >= upper {
                    return found;
                }
            }
        }
        found
    }
}

/// The `.txnindex` entry of the aborted transaction `txn`, whose marker
/// `producers` has just applied.
pub(super) fn aborted_entry(producers: &ProducerStateManager, txn: CompletedTxn) -> AbortedTxn {
    AbortedTxn {
        producer_id: txn.producer_id,
        // An abort of a transaction that wrote nothing here covers only
        // its marker, as in Kafka.
        first_offset: txn.first_offset.unwrap_or(txn.marker_offset),
        last_offset: txn.marker_offset,
        last_stable_offset: producers
            .first_unstable_offset()
            .unwrap_or(txn.marker_offset + 1),
    }
}

/// The type and coordinator epoch of the marker in a control batch read
/// from the log; `None` if its record does not decode (the batch was
/// validated when written, so only damage that recovery missed).
pub(super) fn read_marker(batch: Vec<u8>) -> Option<(ControlRecordType, i32)> {
    let batch = Bytes::from(batch);
    let record = RecordIter::new(&batch).ok()?.next()?.ok()?;
    let kind = parse_control_key(record.key.as_deref()?).ok()?;
    let coordinator_epoch = parse_end_txn_marker_value(record.value.as_deref()?).ok()?;
    Some((kind, coordinator_epoch))
}
