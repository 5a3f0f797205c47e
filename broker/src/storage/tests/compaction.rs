//! The log cleaner: latest record per key, offsets kept, tombstones,
//! transactions, the last stable offset, and a crash at each step of the
//! swap.

use std::sync::Arc;

use bytes::Bytes;
use durian_core::record::{decode_records, BatchScanner, BatchWriter, NO_HEADERS};

use super::support::small_config;
use super::transactions::marker;
use crate::storage::{
    CleanerConfig, CleanupPolicy, FaultKind, FaultPoint, LogConfig, PartitionLog, StorageError,
    StorageFaults,
};

/// Time of the appended records.
const T: i64 = 1_700_000_000_000;
/// A cleaning time at which tombstones of `T` are still kept.
pub(super) const SOON: i64 = T + 1_000;
/// A cleaning time past `delete.retention.ms` (1 day) after `T`.
const LATER: i64 = T + 2 * 86_400_000;

pub(super) type Row = (i64, Option<Bytes>, Option<Bytes>);

pub(super) fn compacted() -> LogConfig {
    LogConfig {
        cleanup_policy: CleanupPolicy {
            delete: false,
            compact: true,
        },
        ..small_config()
    }
}

/// One batch of `(key, value)` records (value `None`: a tombstone).
fn keyed(
    records: &[(&str, Option<&str>)],
    producer: Option<(i64, i16, i32)>,
    txn: bool,
) -> Vec<u8> {
    let mut builder = BatchWriter::builder().transactional(txn);
    if let Some((id, epoch, seq)) = producer {
        builder = builder.producer(id, epoch, seq);
    }
    let mut writer = builder.build();
    for (key, value) in records {
        writer
            .try_append(
                T,
                Some(key.as_bytes()),
                value.map(str::as_bytes),
                NO_HEADERS,
            )
            .expect("encode");
    }
    writer.finish().expect("finish").to_vec()
}

pub(super) fn put(log: &mut PartitionLog, key: &str, value: Option<&str>) -> i64 {
    log.append(&keyed(&[(key, value)], None, false), 0, T)
        .expect("append")
        .base_offset
}

/// Every (offset, key, value) a reader from the log start gets.
pub(super) fn read_all(log: &PartitionLog) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let read = log.read(offset, usize::MAX, true).expect("read");
        if read.records.is_empty() {
            break;
        }
        let mut scanner = BatchScanner::new(&read.records);
        for batch in scanner.by_ref() {
            let batch = batch.expect("stored batches parse");
            let bytes = Bytes::copy_from_slice(
                &read.records[batch.position..batch.position + batch.header.total_len()],
            );
            offset = batch.header.next_offset();
            if batch.header.is_control() {
                continue;
            }
            for record in decode_records(&bytes).expect("decode") {
                rows.push((record.offset, record.key, record.value));
            }
        }
    }
    rows
}

pub(super) fn row(offset: i64, key: &str, value: Option<&str>) -> Row {
    (
        offset,
        Some(Bytes::copy_from_slice(key.as_bytes())),
        value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
    )
}

/// What a cleaned log must hold: per key its latest record below `upper`,
/// and every record from `upper` on.
pub(super) fn expected(all: &[Row], upper: i64) -> Vec<Row> {
    all.iter()
        .enumerate()
        .filter(|(i, (offset, key, _))| {
            *offset >= upper
                || !all[i + 1..]
                    .iter()
                    .any(|(later, k, _)| k == key && *later < upper)
        })
        .map(|(_, r)| r.clone())
        .collect()
}

/// 60 updates of 5 keys, then a few more to fill the active segment.
pub(super) fn fill(log: &mut PartitionLog) -> Vec<Row> {
    for i in 0..60 {
        let key = format!("k{}", i % 5);
        put(log, &key, Some(&format!("v{i}")));
    }
    read_all(log)
}

pub(super) fn sealed_end(log: &PartitionLog) -> i64 {
    *log.segment_base_offsets().last().expect("a segment")
}

