//! The end of an attempt: acknowledgement, retry, failure, expiry.
//!
//! Every way a batch can leave the accumulator is here, so the rules that
//! keep sequence numbers consistent sit together: a batch that had a
//! sequence and fails for good asks for an epoch bump, and a retried batch
//! keeps its place at the front of its partition.

use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use super::batch::{BatchState, ProducerBatch};
use super::partition_queue::PartitionQueue;
use super::split::split_batch;
use super::{Accumulator, AccumulatorSettings, BatchOutcome, Effects};
use crate::error::{FatalError, ProducerError};
use crate::idempotence::{judge_sequence_error, SequenceVerdict};

impl Accumulator {
    /// Applies the outcome of one attempt to one batch.
    pub(crate) fn complete(
        &mut self,
        topic: &str,
        partition: i32,
        batch_id: u64,
        outcome: BatchOutcome,
        now: Instant,
    ) -> Effects {
        let settings = self.settings.clone();
        let next_id = &mut self.next_batch_id;
        let Some(queues) = self.topics.get_mut(topic) else {
            return Effects::default();
        };
        let Some(queue) = usize::try_from(partition)
            .ok()
            .and_then(|i| queues.partitions.get_mut(i))
        else {
            return Effects::default();
        };
        let Some(position) = queue.position(batch_id) else {
            return Effects::default();
        };
        if outcome.may_have_appended() {
            if let Some(batch) = queue.batches.get_mut(position) {
                batch.may_be_written = true;
            }
        }
        match outcome {
            BatchOutcome::Acked(ack) => {
                let Some(batch) = queue.batches.remove(position) else {
                    return Effects::default();
                };
                if let Some(sequence) = batch.sequence {
                    queue
                        .sequence
                        .acknowledge(sequence, batch.records, ack.base_offset);
                }
                // Per batch, never per record (issue 20).
                crate::metrics::record_batch_size(&queues.batch_size, batch.size());
                batch.succeed(ack);
                Effects {
                    acked_records: batch.records as u64,
                    acked_batches: 1,
                    acked_bytes: batch.size() as u64,
                    ..Effects::default()
                }
            }
            BatchOutcome::Retry(error) | BatchOutcome::NotSent(error) => {
                retry_or_fail(queue, position, error, &settings, now, (topic, partition))
            }
            BatchOutcome::Sequence {
                error,
                log_start_offset,
            } => {
                let Some(batch) = queue.batches.get(position) else {
                    return Effects::default();
                };
                let next_to_ack = batch
                    .sequence
                    .is_some_and(|s| queue.sequence.is_next_to_ack(s));
                let code = error
                    .kafka_code()
                    .unwrap_or(durian_core::KafkaCode::UNKNOWN_SERVER_ERROR);
                match judge_sequence_error(code, next_to_ack, log_start_offset, &queue.sequence) {
                    SequenceVerdict::Retry => {
                        retry_or_fail(queue, position, error, &settings, now, (topic, partition))
                    }
                    SequenceVerdict::BumpAndRetry => {
                        let mut effects = retry_or_fail(
                            queue,
                            position,
                            error,
                            &settings,
                            now,
                            (topic, partition),
                        );
                        effects.bump = true;
                        effects
                    }
                    SequenceVerdict::FailAndBump => {
                        let failed = ProducerError::OutOfOrderSequence {
                            topic: topic.to_owned(),
                            partition,
                            may_be_written: batch.may_be_written,
                        };
                        fail_batch(queue, batch_id, failed)
                    }
                    SequenceVerdict::Fatal(reason) => fail_fatally(queue, batch_id, reason),
                }
            }
            BatchOutcome::Failed(error)
                if error.kafka_code() == Some(durian_core::KafkaCode::MESSAGE_TOO_LARGE) =>
            {
                too_large(
                    queue,
                    (topic, partition, position),
                    next_id,
                    &settings,
                    error,
                    now,
                )
            }
            BatchOutcome::Failed(error)
                if error.kafka_code() == Some(durian_core::KafkaCode::RECORD_LIST_TOO_LARGE) =>
            {
                larger_than_segment(queue, (topic, partition, position), error)
            }
            BatchOutcome::Failed(error) => {
                let failed = error_for(topic, partition, error, queue.batches.get(position));
                fail_batch(queue, batch_id, failed)
            }
            BatchOutcome::RequestFailed { error, .. } => {
                let failed = ProducerError::RequestFailed {
                    topic: topic.to_owned(),
                    partition,
                    may_be_written: queue
                        .batches
                        .get(position)
                        .is_some_and(|b| b.may_be_written),
                    error,
                };
                fail_batch(queue, batch_id, failed)
            }
            BatchOutcome::Fatal(reason) => fail_fatally(queue, batch_id, reason),
        }
    }

