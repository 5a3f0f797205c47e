//! ApiVersions, Metadata, topic administration, configs, producer ids and restarts over TCP.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use common::{batch, records_of, start_broker_in, TestClient};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeConfigsRequest, FetchRequest, FindCoordinatorRequest, IncrementalAlterConfigsRequest,
    InitProducerIdRequest, MetadataRequest, ProduceRequest, ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;

/// Kafka's INVALID_REQUEST error code.
const INVALID_REQUEST: i16 = 42;

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

fn metadata_for(topics: &[&str], auto_create: bool) -> MetadataRequest {
    MetadataRequest::default()
        .with_allow_auto_topic_creation(auto_create)
        .with_topics(Some(
            topics
                .iter()
                .map(|t| MetadataRequestTopic::default().with_name(Some(name(t))))
                .collect(),
        ))
}

fn create(topic: &str, partitions: i32, configs: &[(&str, &str)]) -> CreateTopicsRequest {
    CreateTopicsRequest::default()
        .with_timeout_ms(1000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(1)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(text(k))
                            .with_value(Some(text(v)))
                    })
                    .collect(),
            )])
}

fn describe_topic(topic: &str) -> DescribeConfigsRequest {
    DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
        .with_resource_type(2)
        .with_resource_name(text(topic))
        .with_configuration_keys(None)])
}

async fn topic_configs(client: &mut TestClient, topic: &str) -> BTreeMap<String, (String, i8)> {
    let response = client.call(&describe_topic(topic), 4).await;
    assert_eq!(response.results[0].error_code, 0);
    response.results[0]
        .configs
        .iter()
        .map(|c| {
            (
                c.name.to_string(),
                (
                    c.value.clone().unwrap_or_default().to_string(),
                    c.config_source,
                ),
            )
        })
        .collect()
}

