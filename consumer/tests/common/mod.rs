//! Shared helpers of the consumer's integration tests: a broker, topics,
//! and records produced with raw Produce requests (no producer crate).

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use durian_broker::{Broker, BrokerHandle};
use durian_consumer::{ConsumerBuilder, ConsumerRecord, TopicPartition};
use durian_core::record::{BatchWriter, NO_HEADERS};
use durian_core::{Client, ClientConfig, KafkaError, Target};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{CreateTopicsRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

/// Starts durian's broker in a temporary directory on a free port.
pub async fn start_broker() -> BrokerHandle {
    Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .auto_create_topics(false)
        .start()
        .await
        .expect("broker starts")
}

/// A plain client for setup work.
pub async fn admin(bootstrap: &str) -> Client {
    let config = ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    Client::connect(config).await.unwrap()
}

/// Creates `topic` with `partitions` partitions and waits for its leaders.
pub async fn create_topic(client: &Client, topic: &str, partitions: i32) {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_num_partitions(partitions)
            .with_replication_factor(1)]);
    let response = client.send(Target::Controller, request).await.unwrap();
    KafkaError::check(response.topics[0].error_code, None).unwrap();
    client.add_topics([topic]);
    for _ in 0..200 {
        let metadata = client
            .refresh_metadata("test: waiting for leaders")
            .await
            .unwrap();
        let ready = metadata.topic(topic).is_some_and(|t| {
            t.partitions.len() == partitions as usize
                && t.partitions.values().all(|p| p.leader.is_some())
        });
        if ready {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("topic {topic} has no leaders");
}

/// The value of record `index` of `partition` (what `produce` writes).
pub fn value_of(partition: i32, index: usize) -> String {
    format!("p{partition}-{index}")
}

/// One batch of records `indexes` of `partition`, each keyed by its index,
/// its value from [`value_of`], timestamped 1_700_000_000_000 + index.
pub fn keyed_batch(partition: i32, indexes: std::ops::Range<usize>) -> Bytes {
    let mut writer = BatchWriter::builder().build();
    for index in indexes {
        writer
            .try_append(
                1_700_000_000_000 + index as i64,
                Some(index.to_string().as_bytes()),
                Some(value_of(partition, index).as_bytes()),
                NO_HEADERS,
            )
            .unwrap();
    }
    writer.finish().unwrap()
}

/// A Produce request (acks=all) carrying `records` to `topic`-`partition`.
pub fn produce_request(topic: &str, partition: i32, records: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])])
}

/// Appends `count` records to `partition`, `per_batch` per batch, values
/// from [`value_of`] numbered from `first`.
pub async fn produce(
    client: &Client,
    topic: &str,
    partition: i32,
    first: usize,
    count: usize,
    per_batch: usize,
) {
    let leader = client
        .partition_leader(topic, partition)
        .expect("leader known")
        .node_id;
    let mut next = first;
    while next < first + count {
        let mut batches = Vec::new();
        // Several batches per request keeps the request count low.
        for _ in 0..8 {
            if next >= first + count {
                break;
            }
            let end = (next + per_batch).min(first + count);
            batches.push(keyed_batch(partition, next..end));
            next = end;
        }
        let records: Bytes = batches.concat().into();
        let request = produce_request(topic, partition, records);
        let response = client.send(Target::Broker(leader), request).await.unwrap();
        let code = response.responses[0].partition_responses[0].error_code;
        KafkaError::check(code, None).unwrap();
    }
}

/// Produce v12, the last version that names topics: Kafka 4.x also serves
/// v13, which addresses them by topic id only, so the name-only request
/// [`produce_request`] builds must not be sent at the negotiated version
/// there.
pub const PRODUCE_BY_NAME: i16 = 12;

/// Like [`produce`], on any broker (Apache Kafka included): one batch a
/// request, sent at [`PRODUCE_BY_NAME`], retrying retriable errors for
/// up to 20 s.
pub async fn produce_by_name(
    client: &Client,
    topic: &str,
    partition: i32,
    first: usize,
    count: usize,
    per_batch: usize,
) {
    let mut next = first;
    while next < first + count {
        let end = (next + per_batch).min(first + count);
        let request = produce_request(topic, partition, keyed_batch(partition, next..end));
        next = end;
        // A new partition may be in the metadata a moment before its
        // leader serves it (NOT_LEADER_OR_FOLLOWER): retriable, as for any
        // client.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let leader = client
                .partition_leader(topic, partition)
                .expect("leader known")
                .node_id;
            let response = client
                .send_with_version(Target::Broker(leader), request.clone(), PRODUCE_BY_NAME)
                .await
                .unwrap();
            let code = response.responses[0].partition_responses[0].error_code;
            match KafkaError::check(code, None) {
                Ok(()) => break,
                Err(error) if error.is_retriable() && tokio::time::Instant::now() < deadline => {
                    client
                        .refresh_metadata("test: produce retry")
                        .await
                        .unwrap();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("produce to {topic}-{partition}: {error}"),
            }
        }
    }
}

/// [`produce_by_name`] of records `first..first + count` to every partition.
pub async fn produce_round(
    client: &Client,
    topic: &str,
    partitions: i32,
    first: usize,
    count: usize,
) {
    for partition in 0..partitions {
        produce_by_name(client, topic, partition, first, count, 50).await;
    }
}

/// Produces `per_partition` records to every partition.
pub async fn produce_all(client: &Client, topic: &str, partitions: i32, per_partition: usize) {
    for partition in 0..partitions {
        produce(client, topic, partition, 0, per_partition, 500).await;
    }
}

/// A consumer builder with test-friendly timings.
pub fn consumer(bootstrap: &str, group: Option<&str>) -> ConsumerBuilder {
    let client = ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    let mut builder = durian_consumer::Consumer::builder()
        .client_config(client)
        .auto_offset_reset(durian_consumer::OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_millis(500));
    if let Some(group) = group {
        builder = builder.group_id(group);
    }
    builder
}

/// Checks that `record` carries what `produce` wrote at its offset (when
/// produced from index 0 in one go).
pub fn check_record(record: &ConsumerRecord) {
    let expected = value_of(record.partition, record.offset as usize);
    assert_eq!(
        record.value.as_deref(),
        Some(expected.as_bytes()),
        "record {}@{}",
        record.partition,
        record.offset
    );
}

/// Polls `consumer` (assigned partitions 0, 1, ... of one topic) until it
/// has read up to `ends` (one end offset a partition) within 60 s, checking
/// that every record comes in offset order with its value (`check_record`),
/// and passing each to `also` for the caller's own checks.
pub async fn read_in_order_to(
    consumer: &mut durian_consumer::Consumer,
    ends: &[i64],
    mut also: impl FnMut(&ConsumerRecord),
) {
    let mut next = vec![0i64; ends.len()];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while next != ends {
        assert!(
            tokio::time::Instant::now() < deadline,
            "stalled at {next:?}"
        );
        let batch = consumer.poll(Duration::from_secs(2)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        for record in batch {
            check_record(&record);
            also(&record);
            let slot = &mut next[record.partition as usize];
            assert_eq!(record.offset, *slot);
            *slot += 1;
        }
    }
}

/// Deliveries per partition and offset.
pub type Seen = BTreeMap<TopicPartition, BTreeMap<i64, usize>>;

/// Logs to the test output when RUST_LOG is set.
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

pub mod members;
pub mod peers;
pub mod scenarios;
pub mod tansu;
