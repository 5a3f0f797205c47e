//! E1: exactly-once consume-transform-produce on a `durian broker`
//! process whose group members are killed at random and which is itself
//! SIGKILLed three times (tests/common/eos.rs has the loop and its rules).
//!
//! An idempotent producer writes the input (6 partitions) for about 30 s;
//! meanwhile the group copies it in transactions, a member is killed every
//! 2–4 s and the broker is SIGKILLed and restarted on the same port three
//! times, 5–8 s apart. Then the killing stops and the group finishes the
//! copy. The checks:
//!
//! * a read_committed reader of the output finds every acknowledged input
//!   record exactly once, in order per partition, nothing else (the
//!   suite's checker, idempotent expectations: any duplicate fails);
//! * the chaos happened: at least four member kills, three broker kills,
//!   failed transactions, and aborted records in the output that
//!   read_uncommitted sees and read_committed does not.
//!
//! `DURIAN_E1_RECORDS` changes the input size, `DURIAN_SEED` reruns a
//! seed (the victims and the gaps; the interleaving stays the scheduler's).

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::eos::{finish, run_group, summary, Copy, Tally};
use common::{fault_tolerant_producer, seed, sized};
use durian_reliability::readback::create_topic;
use durian_reliability::{produce, BrokerOptions, BrokerProcess, Workload};
use rand::{Rng, SeedableRng};

const PARTITIONS: i32 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e1_exactly_once_copy_survives_member_and_broker_kills() {
    let seed = seed();
    eprintln!("E1 seed {seed} (DURIAN_SEED reruns it)");
    let work = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(work.path(), BrokerOptions::default()).unwrap();
    let bootstrap = broker.bootstrap();
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
        // The broker's minimum (Kafka's group.min.session.timeout.ms).
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

    // The broker killer owns the process on its own thread.
    let broker_killer = std::thread::spawn({
        let stop_killing = stop_killing.clone();
        move || {
            let mut broker = broker;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0xb0b);
            let mut kills = 0u32;
            while kills < 3 && !stop_killing.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(rng.random_range(5_000..8_000)));
                broker.kill().unwrap();
                kills += 1;
                std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
                broker.restart().unwrap();
            }
            (broker, kills)
        }
    });

    let producer = fault_tolerant_producer(&bootstrap);
    let mut workload = Workload::new("eos-in", PARTITIONS, sized("DURIAN_E1_RECORDS", 8_000));
    workload.pause_every = 40;
    workload.pause = Duration::from_millis(150);
    let ledger = produce(&producer, &workload, |_| {}).await;
    producer.close(Duration::from_secs(10)).await.unwrap();
    let (broker, broker_kills) = tokio::task::spawn_blocking(move || broker_killer.join().unwrap())
        .await
        .unwrap();
    stop_killing.store(true, Ordering::Release);

    let verdict = finish(&copy, workload.run_id, &ledger, &stop, group)
        .await
        .unwrap_or_else(|e| panic!("{e}\nbroker log:\n{}", broker.log_tail(40)));
    let faults = format!("{broker_kills} broker kills");
    eprintln!(
        "{}",
        summary("E1", workload.records, &verdict, &faults, &tally)
    );
    verdict.assert_exactly_once(seed);
    assert_eq!(broker_kills, 3, "broker kills");
}
