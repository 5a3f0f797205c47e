//! Appends and reads: offsets, segment rolls, byte limits, validation.

use durian_core::record::{verify_crc, BatchHeader, TimestampType};

use super::support::{all_headers, batch, encode_batch, fill, headers, small_config};
use crate::storage::{LogConfig, PartitionLog, StorageError};

fn open(dir: &std::path::Path, config: LogConfig) -> PartitionLog {
    PartitionLog::open(dir, config).expect("open log")
}

/// The stored batch equals the sent one except base offset and leader epoch.
fn assert_stored_as_sent(stored: &[u8], sent: &[u8], base_offset: i64, epoch: i32) {
    assert_eq!(stored.len(), sent.len());
    assert_eq!(&stored[0..8], &base_offset.to_be_bytes());
    assert_eq!(&stored[12..16], &epoch.to_be_bytes());
    assert_eq!(&stored[8..12], &sent[8..12]);
    assert_eq!(&stored[16..], &sent[16..]);
    verify_crc(stored).expect("stored batch keeps a valid CRC");
}

#[test]
fn storage_round_trip_across_segment_rolls() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path(), small_config());
    let sent = fill(&mut log, 40);
    assert!(
        log.segment_count() > 3,
        "1 KiB segments must roll, got {}",
        log.segment_count()
    );
    assert_eq!(log.log_end_offset(), 120);
    assert_eq!(log.segment_base_offsets().first(), Some(&0));

    let check = |log: &PartitionLog| {
        for offset in 0..120 {
            let read = log.read(offset, usize::MAX, true).expect("read");
            assert_eq!(read.high_watermark, 120);
            let first = headers(&read.records)[0];
            assert!(
                first.base_offset <= offset && offset <= first.last_offset(),
                "offset {offset}"
            );
            let index = (offset / 3) as usize;
            assert_stored_as_sent(
                &read.records[..first.total_len()],
                &sent[index],
                index as i64 * 3,
                7,
            );
        }
        let stored = all_headers(log);
        assert_eq!(stored.len(), 40);
        for (i, h) in stored.iter().enumerate() {
            assert_eq!(h.base_offset, i as i64 * 3);
        }
    };
    check(&log);
    log.close().expect("close");
    let reopened = open(dir.path(), small_config());
    assert_eq!(reopened.log_end_offset(), 120);
    check(&reopened);
}

#[test]
fn storage_read_from_middle_of_batch_and_at_log_end() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path(), small_config());
    fill(&mut log, 3);
    let read = log.read(4, usize::MAX, true).expect("read");
    let found = headers(&read.records);
    assert_eq!(found[0].base_offset, 3);
    assert_eq!(found.len(), 2, "one segment holds the rest");
    let at_end = log.read(9, usize::MAX, true).expect("read at end");
    assert!(at_end.records.is_empty());
    let err = log.read(10, 100, true).expect_err("beyond the end");
    assert!(matches!(
        err,
        StorageError::OffsetOutOfRange {
            requested: 10,
            start: 0,
            end: 9
        }
    ));
    assert_eq!(err.kafka_error_code(), 1);
    assert!(log.read(-1, 100, true).is_err());
}

#[test]
fn storage_max_bytes_and_min_one_batch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path(), LogConfig::default());
    let sent = fill(&mut log, 5);
    let one = sent[0].len();
    let read = log.read(0, one - 1, true).expect("read");
    assert_eq!(
        headers(&read.records).len(),
        1,
        "min_one_batch returns a whole batch"
    );
    assert_eq!(read.records.len(), one);
    let read = log.read(0, one - 1, false).expect("read");
    assert!(read.records.is_empty(), "no partial batches");
    let read = log.read(0, one * 2 + one / 2, false).expect("read");
    assert_eq!(headers(&read.records).len(), 2, "whole batches only");
    let read = log.read(0, 0, false).expect("read");
    assert!(read.records.is_empty());
}

#[test]
fn storage_rejects_invalid_batches_without_writing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(
        dir.path(),
        LogConfig {
            max_message_bytes: 600,
            ..LogConfig::default()
        },
    );
    fill(&mut log, 1);
    let good = batch(2, 10, 5);

    let mut corrupt = good.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x40;
    let mut both = good.clone();
    both.extend_from_slice(&corrupt);
    let err = log.append(&both, 0, 0).expect_err("CRC mismatch");
    assert_eq!(err.kafka_error_code(), 2, "{err}");

    let big = batch(2, 400, 5);
    let err = log.append(&big, 0, 0).expect_err("too large");
    assert!(
        matches!(err, StorageError::MessageTooLarge { max: 600, .. }),
        "{err}"
    );
    assert_eq!(err.kafka_error_code(), 10);

    let mut partial = good.clone();
    partial.extend_from_slice(&good[..good.len() - 3]);
    assert_eq!(
        log.append(&partial, 0, 0)
            .expect_err("partial")
            .kafka_error_code(),
        2
    );

    let mut control = good.clone();
    control[22] |= 0x20; // attributes: control batch
    let crc = crc32c::crc32c(&control[21..]);
    control[17..21].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(
        log.append(&control, 0, 0)
            .expect_err("control")
            .kafka_error_code(),
        87
    );

    let junk = vec![7u8; 100];
    assert!(log.append(&junk, 0, 0).is_err());

    assert_eq!(log.log_end_offset(), 3, "nothing was written");
    assert_eq!(all_headers(&log).len(), 1);

    let empty = log.append(&[], 0, 0).expect("empty append");
    assert_eq!((empty.base_offset, empty.last_offset), (-1, -1));
}

