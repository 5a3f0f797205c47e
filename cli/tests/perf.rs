//! `durian perf` as a process against the embedded broker: the summary
//! reports what was asked for, and the topic holds exactly that.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{create_topic, start_broker, Run};
use durian::broker::BrokerHandle;
use durian::consumer::{Consumer, OffsetReset, TopicPartition};

const PARTITIONS: i32 = 3;

async fn broker_with_topic(topic: &str) -> BrokerHandle {
    let broker = start_broker().await;
    create_topic(&broker.bootstrap(), topic, PARTITIONS).await;
    broker
}

async fn durian(broker: &BrokerHandle, args: &[&str]) -> Run {
    common::durian(&broker.bootstrap(), args, b"").await
}

fn stdout(run: &Run) -> String {
    run.assert_ok().text()
}

/// The number after `in ` and before ` s:` in a summary line.
fn seconds_of(summary: &str) -> f64 {
    let after = summary.split(") in ").nth(1).unwrap();
    after.split(" s:").next().unwrap().parse().unwrap()
}

/// Every record of `topic`, read without a group: (partition, value length).
async fn read_all(broker: &BrokerHandle, topic: &str, expected: usize) -> Vec<(i32, usize)> {
    let mut consumer = Consumer::builder()
        .bootstrap_servers([broker.bootstrap()])
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    consumer
        .assign((0..PARTITIONS).map(|p| TopicPartition::new(topic, p)))
        .unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < expected && tokio::time::Instant::now() < deadline {
        let batch = consumer.poll(Duration::from_millis(200)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        seen.extend(
            batch
                .iter()
                .map(|r| (r.partition, r.value.as_ref().map_or(0, |v| v.len()))),
        );
    }
    // One more poll: anything beyond `expected` would show up here.
    let extra = consumer.poll(Duration::from_millis(300)).await.unwrap();
    assert!(extra.is_empty(), "more records than expected");
    consumer.close().await.unwrap();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_then_consume_reports_and_writes_exactly_n_records() {
    let broker = broker_with_topic("perf").await;
    let produced = durian(
        &broker,
        &["perf", "produce", "perf", "--num", "700", "--size", "120"],
    )
    .await;
    let summary = stdout(&produced);
    assert!(
        summary.starts_with("produced 700 records (84000 bytes) in "),
        "{summary}"
    );
    assert!(summary.contains("\nlatency send → ack: p50 "), "{summary}");
    let records = read_all(&broker, "perf", 700).await;
    assert_eq!(records.len(), 700);
    assert!(
        records.iter().all(|&(_, len)| len == 120),
        "every value is 120 bytes"
    );

    let with_group = durian(
        &broker,
        &[
            "perf",
            "consume",
            "perf",
            "--num",
            "700",
            "-g",
            "perf-readers",
        ],
    )
    .await;
    let summary = stdout(&with_group);
    assert!(
        summary.starts_with("consumed 700 records (84000 bytes) in "),
        "{summary}"
    );
    assert!(summary.contains("\nfirst record after "), "{summary}");

    // Fewer than the topic holds: exactly that many are counted.
    let without_group = durian(&broker, &["perf", "consume", "perf", "--num", "250"]).await;
    let summary = stdout(&without_group);
    assert!(
        summary.starts_with("consumed 250 records (30000 bytes) in "),
        "{summary}"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_acks_and_compression_are_applied() {
    let broker = broker_with_topic("paced").await;
    let output = durian(
        &broker,
        &[
            "perf",
            "produce",
            "paced",
            "--num",
            "60",
            "--size",
            "300",
            "--rate",
            "100",
            "--acks",
            "1",
            "--compression",
            "lz4",
        ],
    )
    .await;
    let summary = stdout(&output);
    assert!(
        summary.starts_with("produced 60 records (18000 bytes) in "),
        "{summary}"
    );
    // Record 59 is not due before 0.59 s at 100 records/s: the throttle
    // sets a floor on the time, whatever the machine's speed.
    let seconds = seconds_of(&summary);
    assert!(seconds >= 0.59, "60 records at 100/s took only {seconds} s");
    let records = read_all(&broker, "paced", 60).await;
    assert!(records.iter().all(|&(_, len)| len == 300));
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_exit_non_zero_with_the_reason() {
    let broker = broker_with_topic("small").await;
    let missing = durian(
        &broker,
        &[
            "-X",
            "max.block.ms=500",
            "perf",
            "produce",
            "no-such-topic",
            "--num",
            "5",
            "--size",
            "10",
        ],
    )
    .await;
    missing.assert_failed_with("no-such-topic");

    let produced = durian(
        &broker,
        &["perf", "produce", "small", "--num", "10", "--size", "1"],
    )
    .await;
    stdout(&produced);
    let too_many = durian(
        &broker,
        &["perf", "consume", "small", "--num", "11", "--timeout", "1s"],
    )
    .await;
    too_many.assert_failed_with("read 10 of 11 records");

    let bad_rate = durian(
        &broker,
        &[
            "perf", "produce", "small", "--num", "1", "--size", "1", "--rate", "0",
        ],
    )
    .await;
    assert!(!bad_rate.status.success());
    broker.shutdown().await.unwrap();
}
