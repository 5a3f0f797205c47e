//! The transactional requests: how each is built, where it goes, which
//! versions transactions V1 uses, and where its error codes are.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use durian_core::{
    Client, ConsumerGroupMetadata, CoordinatorKind, Error, KafkaError, TopicPartition,
};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, GroupId,
    InitProducerIdRequest, ProducerId, TopicName, TransactionalId, TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::classify::TxnRequest;
use super::rpc::{Call, RpcFailure};
use crate::idempotence::ProducerIdentity;

/// AddPartitionsToTxn v4 and later are the brokers' own (batched,
/// verify-only); clients use v3 at most.
const ADD_PARTITIONS_CLIENT_MAX: i16 = 3;
/// EndTxn v5 and TxnOffsetCommit v5 announce transactions V2.
const END_TXN_TV1_MAX: i16 = 4;
const TXN_OFFSET_COMMIT_TV1_MAX: i16 = 4;
/// The first versions of transactions V2.
const END_TXN_TV2_MIN: i16 = 5;
const PRODUCE_TV2_MIN: i16 = 12;
/// The finalized feature that enables transactions V2 at level 2.
const TRANSACTION_VERSION_FEATURE: &str = "transaction.version";

/// How long and how fast a transactional request is retried.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) deadline: Instant,
    pub(crate) backoff: (Duration, Duration),
}

fn transactional_id(id: &str) -> TransactionalId {
    TransactionalId(StrBytes::from_string(id.to_owned()))
}

fn call<'a>(
    client: &'a Client,
    request: TxnRequest,
    (kind, key): (CoordinatorKind, &'a str),
    max_version: i16,
    limits: Limits,
) -> Call<'a> {
    Call {
        client,
        request,
        kind,
        key,
        max_version,
        deadline: limits.deadline,
        backoff: limits.backoff,
    }
}

fn check(code: i16) -> Option<Error> {
    KafkaError::check(code, None).err()
}

/// InitProducerId for `transactional_id`: a fresh identity (`current`
/// `None`) or the next epoch of `current` (an epoch bump, KIP-360).
pub(crate) async fn init_producer_id(
    client: &Client,
    id: &str,
    timeout_ms: i32,
    current: Option<ProducerIdentity>,
    limits: Limits,
) -> Result<ProducerIdentity, RpcFailure> {
    let (pid, epoch) = current.map_or((-1, -1), |c| (c.id, c.epoch));
    let request = InitProducerIdRequest::default()
        .with_transactional_id(Some(transactional_id(id)))
        .with_transaction_timeout_ms(timeout_ms)
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch);
    let target = (CoordinatorKind::Transaction, id);
    let response = call(client, TxnRequest::InitProducerId, target, i16::MAX, limits)
        .run(request, |r| check(r.error_code))
        .await?;
    Ok(ProducerIdentity {
        id: response.producer_id.0,
        epoch: response.producer_epoch,
    })
}

/// Whether the transaction coordinator offers transactions V2: the
/// cluster finalized `transaction.version` 2 or more, and the broker
/// serves EndTxn v5 and Produce v12 (as the Java client decides). Any
/// failure to find out keeps V1, which every broker serves.
pub(crate) async fn offers_v2(client: &Client, id: &str) -> bool {
    let target = durian_core::Target::Coordinator {
        kind: CoordinatorKind::Transaction,
        key: id.to_owned(),
    };
    let request = durian_core::connection::versions::api_versions_request();
    let response = match client.send(target, request).await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(%error, "ApiVersions to the transaction coordinator failed; using transactions V1");
            return false;
        }
    };
    let level = response
        .finalized_features
        .iter()
        .find(|f| f.name.as_str() == TRANSACTION_VERSION_FEATURE)
        .map_or(0, |f| f.max_version_level);
    let max_of = |api: kafka_protocol::messages::ApiKey| {
        response
            .api_keys
            .iter()
            .find(|k| k.api_key == api as i16)
            .map_or(-1, |k| k.max_version)
    };
    level >= 2
        && max_of(kafka_protocol::messages::ApiKey::EndTxn) >= END_TXN_TV2_MIN
        && max_of(kafka_protocol::messages::ApiKey::Produce) >= PRODUCE_TV2_MIN
}