    /// Fails every queued batch whose delivery timeout has passed. Batches
    /// in flight wait for their response (their request timeout is capped
    /// at their deadline, so that comes soon).
    ///
    /// Runs on every sender pass, so it looks only at the front of each
    /// queue: a batch's deadline is its creation time plus one timeout,
    /// and batches are queued as they are created (split halves keep their
    /// batch's place and deadline), so deadlines follow queue order and
    /// the first batch still in time ends the look. (Two sends may read
    /// the clock in one order and take the lock in the other; a deadline
    /// out of order by that lock wait can only make a batch expire that
    /// much late.) Scanning every batch instead cost 13 % of the client's
    /// CPU with 10 KB records, thousands of batches queued under a 32 MiB
    /// buffer.
    pub(crate) fn expire(&mut self, now: Instant) -> Effects {
        let mut effects = Effects::default();
        let timeout = self.settings.delivery_timeout;
        for queues in self.topics.values_mut() {
            for queue in &mut queues.partitions {
                let due = queue
                    .batches
                    .iter()
                    .take_while(|b| b.deadline <= now)
                    .any(|b| b.state == BatchState::Queued);
                if !due {
                    continue;
                }
                effects.merge(fail_matching(
                    queue,
                    |b| b.state == BatchState::Queued && b.deadline <= now,
                    |b| ProducerError::DeliveryTimeout {
                        timeout,
                        attempts: b.attempts,
                        may_be_written: b.may_be_written,
                        last_error: b.last_error.clone(),
                    },
                ));
            }
        }
        effects
    }

    /// Prepares the queues for a new epoch (or a new producer id): every
    /// sequence is forgotten, and queued batches are renumbered from 0 in
    /// queue order when next drained. Only valid while nothing is in flight.
    ///
    /// A batch one of whose attempts may have been appended without an
    /// acknowledgement fails instead, as "may or may not have been written"
    /// ([`ProducerError::UnresolvedAtEpochBump`]): the broker recognises a
    /// retry only under the epoch and sequence it first saw, so sending it
    /// renumbered could write it twice.
    pub(crate) fn reset_sequences(&mut self) -> Effects {
        let mut effects = Effects::default();
        for queues in self.topics.values_mut() {
            for (partition, queue) in queues.partitions.iter_mut().enumerate() {
                queue.sequence.reset();
                effects.merge(fail_matching(
                    queue,
                    |b| b.may_be_written,
                    |b| ProducerError::UnresolvedAtEpochBump {
                        topic: queues.name.to_string(),
                        partition: partition as i32,
                        attempts: b.attempts,
                        last_error: b.last_error.clone(),
                    },
                ));
                for batch in &mut queue.batches {
                    batch.sequence = None;
                }
            }
        }
        // The bump under way closes every gap these failures leave.
        effects.bump = false;
        effects
    }

    /// Fails every batch not in flight (all of them when `in_flight_too`).
    pub(crate) fn fail_all(&mut self, error: &ProducerError, in_flight_too: bool) -> Effects {
        let mut effects = Effects::default();
        for queues in self.topics.values_mut() {
            for queue in &mut queues.partitions {
                effects.merge(fail_matching(
                    queue,
                    |b| in_flight_too || b.state == BatchState::Queued,
                    |_| error.clone(),
                ));
            }
        }
        effects
    }
}

/// The error of a batch refused for good; `batch` tells whether one of
/// its earlier attempts may have been written.
pub(super) fn error_for(
    topic: &str,
    partition: i32,
    error: durian_core::Error,
    batch: Option<&ProducerBatch>,
) -> ProducerError {
    ProducerError::Rejected {
        topic: topic.to_owned(),
        partition,
        error,
        may_be_written: batch.is_some_and(|b| b.may_be_written),
    }
}

/// Removes and fails a batch (see [`failed`]).
pub(super) fn fail_batch(
    queue: &mut PartitionQueue,
    batch_id: u64,
    error: ProducerError,
) -> Effects {
    let Some(batch) = queue
        .position(batch_id)
        .and_then(|p| queue.batches.remove(p))
    else {
        return Effects::default();
    };
    queue.first_failure.get_or_insert_with(|| error.clone());
    failed(&batch, error)
}

/// Resolves `batch`'s records with `error` (the caller drops it). A batch
/// that had a sequence leaves a gap the broker will never accept past,
/// hence the bump.
fn failed(batch: &ProducerBatch, error: ProducerError) -> Effects {
    batch.fail(error);
    Effects {
        bump: batch.sequence.is_some(),
        failed_batches: 1,
        ..Effects::default()
    }
}

