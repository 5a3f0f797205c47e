//! The transactional calls of [`Producer`].

use std::collections::BTreeMap;
use std::sync::Arc;

use durian_core::{ConsumerGroupMetadata, TopicPartition};
use tokio::time::Instant;

use super::requests::{self, Limits};
use super::{RpcFailure, TransactionManager, TransactionState};
use crate::error::{FatalError, ProducerError};
use crate::metrics::Metrics;
use crate::producer::Producer;
use crate::shared::Shared;

impl<K, V> Producer<K, V> {
    fn transactional(
        &self,
        operation: &'static str,
    ) -> Result<(&Arc<Shared>, &Arc<TransactionManager>), ProducerError> {
        let shared = self.shared();
        let txn = shared
            .txn
            .as_ref()
            .ok_or(ProducerError::InvalidTransactionState {
                operation,
                state: None,
            })?;
        if let Some(fatal) = shared.fatal.get() {
            return Err(fatal.clone());
        }
        Ok((shared, txn))
    }

    /// Registers `transactional.id` with its transaction coordinator
    /// (InitProducerId): fences every older producer with the same id and
    /// completes or aborts the transaction it left open. Call once, before
    /// anything else; waits up to `max.block.ms` (then
    /// [`ProducerError::TransactionTimeout`], and it may be called again).
    pub async fn init_transactions(&self) -> Result<(), ProducerError> {
        let operation = "init_transactions";
        let (shared, txn) = self.transactional(operation)?;
        txn.transition(operation, TransactionState::Initializing)?;
        let limits = limits(shared);
        let granted =
            requests::init_producer_id(&shared.client, &txn.id, txn.timeout_ms, None, limits).await;
        match granted {
            Ok(identity) => {
                tracing::info!(
                    transactional_id = %txn.id,
                    producer_id = identity.id,
                    epoch = identity.epoch,
                    "transactions initialized"
                );
                txn.set_identity(identity);
                let v2 = shared.config.transaction_v2
                    && requests::offers_v2(&shared.client, &txn.id).await;
                tracing::info!(
                    transactional_id = %txn.id,
                    version = if v2 { 2 } else { 1 },
                    "transactions protocol chosen"
                );
                txn.set_v2(v2);
                shared.accumulator().set_implicit_add(v2);
                txn.transition(operation, TransactionState::Ready)?;
                shared.wakeup.notify_one();
                Ok(())
            }
            Err(RpcFailure::Timeout(last_error)) => {
                txn.transition(operation, TransactionState::Uninitialized)?;
                Err(timeout(shared, operation, last_error))
            }
            // No transaction is open: nothing to abort, so every other
            // failure ends the producer.
            Err(RpcFailure::Abortable(error) | RpcFailure::Fatal(error)) => {
                Err(fatal(shared, txn, FatalError::InitProducerId(error)))
            }
            Err(RpcFailure::Fenced(error)) => {
                Err(fatal(shared, txn, FatalError::InitProducerId(error)))
            }
        }
    }

    /// Opens a transaction: records sent until its commit or abort are
    /// written atomically. Needs `init_transactions` first and no
    /// transaction open.
    pub fn begin_transaction(&self) -> Result<(), ProducerError> {
        let operation = "begin_transaction";
        let (_, txn) = self.transactional(operation)?;
        txn.transition(operation, TransactionState::InTransaction)
    }