/// AddPartitionsToTxn (v3 at most) for `partitions`.
pub(crate) async fn add_partitions(
    client: Client,
    id: String,
    identity: ProducerIdentity,
    partitions: Vec<(Arc<str>, i32)>,
    limits: Limits,
) -> Result<(), RpcFailure> {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in &partitions {
        topics.entry(&**topic).or_default().push(*partition);
    }
    let topics = topics
        .into_iter()
        .map(|(topic, partitions)| {
            AddPartitionsToTxnTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partitions(partitions)
        })
        .collect();
    let request = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(transactional_id(&id))
        .with_v3_and_below_producer_id(ProducerId(identity.id))
        .with_v3_and_below_producer_epoch(identity.epoch)
        .with_v3_and_below_topics(topics);
    let target = (CoordinatorKind::Transaction, id.as_str());
    call(
        &client,
        TxnRequest::AddPartitions,
        target,
        ADD_PARTITIONS_CLIENT_MAX,
        limits,
    )
    .run(request, |r| {
        // OPERATION_NOT_ATTEMPTED only says another partition failed:
        // that other error decides.
        let codes = r
            .results_by_topic_v3_and_below
            .iter()
            .flat_map(|t| t.results_by_partition.iter())
            .map(|p| p.partition_error_code);
        let not_attempted = durian_core::KafkaCode::OPERATION_NOT_ATTEMPTED.0;
        check(r.error_code)
            .or_else(|| {
                codes
                    .clone()
                    .filter(|c| *c != not_attempted)
                    .find_map(check)
            })
            .or_else(|| codes.clone().find_map(check))
    })
    .await
    .map(|_| ())
}

/// AddOffsetsToTxn: the group's offsets join the transaction.
pub(crate) async fn add_offsets(
    client: &Client,
    id: &str,
    identity: ProducerIdentity,
    group_id: &str,
    limits: Limits,
) -> Result<(), RpcFailure> {
    let request = AddOffsetsToTxnRequest::default()
        .with_transactional_id(transactional_id(id))
        .with_producer_id(ProducerId(identity.id))
        .with_producer_epoch(identity.epoch)
        .with_group_id(GroupId(StrBytes::from_string(group_id.to_owned())));
    let target = (CoordinatorKind::Transaction, id);
    call(client, TxnRequest::AddOffsets, target, i16::MAX, limits)
        .run(request, |r| check(r.error_code))
        .await
        .map(|_| ())
}

/// TxnOffsetCommit to the group coordinator, with the member's generation
/// and ids (KIP-447) so that a zombie's commit is refused.
pub(crate) async fn txn_offset_commit(
    client: &Client,
    id: &str,
    identity: ProducerIdentity,
    offsets: &BTreeMap<TopicPartition, i64>,
    group: &ConsumerGroupMetadata,
    v2: bool,
    limits: Limits,
) -> Result<(), RpcFailure> {
    let mut topics: BTreeMap<&str, Vec<TxnOffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, offset) in offsets {
        topics.entry(&*tp.topic).or_default().push(
            TxnOffsetCommitRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_committed_offset(*offset)
                .with_committed_leader_epoch(-1),
        );
    }
    let topics = topics
        .into_iter()
        .map(|(topic, partitions)| {
            TxnOffsetCommitRequestTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partitions(partitions)
        })
        .collect();
    let request = TxnOffsetCommitRequest::default()
        .with_transactional_id(transactional_id(id))
        .with_group_id(GroupId(StrBytes::from_string(group.group_id.clone())))
        .with_producer_id(ProducerId(identity.id))
        .with_producer_epoch(identity.epoch)
        .with_generation_id(group.generation_id)
        .with_member_id(StrBytes::from_string(group.member_id.clone()))
        .with_group_instance_id(group.group_instance_id.clone().map(StrBytes::from_string))
        .with_topics(topics);
    let target = (CoordinatorKind::Group, group.group_id.as_str());
    call(
        client,
        TxnRequest::TxnOffsetCommit,
        target,
        if v2 {
            i16::MAX
        } else {
            TXN_OFFSET_COMMIT_TV1_MAX
        },
        limits,
    )
    .run(request, |r| {
        r.topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .find_map(|p| check(p.error_code))
    })
    .await
    .map(|_| ())
}

/// EndTxn: commit or abort the open transaction. With transactions V2
/// the coordinator bumps the epoch and answers the identity to use next.
pub(crate) async fn end_txn(
    client: &Client,
    id: &str,
    identity: ProducerIdentity,
    (commit, v2): (bool, bool),
    limits: Limits,
) -> Result<Option<ProducerIdentity>, RpcFailure> {
    let request = EndTxnRequest::default()
        .with_transactional_id(transactional_id(id))
        .with_producer_id(ProducerId(identity.id))
        .with_producer_epoch(identity.epoch)
        .with_committed(commit);
    let target = (CoordinatorKind::Transaction, id);
    let max_version = if v2 { i16::MAX } else { END_TXN_TV1_MAX };
    let response = call(client, TxnRequest::EndTxn, target, max_version, limits)
        .run(request, |r| check(r.error_code))
        .await?;
    Ok(
        (v2 && response.producer_id.0 >= 0 && response.producer_epoch >= 0).then_some(
            ProducerIdentity {
                id: response.producer_id.0,
                epoch: response.producer_epoch,
            },
        ),
    )
}
