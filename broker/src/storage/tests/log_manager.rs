//! The data directory: partitions, topic ids, checkpoints, deletion.

use std::fs;

use uuid::Uuid;

use super::support::{fill, small_config};
use crate::storage::{LogConfig, LogManager, StorageError};

fn lock(
    log: &crate::storage::SharedLog,
) -> std::sync::MutexGuard<'_, crate::storage::PartitionLog> {
    log.lock().expect("log mutex")
}

#[test]
fn storage_manager_creates_finds_and_reopens_partitions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let id = Uuid::from_u128(0xfeed);
    {
        let manager = LogManager::open(dir.path(), small_config()).expect("open");
        for partition in 0..3 {
            let log = manager
                .create_partition("web-logs", partition, id, small_config())
                .expect("create");
            fill(&mut lock(&log), partition as usize + 1);
        }
        manager
            .create_partition("other", 0, Uuid::from_u128(1), LogConfig::default())
            .expect("create");
        // Creating again returns the same log.
        let again = manager
            .create_partition("web-logs", 2, id, small_config())
            .expect("again");
        assert_eq!(lock(&again).log_end_offset(), 9);
        assert!(manager
            .create_partition("bad/name", 0, id, small_config())
            .is_err());
        assert!(manager
            .create_partition("t", -1, id, small_config())
            .is_err());
        manager.close_all().expect("close");
    }
    let text =
        fs::read_to_string(dir.path().join("web-logs-1/partition.metadata")).expect("metadata");
    assert!(text.starts_with("version: 0\ntopic_id: "), "{text}");

    let manager = LogManager::open(dir.path(), small_config()).expect("reopen");
    assert_eq!(
        manager.partitions(),
        vec![
            ("other".to_string(), 0),
            ("web-logs".to_string(), 0),
            ("web-logs".to_string(), 1),
            ("web-logs".to_string(), 2)
        ]
    );
    assert_eq!(manager.topic_id("web-logs"), Some(id));
    assert_eq!(manager.topic_id("missing"), None);
    let log = manager.get("web-logs", 2).expect("partition 2");
    assert_eq!(lock(&log).log_end_offset(), 9);
    assert!(lock(&log).open_report().clean_shutdown);
    assert!(manager.get("web-logs", 3).is_none());
}

#[test]
fn storage_manager_checkpoints_keep_log_start_and_recovery_point() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let manager = LogManager::open(dir.path(), small_config()).expect("open");
        let log = manager
            .create_partition("t", 0, Uuid::nil(), small_config())
            .expect("create");
        fill(&mut lock(&log), 20);
        assert_eq!(lock(&log).delete_records_before(17).expect("delete"), 17);
        manager.checkpoint().expect("checkpoint");
        // Crash: the manager goes away without close_all.
    }
    let starts = fs::read_to_string(dir.path().join("log-start-offset-checkpoint")).expect("read");
    assert_eq!(starts, "0\n1\nt 0 17\n");
    let points =
        fs::read_to_string(dir.path().join("recovery-point-offset-checkpoint")).expect("read");
    assert!(points.starts_with("0\n1\nt 0 "), "{points}");

    let manager = LogManager::open(dir.path(), small_config()).expect("reopen");
    let log = manager.get("t", 0).expect("partition");
    let log = lock(&log);
    assert_eq!(
        log.log_start_offset(),
        17,
        "moved log start survives a crash"
    );
    let report = log.open_report();
    assert!(!report.clean_shutdown);
    assert_eq!(
        report.segments_recovered, 1,
        "segments before the recovery point are trusted"
    );
    assert!(matches!(
        log.read(16, 100, true),
        Err(StorageError::OffsetOutOfRange { start: 17, .. })
    ));
}

#[test]
fn storage_manager_deletes_topics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manager = LogManager::open(dir.path(), small_config()).expect("open");
    let doomed = manager
        .create_partition("a-b", 0, Uuid::from_u128(5), small_config())
        .expect("create");
    manager
        .create_partition("a-b", 1, Uuid::from_u128(5), small_config())
        .expect("create");
    let kept = manager
        .create_partition("a", 0, Uuid::from_u128(6), small_config())
        .expect("create");
    fill(&mut lock(&doomed), 3);
    fill(&mut lock(&kept), 3);
    manager.delete_topic("a-b").expect("delete");
    assert!(!dir.path().join("a-b-0").exists());
    assert!(!dir.path().join("a-b-1").exists());
    assert!(dir.path().join("a-0").exists());
    assert!(manager.get("a-b", 0).is_none());
    assert_eq!(manager.topic_id("a-b"), None);
    let err = lock(&doomed).read(0, 100, true).expect_err("deleted");
    assert!(matches!(err, StorageError::LogDeleted { .. }));
    assert_eq!(manager.partitions(), vec![("a".to_string(), 0)]);
    manager.delete_topic("never-existed").expect("no-op");
    // A leftover of an interrupted deletion is removed on open.
    fs::create_dir(dir.path().join("a-0.123-delete")).expect("leftover");
    manager.close_all().expect("close");
    drop(manager);
    let manager = LogManager::open(dir.path(), small_config()).expect("reopen");
    assert!(!dir.path().join("a-0.123-delete").exists());
    assert_eq!(manager.partitions(), vec![("a".to_string(), 0)]);
}

#[test]
fn storage_manager_retention_and_flush_cover_all_partitions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        retention_ms: Some(1_000),
        ..small_config()
    };
    let manager = LogManager::open(dir.path(), config.clone()).expect("open");
    for p in 0..2 {
        let log = manager
            .create_partition("r", p, Uuid::nil(), config.clone())
            .expect("create");
        fill(&mut lock(&log), 20);
    }
    let deleted = manager.enforce_retention(1_000_000).expect("retention");
    assert_eq!(deleted, 6, "three sealed segments per partition");
    manager.flush_all().expect("flush");
    let log = manager.get("r", 1).expect("partition");
    assert_eq!(lock(&log).recovery_point(), 60);
    let starts = fs::read_to_string(dir.path().join("log-start-offset-checkpoint")).expect("read");
    assert!(starts.contains("r 1 45"), "{starts}");
}
