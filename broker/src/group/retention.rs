//! Offset retention: the sweeper that expires old offsets and forgets idle groups.
//!
//! As in Kafka since 2.1, offsets of a group only start to age once the group is empty:
//! an offset expires when `offsets_retention` has passed since both its commit and the
//! moment the group lost its last member. An empty group without offsets is removed.

use std::sync::{Arc, Weak};

use kafka_protocol::error::ResponseError;

use super::offset_record::LogRecord;
use super::Shared;
use crate::clock::now_ms;

/// Sweeps every `offsets_retention_check_interval` until the coordinator is gone or closed.
pub(crate) async fn run_sweeper(shared: Weak<Shared>) {
    let Some(interval) = shared
        .upgrade()
        .map(|s| s.config.offsets_retention_check_interval)
    else {
        return;
    };
    loop {
        tokio::time::sleep(interval).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if shared.is_closed() {
            return;
        }
        sweep(&shared, now_ms()).await;
    }
}

/// One pass over every group at wall-clock time `now_ms`.
pub(crate) async fn sweep(shared: &Arc<Shared>, now_ms: i64) {
    let retention_ms =
        i64::try_from(shared.config.offsets_retention.as_millis()).unwrap_or(i64::MAX);
    for (id, slot) in shared.snapshot() {
        let mut group = slot.group.lock().await;
        if !group.is_empty() {
            continue;
        }
        let empty_since = group.empty_since_ms;
        let expired: Vec<LogRecord> = shared
            .store
            .all(&id)
            .into_iter()
            .filter(|(_, offset)| {
                now_ms.saturating_sub(offset.commit_timestamp_ms.max(empty_since)) >= retention_ms
            })
            .map(|((topic, partition), _)| LogRecord::OffsetTombstone {
                group: id.clone(),
                topic,
                partition,
            })
            .collect();
        if !expired.is_empty() {
            tracing::info!(group = %id, partitions = expired.len(), "expiring committed offsets");
            if let Err(e) = shared.store.write(expired).await {
                tracing::warn!(group = %id, error = %e, "could not expire offsets; will retry");
                continue;
            }
        }
        if !shared.store.has_offsets(&id) {
            // Only a persisted protocol type needs a tombstone; otherwise nothing is on disk.
            let forget = match shared.store.meta(&id) {
                Some(_) => vec![LogRecord::GroupTombstone { group: id.clone() }],
                None => Vec::new(),
            };
            if let Err(e) = shared.store.write(forget).await {
                tracing::warn!(group = %id, error = %e, "could not remove an idle group; will retry");
                continue;
            }
            group.shut(ResponseError::CoordinatorNotAvailable);
            drop(group);
            slot.wake.notify_one();
            shared.remove_slot(&id, &slot);
        }
    }
}
