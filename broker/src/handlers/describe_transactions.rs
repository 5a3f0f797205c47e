//! DescribeTransactions (key 65), version 0.
//!
//! The coordinator's state of each transactional id: state name, timeout,
//! start time (-1 when none is open), producer id and epoch, and the
//! partitions of the open transaction.
//!
//! Checks, as Kafka: DESCRIBE on the transactional id (else
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED); partitions of topics the
//! principal may not DESCRIBE are left out. Unknown ids get
//! TRANSACTIONAL_ID_NOT_FOUND; ids this node does not coordinate
//! NOT_COORDINATOR.

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId,
};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{text, topic_name, versions, RequestContext, TxnContext};

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 0);

/// Answers DescribeTransactions.
pub async fn handle(
    txn: &TxnContext<'_>,
    request: DescribeTransactionsRequest,
    ctx: &RequestContext,
) -> DescribeTransactionsResponse {
    let access = txn.access(ctx);
    let states = request
        .transactional_ids
        .into_iter()
        .map(|id| {
            let refused = |error: ResponseError| {
                TransactionState::default()
                    .with_error_code(error.code())
                    .with_transactional_id(id.clone())
                    .with_transaction_state(text(""))
                    .with_transaction_start_time_ms(-1)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1)
            };
            let name = id.0.as_str();
            if !access.transactional_id(AclOperation::Describe, name) {
                return refused(ResponseError::TransactionalIdAuthorizationFailed);
            }
            if !txn.coordinates(name, ctx.node_id) {
                return refused(ResponseError::NotCoordinator);
            }
            let Some(m) = txn.transactions.describe(name) else {
                return refused(ResponseError::TransactionalIdNotFound);
            };
            let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
            for (topic, partition) in &m.partitions {
                if access.topic(AclOperation::Describe, topic) {
                    by_topic.entry(topic).or_default().push(*partition);
                }
            }
            let topics = by_topic
                .into_iter()
                .map(|(topic, partitions)| {
                    TopicData::default()
                        .with_topic(topic_name(topic))
                        .with_partitions(partitions)
                })
                .collect();
            TransactionState::default()
                .with_transactional_id(id.clone())
                .with_transaction_state(text(m.state.name()))
                .with_transaction_timeout_ms(m.timeout_ms)
                .with_transaction_start_time_ms(m.start_ms)
                .with_producer_id(ProducerId(m.producer_id))
                .with_producer_epoch(m.producer_epoch)
                .with_topics(topics)
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}
