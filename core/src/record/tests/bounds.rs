//! Malformed records: every bad length or count is an error, never a panic
//! or a large allocation.

use bytes::Bytes;

use crate::record::varint::put_varint;
use crate::record::{
    decode_records, parse_control_key, BatchError, BatchWriter, ControlRecordType, RecordIter,
    NO_HEADERS,
};

/// A one-record uncompressed batch whose records section is `records`, with
/// the header's count set to `count` and a valid CRC.
fn batch_with_records(count: i32, records: &[u8]) -> Bytes {
    let mut writer = BatchWriter::builder().build();
    writer
        .try_append(0, None, None, NO_HEADERS)
        .expect("append");
    let template = writer.finish().expect("finish");
    let mut batch = template[..61].to_vec();
    batch.extend_from_slice(records);
    let batch_length = (batch.len() - 12) as i32;
    batch[8..12].copy_from_slice(&batch_length.to_be_bytes());
    batch[57..61].copy_from_slice(&count.to_be_bytes());
    let crc = crc32c::crc32c(&batch[21..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(batch)
}

/// A record body (after the length varint) with the given fields raw.
fn record(fields: &[&[u8]]) -> Vec<u8> {
    let body = fields.concat();
    let mut out = Vec::new();
    put_varint(&mut out, body.len() as i32);
    out.extend_from_slice(&body);
    out
}

fn varint(v: i32) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, v);
    out
}

fn malformed(result: Result<Vec<crate::record::Record>, BatchError>) -> &'static str {
    match result {
        Err(BatchError::MalformedRecord { reason, .. }) => reason,
        other => panic!("expected a malformed record, got {other:?}"),
    }
}

#[test]
fn huge_key_length_is_an_error() {
    let rec = record(&[
        &[0, 0, 0],
        &varint(i32::MAX),
        b"abc",
        &varint(-1),
        &varint(0),
    ]);
    let reason = malformed(decode_records(&batch_with_records(1, &rec)));
    assert!(reason.contains("key length"), "{reason}");
}

#[test]
fn huge_header_count_is_an_error_before_allocation() {
    let rec = record(&[&[0, 0, 0], &varint(-1), &varint(-1), &varint(i32::MAX)]);
    let reason = malformed(decode_records(&batch_with_records(1, &rec)));
    assert!(reason.contains("more headers"), "{reason}");
}

#[test]
fn negative_lengths_below_minus_one_are_errors() {
    let rec = record(&[&[0, 0, 0], &varint(-2), &varint(-1), &varint(0)]);
    assert_eq!(
        malformed(decode_records(&batch_with_records(1, &rec))),
        "length below -1"
    );
    let rec = record(&[&[0, 0, 0], &varint(-1), &varint(-1), &varint(-3)]);
    assert_eq!(
        malformed(decode_records(&batch_with_records(1, &rec))),
        "negative header count"
    );
}

#[test]
fn null_header_key_is_an_error() {
    let rec = record(&[
        &[0, 0, 0],
        &varint(-1),
        &varint(-1),
        &varint(1),
        &varint(-1),
        &varint(-1),
    ]);
    assert_eq!(
        malformed(decode_records(&batch_with_records(1, &rec))),
        "null header key"
    );
}

#[test]
fn record_length_beyond_the_batch_is_an_error() {
    let mut rec = varint(1_000_000);
    rec.extend_from_slice(&[0; 20]);
    let reason = malformed(decode_records(&batch_with_records(1, &rec)));
    assert!(reason.contains("record length"), "{reason}");
}

#[test]
fn record_length_disagreeing_with_fields_is_an_error() {
    // Declares 8 body bytes, fields use 6, two spare bytes follow.
    let mut rec = varint(8);
    rec.extend_from_slice(&[0, 0, 0]);
    rec.extend_from_slice(&varint(-1));
    rec.extend_from_slice(&varint(-1));
    rec.extend_from_slice(&varint(0));
    rec.extend_from_slice(&[0, 0]);
    assert_eq!(
        malformed(decode_records(&batch_with_records(1, &rec))),
        "record length does not match its fields"
    );
}

#[test]
fn huge_record_count_is_refused_up_front() {
    let rec = record(&[&[0, 0, 0], &varint(-1), &varint(-1), &varint(0)]);
    let result = RecordIter::new(&batch_with_records(i32::MAX, &rec));
    assert!(matches!(result, Err(BatchError::InvalidRecordCount { .. })));
    let result = RecordIter::new(&batch_with_records(-1, &rec));
    assert!(matches!(result, Err(BatchError::InvalidRecordCount { .. })));
}

#[test]
fn fewer_records_than_announced_is_an_error() {
    let rec = record(&[&[0, 0, 0], &varint(-1), &varint(-1), &varint(0)]);
    let two = [rec.clone(), rec.clone()].concat();
    let mut iter =
        RecordIter::new(&batch_with_records(2, &two[..])).expect("two fit the count check");
    assert!(iter.next().expect("first").is_ok());
    assert!(iter.next().expect("second").is_ok());
    assert!(iter.next().is_none());
    // Two announced, but the second claims more bytes than remain.
    let cut = [rec.clone(), varint(100), vec![0; 6]].concat();
    let result = decode_records(&batch_with_records(2, &cut));
    assert!(
        matches!(result, Err(BatchError::MalformedRecord { index: 1, .. })),
        "{result:?}"
    );
}

