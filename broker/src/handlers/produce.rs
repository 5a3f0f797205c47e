//! Produce (key 0), versions 3–12.
//!
//! Decodes each partition's record batches (produce_validate: records
//! parse, counts match, decompression bounded by max(64 MiB, 16 x
//! max.message.bytes); a failure is CORRUPT_MESSAGE for that partition
//! only, which stays untouched), then appends them through the storage
//! engine, which validates them (CRC, sizes, idempotent sequences) and
//! assigns offsets. Only the partition's leader (per the topology) appends; any
//! other node answers NOT_LEADER_OR_FOLLOWER. Batches are stamped with the
//! leader epoch. acks 0, 1 and -1 are accepted; replicas are simulated
//! (one shared log), so -1 is satisfied as soon as the local append is. acks=0 gets no response at all. Unknown
//! topics are auto-created when auto-creation is on. Not supported:
//! transactions (no transaction coordinator), per-record error details
//! (`record_errors` stays empty), `timeout_ms` (appends never wait for
//! replicas), and v13 (topic ids in Produce). With acks=0 a failed append
//! closes the connection (Kafka's way of telling such a producer).

use bytes::BytesMut;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::produce_validate::check_produced_records;
use super::{text, versions, RequestContext};
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(3, 12);

/// Versions advertised in ApiVersions: from v0, as Kafka 3.x did.
/// librdkafka before 2.10 turns gzip and snappy on only when the broker's
/// Produce range includes v0 (and otherwise silently sends such batches
/// uncompressed). Clients use the highest common version, so v0–v2
/// (message formats v0/v1, which kafka-protocol cannot decode) are never
/// chosen by a client that also speaks v3+; one that sends them anyway has
/// its connection closed with a reason.
pub const ADVERTISED: VersionRange = versions(0, 12);

/// What the connection does after a Produce.
#[derive(Debug)]
pub enum ProduceReply {
    /// Send this response (acks 1 or -1).
    Respond(ProduceResponse),
    /// Send nothing (acks=0, everything appended).
    Silent,
    /// acks=0 but something failed: close the connection, as Kafka does,
    /// because that is the only way a fire-and-forget producer learns it
    /// must refresh its metadata.
    Close(String),
}

/// Appends the request's batches.
pub async fn handle(
    state: &BrokerState,
    request: ProduceRequest,
    ctx: &RequestContext,
) -> ProduceReply {
    let version = ctx.version;
    let acks = request.acks;
    let mut responses = Vec::with_capacity(request.topic_data.len());
    let mut first_error: Option<String> = None;
    for topic in request.topic_data {
        let name = topic.name.0.to_string();
        let known = state.topic_or_auto_create(&name, true).await;
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for data in topic.partition_data {
            let result = match (&known, acks) {
                (_, a) if !matches!(a, -1..=1) => failure(
                    data.index,
                    ResponseError::InvalidRequiredAcks.code(),
                    "acks must be -1, 0 or 1",
                ),
                (Err(e), _) => failure(data.index, e.code, &e.message),
                (Ok(topic), _) if !(0..topic.partitions).contains(&data.index) => failure(
                    data.index,
                    ResponseError::UnknownTopicOrPartition.code(),
                    &format!("partition {name}-{} does not exist", data.index),
                ),
                (Ok(_), _) => match state
                    .topology
                    .check_leader(&name, data.index, ctx.node_id, -1)
                {
                    Err(e) => failure(
                        data.index,
                        e.code(),
                        &format!("node {} does not lead {name}-{}", ctx.node_id, data.index),
                    ),
                    Ok(epoch) => {
                        let outcome = append(state, &name, data.index, epoch, data.records).await;
                        if outcome.error_code == 0 {
                            state.notify_append(&name, data.index);
                        }
                        outcome
                    }
                },
            };
            if result.error_code != 0 && first_error.is_none() {
                first_error = Some(format!(
                    "acks=0 produce to {name}-{} failed with error {}: {}",
                    result.index,
                    result.error_code,
                    result.message.as_deref().unwrap_or("")
                ));
            }
            partitions.push(with_message(result, version));
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic.name)
                .with_partition_responses(partitions),
        );
    }
    match (acks, first_error) {
        (0, None) => ProduceReply::Silent,
        (0, Some(reason)) => ProduceReply::Close(reason),
        _ => ProduceReply::Respond(ProduceResponse::default().with_responses(responses)),
    }
}

/// One partition's outcome before version-dependent fields are trimmed.
struct Outcome {
    index: i32,
    error_code: i16,
    message: Option<String>,
    base_offset: i64,
    log_append_time: i64,
    log_start_offset: i64,
}

fn failure(index: i32, error_code: i16, message: &str) -> Outcome {
    Outcome {
        index,
        error_code,
        message: Some(message.to_string()),
        base_offset: -1,
        log_append_time: -1,
        log_start_offset: -1,
    }
}

/// Records that failed [`check_produced_records`], with the reason.
struct Refused(String);

/// Decodes, then appends, on the blocking pool: an append may fsync (`flush.messages=1`)
/// or roll a segment, and must not stall the runtime's worker threads.
async fn append(
    state: &BrokerState,
    topic: &str,
    partition: i32,
    leader_epoch: i32,
    records: Option<bytes::Bytes>,
) -> Outcome {
    let Some(records) = records else {
        return failure(
            partition,
            ResponseError::CorruptMessage.code(),
            "records are null",
        );
    };
    let result = match state.logs.get(topic, partition) {
        None => None,
        Some(log) => {
            let task = tokio::task::spawn_blocking(move || {
                let max_message_bytes = {
                    let log = log.lock().unwrap_or_else(|p| p.into_inner());
                    log.config().max_message_bytes
                };
                // Decoded outside the partition lock: decompression is the
                // slow part and must not hold up fetches of this partition.
                check_produced_records(&records, max_message_bytes).map_err(Refused)?;
                let mut batches = BytesMut::from(&records[..]);
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                Ok(log.append(&mut batches, leader_epoch, now_ms()))
            });
            match task.await {
                Ok(Err(Refused(reason))) => {
                    tracing::debug!(topic, partition, %reason, "produce refused: records do not decode");
                    let code = ResponseError::CorruptMessage.code();
                    return failure(partition, code, &reason);
                }
                Ok(Ok(result)) => Some(result),
                Err(e) => {
                    tracing::error!(topic, partition, error = %e, "append task failed");
                    let code = ResponseError::KafkaStorageError.code();
                    return failure(partition, code, "append task failed");
                }
            }
        }
    };
    match result {
        None => failure(
            partition,
            ResponseError::UnknownTopicOrPartition.code(),
            &format!("partition {topic}-{partition} does not exist"),
        ),
        Some(Err(e)) => {
            tracing::debug!(topic, partition, error = %e, "produce rejected");
            failure(partition, e.kafka_error_code(), &e.to_string())
        }
        Some(Ok(done)) => Outcome {
            index: partition,
            error_code: 0,
            message: None,
            base_offset: done.base_offset,
            log_append_time: done.log_append_time,
            log_start_offset: done.log_start_offset,
        },
    }
}

fn with_message(outcome: Outcome, version: i16) -> PartitionProduceResponse {
    let response = PartitionProduceResponse::default()
        .with_index(outcome.index)
        .with_error_code(outcome.error_code)
        .with_base_offset(outcome.base_offset)
        .with_log_append_time_ms(outcome.log_append_time);
    let response = if version >= 5 {
        response.with_log_start_offset(outcome.log_start_offset)
    } else {
        response
    };
    if version >= 8 {
        response.with_error_message(outcome.message.map(text))
    } else {
        response
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
