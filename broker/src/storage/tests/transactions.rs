//! Transactions in a partition log: markers, the last stable offset, and
//! both surviving a restart.

use bytes::Bytes;
use durian_core::record::{decode_records, parse_control_key, ControlRecordType};

use super::support::{batch, encode_batch, headers, small_config, Producer};
use crate::storage::layout::PRODUCER_SNAPSHOT_FILE;
use crate::storage::{LogConfig, PartitionLog, StorageError, TxnMarker};

/// A transactional batch of `count` records of producer `producer`.
pub(super) fn txn_batch(producer: Producer, count: usize) -> Vec<u8> {
    let records: Vec<_> = (0..count).map(|i| (1_000, vec![i as u8; 10])).collect();
    let mut out = encode_batch(&records, Some(producer));
    out[21..23].copy_from_slice(&0x10i16.to_be_bytes());
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

/// A marker of `producer_id` at epoch `epoch`, coordinator epoch 0.
pub(super) fn marker(producer_id: i64, epoch: i16, commit: bool) -> TxnMarker {
    TxnMarker {
        producer_id,
        producer_epoch: epoch,
        commit,
        coordinator_epoch: 0,
    }
}

/// Appends a transactional batch and returns its first offset.
pub(super) fn append_txn(log: &mut PartitionLog, producer: Producer, count: usize) -> i64 {
    log.append(&txn_batch(producer, count), 0, 0)
        .expect("transactional append")
        .base_offset
}

#[test]
fn storage_marker_is_one_control_batch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).expect("open");
    assert_eq!(append_txn(&mut log, (9, 2, 0), 3), 0);
    let offset = log
        .append_marker(
            TxnMarker {
                coordinator_epoch: 4,
                ..marker(9, 2, true)
            },
            5,
            1_700_000_000_000,
        )
        .expect("marker");
    assert_eq!((offset, log.log_end_offset()), (3, 4));
    let read = log.read(3, usize::MAX, true).expect("read");
    let found = headers(&read.records);
    assert_eq!(found.len(), 1);
    let header = found[0];
    assert!(header.is_control() && header.is_transactional());
    assert_eq!(
        (
            header.base_offset,
            header.partition_leader_epoch,
            header.producer_id,
            header.producer_epoch,
            header.base_sequence,
            header.max_timestamp
        ),
        (3, 5, 9, 2, -1, 1_700_000_000_000)
    );
    let records = decode_records(&Bytes::from(read.records.to_vec())).expect("records");
    let key = records[0].key.as_deref().expect("key");
    assert_eq!(parse_control_key(key), Ok(ControlRecordType::Commit));
    assert_eq!(records[0].value.as_deref(), Some(&[0, 0, 0, 0, 0, 4][..]));
}

#[test]
fn storage_last_stable_offset_follows_interleaved_transactions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).expect("open");
    assert_eq!(log.last_stable_offset(), 0);
    assert_eq!(append_txn(&mut log, (1, 0, 0), 2), 0); // A: 0..=1
    log.append(&batch(2, 5, 1), 0, 0).expect("plain"); // 2..=3
    assert_eq!(append_txn(&mut log, (2, 0, 0), 2), 4); // B: 4..=5
    assert_eq!(append_txn(&mut log, (1, 0, 2), 1), 6); // A again: 6
    assert_eq!(log.high_watermark(), 7);
    assert_eq!(log.last_stable_offset(), 0, "A is open from 0");
    assert_eq!(
        log.read(0, usize::MAX, true)
            .expect("read")
            .last_stable_offset,
        0
    );
    assert_eq!(
        log.append_marker(marker(1, 0, true), 0, 0)
            .expect("commit A"),
        7
    );
    assert_eq!(log.last_stable_offset(), 4, "B is open from 4");
    // A's next transaction starts after its marker.
    assert_eq!(append_txn(&mut log, (1, 0, 3), 1), 8);
    assert_eq!(log.last_stable_offset(), 4);
    log.append_marker(marker(2, 0, false), 0, 0)
        .expect("abort B");
    assert_eq!(log.last_stable_offset(), 8, "A's second transaction");
    log.append_marker(marker(1, 0, false), 0, 0)
        .expect("abort A");
    assert_eq!(log.last_stable_offset(), log.high_watermark());
    assert_eq!(log.high_watermark(), 11);
    // A marker without an open transaction is written all the same.
    assert_eq!(
        log.append_marker(marker(1, 0, true), 0, 0).expect("again"),
        11
    );
    assert_eq!(log.last_stable_offset(), 12);
}