/// With include_synonyms a topic config lists where its value comes from,
/// most specific first, as Kafka's ConfigCommand expects; without, none.
#[tokio::test]
async fn describe_configs_lists_synonyms_when_asked() {
    let broker = common::start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    client
        .call(&create("syn", 1, &[("retention.ms", "5000000")]), 7)
        .await;
    let synonyms = |response: &kafka_protocol::messages::DescribeConfigsResponse, name: &str| {
        response.results[0]
            .configs
            .iter()
            .find(|c| c.name.as_str() == name)
            .map(|c| {
                c.synonyms
                    .iter()
                    .map(|s| {
                        (
                            s.name.to_string(),
                            s.value.as_deref().unwrap_or_default().to_string(),
                            s.source,
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap()
    };
    let asked = client
        .call(&describe_topic("syn").with_include_synonyms(true), 4)
        .await;
    let retention = synonyms(&asked, "retention.ms");
    assert_eq!(retention.len(), 2, "{retention:?}");
    assert_eq!(
        retention[0],
        ("retention.ms".to_string(), "5000000".to_string(), 1)
    );
    assert_eq!(retention[1].0, "log.retention.ms");
    assert_eq!(retention[1].1, "604800000");
    // A config at its default lists only the broker setting.
    let segment = synonyms(&asked, "segment.bytes");
    assert_eq!(segment.len(), 1, "{segment:?}");
    assert_eq!(segment[0].0, "log.segment.bytes");
    let plain = client.call(&describe_topic("syn"), 4).await;
    assert!(synonyms(&plain, "retention.ms").is_empty());
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn api_versions_lists_the_registry_and_downgrades_new_clients() {
    let broker = common::start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    for version in 0..=4 {
        let response = client.call(&ApiVersionsRequest::default(), version).await;
        assert_eq!(response.error_code, 0);
        let keys: Vec<i16> = response.api_keys.iter().map(|k| k.api_key).collect();
        for needed in [
            ApiKey::Produce,
            ApiKey::Fetch,
            ApiKey::Metadata,
            ApiKey::JoinGroup,
            ApiKey::InitProducerId,
        ] {
            assert!(
                keys.contains(&(needed as i16)),
                "v{version} lacks {needed:?}"
            );
        }
    }
    // Produce is advertised from v0 so librdkafka < 2.10 enables gzip/snappy.
    let listed = client.call(&ApiVersionsRequest::default(), 3).await;
    let produce = listed
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::Produce as i16)
        .unwrap();
    assert_eq!((produce.min_version, produce.max_version), (0, 12));
    // A version from the future: UNSUPPORTED_VERSION with our list, in v0 format.
    let mut future = bytes::BytesMut::new();
    bytes::BufMut::put_i16(&mut future, 18);
    bytes::BufMut::put_i16(&mut future, 99);
    bytes::BufMut::put_i32(&mut future, 77);
    bytes::BufMut::put_slice(&mut future, &[0, 0]);
    client.send_raw_frame(&future).await;
    let mut frame = client
        .read_frame()
        .await
        .expect("an answer, not a closed connection");
    assert_eq!(bytes::Buf::get_i32(&mut frame), 77);
    let response = <kafka_protocol::messages::ApiVersionsResponse as kafka_protocol::protocol::Decodable>::decode(
        &mut frame, 0,
    )
    .unwrap();
    assert_eq!(response.error_code, 35);
    assert!(!response.api_keys.is_empty());
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn metadata_auto_creates_topics_unless_told_not_to() {
    let broker = common::start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let response = client.call(&metadata_for(&["auto"], true), 12).await;
    let topic = &response.topics[0];
    assert_eq!(topic.error_code, 0);
    assert_eq!(topic.partitions.len(), 1);
    assert!(!topic.topic_id.is_nil());
    assert_eq!(
        response.brokers[0].port,
        i32::from(broker.local_addr().port())
    );
    assert_eq!(response.controller_id.0, 0);
    assert!(response.cluster_id.is_some());

    let refused = client
        .call(&metadata_for(&["not-created"], false), 12)
        .await;
    assert_eq!(refused.topics[0].error_code, 3);
    let invalid = client.call(&metadata_for(&["bad/name"], true), 9).await;
    assert_eq!(invalid.topics[0].error_code, 17);

    // v0 with an empty list and v1+ with null both mean "all topics".
    let all_v0 = client
        .call(&MetadataRequest::default().with_topics(Some(vec![])), 0)
        .await;
    assert_eq!(all_v0.topics.len(), 1);
    let all = client
        .call(&MetadataRequest::default().with_topics(None), 12)
        .await;
    assert_eq!(all.topics.len(), 1);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn create_partitions_delete_and_validate_topics() {
    let broker = common::start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let created = client
        .call(&create("t", 2, &[("retention.ms", "60000")]), 7)
        .await;
    assert_eq!(created.topics[0].error_code, 0);
    assert_eq!(created.topics[0].num_partitions, 2);
    let again = client.call(&create("t", 2, &[]), 7).await;
    assert_eq!(again.topics[0].error_code, 36, "TOPIC_ALREADY_EXISTS");
    assert_eq!(
        client.call(&create("bad name", 1, &[]), 4).await.topics[0].error_code,
        17
    );
    // Compaction is implemented; an unknown policy is still INVALID_CONFIG.
    assert_eq!(
        client
            .call(&create("c", 1, &[("cleanup.policy", "shred")]), 4)
            .await
            .topics[0]
            .error_code,
        40
    );
    assert_eq!(
        client
            .call(&create("c", 1, &[("cleanup.policy", "compact,delete")]), 4)
            .await
            .topics[0]
            .error_code,
        0
    );
    let rf3 = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(name("r"))
        .with_num_partitions(1)
        .with_replication_factor(3)]);
    assert_eq!(client.call(&rf3, 5).await.topics[0].error_code, 38);
    let dry = client
        .call(&create("dry", 1, &[]).with_validate_only(true), 7)
        .await;
    assert_eq!(dry.topics[0].error_code, 0);
    let meta = client.call(&metadata_for(&["dry"], false), 12).await;
    assert_eq!(
        meta.topics[0].error_code, 3,
        "validate_only must not create"
    );

    let grow = CreatePartitionsRequest::default()
        .with_timeout_ms(1000)
        .with_topics(vec![CreatePartitionsTopic::default()
            .with_name(name("t"))
            .with_count(4)]);
    assert_eq!(client.call(&grow, 3).await.results[0].error_code, 0);
    let meta = client.call(&metadata_for(&["t"], false), 12).await;
    assert_eq!(meta.topics[0].partitions.len(), 4);
    let topic_id = meta.topics[0].topic_id;

    let by_id = DeleteTopicsRequest::default()
        .with_timeout_ms(1000)
        .with_topics(vec![DeleteTopicState::default().with_topic_id(topic_id)]);
    let deleted = client.call(&by_id, 6).await;
    assert_eq!(deleted.responses[0].error_code, 0);
    let by_name = DeleteTopicsRequest::default().with_topic_names(vec![name("t")]);
    assert_eq!(client.call(&by_name, 4).await.responses[0].error_code, 3);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn configs_are_described_and_altered() {
    let broker = common::start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    client
        .call(&create("cfg", 1, &[("retention.ms", "60000")]), 7)
        .await;
    let configs = topic_configs(&mut client, "cfg").await;
    assert_eq!(configs["retention.ms"], ("60000".to_string(), 1));
    assert_eq!(
        configs["cleanup.policy"].1, 5,
        "defaults are marked as such"
    );

    let alter = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(text("cfg"))
            .with_configs(vec![
                AlterableConfig::default()
                    .with_name(text("retention.ms"))
                    .with_config_operation(1),
                AlterableConfig::default()
                    .with_name(text("max.message.bytes"))
                    .with_config_operation(0)
                    .with_value(Some(text("2000000"))),
            ]),
    ]);
    assert_eq!(client.call(&alter, 1).await.responses[0].error_code, 0);
    let configs = topic_configs(&mut client, "cfg").await;
    assert_eq!(configs["retention.ms"].1, 5);
    assert_eq!(configs["max.message.bytes"], ("2000000".to_string(), 1));

    let broker_resource =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(4)
            .with_resource_name(text("0"))
            .with_configuration_keys(Some(vec![text("num.partitions")]))]);
    let described = client.call(&broker_resource, 1).await;
    assert_eq!(described.results[0].configs.len(), 1);
    assert_eq!(described.results[0].configs[0].value.as_deref(), Some("1"));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn coordinator_and_producer_ids() {
    let broker = common::start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let single = client
        .call(&FindCoordinatorRequest::default().with_key(text("g")), 3)
        .await;
    assert_eq!(
        (single.error_code, single.port),
        (0, i32::from(broker.local_addr().port()))
    );
    let batched = client
        .call(
            &FindCoordinatorRequest::default().with_coordinator_keys(vec![text("a"), text("b")]),
            4,
        )
        .await;
    assert_eq!(batched.coordinators.len(), 2);
    assert!(batched
        .coordinators
        .iter()
        .all(|c| c.error_code == 0 && c.node_id.0 == 0));

    // A transactional id is coordinated like a group: this node, at the
    // single-key and batched versions alike.
    let single = client
        .call(
            &FindCoordinatorRequest::default()
                .with_key_type(1)
                .with_key(text("tx")),
            3,
        )
        .await;
    assert_eq!((single.error_code, single.node_id.0), (0, 0));
    let batched = client
        .call(
            &FindCoordinatorRequest::default()
                .with_key_type(1)
                .with_coordinator_keys(vec![text("tx")]),
            4,
        )
        .await;
    assert_eq!(batched.coordinators[0].error_code, 0);
    assert_eq!(batched.coordinators[0].node_id.0, 0);

    let idempotent = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(60000);
    let first = client.call(&idempotent, 4).await;
    let second = client.call(&idempotent, 4).await;
    assert_eq!((first.error_code, second.error_code), (0, 0));
    assert_ne!(first.producer_id, second.producer_id);
    let bumped = client
        .call(
            &idempotent
                .clone()
                .with_producer_id(first.producer_id)
                .with_producer_epoch(first.producer_epoch),
            4,
        )
        .await;
    assert_eq!(
        (bumped.producer_id, bumped.producer_epoch),
        (first.producer_id, first.producer_epoch + 1)
    );
    let empty_tid = client
        .call(
            &InitProducerIdRequest::default().with_transactional_id(Some(Default::default())),
            4,
        )
        .await;
    assert_eq!(
        empty_tid.error_code, INVALID_REQUEST,
        "INVALID_REQUEST for an empty transactional id"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn restart_on_the_same_data_dir_keeps_topics_and_data() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker_in(dir.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    client
        .call(&create("keep", 2, &[("retention.ms", "3600000")]), 7)
        .await;
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name("keep"))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(1)
                .with_records(Some(batch(&["survives"])))])]);
    assert_eq!(
        client.call(&produce, 9).await.responses[0].partition_responses[0].error_code,
        0
    );
    let before = client
        .call(&metadata_for(&["keep"], false), 12)
        .await
        .topics[0]
        .topic_id;
    let cluster = broker.node().cluster_id.clone();
    broker.shutdown().await.unwrap();

    let broker = start_broker_in(dir.path()).await;
    assert_eq!(broker.node().cluster_id, cluster);
    let mut client = TestClient::connect(broker.local_addr()).await;
    let meta = client.call(&metadata_for(&["keep"], false), 12).await;
    assert_eq!(
        (meta.topics[0].error_code, meta.topics[0].topic_id),
        (0, before)
    );
    assert_eq!(meta.topics[0].partitions.len(), 2);
    let fetch = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_session_epoch(-1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name("keep"))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(1)
                .with_partition_max_bytes(1 << 20)])]);
    let fetched = client.call(&fetch, 12).await;
    let records = records_of(fetched.responses[0].partitions[0].records.as_ref().unwrap());
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value.as_deref(), Some(&b"survives"[..]));
    assert_eq!(
        topic_configs(&mut client, "keep").await["retention.ms"].0,
        "3600000"
    );
    broker.shutdown().await.unwrap();
}

