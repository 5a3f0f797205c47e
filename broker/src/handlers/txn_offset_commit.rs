//! TxnOffsetCommit (key 28), versions 0–5.
//!
//! Stages offsets in the producer's open transaction, which must have
//! added the group with AddOffsetsToTxn (else INVALID_TXN_STATE): they are
//! written to the transaction log, held as pending by the group
//! coordinator (OffsetFetch with require_stable answers
//! UNSTABLE_OFFSET_COMMIT for them), and become committed offsets when the
//! transaction commits; an abort drops them. v3+ carry the member id and
//! generation, checked as Kafka (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION).
//! A stale producer epoch is INVALID_PRODUCER_EPOCH, another producer id
//! INVALID_PRODUCER_ID_MAPPING; metadata longer than the group
//! coordinator's `offset.metadata.max.bytes` OFFSET_METADATA_TOO_LARGE for
//! that partition.
//!
//! Checks, as Kafka: WRITE on the transactional id (else
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and READ on the group (else
//! GROUP_AUTHORIZATION_FAILED) for every partition; READ on each topic
//! (TOPIC_AUTHORIZATION_FAILED) and its existence
//! (UNKNOWN_TOPIC_OR_PARTITION) per partition, the others still staged.
//! Only the group's coordinator serves it (others: NOT_COORDINATOR).

use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{versions, RequestContext, TxnContext};
use crate::txn::state::StagedOffset;
use crate::txn::ProducerRef;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 5);

/// Answers TxnOffsetCommit.
pub async fn handle(
    txn: &TxnContext<'_>,
    request: TxnOffsetCommitRequest,
    ctx: &RequestContext,
) -> TxnOffsetCommitResponse {
    let id = request.transactional_id.0.to_string();
    let group = request.group_id.0.to_string();
    let access = txn.access(ctx);
    let whole: Option<ResponseError> = if id.is_empty() {
        Some(ResponseError::InvalidRequest)
    } else if !access.transactional_id(AclOperation::Write, &id) {
        Some(ResponseError::TransactionalIdAuthorizationFailed)
    } else if !access.group(AclOperation::Read, &group) {
        Some(ResponseError::GroupAuthorizationFailed)
    } else if !txn.coordinates(&group, ctx.node_id) {
        Some(ResponseError::NotCoordinator)
    } else if ctx.version >= 3 {
        txn.transactions
            .groups()
            .txn_commit_error(&group, &request.member_id, request.generation_id)
            .await
    } else {
        None
    };
    // Per partition: `None` to stage, or the error it gets.
    let mut codes: Vec<Vec<Option<i16>>> = Vec::with_capacity(request.topics.len());
    let mut offsets = Vec::new();
    let max_metadata = txn.transactions.groups().offset_metadata_max_bytes();
    for topic in &request.topics {
        let name = topic.name.0.as_str();
        let topic_error = if let Some(e) = whole {
            Some(e)
        } else if !access.topic(AclOperation::Read, name) {
            Some(ResponseError::TopicAuthorizationFailed)
        } else {
            None
        };
        let mut row = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            let too_long = p
                .committed_metadata
                .as_ref()
                .is_some_and(|m| m.len() > max_metadata);
            let error = topic_error.or_else(|| {
                if !txn.partition_exists(name, p.partition_index) {
                    Some(ResponseError::UnknownTopicOrPartition)
                } else if too_long {
                    Some(ResponseError::OffsetMetadataTooLarge)
                } else {
                    None
                }
            });
            match error {
                Some(e) => row.push(Some(e.code())),
                None => {
                    row.push(None);
                    offsets.push((
                        name.to_owned(),
                        p.partition_index,
                        StagedOffset {
                            offset: p.committed_offset,
                            leader_epoch: p.committed_leader_epoch,
                            metadata: p
                                .committed_metadata
                                .as_ref()
                                .map(|m| m.to_string())
                                .unwrap_or_default(),
                        },
                    ));
                }
            }
        }
        codes.push(row);
    }
    let staged_code = if offsets.is_empty() {
        0
    } else {
        let producer = ProducerRef {
            producer_id: request.producer_id.0,
            producer_epoch: request.producer_epoch,
        };
        match txn
            .transactions
            .stage_offsets(&id, producer, &group, offsets)
            .await
        {
            Ok(()) => 0,
            // The group coordinator's answer to a stale producer in Kafka,
            // understood by every client version.
            Err(ResponseError::ProducerFenced) => ResponseError::InvalidProducerEpoch.code(),
            Err(e) => e.code(),
        }
    };
    let topics = request
        .topics
        .iter()
        .zip(codes)
        .map(|(topic, row)| {
            let partitions = topic
                .partitions
                .iter()
                .zip(row)
                .map(|(p, code)| {
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code.unwrap_or(staged_code))
                })
                .collect();
            TxnOffsetCommitResponseTopic::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}
