//! The transaction gate: a transactional producer may send a partition's
//! batch only once AddPartitionsToTxn has added the partition to the open
//! transaction (transactions V1).
//!
//! ```text
//!  V2 (implicit add): Free ──append──▶ Implicit ──first batch taken──▶ Added
//!  V1: append (first record of the partition in this transaction)
//!     Free ──▶ Wanted ──take_wanted (sender)──▶ Pending ──admit(ok)──▶ Added ── readiness as usual
//!                 ▲                                │ admit(failed)
//!                 └────────── Free ◀───────────────┘         end_transaction: all Free
//! ```
//!
//! The gate sits in the queues, under the accumulator's one lock, so an
//! append, the sender's drain and the end of a transaction never race:
//! `readiness` keeps a partition idle until it is `Added`. Without
//! transactions every queue stays `Free`, which gates nothing.

use std::sync::Arc;

use super::Accumulator;
use crate::error::ProducerError;

/// Whether a partition is in the open transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Not part of a transaction (always so without transactions).
    #[default]
    Free,
    /// Records were appended in the transaction; not asked for yet.
    Wanted,
    /// AddPartitionsToTxn is in flight for it.
    Pending,
    /// Transactions V2: the broker adds the partition when its first
    /// batch arrives (Produce v12); it may be sent, and counts as added
    /// once a batch was taken for a request.
    Implicit,
    /// Added: its batches may be sent.
    Added,
}

impl Admission {
    /// Whether batches of the partition must wait.
    pub(crate) fn holds_back(self) -> bool {
        matches!(self, Admission::Wanted | Admission::Pending)
    }
}

impl Accumulator {
    /// The partitions that need AddPartitionsToTxn, now marked pending.
    pub(crate) fn take_wanted(&mut self) -> Vec<(Arc<str>, i32)> {
        let mut wanted = Vec::new();
        for queues in self.topics.values_mut() {
            for (index, queue) in queues.partitions.iter_mut().enumerate() {
                if queue.admission == Admission::Wanted {
                    queue.admission = Admission::Pending;
                    wanted.push((queues.name.clone(), index as i32));
                }
            }
        }
        wanted
    }

    /// Ends AddPartitionsToTxn for `partitions`: added, or back to free
    /// when it failed (the transaction is then doomed and its batches are
    /// failed by the sender).
    pub(crate) fn admit(&mut self, partitions: &[(Arc<str>, i32)], added: bool) {
        for (topic, partition) in partitions {
            let queue = self.topics.get_mut(topic).and_then(|q| {
                usize::try_from(*partition)
                    .ok()
                    .and_then(|i| q.partitions.get_mut(i))
            });
            if let Some(queue) = queue.filter(|q| q.admission == Admission::Pending) {
                queue.admission = if added {
                    Admission::Added
                } else {
                    Admission::Free
                };
            }
        }
    }

    /// Forgets partitions not asked for yet (an abort: their batches are
    /// failed, and nothing needs ending for them).
    pub(crate) fn drop_wanted(&mut self) {
        for queues in self.topics.values_mut() {
            for queue in &mut queues.partitions {
                if queue.admission == Admission::Wanted {
                    queue.admission = Admission::Free;
                }
            }
        }
    }

    /// Whether some partition waits for AddPartitionsToTxn to be sent or
    /// answered.
    pub(crate) fn admissions_pending(&self) -> bool {
        self.queues().any(|q| q.admission.holds_back())
    }

    /// Whether the coordinator added a partition to the open transaction
    /// (then EndTxn must end it).
    pub(crate) fn transaction_started(&self) -> bool {
        self.queues().any(|q| q.admission == Admission::Added)
    }

    /// The first batch failure since the transaction began, if any.
    pub(crate) fn transaction_failure(&self) -> Option<ProducerError> {
        self.queues().find_map(|q| q.first_failure.clone())
    }

    /// Transactions V2 (`true`): partitions join the transaction with
    /// their first Produce instead of AddPartitionsToTxn.
    pub(crate) fn set_implicit_add(&mut self, implicit: bool) {
        self.implicit_add = implicit;
    }

    /// Forgets the ended transaction: every partition free, no failure.
    pub(crate) fn end_transaction(&mut self) {
        for queues in self.topics.values_mut() {
            for queue in &mut queues.partitions {
                queue.admission = Admission::Free;
                queue.first_failure = None;
            }
        }
    }

    fn queues(&self) -> impl Iterator<Item = &super::partition_queue::PartitionQueue> {
        self.topics.values().flat_map(|q| q.partitions.iter())
    }
}
