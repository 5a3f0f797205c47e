//! Scanner, CRC, validation and in-place rewrite tests on hand-built batches.

use bytes::Bytes;

use super::golden::golden_batch;
use crate::record::{
    set_base_offset, set_log_append_time, set_partition_leader_epoch, set_producer_state,
    validate_batch, verify_crc, BatchError, BatchHeader, BatchScanner, BytesBatchScanner,
    TimestampType, BATCH_HEADER_LEN,
};

/// Three golden batches back to back with base offsets 0, 1, 2.
fn three_batches() -> Vec<u8> {
    let mut all = Vec::new();
    for offset in 0..3 {
        let mut batch = golden_batch();
        set_base_offset(&mut batch, offset).expect("rewrite offset");
        all.extend_from_slice(&batch);
    }
    all
}

#[test]
fn scanner_yields_every_whole_batch_in_order() {
    let all = three_batches();
    let mut scanner = BatchScanner::new(&all);
    let offsets: Vec<i64> = scanner
        .by_ref()
        .map(|b| b.expect("valid batch").header.base_offset)
        .collect();
    assert_eq!(offsets, vec![0, 1, 2]);
    assert_eq!(scanner.consumed(), all.len());
    assert!(!scanner.truncated());
    assert!(scanner.remaining().is_empty());
}

#[test]
fn scanner_reports_positions_and_exact_bytes() {
    let all = three_batches();
    let one = golden_batch().len();
    for (i, scanned) in BatchScanner::new(&all).enumerate() {
        let scanned = scanned.expect("valid batch");
        assert_eq!(scanned.position, i * one);
        assert_eq!(scanned.bytes, &all[i * one..(i + 1) * one]);
        verify_crc(scanned.bytes).expect("crc survives base offset rewrite");
    }
}

#[test]
fn scanner_stops_cleanly_at_every_possible_cut() {
    let all = three_batches();
    let one = golden_batch().len();
    for cut in 0..all.len() {
        let mut scanner = BatchScanner::new(&all[..cut]);
        let mut whole = 0;
        for batch in scanner.by_ref() {
            batch.expect("no error on a cut");
            whole += 1;
        }
        assert_eq!(whole, cut / one, "cut at {cut}");
        assert_eq!(scanner.consumed(), whole * one);
        assert_eq!(scanner.truncated(), cut % one != 0, "cut at {cut}");
        assert_eq!(scanner.remaining().len(), cut - whole * one);
    }
}

#[test]
fn scanner_errors_on_junk_header_after_good_batches() {
    let mut all = three_batches();
    let good = all.len();
    all.extend_from_slice(&[0xAB; BATCH_HEADER_LEN + 10]);
    let mut scanner = BatchScanner::new(&all);
    for _ in 0..3 {
        scanner.next().expect("batch").expect("valid");
    }
    let err = scanner
        .next()
        .expect("junk is reported")
        .expect_err("junk is an error");
    assert!(matches!(err, BatchError::UnsupportedMagic(_)), "{err:?}");
    assert!(scanner.next().is_none(), "scanner is fused after an error");
    assert_eq!(scanner.consumed(), good);
}

#[test]
fn scanner_treats_short_junk_as_a_torn_tail() {
    let mut all = three_batches();
    let good = all.len();
    all.extend_from_slice(&[0xAB; 20]);
    let mut scanner = BatchScanner::new(&all);
    assert_eq!(scanner.by_ref().filter(|b| b.is_ok()).count(), 3);
    assert!(scanner.truncated());
    assert_eq!(scanner.consumed(), good);
}

#[test]
fn scanner_rejects_batch_length_below_minimum() {
    let mut batch = golden_batch();
    batch[8..12].copy_from_slice(&48i32.to_be_bytes());
    let err = BatchScanner::new(&batch)
        .next()
        .expect("item")
        .expect_err("bad length");
    assert_eq!(err, BatchError::InvalidBatchLength(48));
    batch[8..12].copy_from_slice(&(-5i32).to_be_bytes());
    assert!(BatchHeader::parse(&batch).is_err());
}

#[test]
fn huge_batch_length_is_a_truncated_tail_not_an_allocation() {
    let mut batch = golden_batch();
    batch[8..12].copy_from_slice(&i32::MAX.to_be_bytes());
    let mut scanner = BatchScanner::new(&batch);
    assert!(scanner.next().is_none());
    assert!(scanner.truncated());
    assert_eq!(scanner.consumed(), 0);
}

#[test]
fn bytes_scanner_yields_zero_copy_slices() {
    let all = Bytes::from(three_batches());
    let base = all.as_ptr() as usize;
    let mut scanner = BytesBatchScanner::new(all.slice(..all.len() - 5));
    let found: Vec<_> = scanner.by_ref().map(|b| b.expect("valid")).collect();
    assert_eq!(found.len(), 2);
    for batch in &found {
        assert_eq!(batch.bytes.as_ptr() as usize, base + batch.position);
    }
    assert!(scanner.truncated());
    assert_eq!(scanner.remaining().len(), golden_batch().len() - 5);
}

