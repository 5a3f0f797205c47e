//! Writer → scanner → decoder round trips for every codec.

use bytes::Bytes;

use crate::compression::Compression;
use crate::record::{
    decode_records, validate_batch, verify_crc, BatchError, BatchHeader, BatchWriter,
    BytesBatchScanner, RecordHeader, RecordIter, TimestampType, BATCH_HEADER_LEN, NO_HEADERS,
};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// What a test record should decode to.
#[derive(Debug, Clone)]
struct Expected {
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn varied_records(n: usize) -> Vec<Expected> {
    (0..n)
        .map(|i| Expected {
            // Out-of-order timestamps make negative deltas.
            timestamp: 1_700_000_000_000 + (i as i64 % 7) * 1000 - 3000,
            key: match i % 4 {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some(format!("key-{i}").into_bytes()),
            },
            value: match i % 5 {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some(vec![b'a' + (i % 26) as u8; i % 300]),
            },
            headers: (0..i % 4)
                .map(|h| {
                    (
                        "dup".to_string(),
                        (h != 1).then(|| format!("v{h}").into_bytes()),
                    )
                })
                .collect(),
        })
        .collect()
}

fn write_batch(codec: Compression, records: &[Expected]) -> Bytes {
    let mut writer = BatchWriter::builder()
        .compression(codec)
        .size_limit(usize::MAX)
        .build();
    for r in records {
        let headers: Vec<(&str, Option<&[u8]>)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        let accepted = writer
            .try_append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers)
            .expect("append");
        assert!(accepted);
    }
    writer.finish().expect("finish")
}

fn assert_decodes_to(batch: &Bytes, base_offset: i64, expected: &[Expected]) {
    let records = decode_records(batch).expect("decode");
    assert_eq!(records.len(), expected.len());
    for (i, (got, want)) in records.iter().zip(expected).enumerate() {
        assert_eq!(got.offset, base_offset + i as i64, "offset of {i}");
        assert_eq!(got.timestamp, want.timestamp, "timestamp of {i}");
        assert_eq!(got.key.as_deref(), want.key.as_deref(), "key of {i}");
        assert_eq!(got.value.as_deref(), want.value.as_deref(), "value of {i}");
        let headers: Vec<(String, Option<Vec<u8>>)> = got
            .headers
            .iter()
            .map(|h| {
                (
                    h.key_str().expect("utf8").to_string(),
                    h.value.as_ref().map(|v| v.to_vec()),
                )
            })
            .collect();
        assert_eq!(headers, want.headers, "headers of {i}");
    }
}

#[test]
fn every_codec_round_trips_varied_records() {
    let expected = varied_records(500);
    for codec in CODECS {
        let batch = write_batch(codec, &expected);
        let header = validate_batch(&batch, usize::MAX).expect("writer output validates");
        assert_eq!(header.compression(), codec);
        assert_eq!(header.record_count, 500);
        assert_eq!(header.last_offset_delta, 499);
        assert_eq!(header.base_timestamp, expected[0].timestamp);
        let max = expected.iter().map(|r| r.timestamp).max().expect("records");
        assert_eq!(header.max_timestamp, max);
        assert_decodes_to(&batch, 0, &expected);
    }
}

#[test]
fn compressed_batches_are_smaller_for_repetitive_values() {
    let expected = varied_records(500);
    let plain = write_batch(Compression::None, &expected).len();
    for codec in &CODECS[1..] {
        let packed = write_batch(*codec, &expected).len();
        assert!(packed < plain / 2, "{codec}: {packed} vs {plain}");
    }
}

#[test]
fn scanner_and_decoder_walk_a_log_of_mixed_codecs() {
    let expected = varied_records(40);
    let mut log = Vec::new();
    let mut next_offset = 100;
    for (i, codec) in CODECS.iter().enumerate() {
        let mut batch = write_batch(*codec, &expected[i * 8..(i + 1) * 8]).to_vec();
        crate::record::set_base_offset(&mut batch, next_offset).expect("assign offset");
        next_offset += 8;
        log.extend_from_slice(&batch);
    }
    let mut offset = 100;
    let mut scanner = BytesBatchScanner::new(Bytes::from(log));
    for (i, scanned) in scanner.by_ref().enumerate() {
        let scanned = scanned.expect("whole batch");
        verify_crc(&scanned.bytes).expect("crc");
        assert_eq!(scanned.header.base_offset, offset);
        assert_decodes_to(&scanned.bytes, offset, &expected[i * 8..(i + 1) * 8]);
        offset = scanned.header.next_offset();
    }
    assert_eq!(offset, 140);
    assert!(!scanner.truncated());
}

