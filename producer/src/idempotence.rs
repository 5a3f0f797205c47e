//! The idempotent producer's state machine: producer id, epoch and
//! per-partition sequence numbers. Pure: no I/O, no clock.
//!
//! ```text
//!  NeedsId ──InitProducerId──▶ Ready(id, epoch) ──gap or lost state──▶ BumpNeeded
//!     ▲                           ▲                                       │ nothing in flight
//!     │                           └──── new epoch, all sequences reset ◀──┘ InitProducerId(id, epoch)
//! ```
//!
//! Sequences are assigned when a batch is drained, in queue order, and a
//! retried batch keeps its sequence, so the broker can tell a retry from a
//! new batch and rejects anything out of order. A batch that fails for good
//! after it had a sequence leaves a gap the broker would never accept past,
//! so the epoch is bumped (KIP-360): the broker then accepts sequence 0 of
//! the new epoch and every unacknowledged batch is renumbered in order.

use durian_core::KafkaCode;

use crate::error::FatalError;

/// A producer id and epoch granted by InitProducerId.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProducerIdentity {
    /// The producer id.
    pub id: i64,
    /// The epoch.
    pub epoch: i16,
}

/// Where the producer stands with its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityState {
    /// No id yet: InitProducerId must run before anything is sent.
    NeedsId,
    /// Sending under this identity.
    Ready(ProducerIdentity),
    /// A sequence gap exists: stop draining, wait for in-flight requests,
    /// then ask for a new epoch of this identity.
    BumpNeeded(ProducerIdentity),
}

impl IdentityState {
    /// The identity batches are stamped with, if sending is allowed.
    pub fn sendable(self) -> Option<ProducerIdentity> {
        match self {
            IdentityState::Ready(identity) => Some(identity),
            _ => None,
        }
    }

    /// Asks for an epoch bump (a no-op unless an identity is in use).
    pub fn request_bump(&mut self) {
        if let IdentityState::Ready(identity) = *self {
            *self = IdentityState::BumpNeeded(identity);
        }
    }

    /// The (id, epoch) to put in the next InitProducerId: the current ones
    /// for a bump, -1/-1 for a fresh id. An exhausted epoch asks for a fresh
    /// id, since the epoch cannot be bumped past `i16::MAX`.
    pub fn init_request(self) -> (i64, i16) {
        match self {
            IdentityState::BumpNeeded(identity) if identity.epoch < i16::MAX => {
                (identity.id, identity.epoch)
            }
            _ => (-1, -1),
        }
    }
}

/// `seq + by`, wrapping to 0 after `i32::MAX` as Kafka's sequences do.
pub fn increment_sequence(seq: i32, by: i32) -> i32 {
    if seq > i32::MAX - by {
        by - (i32::MAX - seq) - 1
    } else {
        seq + by
    }
}

/// How many batches acknowledged ahead of an earlier unacknowledged one
/// are remembered. Sending rules keep it to fewer than
/// `max.in.flight.requests.per.connection` (at most 5); the cap only keeps
/// a broken assumption from growing memory.
const MAX_ACKED_AHEAD: usize = 64;

/// Sequence bookkeeping of one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionSequence {
    /// Sequence the next drained batch gets.
    next: i32,
    /// Sequence of the first batch not yet acknowledged.
    acked_next: i32,
    /// Batches acknowledged while an earlier one was not, as (base
    /// sequence, sequence after them). Answers for one partition can come
    /// out of order: a batch's response is lost with its connection, later
    /// batches are acknowledged, then its retry is recognised as a
    /// duplicate.
    acked_ahead: Vec<(i32, i32)>,
    /// Offset of the last acknowledged record, -1 if none.
    last_acked_offset: i64,
}

impl Default for PartitionSequence {
    fn default() -> Self {
        PartitionSequence {
            next: 0,
            acked_next: 0,
            acked_ahead: Vec::new(),
            last_acked_offset: -1,
        }
    }
}

impl PartitionSequence {
    /// Takes sequences for a batch of `records`; returns its base sequence.
    pub fn assign(&mut self, records: i32) -> i32 {
        let base = self.next;
        self.next = increment_sequence(base, records);
        base
    }

    /// Whether sequences were handed out under the current producer id and
    /// epoch but none has been acknowledged yet.
    ///
    /// Kafka brokers before 4.5 (KAFKA-15591) accept any first sequence
    /// from a producer they hold no state for, so a second batch can be
    /// appended while the first is refused (e.g. NOT_LEADER_OR_FOLLOWER
    /// just after a topic is created): the partition's order is broken
    /// before the producer hears of it. The sender keeps one batch in
    /// flight while this holds.
    pub fn awaiting_first_ack(&self) -> bool {
        self.next != 0 && self.acked_next == 0 && self.acked_ahead.is_empty()
    }

