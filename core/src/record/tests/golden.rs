//! Golden bytes: a one-record batch assembled by hand from the spec layout,
//! so the parser, the CRC and the writer cannot drift from the wire format
//! together.

use crate::compression::Compression;
use crate::record::{verify_crc, BatchHeader, TimestampType, BATCH_HEADER_LEN};

/// Bitwise CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), written
/// independently of the `crc32c` crate the module uses.
pub(super) fn reference_crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

pub(super) const GOLDEN_BASE_OFFSET: i64 = 0;
pub(super) const GOLDEN_TIMESTAMP: i64 = 1_700_000_000_000;

/// The record: key "k", value "hello", one header "h" = "v", all deltas 0.
pub(super) fn golden_record() -> Vec<u8> {
    let body: Vec<u8> = [
        &[0x00][..], // attributes
        &[0x00],     // timestampDelta 0
        &[0x00],     // offsetDelta 0
        &[0x02],     // keyLength 1 (zigzag 2)
        b"k",        // key
        &[0x0a],     // valueLength 5 (zigzag 10)
        b"hello",    // value
        &[0x02],     // headers count 1
        &[0x02],     // header key length 1
        b"h",        // header key
        &[0x02],     // header value length 1
        b"v",        // header value
    ]
    .concat();
    assert_eq!(body.len(), 16);
    [&[0x20][..], &body].concat() // record length 16 (zigzag 32)
}

/// A complete uncompressed batch holding [`golden_record`], producer fields
/// unset (-1), leader epoch -1, as a producer sends it.
pub(super) fn golden_batch() -> Vec<u8> {
    let record = golden_record();
    let mut covered = Vec::new();
    covered.extend_from_slice(&0i16.to_be_bytes()); // attributes: none, CreateTime
    covered.extend_from_slice(&0i32.to_be_bytes()); // lastOffsetDelta
    covered.extend_from_slice(&GOLDEN_TIMESTAMP.to_be_bytes()); // baseTimestamp
    covered.extend_from_slice(&GOLDEN_TIMESTAMP.to_be_bytes()); // maxTimestamp
    covered.extend_from_slice(&(-1i64).to_be_bytes()); // producerId
    covered.extend_from_slice(&(-1i16).to_be_bytes()); // producerEpoch
    covered.extend_from_slice(&(-1i32).to_be_bytes()); // baseSequence
    covered.extend_from_slice(&1i32.to_be_bytes()); // records count
    covered.extend_from_slice(&record);

    let batch_length = (4 + 1 + 4 + covered.len()) as i32; // epoch, magic, crc, rest
    let mut batch = Vec::new();
    batch.extend_from_slice(&GOLDEN_BASE_OFFSET.to_be_bytes());
    batch.extend_from_slice(&batch_length.to_be_bytes());
    batch.extend_from_slice(&(-1i32).to_be_bytes()); // partitionLeaderEpoch
    batch.push(2); // magic
    batch.extend_from_slice(&reference_crc32c(&covered).to_be_bytes());
    batch.extend_from_slice(&covered);
    batch
}

#[test]
fn reference_crc_matches_the_standard_check_value() {
    // The published CRC-32C check value of "123456789".
    assert_eq!(reference_crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c::crc32c(b"123456789"), 0xE306_9283);
}

#[test]
fn golden_batch_parses_field_by_field() {
    let batch = golden_batch();
    assert_eq!(batch.len(), BATCH_HEADER_LEN + 17);
    let header = BatchHeader::parse(&batch).expect("golden header parses");
    assert_eq!(header.base_offset, GOLDEN_BASE_OFFSET);
    assert_eq!(header.batch_length, 66);
    assert_eq!(header.total_len(), batch.len());
    assert_eq!(header.partition_leader_epoch, -1);
    assert_eq!(header.magic, 2);
    assert_eq!(header.attributes, 0);
    assert_eq!(header.last_offset_delta, 0);
    assert_eq!(header.base_timestamp, GOLDEN_TIMESTAMP);
    assert_eq!(header.max_timestamp, GOLDEN_TIMESTAMP);
    assert_eq!(header.producer_id, -1);
    assert_eq!(header.producer_epoch, -1);
    assert_eq!(header.base_sequence, -1);
    assert_eq!(header.record_count, 1);
    assert_eq!(header.compression(), Compression::None);
    assert_eq!(header.timestamp_type(), TimestampType::CreateTime);
    assert!(!header.is_transactional() && !header.is_control() && !header.has_producer_id());
    assert_eq!(header.next_offset(), 1);
}

#[test]
fn golden_batch_crc_verifies() {
    let batch = golden_batch();
    verify_crc(&batch).expect("hand-computed CRC verifies");
}

#[test]
fn writer_produces_the_golden_bytes() {
    use crate::record::BatchWriter;
    let mut writer = BatchWriter::builder().build();
    let accepted = writer
        .try_append(
            GOLDEN_TIMESTAMP,
            Some(b"k"),
            Some(b"hello"),
            &[("h", &b"v"[..])],
        )
        .expect("append");
    assert!(accepted);
    let batch = writer.finish().expect("finish");
    assert_eq!(&batch[..], &golden_batch()[..]);
}

#[test]
fn decoder_reads_the_golden_record() {
    use crate::record::decode_records;
    let records = decode_records(&bytes::Bytes::from(golden_batch())).expect("decode");
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.offset, GOLDEN_BASE_OFFSET);
    assert_eq!(record.timestamp, GOLDEN_TIMESTAMP);
    assert_eq!(record.key.as_deref(), Some(&b"k"[..]));
    assert_eq!(record.value.as_deref(), Some(&b"hello"[..]));
    assert_eq!(record.headers.len(), 1);
    assert_eq!(record.headers[0].key_str(), Ok("h"));
    assert_eq!(record.headers[0].value.as_deref(), Some(&b"v"[..]));
}