#[test]
fn storage_markers_of_fenced_producers_and_coordinators_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).expect("open");
    append_txn(&mut log, (5, 3, 0), 1);
    let fenced = log
        .append_marker(marker(5, 2, true), 0, 0)
        .expect_err("older producer epoch");
    assert!(
        matches!(
            fenced,
            StorageError::InvalidProducerEpoch {
                producer_id: 5,
                epoch: 2,
                current: 3
            }
        ),
        "{fenced}"
    );
    assert_eq!(fenced.kafka_error_code(), 47);
    assert_eq!(log.log_end_offset(), 1, "nothing written");
    assert_eq!(log.last_stable_offset(), 0, "still open");
    let newer = TxnMarker {
        coordinator_epoch: 7,
        ..marker(5, 3, false)
    };
    log.append_marker(newer, 0, 0).expect("abort");
    let old_coordinator = log
        .append_marker(marker(5, 3, true), 0, 0)
        .expect_err("older coordinator");
    assert_eq!(old_coordinator.kafka_error_code(), 52, "{old_coordinator}");
    // A marker with a bumped epoch (the coordinator aborting for a fenced
    // producer) is accepted, and the producer restarts at sequence 0.
    let bumped = TxnMarker {
        coordinator_epoch: 7,
        ..marker(5, 4, false)
    };
    log.append_marker(bumped, 0, 0).expect("bumped epoch");
    assert_eq!(append_txn(&mut log, (5, 4, 0), 1), 3);
}

#[test]
fn storage_open_transactions_survive_clean_and_unclean_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
        append_txn(&mut log, (1, 0, 0), 2); // 0..=1, committed below
        append_txn(&mut log, (2, 0, 0), 2); // 2..=3, stays open
        let fenced = TxnMarker {
            coordinator_epoch: 3,
            ..marker(1, 0, true)
        };
        log.append_marker(fenced, 0, 0).expect("commit 1"); // 4
        log.append(&batch(1, 5, 1), 0, 0).expect("plain"); // 5
        assert_eq!(log.last_stable_offset(), 2);
        log.close().expect("close");
    }
    let log = PartitionLog::open(dir.path(), small_config()).expect("clean reopen");
    assert!(!log.open_report().producer_state_rebuilt);
    assert_eq!(log.last_stable_offset(), 2);
    drop(log);
    // No snapshot (and no clean marker): the state comes from the log.
    std::fs::remove_file(dir.path().join(PRODUCER_SNAPSHOT_FILE)).expect("remove snapshot");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("unclean reopen");
    assert!(log.open_report().producer_state_rebuilt);
    assert_eq!(log.last_stable_offset(), 2, "2's transaction is still open");
    // The replayed marker restored the coordinator epoch it carried.
    let old = log
        .append_marker(marker(1, 0, true), 0, 0)
        .expect_err("coordinator 0 is older than 3");
    assert_eq!(old.kafka_error_code(), 52);
    log.append_marker(marker(2, 0, true), 0, 0)
        .expect("commit 2");
    assert_eq!(log.last_stable_offset(), log.high_watermark());
}

#[test]
fn storage_read_committed_stops_at_the_last_stable_offset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).expect("open");
    append_txn(&mut log, (1, 0, 0), 2); // 0..=1, aborted below
    log.append(&batch(1, 5, 1), 0, 0).expect("plain"); // 2
    append_txn(&mut log, (2, 0, 0), 1); // 3, stays open
    log.append(&batch(1, 5, 1), 0, 0).expect("plain"); // 4
    log.append_marker(marker(1, 0, false), 0, 0)
        .expect("abort 1"); // 5
    assert_eq!(log.last_stable_offset(), 3);
    let committed = log.read_isolated(0, usize::MAX, true, true).expect("read");
    let offsets: Vec<_> = headers(&committed.records)
        .iter()
        .map(|h| h.base_offset)
        .collect();
    assert_eq!(offsets, vec![0, 2], "nothing from the open transaction on");
    assert_eq!(committed.last_stable_offset, 3);
    assert_eq!(committed.high_watermark, 6);
    assert_eq!(committed.aborted_transactions, Some(vec![(1, 0)]));
    // At or past the LSO a read_committed read is empty, not an error.
    let parked = log.read_isolated(3, usize::MAX, true, true).expect("read");
    assert!(parked.records.is_empty());
    assert_eq!(parked.aborted_transactions, Some(Vec::new()));
    // read_uncommitted sees everything and no aborted list.
    let all = log.read_isolated(0, usize::MAX, true, false).expect("read");
    assert_eq!(headers(&all.records).len(), 5);
    assert_eq!(all.aborted_transactions, None);
    log.append_marker(marker(2, 0, true), 0, 0)
        .expect("commit 2");
    let rest = log.read_isolated(3, usize::MAX, true, true).expect("read");
    assert_eq!(headers(&rest.records).len(), 4, "3, 4, both markers");
    assert_eq!(
        rest.aborted_transactions,
        Some(vec![(1, 0)]),
        "marker 5 is in range"
    );
}
