//! The batches of one partition, oldest first, including those in flight.
//!
//! Keeping in-flight batches in the queue (instead of moving them out)
//! makes ordering simple: a batch that fails is already where it belongs,
//! in front of everything produced after it, and is sent again first.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use super::batch::{BatchState, ProducerBatch};
use super::txn_gate::Admission;
use crate::error::ProducerError;
use crate::idempotence::PartitionSequence;

/// Whether a partition has a batch to send now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// The first queued batch can go out.
    Ready,
    /// Nothing to send before this instant (linger or retry backoff).
    At(Instant),
    /// Nothing to send until an event (a response, a new record).
    Idle,
}

/// What draining needs to know besides the queue itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DrainRules {
    pub(crate) now: Instant,
    pub(crate) linger: Duration,
    /// `flush` or `close` is waiting: ignore linger.
    pub(crate) hurry: bool,
    pub(crate) max_in_flight: usize,
}

/// One partition's queue.
#[derive(Debug, Default)]
pub(crate) struct PartitionQueue {
    pub(crate) batches: VecDeque<ProducerBatch>,
    pub(crate) sequence: PartitionSequence,
    /// Whether the partition is in the open transaction (always `Free`
    /// without transactions; see txn_gate.rs).
    pub(crate) admission: Admission,
    /// The first batch of this partition that failed since the
    /// transaction began: a commit must then fail. Kept without
    /// transactions too (one error, cleared never), for simplicity.
    pub(crate) first_failure: Option<ProducerError>,
}

impl PartitionQueue {
    /// The batch records are appended to, if the newest one is open.
    pub(crate) fn open_batch(&mut self) -> Option<&mut ProducerBatch> {
        self.batches.back_mut().filter(|batch| batch.is_open())
    }

    /// Whether the first queued batch may be sent to `leader` now.
    ///
    /// Nothing goes to `leader` while a batch is still in flight to another
    /// broker (the old leader); a batch coming back from a failed attempt
    /// waits until every other in-flight batch of the partition is
    /// resolved, so it is resent before anything produced after it; no
    /// new batch goes out while such a retry is in flight; and only one
    /// batch is in flight until the partition's first sequence under the
    /// current producer id and epoch is acknowledged.
    pub(crate) fn readiness(&self, leader: i32, rules: &DrainRules) -> Readiness {
        // A transactional partition waits for AddPartitionsToTxn.
        if self.admission.holds_back() {
            return Readiness::Idle;
        }
        let mut in_flight = 0;
        let mut retry_in_flight = false;
        // Only batches sent at least once can be in flight, and they form a
        // prefix of the queue (batches are taken oldest first), so the
        // count stops at the first never-sent batch: with large records the
        // queue can hold thousands of batches, and this runs on every pass
        // of the sender.
        for batch in self.batches.iter().take_while(|b| b.attempts > 0) {
            if let BatchState::InFlight { node } = batch.state {
                if node != leader {
                    return Readiness::Idle;
                }
                in_flight += 1;
                retry_in_flight |= batch.attempts > 1;
            }
        }
        let Some(first) = self.first_queued() else {
            return Readiness::Idle;
        };
        if in_flight >= rules.max_in_flight || (first.attempts > 0 && in_flight > 0) {
            return Readiness::Idle;
        }
        // Until the broker has acknowledged a first sequence under this
        // producer id and epoch, a second batch could be appended ahead of
        // a refused first one (see `awaiting_first_ack`): one at a time.
        if in_flight > 0 && self.sequence.awaiting_first_ack() {
            return Readiness::Idle;
        }
        // A retry in flight may carry a batch an earlier attempt wrote. The
        // broker recognises it as a duplicate only while it is among the
        // partition's last 5 batches, so nothing new is written behind it
        // until it is resolved.
        if first.attempts == 0 && retry_in_flight {
            return Readiness::Idle;
        }
        if let Some(at) = first.retry_at.filter(|at| *at > rules.now) {
            return Readiness::At(at);
        }
        if rules.hurry || !first.is_open() || first.attempts > 0 {
            return Readiness::Ready;
        }
        // A batch that is not full yet is sent when linger.ms has passed;
        // a full one is closed by the append that did not fit.
        let due = first.created + rules.linger;
        if due <= rules.now {
            Readiness::Ready
        } else {
            Readiness::At(due)
        }
    }

    /// The oldest batch not in flight.
    pub(crate) fn first_queued(&self) -> Option<&ProducerBatch> {
        self.batches
            .iter()
            .find(|batch| batch.state == BatchState::Queued)
    }

    /// Mutable access to the oldest batch not in flight.
    pub(crate) fn first_queued_mut(&mut self) -> Option<&mut ProducerBatch> {
        self.batches
            .iter_mut()
            .find(|batch| batch.state == BatchState::Queued)
    }

    /// The position of a batch by id.
    pub(crate) fn position(&self, batch_id: u64) -> Option<usize> {
        self.batches.iter().position(|batch| batch.id == batch_id)
    }

    /// Batches waiting here (for the adaptive sticky partitioner).
    pub(crate) fn queued_batches(&self) -> usize {
        self.batches.len()
    }
}
