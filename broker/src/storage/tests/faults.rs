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
    log.append(&mut batch(2, 40, 500), 0, 0).expect("first");
    for kind in [FaultKind::NoSpace, FaultKind::Io] {
        faults.inject(FaultPoint::IndexWrite, kind, 1);
        let end = log.log_end_offset();
        let result = log
            .append(&mut three_batches(), 0, 0)
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
    log.append(&mut batch(2, 40, 500), 0, 0).expect("first");
    faults.inject(FaultPoint::IndexWrite, FaultKind::Io, 1);
    let first = log.append(&mut idempotent_batch((9, 0, 0), 3), 0, 0);
    // Whatever the answer, a retry must not append the batch a second time.
    let retry = log
        .append(&mut idempotent_batch((9, 0, 0), 3), 0, 0)
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
    log.append(&mut batch(2, 40, 500), 0, 0).expect("first");
    faults.inject(FaultPoint::IndexWrite, FaultKind::NoSpace, -1);
    for _ in 0..4 {
        log.append(&mut three_batches(), 0, 0).expect("append");
    }
    faults.clear(FaultPoint::IndexWrite);
    log.append(&mut batch(1, 5, 9_000), 0, 0).expect("after");
    let end = log.log_end_offset();
    let max = log.max_timestamp();
    log.close().expect("close");
    let log = PartitionLog::open(dir.path(), small_config()).expect("reopen");
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(log.max_timestamp(), max);
    assert_consistent(&log);
}
