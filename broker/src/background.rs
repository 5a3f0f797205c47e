//! Background work that runs for the broker's whole life: retention
//! enforcement, the log cleaner (compaction), periodic checkpoints of the logs' recovery points and
//! log start offsets (so a crash recovers only the unflushed tail and keeps
//! moved log start offsets), and the transaction coordinator's check for
//! timed-out transactions (aborted, their producers fenced) and prepared
//! ones whose markers are still to be written.

use std::sync::Arc;
use std::time::Duration;

use crate::server::shutdown::Shutdown;
use crate::state::BrokerState;

/// How often recovery points are checkpointed (Kafka's
/// `log.flush.offset.checkpoint.interval.ms`).
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(60);

/// How often the log cleaner looks for compacted partitions due for
/// cleaning (Kafka's `log.cleaner.backoff.ms`, 15 s).
pub const CLEANER_INTERVAL: Duration = Duration::from_secs(15);

/// Runs retention and checkpoints on their intervals until shutdown.
pub(crate) async fn maintenance_loop(state: Arc<BrokerState>, mut shutdown: Shutdown) {
    let mut retention = tokio::time::interval(state.config().retention_check_interval);
    let mut checkpoint = tokio::time::interval(CHECKPOINT_INTERVAL);
    let mut cleaner = tokio::time::interval(CLEANER_INTERVAL);
    let mut transactions =
        tokio::time::interval(state.transactions().config().abort_check_interval);
    for ticker in [
        &mut retention,
        &mut checkpoint,
        &mut cleaner,
        &mut transactions,
    ] {
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    loop {
        let job: fn(&BrokerState) = tokio::select! {
            _ = shutdown.wait() => return,
            _ = retention.tick() => enforce_retention,
            _ = checkpoint.tick() => write_checkpoints,
            _ = cleaner.tick() => clean_logs,
            _ = transactions.tick() => {
                // Async work (log writes go to the blocking pool themselves).
                state.transactions().tick().await;
                continue;
            }
        };
        // File deletions and fsyncs must not stall the runtime's workers.
        let state = state.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || job(&state)).await {
            tracing::error!(error = %e, "background maintenance task failed");
        }
    }
}

fn enforce_retention(state: &BrokerState) {
    // An offline log directory was reported when it failed; it is left alone.
    if state.logs().is_offline() {
        return;
    }
    let now = crate::clock::now_ms();
    match state.logs().enforce_retention(now) {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(segments = deleted, "retention deleted old segments"),
        Err(e) => tracing::warn!(error = %e, "retention enforcement failed"),
    }
}

fn clean_logs(state: &BrokerState) {
    if state.logs().is_offline() {
        return;
    }
    let cleaner = crate::storage::CleanerConfig::default();
    match state.logs().clean_all(crate::clock::now_ms(), &cleaner) {
        Ok(cleaned) => {
            for ((topic, partition), outcome) in cleaned {
                tracing::info!(%topic, partition, ?outcome, "log cleaner compacted a partition");
            }
        }
        Err(e) => tracing::warn!(error = %e, "log cleaner pass failed"),
    }
}

fn write_checkpoints(state: &BrokerState) {
    if state.logs().is_offline() {
        return;
    }
    // flush.ms is also checked at appends; this covers idle logs.
    if let Err(e) = state.logs().flush_due(crate::clock::now_ms()) {
        tracing::warn!(error = %e, "periodic log flush failed");
    }
    if let Err(e) = state.logs().checkpoint() {
        tracing::warn!(error = %e, "writing log checkpoints failed");
    }
}
