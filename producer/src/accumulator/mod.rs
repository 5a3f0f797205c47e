//! The record accumulator: per-partition queues of batches in wire format.
//!
//! ```text
//!  send ──append──▶ topic ─▶ partition queue ─▶ [in flight | in flight | queued | open]
//!                    │ sticky partition (null keys)                 ▲ records go here
//!  sender ──ready_nodes / drain(node)──▶ first queued batch of each partition led by node
//!         ──complete(outcome)──▶ ack: remove + resolve │ retry: back to queued │ fail
//!         ──expire(now)──▶ queued batches past delivery.timeout.ms fail
//! ```
//!
//! All of it sits behind one mutex held only for short, synchronous steps;
//! memory is reserved outside it (see [`buffer_pool`]), since that may wait.

mod batch;
pub(crate) mod buffer_pool;
mod completion;
mod drain;
mod partition_queue;
mod split;
mod txn_gate;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_bump;
#[cfg(test)]
mod tests_memory;
#[cfg(test)]
mod tests_split;

use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::protocol::StrBytes;
use std::time::Duration;

use bytes::Bytes;
use durian_core::compression::Compression;
use durian_core::record::{BatchRope, BatchWriter, BATCH_HEADER_LEN};
use durian_core::{BatchStage, ClusterMetadata};
use tokio::time::Instant;

use crate::delivery::{BatchAck, BatchSignal, DeliveryFuture};
use crate::error::{FatalError, ProducerError};
use crate::partitioner::sticky::StickyPartition;
use crate::partitioner::TopicPartitions;
use crate::record::Header;
use crate::topic_map::TopicMap;
use batch::{Appended, ProducerBatch};
use buffer_pool::Reservation;
pub(crate) use drain::seal;
pub(crate) use partition_queue::DrainRules;
use partition_queue::{PartitionQueue, Readiness};
use txn_gate::Admission;

/// What a new batch reserves of `buffer.memory` at first (or all of
/// `batch.size`, if smaller; or its first record's size, if larger): Kafka's
/// default `batch.size`, so many mostly-empty batches hold no more memory
/// than under that default, whatever `batch.size` is.
pub(crate) const FIRST_RESERVATION: usize = 16 * 1024;

/// Values at least this long go into uncompressed batches by reference
/// (the batch keeps the caller's `Bytes` and is sent in pieces) instead of
/// being copied into the batch's buffer. Measured (docs/PERFORMANCE.md,
/// "10 KB records by reference"): referencing 512-byte values cost more
/// client CPU than copying them (two more pieces per record to write and
/// free), 1 KiB values cost less at 1 MB batches and the same at 16 KiB.
pub(crate) const REFERENCE_VALUES_FROM: usize = 1024;

/// Buffer bytes a batch that references its first value starts with:
/// record prefixes (lengths, deltas, key, header count) of a few records.
const PREFIX_ROOM: usize = 512;

/// Settings the accumulator applies.
#[derive(Clone, Debug)]
pub(crate) struct AccumulatorSettings {
    pub(crate) batch_size: usize,
    pub(crate) compression: Compression,
    pub(crate) delivery_timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) retry_backoff: (Duration, Duration),
    pub(crate) adaptive: bool,
    /// How long a sticky partition keeps null-key records at most
    /// (`linger.ms`, at least `sticky::MIN_TURN`; see the sticky partitioner).
    pub(crate) sticky_turn: Duration,
    /// Batches carry the transactional bit and wait for their partition
    /// to join the transaction (txn_gate.rs).
    pub(crate) transactional: bool,
    /// Values at least this long are referenced, not copied, into
    /// uncompressed batches ([`REFERENCE_VALUES_FROM`]).
    pub(crate) reference_values_from: usize,
}

/// A record, already serialized, as the accumulator takes it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecordParts<'a> {
    pub(crate) timestamp: i64,
    pub(crate) key: Option<&'a [u8]>,
    pub(crate) value: Option<&'a Bytes>,
    pub(crate) headers: &'a [Header],
}

impl RecordParts<'_> {
    /// An upper bound of the record's encoded size, batch header included:
    /// what a batch holding only this record needs at most.
    pub(crate) fn max_encoded_size(&self) -> usize {
        // Record length, attributes, timestamp delta, offset delta, key and
        // value lengths, header count: at most 5 varints of 5 bytes, one
        // varlong of 10, one byte.
        const RECORD_OVERHEAD: usize = 5 * 5 + 10 + 1;
        let key = self.key.map_or(0, <[u8]>::len);
        let value = self.value.map_or(0, Bytes::len);
        let headers: usize = self
            .headers
            .iter()
            .map(|h| 10 + h.key.len() + h.value.as_ref().map_or(0, Bytes::len))
            .sum();
        BATCH_HEADER_LEN + RECORD_OVERHEAD + key + value + headers
    }
}

