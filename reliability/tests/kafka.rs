//! durian's producer and consumer together against Apache Kafka 4.x, the
//! reference broker, run by durian-testkit's `KafkaCluster`:
//!
//! - one KRaft node: every codec, idempotent with acks=all, keyed and
//!   unkeyed records with repeated and null headers, tombstones and
//!   explicit timestamps, read back by durian's consumer exactly as sent;
//! - three nodes (each broker and controller), replication factor 3 and
//!   min.insync.replicas=2: the leader of a partition is SIGKILLed once in
//!   the middle of an idempotent acks=all run and restarted; nothing is
//!   lost, duplicated or reordered.
//!
//! The jars come from `DURIAN_KAFKA_LIBS`, else `<repo>/.peers/kafka/libs`
//! (fetched by scripts/install-peers.sh). Without them the tests are
//! skipped with a message, or fail when `DURIAN_REQUIRE_PEERS=1`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use durian_consumer::{Consumer, OffsetReset, TopicPartition};
use durian_producer::{Compression, Producer};
use durian_reliability::readback::{create_topic, read_all};
use durian_reliability::{check, produce, Expectations, Workload};
use durian_testkit::KafkaCluster;
use tokio::time::Instant;

use common::fault_tolerant_producer;
use common::sent::{Sent, CODECS};

/// Record `n` of a round trip: values of varying length, timestamps from
/// 1_700_000_000_000 on.
fn sent_record(n: usize) -> Sent {
    Sent::numbered(
        n,
        || Bytes::from(format!("value {n} {}", "x".repeat(n % 200))),
        1_700_000_000_000 + n as i64,
    )
}

