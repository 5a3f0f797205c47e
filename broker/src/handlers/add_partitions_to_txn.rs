//! AddPartitionsToTxn (key 24), versions 0–5.
//!
//! v0–v3 come from a transactional producer and carry one transaction;
//! v4+ carry a batch (Kafka's brokers verifying a Produce, KIP-890) and may
//! be `verify_only`, which checks that each partition is in the open
//! transaction (INVALID_TXN_STATE if not) without adding it. Added
//! partitions are written to the transaction log before the answer.
//!
//! Checks, as Kafka's KafkaApis: v4+ needs CLUSTER_ACTION on the cluster
//! (else CLUSTER_AUTHORIZATION_FAILED for the whole request); v0–v3 need
//! WRITE on the transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
//! and WRITE on each topic. A partition refused for authorization
//! (TOPIC_AUTHORIZATION_FAILED) or missing (UNKNOWN_TOPIC_OR_PARTITION)
//! fails the whole transaction's request: the others get
//! OPERATION_NOT_ATTEMPTED. A node other than the coordinator answers
//! NOT_COORDINATOR; PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2.

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, TransactionalId,
};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{topic_name, versions, RequestContext, TxnContext};
use crate::txn::ProducerRef;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 5);

/// One transaction of the request, in either version's form.
struct Transaction {
    id: TransactionalId,
    producer: ProducerRef,
    verify_only: bool,
    topics: Vec<AddPartitionsToTxnTopic>,
}

/// Answers AddPartitionsToTxn.
pub async fn handle(
    txn: &TxnContext<'_>,
    request: AddPartitionsToTxnRequest,
    ctx: &RequestContext,
) -> AddPartitionsToTxnResponse {
    let version = ctx.version;
    let access = txn.access(ctx);
    if version >= 4 && !access.cluster(AclOperation::ClusterAction) {
        return AddPartitionsToTxnResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    let transactions: Vec<Transaction> = if version < 4 {
        vec![Transaction {
            id: request.v3_and_below_transactional_id,
            producer: ProducerRef {
                producer_id: request.v3_and_below_producer_id.0,
                producer_epoch: request.v3_and_below_producer_epoch,
            },
            verify_only: false,
            topics: request.v3_and_below_topics,
        }]
    } else {
        request
            .transactions
            .into_iter()
            .map(|t| Transaction {
                id: t.transactional_id,
                producer: ProducerRef {
                    producer_id: t.producer_id.0,
                    producer_epoch: t.producer_epoch,
                },
                verify_only: t.verify_only,
                topics: t.topics,
            })
            .collect()
    };
    let mut results = Vec::with_capacity(transactions.len());
    for transaction in transactions {
        let topic_results = one_transaction(txn, &transaction, ctx).await;
        results.push(
            AddPartitionsToTxnResult::default()
                .with_transactional_id(transaction.id)
                .with_topic_results(topic_results),
        );
    }
    if version < 4 {
        let topics = results.pop().map(|r| r.topic_results).unwrap_or_default();
        return AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(topics);
    }
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

/// The per-partition answers for one transaction.
async fn one_transaction(
    txn: &TxnContext<'_>,
    transaction: &Transaction,
    ctx: &RequestContext,
) -> Vec<AddPartitionsToTxnTopicResult> {
    let version = ctx.version;
    let access = txn.access(ctx);
    let id = transaction.id.0.as_str();
    let partitions: Vec<(String, i32)> = transaction
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.0.to_string(), *p)))
        .collect();
    let same_for_all = |error: ResponseError| vec![error.code(); partitions.len()];
    let codes: Vec<i16> = if id.is_empty() {
        same_for_all(ResponseError::InvalidRequest)
    } else if version < 4 && !access.transactional_id(AclOperation::Write, id) {
        same_for_all(ResponseError::TransactionalIdAuthorizationFailed)
    } else if !txn.coordinates(id, ctx.node_id) {
        same_for_all(ResponseError::NotCoordinator)
    } else {
        let checked: Vec<Option<ResponseError>> = partitions
            .iter()
            .map(|(topic, partition)| {
                if version < 4 && !access.topic(AclOperation::Write, topic) {
                    Some(ResponseError::TopicAuthorizationFailed)
                } else if !txn.partition_exists(topic, *partition) {
                    Some(ResponseError::UnknownTopicOrPartition)
                } else {
                    None
                }
            })
            .collect();
        if checked.iter().any(Option::is_some) {
            checked
                .into_iter()
                .map(|e| e.unwrap_or(ResponseError::OperationNotAttempted).code())
                .collect()
        } else if transaction.verify_only {
            txn.transactions
                .verify_partitions(id, transaction.producer, &partitions)
                .unwrap_or_else(|e| vec![e.code(); partitions.len()])
        } else {
            let added = txn
                .transactions
                .add_partitions(id, transaction.producer, &partitions)
                .await;
            match added {
                Ok(()) => vec![0; partitions.len()],
                Err(ResponseError::ProducerFenced) if version < 2 => {
                    same_for_all(ResponseError::InvalidProducerEpoch)
                }
                Err(e) => same_for_all(e),
            }
        }
    };
    let mut codes = codes.into_iter();
    transaction
        .topics
        .iter()
        .map(|t| {
            let results = t
                .partitions
                .iter()
                .map(|p| {
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(*p)
                        .with_partition_error_code(codes.next().unwrap_or_default())
                })
                .collect();
            AddPartitionsToTxnTopicResult::default()
                .with_name(topic_name(&t.name.0))
                .with_results_by_partition(results)
        })
        .collect()
}
