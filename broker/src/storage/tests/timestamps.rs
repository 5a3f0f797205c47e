//! Time index lookups: ListOffsets by timestamp and MAX_TIMESTAMP.

use super::support::{encode_batch, fill, small_config};
use crate::storage::{LogConfig, PartitionLog};

#[test]
fn storage_offset_for_timestamp_across_segments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
    fill(&mut log, 30); // batch i: offsets 3i..3i+2, all at timestamp 1000 (i + 1)
    assert!(log.segment_count() > 2);
    let check = |log: &PartitionLog| {
        for i in 0..30i64 {
            let ts = 1_000 * (i + 1);
            assert_eq!(
                log.offset_for_timestamp(ts).expect("lookup"),
                Some((3 * i, ts)),
                "ts {ts}"
            );
            // Between two batches: the later one.
            assert_eq!(
                log.offset_for_timestamp(ts - 500).expect("lookup"),
                Some((3 * i, ts)),
                "ts {}",
                ts - 500
            );
        }
        assert_eq!(
            log.offset_for_timestamp(0).expect("lookup"),
            Some((0, 1_000))
        );
        assert_eq!(log.offset_for_timestamp(31_000).expect("lookup"), None);
        assert_eq!(log.max_timestamp(), Some((89, 30_000)));
    };
    check(&log);
    log.close().expect("close");
    check(&PartitionLog::open(dir.path(), small_config()).expect("reopen"));
}

#[test]
fn storage_offset_for_timestamp_finds_the_record_inside_a_batch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), LogConfig::default()).expect("open");
    let records: Vec<_> = [100, 130, 110, 160]
        .iter()
        .map(|&t| (t, b"v".to_vec()))
        .collect();
    log.append(&encode_batch(&records, None), 0, 0)
        .expect("append");
    assert_eq!(
        log.offset_for_timestamp(120).expect("lookup"),
        Some((1, 130))
    );
    assert_eq!(
        log.offset_for_timestamp(105).expect("lookup"),
        Some((1, 130))
    );
    assert_eq!(
        log.offset_for_timestamp(140).expect("lookup"),
        Some((3, 160))
    );
    assert_eq!(log.offset_for_timestamp(161).expect("lookup"), None);
    assert_eq!(log.max_timestamp(), Some((3, 160)));
}

#[test]
fn storage_offset_for_timestamp_with_out_of_order_batches() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
    for ts in [5_000, 1_000, 7_000, 2_000, 9_000] {
        log.append(&encode_batch(&[(ts, vec![0; 100])], None), 0, 0)
            .expect("append");
    }
    // Earliest offset whose timestamp reaches the target, not the closest one.
    assert_eq!(
        log.offset_for_timestamp(1_500).expect("lookup"),
        Some((0, 5_000))
    );
    assert_eq!(
        log.offset_for_timestamp(6_000).expect("lookup"),
        Some((2, 7_000))
    );
    assert_eq!(
        log.offset_for_timestamp(8_000).expect("lookup"),
        Some((4, 9_000))
    );
    // Below the log start nothing is found.
    log.delete_records_before(3).expect("delete records");
    assert_eq!(
        log.offset_for_timestamp(1_500).expect("lookup"),
        Some((3, 2_000))
    );
}

#[test]
fn storage_empty_log_has_no_timestamps() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = PartitionLog::open(dir.path(), LogConfig::default()).expect("open");
    assert_eq!(log.max_timestamp(), None);
    assert_eq!(log.offset_for_timestamp(0).expect("lookup"), None);
    assert!(log.read(0, 100, true).expect("read").records.is_empty());
}
