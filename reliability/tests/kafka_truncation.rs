//! Log truncation under a consumer (KIP-320) against Apache Kafka 4.x: an
//! unclean leader election on three KRaft nodes.
//!
//! ```text
//!  topic: 1 partition, replicas {A, B}, min.insync.replicas 1,
//!         unclean.leader.election.enable (C is the third voter)
//!  0..100 written to A and B ── both consumers read to 100
//!  SIGKILL B; 100..150 written to A alone ── both consumers read to 150
//!  SIGKILL A (no quorum with C alone); restart B (quorum again): A is
//!  fenced, B becomes leader uncleanly, its log ends at 100
//!  100..120 written anew to B
//! ```
//!
//! A consumer with `auto.offset.reset=earliest` notices the new leader
//! epoch, asks B where epoch 0 ends (100, before its position 150) and goes
//! on from 100 with the new records: nothing before 100 read again, none of
//! B's records skipped. One with `auto.offset.reset=none` gets
//! `ConsumerError::LogTruncation` at 150 with the divergent offset 100.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use durian_admin::NewTopic;
use durian_consumer::{Consumer, ConsumerError, ConsumerRecord, OffsetReset, TopicPartition};
use durian_core::{Client, ClientConfig};
use durian_producer::{Producer, ProducerRecord};
use durian_reliability::readback::create_topic_with;
use durian_testkit::KafkaCluster;
use tokio::time::Instant;

const TOPIC: &str = "truncated";

/// Sends `values` to partition 0 with a new idempotent acks=all producer
/// and checks they land at `first..`.
async fn write(bootstrap: &str, first: i64, values: impl Iterator<Item = String>) {
    let producer = Producer::builder()
        .bootstrap_servers(bootstrap.split(','))
        .build()
        .unwrap();
    let mut deliveries = Vec::new();
    for value in values {
        let record =
            ProducerRecord::<Bytes, Bytes>::new(TOPIC, Bytes::from(value)).with_partition(0);
        deliveries.push(producer.send(record).await.unwrap());
    }
    for (n, delivery) in deliveries.into_iter().enumerate() {
        assert_eq!(delivery.await.unwrap().offset, first + n as i64);
    }
    producer.close(Duration::from_secs(10)).await.unwrap();
}

fn consumer(bootstrap: &str, reset: OffsetReset) -> Consumer {
    let client = ClientConfig::builder()
        .bootstrap_servers(bootstrap.split(','))
        .request_timeout(Duration::from_secs(5))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(250))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(250))
        .connection_setup_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let mut consumer = Consumer::builder()
        .client_config(client)
        .auto_offset_reset(reset)
        .build()
        .unwrap();
    consumer.assign([TopicPartition::new(TOPIC, 0)]).unwrap();
    consumer
}

/// Polls until the consumer has read up to `end` (exclusive) or reported
/// an error, within two minutes.
async fn read_to(consumer: &mut Consumer, end: i64) -> (Vec<ConsumerRecord>, Vec<ConsumerError>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut records: Vec<ConsumerRecord> = Vec::new();
    loop {
        if records.last().is_some_and(|r| r.offset + 1 >= end) {
            return (records, Vec::new());
        }
        assert!(
            Instant::now() < deadline,
            "read {:?} of {end}",
            records.last().map(|r| r.offset)
        );
        let Ok(batch) = consumer.poll(Duration::from_millis(200)).await else {
            continue;
        };
        if !batch.errors.is_empty() {
            return (records, batch.errors.into_iter().map(|(_, e)| e).collect());
        }
        records.extend(batch);
    }
}

fn value(record: &ConsumerRecord) -> String {
    String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned()
}

/// Logs to the test output when RUST_LOG is set (e.g.
/// `RUST_LOG=durian_consumer::fetcher=info` shows the truncation found).
fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unclean_election_truncation_is_detected_and_handled_per_reset_policy() {
    init_tracing();
    let Some(mut kafka) = KafkaCluster::start(3, &[]).await else {
        return;
    };
    let bootstrap = kafka.bootstrap();
    create_topic_with(
        &bootstrap,
        NewTopic::new(TOPIC, 1)
            .replication_factor(2)
            .config("min.insync.replicas", "1")
            .config("unclean.leader.election.enable", "true"),
    )
    .await
    .unwrap();
    let client = Client::connect(
        ClientConfig::builder()
            .bootstrap_servers(bootstrap.split(','))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    client.add_topics([TOPIC]);
    // Both replicas in sync before the first write.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (a, b) = loop {
        let _ = client.refresh_metadata("truncation test").await;
        if let Some(p) = client.metadata().partition(TOPIC, 0) {
            if let (Some(leader), 2) = (p.leader, p.isr.len()) {
                let follower = *p.replicas.iter().find(|r| **r != leader).unwrap();
                break (leader, follower);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no leader with both replicas in sync"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("replicas: leader {a}, follower {b}");

    write(&bootstrap, 0, (0..100).map(|i| format!("old-{i}"))).await;
    let mut resetting = consumer(&bootstrap, OffsetReset::Earliest);
    let mut strict = consumer(&bootstrap, OffsetReset::None);
    strict.seek(&TopicPartition::new(TOPIC, 0), 0).unwrap();
    for c in [&mut resetting, &mut strict] {
        let (records, errors) = read_to(c, 100).await;
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(records.len(), 100);
    }

    kafka.kill(b);
    // A alone in the ISR once the controller has fenced B.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let _ = client.refresh_metadata("truncation test").await;
        if client
            .metadata()
            .partition(TOPIC, 0)
            .is_some_and(|p| p.isr == [a])
        {
            break;
        }
        assert!(Instant::now() < deadline, "B never left the ISR");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    write(&bootstrap, 100, (100..150).map(|i| format!("lost-{i}"))).await;
    for c in [&mut resetting, &mut strict] {
        let (records, errors) = read_to(c, 150).await;
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(records.last().map(|r| r.offset), Some(149));
    }

    kafka.kill(a);
    kafka.restart(b).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while kafka.leader(TOPIC, 0).await != Some(b) {
        assert!(Instant::now() < deadline, "B was never elected (uncleanly)");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("node {b} leads {TOPIC}-0 after an unclean election");
    write(&bootstrap, 100, (100..120).map(|i| format!("new-{i}"))).await;

    let (records, errors) = read_to(&mut resetting, 120).await;
    assert!(errors.is_empty(), "{errors:?}");
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(
        offsets,
        (100..120).collect::<Vec<_>>(),
        "resumed at the divergence"
    );
    assert!(records.iter().all(|r| value(r).starts_with("new-")));

    let (records, errors) = read_to(&mut strict, 120).await;
    assert!(
        records.is_empty(),
        "nothing read past a truncation under none"
    );
    assert!(
        matches!(
            &errors[..],
            [ConsumerError::LogTruncation {
                offset: 150,
                divergent_offset: Some(100),
                ..
            }]
        ),
        "{errors:?}"
    );
    resetting.close().await.unwrap();
    strict.close().await.unwrap();
}
