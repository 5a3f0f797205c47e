//! Fetch reads located as file ranges (for `sendfile`) cover exactly the
//! bytes the read path returns, or step aside for it.

use super::support::{batch, fill, small_config};
use super::transactions::{append_txn, marker};
use crate::storage::{LogConfig, PartitionLog};

/// Checks `locate_isolated` against `read_isolated` for one read: same
/// bytes, offsets and aborted transactions whenever it answers, and an
/// answer whenever the read returns records the read path can cover
/// (`must_locate`).
fn assert_same(log: &PartitionLog, offset: i64, max: usize, min_one: bool, committed: bool) {
    let read = log
        .read_isolated(offset, max, min_one, committed)
        .expect("read");
    let located = log
        .locate_isolated(offset, max, min_one, committed)
        .expect("locate");
    let Some(located) = located else {
        assert!(
            read.records.is_empty() || committed,
            "offset {offset} max {max}: {} bytes read but nothing located",
            read.records.len()
        );
        return;
    };
    let bytes = located.range.read().expect("range readable");
    assert_eq!(
        bytes, read.records,
        "offset {offset} max {max} min_one {min_one} committed {committed}"
    );
    assert!(located.result.records.is_empty());
    assert_eq!(
        (
            located.result.high_watermark,
            located.result.log_start_offset,
            located.result.last_stable_offset,
            &located.result.aborted_transactions
        ),
        (
            read.high_watermark,
            read.log_start_offset,
            read.last_stable_offset,
            &read.aborted_transactions
        )
    );
}

#[test]
fn storage_located_ranges_match_reads_at_every_offset_and_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        segment_bytes: 2048,
        ..small_config()
    };
    let mut log = PartitionLog::open(dir.path(), config).expect("open");
    fill(&mut log, 60);
    assert!(log.segment_count() > 3);
    let end = log.log_end_offset();
    for offset in 0..=end {
        for max in [0, 1, 60, 100, 150, 300, 1000, 2500, 4096, usize::MAX] {
            for min_one in [false, true] {
                for committed in [false, true] {
                    assert_same(&log, offset, max, min_one, committed);
                }
            }
        }
    }
}

/// Large segments with a sparse index: the range ends at the last batch
/// that fits, found from the index rather than by reading every header.
#[test]
fn storage_located_ranges_match_reads_with_a_sparse_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        segment_bytes: 1 << 20,
        index_interval_bytes: 1000,
        retention_ms: None,
        ..LogConfig::default()
    };
    let mut log = PartitionLog::open(dir.path(), config).expect("open");
    for i in 0..300 {
        log.append(&batch(1 + i % 7, 30 + i % 50, 1_000), 0, 0)
            .expect("append");
    }
    let end = log.log_end_offset();
    for offset in (0..=end).step_by(13) {
        for max in [200, 999, 1000, 1001, 5000, 20_000, 1 << 20] {
            assert_same(&log, offset, max, true, false);
            assert_same(&log, offset, max, false, true);
        }
    }
}

/// With a transaction open inside the segment, a read_committed read is
/// left to the read path (which cuts at the last stable offset batch by
/// batch); read_uncommitted ones are still located.
#[test]
fn storage_read_committed_below_an_open_transaction_is_not_located() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).expect("open");
    append_txn(&mut log, (1, 0, 0), 2); // 0..=1, aborted below
    log.append(&batch(1, 5, 1), 0, 0).expect("plain"); // 2
    append_txn(&mut log, (2, 0, 0), 1); // 3, stays open
    log.append(&batch(1, 5, 1), 0, 0).expect("plain"); // 4
    log.append_marker(marker(1, 0, false), 0, 0)
        .expect("abort 1"); // 5
    assert_eq!(log.last_stable_offset(), 3);
    assert!(log
        .locate_isolated(0, usize::MAX, true, true)
        .expect("locate")
        .is_none());
    assert_same(&log, 0, usize::MAX, true, false);
    log.append_marker(marker(2, 0, true), 0, 0)
        .expect("commit 2");
    // Everything decided: located, with the aborted transaction listed.
    let located = log
        .locate_isolated(0, usize::MAX, true, true)
        .expect("locate")
        .expect("located once nothing is open");
    assert_eq!(located.result.aborted_transactions, Some(vec![(1, 0)]));
    for offset in 0..log.log_end_offset() {
        assert_same(&log, offset, usize::MAX, true, true);
    }
}

/// A range taken before retention deletes its segment still reads the
/// bytes it covered: it holds the open file.
#[test]
fn storage_a_located_range_outlives_its_deleted_segment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        retention_ms: Some(10_000),
        ..small_config()
    };
    let mut log = PartitionLog::open(dir.path(), config).expect("open");
    fill(&mut log, 30);
    let read = log.read(0, usize::MAX, true).expect("read");
    let located = log
        .locate_isolated(0, usize::MAX, true, false)
        .expect("locate")
        .expect("records at offset 0");
    let deleted = log.enforce_retention(1_000_000).expect("retention");
    assert!(deleted >= 1);
    assert!(log.log_start_offset() > 0, "the first segment is gone");
    assert_eq!(located.range.read().expect("still readable"), read.records);
}
