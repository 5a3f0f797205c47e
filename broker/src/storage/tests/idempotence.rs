//! Idempotent producers: duplicates, sequence gaps, fencing, and the state
//! surviving a restart.

use super::support::{batch, idempotent_batch, small_config};
use crate::storage::{LogConfig, PartitionLog, StorageError};

fn append(
    log: &mut PartitionLog,
    producer: (i64, i16, i32),
    count: usize,
) -> Result<crate::storage::partition_log::AppendResult, StorageError> {
    log.append(&idempotent_batch(producer, count), 0, 0)
}

#[test]
fn storage_duplicate_batch_returns_original_offsets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).expect("open");
    log.append(&batch(2, 5, 1), 0, 0).expect("plain batch");
    let first = append(&mut log, (42, 0, 0), 3).expect("first");
    assert_eq!(
        (first.base_offset, first.last_offset, first.duplicate),
        (2, 4, false)
    );
    append(&mut log, (42, 0, 3), 2).expect("second");
    let end = log.log_end_offset();
    let size = log.size_bytes();
    let retry = append(&mut log, (42, 0, 0), 3).expect("retry");
    assert_eq!(
        (retry.base_offset, retry.last_offset, retry.duplicate),
        (2, 4, true)
    );
    assert_eq!(
        (log.log_end_offset(), log.size_bytes()),
        (end, size),
        "nothing written"
    );
}

#[test]
fn storage_sequence_gap_and_fencing_are_rejected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).expect("open");
    append(&mut log, (7, 3, 0), 2).expect("first");
    let gap = append(&mut log, (7, 3, 5), 1).expect_err("gap");
    assert!(
        matches!(
            gap,
            StorageError::OutOfOrderSequence {
                expected: 2,
                found: 5,
                ..
            }
        ),
        "{gap}"
    );
    assert_eq!(gap.kafka_error_code(), 45);
    let fenced = append(&mut log, (7, 2, 2), 1).expect_err("old epoch");
    assert_eq!(fenced.kafka_error_code(), 47, "{fenced}");
    let bad_bump = append(&mut log, (7, 4, 2), 1).expect_err("new epoch must start at 0");
    assert_eq!(bad_bump.kafka_error_code(), 45);
    assert_eq!(log.log_end_offset(), 2, "rejected batches are not written");
    append(&mut log, (7, 4, 0), 1).expect("bumped epoch from 0");
    assert_eq!(
        append(&mut log, (7, 3, 2), 1)
            .expect_err("now fenced")
            .kafka_error_code(),
        47
    );
    // A gap inside one multi-batch append rejects the whole append.
    let mut two = idempotent_batch((7, 4, 1), 1);
    two.extend_from_slice(&idempotent_batch((7, 4, 3), 1));
    assert_eq!(
        log.append(&two, 0, 0).expect_err("gap").kafka_error_code(),
        45
    );
    let mut two = idempotent_batch((7, 4, 1), 1);
    two.extend_from_slice(&idempotent_batch((7, 4, 2), 1));
    assert_eq!(log.append(&two, 0, 0).expect("in order").last_offset, 4);
}

#[test]
fn storage_producer_state_survives_clean_and_unclean_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
    for seq in 0..20 {
        append(&mut log, (9, 1, seq * 2), 2).expect("append");
        log.append(&batch(1, 30, 5), 0, 0).expect("plain");
    }
    append(&mut log, (10, 0, 0), 1).expect("second producer");
    assert!(log.segment_count() > 1);
    let expect_state = |log: &mut PartitionLog| {
        assert_eq!(log.producer_count(), 2);
        let retry = append(log, (9, 1, 38), 2).expect("retry of the last batch");
        assert!(retry.duplicate);
        assert_eq!(
            append(log, (9, 1, 41), 1)
                .expect_err("gap")
                .kafka_error_code(),
            45
        );
    };
    expect_state(&mut log);
    log.close().expect("close");

    let mut log = PartitionLog::open(dir.path(), small_config()).expect("clean reopen");
    assert!(
        !log.open_report().producer_state_rebuilt,
        "snapshot used after a clean close"
    );
    expect_state(&mut log);
    drop(log); // crash: no clean marker; the snapshot of the clean close stays

    let mut log = PartitionLog::open(dir.path(), small_config()).expect("unclean reopen");
    assert!(!log.open_report().clean_shutdown);
    assert!(
        !log.open_report().producer_state_rebuilt,
        "snapshots are used after a crash too (the headers after them are replayed)"
    );
    expect_state(&mut log);
    append(&mut log, (9, 1, 40), 1).expect("next in order");
    drop(log);

    // Without any snapshot the state is rebuilt from the headers.
    std::fs::remove_file(dir.path().join("producer-state.snapshot")).expect("remove snapshot");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("rebuild");
    assert!(log.open_report().producer_state_rebuilt);
    assert_eq!(log.producer_count(), 2);
    append(&mut log, (9, 1, 41), 1).expect("next in order after a rebuild");
}

