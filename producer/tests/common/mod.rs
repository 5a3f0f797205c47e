//! Helpers of the producer's integration tests: an embedded durian broker,
//! topic creation, and reading a partition back with raw Fetch requests.

#![allow(dead_code)]

pub mod scripted_broker;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use durian_broker::{Broker, BrokerHandle};
use durian_core::backoff::Backoff;
use durian_core::record::{decode_records, BytesBatchScanner, Record};
use durian_core::retry::{retry, AttemptError};
use durian_core::{Client, ClientConfig, Error, KafkaCode, KafkaError, Target};
use durian_producer::{Acks, Compression, Producer, ProducerRecord};
use futures::future::join_all;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{CreateTopicsRequest, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

/// Every codec the producer offers.
pub const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// An idempotent producer (the default settings) with short backoffs.
pub fn producer_for(bootstrap: &str, codec: Compression) -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .compression(codec)
        .configure(|c| {
            c.client.request_timeout = Duration::from_secs(10);
            c.client.retry_backoff = Duration::from_millis(20);
            c.client.retry_backoff_max = Duration::from_millis(200);
        })
        .build()
        .unwrap()
}

/// Creates `topic`, sends `per_partition` records to each of `partitions`
/// partitions (explicit partitions, interleaved, with a repeated header
/// key), checks every delivery (offsets per partition contiguous from 0 in
/// send order), then reads every partition back: same offsets, values in
/// send order, headers kept.
pub async fn produce_and_verify(
    bootstrap: &str,
    codec: Compression,
    topic: &str,
    partitions: i32,
    per_partition: usize,
) {
    let admin = admin_client(bootstrap);
    create_topic(&admin, topic, partitions).await;
    let producer = producer_for(bootstrap, codec);
    let mut deliveries = Vec::with_capacity(per_partition * partitions as usize);
    for n in 0..per_partition {
        for partition in 0..partitions {
            let record = ProducerRecord::new(topic, value_of(partition, n))
                .with_partition(partition)
                .with_header("n", n.to_string())
                .with_header("n", "again");
            deliveries.push((partition, producer.send(record).await.unwrap()));
        }
    }
    let mut next_offset = vec![0i64; partitions as usize];
    let (order, futures): (Vec<i32>, Vec<_>) = deliveries.into_iter().unzip();
    for (partition, result) in order.into_iter().zip(join_all(futures).await) {
        let written = result.unwrap_or_else(|e| panic!("{topic} ({codec}): {e}"));
        assert_eq!(written.partition, partition);
        assert_eq!(
            written.offset, next_offset[partition as usize],
            "{topic} ({codec}): offsets per partition in send order"
        );
        next_offset[partition as usize] += 1;
    }
    let metrics = producer.metrics();
    assert_eq!(
        metrics.records_sent,
        per_partition as u64 * partitions as u64
    );
    assert_eq!(metrics.errors, 0);
    producer.close(Duration::from_secs(10)).await.unwrap();
    for partition in 0..partitions {
        let records = read_partition(&admin, topic, partition, per_partition).await;
        assert_eq!(records.len(), per_partition);
        for (n, record) in records.iter().enumerate() {
            assert_eq!(record.offset, n as i64, "{topic}-{partition} ({codec})");
            assert_eq!(record.value.as_ref().unwrap(), &value_of(partition, n));
            let headers: Vec<_> = record.headers.iter().map(|h| h.key.clone()).collect();
            assert_eq!(headers, ["n", "n"], "repeated header keys kept in order");
        }
    }
}

/// Without idempotence, acks=1 and one request in flight keep the order
/// too: creates `topic` with 3 partitions, sends 3,000 LZ4 records to each
/// (interleaved), and reads every partition back in send order.
pub async fn acks_one_single_in_flight_in_order(bootstrap: &str, topic: &str) {
    let admin = admin_client(bootstrap);
    create_topic(&admin, topic, 3).await;
    let producer = Producer::builder()
        .bootstrap_servers([bootstrap])
        .compression(Compression::Lz4)
        .idempotence(false)
        .configure(|c| {
            c.acks = Acks::Leader;
            c.max_in_flight = 1;
        })
        .build()
        .unwrap();
    let per_partition = 3_000;
    let mut deliveries = Vec::new();
    for n in 0..per_partition {
        for partition in 0..3 {
            let record =
                ProducerRecord::new(topic, value_of(partition, n)).with_partition(partition);
            deliveries.push(producer.send(record).await.unwrap());
        }
    }
    for result in join_all(deliveries).await {
        result.unwrap();
    }
    producer.close(Duration::from_secs(10)).await.unwrap();
    for partition in 0..3 {
        let records = read_partition(&admin, topic, partition, per_partition).await;
        for (n, record) in records.iter().enumerate() {
            assert_eq!(
                record.value.as_ref().unwrap(),
                &value_of(partition, n),
                "{topic}-{partition} #{n}"
            );
        }
    }
}

