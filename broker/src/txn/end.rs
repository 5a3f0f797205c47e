//! Ending transactions: EndTxn, the completion that writes the markers,
//! recovery of prepared transactions after a restart, and the abort of
//! transactions that outlived their timeout.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use kafka_protocol::ResponseError;

use super::markers::{MarkerError, TxnMarker};
use super::ops::ProducerRef;
use super::state::{TxnMetadata, TxnState};
use super::{lock, TransactionCoordinator, COORDINATOR_EPOCH};
use crate::clock::now_ms;

impl TransactionCoordinator {
    /// EndTxn: writes PrepareCommit or PrepareAbort, answers, and completes
    /// in the background (markers, group offsets, CompleteX). A retry of
    /// an end that already completed the same way succeeds.
    pub async fn end_txn(
        self: &Arc<Self>,
        transactional_id: &str,
        producer: ProducerRef,
        commit: bool,
    ) -> Result<(), ResponseError> {
        let _op = self.ops.lock().await;
        let mut m = lock(&self.entries)
            .by_id
            .get(transactional_id)
            .cloned()
            .ok_or(ResponseError::InvalidProducerIdMapping)?;
        if m.producer_id != producer.producer_id {
            return Err(ResponseError::InvalidProducerIdMapping);
        }
        if m.producer_epoch != producer.producer_epoch {
            return Err(ResponseError::ProducerFenced);
        }
        let target = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        match (m.state, commit) {
            (TxnState::Ongoing, _) => {
                m.transition(target, now_ms())
                    .map_err(|_| ResponseError::InvalidTxnState)?;
                self.persist(m).await?;
                self.spawn_completion(transactional_id);
                Ok(())
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(()),
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(ResponseError::ConcurrentTransactions)
            }
            (TxnState::PrepareEpochFence, _) => Err(ResponseError::ConcurrentTransactions),
            _ => Err(ResponseError::InvalidTxnState),
        }
    }

    /// Completes a prepared transaction in a background task (unless held).
    pub(super) fn spawn_completion(self: &Arc<Self>, transactional_id: &str) {
        if self.hold_completions.load(Ordering::Acquire) {
            return;
        }
        let coordinator = Arc::clone(self);
        let id = transactional_id.to_owned();
        tokio::spawn(async move { coordinator.complete(&id).await });
    }

    /// Writes the markers of a prepared transaction, completes its group
    /// offsets and writes CompleteCommit or CompleteAbort. A failure leaves
    /// it prepared; the periodic check tries again.
    pub(super) async fn complete(self: &Arc<Self>, transactional_id: &str) {
        // One completion per transactional id at a time: markers are not
        // written twice by racing tasks.
        if !lock(&self.completing).insert(transactional_id.to_owned()) {
            return;
        }
        self.complete_once(transactional_id).await;
        lock(&self.completing).remove(transactional_id);
    }

    async fn complete_once(self: &Arc<Self>, transactional_id: &str) {
        let Some(prepared) = self.describe(transactional_id) else {
            return;
        };
        if !prepared.state.is_prepared() {
            return;
        }
        let commit = prepared.state == TxnState::PrepareCommit;
        if let Err(e) = self.write_markers(&prepared, commit).await {
            tracing::warn!(%transactional_id, error = %e,
                "transaction markers not written yet; will retry");
            return;
        }
        for group in &prepared.groups {
            if let Err(e) = self
                .groups
                .complete_txn_offsets(group, prepared.producer_id, commit)
                .await
            {
                tracing::warn!(%transactional_id, %group, error = %e,
                    "transactional offsets not completed yet; will retry");
                return;
            }
        }
        let _op = self.ops.lock().await;
        let Some(mut m) = self.describe(transactional_id) else {
            return;
        };
        // Another completion (recovery, the periodic check) may have won.
        if m.state != prepared.state || m.producer_epoch != prepared.producer_epoch {
            return;
        }
        let done = if commit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        if m.transition(done, now_ms()).is_ok() {
            if let Err(e) = self.persist(m).await {
                tracing::warn!(%transactional_id, error = ?e,
                    "transaction completion not written yet; will retry");
            }
        }
    }

    /// Appends the markers of `m` to every partition of its transaction.
    async fn write_markers(
        self: &Arc<Self>,
        m: &TxnMetadata,
        commit: bool,
    ) -> Result<(), MarkerError> {
        let marker = TxnMarker {
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            commit,
            coordinator_epoch: COORDINATOR_EPOCH,
        };
        let partitions: Vec<(String, i32)> = m.partitions.iter().cloned().collect();
        let coordinator = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            for (topic, partition) in &partitions {
                coordinator.write_marker(topic, *partition, marker)?;
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|e| {
            Err(MarkerError {
                topic: String::new(),
                partition: -1,
                code: ResponseError::UnknownServerError.code(),
                message: e.to_string(),
            })
        })
    }

    /// Completes every prepared transaction (after a restart, and on each
    /// periodic check for completions that failed or were held).
    pub async fn recover(self: &Arc<Self>) {
        if self.hold_completions.load(Ordering::Acquire) {
            return;
        }
        let prepared: Vec<String> = lock(&self.entries)
            .by_id
            .values()
            .filter(|m| m.state.is_prepared())
            .map(|m| m.transactional_id.clone())
            .collect();
        for id in prepared {
            self.complete(&id).await;
        }
    }

    /// Aborts every open transaction older than its timeout, bumping the
    /// epoch first so the producer that let it expire is fenced (Kafka's
    /// `abortTimedOutTransactions`); returns how many it aborted.
    pub async fn abort_expired(self: &Arc<Self>, now: i64) -> usize {
        let expired: Vec<String> = lock(&self.entries)
            .by_id
            .values()
            .filter(|m| m.timed_out(now))
            .map(|m| m.transactional_id.clone())
            .collect();
        let mut aborted = 0;
        for id in expired {
            let _op = self.ops.lock().await;
            let Some(mut m) = self.describe(&id) else {
                continue;
            };
            if !m.timed_out(now) {
                continue;
            }
            tracing::info!(transactional_id = %id, producer_id = m.producer_id,
                timeout_ms = m.timeout_ms, "aborting a transaction that timed out");
            match self.fence_and_abort(&mut m, now_ms()).await {
                Ok(()) => aborted += 1,
                Err(e) => tracing::warn!(transactional_id = %id, error = ?e,
                    "could not abort a timed-out transaction"),
            }
        }
        aborted
    }

    /// The periodic job: abort timed-out transactions, finish prepared
    /// ones, and remove idle transactional ids.
    pub async fn tick(self: &Arc<Self>) {
        self.abort_expired(now_ms()).await;
        self.recover().await;
        self.expire_idle(now_ms()).await;
    }
}