/// Logs may hold producer ids the data directory never handed out (e.g.
/// copied from an Apache Kafka broker): after a restart, new ids lie above
/// them, so a new idempotent producer never inherits a stranger's
/// sequences (its first batch would be refused as out of order).
#[tokio::test]
async fn producer_ids_found_in_the_logs_are_not_handed_out_again() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = 7_000;
    let broker = start_broker_in(dir.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    client.call(&create("imported", 1, &[]), 7).await;
    let mut writer = durian_core::record::BatchWriter::builder()
        .producer(foreign, 0, 0)
        .build();
    writer
        .try_append(
            0,
            None,
            Some(b"from elsewhere"),
            durian_core::record::NO_HEADERS,
        )
        .unwrap();
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name("imported"))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(writer.finish().unwrap()))])]);
    assert_eq!(
        client.call(&produce, 9).await.responses[0].partition_responses[0].error_code,
        0
    );
    broker.shutdown().await.unwrap();

    let broker = start_broker_in(dir.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let granted = client
        .call(
            &InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
            4,
        )
        .await;
    assert_eq!(granted.error_code, 0);
    assert!(
        granted.producer_id.0 > foreign,
        "handed out {:?}, at or below {foreign} found in the log",
        granted.producer_id
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn logs_without_a_catalog_entry_are_not_resurrected() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker_in(dir.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    client.call(&create("ghost", 1, &[]), 7).await;
    let produce = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name("ghost"))
            .with_partition_data(vec![
                PartitionProduceData::default().with_records(Some(batch(&["old"])))
            ])]);
    assert_eq!(
        client.call(&produce, 9).await.responses[0].partition_responses[0].error_code,
        0
    );
    broker.shutdown().await.unwrap();
    // As if a crash hit between removing the catalog entry and the logs.
    std::fs::remove_file(dir.path().join("meta/topics/ghost.topic")).unwrap();

    let broker = start_broker_in(dir.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let meta = client.call(&metadata_for(&["ghost"], true), 12).await;
    assert_eq!(meta.topics[0].error_code, 0, "auto-created afresh");
    let fetch = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_session_epoch(-1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name("ghost"))
            .with_partitions(vec![
                FetchPartition::default().with_partition_max_bytes(1 << 20)
            ])]);
    let fetched = client.call(&fetch, 12).await;
    let partition = &fetched.responses[0].partitions[0];
    assert_eq!(
        (partition.error_code, partition.high_watermark),
        (0, 0),
        "the old record is gone"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn topic_settings_still_apply_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let big = "x".repeat(4000);
    let produce = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name("small"))
            .with_partition_data(vec![
                PartitionProduceData::default().with_records(Some(batch(&[&big])))
            ])]);
    let broker = start_broker_in(dir.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    client
        .call(&create("small", 1, &[("max.message.bytes", "1000")]), 7)
        .await;
    let code = client.call(&produce, 9).await.responses[0].partition_responses[0].error_code;
    assert_eq!(code, 10, "MESSAGE_TOO_LARGE before the restart");
    broker.shutdown().await.unwrap();

    let broker = start_broker_in(dir.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let code = client.call(&produce, 9).await.responses[0].partition_responses[0].error_code;
    assert_eq!(code, 10, "MESSAGE_TOO_LARGE after the restart too");
    broker.shutdown().await.unwrap();
}
