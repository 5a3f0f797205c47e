//! The aborted-transaction index: its contents, its file, and its
//! rebuild after a crash, a lost file or a torn entry; segment roll and
//! deletion.

use super::support::{batch, segment_path, small_config};
use super::transactions::{append_txn, marker};
use crate::storage::{LogConfig, PartitionLog, StorageError};

/// Producer 1 aborts 0..=1 (marker 4), producer 2 commits 2..=3 (marker
/// 5), producer 3 aborts 6 (marker 7): returns the log.
fn three_transactions(dir: &std::path::Path, config: LogConfig) -> PartitionLog {
    let mut log = PartitionLog::open(dir, config).expect("open");
    assert_eq!(append_txn(&mut log, (1, 0, 0), 2), 0);
    assert_eq!(append_txn(&mut log, (2, 0, 0), 2), 2);
    assert_eq!(
        log.append_marker(marker(1, 0, false), 0, 0)
            .expect("abort 1"),
        4
    );
    assert_eq!(
        log.append_marker(marker(2, 0, true), 0, 0)
            .expect("commit 2"),
        5
    );
    assert_eq!(append_txn(&mut log, (3, 0, 0), 1), 6);
    assert_eq!(
        log.append_marker(marker(3, 0, false), 0, 0)
            .expect("abort 3"),
        7
    );
    log
}

#[test]
fn storage_aborts_are_indexed_and_found_by_range() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = three_transactions(dir.path(), LogConfig::default());
    assert_eq!(log.aborted_transactions(0, 8), vec![(1, 0), (3, 6)]);
    assert_eq!(log.aborted_transactions(2, 6), vec![(1, 0)], "1 ends at 4");
    assert_eq!(log.aborted_transactions(5, 8), vec![(3, 6)]);
    assert_eq!(
        log.aborted_transactions(0, 6),
        vec![(1, 0)],
        "3 starts at 6"
    );
    assert!(log.aborted_transactions(8, 8).is_empty());
    // Kafka's file layout: 34-byte big-endian entries.
    let bytes = std::fs::read(segment_path(dir.path(), 0, "txnindex")).expect("index");
    assert_eq!(bytes.len(), 2 * 34);
    let mut first = Vec::new();
    first.extend_from_slice(&0i16.to_be_bytes());
    first.extend_from_slice(&1i64.to_be_bytes()); // producer
    first.extend_from_slice(&0i64.to_be_bytes()); // first offset
    first.extend_from_slice(&4i64.to_be_bytes()); // marker
    first.extend_from_slice(&2i64.to_be_bytes()); // LSO: 2 still open
    assert_eq!(&bytes[..34], &first[..]);
    assert_eq!(
        &bytes[34 + 26..],
        &8i64.to_be_bytes(),
        "nothing open after 7"
    );
}

#[test]
fn storage_txn_index_is_rebuilt_when_lost_or_after_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    three_transactions(dir.path(), LogConfig::default())
        .close()
        .expect("close");
    let index = segment_path(dir.path(), 0, "txnindex");
    let original = std::fs::read(&index).expect("index");
    // Lost after a clean close: rebuilt from the log.
    std::fs::remove_file(&index).expect("remove");
    let log = PartitionLog::open(dir.path(), LogConfig::default()).expect("reopen");
    assert_eq!(log.aborted_transactions(0, 8), vec![(1, 0), (3, 6)]);
    drop(log);
    assert_eq!(std::fs::read(&index).expect("rebuilt"), original);
    // The previous open removed the clean marker: this one recovers the
    // segment (unclean) and rebuilds its index from the validated log.
    let log = PartitionLog::open(dir.path(), LogConfig::default()).expect("unclean");
    assert_eq!(log.open_report().segments_recovered, 1);
    assert_eq!(log.aborted_transactions(0, 8), vec![(1, 0), (3, 6)]);
    log.close().expect("close");
    assert_eq!(std::fs::read(&index).expect("rebuilt"), original);
    // An abort after the snapshot, then a crash: the recovered segment
    // keeps the entries before the snapshot and replays the one after.
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).expect("reopen");
    assert_eq!(append_txn(&mut log, (5, 0, 0), 1), 8);
    log.append_marker(marker(5, 0, false), 0, 0)
        .expect("abort 5");
    drop(log);
    let log = PartitionLog::open(dir.path(), LogConfig::default()).expect("after crash");
    assert!(!log.open_report().producer_state_rebuilt, "snapshot used");
    assert_eq!(
        log.aborted_transactions(0, 10),
        vec![(1, 0), (3, 6), (5, 8)]
    );
    assert_eq!(std::fs::metadata(&index).expect("index").len(), 3 * 34);
}

