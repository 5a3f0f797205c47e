//! DeleteRecords (key 21), versions 0–2.
//!
//! Moves a partition's log start offset forward (offset -1 means the high
//! watermark); whole segments below it are removed by the storage engine.
//! Only the partition's leader applies it; other nodes answer
//! NOT_LEADER_OR_FOLLOWER.
//! Authorization: DELETE on each topic, else TOPIC_AUTHORIZATION_FAILED.
//! Not supported: `timeout_ms` (the change is synchronous).

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{versions, DataContext, RequestContext};

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 2);

/// Answers DeleteRecords.
pub async fn handle(
    data: &DataContext<'_>,
    request: DeleteRecordsRequest,
    ctx: &RequestContext,
) -> DeleteRecordsResponse {
    let access = data.access(ctx);
    let topics = request
        .topics
        .into_iter()
        .map(|topic| {
            let allowed = access.topic(AclOperation::Delete, &topic.name);
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    if !allowed {
                        return DeleteRecordsPartitionResult::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                            .with_low_watermark(-1);
                    }
                    let leads = match data.topic(&topic.name) {
                        Some(meta) if (0..meta.partitions).contains(&p.partition_index) => data
                            .check_leader(&topic.name, p.partition_index, ctx.node_id, -1)
                            .map(|_| ()),
                        _ => Ok(()),
                    };
                    if let Err(e) = leads {
                        return DeleteRecordsPartitionResult::default()
                            .with_partition_index(p.partition_index)
                            .with_error_code(e.code())
                            .with_low_watermark(-1);
                    }
                    let outcome = data.with_partition(&topic.name, p.partition_index, |log| {
                        let target = if p.offset == -1 {
                            log.high_watermark()
                        } else {
                            p.offset
                        };
                        if target < 0 || target > log.high_watermark() {
                            return Err(ResponseError::OffsetOutOfRange.code());
                        }
                        log.delete_records_before(target)
                            .map(|_| log.log_start_offset())
                            .map_err(|e| e.kafka_error_code())
                    });
                    // Fetches parked on this partition must see the new log start.
                    data.notify_append(&topic.name, p.partition_index);
                    let result = DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index);
                    match outcome {
                        None => result
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                            .with_low_watermark(-1),
                        Some(Ok(low)) => result.with_low_watermark(low),
                        Some(Err(code)) => result.with_error_code(code).with_low_watermark(-1),
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(topic.name)
                .with_partitions(partitions)
        })
        .collect();
    // Persist the new log start offsets now: a crash must not bring the
    // deleted records back.
    if let Err(e) = data.checkpoint() {
        tracing::warn!(error = %e, "checkpoint after DeleteRecords failed");
    }
    DeleteRecordsResponse::default().with_topics(topics)
}