    /// Whether a batch with this base sequence is the first unacknowledged one.
    pub fn is_next_to_ack(&self, base_sequence: i32) -> bool {
        base_sequence == self.acked_next
    }

    /// Records an acknowledged batch (`base_offset` -1 when unknown).
    pub fn acknowledge(&mut self, base_sequence: i32, records: i32, base_offset: i64) {
        let after = increment_sequence(base_sequence, records);
        if base_sequence == self.acked_next {
            self.acked_next = after;
            // Catch up over batches acknowledged ahead of this one: left
            // behind, `acked_next` would make the first unacknowledged
            // batch look like one behind a gap, and an
            // OUT_OF_ORDER_SEQUENCE_NUMBER for it would be retried until
            // its delivery timeout instead of failing it at once.
            while let Some(i) = self
                .acked_ahead
                .iter()
                .position(|(base, _)| *base == self.acked_next)
            {
                self.acked_next = self.acked_ahead.swap_remove(i).1;
            }
        } else if self.acked_ahead.len() < MAX_ACKED_AHEAD
            && !self
                .acked_ahead
                .iter()
                .any(|(base, _)| *base == base_sequence)
        {
            self.acked_ahead.push((base_sequence, after));
        }
        if base_offset >= 0 {
            let last = base_offset + i64::from(records) - 1;
            self.last_acked_offset = self.last_acked_offset.max(last);
        }
    }

    /// Starts over at sequence 0 for a new epoch; the acknowledged offset is
    /// about data, not sequences, and is kept.
    pub fn reset(&mut self) {
        self.next = 0;
        self.acked_next = 0;
        self.acked_ahead.clear();
    }

    /// Offset of the last acknowledged record, -1 if none.
    pub fn last_acked_offset(&self) -> i64 {
        self.last_acked_offset
    }
}

/// What to do with a batch the broker answered with a sequence-related error.
#[derive(Clone, Debug)]
pub enum SequenceVerdict {
    /// An earlier batch is unresolved; this one follows it, so retry as is.
    Retry,
    /// The broker forgot this producer safely (its state was removed along
    /// with our acknowledged data): bump the epoch and retry the batch.
    BumpAndRetry,
    /// A real gap in front of this batch: fail it, bump, continue.
    FailAndBump,
    /// Continuing could lose or reorder acknowledged data.
    Fatal(FatalError),
}

/// Judges `UNKNOWN_PRODUCER_ID` and `OUT_OF_ORDER_SEQUENCE_NUMBER` as in KIP-360.
///
/// `next_to_ack` tells whether the batch is the partition's first
/// unacknowledged one; only then does the error describe the broker's state
/// rather than the failure of an earlier batch still being retried.
pub fn judge_sequence_error(
    code: KafkaCode,
    next_to_ack: bool,
    log_start_offset: i64,
    sequence: &PartitionSequence,
) -> SequenceVerdict {
    if !next_to_ack {
        return SequenceVerdict::Retry;
    }
    if code == KafkaCode::UNKNOWN_PRODUCER_ID {
        // Safe only if everything we had acknowledged is gone from the log
        // anyway (retention or DeleteRecords removed it with our state).
        if log_start_offset > sequence.last_acked_offset() {
            SequenceVerdict::BumpAndRetry
        } else {
            SequenceVerdict::Fatal(FatalError::StateLost {
                log_start_offset,
                last_acked_offset: sequence.last_acked_offset(),
            })
        }
    } else {
        SequenceVerdict::FailAndBump
    }
}

