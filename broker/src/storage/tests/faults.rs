//! A failing disk: ENOSPC and EIO injected at the storage's fault points.
//! Never a panic, never a silently dropped or duplicated record.

use std::sync::Arc;

use super::support::{all_headers, batch, idempotent_batch, small_config};
use crate::storage::{FaultKind, FaultPoint, PartitionLog, StorageFaults};

fn open_with_faults(dir: &std::path::Path) -> (PartitionLog, Arc<StorageFaults>) {
    let mut log = PartitionLog::open(dir, small_config()).expect("open");
    let faults = StorageFaults::new();
    log.set_faults(faults.clone());
    (log, faults)
}

/// The log's offsets agree with its bytes: batches are contiguous from the
/// start and the last one ends at the log end offset.
fn assert_consistent(log: &PartitionLog) {
    let headers = all_headers(log);
    for pair in headers.windows(2) {
        assert_eq!(pair[0].next_offset(), pair[1].base_offset, "gap or overlap");
    }
    assert_eq!(
        headers.last().map_or(0, |h| h.next_offset()),
        log.log_end_offset(),
        "log end offset lags the file"
    );
}

/// Three batches in one append, each large enough to be indexed.
fn three_batches() -> Vec<u8> {
    let mut records = batch(2, 40, 1_000);
    records.extend(batch(2, 40, 2_000));
    records.extend(batch(2, 40, 3_000));
    records
}

#[test]
fn storage_index_write_failure_does_not_fail_the_append() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut log, faults) = open_with_faults(dir.path());
    log.append(&batch(2, 40, 500), 0, 0).expect("first");
    for kind in [FaultKind::NoSpace, FaultKind::Io] {
        faults.inject(FaultPoint::IndexWrite, kind, 1);
        let end = log.log_end_offset();
        let result = log
            .append(&three_batches(), 0, 0)
            .expect("the batches are in the log: the append succeeds");
        assert_eq!((result.base_offset, result.last_offset), (end, end + 5));
        assert_eq!(log.log_end_offset(), end + 6);
        assert_consistent(&log);
    }
    assert_eq!(faults.hits(FaultPoint::IndexWrite), 2);
    // Reads through the (incomplete) index find every batch.
    for offset in 0..log.log_end_offset() {
        let read = log.read(offset, 1, true).expect("read");
        let found = super::support::headers(&read.records);
        assert!(found[0].base_offset <= offset && offset <= found[0].last_offset());
    }
}

#[test]
fn storage_index_write_failure_keeps_idempotent_retries_duplicates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut log, faults) = open_with_faults(dir.path());
    log.append(&batch(2, 40, 500), 0, 0).expect("first");
    faults.inject(FaultPoint::IndexWrite, FaultKind::Io, 1);
    let first = log.append(&idempotent_batch((9, 0, 0), 3), 0, 0);
    // Whatever the answer, a retry must not append the batch a second time.
    let retry = log
        .append(&idempotent_batch((9, 0, 0), 3), 0, 0)
        .expect("retry");
    if let Ok(first) = first {
        assert_eq!(retry.base_offset, first.base_offset);
    }
    assert!(retry.duplicate, "the retry was appended again");
    assert_eq!(log.log_end_offset(), 5);
    assert_consistent(&log);
}

#[test]
fn storage_index_write_failure_is_repaired_by_recovery() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut log, faults) = open_with_faults(dir.path());
    log.append(&batch(2, 40, 500), 0, 0).expect("first");
    faults.inject(FaultPoint::IndexWrite, FaultKind::NoSpace, -1);
    for _ in 0..4 {
        log.append(&three_batches(), 0, 0).expect("append");
    }
    faults.clear(FaultPoint::IndexWrite);
    log.append(&batch(1, 5, 9_000), 0, 0).expect("after");
    let end = log.log_end_offset();
    let max = log.max_timestamp();
    log.close().expect("close");
    let log = PartitionLog::open(dir.path(), small_config()).expect("reopen");
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(log.max_timestamp(), max);
    assert_consistent(&log);
}

