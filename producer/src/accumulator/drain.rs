//! Taking batches for a produce request, in three steps so that
//! compression runs outside the accumulator's lock and `send` calls for
//! other partitions are never held up by it.
//!
//! ```text
//!  lock     take_ready(node) ──▶ TakenBatch   writer taken out, sequence assigned, marked in flight
//!  no lock  seal(taken)      ──▶ SealedBatch  compressed, producer state stamped
//!  lock     store_sealed     ──▶ DrainedBatch bytes kept in the batch for retries
//! ```
//!
//! Between the two locked steps the batch is in flight with its writer
//! taken, so neither appends (only open batches take records) nor expiry
//! (only queued batches expire) touch it; only the sender task, which runs
//! all three steps in one go, could, and it does not.

use durian_core::record::{BatchError, BatchRope, BatchWriter};
use durian_core::{BatchStage, ClusterMetadata};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::batch::BatchState;
use super::completion::{error_for, fail_batch};
use super::partition_queue::{DrainRules, Readiness};
use super::txn_gate::Admission;
use super::{Accumulator, DrainedBatch, Effects};
use crate::idempotence::ProducerIdentity;

/// The producer state a batch is stamped with: identity and base sequence.
type Stamp = Option<(ProducerIdentity, i32)>;

/// What a taken batch still needs before it can be sent.
#[derive(Debug)]
pub(crate) enum TakenBody {
    /// A retry: the bytes are final (stamped for the current identity).
    Finished(BatchRope),
    /// A first attempt: the records still have to be finished (compressed)
    /// and stamped.
    Unsealed { writer: BatchWriter, stamp: Stamp },
    /// A first attempt whose writer [`seal`] has finished (moved out).
    Sealed { stamp: Stamp },
}

/// A batch taken out for a request, under the lock.
#[derive(Debug)]
pub(crate) struct TakenBatch {
    pub(crate) topic: StrBytes,
    pub(crate) partition: i32,
    pub(crate) batch_id: u64,
    pub(crate) deadline: Instant,
    pub(crate) body: TakenBody,
}

/// A taken batch after [`seal`]: its bytes, or why they could not be made.
#[derive(Debug)]
pub(crate) struct SealedBatch {
    pub(crate) taken: TakenBatch,
    pub(crate) bytes: Result<BatchRope, BatchError>,
}

impl Accumulator {
    /// Takes the first ready batch of every partition `node` leads, up to
    /// `max_bytes` in total (at least one batch), marking them in flight.
    /// With an `identity`, batches get sequence numbers (kept on retries).
    pub(crate) fn take_ready(
        &mut self,
        node: i32,
        metadata: &ClusterMetadata,
        rules: &DrainRules,
        max_bytes: usize,
        identity: Option<ProducerIdentity>,
    ) -> (Vec<TakenBatch>, Effects) {
        let mut taken = Vec::new();
        let mut effects = Effects::default();
        let mut total = 0usize;
        for queues in self.topics.values_mut() {
            for (index, queue) in queues.partitions.iter_mut().enumerate() {
                let partition = index as i32;
                let leader = metadata
                    .partition(&queues.name, partition)
                    .and_then(|p| p.leader);
                if leader != Some(node) || queue.readiness(node, rules) != Readiness::Ready {
                    continue;
                }
                let Some(batch) = queue.first_queued() else {
                    continue;
                };
                // Before compression the size is the uncompressed estimate,
                // so a request may carry less than it could: never more.
                let (size, existing, records) = (batch.size(), batch.sequence, batch.records);
                if !taken.is_empty() && total + size > max_bytes {
                    return (taken, effects);
                }
                let stamp = identity.map(|identity| {
                    let sequence = existing.unwrap_or_else(|| queue.sequence.assign(records));
                    (identity, sequence)
                });
                let Some(batch) = queue.first_queued_mut() else {
                    continue;
                };
                batch.sequence = stamp.map(|(_, sequence)| sequence);
                let body = match batch.take_writer() {
                    Some(writer) => TakenBody::Unsealed { writer, stamp },
                    None => match batch.payload(stamp) {
                        Ok(bytes) => TakenBody::Finished(bytes),
                        Err(error) => {
                            let error = durian_core::Error::Batch {
                                stage: BatchStage::Stamp,
                                source: error,
                            };
                            let id = batch.id;
                            let failed = error_for(&queues.name, partition, error, Some(batch));
                            effects.merge(fail_batch(queue, id, failed));
                            continue;
                        }
                    },
                };
                batch.state = BatchState::InFlight { node };
                batch.attempts += 1;
                batch.retry_at = None;
                total += size;
                taken.push(TakenBatch {
                    topic: queues.wire_name.clone(),
                    partition,
                    batch_id: batch.id,
                    deadline: batch.deadline,
                    body,
                });
                // Transactions V2: this Produce adds the partition.
                if queue.admission == Admission::Implicit {
                    queue.admission = Admission::Added;
                }
            }
        }
        (taken, effects)
    }

