//! Errors found while parsing, validating, writing or decoding record batches.

use crate::compression::CompressionError;

/// What is wrong with a record batch, or why one could not be built.
///
/// Errors are `Clone` so a single failure can be reported to every waiter of
/// the batch (for example all the delivery futures of a produced batch).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// Fewer bytes are present than the structure being read needs.
    #[error("record batch truncated: {needed} bytes needed, {available} present")]
    Truncated {
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes actually present.
        available: usize,
    },
    /// The magic byte is not 2; older message formats are not supported.
    #[error("unsupported record batch magic {0}: only format v2 (magic 2) is supported; upgrade the client that wrote it")]
    UnsupportedMagic(i8),
    /// The batch length field is below the 49-byte minimum or implausibly large.
    #[error("invalid batch length {0}: a v2 batch length is at least 49 bytes")]
    InvalidBatchLength(i32),
    /// The buffer handed over is not exactly one batch.
    #[error(
        "batch length mismatch: the header declares {declared} bytes, the buffer holds {actual}"
    )]
    LengthMismatch {
        /// Total size from the header (12 + batch length).
        declared: usize,
        /// Size of the buffer.
        actual: usize,
    },
    /// The batch exceeds the size the caller allows.
    #[error("record batch of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the batch.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The stored CRC does not match the bytes: the batch is corrupt.
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}; the batch is corrupt")]
    CrcMismatch {
        /// CRC found in the header.
        stored: u32,
        /// CRC-32C of attributes..end.
        computed: u32,
    },
    /// The record count in the header cannot be right.
    #[error("invalid record count {count}: {reason}")]
    InvalidRecordCount {
        /// The count from the header.
        count: i32,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// The last offset delta disagrees with the record count.
    #[error("last offset delta {last_offset_delta} does not match record count {record_count} (expected count - 1)")]
    OffsetDeltaMismatch {
        /// lastOffsetDelta from the header.
        last_offset_delta: i32,
        /// records count from the header.
        record_count: i32,
    },
    /// A record inside the batch is malformed.
    #[error("malformed record {index} in batch: {reason}")]
    MalformedRecord {
        /// Zero-based index of the record within the batch.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Bytes remain after the last record the header announces.
    #[error("{0} bytes remain after the last record of the batch; the batch is corrupt")]
    TrailingBytes(usize),
    /// A value does not fit the wire format (e.g. a key longer than i32::MAX).
    #[error("cannot encode record: {0}")]
    Encode(&'static str),
    /// `finish` was called on a batch without records.
    #[error("cannot finish an empty record batch: append at least one record")]
    Empty,
    /// Compressing or decompressing the records section failed.
    #[error(transparent)]
    Compression(#[from] CompressionError),
}
