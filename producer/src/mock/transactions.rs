//! The transactional calls of [`MockProducer`]: the same state machine as
//! the real producer's, records of a transaction shown in `sent()` only at
//! its commit and dropped at its abort, offsets kept per group at the
//! commit, and a chosen error for the next commit.
//!
//! ```text
//!  init_transactions ─▶ Ready ─begin─▶ InTransaction ─send─▶ uncommitted()
//!                                          │ commit ─▶ sent() += uncommitted, committed_offsets()
//!                                          └ abort  ─▶ uncommitted dropped
//! ```

use std::collections::BTreeMap;

use durian_core::{ConsumerGroupMetadata, TopicPartition};

use super::MockProducer;
use crate::error::ProducerError;
use crate::record::ProducerRecord;
use crate::transaction::TransactionState;

/// The mock's transaction bookkeeping.
#[derive(Debug)]
pub(super) struct MockTransactions<K, V> {
    /// `None` until `init_transactions`: the mock is not transactional.
    state: Option<TransactionState>,
    uncommitted: Vec<ProducerRecord<K, V>>,
    pending_offsets: BTreeMap<String, BTreeMap<TopicPartition, i64>>,
    committed_offsets: BTreeMap<String, BTreeMap<TopicPartition, i64>>,
    next_commit_error: Option<ProducerError>,
    commits: usize,
    aborts: usize,
}

impl<K, V> Default for MockTransactions<K, V> {
    fn default() -> Self {
        MockTransactions {
            state: None,
            uncommitted: Vec::new(),
            pending_offsets: BTreeMap::new(),
            committed_offsets: BTreeMap::new(),
            next_commit_error: None,
            commits: 0,
            aborts: 0,
        }
    }
}

impl<K, V> MockTransactions<K, V> {
    /// A send is allowed outside transactions, or inside an open one.
    pub(super) fn check_send(&self) -> Result<(), ProducerError> {
        match self.state {
            None | Some(TransactionState::InTransaction) => Ok(()),
            Some(state) => Err(ProducerError::InvalidTransactionState {
                operation: "send",
                state: Some(state),
            }),
        }
    }

    /// Keeps a record of the open transaction back; returns it otherwise.
    pub(super) fn hold(&mut self, record: ProducerRecord<K, V>) -> Option<ProducerRecord<K, V>> {
        if self.state == Some(TransactionState::InTransaction) {
            self.uncommitted.push(record);
            None
        } else {
            Some(record)
        }
    }

    fn transition(
        &mut self,
        operation: &'static str,
        to: TransactionState,
    ) -> Result<(), ProducerError> {
        let from = self.state.unwrap_or(TransactionState::Uninitialized);
        let allowed = match to {
            // The mock has no coordinator to wait for.
            TransactionState::Ready if from == TransactionState::Uninitialized => true,
            _ => from.can_move_to(to),
        };
        if !allowed {
            return Err(ProducerError::InvalidTransactionState {
                operation,
                state: Some(from),
            });
        }
        self.state = Some(to);
        Ok(())
    }
}

impl<K, V> MockProducer<K, V> {
    /// Makes the mock transactional, as `Producer::init_transactions`:
    /// from now on records are sent only inside transactions.
    pub async fn init_transactions(&self) -> Result<(), ProducerError> {
        self.state()
            .txn
            .transition("init_transactions", TransactionState::Ready)
    }

    /// Opens a transaction (`Producer::begin_transaction`).
    pub fn begin_transaction(&self) -> Result<(), ProducerError> {
        self.state()
            .txn
            .transition("begin_transaction", TransactionState::InTransaction)
    }

    /// Keeps `offsets` for `group` until the commit
    /// (`Producer::send_offsets_to_transaction`).
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: &BTreeMap<TopicPartition, i64>,
        group: &ConsumerGroupMetadata,
    ) -> Result<(), ProducerError> {
        let mut state = self.state();
        let txn = &mut state.txn;
        if txn.state != Some(TransactionState::InTransaction) {
            return Err(ProducerError::InvalidTransactionState {
                operation: "send_offsets_to_transaction",
                state: txn.state,
            });
        }
        txn.pending_offsets
            .entry(group.group_id.clone())
            .or_default()
            .extend(offsets.iter().map(|(tp, offset)| (tp.clone(), *offset)));
        Ok(())
    }

    /// Commits: the transaction's records join `sent()` and its offsets
    /// `committed_offsets()`. With an error set by `fail_next_commit`, the
    /// commit fails with it instead and the transaction stays open to be
    /// aborted (as after a `TransactionAbortable`).
    pub async fn commit_transaction(&self) -> Result<(), ProducerError> {
        self.complete_all();
        let mut state = self.state();
        if let Some(error) = state.txn.next_commit_error.take() {
            if state.txn.state == Some(TransactionState::InTransaction) {
                state.txn.state = Some(TransactionState::AbortableError);
            }
            return Err(error);
        }
        state.txn.transition(
            "commit_transaction",
            TransactionState::CommittingTransaction,
        )?;
        let records = std::mem::take(&mut state.txn.uncommitted);
        state.sent.extend(records);
        let offsets = std::mem::take(&mut state.txn.pending_offsets);
        for (group, offsets) in offsets {
            state
                .txn
                .committed_offsets
                .entry(group)
                .or_default()
                .extend(offsets);
        }
        state.txn.commits += 1;
        state.txn.state = Some(TransactionState::Ready);
        Ok(())
    }

    /// Aborts: the transaction's records and offsets are dropped.
    pub async fn abort_transaction(&self) -> Result<(), ProducerError> {
        let mut state = self.state();
        state
            .txn
            .transition("abort_transaction", TransactionState::AbortingTransaction)?;
        state.txn.uncommitted.clear();
        state.txn.pending_offsets.clear();
        state.txn.aborts += 1;
        state.txn.state = Some(TransactionState::Ready);
        Ok(())
    }

    /// Where the mock's transaction stands (`None` before `init_transactions`).
    pub fn transaction_state(&self) -> Option<TransactionState> {
        self.state().txn.state
    }

    /// The next `commit_transaction` fails with `error` (e.g. a
    /// `TransactionAbortable` or `ProducerFenced`).
    pub fn fail_next_commit(&self, error: ProducerError) {
        self.state().txn.next_commit_error = Some(error);
    }

    /// Offsets committed by transactions, per group id.
    pub fn committed_offsets(&self) -> BTreeMap<String, BTreeMap<TopicPartition, i64>> {
        self.state().txn.committed_offsets.clone()
    }

    /// How many transactions were committed and aborted.
    pub fn transactions_ended(&self) -> (usize, usize) {
        let state = self.state();
        (state.txn.commits, state.txn.aborts)
    }
}

impl<K: Clone, V: Clone> MockProducer<K, V> {
    /// Records of the open transaction, not yet in `sent()`.
    pub fn uncommitted(&self) -> Vec<ProducerRecord<K, V>> {
        self.state().txn.uncommitted.clone()
    }
}