#[test]
fn size_limit_refuses_the_record_that_would_overflow_but_never_the_first() {
    let value = vec![7u8; 1000];
    let mut writer = BatchWriter::builder().size_limit(3000).build();
    let mut accepted = 0;
    while writer
        .try_append(0, None, Some(&value), NO_HEADERS)
        .expect("append")
    {
        accepted += 1;
        assert!(writer.estimated_size() <= 3000);
    }
    assert_eq!(accepted, 2);
    let size_before = writer.estimated_size();
    assert_eq!(writer.record_count(), 2);
    let batch = writer.finish().expect("finish");
    assert_eq!(
        batch.len(),
        size_before,
        "estimate is exact when uncompressed"
    );

    let mut tiny = BatchWriter::builder().size_limit(10).build();
    assert!(tiny
        .try_append(0, None, Some(&value), NO_HEADERS)
        .expect("first"));
    assert!(!tiny
        .try_append(0, None, Some(b"x"), NO_HEADERS)
        .expect("second"));
    assert_eq!(tiny.record_count(), 1);
}

#[test]
fn would_fit_answers_as_try_append_then_does() {
    let value = vec![7u8; 1000];
    let mut writer = BatchWriter::builder().size_limit(3000).build();
    // Exact, not an estimate: a record that fits to the byte is taken.
    loop {
        let fits = writer
            .would_fit(0, None, Some(&value), NO_HEADERS)
            .expect("measure");
        let size = writer.estimated_size();
        let appended = writer
            .try_append(0, None, Some(&value), NO_HEADERS)
            .expect("append");
        assert_eq!(fits, appended, "at {size} bytes");
        if !appended {
            break;
        }
    }
    // The largest value that would fit fills the batch to the byte, and
    // try_append agrees on it and on one byte more.
    let largest = (0..3000usize)
        .rev()
        .find(|n| {
            writer
                .would_fit(0, None, Some(&vec![1u8; *n]), NO_HEADERS)
                .expect("test record")
        })
        .expect("some value fits");
    let mut over = writer.clone();
    assert!(!over
        .try_append(0, None, Some(&vec![1u8; largest + 1]), NO_HEADERS)
        .expect("test record"));
    assert!(writer
        .try_append(0, None, Some(&vec![1u8; largest]), NO_HEADERS)
        .expect("test record"));
    assert_eq!(writer.estimated_size(), 3000);
    // The first record always fits.
    let empty = BatchWriter::builder().size_limit(10).build();
    assert!(empty
        .would_fit(0, None, Some(&value), NO_HEADERS)
        .expect("test record"));
}

#[test]
fn reserve_grows_the_buffer_to_exactly_what_is_asked() {
    let mut writer = BatchWriter::builder().build_with_capacity(100);
    assert_eq!(writer.capacity(), BATCH_HEADER_LEN + 100);
    writer.reserve(10_000);
    // Exactly, not doubled: callers size the buffer to memory they reserved.
    assert_eq!(writer.capacity(), BATCH_HEADER_LEN + 10_000);
    let value = vec![3u8; 5000];
    assert!(writer
        .try_append(0, None, Some(&value), NO_HEADERS)
        .expect("test record"));
    assert_eq!(
        writer.capacity(),
        BATCH_HEADER_LEN + 10_000,
        "no reallocation"
    );
    writer.reserve(10);
    assert_eq!(
        writer.capacity(),
        BATCH_HEADER_LEN + 10_000,
        "room was there"
    );
    let batch = writer.finish().expect("test record");
    assert_eq!(decode_records(&batch).expect("test record").len(), 1);
}