/// As Kafka's log append (RECORD_LIST_TOO_LARGE, 18): a partition's records
/// larger than `segment.bytes` are refused before anything is written or
/// any producer sequence is taken, whether one batch or several; records
/// of exactly a segment are accepted.
#[test]
fn storage_refuses_records_larger_than_a_segment_without_writing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path(), small_config());
    fill(&mut log, 2);
    let before = (log.log_end_offset(), log.size_bytes(), log.segment_count());
    let segment = small_config().segment_bytes;

    let values = |n: usize| (0..n).map(|_| (1_000, vec![7u8; 40])).collect::<Vec<_>>();
    let over = encode_batch(&values(30), Some((9, 0, 0)));
    assert!(over.len() as u64 > segment);
    let err = log.append(&over, 0, 0).expect_err("a batch over a segment");
    assert!(
        matches!(err, StorageError::RecordListTooLarge { size, max } if size == over.len() && max == segment),
        "{err}"
    );
    assert_eq!(err.kafka_error_code(), 18);
    assert!(err.to_string().contains("segment.bytes = 1024"), "{err}");

    // Two batches that each fit but not together.
    let half = encode_batch(&values(12), Some((9, 0, 0)));
    assert!((half.len() as u64) < segment && half.len() as u64 * 2 > segment);
    let mut pair = half.clone();
    pair.extend_from_slice(&encode_batch(&values(12), Some((9, 0, 12))));
    let err = log
        .append(&pair, 0, 0)
        .expect_err("two batches over a segment");
    assert_eq!(err.kafka_error_code(), 18, "{err}");

    assert_eq!(
        (log.log_end_offset(), log.size_bytes(), log.segment_count()),
        before,
        "nothing was written and no segment rolled"
    );
    // The refused batches took no sequence: the producer's smaller batch
    // at sequence 0 is a first append, not a duplicate or a gap.
    let fits = log.append(&half, 0, 0).expect("a batch that fits");
    assert_eq!((fits.base_offset, fits.duplicate), (before.0, false));

    let exact = (900..1_000)
        .map(|len| encode_batch(&[(1_000, vec![1u8; len])], None))
        .find(|b| b.len() as u64 == segment)
        .expect("a batch of exactly one segment");
    let whole = log.append(&exact, 0, 0).expect("exactly a segment fits");
    assert_eq!(whole.base_offset, before.0 + 12);
    assert_eq!(all_headers(&log).len(), 4);
}

#[test]
fn storage_multi_batch_append_gets_consecutive_offsets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut log = open(dir.path(), LogConfig::default());
    let mut records = batch(2, 5, 10);
    records.extend_from_slice(&batch(4, 5, 20));
    let result = log.append(&records, 3, 0).expect("append");
    assert_eq!(
        (result.base_offset, result.last_offset, result.duplicate),
        (0, 5, false)
    );
    assert_eq!(result.log_append_time, -1);
    let stored: Vec<(i64, i32)> = all_headers(&log)
        .iter()
        .map(|h| (h.base_offset, h.partition_leader_epoch))
        .collect();
    assert_eq!(stored, vec![(0, 3), (2, 3)]);
}

#[test]
fn storage_log_append_time_stamps_batches() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    let records = batch(3, 5, 10);
    let result = log.append(&records, 0, 1_700_000_000_123).expect("append");
    assert_eq!(result.log_append_time, 1_700_000_000_123);
    let read = log.read(0, usize::MAX, true).expect("read");
    let header = BatchHeader::parse(&read.records).expect("header");
    assert_eq!(header.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(header.max_timestamp, 1_700_000_000_123);
    verify_crc(&read.records).expect("CRC recomputed");
    assert_eq!(log.max_timestamp(), Some((2, 1_700_000_000_123)));
}

#[test]
fn storage_segment_rolls_on_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        segment_ms: 1_000,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    // Batch timestamps drive segment age, as in Kafka.
    log.append(&batch(1, 5, 10_000), 0, 10_000).expect("append");
    log.append(&batch(1, 5, 10_500), 0, 10_500).expect("append");
    assert_eq!(log.segment_count(), 1);
    log.append(&batch(1, 5, 11_500), 0, 11_500).expect("append");
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
}

#[test]
fn storage_segment_rolls_when_index_is_full() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = LogConfig {
        index_interval_bytes: 0,
        segment_index_bytes: 24, // room for two time index entries
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    for i in 0..10 {
        log.append(&batch(1, 5, 1_000 + i), 0, 0).expect("append");
    }
    assert!(log.segment_count() >= 3, "full indexes roll segments");
    assert_eq!(all_headers(&log).len(), 10);
}

#[test]
fn storage_encode_batch_helper_is_valid() {
    let b = encode_batch(&[(5, b"x".to_vec()), (9, b"yz".to_vec())], Some((1, 2, 3)));
    let header = durian_core::record::validate_batch(&b, usize::MAX).expect("valid");
    assert_eq!(
        (
            header.record_count,
            header.max_timestamp,
            header.base_sequence
        ),
        (2, 9, 3)
    );
}
