//! Idempotent producer bookkeeping: epochs and the last sequence ranges
//! of every producer id seen in a partition.
//!
//! For each producer id the log remembers its current epoch and the last
//! [`CACHED_BATCHES`] batches (first/last sequence, first/last offset). A
//! producer retries a batch whose acknowledgement it lost; if the batch
//! matches a cached one it is a duplicate and the original offsets are
//! returned without writing it again. The rules follow Kafka's
//! `ProducerAppendInfo`:
//!
//! ```text
//! batch epoch <  current epoch                 -> InvalidProducerEpoch (fenced)
//! batch epoch == current, seq range cached     -> duplicate, original offsets
//! batch epoch >  current (a bump), seq != 0    -> OutOfOrderSequence
//! batch epoch == current, seq != last seq + 1  -> OutOfOrderSequence
//! producer id unknown                          -> accepted with any sequence
//! ```
//!
//! The last rule is KIP-360's: a producer whose batches were all removed by
//! retention or DeleteRecords is forgotten by the broker, and since Kafka
//! 2.5 the broker accepts it again instead of answering UNKNOWN_PRODUCER_ID.
//! Sequences wrap from `i32::MAX` to 0.
//!
//! The state is read from a snapshot file (written at every roll and at a
//! clean close, `producer_state/snapshot.rs`) plus the batch headers after
//! it when a log is opened, or rebuilt from all headers without one.
//! Producers are forgotten after `producer.id.expiration.ms` without an
//! append, as in Kafka.

use std::collections::{BTreeSet, HashMap, VecDeque};

use durian_core::record::BatchHeader;

use super::StorageError;

mod snapshot;
mod txn;

pub(crate) use snapshot::{decode_snapshot, encode_snapshot};
pub(crate) use txn::{CompletedTxn, ProducerView};

/// How many recent batches per producer are remembered for duplicate
/// detection; producers keep at most 5 requests in flight.
pub(crate) const CACHED_BATCHES: usize = 5;

/// Epoch of a producer the log has not seen.
const NO_EPOCH: i16 = -1;

/// Coordinator epoch before any transaction marker was seen.
const NO_COORDINATOR_EPOCH: i32 = -1;

/// Sequence and offset range of one appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchMetadata {
    /// Sequence of the first record.
    pub first_seq: i32,
    /// Sequence of the last record.
    pub last_seq: i32,
    /// Offset of the first record.
    pub first_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
}

/// What the log knows about one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMetadata>,
    /// Broker time of the producer's last append (for
    /// `producer.id.expiration.ms`); for state rebuilt from the log, the
    /// time the log was opened.
    last_append_ms: i64,
    /// Epoch of the transaction coordinator that wrote the producer's
    /// last marker (older coordinators are fenced).
    coordinator_epoch: i32,
    /// Max timestamp of the producer's last batch or marker (-1: none).
    last_timestamp: i64,
    /// First offset of the producer's ongoing transaction, if one is open.
    current_txn_first_offset: Option<i64>,
    /// Offset of the producer's last transaction marker (-1: none), which
    /// keeps a producer whose marker bumped its epoch (clearing its
    /// batches) from being forgotten as if its records were deleted.
    last_marker_offset: i64,
}

impl ProducerEntry {
    fn new() -> Self {
        ProducerEntry {
            epoch: NO_EPOCH,
            batches: VecDeque::with_capacity(CACHED_BATCHES),
            last_append_ms: 0,
            coordinator_epoch: NO_COORDINATOR_EPOCH,
            last_timestamp: -1,
            current_txn_first_offset: None,
            last_marker_offset: -1,
        }
    }

    /// Offset of the producer's last batch or marker (-1: none).
    fn last_offset(&self) -> i64 {
        self.batches
            .back()
            .map_or(-1, |b| b.last_offset)
            .max(self.last_marker_offset)
    }

    /// Notes a data batch at `first_offset` of epoch `epoch`: a
    /// transactional one opens a transaction if none is open.
    fn note_data_batch(&mut self, header: &BatchHeader, first_offset: i64) {
        self.last_timestamp = header.max_timestamp;
        if header.is_transactional() && self.current_txn_first_offset.is_none() {
            self.current_txn_first_offset = Some(first_offset);
        }
    }

    fn last_seq(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_seq)
    }

    fn record(&mut self, epoch: i16, batch: BatchMetadata) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
        if self.batches.len() == CACHED_BATCHES {
            self.batches.pop_front();
        }
        self.batches.push_back(batch);
    }
}

/// Outcome of checking one batch against the producer state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceCheck {
    /// The batch is new and in order: append it.
    Append,
    /// The batch was appended before at these offsets: do not write it.
    Duplicate(BatchMetadata),
}

