//! Transactions in the producer state: which producers have a transaction
//! open (and from which offset), and the markers that end them.
//!
//! ```text
//! transactional batch, none open ──▶ current_txn_first_offset = its offset
//! marker (commit or abort)        ──▶ open transaction closed, returned
//! first unstable offset           =  min over producers of the open ones
//! ```
//!
//! As in Kafka, a marker from an older producer epoch or an older
//! coordinator epoch than the partition knows is refused.

use durian_core::record::BatchHeader;

use super::{ProducerEntry, ProducerStateManager, NO_EPOCH};
use crate::storage::StorageError;

/// A transaction a marker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompletedTxn {
    /// The producer whose transaction it was.
    pub producer_id: i64,
    /// Offset of its first batch; `None` when no transaction was open (a
    /// marker for a transaction that wrote nothing to this partition).
    pub first_offset: Option<i64>,
    /// Offset of the marker.
    pub marker_offset: i64,
}

/// What DescribeProducers reports of one producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProducerView {
    /// The producer id.
    pub producer_id: i64,
    /// Its current epoch.
    pub producer_epoch: i16,
    /// Sequence of its last record (-1: none cached).
    pub last_sequence: i32,
    /// Max timestamp of its last batch or marker (-1: none).
    pub last_timestamp: i64,
    /// Epoch of the coordinator of its last marker (-1: none).
    pub coordinator_epoch: i32,
    /// First offset of its open transaction (-1: none).
    pub current_txn_start_offset: i64,
}

impl ProducerStateManager {
    /// Checks that a marker of `producer_id` at `producer_epoch`, written
    /// by a coordinator at `coordinator_epoch`, may be appended.
    pub(crate) fn check_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
    ) -> Result<(), StorageError> {
        let Some(entry) = self.producers.get(&producer_id) else {
            return Ok(());
        };
        if entry.epoch != NO_EPOCH && producer_epoch < entry.epoch {
            return Err(StorageError::InvalidProducerEpoch {
                producer_id,
                epoch: producer_epoch,
                current: entry.epoch,
            });
        }
        if coordinator_epoch < entry.coordinator_epoch {
            return Err(StorageError::TransactionCoordinatorFenced {
                producer_id,
                coordinator_epoch,
                current: entry.coordinator_epoch,
            });
        }
        Ok(())
    }

    /// Applies a marker appended at `offset` (checked with
    /// [`check_marker`](Self::check_marker)), closing the producer's open
    /// transaction.
    pub(crate) fn complete_txn(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        coordinator_epoch: i32,
        offset: i64,
        timestamp: i64,
        now_ms: i64,
    ) -> CompletedTxn {
        let entry = self
            .producers
            .entry(producer_id)
            .or_insert_with(ProducerEntry::new);
        if producer_epoch != entry.epoch {
            // A new epoch restarts the sequences at 0.
            entry.epoch = producer_epoch;
            entry.batches.clear();
        }
        entry.coordinator_epoch = coordinator_epoch;
        entry.last_timestamp = timestamp;
        entry.last_marker_offset = offset;
        entry.last_append_ms = entry.last_append_ms.max(now_ms);
        let first_offset = entry.current_txn_first_offset.take();
        self.track(producer_id, first_offset, None);
        CompletedTxn {
            producer_id,
            first_offset,
            marker_offset: offset,
        }
    }

    /// Replays a control batch found in the log (a marker).
    pub(super) fn replay_marker(
        &mut self,
        header: &BatchHeader,
        now_ms: i64,
    ) -> Option<CompletedTxn> {
        if header.producer_id < 0 {
            return None;
        }
        let coordinator_epoch = self
            .producers
            .get(&header.producer_id)
            .map_or(super::NO_COORDINATOR_EPOCH, |e| e.coordinator_epoch);
        Some(self.complete_txn(
            header.producer_id,
            header.producer_epoch,
            coordinator_epoch,
            header.base_offset,
            header.max_timestamp,
            now_ms,
        ))
    }

    /// Sets the coordinator epoch of a producer after a replayed marker
    /// whose value was read (the header alone does not carry it).
    pub(crate) fn set_coordinator_epoch(&mut self, producer_id: i64, coordinator_epoch: i32) {
        if let Some(entry) = self.producers.get_mut(&producer_id) {
            entry.coordinator_epoch = coordinator_epoch;
        }
    }

    /// The first offset of the oldest open transaction, if any.
    pub(crate) fn first_unstable_offset(&self) -> Option<i64> {
        self.open_txns.first().map(|(first, _)| *first)
    }

    /// Every open transaction as (producer id, first offset), oldest first.
    #[cfg(test)]
    pub(crate) fn ongoing_txns(&self) -> Vec<(i64, i64)> {
        let mut open: Vec<_> = self
            .producers
            .iter()
            .filter_map(|(id, entry)| entry.current_txn_first_offset.map(|first| (*id, first)))
            .collect();
        open.sort_by_key(|(id, first)| (*first, *id));
        // Every test that looks also checks the index against the entries.
        let indexed: Vec<_> = self
            .open_txns
            .iter()
            .map(|(first, id)| (*id, *first))
            .collect();
        assert_eq!(
            indexed, open,
            "the open-transaction index drifted from the entries"
        );
        open
    }

    /// Every producer, by id, as DescribeProducers reports them.
    pub(crate) fn describe(&self) -> Vec<ProducerView> {
        let mut views: Vec<_> = self
            .producers
            .iter()
            .map(|(id, entry)| ProducerView {
                producer_id: *id,
                producer_epoch: entry.epoch,
                last_sequence: entry.last_seq().unwrap_or(-1),
                last_timestamp: entry.last_timestamp,
                coordinator_epoch: entry.coordinator_epoch,
                current_txn_start_offset: entry.current_txn_first_offset.unwrap_or(-1),
            })
            .collect();
        views.sort_by_key(|view| view.producer_id);
        views
    }
}