#[test]
fn storage_cleaning_keeps_the_latest_record_per_key_at_its_offset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), compacted()).expect("open");
    let before = fill(&mut log);
    assert!(log.segment_count() > 3, "small segments roll");
    let upper = sealed_end(&log);
    let outcome = log
        .clean(SOON, &CleanerConfig::default())
        .expect("clean")
        .expect("due: everything is dirty");
    assert_eq!(outcome.cleaned_up_to, upper);
    assert!(outcome.segments_rewritten > 0 && outcome.bytes_after < outcome.bytes_before);
    let after = read_all(&log);
    assert_eq!(after, expected(&before, upper));
    assert_eq!(outcome.records_removed as usize, before.len() - after.len());
    // Nothing new is dirty: the next pass has nothing to do.
    assert_eq!(
        log.clean(SOON, &CleanerConfig::default()).expect("clean"),
        None
    );
    // The cleaned segments survive a clean restart and a crash alike.
    log.close().expect("close");
    let log = PartitionLog::open(dir.path(), compacted()).expect("reopen");
    assert_eq!(read_all(&log), expected(&before, upper));
    assert!(
        log.open_report().problems.is_empty(),
        "{:?}",
        log.open_report()
    );
    drop(log);
    let log = PartitionLog::open(dir.path(), compacted()).expect("reopen after a crash");
    assert_eq!(read_all(&log), expected(&before, upper));
}

#[test]
fn storage_delete_policy_logs_are_not_cleaned_and_compact_logs_not_retained() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
    fill(&mut log);
    assert_eq!(
        log.clean(SOON, &CleanerConfig::default()).expect("clean"),
        None
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(
        dir.path(),
        LogConfig {
            retention_ms: Some(1),
            ..compacted()
        },
    )
    .expect("open");
    let before = fill(&mut log);
    assert_eq!(log.enforce_retention(LATER).expect("retention"), 0);
    assert_eq!(read_all(&log), before);
}

#[test]
fn storage_tombstones_stay_for_delete_retention_ms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), compacted()).expect("open");
    fill(&mut log);
    let tombstone = put(&mut log, "k1", None);
    fill(&mut log);
    let before = read_all(&log);
    let upper = sealed_end(&log);
    assert!(tombstone < upper);
    log.clean(SOON, &CleanerConfig::default())
        .expect("clean")
        .expect("due");
    let after = read_all(&log);
    assert_eq!(after, expected(&before, upper));
    // Later values of k1 supersede the tombstone itself.
    assert!(!after.iter().any(|(o, _, _)| *o == tombstone));

    // A tombstone that is the latest record of its key stays...
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), compacted()).expect("open");
    fill(&mut log);
    let tombstone = put(&mut log, "k1", None);
    for i in 0..40 {
        put(&mut log, &format!("other{}", i % 3), Some("x"));
    }
    log.clean(SOON, &CleanerConfig::default())
        .expect("clean")
        .expect("due");
    let rows = read_all(&log);
    assert!(
        rows.contains(&row(tombstone, "k1", None)),
        "kept within delete.retention.ms"
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.1.as_deref() == Some(&b"k1"[..]))
            .count(),
        1
    );
    // ...until delete.retention.ms has passed: then the key is gone.
    for i in 0..40 {
        put(&mut log, &format!("more{}", i % 3), Some("y"));
    }
    log.clean(LATER, &CleanerConfig::default())
        .expect("clean")
        .expect("due");
    let rows = read_all(&log);
    assert!(
        !rows.iter().any(|r| r.1.as_deref() == Some(&b"k1"[..])),
        "{rows:?}"
    );
}

