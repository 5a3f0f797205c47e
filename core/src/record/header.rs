//! The fixed 61-byte header of a v2 record batch.
//!
//! ```text
//! offset  size  field                  covered by CRC
//!      0     8  baseOffset             no  (rewritten by the broker)
//!      8     4  batchLength            no  (bytes after this field)
//!     12     4  partitionLeaderEpoch   no  (rewritten by the broker)
//!     16     1  magic (= 2)            no
//!     17     4  crc (CRC-32C)          no
//!     21     2  attributes             yes
//!     23     4  lastOffsetDelta        yes
//!     27     8  baseTimestamp          yes
//!     35     8  maxTimestamp           yes
//!     43     8  producerId             yes
//!     51     2  producerEpoch          yes
//!     53     4  baseSequence           yes
//!     57     4  recordsCount           yes
//!     61     …  records (maybe compressed)  yes
//! ```
//!
//! All integers are big-endian.

use bytes::Buf;

use super::BatchError;
use crate::compression::Compression;

/// Size of the fixed batch header; the records section starts here.
pub const BATCH_HEADER_LEN: usize = 61;
/// Bytes before the batch length counts: baseOffset (8) + batchLength (4).
pub const BATCH_LENGTH_OVERHEAD: usize = 12;
/// Smallest valid batchLength: a header with an empty records section.
pub const MIN_BATCH_LENGTH: i32 = (BATCH_HEADER_LEN - BATCH_LENGTH_OVERHEAD) as i32;
/// The magic byte of format v2, the only format this module reads or writes.
pub const MAGIC_V2: i8 = 2;

/// Byte position of baseOffset.
pub const BASE_OFFSET_POS: usize = 0;
/// Byte position of batchLength.
pub const BATCH_LENGTH_POS: usize = 8;
/// Byte position of partitionLeaderEpoch.
pub const PARTITION_LEADER_EPOCH_POS: usize = 12;
/// Byte position of the magic byte.
pub const MAGIC_POS: usize = 16;
/// Byte position of the CRC.
pub const CRC_POS: usize = 17;
/// Byte position of attributes, where the CRC-covered region starts.
pub const ATTRIBUTES_POS: usize = 21;
/// Byte position of lastOffsetDelta.
pub const LAST_OFFSET_DELTA_POS: usize = 23;
/// Byte position of baseTimestamp.
pub const BASE_TIMESTAMP_POS: usize = 27;
/// Byte position of maxTimestamp.
pub const MAX_TIMESTAMP_POS: usize = 35;
/// Byte position of producerId.
pub const PRODUCER_ID_POS: usize = 43;
/// Byte position of producerEpoch.
pub const PRODUCER_EPOCH_POS: usize = 51;
/// Byte position of baseSequence.
pub const BASE_SEQUENCE_POS: usize = 53;
/// Byte position of the records count.
pub const RECORD_COUNT_POS: usize = 57;

/// Attribute bits 0-2: compression codec.
pub const ATTR_COMPRESSION_MASK: i16 = 0x07;
/// Attribute bit 3: timestamps are log-append time rather than create time.
pub const ATTR_TIMESTAMP_TYPE: i16 = 0x08;
/// Attribute bit 4: the batch belongs to a transaction.
pub const ATTR_TRANSACTIONAL: i16 = 0x10;
/// Attribute bit 5: the batch holds control records (transaction markers).
pub const ATTR_CONTROL: i16 = 0x20;
/// Attribute bit 6: baseTimestamp holds the delete horizon (KIP-534).
pub const ATTR_DELETE_HORIZON: i16 = 0x40;

/// Which clock the batch's timestamps come from (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Set by the producer when the record was created.
    #[default]
    CreateTime,
    /// Set by the broker when it appended the batch; every record of the
    /// batch then carries the batch's maxTimestamp.
    LogAppendTime,
}

/// The parsed fixed header of a v2 record batch. Fields mirror the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Bytes after the batchLength field (total size - 12).
    pub batch_length: i32,
    /// Leader epoch of the partition when the batch was appended.
    pub partition_leader_epoch: i32,
    /// Format version; always 2 after a successful parse.
    pub magic: i8,
    /// CRC-32C of attributes..end as stored.
    pub crc: u32,
    /// Codec, timestamp type, transactional and control flags.
    pub attributes: i16,
    /// Offset of the last record minus base offset.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (or the delete horizon, see attributes).
    pub base_timestamp: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp: i64,
    /// Idempotent/transactional producer id, -1 when none.
    pub producer_id: i64,
    /// Producer epoch, -1 when none.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 when none.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub record_count: i32,
}

impl BatchHeader {
    /// Parses the header at the start of `buf`.
    ///
    /// Needs at least [`BATCH_HEADER_LEN`] bytes (more may follow). Fails on a
    /// magic other than 2, a batch length below 49, or an unknown codec. It
    /// does not check the CRC (see [`verify_crc`](super::verify_crc)) nor that
    /// `buf` holds the whole batch.
    pub fn parse(buf: &[u8]) -> Result<BatchHeader, BatchError> {
        let Some(fixed) = buf.first_chunk::<BATCH_HEADER_LEN>() else {
            return Err(BatchError::Truncated {
                needed: BATCH_HEADER_LEN,
                available: buf.len(),
            });
        };
        let mut b: &[u8] = fixed;
        // Buf getters cannot run short here: `fixed` is exactly 61 bytes.
        let header = BatchHeader {
            base_offset: b.get_i64(),
            batch_length: b.get_i32(),
            partition_leader_epoch: b.get_i32(),
            magic: b.get_i8(),
            crc: b.get_u32(),
            attributes: b.get_i16(),
            last_offset_delta: b.get_i32(),
            base_timestamp: b.get_i64(),
            max_timestamp: b.get_i64(),
            producer_id: b.get_i64(),
            producer_epoch: b.get_i16(),
            base_sequence: b.get_i32(),
            record_count: b.get_i32(),
        };
        if header.magic != MAGIC_V2 {
            return Err(BatchError::UnsupportedMagic(header.magic));
        }
        if header.batch_length < MIN_BATCH_LENGTH {
            return Err(BatchError::InvalidBatchLength(header.batch_length));
        }
        Compression::from_attributes(header.attributes)?;
        Ok(header)
    }

    /// Total size of the batch on the wire: 12 + batchLength.
    pub fn total_len(&self) -> usize {
        // parse() guarantees batch_length >= 49, so the cast cannot wrap.
        BATCH_LENGTH_OVERHEAD + self.batch_length.max(0) as usize
    }

    /// Size of the records section (compressed size when compressed).
    pub fn records_len(&self) -> usize {
        self.total_len().saturating_sub(BATCH_HEADER_LEN)
    }

    /// Offset of the last record: base offset + lastOffsetDelta.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }

    /// The offset after this batch: last offset + 1.
    ///
    /// On compacted topics records may be missing inside a batch, so this is
    /// how a consumer advances, never base offset + record count.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// The compression codec (validated by [`parse`](Self::parse)).
    pub fn compression(&self) -> Compression {
        Compression::from_attributes(self.attributes).unwrap_or_default()
    }

    /// Which clock the timestamps come from.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & ATTR_TIMESTAMP_TYPE != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Whether the batch is part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    /// Whether the batch holds control records (commit/abort markers).
    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    /// Whether the batch was written by an idempotent or transactional producer.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id >= 0
    }

    /// Sequence number of the last record, wrapping at i32::MAX as Kafka does.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let last = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        (last % (i64::from(i32::MAX) + 1)) as i32
    }
}
