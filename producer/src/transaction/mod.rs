//! Transactions, as the Java client's `TransactionManager` runs them:
//! V1 (explicit AddPartitionsToTxn) everywhere, V2 (KIP-890) when the
//! cluster finalized `transaction.version` 2 or more.
//!
//! ```text
//!  init_transactions ─FindCoordinator(txn)─▶ InitProducerId(transactional.id) ─▶ identity ─▶ sender
//!  begin_transaction ─▶ InTransaction
//!  send ─▶ accumulator: partition Wanted ─▶ sender: AddPartitionsToTxn ─▶ Added ─▶ Produce (transactional batches)
//!  send_offsets_to_transaction ─▶ AddOffsetsToTxn ─▶ TxnOffsetCommit (group coordinator, KIP-447 member check)
//!  commit_transaction ─▶ flush ─▶ EndTxn(commit)        abort_transaction ─▶ drop unsent ─▶ EndTxn(abort) [─▶ epoch bump]
//! ```
//!
//! The manager holds the state machine (state.rs), the producer identity
//! the sender stamps batches with, and why the transaction is doomed.
//! Which partitions are in the transaction lives in the accumulator
//! (accumulator/txn_gate.rs), under the lock sends and drains take.
//! Errors are classified per request (classify.rs) into retried,
//! abortable and fatal ones.
//!
//! Transactions V2 differ in three places: a partition joins the
//! transaction with its first Produce (v12) instead of AddPartitionsToTxn,
//! TxnOffsetCommit (v5) adds the group's offsets without AddOffsetsToTxn,
//! and EndTxn (v5) bumps the epoch, which its response carries (the
//! sender then starts every sequence over).

mod api;
mod classify;
mod requests;
mod rpc;
mod state;

use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::error::{FatalError, ProducerError};
use crate::idempotence::ProducerIdentity;
pub(crate) use classify::{classify_produce, ErrorClass};
pub(crate) use requests::{add_partitions, Limits};
pub(crate) use rpc::RpcFailure;
pub use state::TransactionState;

/// The transaction state shared by the producer handles and the sender.
#[derive(Debug)]
pub(crate) struct TransactionManager {
    /// `transactional.id`.
    pub(crate) id: String,
    /// `transaction.timeout.ms`.
    pub(crate) timeout_ms: i32,
    inner: Mutex<Inner>,
    /// Notified whenever an AddPartitionsToTxn finishes (abort waits for
    /// those in flight, so its EndTxn cannot overtake them).
    pub(crate) partitions_added: Notify,
}

#[derive(Debug)]
struct Inner {
    state: TransactionState,
    /// The identity from InitProducerId, and a counter the sender compares
    /// to adopt a new one (after init or an epoch bump).
    identity: Option<ProducerIdentity>,
    generation: u64,
    /// Why the open transaction cannot commit.
    abortable: Option<String>,
    /// AddOffsetsToTxn succeeded in the open transaction.
    offsets_added: bool,
    /// A batch with a sequence number failed: the epoch must be bumped
    /// after the abort, or the next batches would follow a gap.
    bump_needed: bool,
    /// Transactions V2 (KIP-890) in use: decided by `init_transactions`.
    v2: bool,
}

