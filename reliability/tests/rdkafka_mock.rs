//! durian's producer, consumer and admin against librdkafka's mock cluster
//! (a peer: see docs/INTEROP.md), with faults applied mid-run through the
//! mock's own fault injection: partition leaders moved, a broker taken
//! down and brought back, retriable errors pushed onto Produce, Fetch and
//! ListOffsets, and a round-trip delay on a broker.
//!
//! Everything produced is read back with durian's consumer and judged by
//! the reliability checker: nothing acknowledged lost, nothing duplicated,
//! each partition (so each key) in send order.
//!
//! The mock cluster program comes from `DURIAN_MOCK_CLUSTER_BIN`, else
//! `<repo>/.peers/bin/durian-mock-cluster` (scripts/install-peers.sh);
//! without it the tests are skipped unless `DURIAN_REQUIRE_PEERS=1`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use common::{fault_tolerant_producer, producer_with};
use durian_admin::{Admin, NewTopic, OffsetSpec, TopicPartition as AdminPartition};
use durian_consumer::Consumer;
use durian_reliability::readback::read_all;
use durian_reliability::{check, produce, Expectations, ReadRecord, SendLedger, Workload};
use durian_testkit::MockCluster;
use tokio::sync::watch;
use tokio::time::{timeout, Instant};

const IDEMPOTENT: Expectations = Expectations { idempotent: true };
const BROKERS: i32 = 3;
const PARTITIONS: i32 = 6;
/// Kafka API keys and error codes the faults use.
const PRODUCE: i16 = 0;
const FETCH: i16 = 1;
const LIST_OFFSETS: i16 = 2;
const LEADER_NOT_AVAILABLE: i16 = 5;
const NOT_LEADER_OR_FOLLOWER: i16 = 6;
const NOT_ENOUGH_REPLICAS: i16 = 19;
/// How long a fault step may wait for the run to reach its point.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// The leader of `partition` in `round` of leader moves: every round moves
/// every partition to the next broker (brokers are numbered from 1).
fn leader(partition: i32, round: i32) -> i32 {
    (partition + round) % BROKERS + 1
}

/// Creates `topic` with [`PARTITIONS`] partitions on all brokers and sets
/// the round-0 leaders.
async fn topic_on(mock: &MockCluster, topic: &str) {
    mock.create_topic(topic, PARTITIONS, BROKERS).await;
    move_leaders(mock, topic, 0).await;
}

async fn move_leaders(mock: &MockCluster, topic: &str, round: i32) {
    for partition in 0..PARTITIONS {
        mock.set_leader(topic, partition, leader(partition, round))
            .await;
    }
}

/// Waits until `progress` reaches `at`, then runs `fault`; fails the test
/// if the run stalls before that point.
async fn at<F: Future<Output = ()>>(progress: &mut watch::Receiver<u64>, at: u64, fault: F) {
    timeout(STEP_TIMEOUT, progress.wait_for(|n| *n >= at))
        .await
        .unwrap_or_else(|_| panic!("the run did not reach {at} within {STEP_TIMEOUT:?}"))
        .unwrap();
    fault.await;
}

