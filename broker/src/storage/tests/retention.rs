//! Retention by time and size, and DeleteRecords.

use super::support::{all_headers, fill, small_config};
use crate::storage::{LogConfig, PartitionLog, StorageError};

#[test]
fn storage_time_retention_keeps_the_active_segment() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        retention_ms: Some(10_000),
        ..small_config()
    };
    let mut log = PartitionLog::open(dir.path(), config).expect("open");
    fill(&mut log, 30); // timestamps 1000..=30000
    let segments = log.segment_base_offsets();
    assert!(segments.len() > 3);
    // Horizon 12_000: only segments whose newest record is older go.
    let deleted = log.enforce_retention(22_000).expect("retention");
    assert!(deleted >= 1);
    assert_eq!(log.segment_count(), segments.len() - deleted);
    let start = log.log_start_offset();
    assert_eq!(Some(&start), log.segment_base_offsets().first());
    for h in all_headers(&log) {
        assert!(h.base_offset >= start);
    }
    assert!(log
        .offset_for_timestamp(0)
        .expect("lookup")
        .is_some_and(|(o, _)| o == start));
    // Everything expired: all sealed segments go, the active one stays.
    let before_end = log.log_end_offset();
    log.enforce_retention(1_000_000).expect("retention");
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.log_end_offset(), before_end);
    assert!(matches!(
        log.read(0, 100, true),
        Err(StorageError::OffsetOutOfRange { .. })
    ));
    let more = super::support::batch(1, 5, 2_000_000);
    assert_eq!(
        log.append(&more, 0, 0).expect("append").base_offset,
        before_end
    );
}

#[test]
fn storage_size_retention() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        retention_bytes: Some(2_500),
        ..small_config()
    };
    let mut log = PartitionLog::open(dir.path(), config).expect("open");
    fill(&mut log, 40);
    assert!(log.size_bytes() > 2_500);
    let deleted = log.enforce_retention(0).expect("retention");
    assert!(deleted > 0);
    // Like Kafka: whole segments go only while the rest stays at or above
    // the limit, so the log ends within one segment above it.
    let size = log.size_bytes();
    assert!((2_500..2_500 + 1_024).contains(&size), "size {size}");
    assert_eq!(log.enforce_retention(0).expect("retention"), 0);
    assert_eq!(all_headers(&log).last().map(|h| h.last_offset()), Some(119));
    // Segment files only: the producer snapshot of the last roll sits beside them.
    let files = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            [".log", ".index", ".timeindex"]
                .iter()
                .any(|suffix| name.ends_with(suffix))
        })
        .count();
    assert_eq!(
        files,
        log.segment_count() * 3,
        "deleted segments left no files"
    );
}

#[test]
fn storage_no_retention_when_disabled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
    fill(&mut log, 20);
    assert_eq!(log.enforce_retention(i64::MAX).expect("retention"), 0);
}

#[test]
fn storage_delete_records_before() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
    fill(&mut log, 30);
    let segments = log.segment_count();
    assert_eq!(log.delete_records_before(40).expect("delete"), 40);
    assert_eq!(log.log_start_offset(), 40);
    assert!(log.segment_count() < segments);
    assert!(matches!(
        log.read(39, 100, true),
        Err(StorageError::OffsetOutOfRange {
            requested: 39,
            start: 40,
            ..
        })
    ));
    let read = log.read(40, usize::MAX, true).expect("read");
    let first = super::support::headers(&read.records)[0];
    assert!(first.base_offset <= 40 && first.last_offset() >= 40);
    // Never moves back; beyond the high watermark is an error.
    assert_eq!(log.delete_records_before(10).expect("delete"), 40);
    assert!(log.delete_records_before(91).is_err());
    assert_eq!(log.delete_records_before(90).expect("delete all"), 90);
    assert!(log
        .read(90, 100, true)
        .expect("read at end")
        .records
        .is_empty());
}