impl TransactionManager {
    /// A manager for `id`, uninitialized.
    pub(crate) fn new(id: String, timeout_ms: i32) -> Self {
        TransactionManager {
            id,
            timeout_ms,
            inner: Mutex::new(Inner {
                state: TransactionState::Uninitialized,
                identity: None,
                generation: 0,
                abortable: None,
                offsets_added: false,
                bump_needed: false,
                v2: false,
            }),
            partitions_added: Notify::new(),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current state.
    pub(crate) fn state(&self) -> TransactionState {
        self.inner().state
    }

    /// Moves to `to` if the state machine allows it from the current state.
    pub(crate) fn transition(
        &self,
        operation: &'static str,
        to: TransactionState,
    ) -> Result<(), ProducerError> {
        let mut inner = self.inner();
        if !inner.state.can_move_to(to) {
            return Err(ProducerError::InvalidTransactionState {
                operation,
                state: Some(inner.state),
            });
        }
        inner.state = to;
        Ok(())
    }

    /// The identity batches are stamped with.
    pub(crate) fn identity(&self) -> Option<ProducerIdentity> {
        self.inner().identity
    }

    /// The identity and its generation, for the sender to adopt.
    pub(crate) fn published_identity(&self) -> (u64, Option<ProducerIdentity>) {
        let inner = self.inner();
        (inner.generation, inner.identity)
    }

    /// A new identity from InitProducerId (first, or bumped).
    pub(crate) fn set_identity(&self, identity: ProducerIdentity) {
        let mut inner = self.inner();
        inner.identity = Some(identity);
        inner.generation += 1;
        inner.bump_needed = false;
    }

    /// Dooms the open transaction (the first reason is kept). No effect
    /// outside a transaction or once fatal.
    pub(crate) fn abortable(&self, reason: impl FnOnce() -> String) {
        let mut inner = self.inner();
        if inner.state.can_move_to(TransactionState::AbortableError) {
            inner.state = TransactionState::AbortableError;
            if inner.abortable.is_none() {
                let reason = reason();
                tracing::warn!(transactional_id = %self.id, %reason, "transaction must be aborted");
                inner.abortable = Some(reason);
            }
        }
    }

    /// The error of calls the doomed transaction refuses.
    pub(crate) fn abortable_error(&self) -> ProducerError {
        ProducerError::TransactionAbortable {
            reason: self
                .inner()
                .abortable
                .clone()
                .unwrap_or_else(|| "an earlier error".to_owned()),
        }
    }

    /// Marks the producer failed for good.
    pub(crate) fn set_fatal(&self) {
        self.inner().state = TransactionState::FatalError;
    }

    /// Whether a record may be sent now: only inside a transaction.
    pub(crate) fn check_send(&self) -> Result<(), ProducerError> {
        let state = self.state();
        match state {
            TransactionState::InTransaction => Ok(()),
            TransactionState::AbortableError => Err(self.abortable_error()),
            _ => Err(ProducerError::InvalidTransactionState {
                operation: "send",
                state: Some(state),
            }),
        }
    }

    /// Whether transactions V2 are in use.
    pub(crate) fn is_v2(&self) -> bool {
        self.inner().v2
    }

    fn set_v2(&self, v2: bool) {
        self.inner().v2 = v2;
    }

    /// Asks for an epoch bump after the abort.
    pub(crate) fn request_bump(&self) {
        self.inner().bump_needed = true;
    }

    fn bump_needed(&self) -> bool {
        self.inner().bump_needed
    }

    fn set_offsets_added(&self) {
        self.inner().offsets_added = true;
    }

    fn offsets_added(&self) -> bool {
        self.inner().offsets_added
    }

    /// Forgets the ended transaction and returns to Ready.
    fn finish(&self) {
        let mut inner = self.inner();
        inner.abortable = None;
        inner.offsets_added = false;
        if inner.state != TransactionState::FatalError {
            inner.state = TransactionState::Ready;
        }
    }

    /// The error every later call fails with, for a fatal `reason`: a
    /// fencing code becomes [`ProducerError::ProducerFenced`].
    pub(crate) fn fatal_error(&self, reason: FatalError) -> ProducerError {
        let error = match &reason {
            FatalError::Rejected(error)
            | FatalError::InitProducerId(error)
            | FatalError::Transaction { error, .. } => Some(error),
            _ => None,
        };
        match error {
            Some(error)
                if error
                    .kafka_code()
                    .is_some_and(|code| classify_produce(Some(code)) == ErrorClass::Fenced) =>
            {
                ProducerError::ProducerFenced {
                    transactional_id: self.id.clone(),
                    error: error.clone(),
                }
            }
            _ => ProducerError::Fatal(reason),
        }
    }
}