#[test]
fn finishing_an_empty_batch_is_an_error() {
    assert_eq!(
        BatchWriter::builder().build().finish(),
        Err(BatchError::Empty)
    );
}

#[test]
fn builder_settings_reach_the_header() {
    let mut writer = BatchWriter::builder()
        .base_offset(42)
        .producer(7, 2, 100)
        .transactional(true)
        .timestamp_type(TimestampType::LogAppendTime)
        .compression(Compression::Lz4)
        .build();
    for i in 0..3 {
        writer
            .try_append(i, None, Some(b"v"), NO_HEADERS)
            .expect("append");
    }
    let batch = writer.finish().expect("finish");
    let header = BatchHeader::parse(&batch).expect("parse");
    assert_eq!(header.base_offset, 42);
    assert_eq!(header.partition_leader_epoch, -1);
    assert_eq!(
        (
            header.producer_id,
            header.producer_epoch,
            header.base_sequence
        ),
        (7, 2, 100)
    );
    assert_eq!(header.last_sequence(), 102);
    assert!(header.is_transactional() && !header.is_control());
    assert_eq!(header.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(header.compression(), Compression::Lz4);
    // LogAppendTime: every record carries maxTimestamp.
    let records = decode_records(&batch).expect("decode");
    assert!(records.iter().all(|r| r.timestamp == 2));
    assert_eq!(records.last().map(|r| r.offset), Some(44));
}

#[test]
fn record_headers_feed_back_into_the_writer_in_order() {
    let headers = vec![
        RecordHeader::new("a", Some(Bytes::from_static(b"1"))),
        RecordHeader::new("a", None),
        RecordHeader::new("b", Some(Bytes::new())),
        RecordHeader::new("a", Some(Bytes::from_static(b"3"))),
        // Another client's binary key must come back byte for byte.
        RecordHeader::new(Bytes::from_static(&[0xff, 0xfe, 0x00]), None),
        RecordHeader::text(String::from("c"), "4"),
    ];
    let mut writer = BatchWriter::builder().build();
    writer
        .try_append(5, Some(b"k"), None, &headers)
        .expect("append");
    let batch = writer.finish().expect("finish");
    let records = decode_records(&batch).expect("decode");
    assert_eq!(records[0].headers, headers);
    assert_eq!(records[0].value, None);
    assert!(records[0].headers[4].key_str().is_err());
    assert_eq!(records[0].headers[5].key_str(), Ok("c"));
}

#[test]
fn decompression_limit_applies_to_compressed_batches() {
    let expected = varied_records(200);
    let batch = write_batch(Compression::Zstd, &expected);
    let raw_len = write_batch(Compression::None, &expected).len() - 61;
    assert!(RecordIter::with_max_decompressed(&batch, raw_len).is_ok());
    let refused = RecordIter::with_max_decompressed(&batch, raw_len - 1);
    assert!(
        matches!(refused, Err(BatchError::Compression(_))),
        "{:?}",
        refused.map(|_| ())
    );
}

#[test]
fn many_small_records_round_trip() {
    let mut writer = BatchWriter::builder().size_limit(usize::MAX).build();
    for i in 0..20_000i64 {
        let value = i.to_be_bytes();
        writer
            .try_append(i, None, Some(&value), NO_HEADERS)
            .expect("append");
    }
    let batch = writer.finish().expect("finish");
    let records = decode_records(&batch).expect("decode");
    assert_eq!(records.len(), 20_000);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.offset, i as i64);
        assert_eq!(r.timestamp, i as i64);
        assert_eq!(r.value.as_deref(), Some(&(i as i64).to_be_bytes()[..]));
    }
}

#[test]
fn uncompressed_decoding_is_zero_copy() {
    let mut writer = BatchWriter::builder().build();
    writer
        .try_append(0, Some(b"key"), Some(b"value"), NO_HEADERS)
        .expect("append");
    let batch = writer.finish().expect("finish");
    let records = decode_records(&batch).expect("decode");
    let range = batch.as_ptr() as usize..batch.as_ptr() as usize + batch.len();
    let key = records[0].key.as_ref().expect("key");
    assert!(range.contains(&(key.as_ptr() as usize)));
}
