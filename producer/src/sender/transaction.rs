//! The sender's part in transactions: adopting the identity the
//! transaction manager got, sending AddPartitionsToTxn before a
//! partition's first batch, and failing unsent batches of a doomed
//! transaction (as the Java client's sender does).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{Sender, SenderEvent};
use crate::accumulator::Effects;
use crate::error::{FatalError, ProducerError};
use crate::idempotence::IdentityState;
use crate::transaction::{add_partitions, RpcFailure, TransactionManager, TransactionState};

impl Sender {
    /// One pass of transaction work, in place of the idempotent
    /// producer's own InitProducerId.
    pub(super) fn drive_transaction(&mut self, txn: &Arc<TransactionManager>, now: Instant) {
        let (generation, identity) = txn.published_identity();
        // A new identity (init, or the bump after an abort) is taken only
        // with nothing in flight, as an epoch bump is.
        if generation != self.txn_generation && self.requests.is_empty() {
            if let Some(identity) = identity {
                let effects = self.shared.accumulator().reset_sequences();
                self.apply(effects);
                self.identity = Some(IdentityState::Ready(identity));
                tracing::debug!(
                    producer_id = identity.id,
                    epoch = identity.epoch,
                    "transactional identity adopted"
                );
            }
            self.txn_generation = generation;
        }
        match txn.state() {
            TransactionState::AbortableError | TransactionState::AbortingTransaction => {
                // Nothing more of a doomed transaction goes out.
                let error = if txn.state() == TransactionState::AbortableError {
                    txn.abortable_error()
                } else {
                    ProducerError::TransactionAborted
                };
                let effects = self.shared.accumulator().fail_all(&error, false);
                if effects.failed_batches > 0 {
                    self.apply(effects);
                }
            }
            TransactionState::InTransaction | TransactionState::CommittingTransaction
                if !self.adding_partitions =>
            {
                let Some(identity) = self.identity.and_then(IdentityState::sendable) else {
                    return;
                };
                let partitions = self.shared.accumulator().take_wanted();
                if partitions.is_empty() {
                    return;
                }
                self.adding_partitions = true;
                tracing::debug!(
                    count = partitions.len(),
                    "adding partitions to the transaction"
                );
                let config = &self.shared.config;
                let limits = crate::transaction::Limits {
                    // A partition's records may wait this long in all.
                    deadline: now + config.delivery_timeout,
                    backoff: (
                        // CONCURRENT_TRANSACTIONS clears within milliseconds
                        // once the previous transaction's markers are
                        // written; the Java client retries it after 20 ms.
                        config.client.retry_backoff.min(Duration::from_millis(20)),
                        config.client.retry_backoff_max,
                    ),
                };
                let client = self.shared.client.clone();
                let events = self.events.clone();
                let id = txn.id.clone();
                tokio::spawn(async move {
                    let result =
                        add_partitions(client, id, identity, partitions.clone(), limits).await;
                    let _ = events.send(SenderEvent::PartitionsAdded { partitions, result });
                });
            }
            _ => {}
        }
    }

    pub(super) fn handle_partitions_added(
        &mut self,
        partitions: &[(Arc<str>, i32)],
        result: Result<(), RpcFailure>,
    ) {
        self.adding_partitions = false;
        self.shared.accumulator().admit(partitions, result.is_ok());
        if let (Err(failure), Some(txn)) = (result, self.shared.txn.clone()) {
            match failure {
                RpcFailure::Timeout(last) => txn.abortable(|| {
                    format!(
                        "AddPartitionsToTxn did not succeed within delivery.timeout.ms{}",
                        last.map(|e| format!(": {e}")).unwrap_or_default()
                    )
                }),
                RpcFailure::Abortable(error) => {
                    txn.abortable(|| format!("AddPartitionsToTxn failed: {error}"))
                }
                RpcFailure::Fenced(error) | RpcFailure::Fatal(error) => {
                    self.set_fatal(FatalError::Transaction {
                        request: "AddPartitionsToTxn",
                        error,
                    })
                }
            }
        }
        if let Some(txn) = &self.shared.txn {
            txn.partitions_added.notify_waiters();
        }
    }

    /// What completed batches mean for the open transaction: a failed
    /// batch dooms it, and a sequence gap also needs a new epoch, which
    /// the abort asks for (the sender stops sending until then).
    pub(super) fn transaction_effects(&mut self, txn: &TransactionManager, effects: &Effects) {
        if effects.bump {
            txn.request_bump();
            txn.abortable(|| {
                "a batch with a sequence number failed; the epoch is bumped at the abort".to_owned()
            });
        }
        if effects.failed_batches > 0 {
            let failure = self.shared.accumulator().transaction_failure();
            txn.abortable(|| match failure {
                Some(error) => format!("a record of the transaction was not written: {error}"),
                None => "a record of the transaction was not written".to_owned(),
            });
        }
    }
}