#[test]
fn storage_aborted_transactions_go_control_batches_stay_and_the_lso_bounds_cleaning() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), compacted()).expect("open");
    put(&mut log, "a", Some("plain"));
    // Producer 5 commits "a"=committed; producer 6 aborts "a"=aborted.
    log.append(
        &keyed(&[("a", Some("committed"))], Some((5, 0, 0)), true),
        0,
        T,
    )
    .expect("txn");
    let aborted = log
        .append(
            &keyed(
                &[("a", Some("aborted")), ("b", Some("aborted"))],
                Some((6, 0, 0)),
                true,
            ),
            0,
            T,
        )
        .expect("txn")
        .base_offset;
    let commit = log.append_marker(marker(5, 0, true), 0, T).expect("commit");
    let abort = log.append_marker(marker(6, 0, false), 0, T).expect("abort");
    fill(&mut log);
    // An open transaction of producer 7 pins the last stable offset.
    let open = log
        .append(&keyed(&[("z", Some("open"))], Some((7, 0, 0)), true), 0, T)
        .expect("txn")
        .base_offset;
    fill(&mut log);
    assert_eq!(log.last_stable_offset(), open);
    let outcome = log
        .clean(SOON, &CleanerConfig::default())
        .expect("clean")
        .expect("due");
    assert!(outcome.cleaned_up_to <= open, "never past the LSO");
    let rows = read_all(&log);
    assert!(
        !rows
            .iter()
            .any(|(o, _, _)| *o == aborted || *o == aborted + 1),
        "aborted records removed"
    );
    assert!(
        rows.iter().any(|(o, _, _)| *o == open),
        "the open transaction is untouched"
    );
    // Both markers are still there.
    for offset in [commit, abort] {
        let read = log.read(offset, usize::MAX, true).expect("read");
        let mut scanner = BatchScanner::new(&read.records);
        let first = scanner.next().expect("a batch").expect("parses").header;
        assert!(first.is_control() && first.base_offset == offset);
    }
}

#[test]
fn storage_compacted_topics_refuse_keyless_records() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), compacted()).expect("open");
    let mut writer = BatchWriter::builder().build();
    writer
        .try_append(T, Some(b"k"), Some(b"v"), NO_HEADERS)
        .expect("encode");
    writer
        .try_append(T, None, Some(b"v"), NO_HEADERS)
        .expect("encode");
    let keyless = writer.finish().expect("finish").to_vec();
    let err = log.append(&keyless, 0, T).expect_err("refused");
    assert!(matches!(err, StorageError::InvalidRecord { .. }), "{err}");
    assert_eq!(err.kafka_error_code(), 87);
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn storage_a_too_small_offset_map_marks_the_partition_failed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), compacted()).expect("open");
    fill(&mut log);
    let tiny = CleanerConfig {
        dedupe_buffer_bytes: 10,
    };
    let before = read_all(&log);
    assert!(log.clean(SOON, &tiny).is_err());
    assert!(log.cleaner_failure().is_some());
    assert_eq!(
        log.clean(SOON, &CleanerConfig::default()).expect("skipped"),
        None
    );
    assert_eq!(read_all(&log), before);
    // New settings clear the mark.
    log.set_config(LogConfig {
        min_compaction_lag_ms: 1,
        ..compacted()
    })
    .expect("set config");
    assert!(log
        .clean(SOON + 10_000, &CleanerConfig::default())
        .expect("clean")
        .is_some());
}

#[test]
fn storage_a_small_offset_map_cleans_in_several_passes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), compacted()).expect("open");
    for i in 0..80 {
        put(&mut log, &format!("key{i}"), Some("v"));
    }
    // Room for about 20 keys: one pass cannot map the whole dirty section.
    let small = CleanerConfig {
        dedupe_buffer_bytes: 20 * (4 + 64),
    };
    let first = log.clean(SOON, &small).expect("clean").expect("due");
    assert!(first.cleaned_up_to < sealed_end(&log));
    let second = log
        .clean(SOON, &small)
        .expect("clean")
        .expect("still dirty");
    assert!(second.cleaned_up_to > first.cleaned_up_to);
}

pub(super) fn dir_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn storage_a_cleaner_failure_before_the_swap_commits_leaves_the_old_log() {
    for point in [FaultPoint::CleanerWrite, FaultPoint::CleanerSwap] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut log = PartitionLog::open(dir.path(), compacted()).expect("open");
        let before = fill(&mut log);
        let files = dir_files(dir.path());
        let faults = StorageFaults::new();
        log.set_faults(Arc::clone(&faults));
        faults.inject(point, FaultKind::Io, 1);
        assert!(
            log.clean(SOON, &CleanerConfig::default()).is_err(),
            "{point:?}"
        );
        assert_eq!(faults.hits(point), 1);
        assert_eq!(read_all(&log), before, "{point:?}: the log is unchanged");
        assert_eq!(dir_files(dir.path()), files, "{point:?}: no leftovers");
        // A crash now: the old segments open as they were.
        drop(log);
        let log = PartitionLog::open(dir.path(), compacted()).expect("reopen");
        assert_eq!(read_all(&log), before);
    }
}

