//! S6: damage to an old segment of a partition rather than to its active
//! (last) one. The partition is given 1 MiB segments (Kafka's minimum
//! `segment.bytes`) and enough records for at least four of them.
//!
//! S6a flips one byte inside the records of a batch in a sealed segment in
//! the middle of the log, with the broker stopped. docs/STORAGE.md says
//! what follows: after a clean close segments are opened without a CRC
//! check, so the damaged batch is served as it is and the consumer's CRC
//! check refuses it; after a crash the segments from the recovery point on
//! are CRC-checked, the log is cut at the bad batch and later segments are
//! removed, quarantined (renamed, reported at error level) when they had
//! been flushed. In no case may another batch be served wrong, or records
//! of a flushed later segment vanish without a trace.
//!
//! S6b deletes the oldest segment's `.index` and `.timeindex` after a clean
//! close: the broker rebuilds both, and a fetch at every offset and
//! ListOffsets at every timestamp answer as they did before.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{batches, fault_tolerant_producer, partition_dir, seed, segment_logs, BatchAt};
use durian_admin::NewTopic;
use durian_consumer::{Consumer, TopicPartition};
use durian_reliability::readback::create_topic_with;
use durian_reliability::{
    produce, BrokerOptions, BrokerProcess, Outcome, ReadRecord, SendLedger, Workload,
};
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

const TOPIC: &str = "m";
/// Kafka's minimum, which the broker enforces for new topics.
const SEGMENT_BYTES: u64 = 1_048_576;
/// 10,000 records of ~450 bytes: a little over four segments.
const RECORDS: u64 = 10_000;
const PAYLOAD: usize = 400;

/// How the broker is stopped before its files are damaged.
#[derive(Clone, Copy, Debug)]
enum Stop {
    Kill,
    Clean,
}

/// Starts a broker, creates the one-partition topic with small segments
/// and produces [`RECORDS`] acknowledged records.
async fn loaded_broker(work: &Path) -> (BrokerProcess, SendLedger) {
    let broker = BrokerProcess::start(work, BrokerOptions::default()).unwrap();
    let topic = NewTopic::new(TOPIC, 1).config("segment.bytes", SEGMENT_BYTES.to_string());
    create_topic_with(&broker.bootstrap(), topic).await.unwrap();
    let producer = fault_tolerant_producer(&broker.bootstrap());
    let mut workload = Workload::new(TOPIC, 1, RECORDS);
    workload.payload = PAYLOAD;
    let ledger = produce(&producer, &workload, |_| {}).await;
    producer.close(Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        ledger.count(|o| matches!(o, Outcome::Acked { .. })),
        RECORDS as usize
    );
    (broker, ledger)
}

fn stop(broker: &mut BrokerProcess, how: Stop) {
    match how {
        Stop::Kill => broker.kill().unwrap(),
        Stop::Clean => broker.terminate(Duration::from_secs(20)).unwrap(),
    }
}

/// The acknowledged offsets in `from..to`, each with the record's value as
/// the producer sent it (the payload is derived from the record id).
fn acked_values(ledger: &SendLedger, from: i64, to: i64) -> BTreeMap<i64, u64> {
    ledger
        .records()
        .iter()
        .filter_map(|r| match r.outcome {
            Outcome::Acked { offset, .. } if (from..to).contains(&offset) => {
                Some((offset, r.id.send_index))
            }
            _ => None,
        })
        .collect()
}

/// A consumer that fetches one batch at a time (`max.partition.fetch.bytes`
/// 1, so each fetch returns just the first batch at the position), so a
/// read that stops before a damaged batch never receives it.
fn one_batch_consumer(bootstrap: &str) -> Consumer {
    let mut consumer = Consumer::builder()
        .bootstrap_servers(bootstrap.split(','))
        .enable_auto_commit(false)
        .max_partition_fetch_bytes(1)
        .max_poll_records(10_000)
        .build()
        .unwrap();
    consumer.assign([TopicPartition::new(TOPIC, 0)]).unwrap();
    consumer
}

