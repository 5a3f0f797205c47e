//! E2: E1's exactly-once copy (tests/common/eos.rs) on three Apache Kafka
//! 4.x nodes (replication factor 3, min.insync.replicas 2, the transaction
//! log replicated alike): group members are killed every 2–4 s, and two
//! nodes are SIGKILLed one after the other (each down 3 s, then restarted),
//! so partition leaders and the transaction and group coordinators move
//! while transactions are open. A read_committed reader of the output must
//! find every acknowledged input record exactly once, in order. Without
//! Kafka the test is skipped (failing when `DURIAN_REQUIRE_PEERS=1`).

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::eos::{finish, run_group, summary, Copy, Tally};
use common::{fault_tolerant_producer, seed, sized};
use durian_reliability::readback::create_topic;
use durian_reliability::{produce, Workload};
use durian_testkit::KafkaCluster;

const PARTITIONS: i32 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e2_exactly_once_copy_on_kafka_survives_member_and_node_kills() {
    let seed = seed();
    eprintln!("E2 seed {seed} (DURIAN_SEED reruns it)");
    let Some(kafka) = KafkaCluster::start(3, &[]).await else {
        return;
    };
    let bootstrap = kafka.bootstrap();
    create_topic(&bootstrap, "eos-in", PARTITIONS)
        .await
        .unwrap();
    create_topic(&bootstrap, "eos-out", PARTITIONS)
        .await
        .unwrap();

    let copy = Copy {
        bootstrap: bootstrap.clone(),
        input: "eos-in".into(),
        output: "eos-out".into(),
        partitions: PARTITIONS,
        run: seed,
        // Kafka's group.min.session.timeout.ms.
        session_timeout: Duration::from_secs(6),
    };
    let tally = Arc::new(Tally::default());
    let stop_killing = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let group = tokio::spawn(run_group(
        copy.clone(),
        seed,
        tally.clone(),
        stop_killing.clone(),
        stop.clone(),
    ));

    // Two nodes killed in turn while the input is written: the schedule of
    // the fault (down 3 s, then 8 s to catch up before the next).
    let node_killer = tokio::spawn({
        let mut kafka = kafka;
        async move {
            let mut kills = 0u32;
            for victim in [1, 2] {
                tokio::time::sleep(Duration::from_secs(6)).await;
                kafka.kill(victim);
                kills += 1;
                eprintln!("E2: SIGKILLed node {victim}");
                tokio::time::sleep(Duration::from_secs(3)).await;
                kafka.restart(victim).await;
                tokio::time::sleep(Duration::from_secs(8)).await;
            }
            (kafka, kills)
        }
    });

    let producer = fault_tolerant_producer(&bootstrap);
    let mut workload = Workload::new("eos-in", PARTITIONS, sized("DURIAN_E2_RECORDS", 8_000));
    workload.pause_every = 40;
    workload.pause = Duration::from_millis(150);
    let ledger = produce(&producer, &workload, |_| {}).await;
    producer.close(Duration::from_secs(10)).await.unwrap();
    let (kafka, node_kills) = node_killer.await.unwrap();
    stop_killing.store(true, Ordering::Release);

    let verdict = finish(&copy, workload.run_id, &ledger, &stop, group)
        .await
        .unwrap();
    let faults = format!("{node_kills} node kills");
    eprintln!(
        "{}",
        summary("E2", workload.records, &verdict, &faults, &tally)
    );
    drop(kafka);
    verdict.assert_exactly_once(seed);
    assert_eq!(node_kills, 2, "node kills");
}
