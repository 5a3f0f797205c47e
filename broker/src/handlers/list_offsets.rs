//! ListOffsets (key 2), versions 1–9.
//!
//! Special timestamps: -2 earliest (log start offset), -1 latest (high
//! watermark), -3 the record with the largest timestamp (v7+), -4 earliest
//! local and -5 earliest pending upload (tiered storage, v8+/v9+), which on
//! a broker without tiered storage both mean the log start offset. Any
//! other value finds the first offset whose timestamp is at or after it.
//! With isolation_level 1 (read_committed), as in Kafka, latest is the last
//! stable offset and a timestamp (or -3) lookup finding an offset at or
//! past it answers offset -1, timestamp -1. Only the partition's leader answers (other
//! nodes: NOT_LEADER_OR_FOLLOWER; a stale or future `current_leader_epoch`,
//! v4+: FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH), with its leader epoch. Not supported: v0 (multiple offsets per
//! partition; the crate cannot decode it) and v10 (timeout_ms).
//! Authorization: DESCRIBE on each topic, else TOPIC_AUTHORIZATION_FAILED.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{versions, DataContext, RequestContext};
use crate::storage::{lock_log, PartitionLog};

/// Versions served.
pub const VERSIONS: VersionRange = versions(1, 9);

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const EARLIEST_PENDING_UPLOAD: i64 = -5;

/// `isolation_level` of a read_committed consumer.
const READ_COMMITTED: i8 = 1;

/// Answers ListOffsets.
pub async fn handle(
    data: &DataContext<'_>,
    request: ListOffsetsRequest,
    ctx: &RequestContext,
) -> ListOffsetsResponse {
    let version = ctx.version;
    let access = data.access(ctx);
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let described = access.topic(AclOperation::Describe, &topic.name);
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let leader = if described {
                leader_check(
                    data,
                    &topic.name,
                    p.partition_index,
                    ctx.node_id,
                    p.current_leader_epoch,
                )
            } else {
                Err(ResponseError::TopicAuthorizationFailed.code())
            };
            let (code, timestamp, offset, epoch) = match leader {
                Err(code) => (code, -1, -1, -1),
                Ok(epoch) => {
                    let committed = request.isolation_level == READ_COMMITTED;
                    let (code, timestamp, offset) =
                        lookup(data, &topic.name, p.partition_index, p.timestamp, committed).await;
                    (code, timestamp, offset, epoch)
                }
            };
            let response = ListOffsetsPartitionResponse::default()
                .with_partition_index(p.partition_index)
                .with_error_code(code)
                .with_timestamp(timestamp)
                .with_offset(offset);
            partitions.push(if version >= 4 && code == 0 {
                response.with_leader_epoch(epoch)
            } else {
                response
            });
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}

/// The leader epoch if `node` leads `topic`-`partition` (unknown
/// partitions pass: the lookup reports them).
fn leader_check(
    data: &DataContext<'_>,
    topic: &str,
    partition: i32,
    node: i32,
    current_leader_epoch: i32,
) -> Result<i32, i16> {
    match data.topic(topic) {
        Some(meta) if (0..meta.partitions).contains(&partition) => data
            .check_leader(topic, partition, node, current_leader_epoch)
            .map_err(|e| e.code()),
        _ => Ok(-1),
    }
}

/// `(error code, timestamp, offset)` for one partition.
async fn lookup(
    data: &DataContext<'_>,
    topic: &str,
    partition: i32,
    timestamp: i64,
    read_committed: bool,
) -> (i16, i64, i64) {
    let unknown = (ResponseError::UnknownTopicOrPartition.code(), -1, -1);
    if timestamp >= 0 {
        let Some(log) = data.log(topic, partition) else {
            return unknown;
        };
        // Finding the record reads segments and may decompress batches:
        // that runs on the blocking pool, not on the async workers.
        let found = tokio::task::spawn_blocking(move || {
            let log = lock_log(&log);
            let bound = fetchable_bound(&log, read_committed);
            log.offset_for_timestamp(timestamp)
                .map(|found| found.filter(|(offset, _)| *offset < bound))
        })
        .await;
        return match found {
            Ok(Ok(Some((offset, found_ts)))) => (0, found_ts, offset),
            Ok(Ok(None)) => (0, -1, -1),
            Ok(Err(e)) => (e.kafka_error_code(), -1, -1),
            Err(_) => (ResponseError::UnknownServerError.code(), -1, -1),
        };
    }
    // The special timestamps only read the log's in-memory state.
    let found = data.with_partition(topic, partition, |log| {
        let bound = fetchable_bound(log, read_committed);
        match timestamp {
            LATEST => Some((-1, bound)),
            EARLIEST | EARLIEST_LOCAL | EARLIEST_PENDING_UPLOAD => {
                Some((-1, log.log_start_offset()))
            }
            MAX_TIMESTAMP => Some(
                log.max_timestamp()
                    .filter(|(offset, _)| *offset < bound)
                    .map_or((-1, -1), |(offset, ts)| (ts, offset)),
            ),
            _ => None,
        }
    });
    match found {
        None => unknown,
        Some(Some((ts, offset))) => (0, ts, offset),
        Some(None) => (ResponseError::InvalidRequest.code(), -1, -1),
    }
}

/// The offset a consumer of this isolation level may read up to: the last
/// stable offset for read_committed, else the high watermark.
fn fetchable_bound(log: &PartitionLog, read_committed: bool) -> i64 {
    if read_committed {
        log.last_stable_offset()
    } else {
        log.high_watermark()
    }
}
