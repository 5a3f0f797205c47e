//! Reading the records of one batch without decoding more than the cleaner
//! needs (offset, timestamp, key, whether the value is null), and writing
//! a batch back with only some of its records.
//!
//! A rewritten batch keeps its header (base offset, last offset delta,
//! base timestamp, producer id, epoch and base sequence, attributes) and
//! the kept records' bytes as they were, so their offset and timestamp
//! deltas stay valid; only the record count, the length, the max timestamp
//! (CreateTime) and the CRC change. Compressed batches are decompressed and
//! the kept records compressed again with the same codec. Keeping the last
//! offset delta is what Kafka's cleaner does too: a batch's offset range
//! and its producer's sequence range stay what they were.

use std::ops::Range;

use durian_core::compression::{self, Compression};
use durian_core::record::header::{
    BATCH_LENGTH_OVERHEAD, BATCH_LENGTH_POS, CRC_POS, MAX_TIMESTAMP_POS, RECORD_COUNT_POS,
};
use durian_core::record::varint::{get_varint, get_varlong};
use durian_core::record::{compute_crc, BatchHeader, TimestampType, BATCH_HEADER_LEN};

use crate::storage::StorageError;

/// What the cleaner needs of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordView<'a> {
    /// Absolute offset.
    pub offset: i64,
    /// Create time (or the batch's time under LogAppendTime).
    pub timestamp: i64,
    /// The key, `None` when null.
    pub key: Option<&'a [u8]>,
    /// Whether the value is null (a tombstone when keyed).
    pub null_value: bool,
}

/// The records section of a batch, decompressed, with each record's byte
/// range in it.
pub(crate) struct Records {
    section: Vec<u8>,
    ranges: Vec<Range<usize>>,
}

impl Records {
    /// Splits the records of `batch` (one whole batch with header
    /// `header`), decompressing at most `max_decompressed` bytes.
    pub(crate) fn parse(
        batch: &[u8],
        header: &BatchHeader,
        max_decompressed: usize,
    ) -> Result<Records, StorageError> {
        let raw = batch.get(BATCH_HEADER_LEN..).unwrap_or_default();
        let section = match header.compression() {
            Compression::None => raw.to_vec(),
            codec => compression::decompress(codec, raw, max_decompressed)
                .map_err(|e| corrupt(header, &e.to_string()))?,
        };
        let mut ranges = Vec::new();
        let mut position = 0;
        while position < section.len() {
            let mut cursor = section.get(position..).unwrap_or_default();
            let before = cursor.len();
            let len = get_varint(&mut cursor).map_err(|_| corrupt(header, "bad record length"))?;
            let len =
                usize::try_from(len).map_err(|_| corrupt(header, "negative record length"))?;
            let start_of_body = position + (before - cursor.len());
            let end = start_of_body
                .checked_add(len)
                .filter(|end| *end <= section.len())
                .ok_or_else(|| corrupt(header, "record beyond the batch"))?;
            ranges.push(position..end);
            position = end;
        }
        if ranges.len() != usize::try_from(header.record_count).unwrap_or(usize::MAX) {
            return Err(corrupt(header, "record count does not match the records"));
        }
        Ok(Records { section, ranges })
    }

    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The `i`th record's fields.
    pub(crate) fn view(
        &self,
        header: &BatchHeader,
        i: usize,
    ) -> Result<RecordView<'_>, StorageError> {
        let range = self.ranges.get(i).cloned().unwrap_or(0..0);
        let mut cursor = self.section.get(range).unwrap_or_default();
        let bad = || corrupt(header, "malformed record");
        get_varint(&mut cursor).map_err(|_| bad())?;
        // Record attributes: unused in v2.
        cursor = cursor.get(1..).ok_or_else(bad)?;
        let timestamp_delta = get_varlong(&mut cursor).map_err(|_| bad())?;
        let offset_delta = get_varint(&mut cursor).map_err(|_| bad())?;
        let key_len = get_varint(&mut cursor).map_err(|_| bad())?;
        let key = match usize::try_from(key_len) {
            Ok(len) => {
                let key = cursor.get(..len).ok_or_else(bad)?;
                cursor = cursor.get(len..).unwrap_or_default();
                Some(key)
            }
            Err(_) => None,
        };
        let value_len = get_varint(&mut cursor).map_err(|_| bad())?;
        let timestamp = if header.timestamp_type() == TimestampType::LogAppendTime {
            header.max_timestamp
        } else {
            header.base_timestamp.saturating_add(timestamp_delta)
        };
        Ok(RecordView {
            offset: header.base_offset + i64::from(offset_delta),
            timestamp,
            key,
            null_value: value_len < 0,
        })
    }

    /// The batch holding only the records whose index is in `kept` (in
    /// order, at least one): the original header with a new count, length,
    /// max timestamp (CreateTime) and CRC.
    pub(crate) fn rebuild(
        &self,
        batch: &[u8],
        header: &BatchHeader,
        kept: &[usize],
    ) -> Result<Vec<u8>, StorageError> {
        let mut section = Vec::new();
        let mut max_timestamp = i64::MIN;
        for &i in kept {
            let range = self.ranges.get(i).cloned().unwrap_or(0..0);
            section.extend_from_slice(self.section.get(range).unwrap_or_default());
            max_timestamp = max_timestamp.max(self.view(header, i)?.timestamp);
        }
        let mut out = batch.get(..BATCH_HEADER_LEN).unwrap_or_default().to_vec();
        compression::compress(header.compression(), &section, &mut out)
            .map_err(|e| corrupt(header, &e.to_string()))?;
        let length = i32::try_from(out.len() - BATCH_LENGTH_OVERHEAD)
            .map_err(|_| corrupt(header, "too long"))?;
        let count = i32::try_from(kept.len()).map_err(|_| corrupt(header, "too many records"))?;
        put(&mut out, BATCH_LENGTH_POS, &length.to_be_bytes());
        put(&mut out, RECORD_COUNT_POS, &count.to_be_bytes());
        if header.timestamp_type() == TimestampType::CreateTime {
            put(&mut out, MAX_TIMESTAMP_POS, &max_timestamp.to_be_bytes());
        }
        let crc = compute_crc(&out).map_err(|e| corrupt(header, &e.to_string()))?;
        put(&mut out, CRC_POS, &crc.to_be_bytes());
        Ok(out)
    }
}

