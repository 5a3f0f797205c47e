//! In-place rewrites of header fields of a finished batch.
//!
//! The broker assigns offsets and stamps its leader epoch without touching
//! the CRC-covered region, so those rewrites are a few byte stores. Changing
//! a covered field (timestamps, producer state) recomputes the CRC.

use super::header::{
    ATTRIBUTES_POS, ATTR_TIMESTAMP_TYPE, BASE_OFFSET_POS, BASE_SEQUENCE_POS, MAX_TIMESTAMP_POS,
    PARTITION_LEADER_EPOCH_POS, PRODUCER_EPOCH_POS, PRODUCER_ID_POS,
};
use super::validate::{parse_exact, store_crc};
use super::{BatchError, BatchHeader, BATCH_HEADER_LEN};

/// Overwrites `N` bytes at `pos` of the header of `batch`.
fn put<const N: usize>(batch: &mut [u8], pos: usize, bytes: [u8; N]) -> Result<(), BatchError> {
    let available = batch.len();
    let slot = batch.get_mut(pos..pos + N).ok_or(BatchError::Truncated {
        needed: BATCH_HEADER_LEN,
        available,
    })?;
    slot.copy_from_slice(&bytes);
    Ok(())
}

/// Sets baseOffset (outside the CRC; no recomputation needed).
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) -> Result<(), BatchError> {
    BatchHeader::parse(batch)?;
    put(batch, BASE_OFFSET_POS, base_offset.to_be_bytes())
}

/// Sets partitionLeaderEpoch (outside the CRC; no recomputation needed).
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) -> Result<(), BatchError> {
    BatchHeader::parse(batch)?;
    put(batch, PARTITION_LEADER_EPOCH_POS, epoch.to_be_bytes())
}

/// Marks the batch as LogAppendTime and sets maxTimestamp to `timestamp_ms`,
/// as a broker does for topics with `message.timestamp.type=LogAppendTime`.
/// Consumers then read `timestamp_ms` as every record's timestamp.
///
/// Both fields are CRC-covered, so the CRC is recomputed (one pass over the
/// batch); `batch` must be exactly one batch.
pub fn set_log_append_time(batch: &mut [u8], timestamp_ms: i64) -> Result<(), BatchError> {
    let header = parse_exact(batch)?;
    let attributes = header.attributes | ATTR_TIMESTAMP_TYPE;
    put(batch, ATTRIBUTES_POS, attributes.to_be_bytes())?;
    put(batch, MAX_TIMESTAMP_POS, timestamp_ms.to_be_bytes())?;
    store_crc(batch)
}

/// Sets producerId, producerEpoch and baseSequence and recomputes the CRC.
///
/// The producer assigns sequence numbers when a batch is drained (and again
/// after an epoch bump), after the records were written, hence a rewrite.
pub fn set_producer_state(
    batch: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Result<(), BatchError> {
    parse_exact(batch)?;
    put(batch, PRODUCER_ID_POS, producer_id.to_be_bytes())?;
    put(batch, PRODUCER_EPOCH_POS, producer_epoch.to_be_bytes())?;
    put(batch, BASE_SEQUENCE_POS, base_sequence.to_be_bytes())?;
    store_crc(batch)
}