/// Starts a broker on `address` (`127.0.0.1:0` for a free port), in `dir`
/// or a temporary directory.
pub async fn start_broker(dir: Option<&Path>, address: &str) -> BrokerHandle {
    let builder = Broker::builder().listen(address).auto_create_topics(false);
    let builder = match dir {
        Some(dir) => builder.data_dir(dir),
        None => builder.temporary(),
    };
    builder.start().await.expect("broker starts")
}

/// Starts a broker on the port a previous one had, retrying while the
/// port is still being released.
pub async fn restart_broker(dir: &Path, address: &str) -> BrokerHandle {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = Broker::builder()
            .listen(address)
            .auto_create_topics(false)
            .data_dir(dir)
            .start()
            .await;
        match attempt {
            Ok(handle) => return handle,
            Err(error) if Instant::now() < deadline => {
                eprintln!("restart failed, retrying: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("broker does not restart: {error}"),
        }
    }
}

/// A core client for test-side requests (topic creation, reads).
pub fn admin_client(bootstrap: &str) -> Client {
    let config = ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .request_timeout(Duration::from_secs(10))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    Client::new(config).unwrap()
}

/// Creates `name` with `partitions` partitions and waits for their leaders.
pub async fn create_topic(client: &Client, name: &str, partitions: i32) {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.to_owned())))
            .with_num_partitions(partitions)
            .with_replication_factor(1)]);
    let mut backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(500));
    let deadline = Instant::now() + Duration::from_secs(20);
    retry(deadline, &mut backoff, || async {
        let response = client.send(Target::Controller, request.clone()).await?;
        let topic = response
            .topics
            .first()
            .ok_or(Error::Protocol("no topic".into()))?;
        if topic.error_code != KafkaCode::TOPIC_ALREADY_EXISTS.0 {
            KafkaError::check(topic.error_code, topic.error_message.as_deref())?;
        }
        Ok(())
    })
    .await
    .unwrap();
    client.add_topics([name]);
    retry(deadline, &mut backoff, || async {
        let metadata = client.refresh_metadata("waiting for leaders").await?;
        let leaders = (0..partitions)
            .filter(|p| metadata.partition_leader(name, *p).is_some())
            .count();
        if leaders == partitions as usize {
            Ok(())
        } else {
            Err(AttemptError::from(Error::Kafka(KafkaError {
                code: KafkaCode::LEADER_NOT_AVAILABLE,
                message: None,
            })))
        }
    })
    .await
    .unwrap();
}

/// Reads `partition` from offset 0 until `expected` records are in (or
/// 30 s pass), with raw Fetch requests through the core client.
pub async fn read_partition(
    client: &Client,
    topic: &str,
    partition: i32,
    expected: usize,
) -> Vec<Record> {
    read_partition_from(client, Target::Any, topic, partition, expected).await
}

/// [`read_partition`] from one broker (the leader, in a cluster).
pub async fn read_partition_from(
    client: &Client,
    target: Target,
    topic: &str,
    partition: i32,
    expected: usize,
) -> Vec<Record> {
    let mut records = Vec::with_capacity(expected);
    let mut offset = 0i64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while records.len() < expected {
        assert!(
            Instant::now() < deadline,
            "only {} of {expected} records in {topic}-{partition}",
            records.len()
        );
        let request = FetchRequest::default()
            .with_replica_id(kafka_protocol::messages::BrokerId(-1))
            .with_max_wait_ms(100)
            .with_min_bytes(1)
            .with_max_bytes(8 << 20)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(4 << 20)])]);
        // v12 addresses topics by name (v13+ by id only).
        let response = client
            .send_with_version(target.clone(), request, 12)
            .await
            .expect("fetch");
        let data = response
            .responses
            .first()
            .and_then(|t| t.partitions.first())
            .expect("partition in fetch response");
        KafkaError::check(data.error_code, None).expect("fetch error");
        let bytes = data.records.clone().unwrap_or_default();
        let before = records.len();
        for batch in BytesBatchScanner::new(bytes) {
            let batch = batch.expect("well-formed batch");
            let batch_bytes: Bytes = batch.bytes;
            for record in decode_records(&batch_bytes).expect("decodable batch") {
                if record.offset >= offset {
                    offset = record.offset + 1;
                    records.push(record);
                }
            }
        }
        if records.len() == before {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    records
}

/// The test record value for sequence number `n` of `partition`.
pub fn value_of(partition: i32, n: usize) -> Bytes {
    Bytes::from(format!("p{partition}-{n:08}"))
}

/// The partition's high watermark, from a Fetch at offset 0.
pub async fn high_watermark(client: &Client, topic: &str, partition: i32) -> i64 {
    high_watermark_from(client, Target::Any, topic, partition).await
}

/// [`high_watermark`] from one broker (the leader, in a cluster).
pub async fn high_watermark_from(
    client: &Client,
    target: Target,
    topic: &str,
    partition: i32,
) -> i64 {
    let request = FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_wait_ms(0)
        .with_max_bytes(1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1)])]);
    let response = client
        .send_with_version(target, request, 12)
        .await
        .expect("fetch");
    response
        .responses
        .first()
        .and_then(|t| t.partitions.first())
        .expect("partition in fetch response")
        .high_watermark
}
