//! Expiry of idle transactional ids (Kafka's `transactional.id.expiration.ms`):
//! an id with no open transaction whose state has not changed for that
//! long moves to Dead and is removed, written to the log as a removal, so
//! the coordinator's memory and log do not grow with every id ever used.

use std::sync::Arc;

use super::state::{TxnMetadata, TxnState};
use super::{lock, TransactionCoordinator};

impl TransactionCoordinator {
    /// Whether `m` may be removed at `now_ms`.
    fn expired(&self, m: &TxnMetadata, now_ms: i64) -> bool {
        let limit = i64::try_from(self.config.id_expiration.as_millis()).unwrap_or(i64::MAX);
        matches!(
            m.state,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        ) && now_ms.saturating_sub(m.last_update_ms) > limit
    }

    /// Removes every transactional id idle past the expiration; returns
    /// how many. A producer that comes back later gets a new producer id.
    pub async fn expire_idle(self: &Arc<Self>, now_ms: i64) -> usize {
        let idle: Vec<String> = lock(&self.entries)
            .by_id
            .values()
            .filter(|m| self.expired(m, now_ms))
            .map(|m| m.transactional_id.clone())
            .collect();
        let mut removed = 0;
        for id in idle {
            let _op = self.ops.lock().await;
            let Some(mut m) = self.describe(&id) else {
                continue;
            };
            if !self.expired(&m, now_ms) || m.transition(TxnState::Dead, now_ms).is_err() {
                continue;
            }
            match self.persist_removal(&id).await {
                Ok(()) => {
                    tracing::info!(transactional_id = %id, "expired an idle transactional id");
                    removed += 1;
                }
                Err(e) => tracing::warn!(transactional_id = %id, error = ?e,
                    "could not expire an idle transactional id"),
            }
        }
        removed
    }
}