/// Whether a retried attempt may have been appended although it was not
/// acknowledged: no answer at all (connection lost, request timed out), or
/// an error a broker can return after appending (`REQUEST_TIMED_OUT`,
/// `NOT_ENOUGH_REPLICAS_AFTER_APPEND`, `KAFKA_STORAGE_ERROR`, anything
/// unrecognised). Only codes a broker sends before touching the log count
/// as "not appended".
///
/// A batch with such an attempt behind it must not be renumbered under a
/// new epoch: the broker's duplicate detection works per epoch, so the
/// renumbered copy would be appended a second time.
pub fn may_have_appended(error: &durian_core::Error) -> bool {
    let refused_before_append = [
        KafkaCode::NOT_LEADER_OR_FOLLOWER,
        KafkaCode::UNKNOWN_TOPIC_OR_PARTITION,
        KafkaCode::LEADER_NOT_AVAILABLE,
        KafkaCode::NOT_ENOUGH_REPLICAS,
        KafkaCode::CORRUPT_MESSAGE,
        KafkaCode::FENCED_LEADER_EPOCH,
        KafkaCode::UNKNOWN_LEADER_EPOCH,
        KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
        KafkaCode::UNKNOWN_PRODUCER_ID,
    ];
    !error
        .kafka_code()
        .is_some_and(|code| refused_before_append.contains(&code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_wrap_like_kafka() {
        assert_eq!(increment_sequence(5, 10), 15);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 2, 5), 2);
    }

    #[test]
    fn assignment_and_acks_advance_in_order() {
        let mut seq = PartitionSequence::default();
        assert_eq!(seq.assign(10), 0);
        assert_eq!(seq.assign(5), 10);
        assert!(seq.is_next_to_ack(0));
        assert!(!seq.is_next_to_ack(10));
        seq.acknowledge(0, 10, 100);
        assert!(seq.is_next_to_ack(10));
        assert_eq!(seq.last_acked_offset(), 109);
        // A duplicate of the older batch changes nothing.
        seq.acknowledge(0, 10, -1);
        assert!(seq.is_next_to_ack(10));
        seq.reset();
        assert_eq!(seq.assign(3), 0);
        assert_eq!(seq.last_acked_offset(), 109);
    }

    #[test]
    fn acks_out_of_sequence_order_still_advance_the_first_unacked() {
        // A (0..10) written, its answer lost; B (10..15) and C (15..20)
        // acknowledged first; A's retry then recognised as a duplicate.
        let mut seq = PartitionSequence::default();
        let (a, b, c) = (seq.assign(10), seq.assign(5), seq.assign(5));
        seq.acknowledge(c, 5, 15);
        seq.acknowledge(b, 5, 10);
        assert!(seq.is_next_to_ack(a), "A is still the first unacknowledged");
        seq.acknowledge(a, 10, 0);
        let d = seq.assign(3);
        assert!(
            seq.is_next_to_ack(d),
            "with A, B and C acknowledged, D is the first unacknowledged batch"
        );
        seq.reset();
        assert!(seq.is_next_to_ack(0));
    }

    #[test]
    fn retry_after_a_partially_failed_request_keeps_sequences() {
        // One request carried p0 (seq 0..10) and p1 (seq 0..4); p0 was
        // acknowledged, p1 failed with NOT_LEADER. p1's batch keeps its
        // sequence and is still the next to acknowledge; p0 moves on.
        let mut p0 = PartitionSequence::default();
        let mut p1 = PartitionSequence::default();
        let b0 = p0.assign(10);
        let b1 = p1.assign(4);
        p0.acknowledge(b0, 10, 0);
        assert!(p1.is_next_to_ack(b1));
        assert_eq!(p0.assign(1), 10);
        assert_eq!(p1.assign(1), 4);
        // A later p1 batch that the broker rejected because b1 is missing is
        // not judged on its own: it is retried behind b1.
        assert!(matches!(
            judge_sequence_error(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER, false, 0, &p1),
            SequenceVerdict::Retry
        ));
    }

    #[test]
    fn kip_360_verdicts() {
        let mut seq = PartitionSequence::default();
        let base = seq.assign(10);
        seq.acknowledge(base, 10, 50); // offsets 50..=59 acknowledged
        let unknown = KafkaCode::UNKNOWN_PRODUCER_ID;
        assert!(matches!(
            judge_sequence_error(unknown, true, 60, &seq),
            SequenceVerdict::BumpAndRetry
        ));
        assert!(matches!(
            judge_sequence_error(unknown, true, 10, &seq),
            SequenceVerdict::Fatal(FatalError::StateLost {
                log_start_offset: 10,
                last_acked_offset: 59
            })
        ));
        assert!(matches!(
            judge_sequence_error(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER, true, 0, &seq),
            SequenceVerdict::FailAndBump
        ));
        // Nothing acknowledged yet: the broker simply does not know us.
        assert!(matches!(
            judge_sequence_error(unknown, true, 0, &PartitionSequence::default()),
            SequenceVerdict::BumpAndRetry
        ));
    }

    #[test]
    fn identity_bumps_only_from_ready() {
        let mut state = IdentityState::NeedsId;
        state.request_bump();
        assert_eq!(state, IdentityState::NeedsId);
        assert_eq!(state.init_request(), (-1, -1));
        let identity = ProducerIdentity { id: 7, epoch: 2 };
        state = IdentityState::Ready(identity);
        assert_eq!(state.sendable(), Some(identity));
        state.request_bump();
        assert_eq!(state.sendable(), None);
        assert_eq!(state.init_request(), (7, 2));
        let exhausted = IdentityState::BumpNeeded(ProducerIdentity {
            id: 7,
            epoch: i16::MAX,
        });
        assert_eq!(exhausted.init_request(), (-1, -1));
    }
}