/// The partition's end offset as the broker reports it.
async fn end_offset(bootstrap: &str) -> i64 {
    let consumer = one_batch_consumer(bootstrap);
    let tp = TopicPartition::new(TOPIC, 0);
    let ends = consumer
        .end_offsets(std::slice::from_ref(&tp))
        .await
        .unwrap();
    ends[&tp]
}

/// Reads offsets `from..to`: the records, or the first error the consumer
/// reports before it got to `to`.
async fn read_range(bootstrap: &str, from: i64, to: i64) -> Result<Vec<ReadRecord>, String> {
    let mut records = Vec::new();
    if from >= to {
        return Ok(records);
    }
    let mut consumer = one_batch_consumer(bootstrap);
    consumer.seek(&TopicPartition::new(TOPIC, 0), from).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut position = from;
    while position < to {
        assert!(
            Instant::now() < deadline,
            "reading {from}..{to}: stuck at {position}"
        );
        let batch = consumer
            .poll(Duration::from_millis(500))
            .await
            .map_err(|e| format!("poll: {e}"))?;
        for record in batch.iter().filter(|r| r.offset < to) {
            position = record.offset + 1;
            records.push(ReadRecord {
                partition: record.partition,
                offset: record.offset,
                timestamp: record.timestamp,
                value: record.value.clone().unwrap_or_default(),
            });
        }
        if position < to {
            if let Some((_, error)) = batch.errors.first() {
                return Err(format!("at {position}: {error}"));
            }
        }
    }
    let _ = consumer.close().await;
    Ok(records)
}

/// Every record read is the acknowledged one at its offset, whole, and
/// every acknowledged offset of the range was read.
fn assert_reads_exactly(read: &[ReadRecord], expected: &BTreeMap<i64, u64>, what: &str) {
    let got: BTreeMap<i64, u64> = read
        .iter()
        .map(|r| {
            let id = durian_reliability::decode(&r.value)
                .unwrap_or_else(|e| panic!("{what}: record at {} is corrupt: {e}", r.offset));
            (r.offset, id.send_index)
        })
        .collect();
    assert_eq!(got.len(), read.len(), "{what}: an offset read twice");
    assert!(
        &got == expected,
        "{what}: read {} records, expected {}; first difference at offset {:?}",
        got.len(),
        expected.len(),
        expected
            .iter()
            .zip(got.iter())
            .find(|(a, b)| a != b)
            .map(|(a, _)| *a.0)
    );
}

/// What the broker did with a damaged middle segment.
struct MiddleDamage {
    /// The batch whose bytes were flipped.
    bad: BatchAt,
    /// Base offsets of the segments after the damaged one.
    later_segments: Vec<i64>,
    /// The partition's end offset after the restart.
    end_after: i64,
    /// Files named `*.quarantined` after the restart.
    quarantined: Vec<PathBuf>,
    /// Reading every offset before the bad batch.
    before: Result<Vec<ReadRecord>, String>,
    /// Reading the bad batch's offsets.
    damaged: Result<Vec<ReadRecord>, String>,
    /// Reading every offset after the bad batch up to the old end.
    after: Result<Vec<ReadRecord>, String>,
    /// The broker's log after the restart.
    log: String,
    ledger: SendLedger,
}