    /// Adds the consumer group's offsets to the open transaction
    /// (AddOffsetsToTxn, then TxnOffsetCommit to the group coordinator):
    /// they become the group's committed offsets if and only if the
    /// transaction commits. `offsets` are the next offsets to consume.
    /// `group` comes from the consumer (`Consumer::group_metadata`); the
    /// coordinator refuses it once the group moved to a newer generation
    /// (the transaction must then be aborted).
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: &BTreeMap<TopicPartition, i64>,
        group: &ConsumerGroupMetadata,
    ) -> Result<(), ProducerError> {
        let operation = "send_offsets_to_transaction";
        let (shared, txn) = self.transactional(operation)?;
        txn.check_send().map_err(|e| match e {
            ProducerError::InvalidTransactionState { state, .. } => {
                ProducerError::InvalidTransactionState { operation, state }
            }
            other => other,
        })?;
        let identity = txn
            .identity()
            .ok_or(ProducerError::InvalidTransactionState {
                operation,
                state: Some(txn.state()),
            })?;
        let limits = limits(shared);
        let v2 = txn.is_v2();
        // Transactions V2: TxnOffsetCommit v5 adds the offsets itself.
        if !v2 {
            let added =
                requests::add_offsets(&shared.client, &txn.id, identity, &group.group_id, limits)
                    .await;
            if let Err(failure) = added {
                return Err(failed(shared, txn, "AddOffsetsToTxn", operation, failure));
            }
        }
        txn.set_offsets_added();
        let committed = requests::txn_offset_commit(
            &shared.client,
            &txn.id,
            identity,
            offsets,
            group,
            v2,
            limits,
        )
        .await;
        committed.map_err(|failure| failed(shared, txn, "TxnOffsetCommit", operation, failure))
    }

    /// Sends everything buffered, then commits the transaction (EndTxn).
    /// When a record of the transaction failed, or the transaction was
    /// doomed otherwise, fails with [`ProducerError::TransactionAbortable`]
    /// and `abort_transaction` must follow. After a
    /// [`ProducerError::TransactionTimeout`] it may be called again.
    pub async fn commit_transaction(&self) -> Result<(), ProducerError> {
        let operation = "commit_transaction";
        let (shared, txn) = self.transactional(operation)?;
        {
            // Under the accumulator's lock, so that no send slips a record
            // in after the flush below took its snapshot.
            let _accumulator = shared.accumulator();
            match txn.state() {
                TransactionState::CommittingTransaction => {}
                TransactionState::AbortableError => return Err(txn.abortable_error()),
                _ => txn.transition(operation, TransactionState::CommittingTransaction)?,
            }
        }
        self.flush().await?;
        if let Some(failure) = shared.accumulator().transaction_failure() {
            txn.abortable(|| format!("a record of the transaction was not written: {failure}"));
        }
        if txn.state() == TransactionState::AbortableError {
            return Err(txn.abortable_error());
        }
        let started = shared.accumulator().transaction_started() || txn.offsets_added();
        if started {
            let identity = txn
                .identity()
                .ok_or(ProducerError::InvalidTransactionState {
                    operation,
                    state: Some(txn.state()),
                })?;
            let ended = requests::end_txn(
                &shared.client,
                &txn.id,
                identity,
                (true, txn.is_v2()),
                limits(shared),
            )
            .await;
            let next =
                ended.map_err(|failure| failed(shared, txn, "EndTxn", operation, failure))?;
            if let Some(next) = next {
                txn.set_identity(next);
            }
        }
        shared.accumulator().end_transaction();
        txn.finish();
        Ok(())
    }

    /// Aborts the open transaction: records not sent yet fail with
    /// [`ProducerError::TransactionAborted`], records already sent are
    /// awaited and then marked aborted by EndTxn (read_committed consumers
    /// never see them). Recovers from
    /// [`ProducerError::TransactionAbortable`]; may be called again after a
    /// [`ProducerError::TransactionTimeout`].
    pub async fn abort_transaction(&self) -> Result<(), ProducerError> {
        let operation = "abort_transaction";
        let (shared, txn) = self.transactional(operation)?;
        {
            let mut accumulator = shared.accumulator();
            if txn.state() != TransactionState::AbortingTransaction {
                txn.transition(operation, TransactionState::AbortingTransaction)?;
            }
            let effects = accumulator.fail_all(&ProducerError::TransactionAborted, false);
            accumulator.drop_wanted();
            Metrics::add(&shared.metrics.errors, effects.failed_batches);
            if effects.bump {
                txn.request_bump();
            }
        }
        shared.wakeup.notify_one();
        // What is in flight resolves (acknowledged or failed) first.
        self.flush().await?;
        // So does AddPartitionsToTxn, or EndTxn could overtake it.
        loop {
            let added = txn.partitions_added.notified();
            if !shared.accumulator().admissions_pending() {
                break;
            }
            added.await;
        }
        if let Some(fatal) = shared.fatal.get() {
            return Err(fatal.clone());
        }
        let Some(identity) = txn.identity() else {
            return Err(ProducerError::InvalidTransactionState {
                operation,
                state: Some(txn.state()),
            });
        };
        let started = shared.accumulator().transaction_started() || txn.offsets_added();
        if started {
            let ended = requests::end_txn(
                &shared.client,
                &txn.id,
                identity,
                (false, txn.is_v2()),
                limits(shared),
            )
            .await;
            let next =
                ended.map_err(|failure| failed(shared, txn, "EndTxn", operation, failure))?;
            // Transactions V2: the abort bumped the epoch already.
            if let Some(next) = next {
                txn.set_identity(next);
            }
        }
        if txn.bump_needed() {
            let identity = txn.identity().unwrap_or(identity);
            // A batch with a sequence number failed: its gap would make the
            // broker refuse the next batch of its partition. A new epoch
            // starts every partition over (KIP-360).
            let bumped = requests::init_producer_id(
                &shared.client,
                &txn.id,
                txn.timeout_ms,
                Some(identity),
                limits(shared),
            )
            .await;
            match bumped {
                Ok(identity) => txn.set_identity(identity),
                Err(failure) => {
                    return Err(failed(shared, txn, "InitProducerId", operation, failure))
                }
            }
        }
        shared.accumulator().end_transaction();
        txn.finish();
        shared.wakeup.notify_one();
        Ok(())
    }

    /// Where the producer's transaction stands (`None` without
    /// `transactional.id`).
    pub fn transaction_state(&self) -> Option<TransactionState> {
        self.shared().txn.as_ref().map(|txn| txn.state())
    }
}