/// Fails every batch of `queue` that is `doomed`, each with its own
/// `error`, keeping the others in order (in place: `expire` runs on every
/// sender pass).
fn fail_matching(
    queue: &mut PartitionQueue,
    doomed: impl Fn(&ProducerBatch) -> bool,
    error: impl Fn(&ProducerBatch) -> ProducerError,
) -> Effects {
    let mut effects = Effects::default();
    let mut first = None;
    queue.batches.retain(|batch| {
        if !doomed(batch) {
            return true;
        }
        let error = error(batch);
        first.get_or_insert_with(|| error.clone());
        effects.merge(failed(batch, error));
        false
    });
    if let Some(error) = first {
        queue.first_failure.get_or_insert(error);
    }
    effects
}

/// A batch rejected with `MESSAGE_TOO_LARGE`: split in two when it holds
/// several records (see the `split` module), else failed alone.
fn too_large(
    queue: &mut PartitionQueue,
    (topic, partition, position): (&str, i32, usize),
    next_id: &mut u64,
    settings: &AccumulatorSettings,
    error: durian_core::Error,
    now: Instant,
) -> Effects {
    let Some(batch) = queue.batches.get(position) else {
        return Effects::default();
    };
    let (id, records, batch_bytes) = (batch.id, batch.records, batch.size());
    if records > 1 {
        let split = split_batch(
            queue,
            (partition, position),
            next_id,
            settings.compression,
            &error,
            now,
        );
        match split {
            Ok(()) => {
                tracing::debug!(
                    topic,
                    partition,
                    records,
                    batch_bytes,
                    "batch too large for the broker: split in two"
                );
                return Effects {
                    split_batches: 1,
                    ..Effects::default()
                };
            }
            Err(reason) => {
                tracing::warn!(topic, partition, %reason, "a batch too large for the broker cannot be split");
            }
        }
    }
    let failed = ProducerError::TooLargeForTopic {
        topic: topic.to_owned(),
        partition,
        batch_bytes,
        records,
        error,
    };
    fail_batch(queue, id, failed)
}

/// A batch refused with `RECORD_LIST_TOO_LARGE`: larger than the topic's
/// `segment.bytes`. The Java client fails it without a retry or a split
/// (the error is not retriable, and only `MESSAGE_TOO_LARGE` splits), and
/// so does this; the error names the sizes and the settings to change.
fn larger_than_segment(
    queue: &mut PartitionQueue,
    (topic, partition, position): (&str, i32, usize),
    error: durian_core::Error,
) -> Effects {
    let Some(batch) = queue.batches.get(position) else {
        return Effects::default();
    };
    let (id, records, batch_bytes) = (batch.id, batch.records, batch.size());
    tracing::warn!(
        topic,
        partition,
        records,
        batch_bytes,
        %error,
        "batch larger than the topic's segment.bytes: failed; lower batch.size or raise segment.bytes"
    );
    let failed = ProducerError::BatchLargerThanSegment {
        topic: topic.to_owned(),
        partition,
        batch_bytes,
        records,
        error,
    };
    fail_batch(queue, id, failed)
}

/// Fails a batch with the producer's fatal error and reports it, so the
/// batch that revealed the error is resolved like every other one.
fn fail_fatally(queue: &mut PartitionQueue, batch_id: u64, reason: FatalError) -> Effects {
    let mut effects = fail_batch(queue, batch_id, ProducerError::Fatal(reason.clone()));
    effects.fatal = Some(reason);
    effects
}

/// Puts a batch back for another attempt after a backoff, unless its
/// delivery timeout or the retry limit says it is over.
fn retry_or_fail(
    queue: &mut PartitionQueue,
    position: usize,
    error: durian_core::Error,
    settings: &AccumulatorSettings,
    now: Instant,
    (topic, partition): (&str, i32),
) -> Effects {
    let Some(batch) = queue.batches.get_mut(position) else {
        return Effects::default();
    };
    let id = batch.id;
    if batch.deadline <= now {
        let expired = ProducerError::DeliveryTimeout {
            timeout: settings.delivery_timeout,
            attempts: batch.attempts,
            may_be_written: batch.may_be_written,
            last_error: Some(error),
        };
        return fail_batch(queue, id, expired);
    }
    if batch.attempts > settings.retries {
        let exhausted = ProducerError::RetriesExhausted {
            topic: topic.to_owned(),
            partition,
            attempts: batch.attempts,
            may_be_written: batch.may_be_written,
            last_error: error,
        };
        return fail_batch(queue, id, exhausted);
    }
    batch.state = BatchState::Queued;
    batch.retry_at = Some(now + retry_backoff(settings.retry_backoff, batch.attempts));
    batch.last_error = Some(error);
    Effects {
        retried_batches: 1,
        ..Effects::default()
    }
}

/// `retry.backoff.ms` doubled per attempt up to `retry.backoff.max.ms`,
/// ±20 % jitter so partitions that failed together do not retry together.
fn retry_backoff((initial, max): (Duration, Duration), attempts: u32) -> Duration {
    let doubling = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
    let base = initial.saturating_mul(doubling).min(max.max(initial));
    base.mul_f64(rand::rng().random_range(0.8..=1.2))
}