    /// Keeps the finished bytes of sealed batches for their retries and
    /// returns what to send; a batch that could not be finished fails.
    pub(crate) fn store_sealed(
        &mut self,
        sealed: Vec<SealedBatch>,
    ) -> (Vec<DrainedBatch>, Effects) {
        let mut drained = Vec::with_capacity(sealed.len());
        let mut effects = Effects::default();
        for SealedBatch { taken, bytes } in sealed {
            let Some(queue) = self.topics.get_mut(&taken.topic).and_then(|q| {
                usize::try_from(taken.partition)
                    .ok()
                    .and_then(|i| q.partitions.get_mut(i))
            }) else {
                continue;
            };
            let Some(position) = queue.position(taken.batch_id) else {
                continue;
            };
            let payload = match (bytes, taken.body) {
                (Ok(bytes), TakenBody::Unsealed { stamp, .. } | TakenBody::Sealed { stamp }) => {
                    if let Some(batch) = queue.batches.get_mut(position) {
                        batch.seal(bytes.clone(), stamp);
                    }
                    bytes
                }
                (Ok(bytes), TakenBody::Finished(_)) => bytes,
                (Err(error), _) => {
                    let error = durian_core::Error::Batch {
                        stage: BatchStage::Encode,
                        source: error,
                    };
                    let failed = error_for(
                        &taken.topic,
                        taken.partition,
                        error,
                        queue.batches.get(position),
                    );
                    effects.merge(fail_batch(queue, taken.batch_id, failed));
                    continue;
                }
            };
            drained.push(DrainedBatch {
                topic: taken.topic,
                partition: taken.partition,
                batch_id: taken.batch_id,
                payload,
                deadline: taken.deadline,
            });
        }
        (drained, effects)
    }

    /// The three steps at once, for tests that do not care about the lock.
    #[cfg(test)]
    pub(crate) fn drain(
        &mut self,
        node: i32,
        metadata: &ClusterMetadata,
        rules: &DrainRules,
        max_bytes: usize,
        identity: Option<ProducerIdentity>,
    ) -> (Vec<DrainedBatch>, Effects) {
        let (taken, mut effects) = self.take_ready(node, metadata, rules, max_bytes, identity);
        let (drained, stored) = self.store_sealed(seal(taken));
        effects.merge(stored);
        (drained, effects)
    }
}

/// Finishes every unsealed batch: compresses its records and stamps the
/// producer state. Runs without the accumulator's lock.
pub(crate) fn seal(taken: Vec<TakenBatch>) -> Vec<SealedBatch> {
    taken
        .into_iter()
        .map(|mut taken| {
            // The writer is moved out, not swapped for an empty one (whose
            // buffer would be one more allocation per batch).
            let bytes = match std::mem::replace(&mut taken.body, TakenBody::Sealed { stamp: None })
            {
                TakenBody::Finished(bytes) => {
                    taken.body = TakenBody::Finished(bytes.clone());
                    Ok(bytes)
                }
                TakenBody::Unsealed { writer, stamp } => {
                    taken.body = TakenBody::Sealed { stamp };
                    finish(writer, stamp)
                }
                sealed @ TakenBody::Sealed { .. } => {
                    taken.body = sealed;
                    Err(BatchError::Encode("the batch was already sealed"))
                }
            };
            SealedBatch { taken, bytes }
        })
        .collect()
}

fn finish(mut writer: BatchWriter, stamp: Stamp) -> Result<BatchRope, BatchError> {
    // Stamped before finishing, so the CRC is computed once.
    if let Some((identity, sequence)) = stamp {
        writer.set_producer(identity.id, identity.epoch, sequence);
    }
    writer.finish_rope()
}
