//! Turning a fetch answer into records in the task that sent the fetch,
//! before it reaches the consumer: decoding (CRC check, record parsing,
//! read_committed filtering) then runs on a runtime worker while the
//! application is still handling the previous batch, instead of inside
//! `poll`. Applying the result to the cursors stays with the fetcher, which
//! drops it when a seek, a revocation or a newer leader epoch made it stale.

use std::collections::BTreeMap;
use std::sync::Arc;

use durian_core::ClusterMetadata;
use kafka_protocol::messages::FetchResponse;

use super::dispatch::FetchPlan;
use super::{process_partition, PartitionFetch};
use crate::config::IsolationLevel;
use crate::offsets::topic_name;
use crate::types::TopicPartition;

/// The outcome of each partition of an answer that the fetch named, by
/// partition.
pub(super) type Decoded = BTreeMap<TopicPartition, PartitionFetch>;

/// Decodes the partitions of `response` that `plan` fetched, each from
/// the offset it was fetched at. Partitions the plan did not name (or an
/// answer that failed as a whole) yield nothing; the fetcher decodes
/// whatever is missing itself.
pub(super) fn decode(
    plan: &FetchPlan,
    response: &FetchResponse,
    metadata: &ClusterMetadata,
    isolation: IsolationLevel,
) -> Decoded {
    let mut decoded = Decoded::new();
    if response.error_code != 0 {
        return decoded;
    }
    let offsets: BTreeMap<&TopicPartition, i64> =
        plan.partitions.iter().map(|p| (&p.tp, p.offset)).collect();
    for topic in &response.responses {
        let name: Arc<str> = Arc::from(topic_name(&topic.topic.0, &topic.topic_id, metadata));
        for data in &topic.partitions {
            let tp = TopicPartition::new(name.clone(), data.partition_index);
            if let Some(&offset) = offsets.get(&tp) {
                let outcome = process_partition(&name, offset, data, isolation);
                decoded.insert(tp, outcome);
            }
        }
    }
    decoded
}