/// What an append did.
#[derive(Debug)]
pub(crate) enum Append {
    /// The record is in a batch.
    Done {
        future: DeliveryFuture,
        /// A new batch was opened (the sender should look at its linger).
        new_batch: bool,
    },
    /// A new batch is needed: reserve this many bytes and append again.
    NeedsMemory { partition: i32, bytes: usize },
}

/// One batch taken for a produce request.
#[derive(Clone, Debug)]
pub(crate) struct DrainedBatch {
    /// The topic as the request names it, shared with its queues.
    pub(crate) topic: StrBytes,
    pub(crate) partition: i32,
    pub(crate) batch_id: u64,
    /// The batch, in pieces when it references values.
    pub(crate) payload: BatchRope,
    pub(crate) deadline: Instant,
}

/// How a produce attempt ended for one batch.
#[derive(Clone, Debug)]
pub(crate) enum BatchOutcome {
    /// Written (or recognised as a duplicate: `base_offset` -1).
    Acked(BatchAck),
    /// Failed in a way another attempt may fix. Whether the attempt may
    /// have been appended is read from the error
    /// ([`crate::idempotence::may_have_appended`]).
    Retry(durian_core::Error),
    /// The request failed before it reached a connection (e.g. the broker
    /// refused the connection): retried, and certainly not appended.
    NotSent(durian_core::Error),
    /// `UNKNOWN_PRODUCER_ID` or `OUT_OF_ORDER_SEQUENCE_NUMBER`.
    Sequence {
        error: durian_core::Error,
        log_start_offset: i64,
    },
    /// Failed for good, this batch only: the broker's answer.
    Failed(durian_core::Error),
    /// The request itself failed in a way retrying cannot fix (e.g. an
    /// undecodable response); `may_be_written` once it reached a connection.
    RequestFailed {
        error: durian_core::Error,
        may_be_written: bool,
    },
    /// The producer cannot continue.
    Fatal(FatalError),
}

impl BatchOutcome {
    /// Whether this attempt may have been appended although it was not
    /// acknowledged (then only an acknowledgement settles the batch).
    fn may_have_appended(&self) -> bool {
        match self {
            BatchOutcome::Retry(error) => crate::idempotence::may_have_appended(error),
            BatchOutcome::RequestFailed { may_be_written, .. } => *may_be_written,
            _ => false,
        }
    }
}

/// What completing batches means for the producer as a whole.
#[derive(Clone, Debug, Default)]
pub(crate) struct Effects {
    /// A sequence gap exists: the epoch must be bumped.
    pub(crate) bump: bool,
    /// The producer must stop.
    pub(crate) fatal: Option<FatalError>,
    pub(crate) acked_records: u64,
    pub(crate) acked_batches: u64,
    pub(crate) acked_bytes: u64,
    pub(crate) retried_batches: u64,
    pub(crate) failed_batches: u64,
    /// Batches split because the broker found them too large.
    pub(crate) split_batches: u64,
}

impl Effects {
    pub(crate) fn merge(&mut self, other: Effects) {
        self.bump |= other.bump;
        if self.fatal.is_none() {
            self.fatal = other.fatal;
        }
        self.acked_records += other.acked_records;
        self.acked_batches += other.acked_batches;
        self.acked_bytes += other.acked_bytes;
        self.retried_batches += other.retried_batches;
        self.failed_batches += other.failed_batches;
        self.split_batches += other.split_batches;
    }

    /// Whether nothing happened. (Not `PartialEq`: the fatal error holds a
    /// core error, which has no equality.) The destructuring makes a new
    /// field a compile error here until it is checked too.
    #[cfg(test)]
    pub(crate) fn is_nothing(&self) -> bool {
        let Effects {
            bump,
            fatal,
            acked_records,
            acked_batches,
            acked_bytes,
            retried_batches,
            failed_batches,
            split_batches,
        } = self;
        !bump
            && fatal.is_none()
            && [
                acked_records,
                acked_batches,
                acked_bytes,
                retried_batches,
                failed_batches,
                split_batches,
            ]
            .iter()
            .all(|n| **n == 0)
    }
}

