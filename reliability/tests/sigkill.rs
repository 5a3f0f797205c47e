//! P7: durian's broker process killed with SIGKILL and restarted every few
//! seconds while an idempotent producer (acks=all) sends; afterwards every
//! acknowledged record is read back exactly once, in send order.
//!
//! The broker runs with its default page-cache durability. SIGKILL ends the
//! process but not the kernel, so everything the broker wrote before it
//! acknowledged is still in the page cache: "acknowledged" must mean
//! "survives a process crash" even without fsync (only a power loss may cut
//! an unflushed tail, which this scenario cannot simulate).
//!
//! Size: `DURIAN_P7_RECORDS` (default 500,000 records of 100 bytes over 3
//! partitions, ~45 s in a debug build on 2 cores, a kill every 1.5–3 s).

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use durian_reliability::readback::{create_topic, read_all};
use durian_reliability::{check, produce, BrokerOptions, BrokerProcess, Expectations, Workload};
use rand::{Rng, SeedableRng};

mod common;
use common::{fault_tolerant_producer, seed, sized};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p7_sigkill_and_restart_under_idempotent_acks_all_loses_and_duplicates_nothing() {
    let seed = seed();
    eprintln!("P7 seed {seed} (DURIAN_SEED reruns it)");
    let work = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(work.path(), BrokerOptions::default()).unwrap();
    let bootstrap = broker.bootstrap();
    let partitions = 3;
    create_topic(&bootstrap, "p7", partitions).await.unwrap();

    let producer = fault_tolerant_producer(&bootstrap);
    let mut workload = Workload::new("p7", partitions, sized("DURIAN_P7_RECORDS", 500_000));
    workload.pause_every = 2_000;
    workload.pause = Duration::from_millis(100);

    // The killer owns the process on its own thread: SIGKILL, restart on the
    // same port, repeat, until the producer is done.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let killer = std::thread::spawn({
        let stop = stop.clone();
        let sent = sent.clone();
        move || {
            let mut broker = broker;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut kills = 0u32;
            // Let the run get going before the first kill.
            while sent.load(Ordering::Relaxed) < 1_000 && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(10));
            }
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(rng.random_range(1_500..3_000)));
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                broker.kill().unwrap();
                kills += 1;
                std::thread::sleep(Duration::from_millis(rng.random_range(0..300)));
                broker.restart().unwrap();
            }
            (broker, kills)
        }
    });

    let started = std::time::Instant::now();
    let ledger = produce(&producer, &workload, |n| sent.store(n, Ordering::Relaxed)).await;
    let produce_time = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (broker, kills) = tokio::task::spawn_blocking(move || killer.join().unwrap())
        .await
        .unwrap();
    let metrics = producer.metrics();
    producer.close(Duration::from_secs(10)).await.unwrap();

    let read = read_all(&bootstrap, "p7", partitions, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}\nbroker log:\n{}", broker.log_tail(40)));
    let report = check(
        workload.run_id,
        &ledger,
        &read,
        Expectations { idempotent: true },
    );
    eprintln!(
        "P7: {} records, {kills} SIGKILLs, produced in {produce_time:?}, {} retries, {} epoch bumps; {report}",
        workload.records, metrics.retries, metrics.epoch_bumps
    );
    assert!(metrics.retries > 0, "the kills should have forced retries");
    assert!(
        kills >= 3,
        "only {kills} kills happened; the run was too short to test anything"
    );
    assert!(report.is_clean(), "seed {seed}: {report}");
    assert_eq!(
        report.acked, report.sent,
        "with a 120 s delivery timeout every record is acknowledged: {report}"
    );
    assert_eq!(report.read, report.sent, "{report}");
}
