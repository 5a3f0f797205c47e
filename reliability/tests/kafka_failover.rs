//! Replication and failover against Apache Kafka 4.x (three KRaft nodes,
//! each broker and controller; replication factor 3, min.insync.replicas
//! 2, the test cluster's defaults from three nodes on), with durian's
//! idempotent acks=all producer writing and durian's consumer reading at
//! the same time:
//!
//! - a kill storm: the leader of one partition after another is SIGKILLed,
//!   left down a moment and restarted, again and again while the producer
//!   sends `DURIAN_FAILOVER_RECORDS` records (default 50,000) and a
//!   consumer group reads them;
//! - a controlled shutdown (SIGTERM of a leader: leadership moves before
//!   it exits) and, once it is back, a preferred-leader election by the
//!   controller (`auto.leader.rebalance.enable` with a 2 s check interval;
//!   durian-admin has no ElectLeaders call) that gives the partition back
//!   to it, while an assigned consumer reads across both leader changes
//!   (each one a new leader epoch its positions are validated against).
//!
//! Both end with the reliability checker on what the consumer read during
//! the run and on a full read-back afterwards: nothing lost, nothing
//! duplicated, order kept per partition. Without Kafka the tests are
//! skipped (failing when `DURIAN_REQUIRE_PEERS=1`).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use durian_consumer::{Consumer, OffsetReset, TopicPartition};
use durian_core::{Client, ClientConfig};
use durian_reliability::readback::{create_topic, read_all};
use durian_reliability::{check, produce, Expectations, ReadRecord, Report, SendLedger, Workload};
use durian_testkit::KafkaCluster;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use common::{fault_tolerant_producer, sized};

const TOPIC_PARTITIONS: i32 = 3;

/// The records of one run: `DURIAN_FAILOVER_RECORDS`, else 50,000.
fn records() -> u64 {
    sized("DURIAN_FAILOVER_RECORDS", 50_000)
}

/// A workload spread over `seconds` one-second pauses whatever its size,
/// so faults land while records are being sent.
fn paced(topic: &str, records: u64, seconds: u64) -> Workload {
    let mut workload = Workload::new(topic, TOPIC_PARTITIONS, records);
    workload.pause_every = (records / seconds).max(500);
    workload.pause = Duration::from_millis(1_000);
    workload
}

/// A consumer reading the topic in a task while the run goes on, until it
/// has reached the end offsets it is given once the producer is done.
struct Reader {
    read: Arc<Mutex<Vec<ReadRecord>>>,
    ends: watch::Sender<Option<BTreeMap<i32, i64>>>,
    task: JoinHandle<usize>,
}

impl Reader {
    /// Starts reading: in group `group` (subscribed) or, without one, by
    /// assigning every partition.
    fn start(bootstrap: &str, topic: &str, group: Option<&str>) -> Reader {
        let client = ClientConfig::builder()
            .bootstrap_servers(bootstrap.split(','))
            .request_timeout(Duration::from_secs(5))
            .retry_backoff(Duration::from_millis(20), Duration::from_millis(250))
            .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(250))
            .connection_setup_timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let mut builder = Consumer::builder()
            .client_config(client)
            .auto_offset_reset(OffsetReset::Earliest)
            .max_poll_records(2_000);
        if let Some(group) = group {
            builder = builder.group_id(group);
        }
        let mut consumer = builder.build().unwrap();
        match group {
            Some(_) => consumer.subscribe([topic]).unwrap(),
            None => consumer
                .assign((0..TOPIC_PARTITIONS).map(|p| TopicPartition::new(topic, p)))
                .unwrap(),
        }
        let read: Arc<Mutex<Vec<ReadRecord>>> = Arc::default();
        let (ends, mut ends_rx) = watch::channel(None::<BTreeMap<i32, i64>>);
        let task = tokio::spawn({
            let read = read.clone();
            async move {
                let mut positions: BTreeMap<i32, i64> = BTreeMap::new();
                let mut poll_errors = 0;
                let mut deadline = None;
                loop {
                    if let Some(ends) = ends_rx.borrow_and_update().as_ref() {
                        if ends.iter().all(|(p, end)| {
                            *end <= 0 || positions.get(p).is_some_and(|at| at >= end)
                        }) {
                            break;
                        }
                        let deadline =
                            *deadline.get_or_insert(Instant::now() + Duration::from_secs(180));
                        assert!(
                            Instant::now() < deadline,
                            "the consumer reached {positions:?} of {ends:?} within 3 minutes of the producer's end"
                        );
                    }
                    let batch = match consumer.poll(Duration::from_millis(200)).await {
                        Ok(batch) => batch,
                        Err(error) => {
                            // Reported and counted: a poll may time out
                            // while a coordinator or leader is down.
                            eprintln!("poll failed: {error}");
                            poll_errors += 1;
                            continue;
                        }
                    };
                    assert!(batch.errors.is_empty(), "{:?}", batch.errors);
                    let mut read = read.lock().unwrap();
                    for record in batch.iter() {
                        positions.insert(record.partition, record.offset + 1);
                        read.push(ReadRecord {
                            partition: record.partition,
                            offset: record.offset,
                            timestamp: record.timestamp,
                            value: record.value.clone().unwrap_or_default(),
                        });
                    }
                }
                consumer.close().await.unwrap();
                poll_errors
            }
        });
        Reader { read, ends, task }
    }

    /// Gives the end offsets to reach, waits until the consumer has, and
    /// returns what it read (every copy) and how many polls failed.
    async fn finish(self, ends: BTreeMap<i32, i64>) -> (Vec<ReadRecord>, usize) {
        self.ends.send(Some(ends)).unwrap();
        let poll_errors = self.task.await.unwrap();
        let read = std::mem::take(&mut *self.read.lock().unwrap());
        (read, poll_errors)
    }
}