/// What the sender learns from one look at the queues.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReadyScan {
    /// Brokers leading a partition with a batch to send now.
    pub(crate) nodes: BTreeSet<i32>,
    /// When to look again even if nothing happens.
    pub(crate) next_wake: Option<Instant>,
    /// Some partition with data has no known leader.
    pub(crate) unknown_leader: bool,
}

struct TopicQueues {
    name: Arc<str>,
    /// The same name as produce requests carry it: every batch's request
    /// shares these bytes instead of copying the name.
    wire_name: StrBytes,
    /// `durian.producer.batch_size_bytes{topic}`, built once per topic
    /// rather than per acknowledged batch.
    batch_size: metrics::Key,
    partitions: Vec<PartitionQueue>,
    sticky: StickyPartition,
}

/// See the module docs.
pub(crate) struct Accumulator {
    /// By name, the last one looked up first (see `topic_map`).
    topics: TopicMap<TopicQueues>,
    settings: AccumulatorSettings,
    next_batch_id: u64,
    /// Transactions V2: partitions need no AddPartitionsToTxn.
    implicit_add: bool,
}

impl Accumulator {
    pub(crate) fn new(settings: AccumulatorSettings) -> Self {
        Accumulator {
            topics: TopicMap::default(),
            settings,
            next_batch_id: 0,
            implicit_add: false,
        }
    }

    /// Appends a record to `partition`, or, when `None`, to the topic's
    /// sticky partition. Without a `reservation` only an open batch with
    /// room (or whose reservation can grow at once) takes the record. The
    /// `reservation` a `NeedsMemory` asked for either grows the open batch
    /// or, if that batch is gone or full meanwhile, opens a new one when
    /// it is large enough; an unneeded reservation is dropped, returning
    /// its bytes.
    pub(crate) fn append(
        &mut self,
        topic: &str,
        partitions: &TopicPartitions,
        partition: Option<i32>,
        record: &RecordParts<'_>,
        now: Instant,
        reservation: Option<Reservation>,
    ) -> Result<Append, ProducerError> {
        let settings = &self.settings;
        let queues = self.topics.get_or_insert_with(topic, |name| TopicQueues {
            wire_name: StrBytes::from_string(topic.to_owned()),
            batch_size: crate::metrics::batch_size_key(name),
            name: name.clone(),
            partitions: Vec::new(),
            sticky: StickyPartition::default(),
        });
        let count = usize::try_from(partitions.count).unwrap_or(0);
        if queues.partitions.len() < count {
            queues
                .partitions
                .resize_with(count, PartitionQueue::default);
        }
        let partition = match partition {
            Some(p) => p,
            None => {
                let lengths = &queues.partitions;
                let queued = |p: i32| {
                    usize::try_from(p)
                        .ok()
                        .and_then(|i| lengths.get(i))
                        .map_or(0, PartitionQueue::queued_batches)
                };
                queues.sticky.partition(
                    partitions,
                    settings.adaptive,
                    queued,
                    &mut rand::rng(),
                    (now, settings.sticky_turn),
                )
            }
        };
        let invalid = || ProducerError::InvalidPartition {
            topic: topic.to_owned(),
            partition,
            partitions: partitions.count,
        };
        let index = usize::try_from(partition).map_err(|_| invalid())?;
        let queue = queues.partitions.get_mut(index).ok_or_else(invalid)?;
        if settings.transactional && queue.admission == Admission::Free {
            queue.admission = if self.implicit_add {
                Admission::Implicit
            } else {
                Admission::Wanted
            };
        }
        let encode_error = |source| {
            ProducerError::Client(durian_core::Error::Batch {
                stage: BatchStage::Append,
                source,
            })
        };

        let mut reservation = reservation;
        if let Some(open) = queue.open_batch() {
            let mut appended = open
                .try_append(record, settings.batch_size)
                .map_err(encode_error)?;
            if matches!(appended, Appended::NeedsRoom(_)) {
                // The caller waited for room to grow this batch: take it in.
                if let Some(more) = reservation.take() {
                    open.absorb(more);
                    appended = open
                        .try_append(record, settings.batch_size)
                        .map_err(encode_error)?;
                }
            }
            match appended {
                Appended::At(index) => {
                    let future = DeliveryFuture::new(open.signal.clone(), index, record.timestamp);
                    queues.sticky.appended(
                        partition,
                        record.max_encoded_size(),
                        settings.batch_size,
                    );
                    return Ok(Append::Done {
                        future,
                        new_batch: false,
                    });
                }
                Appended::NeedsRoom(bytes) => {
                    return Ok(Append::NeedsMemory { partition, bytes });
                }
                Appended::Full => {}
            }
        }
        // A new batch reserves what its first records need, not all of
        // batch.size: it grows as it fills (see `buffer_pool`).
        let needed = settings
            .batch_size
            .min(FIRST_RESERVATION)
            .max(record.max_encoded_size());
        let Some(reservation) = reservation.filter(|r| r.bytes() >= needed) else {
            return Ok(Append::NeedsMemory {
                partition,
                bytes: needed,
            });
        };
        // The open batch (if any) is full: it is sent at once (and
        // compressed by the sender, outside this lock).
        if let Some(open) = queue.open_batch() {
            open.mark_full();
        }
        let builder = BatchWriter::builder()
            .compression(settings.compression)
            .transactional(settings.transactional)
            .size_limit(settings.batch_size)
            .reference_values_from(settings.reference_values_from);
        // A copying batch's buffer takes the whole reservation; one that
        // references its first value only room for record prefixes (it
        // grows if records are copied after all, within the reservation).
        let room = reservation.bytes().saturating_sub(BATCH_HEADER_LEN);
        let room = match builder.referenced_len(record.value) {
            0 => room,
            referenced => room.saturating_sub(referenced).min(PREFIX_ROOM),
        };
        let writer = builder.build_with_capacity(room);
        let id = self.next_batch_id;
        self.next_batch_id += 1;
        let mut batch = ProducerBatch::new(
            id,
            partition,
            writer,
            now,
            now + settings.delivery_timeout,
            reservation,
        );
        // A first record always goes in, and the reservation covers it.
        let index = match batch
            .try_append(record, settings.batch_size)
            .map_err(encode_error)?
        {
            Appended::At(index) => index,
            Appended::Full | Appended::NeedsRoom(_) => 0,
        };
        let future = DeliveryFuture::new(batch.signal.clone(), index, record.timestamp);
        queue.batches.push_back(batch);
        queues
            .sticky
            .appended(partition, record.max_encoded_size(), settings.batch_size);
        Ok(Append::Done {
            future,
            new_batch: true,
        })
    }