/// The producer state of one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// Every open transaction as (first offset, producer id), so the last
    /// stable offset, asked for by every Fetch, is the first entry instead
    /// of a scan of every producer. Kept in step with each entry's
    /// `current_txn_first_offset` by [`Self::track`].
    open_txns: BTreeSet<(i64, i64)>,
}

/// Producer updates of one append, applied only once the append succeeded.
#[derive(Debug, Default)]
pub(crate) struct StagedProducers {
    updated: HashMap<i64, ProducerEntry>,
}

impl ProducerStateManager {
    /// The highest producer id the partition holds state for.
    pub(crate) fn max_producer_id(&self) -> Option<i64> {
        self.producers.keys().copied().max()
    }

    /// Number of producers tracked.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.producers.len()
    }

    /// Checks a client batch against the state (including batches staged
    /// earlier in the same append). Non-idempotent batches always pass.
    pub(crate) fn check(
        &self,
        staged: &StagedProducers,
        header: &BatchHeader,
    ) -> Result<SequenceCheck, StorageError> {
        if header.producer_id < 0 {
            return Ok(SequenceCheck::Append);
        }
        if header.base_sequence < 0 {
            return Err(StorageError::InvalidRecord {
                reason: format!(
                    "batch of producer {} has no sequence number",
                    header.producer_id
                ),
            });
        }
        let committed = self.producers.get(&header.producer_id);
        if let Some(dup) = committed.and_then(|entry| find_duplicate(entry, header)) {
            return Ok(SequenceCheck::Duplicate(dup));
        }
        let current = staged
            .updated
            .get(&header.producer_id)
            .or(committed)
            .cloned()
            .unwrap_or_else(ProducerEntry::new);
        check_epoch_and_sequence(&current, header)?;
        Ok(SequenceCheck::Append)
    }

    /// Stages the state change of a checked batch appended at
    /// `first_offset..=last_offset`.
    pub(crate) fn stage(
        &self,
        staged: &mut StagedProducers,
        header: &BatchHeader,
        first_offset: i64,
        last_offset: i64,
    ) {
        if header.producer_id < 0 {
            return;
        }
        let entry = staged.updated.entry(header.producer_id).or_insert_with(|| {
            self.producers
                .get(&header.producer_id)
                .cloned()
                .unwrap_or_else(ProducerEntry::new)
        });
        entry.record(
            header.producer_epoch,
            metadata(header, first_offset, last_offset),
        );
        entry.note_data_batch(header, first_offset);
    }

    /// Applies staged updates after the append reached the log at broker
    /// time `now_ms`.
    pub(crate) fn commit(&mut self, staged: StagedProducers, now_ms: i64) {
        for (id, mut entry) in staged.updated {
            entry.last_append_ms = now_ms;
            let before = self
                .producers
                .get(&id)
                .and_then(|e| e.current_txn_first_offset);
            self.track(id, before, entry.current_txn_first_offset);
            self.producers.insert(id, entry);
        }
    }

    /// Moves producer `id`'s open transaction in the index from `before`
    /// to `after` (either may be none).
    pub(super) fn track(&mut self, id: i64, before: Option<i64>, after: Option<i64>) {
        if before == after {
            return;
        }
        if let Some(first) = before {
            self.open_txns.remove(&(first, id));
        }
        if let Some(first) = after {
            self.open_txns.insert((first, id));
        }
    }

    /// Rebuilds the open-transaction index from the entries (after a
    /// snapshot is loaded).
    pub(super) fn reindex(&mut self) {
        self.open_txns = self
            .producers
            .iter()
            .filter_map(|(id, e)| e.current_txn_first_offset.map(|first| (first, *id)))
            .collect();
    }

    /// Forgets producers whose last append is at least `expiration_ms`
    /// old at `now_ms` (Kafka's `producer.id.expiration.ms`): their next
    /// batch is accepted with any sequence, as for an unknown producer.
    /// Returns how many were forgotten.
    pub(crate) fn remove_expired(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        // A producer with an open transaction is kept: its marker is still
        // to come, and forgetting it would lose the last stable offset.
        self.producers.retain(|_, entry| {
            entry.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(entry.last_append_ms) < expiration_ms
        });
        before - self.producers.len()
    }

    /// Replays a batch found in the log while rebuilding the state at
    /// broker time `now_ms`; no rules are checked, the log is the truth.
    /// A control batch ends its producer's transaction, which is returned.
    pub(crate) fn replay(&mut self, header: &BatchHeader, now_ms: i64) -> Option<CompletedTxn> {
        if header.is_control() {
            return self.replay_marker(header, now_ms);
        }
        if header.producer_id < 0 || header.base_sequence < 0 {
            return None;
        }
        let entry = self
            .producers
            .entry(header.producer_id)
            .or_insert_with(ProducerEntry::new);
        let before = entry.current_txn_first_offset;
        entry.record(
            header.producer_epoch,
            metadata(header, header.base_offset, header.last_offset()),
        );
        entry.note_data_batch(header, header.base_offset);
        entry.last_append_ms = entry.last_append_ms.max(now_ms);
        let after = entry.current_txn_first_offset;
        self.track(header.producer_id, before, after);
        None
    }

    /// Forgets everything (before a rebuild).
    pub(crate) fn clear(&mut self) {
        self.producers.clear();
        self.open_txns.clear();
    }

    /// Forgets producers whose last batch lies entirely before `offset`
    /// (their records were deleted; KIP-360 lets them start over), unless
    /// a transaction of theirs is still open (its marker is to come).
    pub(crate) fn remove_before(&mut self, offset: i64) {
        self.producers.retain(|_, entry| {
            entry.current_txn_first_offset.is_some() || entry.last_offset() >= offset
        });
    }
}