/// Logs to the test output when RUST_LOG is set (e.g.
/// `RUST_LOG=durian_consumer=debug` shows each position validation).
fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A metadata client on the cluster, with fast retries.
async fn metadata_client(bootstrap: &str, topic: &str) -> Client {
    let config = ClientConfig::builder()
        .bootstrap_servers(bootstrap.split(','))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(250))
        .build()
        .unwrap();
    let client = Client::connect(config).await.unwrap();
    client.add_topics([topic]);
    client
}

/// Waits (two minutes at most) until every partition's leader satisfies
/// `ok(partition, leader, isr)`, as fresh metadata says.
async fn wait_for_partitions(
    client: &Client,
    topic: &str,
    what: &str,
    ok: impl Fn(i32, Option<i32>, &[i32]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let _ = client
            .refresh_metadata("kafka_failover: waiting on partitions")
            .await;
        let metadata = client.metadata();
        let settled = (0..TOPIC_PARTITIONS).all(|p| {
            metadata
                .partition(topic, p)
                .is_some_and(|m| ok(p, m.leader, &m.isr))
        });
        if settled {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not within two minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The end offset of every partition in a full read-back.
fn ends_of(read: &[ReadRecord]) -> BTreeMap<i32, i64> {
    let mut ends: BTreeMap<i32, i64> = (0..TOPIC_PARTITIONS).map(|p| (p, 0)).collect();
    for record in read {
        let end = ends.entry(record.partition).or_default();
        *end = (*end).max(record.offset + 1);
    }
    ends
}

/// Checks the consumer's reads and a full read-back against the ledger;
/// returns the consumer's report.
async fn verify(
    bootstrap: &str,
    topic: &str,
    workload: &Workload,
    ledger: &SendLedger,
    reader: Reader,
) -> (Report, usize) {
    let log = read_all(bootstrap, topic, TOPIC_PARTITIONS, Duration::from_secs(180))
        .await
        .unwrap();
    let expectations = Expectations { idempotent: true };
    let log_report = check(workload.run_id, ledger, &log, expectations);
    assert!(log_report.is_clean(), "the log: {log_report}");
    assert_eq!(log_report.acked, log_report.sent, "the log: {log_report}");
    assert_eq!(log_report.read, log_report.sent, "the log: {log_report}");
    let (read, poll_errors) = reader.finish(ends_of(&log)).await;
    let report = check(workload.run_id, ledger, &read, expectations);
    assert!(report.is_clean(), "the consumer during the run: {report}");
    assert_eq!(
        report.read, report.sent,
        "the consumer during the run: {report}"
    );
    (report, poll_errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaders_sigkilled_again_and_again_while_a_group_reads() {
    init_tracing();
    let records = records();
    let starting = std::time::Instant::now();
    let Some(kafka) = KafkaCluster::start(3, &[]).await else {
        return;
    };
    eprintln!("three Kafka nodes ready in {:?}", starting.elapsed());
    let bootstrap = kafka.bootstrap();
    let topic = "kill-storm";
    create_topic(&bootstrap, topic, TOPIC_PARTITIONS)
        .await
        .unwrap();
    let client = metadata_client(&bootstrap, topic).await;
    wait_for_partitions(&client, topic, "all replicas in sync", |_, leader, isr| {
        leader.is_some() && isr.len() == 3
    })
    .await;
    let reader = Reader::start(&bootstrap, topic, Some("kill-storm-readers"));
    let producer = fault_tolerant_producer(&bootstrap);
    let workload = paced(topic, records, 60);

    let sent = Arc::new(AtomicU64::new(0));
    let producing = Arc::new(AtomicBool::new(true));
    let killer = tokio::spawn({
        let (sent, producing, client) = (sent.clone(), producing.clone(), client.clone());
        let mut kafka = kafka;
        async move {
            let mut kills = 0u32;
            while producing.load(Ordering::Relaxed) {
                let partition = (kills % TOPIC_PARTITIONS as u32) as i32;
                let Some(victim) = kafka.leader(topic, partition).await else {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                kafka.kill(victim);
                kills += 1;
                eprintln!(
                    "kill {kills}: SIGKILLed node {victim} (leader of {topic}-{partition}) after {} sends",
                    sent.load(Ordering::Relaxed)
                );
                wait_for_partitions(
                    &client,
                    topic,
                    "a leader other than the killed node",
                    |_, leader, _| leader.is_some_and(|l| l != victim),
                )
                .await;
                // Down a moment (the schedule of the fault, not a wait for
                // an event), then back; the next kill waits until it has
                // caught up, so the partition keeps min.insync.replicas.
                tokio::time::sleep(Duration::from_secs(2)).await;
                kafka.restart(victim).await;
                wait_for_partitions(
                    &client,
                    topic,
                    "the restarted node back in sync",
                    |_, _, isr| isr.len() == 3,
                )
                .await;
            }
            (kafka, kills)
        }
    });
    let started = std::time::Instant::now();
    let ledger = produce(&producer, &workload, |n| sent.store(n, Ordering::Relaxed)).await;
    let produce_time = started.elapsed();
    producing.store(false, Ordering::Relaxed);
    let (kafka, kills) = killer.await.unwrap();
    let metrics = producer.metrics();
    producer.close(Duration::from_secs(10)).await.unwrap();
    let (report, poll_errors) = verify(&bootstrap, topic, &workload, &ledger, reader).await;
    eprintln!(
        "FIGURES kill storm: {records} records, {kills} leader SIGKILLs, produced in {produce_time:?} \
         ({} retries, {} epoch bumps), {poll_errors} failed polls, total {:?}; consumer group: {report}",
        metrics.retries,
        metrics.epoch_bumps,
        starting.elapsed()
    );
    assert!(kills >= 2, "only {kills} kills landed during the run");
    drop(kafka);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controlled_shutdown_and_preferred_leader_election_move_leadership_without_loss() {
    init_tracing();
    let records = records() / 2;
    let starting = std::time::Instant::now();
    let Some(kafka) = KafkaCluster::start(
        3,
        &[
            ("auto.leader.rebalance.enable", "true"),
            ("leader.imbalance.check.interval.seconds", "2"),
        ],
    )
    .await
    else {
        return;
    };
    let bootstrap = kafka.bootstrap();
    let topic = "leadership";
    create_topic(&bootstrap, topic, TOPIC_PARTITIONS)
        .await
        .unwrap();
    let client = metadata_client(&bootstrap, topic).await;
    wait_for_partitions(&client, topic, "all replicas in sync", |_, leader, isr| {
        leader.is_some() && isr.len() == 3
    })
    .await;
    // The preferred leader of partition 0: its first replica, the leader
    // right after creation.
    let preferred = client.metadata().partition(topic, 0).unwrap().replicas[0];
    let reader = Reader::start(&bootstrap, topic, None);
    let producer = fault_tolerant_producer(&bootstrap);
    let workload = paced(topic, records, 30);

    let sent = Arc::new(AtomicU64::new(0));
    let mover = tokio::spawn({
        let (sent, client) = (sent.clone(), client.clone());
        let mut kafka = kafka;
        async move {
            while sent.load(Ordering::Relaxed) < records / 4 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(kafka.leader(topic, 0).await, Some(preferred));
            let stopping = Instant::now();
            kafka.stop(preferred).await;
            // A controlled shutdown hands leadership over before the node
            // exits: the survivors already name another leader.
            let after = kafka.leader(topic, 0).await;
            assert!(
                after.is_some_and(|l| l != preferred),
                "{topic}-0 led by {after:?} right after node {preferred}'s controlled shutdown"
            );
            eprintln!(
                "node {preferred} shut down in {:?}; {topic}-0 now led by {after:?}",
                stopping.elapsed()
            );
            kafka.restart(preferred).await;
            let restarted = Instant::now();
            wait_for_partitions(
                &client,
                topic,
                "the preferred leader elected back",
                |p, leader, _| p != 0 || leader == Some(preferred),
            )
            .await;
            eprintln!(
                "{topic}-0 back with its preferred leader {preferred} {:?} after its restart, at send {}",
                restarted.elapsed(),
                sent.load(Ordering::Relaxed)
            );
            kafka
        }
    });
    let ledger = produce(&producer, &workload, |n| sent.store(n, Ordering::Relaxed)).await;
    let kafka = mover.await.unwrap();
    producer.close(Duration::from_secs(10)).await.unwrap();
    let (report, poll_errors) = verify(&bootstrap, topic, &workload, &ledger, reader).await;
    eprintln!(
        "FIGURES leadership moves: {records} records, {poll_errors} failed polls, total {:?}; consumer: {report}",
        starting.elapsed()
    );
    drop(kafka);
}