/// The fault script over a run of `total` units of progress: leaders
/// move; retriable errors are pushed onto `api`; broker 2 goes down and
/// two partitions are moved onto it while it is down, then it comes back;
/// leaders move again; broker 1 answers 150 ms late for a while.
///
/// Broker 2 leads nothing when it goes down, so no request it already
/// appended can lose its answer: the 2.0 mock deduplicates only
/// transactional producers, and an answer lost after the append would
/// come back as a duplicate that no real broker would write. The
/// partitions moved onto it then wait for it, with every request refused.
async fn fault_script(
    mock: Arc<MockCluster>,
    topic: String,
    mut progress: watch::Receiver<u64>,
    total: u64,
    api: i16,
) -> u32 {
    let mut steps = 0;
    let p = &mut progress;
    at(p, total / 10, move_leaders(&mock, &topic, 1)).await;
    steps += 1;
    let retriable = if api == PRODUCE {
        NOT_ENOUGH_REPLICAS
    } else {
        NOT_LEADER_OR_FOLLOWER
    };
    at(p, total / 5, async {
        mock.push_errors(api, 4, retriable).await;
        mock.push_errors(api, 3, LEADER_NOT_AVAILABLE).await;
    })
    .await;
    steps += 1;
    at(p, total * 3 / 10, async {
        for partition in 0..PARTITIONS {
            let away = if partition % 2 == 0 { 1 } else { 3 };
            mock.set_leader(&topic, partition, away).await;
        }
        mock.broker_down(2).await;
        mock.set_leader(&topic, 1, 2).await;
        mock.set_leader(&topic, 4, 2).await;
    })
    .await;
    // Broker 2 stays down for a while as the run goes on.
    at(p, total * 2 / 5, async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        mock.broker_up(2).await;
    })
    .await;
    steps += 1;
    at(p, total / 2, move_leaders(&mock, &topic, 2)).await;
    steps += 1;
    at(
        p,
        total * 6 / 10,
        mock.set_rtt(1, Duration::from_millis(150)),
    )
    .await;
    at(p, total * 8 / 10, mock.set_rtt(1, Duration::ZERO)).await;
    steps += 1;
    steps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_loses_duplicates_and_reorders_nothing_through_faults() {
    let Some(mock) = MockCluster::start(BROKERS as u32).await else {
        return;
    };
    let mock = Arc::new(mock);
    topic_on(&mock, "produced").await;
    // One request in flight per broker: the 2.0 mock checks sequence
    // numbers only for transactional producers, so a retried batch would
    // land behind later ones that a real broker refuses until it arrives.
    let producer = producer_with(mock.bootstrap(), |c| c.max_in_flight = 1);
    let records = 20_000;
    let mut workload = Workload::new("produced", PARTITIONS, records);
    // ~1 s of sending in small steps, so every fault lands mid-run.
    workload.pause_every = 200;
    workload.pause = Duration::from_millis(10);

    let (progress_tx, progress_rx) = watch::channel(0u64);
    let faults = tokio::spawn(fault_script(
        mock.clone(),
        "produced".into(),
        progress_rx,
        records,
        PRODUCE,
    ));
    let ledger = produce(&producer, &workload, |n| {
        progress_tx.send_replace(n);
    })
    .await;
    assert_eq!(faults.await.unwrap(), 5, "every fault step ran");
    let metrics = producer.metrics();
    producer.close(Duration::from_secs(30)).await.unwrap();
    assert!(
        metrics.retries > 0,
        "the pushed Produce errors must have caused retries: {metrics:?}"
    );

    let read = read_all(
        mock.bootstrap(),
        "produced",
        PARTITIONS,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let report = check(workload.run_id, &ledger, &read, IDEMPOTENT);
    eprintln!(
        "producer through faults: {report}; retries {}",
        metrics.retries
    );
    assert_eq!(report.acked as u64, records, "{report}");
    assert_eq!(report.duplicated, 0, "{report}");
    assert!(report.is_clean(), "{report}");
}

/// Produces `records` records of a fresh workload without faults.
async fn produced(mock: &MockCluster, topic: &str, records: u64) -> (Workload, SendLedger) {
    let producer = fault_tolerant_producer(mock.bootstrap());
    let workload = Workload::new(topic, PARTITIONS, records);
    let ledger = produce(&producer, &workload, |_| {}).await;
    producer.close(Duration::from_secs(30)).await.unwrap();
    (workload, ledger)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_consumer_reads_everything_once_in_order_through_faults() {
    let Some(mock) = MockCluster::start(BROKERS as u32).await else {
        return;
    };
    let mock = Arc::new(mock);
    topic_on(&mock, "consumed").await;
    let records = 12_000;
    let (workload, ledger) = produced(&mock, "consumed", records).await;

    let mut consumer = Consumer::from_properties([
        ("bootstrap.servers", mock.bootstrap()),
        ("group.id", "mock-group"),
        ("auto.offset.reset", "earliest"),
        ("enable.auto.commit", "false"),
        // Small fetches, so reading takes many round trips and the faults
        // land in the middle of it.
        ("max.partition.fetch.bytes", "4096"),
        ("fetch.max.bytes", "16384"),
        ("request.timeout.ms", "5000"),
        ("retry.backoff.ms", "20"),
        ("retry.backoff.max.ms", "250"),
        ("reconnect.backoff.ms", "20"),
        ("reconnect.backoff.max.ms", "250"),
    ])
    .unwrap();
    // A pattern: its topic lookup is a Metadata request for every topic,
    // which has to fit the mock's Metadata v0-v2.
    consumer.subscribe_pattern("^consumed$").unwrap();

    let (progress_tx, progress_rx) = watch::channel(0u64);
    let faults = tokio::spawn(fault_script(
        mock.clone(),
        "consumed".into(),
        progress_rx,
        records,
        FETCH,
    ));
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut read = Vec::new();
    while (read.len() as u64) < records {
        assert!(
            Instant::now() < deadline,
            "read {} of {records} records in 120 s",
            read.len()
        );
        let batch = consumer.poll(Duration::from_millis(500)).await.unwrap();
        for record in batch.iter() {
            read.push(ReadRecord {
                partition: record.partition,
                offset: record.offset,
                timestamp: record.timestamp,
                value: record.value.clone().unwrap_or_default(),
            });
        }
        if !batch.is_empty() {
            consumer.commit().await.unwrap();
        }
        progress_tx.send_replace(read.len() as u64);
    }
    assert_eq!(faults.await.unwrap(), 5, "every fault step ran");
    // Anything beyond the records produced would be a duplicate: one more
    // poll must bring nothing.
    let extra = consumer.poll(Duration::from_millis(500)).await.unwrap();
    assert!(extra.is_empty(), "{} records after the end", extra.len());
    consumer.close().await.unwrap();

    let report = check(workload.run_id, &ledger, &read, IDEMPOTENT);
    eprintln!("group consumer through faults: {report}");
    assert_eq!(report.acked as u64, records, "{report}");
    assert_eq!(report.read as u64, records, "{report}");
    assert!(report.is_clean(), "{report}");

    // The group's commits are at the end of every partition. The
    // partitions are named: the mock answers OffsetFetch for "all of the
    // group's partitions" with a null topic array, which no version allows.
    let admin = admin(&mock);
    let partitions = (0..PARTITIONS)
        .map(|p| AdminPartition::new("consumed", p))
        .collect();
    let lags = admin
        .list_group_offsets("mock-group", Some(partitions))
        .await
        .unwrap();
    assert_eq!(lags.len(), PARTITIONS as usize);
    for (tp, lag) in lags {
        let lag = lag.unwrap();
        assert_eq!(lag.lag, Some(0), "{tp}: {lag:?}");
    }
}

fn admin(mock: &MockCluster) -> Admin {
    Admin::builder()
        .bootstrap_servers(mock.bootstrap().split(','))
        .default_api_timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_follows_leader_moves_and_errors() {
    let Some(mock) = MockCluster::start(BROKERS as u32).await else {
        return;
    };
    topic_on(&mock, "admin").await;
    let records = 3_000;
    let (workload, ledger) = produced(&mock, "admin", records).await;
    let mut per_partition: BTreeMap<i32, i64> = BTreeMap::new();
    for sent in ledger.records() {
        *per_partition.entry(sent.partition).or_default() += 1;
    }
    let admin = admin(&mock);

    let cluster = admin.describe_cluster().await.unwrap();
    let mut ids: Vec<i32> = cluster.brokers.iter().map(|b| b.node_id).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3]);

    let topics = admin.list_topics().await.unwrap();
    assert!(topics.iter().any(|t| t.name == "admin"), "{topics:?}");

    for round in [0, 1] {
        if round > 0 {
            move_leaders(&mock, "admin", round).await;
            // The first lookups after the move hit the old leaders' errors.
            mock.push_errors(LIST_OFFSETS, 2, NOT_LEADER_OR_FOLLOWER)
                .await;
        }
        let description = admin
            .describe_topics(["admin"])
            .await
            .remove("admin")
            .unwrap()
            .unwrap();
        assert_eq!(description.partitions.len(), PARTITIONS as usize);
        for partition in &description.partitions {
            assert_eq!(
                partition.leader,
                Some(leader(partition.partition, round)),
                "round {round}: {partition:?}"
            );
        }
        let ends = admin
            .list_offsets(
                (0..PARTITIONS).map(|p| (AdminPartition::new("admin", p), OffsetSpec::Latest)),
            )
            .await;
        for (tp, end) in ends {
            let end = end.unwrap();
            assert_eq!(
                end.offset,
                Some(per_partition.get(&tp.partition).copied().unwrap_or(0)),
                "round {round}: {tp}"
            );
        }
    }

    // The mock has no CreateTopics and names broker 0, which does not
    // exist, as its controller: durian looks for that broker in fresh
    // metadata until the API timeout, then fails naming it.
    let impatient = Admin::builder()
        .bootstrap_servers(mock.bootstrap().split(','))
        .default_api_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let started = Instant::now();
    let created = impatient
        .create_topics([NewTopic::new("not-there", 1)])
        .await
        .remove("not-there")
        .unwrap();
    let error = created.unwrap_err().to_string();
    assert!(error.contains("broker 0"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "{error}");

    // What was produced reads back whole.
    let read = read_all(
        mock.bootstrap(),
        "admin",
        PARTITIONS,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let report = check(workload.run_id, &ledger, &read, IDEMPOTENT);
    assert!(report.is_clean(), "{report}");
}
