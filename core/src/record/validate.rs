//! Integrity checks of a single batch: CRC and header plausibility.
//!
//! These look only at the header and the CRC, never at the records, so a
//! broker can check what a producer sent (or what recovery finds on disk)
//! without decompressing anything.

use bytes::Bytes;

use super::header::{ATTRIBUTES_POS, CRC_POS};
use super::{BatchError, BatchHeader, RecordIter, BATCH_HEADER_LEN};
use crate::compression::Compression;

/// Smallest encoded record: length, attributes, timestamp delta, offset
/// delta, key length, value length and header count, one byte each.
pub const MIN_RECORD_LEN: usize = 7;

/// CRC-32C of the CRC-covered region (attributes..end) of `batch`.
///
/// `batch` must start at a batch header; bytes past the header are all
/// taken as part of the batch.
pub fn compute_crc(batch: &[u8]) -> Result<u32, BatchError> {
    let covered = batch.get(ATTRIBUTES_POS..).ok_or(BatchError::Truncated {
        needed: BATCH_HEADER_LEN,
        available: batch.len(),
    })?;
    Ok(crc32c::crc32c(covered))
}

/// Checks that `batch` is exactly one batch and that its CRC matches.
pub fn verify_crc(batch: &[u8]) -> Result<(), BatchError> {
    let header = parse_exact(batch)?;
    let computed = compute_crc(batch)?;
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    Ok(())
}

/// Parses the header of `batch` and checks that the buffer is exactly the
/// batch the header describes.
pub(crate) fn parse_exact(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(batch)?;
    if header.total_len() != batch.len() {
        return Err(BatchError::LengthMismatch {
            declared: header.total_len(),
            actual: batch.len(),
        });
    }
    Ok(header)
}

/// Validates a batch as a broker receives it from a producer.
///
/// Checks, in order: magic 2 and a sane batch length, that `batch` is
/// exactly one batch, that it fits `max_bytes`, that the record count is at
/// least 1 (and, uncompressed, no more than the records section can hold),
/// that lastOffsetDelta = count - 1 (producers number records 0..count), and
/// the CRC. Records themselves are not decoded.
///
/// Batches left by log compaction may legitimately have gaps or no records;
/// use [`verify_crc`] alone for those.
pub fn validate_batch(batch: &[u8], max_bytes: usize) -> Result<BatchHeader, BatchError> {
    let header = parse_exact(batch)?;
    if batch.len() > max_bytes {
        return Err(BatchError::TooLarge {
            size: batch.len(),
            limit: max_bytes,
        });
    }
    check_record_count(&header)?;
    verify_crc(batch)?;
    Ok(header)
}

/// Header-only plausibility of the record count and last offset delta.
fn check_record_count(header: &BatchHeader) -> Result<(), BatchError> {
    let count = header.record_count;
    if count < 1 {
        return Err(BatchError::InvalidRecordCount {
            count,
            reason: "a produced batch holds at least one record",
        });
    }
    if header.compression() == Compression::None
        && count as usize > header.records_len() / MIN_RECORD_LEN
    {
        return Err(BatchError::InvalidRecordCount {
            count,
            reason: "more records than the records section has room for",
        });
    }
    if i64::from(header.last_offset_delta) != i64::from(count) - 1 {
        return Err(BatchError::OffsetDeltaMismatch {
            last_offset_delta: header.last_offset_delta,
            record_count: count,
        });
    }
    Ok(())
}

/// Decodes every record of `batch` and checks that offset deltas run
/// 0, 1, 2, … as a producer numbers them, decompressing at most
/// `max_decompressed` bytes.
///
/// This is the deep half of a broker's produce validation; call
/// [`validate_batch`] first for the cheap header and CRC checks.
pub fn validate_records(batch: &Bytes, max_decompressed: usize) -> Result<(), BatchError> {
    let records = RecordIter::with_max_decompressed(batch, max_decompressed)?;
    let base_offset = records.header().base_offset;
    for (index, record) in records.enumerate() {
        let delta = record?.offset.wrapping_sub(base_offset);
        if delta != index as i64 {
            return Err(BatchError::MalformedRecord {
                index,
                reason: "offset delta out of sequence (a producer numbers records 0, 1, 2, ...)",
            });
        }
    }
    Ok(())
}

/// Writes the CRC of `batch` into its header (after fields it covers changed).
pub(crate) fn store_crc(batch: &mut [u8]) -> Result<(), BatchError> {
    let crc = compute_crc(batch)?;
    let available = batch.len();
    let slot = batch
        .get_mut(CRC_POS..CRC_POS + 4)
        .ok_or(BatchError::Truncated {
            needed: BATCH_HEADER_LEN,
            available,
        })?;
    slot.copy_from_slice(&crc.to_be_bytes());
    Ok(())
}
