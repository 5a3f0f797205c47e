//! Fetch sessions (KIP-227) end to end: a consumer of many partitions
//! reads the same records with sessions as without, against durian's
//! broker and against Apache Kafka 4.x (skipped without the peers, see
//! consumer/tests/kafka.rs), and its fetch requests carry fewer bytes.
//!
//! Records go to every seventh partition, so most partitions are idle:
//! the case sessions are for. After reading everything the consumer long
//! polls a few more times (all partitions idle), a second round of records
//! arrives on a few partitions and is read too.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{admin, consumer, create_topic, produce_by_name, start_broker};
use durian_consumer::{Consumer, ConsumerMetrics, TopicPartition};
use durian_core::{Client, Target};
use durian_testkit::KafkaCluster;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

/// Partitions of the topic: Kafka's default session cache holds 1000
/// slots, and a 1000-partition topic is what sessions are for.
const PARTITIONS: i32 = 1000;
/// Partitions that get records.
fn loaded(partition: i32) -> bool {
    partition % 7 == 0
}
const FIRST_ROUND: usize = 3;
/// Partitions that get a second round once the consumer is caught up:
/// one set for the run with sessions, one for the run without.
const SECOND_ROUNDS: [[i32; 3]; 2] = [[1, 500, 999], [2, 501, 998]];
/// Records of a second round.
const SECOND_ROUND: usize = 2 * 3;

/// (partition, offset, value) of every record read.
type Read = BTreeSet<(i32, i64, Vec<u8>)>;

/// Waits (up to 3 minutes) until the leader serves every partition: a
/// loaded single-node Kafka takes a while to load 1000 new partitions,
/// longer than the produce helper's retries.
async fn wait_until_served(admin: &Client, topic: &str) {
    let leader = admin.partition_leader(topic, 0).unwrap().node_id;
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_partitions(
                (0..PARTITIONS)
                    .map(|p| {
                        ListOffsetsPartition::default()
                            .with_partition_index(p)
                            .with_timestamp(-1)
                    })
                    .collect(),
            )]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let response = admin
            .send(Target::Broker(leader), request.clone())
            .await
            .unwrap();
        let waiting = response
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .filter(|p| p.error_code != 0)
            .count();
        if waiting == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{waiting} partitions of {topic} still not served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn produce_first_round(admin: &Client, topic: &str) -> usize {
    let mut count = 0;
    for partition in (0..PARTITIONS).filter(|p| loaded(*p)) {
        produce_by_name(admin, topic, partition, 0, FIRST_ROUND, FIRST_ROUND).await;
        count += FIRST_ROUND;
    }
    count
}

/// Polls until `read` holds `expected` records, failing after 120 s.
async fn read_until(consumer: &mut Consumer, read: &mut Read, expected: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while read.len() < expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "read {} of {expected} records",
            read.len()
        );
        let batch = consumer.poll(Duration::from_millis(500)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        for record in batch {
            let value = record.value.clone().unwrap_or_default().to_vec();
            assert!(
                read.insert((record.partition, record.offset, value)),
                "{}@{} read twice",
                record.partition,
                record.offset
            );
        }
    }
}

/// Reads the `present` records of `topic`, then a second round produced
/// to `second` once caught up, with sessions on or off; returns what was
/// read and the consumer's fetch figures when it was done.
async fn read_all(
    bootstrap: &str,
    admin: &Client,
    topic: &str,
    sessions: bool,
    present: usize,
    second: [i32; 3],
) -> (Read, ConsumerMetrics) {
    let mut consumer = consumer(bootstrap, None)
        .fetch_sessions(sessions)
        .build()
        .unwrap();
    consumer
        .assign((0..PARTITIONS).map(|p| TopicPartition::new(topic, p)))
        .unwrap();
    let mut read = Read::new();
    read_until(&mut consumer, &mut read, present).await;
    // Caught up: a few long polls over idle partitions.
    let caught_up = consumer.metrics().fetch_requests;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while consumer.metrics().fetch_requests < caught_up + 5 {
        assert!(tokio::time::Instant::now() < deadline, "no more fetches");
        let batch = consumer.poll(Duration::from_millis(200)).await.unwrap();
        assert!(batch.is_empty(), "nothing more was produced");
    }
    // The second round: read through the session's idle partitions.
    let before = read.len();
    for partition in second {
        let end = consumer
            .position(&TopicPartition::new(topic, partition))
            .await
            .unwrap() as usize;
        produce_by_name(admin, topic, partition, end, 2, 2).await;
    }
    read_until(&mut consumer, &mut read, before + SECOND_ROUND).await;
    let metrics = consumer.metrics();
    consumer.close().await.unwrap();
    (read, metrics)
}

async fn sessions_read_the_same_with_fewer_bytes(bootstrap: &str, label: &str) {
    let admin = admin(bootstrap).await;
    // One topic for both runs (a 1000-partition topic is slow to create
    // and to shut down on a small machine); each run reads from the start.
    let topic = "sessions";
    create_topic(&admin, topic, PARTITIONS).await;
    wait_until_served(&admin, topic).await;
    let mut present = produce_first_round(&admin, topic).await;
    let mut runs = Vec::new();
    for (sessions, second) in [(true, SECOND_ROUNDS[0]), (false, SECOND_ROUNDS[1])] {
        let (read, metrics) = read_all(bootstrap, &admin, topic, sessions, present, second).await;
        present += SECOND_ROUND;
        assert_eq!(read.len(), present, "{label}: sessions {sessions}");
        runs.push((read, metrics));
    }
    let (with, with_metrics) = &runs[0];
    let (without, without_metrics) = &runs[1];
    // The run without sessions read all the first run read, plus its own
    // second round.
    let extra: Vec<_> = without.difference(with).collect();
    assert_eq!(
        extra.len(),
        SECOND_ROUND,
        "{label}: the same records with and without sessions"
    );
    assert!(
        extra.iter().all(|(p, _, _)| SECOND_ROUNDS[1].contains(p)),
        "{label}: {extra:?}"
    );
    let per_request = |m: &ConsumerMetrics| m.fetch_request_bytes / m.fetch_requests.max(1);
    println!(
        "{label}: {PARTITIONS} partitions; with sessions {} fetches, {} request bytes ({} per fetch); \
         without {} fetches, {} request bytes ({} per fetch)",
        with_metrics.fetch_requests,
        with_metrics.fetch_request_bytes,
        per_request(with_metrics),
        without_metrics.fetch_requests,
        without_metrics.fetch_request_bytes,
        per_request(without_metrics),
    );
    assert!(
        with_metrics.fetch_request_bytes < without_metrics.fetch_request_bytes,
        "{label}: sessions sent {} bytes, sessionless {}",
        with_metrics.fetch_request_bytes,
        without_metrics.fetch_request_bytes
    );
    assert!(
        per_request(with_metrics) * 4 < per_request(without_metrics),
        "{label}: a session fetch names few partitions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durian_broker_sessions_read_the_same_with_fewer_bytes() {
    let broker = start_broker().await;
    sessions_read_the_same_with_fewer_bytes(&broker.bootstrap(), "durian broker").await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_sessions_read_the_same_with_fewer_bytes() {
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    sessions_read_the_same_with_fewer_bytes(&kafka.bootstrap(), "Apache Kafka").await;
}