fn limits(shared: &Shared) -> Limits {
    Limits {
        deadline: Instant::now() + shared.config.max_block,
        backoff: (
            shared.config.client.retry_backoff,
            shared.config.client.retry_backoff_max,
        ),
    }
}

fn timeout(
    shared: &Shared,
    operation: &'static str,
    last_error: Option<durian_core::Error>,
) -> ProducerError {
    ProducerError::TransactionTimeout {
        operation,
        waited: shared.config.max_block,
        last_error,
    }
}

/// The error of a failed transactional request, with its effect on the
/// producer: abortable errors doom the transaction, fencing and fatal
/// errors the producer.
fn failed(
    shared: &Shared,
    txn: &TransactionManager,
    request: &'static str,
    operation: &'static str,
    failure: RpcFailure,
) -> ProducerError {
    match failure {
        RpcFailure::Timeout(last_error) => timeout(shared, operation, last_error),
        RpcFailure::Abortable(error) => {
            txn.abortable(|| format!("{request} failed: {error}"));
            txn.abortable_error()
        }
        RpcFailure::Fenced(error) | RpcFailure::Fatal(error) => {
            fatal(shared, txn, FatalError::Transaction { request, error })
        }
    }
}

/// Ends the producer: every pending and later call fails with the error.
fn fatal(shared: &Shared, txn: &TransactionManager, reason: FatalError) -> ProducerError {
    tracing::error!(transactional_id = %txn.id, %reason, "transactional producer failed fatally");
    let _ = shared.fatal.set(txn.fatal_error(reason));
    txn.set_fatal();
    shared.wakeup.notify_one();
    shared.fatal.get().cloned().unwrap_or(ProducerError::Closed)
}
