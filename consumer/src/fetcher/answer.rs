//! Applying fetch answers: each partition's outcome lands in its cursor
//! (records buffered, position skipped past invisible batches, a divergence
//! or an error handled, a preferred read replica taken in), unless a seek
//! or a newer leader epoch made the answer stale. Records of a fetch ahead
//! join the buffer behind those already there; any other answer to a fetch
//! ahead is set aside until the buffer is drained (see [`super`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use durian_core::{Client, Error as CoreError, KafkaCode};

use super::dispatch::FetchResult;
use super::{process_partition, Fetcher, PartitionFetch};
use crate::config::IsolationLevel;
use crate::error::ConsumerError;
use crate::offsets::topic_name;
use crate::types::TopicPartition;

impl Fetcher {
    /// Waits for the next fetch response and applies it.
    pub(crate) async fn wait_and_handle(&mut self) {
        if let Some(result) = self.results_rx.recv().await {
            self.handle(result);
        }
    }

    /// Applies every response that has already arrived.
    pub(crate) fn handle_ready(&mut self) {
        while let Ok(result) = self.results_rx.try_recv() {
            self.handle(result);
        }
    }

    pub(super) fn handle(&mut self, (mut plan, result): FetchResult) {
        self.lanes.free(plan.node, plan.lane);
        self.sessions
            .answered(plan.node, plan.lane, &mut plan.session, &result);
        let mut current: Vec<(TopicPartition, i64)> = Vec::new();
        for planned in &plan.partitions {
            let Some(cursor) = self.cursors.get_mut(&planned.tp) else {
                continue;
            };
            if cursor.version != planned.version {
                continue;
            }
            cursor.in_flight = false;
            // Sent under an older leader epoch than the cursor now knows:
            // the answer (data, error or divergence) speaks for a leader
            // that is no longer current, so it is dropped and the
            // partition fetched again (after validation).
            if planned.leader_epoch >= 0 && cursor.leader_epoch > Some(planned.leader_epoch) {
                tracing::debug!(
                    partition = %planned.tp,
                    sent = planned.leader_epoch,
                    known = ?cursor.leader_epoch,
                    "dropping a fetch answer from an older leader epoch"
                );
                continue;
            }
            current.push((planned.tp.clone(), planned.offset));
        }
        let response = match result {
            Ok(response) => response,
            Err(error) => {
                // An unreachable read replica is left for the leader.
                self.replicas.forget_node(plan.node);
                tracing::debug!(node = plan.node, %error, "fetch failed; retrying after a metadata refresh");
                self.client.request_metadata_refresh(format!(
                    "consumer fetch from broker {} failed: {error}",
                    plan.node
                ));
                return;
            }
        };
        if response.error_code != 0 {
            tracing::debug!(
                node = plan.node,
                code = response.error_code,
                "fetch refused"
            );
            self.client
                .request_metadata_refresh("consumer fetch refused");
            return;
        }
        let metadata = self.client.metadata();
        let offsets: BTreeMap<TopicPartition, i64> = current.into_iter().collect();
        let now = tokio::time::Instant::now();
        for topic in &response.responses {
            let name: Arc<str> = Arc::from(topic_name(&topic.topic.0, &topic.topic_id, &metadata));
            for data in &topic.partitions {
                let tp = TopicPartition::new(name.clone(), data.partition_index);
                let Some(&fetch_offset) = offsets.get(&tp) else {
                    continue;
                };
                self.replicas.prefer(
                    &tp,
                    data.preferred_read_replica.0,
                    now,
                    self.config.client.metadata_max_age,
                );
                let outcome = process_partition(fetch_offset, data, self.config.isolation_level);
                if let PartitionFetch::Error(code) = outcome {
                    if !self.replicas.on_error(&tp, plan.node, code) {
                        continue;
                    }
                }
                self.apply(&tp, fetch_offset, outcome);
            }
        }
    }

    pub(super) fn apply(
        &mut self,
        tp: &TopicPartition,
        fetch_offset: i64,
        outcome: PartitionFetch,
    ) {
        let refresh = |client: &Client, code: KafkaCode| {
            client.request_metadata_refresh(format!("consumer fetch of {tp}: {code}"));
        };
        let Some(cursor) = self.cursors.get_mut(tp) else {
            return;
        };
        if !cursor.buffer.is_empty() && !matches!(outcome, PartitionFetch::Data(_)) {
            // An answer to a fetch ahead of records not handed out yet: an
            // error, divergence or corruption there is handled at the
            // position, so the partition fetches again from it once drained.
            tracing::debug!(partition = %tp, fetch_offset, ?outcome, "setting a fetch-ahead answer aside until the buffer is drained");
            cursor.hold_ahead = true;
            return;
        }
        match outcome {
            PartitionFetch::Data(data) => {
                cursor.high_watermark = data.high_watermark;
                let end = match self.config.isolation_level {
                    IsolationLevel::ReadCommitted if data.last_stable_offset >= 0 => {
                        data.last_stable_offset
                    }
                    _ => data.high_watermark,
                };
                cursor.readable_end = (end >= 0).then_some(end);
                cursor.buffered_next = data.next_offset;
                cursor.buffered_next_epoch = data.last_epoch.or(cursor.buffered_next_epoch);
                let lag =
                    (data.high_watermark >= 0).then(|| data.high_watermark - data.next_offset);
                cursor
                    .metrics
                    .export_fetch(data.records, data.record_bytes, lag);
                cursor.buffer.extend(data.batches);
                if cursor.buffer.is_empty() && data.next_offset > fetch_offset {
                    // Nothing visible, but the log moved on (control
                    // batches, aborted data): skip past it.
                    cursor.position = Some(data.next_offset);
                    cursor.last_epoch = cursor.buffered_next_epoch;
                }
            }
            PartitionFetch::Diverged(end) => {
                tracing::info!(
                    partition = %tp,
                    position = fetch_offset,
                    diverging_epoch = end.epoch,
                    end_offset = end.end_offset,
                    "the leader's log diverged from what was read"
                );
                let policy = self.config.auto_offset_reset;
                self.apply_epoch_end(tp, end, policy);
            }
            PartitionFetch::Error(
                code @ (KafkaCode::FENCED_LEADER_EPOCH | KafkaCode::UNKNOWN_LEADER_EPOCH),
            ) => {
                // Fenced: our metadata is behind. Unknown: the broker is
                // behind. Either way newer metadata settles it.
                refresh(&self.client, code)
            }
            PartitionFetch::Error(KafkaCode::OFFSET_OUT_OF_RANGE) => cursor.needs_reset = true,
            PartitionFetch::Error(code)
                if code.is_retriable()
                    || code.invalidates() != durian_core::error::Invalidates::Nothing =>
            {
                refresh(&self.client, code)
            }
            PartitionFetch::Error(code) => {
                cursor.pending_error = Some(ConsumerError::Client(CoreError::Kafka(
                    durian_core::KafkaError {
                        code,
                        message: Some(format!("fetching {tp} at offset {fetch_offset}")),
                    },
                )));
            }
            PartitionFetch::Corrupt(reason) => {
                cursor.pending_error = Some(ConsumerError::CorruptBatch {
                    partition: tp.clone(),
                    offset: fetch_offset,
                    reason,
                });
            }
        }
    }
}
