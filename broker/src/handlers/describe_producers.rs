//! DescribeProducers (key 61), version 0 (KIP-664): the producer state of
//! partitions, for operators chasing a hanging transaction.
//!
//! For each requested partition the leader answers every producer it holds
//! state for: id, epoch, last sequence (-1 when no batch is cached, e.g.
//! after a marker bumped the epoch), max timestamp of its last batch or
//! marker, the epoch of the coordinator of its last marker (-1: none) and
//! the first offset of its open transaction (-1: none).
//!
//! Errors per partition, as Kafka: READ on the topic is required, else
//! TOPIC_AUTHORIZATION_FAILED; an unknown topic or partition is
//! UNKNOWN_TOPIC_OR_PARTITION (never auto-created); a node that does not
//! lead the partition answers NOT_LEADER_OR_FOLLOWER.

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{text, versions, DataContext, RequestContext};
use crate::storage::ProducerView;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 0);

/// Answers DescribeProducers.
pub async fn handle(
    data: &DataContext<'_>,
    request: DescribeProducersRequest,
    ctx: &RequestContext,
) -> DescribeProducersResponse {
    let access = data.access(ctx);
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let name = topic.name.0.to_string();
            let readable = access.topic(AclOperation::Read, &name);
            let partitions = topic
                .partition_indexes
                .iter()
                .map(|&partition| {
                    if readable {
                        answer(data, &name, partition, ctx.node_id)
                    } else {
                        failed(partition, ResponseError::TopicAuthorizationFailed)
                    }
                })
                .collect();
            TopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}

/// One partition's producers, or its error.
fn answer(data: &DataContext<'_>, topic: &str, partition: i32, node: i32) -> PartitionResponse {
    let known =
        matches!(data.topic(topic), Some(meta) if (0..meta.partitions).contains(&partition));
    if !known {
        return failed(partition, ResponseError::UnknownTopicOrPartition);
    }
    if let Err(error) = data.check_leader(topic, partition, node, -1) {
        return failed(partition, error);
    }
    let Some(producers) = data.with_partition(topic, partition, |log| log.describe_producers())
    else {
        return failed(partition, ResponseError::UnknownTopicOrPartition);
    };
    PartitionResponse::default()
        .with_partition_index(partition)
        .with_error_code(0)
        .with_active_producers(producers.into_iter().map(producer_state).collect())
}

fn producer_state(view: ProducerView) -> ProducerState {
    ProducerState::default()
        .with_producer_id(ProducerId(view.producer_id))
        .with_producer_epoch(i32::from(view.producer_epoch))
        .with_last_sequence(view.last_sequence)
        .with_last_timestamp(view.last_timestamp)
        .with_coordinator_epoch(view.coordinator_epoch)
        .with_current_txn_start_offset(view.current_txn_start_offset)
}

fn failed(partition: i32, error: ResponseError) -> PartitionResponse {
    PartitionResponse::default()
        .with_partition_index(partition)
        .with_error_code(error.code())
        .with_error_message(Some(text(error.to_string())))
}
