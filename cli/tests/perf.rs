//! `durian perf` as a process against the embedded broker: the summary
//! reports what was asked for, and the topic holds exactly that. The
//! first case is the scenario of tests/cli_scenarios/mod.rs, which
//! tests/kafka_cli.rs runs against Apache Kafka as well.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_scenarios;
mod common;

use common::{create_topic, start_broker, Run};
use durian::broker::BrokerHandle;

use cli_scenarios::PERF_PARTITIONS as PARTITIONS;

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

async fn read_all(broker: &BrokerHandle, topic: &str, expected: usize) -> Vec<(i32, usize)> {
    cli_scenarios::read_all(&broker.bootstrap(), topic, expected).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_then_consume_reports_and_writes_exactly_n_records() {
    let broker = start_broker().await;
    cli_scenarios::perf_produce_then_consume(&broker.bootstrap(), "perf").await;
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