/// Flips one byte inside the records of a batch in the middle of a sealed
/// middle segment, restarts and looks at what is served.
async fn damage_a_middle_segment(how: Stop) -> MiddleDamage {
    let seed = seed();
    eprintln!("S6a {how:?} seed {seed} (DURIAN_SEED reruns it)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let work = tempfile::tempdir().unwrap();
    let (mut broker, ledger) = loaded_broker(work.path()).await;
    stop(&mut broker, how);
    let dir = partition_dir(broker.data_dir(), TOPIC, 0);
    let logs = segment_logs(&dir);
    assert!(logs.len() >= 4, "want at least 4 segments: {logs:?}");
    let middle = &logs[logs.len() / 2];
    let mut bytes = std::fs::read(middle).unwrap();
    let found = batches(&bytes);
    let bad = found[found.len() / 2];
    // Inside the records, past the 61-byte batch header: the offsets and the
    // record count stay readable, only the CRC no longer matches.
    let at = bad.position + 61 + rng.random_range(0..bad.size - 61);
    bytes[at] ^= 1 << rng.random_range(0..8);
    std::fs::write(middle, &bytes).unwrap();
    let base_of =
        |p: &PathBuf| -> i64 { p.file_stem().unwrap().to_str().unwrap().parse().unwrap() };
    let later_segments = logs[logs.len() / 2 + 1..].iter().map(base_of).collect();
    eprintln!(
        "S6a {how:?}: {} segments, flipped byte {at} of {} (batch at {} with {} records)",
        logs.len(),
        middle.display(),
        bad.base_offset,
        bad.records
    );

    broker.restart().unwrap();
    let bootstrap = broker.bootstrap();
    let end_after = end_offset(&bootstrap).await;
    let bad_end = bad.base_offset + bad.records as i64;
    let before = read_range(&bootstrap, 0, bad.base_offset.min(end_after)).await;
    let damaged = read_range(&bootstrap, bad.base_offset, bad_end.min(end_after)).await;
    let after = read_range(&bootstrap, bad_end, end_after).await;
    let quarantined = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".quarantined"))
        .collect();
    let log = broker.log_tail(200);
    broker.kill().unwrap();
    drop(work);
    MiddleDamage {
        bad,
        later_segments,
        end_after,
        quarantined,
        before,
        damaged,
        after,
        log,
        ledger,
    }
}

/// Records read from a damaged batch must be the ones acknowledged there,
/// whole; an error (the batch refused) is the other acceptable answer.
fn assert_not_served_wrong(d: &MiddleDamage) {
    let bad_end = d.bad.base_offset + d.bad.records as i64;
    if let Ok(read) = &d.damaged {
        assert_reads_exactly(
            read,
            &acked_values(&d.ledger, d.bad.base_offset, bad_end.min(d.end_after)),
            "the damaged batch (its bytes were flipped, so its records cannot all be whole)",
        );
    }
}

