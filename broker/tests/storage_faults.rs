//! A failing disk seen over the wire: an fsync failure under
//! `flush.messages=1` takes the log directory offline, and every later
//! produce and fetch for its partitions answers KAFKA_STORAGE_ERROR.

#![allow(clippy::unwrap_used)]

mod common;

use common::{batch, start_broker, start_broker_in, TestClient};
use durian_broker::{FaultKind, FaultPoint};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    CreateTopicsRequest, FetchRequest, FetchResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

const KAFKA_STORAGE_ERROR: i16 = 56;

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

fn produce(topic: &str, records: bytes::Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])])
}

fn fetch(topic: &str, topic_id: Uuid) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_topic_id(topic_id)
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])])
}

async fn create_topic(client: &mut TestClient, topic: &str) -> Uuid {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(1)
            .with_replication_factor(-1)
            .with_configs(vec![CreatableTopicConfig::default()
                .with_name(StrBytes::from_static_str("flush.messages"))
                .with_value(Some(StrBytes::from_static_str("1")))])]);
    let response = client.call(&request, 7).await;
    assert_eq!(response.topics[0].error_code, 0);
    response.topics[0].topic_id
}

fn produce_code(response: &ProduceResponse) -> i16 {
    response.responses[0].partition_responses[0].error_code
}

#[tokio::test]
async fn fsync_failure_takes_the_log_dir_offline_with_kafka_storage_error() {
    let broker = start_broker().await;
    let faults = broker.storage_faults();
    let mut client = TestClient::connect(broker.local_addr()).await;
    let synced = create_topic(&mut client, "synced").await;
    let other = create_topic(&mut client, "other").await;
    let ok = client.call(&produce("synced", batch(&["a"])), 9).await;
    assert_eq!(produce_code(&ok), 0);

    faults.inject(FaultPoint::Fsync, FaultKind::Io, 1);
    let failed = client.call(&produce("synced", batch(&["b"])), 9).await;
    assert_eq!(produce_code(&failed), KAFKA_STORAGE_ERROR);
    assert_eq!(faults.hits(FaultPoint::Fsync), 1);

    // The fault is spent, but the directory stays offline for every partition.
    for (topic, id) in [("synced", synced), ("other", other)] {
        let response = client.call(&produce(topic, batch(&["c"])), 9).await;
        assert_eq!(produce_code(&response), KAFKA_STORAGE_ERROR, "{topic}");
        let response: FetchResponse = client.call(&fetch(topic, id), 12).await;
        assert_eq!(
            response.responses[0].partitions[0].error_code, KAFKA_STORAGE_ERROR,
            "{topic}"
        );
    }
    // The offline directory cannot be closed cleanly.
    assert!(broker.shutdown().await.is_err());
}

#[tokio::test]
async fn a_second_broker_on_the_same_data_dir_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        durian_broker::Broker::builder()
            .data_dir(dir.path())
            .listen("127.0.0.1:0")
            .start()
    };
    let first = start().await.expect("first broker");
    let err = start().await.expect_err("the directory is in use");
    let message = err.to_string();
    assert!(
        matches!(err, durian_broker::BrokerError::DataDirLocked { .. }),
        "{message}"
    );
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&format!("process {}", std::process::id())),
        "{message}"
    );
    first.shutdown().await.unwrap();
    // Once the first is gone the directory is free again.
    let again = start().await.expect("restart on the same directory");
    again.shutdown().await.unwrap();
}

fn offset_commit(topic: &str, offset: i64) -> kafka_protocol::messages::OffsetCommitRequest {
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    kafka_protocol::messages::OffsetCommitRequest::default()
        .with_group_id(kafka_protocol::messages::GroupId(
            StrBytes::from_static_str("faulty-group"),
        ))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)])])
}

#[tokio::test]
async fn a_failed_offsets_write_is_answered_not_coordinator_and_loses_nothing() {
    const NOT_COORDINATOR: i16 = 16;
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker_in(dir.path()).await;
    let faults = broker.storage_faults();
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client, "t").await;
    let code =
        |r: &kafka_protocol::messages::OffsetCommitResponse| r.topics[0].partitions[0].error_code;
    assert_eq!(code(&client.call(&offset_commit("t", 5), 8).await), 0);
    for kind in [FaultKind::NoSpace, FaultKind::Io] {
        faults.inject(FaultPoint::OffsetsCommit, kind, 1);
        let failed = client.call(&offset_commit("t", 6), 8).await;
        assert_eq!(code(&failed), NOT_COORDINATOR, "{kind:?}");
    }
    assert_eq!(faults.hits(FaultPoint::OffsetsCommit), 2);
    assert_eq!(code(&client.call(&offset_commit("t", 7), 8).await), 0);
    broker.shutdown().await.unwrap();

    // After a restart the last acknowledged commit is there.
    let broker = start_broker_in(dir.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let fetch = kafka_protocol::messages::OffsetFetchRequest::default()
        .with_group_id(kafka_protocol::messages::GroupId(
            StrBytes::from_static_str("faulty-group"),
        ))
        .with_topics(Some(vec![
            kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic::default()
                .with_name(name("t"))
                .with_partition_indexes(vec![0]),
        ]));
    let fetched = client.call(&fetch, 5).await;
    assert_eq!(fetched.topics[0].partitions[0].committed_offset, 7);
    broker.shutdown().await.unwrap();
}
