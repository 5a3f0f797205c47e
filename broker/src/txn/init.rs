//! InitProducerId for a transactional id (Kafka's `handleInitProducerId`).

use std::sync::Arc;

use kafka_protocol::ResponseError;

use super::state::{TxnMetadata, TxnState};
use super::{lock, TransactionCoordinator};
use crate::clock::now_ms;

/// A producer id and epoch handed to a transactional producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
}

impl TransactionCoordinator {
    /// Answers InitProducerId for `transactional_id`.
    ///
    /// `expected` is the producer id and epoch the client had (KIP-360),
    /// or `None`. An open transaction is fenced and aborted first and the
    /// caller told CONCURRENT_TRANSACTIONS until the abort completes; a
    /// stale `expected` is PRODUCER_FENCED.
    pub async fn init_producer_id(
        self: &Arc<Self>,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<Grant, ResponseError> {
        let max = i64::try_from(self.config.max_timeout.as_millis()).unwrap_or(i64::MAX);
        if timeout_ms <= 0 || i64::from(timeout_ms) > max {
            return Err(ResponseError::InvalidTransactionTimeout);
        }
        let _op = self.ops.lock().await;
        let now = now_ms();
        let current = lock(&self.entries).by_id.get(transactional_id).cloned();
        let mut m = match current {
            Some(m) => m,
            None => {
                let id = self.ids.new_id().map_err(|e| {
                    tracing::error!(error = %e, "cannot persist producer id block");
                    ResponseError::CoordinatorNotAvailable
                })?;
                TxnMetadata::new(transactional_id, id, timeout_ms, now)
            }
        };
        if let Some((pid, epoch)) = expected {
            let matches_current = pid == m.producer_id && epoch == m.producer_epoch;
            let is_retry = m.state == TxnState::Empty
                && pid == m.last_producer_id
                && epoch == m.last_producer_epoch;
            if is_retry {
                // The answer to this request was lost: give the same again.
                return Ok(Grant {
                    producer_id: m.producer_id,
                    producer_epoch: m.producer_epoch,
                });
            }
            if m.producer_epoch != -1 && !matches_current {
                return Err(ResponseError::ProducerFenced);
            }
        }
        match m.state {
            TxnState::PrepareCommit
            | TxnState::PrepareAbort
            | TxnState::PrepareEpochFence
            | TxnState::Dead => Err(ResponseError::ConcurrentTransactions),
            TxnState::Ongoing => {
                // Fence the old producer and abort its transaction; the
                // client retries until the abort has completed.
                self.fence_and_abort(&mut m, now).await?;
                Err(ResponseError::ConcurrentTransactions)
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let (old_pid, old_epoch) = (m.producer_id, m.producer_epoch);
                if TxnMetadata::epoch_exhausted(m.producer_epoch) {
                    m.producer_id = self.ids.new_id().map_err(|e| {
                        tracing::error!(error = %e, "cannot persist producer id block");
                        ResponseError::CoordinatorNotAvailable
                    })?;
                    m.producer_epoch = 0;
                } else {
                    m.producer_epoch += 1;
                }
                m.last_producer_id = old_pid;
                m.last_producer_epoch = old_epoch;
                m.timeout_ms = timeout_ms;
                m.transition(TxnState::Empty, now)
                    .map_err(|_| ResponseError::InvalidTxnState)?;
                let grant = Grant {
                    producer_id: m.producer_id,
                    producer_epoch: m.producer_epoch,
                };
                self.persist(m).await?;
                Ok(grant)
            }
        }
    }

    /// Bumps the epoch of an open transaction (fencing its producer) and
    /// writes PrepareAbort; the completion runs in the background. The
    /// caller holds the ops lock.
    pub(super) async fn fence_and_abort(
        self: &Arc<Self>,
        m: &mut TxnMetadata,
        now: i64,
    ) -> Result<(), ResponseError> {
        m.transition(TxnState::PrepareEpochFence, now)
            .map_err(|_| ResponseError::InvalidTxnState)?;
        // An exhausted epoch cannot be bumped: the abort still runs, and
        // the next InitProducerId moves to a new producer id.
        if !TxnMetadata::epoch_exhausted(m.producer_epoch) {
            m.last_producer_id = m.producer_id;
            m.last_producer_epoch = m.producer_epoch;
            m.producer_epoch += 1;
        }
        m.transition(TxnState::PrepareAbort, now)
            .map_err(|_| ResponseError::InvalidTxnState)?;
        self.persist(m.clone()).await?;
        self.spawn_completion(&m.transactional_id);
        Ok(())
    }
}