#[test]
fn storage_torn_txn_index_entry_is_cut() {
    let dir = tempfile::tempdir().expect("temp dir");
    three_transactions(dir.path(), LogConfig::default())
        .close()
        .expect("close");
    let index = segment_path(dir.path(), 0, "txnindex");
    let mut bytes = std::fs::read(&index).expect("index");
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9, 0, 0]);
    std::fs::write(&index, &bytes).expect("tear");
    let log = PartitionLog::open(dir.path(), LogConfig::default()).expect("reopen");
    assert_eq!(log.aborted_transactions(0, 8), vec![(1, 0), (3, 6)]);
    assert_eq!(std::fs::metadata(&index).expect("index").len(), 2 * 34);
}

#[test]
fn storage_aborts_across_rolls_and_retention() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
    let first = append_txn(&mut log, (4, 0, 0), 2);
    // Fill segments so the marker lands several segments later.
    let mut seq = 2;
    while log.segment_count() < 3 {
        log.append(&batch(4, 40, 1_000), 0, 0).expect("filler");
        append_txn(&mut log, (4, 0, seq), 1);
        seq += 1;
    }
    assert_eq!(log.last_stable_offset(), first);
    let marker_offset = log.append_marker(marker(4, 0, false), 0, 0).expect("abort");
    let marker_segment = *log.segment_base_offsets().last().expect("segments");
    assert!(marker_segment > 0);
    assert!(segment_path(dir.path(), marker_segment, "txnindex").exists());
    assert_eq!(
        std::fs::metadata(segment_path(dir.path(), 0, "txnindex"))
            .expect("first segment's index")
            .len(),
        0,
        "the entry is in the marker's segment"
    );
    // A fetch from the first segment learns of the abort.
    assert_eq!(log.aborted_transactions(0, 1), vec![(4, 0)]);
    assert_eq!(
        log.aborted_transactions(marker_offset, marker_offset + 1),
        vec![(4, 0)]
    );
    // Deleting the first segments removes their index files too; the
    // entry stays with its marker.
    let bases = log.segment_base_offsets();
    log.delete_records_before(bases[1]).expect("delete records");
    assert!(!segment_path(dir.path(), 0, "txnindex").exists());
    assert_eq!(
        log.aborted_transactions(bases[1], marker_offset),
        vec![(4, 0)]
    );
    log.close().expect("close");
    let log = PartitionLog::open(dir.path(), small_config()).expect("reopen");
    assert_eq!(
        log.aborted_transactions(bases[1], marker_offset),
        vec![(4, 0)]
    );
}

#[test]
fn storage_retention_keeps_open_transactions_and_their_lso() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        retention_bytes: Some(1),
        producer_id_expiration_ms: 1_000,
        ..small_config()
    };
    let mut log = PartitionLog::open(dir.path(), config).expect("open");
    assert_eq!(append_txn(&mut log, (8, 0, 0), 2), 0);
    while log.segment_count() < 3 {
        log.append(&batch(4, 40, 1_000), 0, 0).expect("filler");
    }
    // Retention deletes the open transaction's segment, and the producer
    // is long idle: it is kept anyway, and the LSO stays at the log start.
    assert!(log.enforce_retention(1_000_000).expect("retention") > 0);
    let start = log.log_start_offset();
    assert!(start > 0);
    assert_eq!(log.producer_count(), 1);
    assert_eq!(log.last_stable_offset(), start, "still undecided");
    let end = log.append_marker(marker(8, 0, false), 0, 0).expect("abort");
    assert_eq!(log.last_stable_offset(), end + 1);
    assert_eq!(log.aborted_transactions(start, end + 1), vec![(8, 0)]);
}

#[test]
fn storage_failed_abort_index_write_takes_the_log_dir_offline() {
    use crate::storage::{FaultKind, FaultPoint, StorageFaults};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).expect("open");
    let faults = StorageFaults::new();
    log.set_faults(faults.clone());
    append_txn(&mut log, (6, 0, 0), 1);
    // A commit writes no index entry: unaffected.
    faults.inject(FaultPoint::IndexWrite, FaultKind::Io, 1);
    log.append_marker(marker(6, 0, true), 0, 0).expect("commit");
    append_txn(&mut log, (6, 0, 1), 1);
    let failed = log
        .append_marker(marker(6, 0, false), 0, 0)
        .expect_err("the abort cannot be indexed");
    assert_eq!(failed.kafka_error_code(), 56, "{failed}");
    assert_eq!(faults.hits(FaultPoint::IndexWrite), 1);
    let offline = log
        .read_isolated(0, usize::MAX, true, true)
        .expect_err("offline");
    assert!(
        matches!(offline, StorageError::LogDirOffline { .. }),
        "{offline}"
    );
}