#[test]
fn every_single_flipped_byte_in_the_crc_region_fails_verification() {
    let batch = golden_batch();
    for pos in 17..batch.len() {
        let mut bad = batch.clone();
        bad[pos] ^= 0x01;
        let result = verify_crc(&bad);
        assert!(
            matches!(result, Err(BatchError::CrcMismatch { .. })),
            "flip at {pos}: {result:?}"
        );
    }
}

#[test]
fn verify_crc_requires_exactly_one_batch() {
    let mut batch = golden_batch();
    batch.push(0);
    assert!(matches!(
        verify_crc(&batch),
        Err(BatchError::LengthMismatch { .. })
    ));
    assert!(matches!(
        verify_crc(&batch[..40]),
        Err(BatchError::Truncated {
            needed: 61,
            available: 40
        })
    ));
}

#[test]
fn validate_batch_accepts_golden_and_enforces_limits() {
    let batch = golden_batch();
    validate_batch(&batch, 1 << 20).expect("golden batch is valid");
    assert_eq!(
        validate_batch(&batch, 10),
        Err(BatchError::TooLarge {
            size: batch.len(),
            limit: 10
        })
    );
}

/// Rewrites the records count (and recomputes the CRC so only the count is wrong).
fn with_count(count: i32, last_offset_delta: i32) -> Vec<u8> {
    let mut batch = golden_batch();
    batch[57..61].copy_from_slice(&count.to_be_bytes());
    batch[23..27].copy_from_slice(&last_offset_delta.to_be_bytes());
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    batch
}

#[test]
fn validate_batch_rejects_implausible_counts() {
    let zero = validate_batch(&with_count(0, -1), 1 << 20);
    assert!(
        matches!(zero, Err(BatchError::InvalidRecordCount { count: 0, .. })),
        "{zero:?}"
    );
    let many = validate_batch(&with_count(1_000_000, 999_999), 1 << 20);
    assert!(
        matches!(many, Err(BatchError::InvalidRecordCount { .. })),
        "{many:?}"
    );
    let delta = validate_batch(&with_count(1, 5), 1 << 20);
    assert_eq!(
        delta,
        Err(BatchError::OffsetDeltaMismatch {
            last_offset_delta: 5,
            record_count: 1
        })
    );
}

#[test]
fn offset_and_epoch_rewrites_keep_the_crc_valid() {
    let mut batch = golden_batch();
    set_base_offset(&mut batch, 4242).expect("offset");
    set_partition_leader_epoch(&mut batch, 7).expect("epoch");
    let header = BatchHeader::parse(&batch).expect("parse");
    assert_eq!(
        (header.base_offset, header.partition_leader_epoch),
        (4242, 7)
    );
    assert_eq!(header.next_offset(), 4243);
    verify_crc(&batch).expect("offset and epoch lie outside the CRC");
}

#[test]
fn covered_rewrites_recompute_the_crc() {
    let mut batch = golden_batch();
    set_log_append_time(&mut batch, 1_800_000_000_000).expect("log append time");
    set_producer_state(&mut batch, 99, 3, 17).expect("producer state");
    let header = BatchHeader::parse(&batch).expect("parse");
    assert_eq!(header.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(header.max_timestamp, 1_800_000_000_000);
    assert_eq!(
        (
            header.producer_id,
            header.producer_epoch,
            header.base_sequence
        ),
        (99, 3, 17)
    );
    assert!(header.has_producer_id());
    verify_crc(&batch).expect("crc recomputed");
}

#[test]
fn rewrites_refuse_short_buffers() {
    let mut short = golden_batch();
    short.truncate(30);
    assert!(set_base_offset(&mut short, 1).is_err());
    assert!(set_producer_state(&mut short, 1, 1, 1).is_err());
}

#[test]
fn max_batch_size_turns_a_huge_length_into_an_error() {
    let mut all = three_batches();
    let good = all.len();
    let mut liar = golden_batch();
    liar[8..12].copy_from_slice(&(1i32 << 30).to_be_bytes());
    all.extend_from_slice(&liar);
    let mut scanner = BatchScanner::new(&all).max_batch_size(1 << 20);
    assert_eq!(scanner.by_ref().filter(|b| b.is_ok()).count(), 3);
    assert!(!scanner.truncated());
    assert_eq!(scanner.consumed(), good);
    let owned: Vec<_> = BytesBatchScanner::new(Bytes::from(all))
        .max_batch_size(1 << 20)
        .collect();
    assert!(matches!(
        owned.last(),
        Some(Err(BatchError::TooLarge {
            limit: 1_048_576,
            ..
        }))
    ));
}
