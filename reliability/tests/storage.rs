//! S1–S5: damaged segment files. Each case produces acknowledged records
//! through an idempotent producer, stops the broker process (SIGKILL, or
//! SIGTERM for a clean close), damages the partition's files, starts the
//! broker again and checks: it starts, serves every acknowledged record it
//! should (all of them, except the batch the test corrupted itself, which
//! must be cut off rather than served), rebuilt its indexes, and accepts
//! and serves new records.
//!
//! S1 junk appended to the active `.log` / `.index`; S2 SIGKILL at random
//! instants during a produce, 20 times; S3 a flipped byte in the last batch;
//! S4 an `.index` of the wrong length; S5 a deleted `.timeindex`.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{active_log, batches, fault_tolerant_producer, partition_dir, seed, sized};
use durian_reliability::readback::{create_topic, index_lookups, read_all};
use durian_reliability::{
    check, decode, produce, BrokerOptions, BrokerProcess, Expectations, ReadRecord, Report,
    Workload,
};
use rand::{Rng, RngCore, SeedableRng};

const TOPIC: &str = "s";
const IDEMPOTENT: Expectations = Expectations { idempotent: true };

/// How the broker is stopped before its files are damaged.
#[derive(Clone, Copy, Debug)]
enum Stop {
    Kill,
    Clean,
}

/// Starts a broker, creates the topic and produces `records` acknowledged
/// records; returns the broker, the workload and its ledger.
async fn loaded_broker(
    work: &Path,
    records: u64,
) -> (BrokerProcess, Workload, durian_reliability::SendLedger) {
    let broker = BrokerProcess::start(work, BrokerOptions::default()).unwrap();
    create_topic(&broker.bootstrap(), TOPIC, 1).await.unwrap();
    let producer = fault_tolerant_producer(&broker.bootstrap());
    let workload = Workload::new(TOPIC, 1, records);
    let ledger = produce(&producer, &workload, |_| {}).await;
    producer.close(Duration::from_secs(10)).await.unwrap();
    (broker, workload, ledger)
}

fn stop(broker: &mut BrokerProcess, how: Stop) {
    match how {
        Stop::Kill => broker.kill().unwrap(),
        Stop::Clean => broker.terminate(Duration::from_secs(20)).unwrap(),
    }
}

/// The records of run `run_id` among `read`.
fn of_run(read: &[ReadRecord], run_id: u64) -> Vec<ReadRecord> {
    read.iter()
        .filter(|r| decode(&r.value).is_ok_and(|id| id.run_id == run_id))
        .cloned()
        .collect()
}

/// After recovery: the first run judged by `check`, then a second run
/// appended to the recovered log must come back whole.
async fn verify_and_append(
    broker: &BrokerProcess,
    workload: &Workload,
    ledger: &durian_reliability::SendLedger,
) -> Report {
    let bootstrap = broker.bootstrap();
    let read = read_all(&bootstrap, TOPIC, 1, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}\nbroker log:\n{}", broker.log_tail(40)));
    let first = check(
        workload.run_id,
        ledger,
        &of_run(&read, workload.run_id),
        IDEMPOTENT,
    );
    assert_indexes_answer(&bootstrap, &read).await;

    let producer = fault_tolerant_producer(&bootstrap);
    let more = Workload::new(TOPIC, 1, 500);
    let more_ledger = produce(&producer, &more, |_| {}).await;
    producer.close(Duration::from_secs(10)).await.unwrap();
    let read = read_all(&bootstrap, TOPIC, 1, Duration::from_secs(60))
        .await
        .unwrap();
    let second = check(
        more.run_id,
        &more_ledger,
        &of_run(&read, more.run_id),
        IDEMPOTENT,
    );
    assert!(
        second.is_clean() && second.read == 500,
        "appending after recovery: {second}"
    );
    first
}

/// The rebuilt indexes must find records in the middle of the log: a seek
/// lands on the asked offset, and ListOffsets for a record's timestamp
/// returns the first offset with a timestamp at or after it.
async fn assert_indexes_answer(bootstrap: &str, read: &[ReadRecord]) {
    let mut sorted: Vec<&ReadRecord> = read.iter().collect();
    sorted.sort_by_key(|r| r.offset);
    let Some(middle) = sorted.get(sorted.len() * 2 / 3) else {
        return;
    };
    let expected_for_time = sorted
        .iter()
        .filter(|r| r.timestamp >= middle.timestamp)
        .map(|r| r.offset)
        .min();
    let answers = index_lookups(bootstrap, TOPIC, 0, middle.offset, middle.timestamp)
        .await
        .unwrap();
    assert_eq!(
        answers.first_after_seek, middle.offset,
        "offset index lookup"
    );
    assert_eq!(
        answers.offset_for_time, expected_for_time,
        "time index lookup"
    );
}