/// Overwrites `out[at..at + bytes.len()]` (always inside the header).
fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(slot) = out.get_mut(at..at + bytes.len()) {
        slot.copy_from_slice(bytes);
    }
}

fn corrupt(header: &BatchHeader, why: &str) -> StorageError {
    StorageError::CorruptBatch {
        reason: format!(
            "the cleaner cannot read the batch at offset {}: {why}",
            header.base_offset
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use durian_core::record::{decode_records, verify_crc, BatchWriter, NO_HEADERS};

    fn batch(codec: Compression) -> Vec<u8> {
        let mut writer = BatchWriter::builder()
            .compression(codec)
            .base_offset(100)
            .producer(7, 0, 40)
            .build();
        writer
            .try_append(1_000, Some(b"a"), Some(b"1"), NO_HEADERS)
            .unwrap();
        writer
            .try_append(1_005, Some(b"b"), None, &[("h", &b"x"[..])])
            .unwrap();
        writer
            .try_append(1_002, None, Some(b"3"), NO_HEADERS)
            .unwrap();
        writer.finish().unwrap().to_vec()
    }

    #[test]
    fn views_and_a_rebuilt_batch_keep_offsets_and_values() {
        for codec in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let bytes = batch(codec);
            let header = BatchHeader::parse(&bytes).unwrap();
            let records = Records::parse(&bytes, &header, 1 << 20).unwrap();
            assert_eq!(records.len(), 3);
            let b = records.view(&header, 1).unwrap();
            assert_eq!(
                (b.offset, b.timestamp, b.key, b.null_value),
                (101, 1_005, Some(&b"b"[..]), true)
            );
            assert_eq!(records.view(&header, 2).unwrap().key, None);

            let rebuilt = records.rebuild(&bytes, &header, &[0, 2]).unwrap();
            verify_crc(&rebuilt).unwrap();
            let new_header = BatchHeader::parse(&rebuilt).unwrap();
            // Same offset range, producer and sequence; fewer records.
            assert_eq!(new_header.base_offset, 100);
            assert_eq!(new_header.last_offset(), 102);
            assert_eq!(new_header.record_count, 2);
            assert_eq!(new_header.base_sequence, 40);
            assert_eq!(new_header.max_timestamp, 1_002);
            assert_eq!(new_header.compression(), codec);
            let decoded = decode_records(&Bytes::from(rebuilt)).unwrap();
            let got: Vec<_> = decoded
                .iter()
                .map(|r| (r.offset, r.timestamp, r.value.clone()))
                .collect();
            assert_eq!(
                got,
                vec![
                    (100, 1_000, Some(Bytes::from_static(b"1"))),
                    (102, 1_002, Some(Bytes::from_static(b"3")))
                ]
            );
        }
    }

    #[test]
    fn a_lying_record_count_is_an_error_not_a_panic() {
        let mut bytes = batch(Compression::None);
        put(&mut bytes, RECORD_COUNT_POS, &5i32.to_be_bytes());
        let header = BatchHeader::parse(&bytes).unwrap();
        assert!(Records::parse(&bytes, &header, 1 << 20).is_err());
        let mut cut = batch(Compression::None);
        cut.truncate(cut.len() - 3);
        let header = BatchHeader::parse(&batch(Compression::None)).unwrap();
        assert!(Records::parse(&cut, &header, 1 << 20).is_err());
    }
}