fn metadata(header: &BatchHeader, first_offset: i64, last_offset: i64) -> BatchMetadata {
    BatchMetadata {
        first_seq: header.base_sequence,
        last_seq: header.last_sequence(),
        first_offset,
        last_offset,
    }
}

fn find_duplicate(entry: &ProducerEntry, header: &BatchHeader) -> Option<BatchMetadata> {
    if entry.epoch != header.producer_epoch {
        return None;
    }
    let last_seq = header.last_sequence();
    entry
        .batches
        .iter()
        .find(|b| b.first_seq == header.base_sequence && b.last_seq == last_seq)
        .copied()
}

/// `next` directly follows `last`, wrapping at `i32::MAX`.
fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

fn check_epoch_and_sequence(
    current: &ProducerEntry,
    header: &BatchHeader,
) -> Result<(), StorageError> {
    let (producer_id, epoch, seq) = (
        header.producer_id,
        header.producer_epoch,
        header.base_sequence,
    );
    if current.epoch != NO_EPOCH && epoch < current.epoch {
        return Err(StorageError::InvalidProducerEpoch {
            producer_id,
            epoch,
            current: current.epoch,
        });
    }
    if current.epoch == NO_EPOCH {
        // Unknown producer (new, or its batches were deleted): any sequence.
        return Ok(());
    }
    if epoch != current.epoch {
        // An epoch bump restarts the sequence at 0.
        if seq != 0 {
            return Err(StorageError::OutOfOrderSequence {
                producer_id,
                epoch,
                found: seq,
                expected: 0,
            });
        }
        return Ok(());
    }
    match current.last_seq() {
        Some(last) if !in_sequence(last, seq) => Err(StorageError::OutOfOrderSequence {
            producer_id,
            epoch,
            found: seq,
            expected: if last == i32::MAX { 0 } else { last + 1 },
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(producer_id: i64, epoch: i16, seq: i32, count: i32) -> BatchHeader {
        BatchHeader {
            base_offset: 0,
            batch_length: 49,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id,
            producer_epoch: epoch,
            base_sequence: seq,
            record_count: count,
        }
    }

    /// Checks and commits one batch at `offset`, as an append would.
    fn append(
        state: &mut ProducerStateManager,
        h: &BatchHeader,
        offset: i64,
    ) -> Result<SequenceCheck, StorageError> {
        let mut staged = StagedProducers::default();
        let check = state.check(&staged, h)?;
        if check == SequenceCheck::Append {
            state.stage(
                &mut staged,
                h,
                offset,
                offset + i64::from(h.last_offset_delta),
            );
            state.commit(staged, 0);
        }
        Ok(check)
    }

    #[test]
    fn sequence_rules_follow_kafka() {
        let mut state = ProducerStateManager::default();
        // Unknown producer: any starting sequence is accepted (KIP-360).
        assert!(matches!(
            append(&mut state, &header(7, 0, 10, 2), 0),
            Ok(SequenceCheck::Append)
        ));
        // In order.
        assert!(matches!(
            append(&mut state, &header(7, 0, 12, 3), 2),
            Ok(SequenceCheck::Append)
        ));
        // Duplicate of the first batch: original offsets.
        match append(&mut state, &header(7, 0, 10, 2), 99) {
            Ok(SequenceCheck::Duplicate(meta)) => {
                assert_eq!((meta.first_offset, meta.last_offset), (0, 1))
            }
            other => panic!("expected duplicate, got {other:?}"),
        }
        // Gap.
        assert!(matches!(
            append(&mut state, &header(7, 0, 16, 1), 5),
            Err(StorageError::OutOfOrderSequence {
                expected: 15,
                found: 16,
                ..
            })
        ));
        // Old epoch is fenced; a new epoch must start at 0.
        assert!(matches!(
            append(&mut state, &header(7, -1, 15, 1), 5),
            Err(StorageError::InvalidProducerEpoch {
                current: 0,
                epoch: -1,
                ..
            })
        ));
        assert!(matches!(
            append(&mut state, &header(7, 1, 3, 1), 5),
            Err(StorageError::OutOfOrderSequence { expected: 0, .. })
        ));
        assert!(matches!(
            append(&mut state, &header(7, 1, 0, 1), 5),
            Ok(SequenceCheck::Append)
        ));
        assert!(matches!(
            append(&mut state, &header(7, 0, 15, 1), 6),
            Err(StorageError::InvalidProducerEpoch {
                current: 1,
                epoch: 0,
                ..
            })
        ));
        // No sequence at all is invalid for an idempotent batch.
        assert!(matches!(
            append(&mut state, &header(8, 0, -1, 1), 6),
            Err(StorageError::InvalidRecord { .. })
        ));
    }

    #[test]
    fn sequences_wrap_and_only_five_batches_are_cached() {
        let mut state = ProducerStateManager::default();
        assert!(append(&mut state, &header(1, 0, i32::MAX, 1), 0).is_ok());
        assert!(matches!(
            append(&mut state, &header(1, 0, 0, 1), 1),
            Ok(SequenceCheck::Append)
        ));
        for i in 1..=5 {
            assert!(matches!(
                append(&mut state, &header(1, 0, i, 1), 1 + i64::from(i)),
                Ok(SequenceCheck::Append)
            ));
        }
        // Sequence 0 dropped out of the cache: no longer a duplicate, out of order.
        assert!(matches!(
            append(&mut state, &header(1, 0, 0, 1), 9),
            Err(StorageError::OutOfOrderSequence { .. })
        ));
        assert!(matches!(
            append(&mut state, &header(1, 0, 1, 1), 9),
            Ok(SequenceCheck::Duplicate(_))
        ));
    }

    #[test]
    fn snapshot_round_trips_and_rejects_damage() {
        let mut state = ProducerStateManager::default();
        for seq in 0..7 {
            assert!(append(&mut state, &header(3, 2, seq, 1), i64::from(seq)).is_ok());
        }
        assert!(append(&mut state, &header(4, 0, 0, 5), 7).is_ok());
        let bytes = encode_snapshot(&state, 12);
        // The log end offset travels with the state; the log compares it
        // with its own (a snapshot past the log end is discarded).
        assert_eq!(decode_snapshot(&bytes), Some((12, state.clone())));
        assert_ne!(decode_snapshot(&bytes).map(|(at, _)| at), Some(13));
        for cut in 0..bytes.len() {
            assert_eq!(decode_snapshot(&bytes[..cut]), None);
        }
        let mut flipped = bytes.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert_eq!(decode_snapshot(&flipped), None);
    }

    #[test]
    fn open_transactions_and_markers_survive_a_snapshot() {
        let mut state = ProducerStateManager::default();
        let mut txn = header(5, 1, 0, 2);
        txn.attributes = 0x10;
        assert!(append(&mut state, &txn, 10).is_ok());
        assert!(append(&mut state, &header(6, 0, 0, 1), 12).is_ok());
        let mut other = header(7, 2, 0, 1);
        other.attributes = 0x10;
        assert!(append(&mut state, &other, 13).is_ok());
        // A second transactional batch does not move the first offset.
        txn.base_sequence = 2;
        assert!(append(&mut state, &txn, 14).is_ok());
        state.check_marker(7, 2, 4).expect("marker allowed");
        let done = state.complete_txn(7, 2, 4, 16, 99, 0);
        assert_eq!(done.first_offset, Some(13));
        assert_eq!(state.ongoing_txns(), vec![(5, 10)]);
        assert_eq!(state.first_unstable_offset(), Some(10));
        let bytes = encode_snapshot(&state, 17);
        let (at, restored) = decode_snapshot(&bytes).expect("snapshot");
        assert_eq!((at, &restored), (17, &state));
        assert_eq!(restored.ongoing_txns(), vec![(5, 10)]);
        assert!(matches!(
            restored.check_marker(7, 2, 3),
            Err(StorageError::TransactionCoordinatorFenced { current: 4, .. })
        ));
    }
}