#[test]
fn storage_producer_snapshot_of_a_roll_plus_replay_survives_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
    let mut seq = 0;
    // Enough to roll a few times (snapshots at each roll) and go on after.
    while log.segment_count() < 3 {
        append(&mut log, (21, 0, seq), 2).expect("append");
        seq += 2;
    }
    append(&mut log, (22, 0, 0), 1).expect("second producer after the roll");
    let end = log.log_end_offset();
    drop(log); // crash: never closed

    let mut log = PartitionLog::open(dir.path(), small_config()).expect("unclean reopen");
    assert!(
        !log.open_report().producer_state_rebuilt,
        "the roll's snapshot is used"
    );
    assert_eq!(log.log_end_offset(), end);
    assert_eq!(
        log.producer_count(),
        2,
        "the producer after the snapshot is replayed"
    );
    let retry = append(&mut log, (21, 0, seq - 2), 2).expect("retry of the last batch");
    assert!(retry.duplicate);
    assert_eq!(
        append(&mut log, (22, 0, 5), 1)
            .expect_err("a gap for the replayed producer")
            .kafka_error_code(),
        45
    );
}

#[test]
fn storage_producer_snapshot_past_the_log_end_is_discarded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
    append(&mut log, (31, 0, 0), 1).expect("append");
    for _ in 0..30 {
        log.append(&batch(3, 40, 5), 0, 0).expect("plain");
    }
    log.close().expect("close: snapshot at the log end");
    // Lose the last segment, as if recovery had cut it away.
    let log = PartitionLog::open(dir.path(), small_config()).expect("reopen");
    let last = *log.segment_base_offsets().last().expect("segments");
    drop(log);
    for suffix in ["log", "index", "timeindex"] {
        std::fs::remove_file(dir.path().join(format!("{last:020}.{suffix}"))).expect("remove");
    }
    let log = PartitionLog::open(dir.path(), small_config()).expect("reopen short");
    assert!(
        log.open_report().producer_state_rebuilt,
        "the snapshot was beyond the log end"
    );
    assert!(
        !dir.path().join("producer-state.snapshot").exists(),
        "and is deleted"
    );
}

#[test]
fn storage_idle_producers_expire_after_producer_id_expiration_ms() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        producer_id_expiration_ms: 1_000,
        ..small_config()
    };
    let mut log = PartitionLog::open(dir.path(), config).expect("open");
    log.append(&idempotent_batch((41, 0, 0), 1), 0, 10_000)
        .expect("append at 10 s");
    log.append(&idempotent_batch((42, 0, 0), 1), 0, 10_500)
        .expect("append at 10.5 s");
    log.enforce_retention(10_999).expect("retention");
    assert_eq!(log.producer_count(), 2, "not idle long enough");
    log.enforce_retention(11_000).expect("retention");
    assert_eq!(log.producer_count(), 1, "41 expired, 42 not yet");
    // An expired producer is unknown: any sequence is accepted (KIP-360).
    log.append(&idempotent_batch((41, 0, 7), 1), 0, 11_001)
        .expect("accepted as a new producer");
}

#[test]
fn storage_deleted_records_forget_their_producers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
    append(&mut log, (5, 0, 0), 1).expect("append");
    for _ in 0..10 {
        log.append(&batch(3, 40, 5), 0, 0).expect("plain");
    }
    log.delete_records_before(10).expect("delete records");
    assert_eq!(log.producer_count(), 0);
    // KIP-360: a forgotten producer may continue with any sequence.
    append(&mut log, (5, 0, 17), 1).expect("accepted");
}