fn append(path: &Path, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

fn junk(seed: u64, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

/// Runs one damage case and returns the report of the first run.
async fn damaged_restart(how: Stop, damage: impl FnOnce(&Path)) -> (Report, BrokerProcess) {
    let work = tempfile::tempdir().unwrap();
    let (mut broker, workload, ledger) = loaded_broker(work.path(), 5_000).await;
    assert_eq!(
        ledger.count(|o| matches!(o, durian_reliability::Outcome::Acked { .. })),
        5_000
    );
    stop(&mut broker, how);
    damage(&partition_dir(broker.data_dir(), TOPIC, 0));
    broker.restart().unwrap();
    let report = verify_and_append(&broker, &workload, &ledger).await;
    eprintln!("{how:?}: {report}");
    // Keep the directory alive until the broker is gone.
    broker.kill().unwrap();
    drop(work);
    (report, broker)
}

fn assert_nothing_lost(report: &Report) {
    assert!(report.is_clean(), "{report}");
    assert_eq!((report.read, report.lost), (report.sent, 0), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_junk_appended_to_the_active_log_is_cut_off() {
    let seed = seed();
    for how in [Stop::Kill, Stop::Clean] {
        let (report, _) =
            damaged_restart(how, |dir| append(&active_log(dir), &junk(seed, 1000))).await;
        assert_nothing_lost(&report);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_junk_appended_to_the_active_index_is_rebuilt() {
    let seed = seed();
    for how in [Stop::Kill, Stop::Clean] {
        // Whole 8-byte entries of junk: the length is plausible, the
        // contents are not.
        let (report, _) = damaged_restart(how, |dir| {
            append(&active_log(dir).with_extension("index"), &junk(seed, 64))
        })
        .await;
        assert_nothing_lost(&report);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_a_flipped_byte_in_the_last_batch_cuts_that_batch_off() {
    let seed = seed();
    let mut cut = 0usize;
    let (report, _) = damaged_restart(Stop::Kill, |dir| {
        let log_path = active_log(dir);
        let mut log = std::fs::read(&log_path).unwrap();
        let found = batches(&log);
        assert!(
            found.len() > 2,
            "too few batches to damage one: {}",
            found.len()
        );
        let last = *found.last().unwrap();
        // Somewhere in the CRC-covered part (after the 21 bytes before it).
        let at = last.position
            + 21
            + rand::rngs::StdRng::seed_from_u64(seed).random_range(0..last.size - 21);
        log[at] ^= 0x40;
        std::fs::write(&log_path, &log).unwrap();
        cut = last.records;
    })
    .await;
    assert!(cut > 0);
    assert_eq!(
        report.lost, cut,
        "exactly the damaged batch is lost: {report}"
    );
    assert_eq!(report.read, report.sent - cut, "{report}");
    assert_eq!(
        (
            report.corrupt,
            report.duplicated,
            report.reordered,
            report.misplaced
        ),
        (0, 0, 0, 0),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s4_an_index_of_the_wrong_length_is_rebuilt() {
    for how in [Stop::Kill, Stop::Clean] {
        let (report, _) = damaged_restart(how, |dir| {
            let index = active_log(dir).with_extension("index");
            let len = std::fs::metadata(&index).unwrap().len();
            // Not a multiple of the 8-byte entry size: 3 bytes too long.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(&index)
                .unwrap();
            file.set_len(len + 3).unwrap();
        })
        .await;
        assert_nothing_lost(&report);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s5_a_deleted_timeindex_is_rebuilt() {
    for how in [Stop::Kill, Stop::Clean] {
        let (report, broker) = damaged_restart(how, |dir| {
            std::fs::remove_file(active_log(dir).with_extension("timeindex")).unwrap();
        })
        .await;
        assert_nothing_lost(&report);
        drop(broker);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s2_sigkill_at_random_instants_twenty_times() {
    let seed = seed();
    eprintln!("S2 seed {seed} (DURIAN_SEED reruns it)");
    let work = tempfile::tempdir().unwrap();
    let broker = BrokerProcess::start(work.path(), BrokerOptions::default()).unwrap();
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, TOPIC, 2).await.unwrap();
    let producer = fault_tolerant_producer(&bootstrap);
    let mut workload = Workload::new(TOPIC, 2, sized("DURIAN_S2_RECORDS", 60_000));
    // At least 16 s of pauses, longer than 20 kills and restarts take.
    workload.pause_every = 150;
    workload.pause = Duration::from_millis(40);
    let kills_wanted = sized("DURIAN_S2_KILLS", 20) as u32;

    let done = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let killer = std::thread::spawn({
        let done = done.clone();
        let sent = sent.clone();
        move || {
            let mut broker = broker;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut kills_under_load = 0u32;
            while sent.load(Ordering::Relaxed) < 500 {
                std::thread::sleep(Duration::from_millis(5));
            }
            for _ in 0..kills_wanted {
                std::thread::sleep(Duration::from_millis(rng.random_range(50..600)));
                if !done.load(Ordering::Relaxed) {
                    kills_under_load += 1;
                }
                broker.kill().unwrap();
                broker.restart().unwrap();
            }
            (broker, kills_under_load)
        }
    });
    let ledger = produce(&producer, &workload, |n| sent.store(n, Ordering::Relaxed)).await;
    done.store(true, Ordering::Relaxed);
    let (broker, kills_under_load) = tokio::task::spawn_blocking(move || killer.join().unwrap())
        .await
        .unwrap();
    producer.close(Duration::from_secs(10)).await.unwrap();
    let read = read_all(&bootstrap, TOPIC, 2, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}\nbroker log:\n{}", broker.log_tail(40)));
    let report = check(workload.run_id, &ledger, &read, IDEMPOTENT);
    eprintln!("S2: {kills_wanted} kills ({kills_under_load} while producing), {report}");
    assert!(
        kills_under_load >= kills_wanted * 3 / 4,
        "most kills must hit a running produce"
    );
    assert!(report.is_clean(), "seed {seed}: {report}");
    assert_eq!(
        (report.acked, report.read),
        (report.sent, report.sent),
        "{report}"
    );
}
