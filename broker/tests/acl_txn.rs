//! The transaction APIs' authorization over TCP, as Kafka's KafkaApis:
//! WRITE on the transactional id, WRITE or READ on topics, READ on the
//! group, CLUSTER_ACTION for the broker-only requests, DESCRIBE for the
//! describe and list APIs.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestClient;
use durian_broker::{Broker, Principal};
use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, CreateAclsRequest, CreateTopicsRequest,
    DescribeTransactionsRequest, GroupId, InitProducerIdRequest, ListTransactionsRequest,
    ProducerId, TopicName, TransactionalId, WriteTxnMarkersRequest,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

// Kafka's ACL codes.
const TOPIC: i8 = 2;
const TRANSACTIONAL_ID: i8 = 5;
const LITERAL: i8 = 3;
const WRITE: i8 = 4;
const ALLOW: i8 = 3;

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

fn tid(id: &str) -> TransactionalId {
    TransactionalId(text(id))
}

fn allow(kind: i8, resource: &str, op: i8) -> AclCreation {
    AclCreation::default()
        .with_resource_type(kind)
        .with_resource_name(text(resource))
        .with_resource_pattern_type(LITERAL)
        .with_principal(text("User:alice"))
        .with_host(text("*"))
        .with_operation(op)
        .with_permission_type(ALLOW)
}

async fn init(client: &mut TestClient, id: &str) -> (i16, i64, i16) {
    let answer = client
        .call(
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(tid(id)))
                .with_transaction_timeout_ms(60_000),
            4,
        )
        .await;
    (
        answer.error_code,
        answer.producer_id.0,
        answer.producer_epoch,
    )
}

fn add_v3(id: &str, pid: i64, epoch: i16, topics: &[&str]) -> AddPartitionsToTxnRequest {
    AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(tid(id))
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(
            topics
                .iter()
                .map(|t| {
                    AddPartitionsToTxnTopic::default()
                        .with_name(TopicName(text(t)))
                        .with_partitions(vec![0])
                })
                .collect(),
        )
}

fn markers(pid: i64, epoch: i16, topic: &str) -> WriteTxnMarkersRequest {
    WriteTxnMarkersRequest::default().with_markers(vec![WritableTxnMarker::default()
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_transaction_result(false)
        .with_coordinator_epoch(0)
        .with_topics(vec![WritableTxnMarkerTopic::default()
            .with_name(TopicName(text(topic)))
            .with_partition_indexes(vec![0])])])
}

#[tokio::test]
async fn transaction_apis_check_what_kafka_checks() {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .allow_everyone_if_no_acl_found(false)
        .super_users([Principal::user("admin")])
        .principal_for_client_id("admin", Principal::user("admin"))
        .principal_for_client_id("alice", Principal::user("alice"))
        .start()
        .await
        .unwrap();
    let mut admin = TestClient::connect_as(broker.local_addr(), "admin").await;
    let mut alice = TestClient::connect_as(broker.local_addr(), "alice").await;
    for topic in ["orders", "secret"] {
        let created = admin
            .call(
                &CreateTopicsRequest::default()
                    .with_timeout_ms(1000)
                    .with_topics(vec![CreatableTopic::default()
                        .with_name(TopicName(text(topic)))
                        .with_num_partitions(1)
                        .with_replication_factor(1)]),
                7,
            )
            .await;
        assert_eq!(created.topics[0].error_code, 0);
    }
    let created = admin
        .call(
            &CreateAclsRequest::default().with_creations(vec![
                allow(TRANSACTIONAL_ID, "tx", WRITE),
                allow(TOPIC, "orders", WRITE),
            ]),
            3,
        )
        .await;
    assert!(created.results.iter().all(|r| r.error_code == 0));

    let denied_id = ResponseError::TransactionalIdAuthorizationFailed.code();
    assert_eq!(init(&mut alice, "other").await.0, denied_id);
    let (code, pid, epoch) = init(&mut alice, "tx").await;
    assert_eq!(code, 0);

    // One topic without WRITE fails the request; the other is not attempted.
    let added = alice
        .call(&add_v3("tx", pid, epoch, &["orders", "secret"]), 3)
        .await;
    let codes: Vec<i16> = added
        .results_by_topic_v3_and_below
        .iter()
        .map(|t| t.results_by_partition[0].partition_error_code)
        .collect();
    assert_eq!(
        codes,
        vec![
            ResponseError::OperationNotAttempted.code(),
            ResponseError::TopicAuthorizationFailed.code()
        ]
    );
    let other = alice
        .call(&add_v3("other", pid, epoch, &["orders"]), 3)
        .await;
    assert_eq!(
        other.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        denied_id
    );
    // v4+ comes from brokers only: CLUSTER_ACTION.
    let batched = alice
        .call(
            &AddPartitionsToTxnRequest::default().with_transactions(vec![
                AddPartitionsToTxnTransaction::default()
                    .with_transactional_id(tid("tx"))
                    .with_producer_id(ProducerId(pid))
                    .with_producer_epoch(epoch)
                    .with_verify_only(true)
                    .with_topics(vec![AddPartitionsToTxnTopic::default()
                        .with_name(TopicName(text("orders")))
                        .with_partitions(vec![0])]),
            ]),
            4,
        )
        .await;
    assert_eq!(
        batched.error_code,
        ResponseError::ClusterAuthorizationFailed.code()
    );
    let offsets = alice
        .call(
            &AddOffsetsToTxnRequest::default()
                .with_transactional_id(tid("tx"))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_group_id(GroupId(text("g"))),
            3,
        )
        .await;
    assert_eq!(
        offsets.error_code,
        ResponseError::GroupAuthorizationFailed.code()
    );
    let written = alice.call(&markers(pid, epoch, "orders"), 1).await;
    assert_eq!(
        written.markers[0].topics[0].partitions[0].error_code,
        ResponseError::ClusterAuthorizationFailed.code()
    );
    // The super user may write markers (KIP-664's abort of a hanging transaction).
    let written = admin.call(&markers(pid, epoch, "orders"), 1).await;
    assert_eq!(written.markers[0].topics[0].partitions[0].error_code, 0);

    // WRITE implies DESCRIBE: alice sees "tx", not the admin's "hidden".
    assert_eq!(init(&mut admin, "hidden").await.0, 0);
    let described = alice
        .call(
            &DescribeTransactionsRequest::default()
                .with_transactional_ids(vec![tid("tx"), tid("hidden")]),
            0,
        )
        .await;
    let codes: Vec<i16> = described
        .transaction_states
        .iter()
        .map(|s| s.error_code)
        .collect();
    assert_eq!(codes, vec![0, denied_id]);
    let listed = alice.call(&ListTransactionsRequest::default(), 0).await;
    let ids: Vec<&str> = listed
        .transaction_states
        .iter()
        .map(|s| s.transactional_id.0.as_str())
        .collect();
    assert_eq!(ids, vec!["tx"]);
    let listed = admin.call(&ListTransactionsRequest::default(), 0).await;
    assert_eq!(listed.transaction_states.len(), 2);
    broker.shutdown().await.unwrap();
}
