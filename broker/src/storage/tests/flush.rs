//! Kafka's minimums for segment settings, and the periodic flush
//! (`flush.messages` above 1, `flush.ms`).

use super::support::{batch, small_config};
use crate::storage::{LogConfig, PartitionLog};

#[test]
fn storage_config_refuses_values_below_kafkas_minimums() {
    for (name, value, minimum) in [
        ("segment.bytes", "128", "1048576"),
        ("segment.bytes", "1048575", "1048576"),
        ("segment.ms", "0", "1"),
        ("segment.index.bytes", "4", "12"),
        ("flush.messages", "0", "1"),
        ("flush.ms", "-1", "0"),
    ] {
        let err = LogConfig::default()
            .set(name, value)
            .expect_err("below the minimum");
        assert_eq!(err.kafka_error_code(), 40, "INVALID_CONFIG for {name}");
        let message = err.to_string();
        assert!(
            message.contains(name) && message.contains(minimum),
            "{message}"
        );
    }
    let mut config = LogConfig::default();
    config
        .set("segment.bytes", "1048576")
        .expect("the minimum itself");
    config.set("segment.ms", "1").expect("segment.ms");
    config.set("flush.ms", "0").expect("flush.ms");
}

#[test]
fn storage_flush_messages_fsyncs_every_n_records() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = small_config();
    config.segment_bytes = 1 << 20;
    config.set("flush.messages", "3").expect("flush.messages");
    assert_eq!(config.flush_messages, Some(3));
    let mut log = PartitionLog::open(dir.path(), config).expect("open");
    log.append(&batch(1, 5, 1_000), 0, 0).expect("1");
    log.append(&batch(1, 5, 1_000), 0, 0).expect("2");
    assert_eq!(log.recovery_point(), 0, "two records: not yet");
    log.append(&batch(1, 5, 1_000), 0, 0).expect("3");
    assert_eq!(log.recovery_point(), 3, "the third record flushes");
    log.append(&batch(2, 5, 1_000), 0, 0).expect("4, 5");
    assert_eq!(log.recovery_point(), 3);
}

#[test]
fn storage_flush_ms_fsyncs_the_oldest_unflushed_append_once_due() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = small_config();
    config.segment_bytes = 1 << 20;
    config.set("flush.ms", "100").expect("flush.ms");
    let mut log = PartitionLog::open(dir.path(), config).expect("open");
    log.append(&batch(1, 5, 1_000), 0, 10_000).expect("append");
    log.append(&batch(1, 5, 1_000), 0, 10_050).expect("append");
    assert_eq!(log.recovery_point(), 0);
    assert!(!log.flush_if_due(10_099).expect("not due"));
    assert!(
        log.flush_if_due(10_100).expect("due"),
        "an idle log is flushed too"
    );
    assert_eq!(log.recovery_point(), 2);
    log.append(&batch(1, 5, 1_000), 0, 20_000).expect("append");
    log.append(&batch(1, 5, 1_000), 0, 20_100)
        .expect("due at this append");
    assert_eq!(log.recovery_point(), 4);
}

#[test]
fn storage_default_flush_is_never_on_count_or_time() {
    let config = LogConfig::default();
    assert_eq!((config.flush_messages, config.flush_ms), (None, None));
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = PartitionLog::open(dir.path(), small_config()).expect("open");
    log.append(&batch(1, 5, 1_000), 0, 0).expect("append");
    assert!(!log.flush_if_due(i64::MAX).expect("never due"));
}