/// Every acknowledged record before the damaged batch is read at its
/// offset, whole.
fn assert_before_intact(d: &MiddleDamage) {
    let before = d
        .before
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}\n{}", d.log));
    assert_reads_exactly(
        before,
        &acked_values(&d.ledger, 0, d.bad.base_offset),
        "records before the damaged batch",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s6a_clean_close_keeps_every_other_batch_at_its_offset() {
    let d = damage_a_middle_segment(Stop::Clean).await;
    // docs/STORAGE.md: after a clean close segments are opened without a
    // CRC check, so nothing is cut or quarantined.
    assert_eq!(d.end_after, RECORDS as i64, "{}", d.log);
    assert!(d.quarantined.is_empty(), "{:?}", d.quarantined);
    assert_before_intact(&d);
    let after = d
        .after
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}\n{}", d.log));
    assert_reads_exactly(
        after,
        &acked_values(
            &d.ledger,
            d.bad.base_offset + d.bad.records as i64,
            RECORDS as i64,
        ),
        "records after the damaged batch (the rest of its segment and the later ones)",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s6a_clean_close_never_hands_out_the_damaged_batch() {
    let d = damage_a_middle_segment(Stop::Clean).await;
    eprintln!("damaged batch read: {:?}", d.damaged.as_ref().map(Vec::len));
    assert_not_served_wrong(&d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s6a_crash_cuts_the_damaged_batch_and_keeps_what_precedes_it() {
    let d = damage_a_middle_segment(Stop::Kill).await;
    // Unclean recovery CRC-checks the segments from the recovery point on:
    // the log ends right before the bad batch, which is never served.
    assert_eq!(d.end_after, d.bad.base_offset, "{}", d.log);
    assert_not_served_wrong(&d);
    assert_before_intact(&d);
    assert!(
        d.log.contains("CRC mismatch"),
        "the cut is logged:\n{}",
        d.log
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s6a_crash_never_deletes_later_flushed_segments() {
    let d = damage_a_middle_segment(Stop::Kill).await;
    // Every later segment was fsynced when the next one rolled (the
    // active one at least survived the kill in the page cache): it is
    // either still served or set aside as *.quarantined with an error.
    let after = d.after.as_ref().map(Vec::len).unwrap_or(0);
    let kept_or_quarantined = d.later_segments.iter().all(|base| {
        *base < d.end_after
            || d.quarantined
                .iter()
                .any(|p| p.to_string_lossy().contains(&format!("{base:020}.log")))
    });
    assert!(
        kept_or_quarantined,
        "later segments {:?}: end offset {} ({after} records after the bad batch), quarantined {:?}\n{}",
        d.later_segments, d.end_after, d.quarantined, d.log
    );
    assert!(d.log.contains("ERROR"), "{}", d.log);
}

/// S6b: the oldest segment's `.index` and `.timeindex` deleted after a
/// clean close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s6b_missing_indexes_of_an_old_segment_are_rebuilt() {
    let work = tempfile::tempdir().unwrap();
    let (mut broker, ledger) = loaded_broker(work.path()).await;
    let bootstrap = broker.bootstrap();
    let read = read_range(&bootstrap, 0, RECORDS as i64).await.unwrap();
    assert_reads_exactly(&read, &acked_values(&ledger, 0, RECORDS as i64), "before");
    stop(&mut broker, Stop::Clean);
    let dir = partition_dir(broker.data_dir(), TOPIC, 0);
    let logs = segment_logs(&dir);
    assert!(logs.len() >= 4, "want at least 4 segments: {logs:?}");
    let oldest = &logs[0];
    for ext in ["index", "timeindex"] {
        std::fs::remove_file(oldest.with_extension(ext)).unwrap();
    }
    broker.restart().unwrap();
    let started = std::time::Instant::now();

    // The whole log reads back, and a seek to every offset of the rebuilt
    // segment, and on across the boundary into the next one, lands on it.
    // (Every offset of the log took 26 s; the others' indexes are intact.)
    let again = read_range(&bootstrap, 0, RECORDS as i64).await.unwrap();
    assert_reads_exactly(&again, &acked_values(&ledger, 0, RECORDS as i64), "after");
    let second_base: i64 = logs[1]
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let seek_to = second_base + 100;
    let mut consumer = one_batch_consumer(&bootstrap);
    let tp = TopicPartition::new(TOPIC, 0);
    for offset in 0..seek_to {
        consumer.seek(&tp, offset).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let first = loop {
            assert!(
                Instant::now() < deadline,
                "nothing read after a seek to {offset}"
            );
            let batch = consumer.poll(Duration::from_millis(500)).await.unwrap();
            assert!(batch.errors.is_empty(), "at {offset}: {:?}", batch.errors);
            let first = batch.iter().next().map(|record| record.offset);
            if let Some(first) = first {
                break first;
            }
        };
        assert_eq!(first, offset, "seek to {offset}");
    }
    let seeks = started.elapsed();

    // ListOffsets for every timestamp in the log answers the first offset
    // whose timestamp is at or after it.
    let mut first_at: BTreeMap<i64, i64> = BTreeMap::new();
    for record in &again {
        first_at.entry(record.timestamp).or_insert(record.offset);
    }
    let mut sorted: Vec<(i64, i64)> = again.iter().map(|r| (r.offset, r.timestamp)).collect();
    sorted.sort_unstable();
    assert!(
        sorted.windows(2).all(|w| w[0].1 <= w[1].1),
        "one producer, one partition: timestamps never go down"
    );
    let (first_time, last_time) = (sorted[0].1, sorted[sorted.len() - 1].1);
    for time in first_time - 1..=last_time + 1 {
        let expected = first_at.range(time..).next().map(|(_, offset)| *offset);
        let answer = consumer
            .offsets_for_times(&BTreeMap::from([(tp.clone(), time)]))
            .await
            .unwrap()
            .get(&tp)
            .copied()
            .flatten()
            .map(|(offset, _)| offset);
        assert_eq!(answer, expected, "ListOffsets for time {time}");
    }
    eprintln!(
        "S6b: {} segments, {seek_to} seeks in {seeks:?}, {} timestamps ({} distinct) in {:?} in all",
        logs.len(),
        last_time - first_time + 3,
        first_at.len(),
        started.elapsed()
    );
    for ext in ["index", "timeindex"] {
        assert!(
            oldest.with_extension(ext).exists(),
            "the {ext} of {} was rebuilt",
            oldest.display()
        );
    }
    let _ = consumer.close().await;
    broker.kill().unwrap();
    drop(work);
}
