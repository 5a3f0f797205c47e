//! Background work that runs for the broker's whole life.

use std::sync::Arc;

use crate::server::shutdown::Shutdown;
use crate::state::BrokerState;

/// Enforces retention on every partition periodically until shutdown.
pub(crate) async fn retention_loop(state: Arc<BrokerState>, mut shutdown: Shutdown) {
    let mut ticker = tokio::time::interval(state.config.retention_check_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = ticker.tick() => {}
        }
        let now = crate::handlers::produce::now_ms();
        for (topic, partition) in state.logs.partitions() {
            let outcome = state.with_partition(&topic, partition, |log| log.enforce_retention(now));
            if let Some(Err(e)) = outcome {
                tracing::warn!(%topic, partition, error = %e, "retention enforcement failed");
            }
        }
    }
}