#[test]
fn storage_fsync_failure_takes_the_log_dir_offline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manager = crate::storage::LogManager::open(
        dir.path(),
        crate::storage::LogConfig {
            flush: crate::storage::FlushPolicy::Always,
            ..small_config()
        },
    )
    .expect("open");
    let faults = StorageFaults::new();
    manager.set_faults(faults.clone());
    let config = crate::storage::LogConfig {
        flush: crate::storage::FlushPolicy::Always,
        ..small_config()
    };
    let a = manager
        .create_partition("a", 0, uuid::Uuid::from_u128(7), config.clone())
        .expect("a");
    let b = manager
        .create_partition("b", 0, uuid::Uuid::from_u128(7), config)
        .expect("b");
    crate::storage::lock_log(&a)
        .append(&batch(2, 40, 500), 0, 0)
        .expect("acknowledged");
    faults.inject(FaultPoint::Fsync, FaultKind::Io, 1);
    let failed = crate::storage::lock_log(&a)
        .append(&batch(2, 40, 600), 0, 0)
        .expect_err("the fsync failed");
    assert_eq!(failed.kafka_error_code(), 56);
    // The fault fired once; the directory stays offline for every log.
    for log in [&a, &b] {
        let mut log = crate::storage::lock_log(log);
        let err = log
            .append(&batch(1, 5, 700), 0, 0)
            .expect_err("no further writes");
        assert_eq!(err.kafka_error_code(), 56, "{err}");
        let err = log.read(0, 1024, true).expect_err("no reads");
        assert_eq!(err.kafka_error_code(), 56, "{err}");
    }
    assert!(manager.is_offline());
    assert!(manager.checkpoint().is_err(), "no more checkpoint writes");
    drop((a, b, manager));
    // A restart recovers: the acknowledged batch is there.
    let manager = crate::storage::LogManager::open(dir.path(), small_config()).expect("reopen");
    let log = manager.get("a", 0).expect("a");
    let log = crate::storage::lock_log(&log);
    assert!(log.log_end_offset() >= 2);
    assert_consistent(&log);
}

#[test]
fn storage_failed_roll_keeps_the_old_segment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut log, faults) = open_with_faults(dir.path());
    while log.segment_count() < 2 {
        log.append(&batch(2, 40, 500), 0, 0).expect("fill");
    }
    let filled = log.segment_base_offsets();
    // Append until the next one must roll, with the roll failing.
    faults.inject(FaultPoint::Roll, FaultKind::NoSpace, -1);
    let err = loop {
        let end = log.log_end_offset();
        match log.append(&batch(2, 40, 600), 0, 0) {
            Ok(_) => assert_eq!(log.segment_base_offsets(), filled),
            Err(e) => {
                assert_eq!(log.log_end_offset(), end, "nothing appended");
                break e;
            }
        }
    };
    assert_eq!(err.kafka_error_code(), 56);
    assert_eq!(log.segment_base_offsets(), filled, "the old segment stays");
    let new_base = log.log_end_offset();
    assert!(
        !super::support::segment_path(log.dir(), new_base, "log").exists(),
        "the half-made segment is removed"
    );
    assert_consistent(&log);
    // Once the disk recovers, the same append rolls and succeeds.
    faults.clear(FaultPoint::Roll);
    log.append(&batch(2, 40, 600), 0, 0).expect("append");
    assert_eq!(log.segment_count(), filled.len() + 1);
    assert_consistent(&log);
}

#[test]
fn storage_fsync_failure_during_roll_loses_no_segment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut log, faults) = open_with_faults(dir.path());
    while log.segment_count() < 2 {
        log.append(&batch(2, 40, 500), 0, 0).expect("fill");
    }
    let before = log.segment_base_offsets();
    faults.inject(FaultPoint::Fsync, FaultKind::Io, -1);
    let end = loop {
        let end = log.log_end_offset();
        if log.append(&batch(2, 40, 600), 0, 0).is_err() {
            break end;
        }
    };
    assert_eq!(
        log.segment_base_offsets(),
        before,
        "no segment lost or added"
    );
    assert_eq!(log.log_end_offset(), end);
    drop(log);
    let log = PartitionLog::open(dir.path(), small_config()).expect("reopen");
    assert_eq!(log.log_end_offset(), end);
    assert_consistent(&log);
}

#[test]
fn storage_checkpoint_failure_keeps_the_previous_checkpoint_and_the_dir_online() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manager = crate::storage::LogManager::open(dir.path(), small_config()).expect("open");
    let faults = StorageFaults::new();
    manager.set_faults(faults.clone());
    let log = manager
        .create_partition("c", 0, uuid::Uuid::from_u128(9), small_config())
        .expect("create");
    crate::storage::lock_log(&log)
        .append(&batch(2, 40, 500), 0, 0)
        .expect("append");
    manager.checkpoint().expect("first checkpoint");
    let path = dir.path().join("log-start-offset-checkpoint");
    let before = std::fs::read(&path).expect("checkpoint file");
    for kind in [FaultKind::NoSpace, FaultKind::Io] {
        faults.inject(FaultPoint::Checkpoint, kind, 1);
        let err = manager.checkpoint().expect_err("injected");
        assert_eq!(err.kafka_error_code(), 56);
        assert_eq!(std::fs::read(&path).expect("still there"), before);
    }
    assert!(
        !manager.is_offline(),
        "a failed checkpoint is retried, not fatal"
    );
    crate::storage::lock_log(&log)
        .append(&batch(2, 40, 600), 0, 0)
        .expect("the log keeps working");
    manager.checkpoint().expect("next checkpoint");
}