#[test]
fn trailing_bytes_after_the_last_record_are_an_error() {
    let rec = record(&[&[0, 0, 0], &varint(-1), &varint(-1), &varint(0)]);
    let with_tail = [rec, vec![0; 9]].concat();
    assert_eq!(
        decode_records(&batch_with_records(1, &with_tail)),
        Err(BatchError::TrailingBytes(9))
    );
}

#[test]
fn overlong_varint_is_an_error() {
    let rec = record(&[
        &[0],
        &[0xff; 11],
        &varint(0),
        &varint(-1),
        &varint(-1),
        &varint(0),
    ]);
    assert_eq!(
        malformed(decode_records(&batch_with_records(1, &rec))),
        "varint longer than its type allows"
    );
}

#[test]
fn decoder_survives_every_truncation_and_byte_flip() {
    let mut writer = BatchWriter::builder().build();
    for i in 0..5u8 {
        writer
            .try_append(
                i64::from(i),
                Some(&[i; 3]),
                Some(&[i; 9]),
                &[("h", &[i][..])],
            )
            .expect("append");
    }
    let batch = writer.finish().expect("finish");
    for cut in 0..batch.len() {
        assert!(RecordIter::new(&batch.slice(..cut)).is_err(), "cut {cut}");
    }
    // Corrupt each records-section byte; decoding may succeed or fail, but
    // must not panic.
    for pos in 61..batch.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = batch.to_vec();
            bad[pos] ^= flip;
            let bad = Bytes::from(bad);
            if let Ok(iter) = RecordIter::new(&bad) {
                let _ = iter.count();
            }
        }
    }
}

#[test]
fn control_record_keys_parse() {
    assert_eq!(
        parse_control_key(&[0, 0, 0, 0]),
        Ok(ControlRecordType::Abort)
    );
    assert_eq!(
        parse_control_key(&[0, 0, 0, 1]),
        Ok(ControlRecordType::Commit)
    );
    assert_eq!(
        parse_control_key(&[0, 0, 0, 9]),
        Ok(ControlRecordType::Unknown(9))
    );
    assert!(parse_control_key(&[0, 0, 0]).is_err());
}

#[test]
fn control_batches_are_flagged() {
    let mut writer = BatchWriter::builder()
        .control(true)
        .transactional(true)
        .producer(1, 0, -1)
        .build();
    writer
        .try_append(
            0,
            Some(&[0, 0, 0, 1]),
            Some(&[0, 0, 0, 0, 0, 5]),
            NO_HEADERS,
        )
        .expect("append");
    let batch = writer.finish().expect("finish");
    let mut iter = RecordIter::new(&batch).expect("iter");
    assert!(iter.is_control());
    let marker = iter.next().expect("one").expect("valid");
    let kind = parse_control_key(marker.key.as_deref().expect("key")).expect("control key");
    assert_eq!(kind, ControlRecordType::Commit);
}

#[test]
fn validate_records_checks_offset_deltas_are_consecutive() {
    use crate::record::validate_records;
    let rec = |delta: i32| {
        record(&[
            &[0, 0],
            &varint(delta),
            &varint(-1),
            &varint(-1),
            &varint(0),
        ])
    };
    let good = [rec(0), rec(1), rec(2)].concat();
    validate_records(&batch_with_records(3, &good), 1 << 20).expect("consecutive deltas");
    let gap = [rec(0), rec(2), rec(3)].concat();
    let result = validate_records(&batch_with_records(3, &gap), 1 << 20);
    assert!(
        matches!(result, Err(BatchError::MalformedRecord { index: 1, .. })),
        "{result:?}"
    );
}

#[test]
fn transaction_markers_round_trip() {
    use crate::record::{
        encode_control_key, end_txn_marker_batch, parse_end_txn_marker_value, validate_batch,
        BatchHeader,
    };
    for (kind, code) in [
        (ControlRecordType::Abort, 0),
        (ControlRecordType::Commit, 1),
    ] {
        assert_eq!(encode_control_key(kind), [0, 0, 0, code]);
        let batch = end_txn_marker_batch(42, 7, kind, 9, 1_700_000_000_000).expect("marker");
        validate_batch(&batch, usize::MAX).expect("a valid batch");
        let header = BatchHeader::parse(&batch).expect("header");
        assert!(header.is_control() && header.is_transactional());
        assert_eq!(
            (
                header.producer_id,
                header.producer_epoch,
                header.base_sequence,
                header.record_count
            ),
            (42, 7, -1, 1)
        );
        let records = decode_records(&batch).expect("records");
        assert_eq!(records.len(), 1);
        let key = records[0].key.as_deref().expect("key");
        assert_eq!(parse_control_key(key), Ok(kind));
        let value = records[0].value.as_deref().expect("value");
        assert_eq!(value, &[0, 0, 0, 0, 0, 9]);
        assert_eq!(parse_end_txn_marker_value(value), Ok(9));
        assert_eq!(records[0].timestamp, 1_700_000_000_000);
    }
    assert!(end_txn_marker_batch(1, 0, ControlRecordType::Unknown(5), 0, 0).is_err());
    assert!(parse_end_txn_marker_value(&[0, 0, 0, 0, 1]).is_err());
}