/// Sends `count` records to `topic` (3 partitions, the default
/// partitioner) with `codec`, then reads every partition back with an
/// assigned consumer and compares each record with what was sent at the
/// offset its delivery reported.
async fn round_trip(bootstrap: &str, codec: Compression, topic: &str, count: usize) {
    // Producing starts right after creation: Kafka before 4.5 may refuse a
    // new partition's first batch (NOT_LEADER_OR_FOLLOWER) yet accept the
    // next one from a producer it has no state for (KAFKA-15591). The
    // producer keeps one batch per partition in flight until the first is
    // acknowledged, so the exact read-back below also checks that defence.
    create_topic(bootstrap, topic, 3).await.unwrap();
    let producer = Producer::builder()
        .bootstrap_servers([bootstrap])
        .compression(codec)
        .build()
        .unwrap();
    let mut deliveries = Vec::with_capacity(count);
    for n in 0..count {
        let record = sent_record(n).producer_record(topic);
        deliveries.push(producer.send(record).await.unwrap());
    }
    let mut expected: BTreeMap<(i32, i64), Sent> = BTreeMap::new();
    let mut next_offset: BTreeMap<i32, i64> = BTreeMap::new();
    // Every record is already handed over: awaiting the deliveries one by
    // one in send order costs nothing.
    for (n, delivery) in deliveries.into_iter().enumerate() {
        let written = delivery
            .await
            .unwrap_or_else(|e| panic!("{topic} ({codec}) #{n}: {e}"));
        let next = next_offset.entry(written.partition).or_insert(0);
        assert_eq!(
            written.offset, *next,
            "{topic} ({codec}): offsets per partition follow the send order"
        );
        *next += 1;
        expected.insert((written.partition, written.offset), sent_record(n));
    }
    assert_eq!(producer.metrics().errors, 0);
    producer.close(Duration::from_secs(10)).await.unwrap();

    let mut consumer = Consumer::builder()
        .bootstrap_servers([bootstrap])
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    let partitions: Vec<TopicPartition> = (0..3).map(|p| TopicPartition::new(topic, p)).collect();
    consumer.assign(partitions.clone()).unwrap();
    let ends = consumer.end_offsets(&partitions).await.unwrap();
    for (tp, end) in &ends {
        assert_eq!(
            Some(end),
            next_offset.get(&tp.partition).or(Some(&0)),
            "{topic} ({codec}): end offset of {tp}"
        );
    }
    let mut read: BTreeMap<(i32, i64), Sent> = BTreeMap::new();
    let mut positions: BTreeMap<i32, i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while read.len() < count {
        assert!(
            Instant::now() < deadline,
            "{topic} ({codec}): read {} of {count}",
            read.len()
        );
        let batch = consumer.poll(Duration::from_millis(500)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        for record in batch {
            let position = positions.entry(record.partition).or_insert(0);
            assert_eq!(
                record.offset, *position,
                "{topic} ({codec}): offsets come back in order, without gaps"
            );
            *position += 1;
            let got = Sent::received(&record);
            assert!(
                read.insert((record.partition, record.offset), got)
                    .is_none(),
                "read twice"
            );
        }
    }
    consumer.close().await.unwrap();
    assert_eq!(read.len(), expected.len());
    for (at, sent) in &expected {
        assert_eq!(read.get(at), Some(sent), "{topic} ({codec}) record {at:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_round_trips_keys_values_and_headers_through_kafka() {
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    for codec in CODECS {
        round_trip(
            &kafka.bootstrap(),
            codec,
            &format!("round-trip-{codec}"),
            3_000,
        )
        .await;
    }
}

/// How many records the three-node run sends.
const FAILOVER_RECORDS: u64 = 30_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_leader_sigkilled_and_restarted_loses_and_duplicates_nothing() {
    let starting = std::time::Instant::now();
    let Some(kafka) = KafkaCluster::start(3, &[]).await else {
        return;
    };
    eprintln!("three Kafka nodes ready in {:?}", starting.elapsed());
    let bootstrap = kafka.bootstrap();
    let topic = "failover";
    let partitions = 3;
    // Replication factor 3 and min.insync.replicas 2 are the test
    // cluster's defaults from three nodes on.
    create_topic(&bootstrap, topic, partitions).await.unwrap();
    let producer = fault_tolerant_producer(&bootstrap);
    let mut workload = Workload::new(topic, partitions, FAILOVER_RECORDS);
    // Pauses spread the run over several seconds, so the kill, the
    // failover and the restart all land while records are being sent.
    workload.pause_every = 1_000;
    workload.pause = Duration::from_millis(600);

    let sent = Arc::new(AtomicU64::new(0));
    let killer = tokio::spawn({
        let sent = sent.clone();
        let mut kafka = kafka;
        async move {
            wait_until(&sent, FAILOVER_RECORDS / 4).await;
            let victim = kafka
                .leader(topic, 0)
                .await
                .expect("partition 0 has a leader");
            kafka.kill(victim);
            eprintln!("SIGKILLed node {victim} (leader of {topic}-0)");
            // Failover: another node takes the partition over once the
            // controller has fenced the dead one.
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                match kafka.leader(topic, 0).await {
                    Some(leader) if leader != victim => {
                        eprintln!("{topic}-0 now led by node {leader}");
                        break;
                    }
                    _ => {}
                }
                assert!(Instant::now() < deadline, "no new leader for {topic}-0");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // Back at once: it recovers its log and catches up while the
            // producer goes on.
            kafka.restart(victim).await;
            eprintln!(
                "node {victim} restarted after {} sends",
                sent.load(Ordering::Relaxed)
            );
            kafka
        }
    });
    let started = std::time::Instant::now();
    let ledger = produce(&producer, &workload, |n| sent.store(n, Ordering::Relaxed)).await;
    let produce_time = started.elapsed();
    let kafka = killer.await.unwrap();
    let metrics = producer.metrics();
    producer.close(Duration::from_secs(10)).await.unwrap();

    let read = read_all(&bootstrap, topic, partitions, Duration::from_secs(120))
        .await
        .unwrap();
    let report = check(
        workload.run_id,
        &ledger,
        &read,
        Expectations { idempotent: true },
    );
    eprintln!(
        "{FAILOVER_RECORDS} records over 3 nodes, one leader SIGKILLed and restarted: \
         produced in {produce_time:?}, {} retries, {} epoch bumps; {report}",
        metrics.retries, metrics.epoch_bumps
    );
    assert!(metrics.retries > 0, "the kill should have forced retries");
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.acked, report.sent, "{report}");
    assert_eq!(report.read, report.sent, "{report}");
    drop(kafka);
}

/// Waits until `sent` reaches `target`, failing after two minutes.
async fn wait_until(sent: &AtomicU64, target: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while sent.load(Ordering::Relaxed) < target {
        assert!(
            Instant::now() < deadline,
            "the producer stalled at {} of {target} sends",
            sent.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