#[test]
fn storage_a_crash_after_the_swap_committed_finishes_it_on_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), compacted()).expect("open");
    let before = fill(&mut log);
    let upper = sealed_end(&log);
    let faults = StorageFaults::new();
    log.set_faults(Arc::clone(&faults));
    faults.inject(FaultPoint::CleanerReplace, FaultKind::Io, 1);
    assert!(log.clean(SOON, &CleanerConfig::default()).is_err());
    // The indexes were replaced, the log's swap is still pending.
    assert!(dir_files(dir.path())
        .iter()
        .any(|f| f.ends_with(".log.swap")));
    // The directory went offline rather than serve the old copy.
    assert!(log.read(0, 1, true).is_err());
    drop(log);
    let log = PartitionLog::open(dir.path(), compacted()).expect("reopen");
    assert!(!dir_files(dir.path())
        .iter()
        .any(|f| f.ends_with(".swap") || f.ends_with(".cleaned")));
    assert!(log
        .open_report()
        .problems
        .iter()
        .any(|p| p.contains("swap")));
    // The first segment was swapped, the others were never touched.
    let rows = read_all(&log);
    let first_end = log.segment_base_offsets()[1];
    let latest = expected(&before, upper);
    let first_expected: Vec<_> = latest.iter().filter(|r| r.0 < first_end).cloned().collect();
    let first_rows: Vec<_> = rows.iter().filter(|r| r.0 < first_end).cloned().collect();
    assert_eq!(first_rows, first_expected);
    let rest: Vec<_> = before
        .iter()
        .filter(|r| r.0 >= first_end)
        .cloned()
        .collect();
    assert_eq!(rows[first_rows.len()..].to_vec(), rest);
}

#[test]
fn storage_leftovers_of_an_uncommitted_swap_are_removed_on_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), compacted()).expect("open");
    let before = fill(&mut log);
    drop(log);
    let files = dir_files(dir.path());
    let path = |name: &str| dir.path().join(name);
    let base = "00000000000000000000";
    // A crash while the .cleaned files were written, and one between the
    // index renames and the log rename (the commit point).
    std::fs::copy(
        path(&format!("{base}.log")),
        path(&format!("{base}.log.cleaned")),
    )
    .expect("copy");
    std::fs::write(path(&format!("{base}.index.cleaned")), b"junk").expect("write");
    std::fs::write(path(&format!("{base}.timeindex.swap")), b"junk").expect("write");
    let log = PartitionLog::open(dir.path(), compacted()).expect("reopen");
    assert_eq!(read_all(&log), before);
    let mut now = dir_files(dir.path());
    now.retain(|f| !f.starts_with(".clean"));
    let mut was = files;
    was.retain(|f| !f.starts_with(".clean"));
    assert_eq!(now, was);
}

#[test]
fn storage_the_cleaner_checkpoint_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manager = crate::storage::LogManager::open(dir.path(), compacted()).expect("open");
    let shared = manager
        .create_partition("t", 0, uuid::Uuid::from_u128(7), compacted())
        .expect("create");
    let before = fill(&mut crate::storage::lock_log(&shared));
    let cleaned = manager
        .clean_all(SOON, &CleanerConfig::default())
        .expect("clean");
    assert_eq!(cleaned.len(), 1);
    let upper = cleaned[0].1.cleaned_up_to;
    let checkpoint = std::fs::read_to_string(dir.path().join("cleaner-offset-checkpoint"))
        .expect("the cleaner checkpoint is written");
    assert!(checkpoint.contains(&format!("t 0 {upper}")), "{checkpoint}");
    manager.close_all().expect("close");
    drop((shared, manager));
    let manager = crate::storage::LogManager::open(dir.path(), compacted()).expect("reopen");
    let shared = manager.get("t", 0).expect("the partition");
    shared
        .lock()
        .expect("lock")
        .set_config(compacted())
        .expect("config");
    // The cleaned part is not dirty again: nothing to do after the restart.
    assert_eq!(
        manager
            .clean_all(SOON, &CleanerConfig::default())
            .expect("clean"),
        vec![]
    );
    assert_eq!(
        read_all(&crate::storage::lock_log(&shared)),
        expected(&before, upper)
    );
}