    /// Which brokers have something to send now, and when to look again.
    pub(crate) fn ready_nodes(&self, metadata: &ClusterMetadata, rules: &DrainRules) -> ReadyScan {
        let mut scan = ReadyScan::default();
        let wake = |at: Instant, scan: &mut ReadyScan| {
            scan.next_wake = Some(scan.next_wake.map_or(at, |w| w.min(at)));
        };
        for queues in self.topics.values() {
            for (index, queue) in queues.partitions.iter().enumerate() {
                let Some(first) = queue.first_queued() else {
                    continue;
                };
                wake(first.deadline, &mut scan);
                let leader = metadata
                    .partition(&queues.name, index as i32)
                    .and_then(|p| p.leader);
                let Some(leader) = leader else {
                    scan.unknown_leader = true;
                    continue;
                };
                match queue.readiness(leader, rules) {
                    Readiness::Ready => {
                        scan.nodes.insert(leader);
                    }
                    Readiness::At(at) => wake(at, &mut scan),
                    Readiness::Idle => {}
                }
            }
        }
        scan
    }

    /// The signals of every batch not yet resolved (for `flush`).
    pub(crate) fn pending_signals(&self) -> Vec<Arc<BatchSignal>> {
        self.topics
            .values()
            .flat_map(|q| q.partitions.iter())
            .flat_map(|q| q.batches.iter())
            .map(|b| b.signal.clone())
            .collect()
    }

    /// Whether no batch is held at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.topics
            .values()
            .flat_map(|q| q.partitions.iter())
            .all(|q| q.batches.is_empty())
    }

    /// Whether every batch's buffer stays within its reservation.
    #[cfg(test)]
    pub(crate) fn buffers_within_reservations(&self) -> bool {
        self.topics
            .values()
            .flat_map(|q| q.partitions.iter())
            .flat_map(|q| q.batches.iter())
            .all(ProducerBatch::buffer_within_reservation)
    }

    /// Bytes of `buffer.memory` held by batches (for tests and metrics).
    #[cfg(test)]
    pub(crate) fn reserved_bytes(&self) -> usize {
        self.topics
            .values()
            .flat_map(|q| q.partitions.iter())
            .flat_map(|q| q.batches.iter())
            .map(ProducerBatch::reserved)
            .sum()
    }
}
