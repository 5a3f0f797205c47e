//! OffsetForLeaderEpoch (key 23), versions 2–4 (flexible from v4; the
//! versions kafka-protocol decodes: librdkafka sends v2+, the Java client
//! v4).
//!
//! For each partition: where the requested `leader_epoch` ended, as
//! `(leader_epoch, end_offset)` (KIP-101, KIP-279, KIP-320). Consumers use
//! it to detect log truncation after a leader change; followers to find
//! where to truncate. Answered from the partition's leader-epoch history in
//! the topology (`topology::EpochHistory`), like Kafka's leader-epoch
//! cache:
//!
//! - the current epoch ends at the log end offset;
//! - an older epoch ends where the next known epoch starts, and the
//!   answer names the largest known epoch at or below the requested one;
//! - an epoch older than every known one (its data was deleted) gets itself
//!   and the start of the earliest known epoch; a future epoch, or -1, gets
//!   (-1, -1) with no error.
//!
//! Errors per partition: an unknown topic or partition
//! UNKNOWN_TOPIC_OR_PARTITION (topics are never auto-created here); a node
//! that does not lead the partition NOT_LEADER_OR_FOLLOWER (Kafka answers
//! only from the leader, for consumers and followers alike); a
//! `current_leader_epoch` (-1: no check) older than the leader's
//! FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH. `replica_id` (v3+; -1
//! consumer, -2 debugging tool, ≥ 0 a follower broker) is ignored: durian
//! has no follower brokers. Authorization: DESCRIBE on each topic, else
//! TOPIC_AUTHORIZATION_FAILED.
//!
//! A single broker's history is always epoch 0 from the log start offset
//! (it never changes leader), so nothing needs to survive a restart. The
//! in-process `Cluster` records each epoch bump's log end offset in memory.

use kafka_protocol::messages::offset_for_leader_epoch_request::OffsetForLeaderPartition;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::error_reply::failed_partition;
use super::{versions, DataContext, RequestContext};

/// Versions served.
pub const VERSIONS: VersionRange = versions(2, 4);

/// Answers OffsetForLeaderEpoch.
pub async fn handle(
    data: &DataContext<'_>,
    request: OffsetForLeaderEpochRequest,
    ctx: &RequestContext,
) -> OffsetForLeaderEpochResponse {
    let access = data.access(ctx);
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let name = topic.topic.0.to_string();
            let described = access.topic(AclOperation::Describe, &name);
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    if described {
                        answer(data, &name, p, ctx.node_id)
                    } else {
                        failed_partition(
                            p.partition,
                            ResponseError::TopicAuthorizationFailed.code(),
                        )
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

/// One partition's answer; errors carry (-1, -1).
fn answer(
    data: &DataContext<'_>,
    topic: &str,
    p: &OffsetForLeaderPartition,
    node: i32,
) -> EpochEndOffset {
    let failed = |error: ResponseError| failed_partition(p.partition, error.code());
    let known =
        matches!(data.topic(topic), Some(meta) if (0..meta.partitions).contains(&p.partition));
    if !known {
        return failed(ResponseError::UnknownTopicOrPartition);
    }
    let history = match data.epoch_history(topic, p.partition, node, p.current_leader_epoch) {
        Ok(history) => history,
        Err(error) => return failed(error),
    };
    let Some((log_start, log_end)) = data.with_partition(topic, p.partition, |log| {
        (log.log_start_offset(), log.log_end_offset())
    }) else {
        return failed(ResponseError::UnknownTopicOrPartition);
    };
    let (leader_epoch, end_offset) = history.end_offset_for(p.leader_epoch, log_start, log_end);
    EpochEndOffset::default()
        .with_partition(p.partition)
        .with_error_code(0)
        .with_leader_epoch(leader_epoch)
        .with_end_offset(end_offset)
}
