//! Errors of the storage engine, each mapped to the Kafka error code a
//! broker answers with.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use durian_core::record::BatchError;

/// Everything that can go wrong in the storage engine.
///
/// Errors are `Clone` (I/O errors sit behind an `Arc`) so one failure can be
/// reported to every waiter. [`StorageError::kafka_error_code`] gives the
/// code a Produce/Fetch/ListOffsets response should carry.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// A file system operation failed; the disk may be full, read-only or
    /// failing. The partition should be taken offline until an operator
    /// looks at `path`.
    #[error("storage I/O error on {path}: {source}")]
    Io {
        /// The file or directory the operation was about.
        path: PathBuf,
        /// The underlying error.
        source: Arc<std::io::Error>,
    },
    /// A record batch failed its integrity checks (CRC, lengths, magic).
    #[error("corrupt record batch: {reason}")]
    CorruptBatch {
        /// What is wrong with it.
        reason: String,
    },
    /// A batch is well formed but breaks a broker rule (record count,
    /// offsets, control flags); the producer must not retry it unchanged.
    #[error("invalid record batch: {reason}")]
    InvalidRecord {
        /// What rule it breaks.
        reason: String,
    },
    /// A batch carries a timestamp the broker does not accept.
    #[error("invalid timestamp {timestamp} in record batch: {reason}")]
    InvalidTimestamp {
        /// The rejected timestamp (ms since the epoch).
        timestamp: i64,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// The requested offset is outside `[start, end]` of the log.
    #[error("offset {requested} is out of range: the log holds offsets {start}..{end}")]
    OffsetOutOfRange {
        /// The offset asked for.
        requested: i64,
        /// Log start offset (first offset still held).
        start: i64,
        /// Log end offset (next offset to be written).
        end: i64,
    },
    /// One batch is larger than `max_message_bytes`.
    #[error("record batch of {size} bytes exceeds max.message.bytes = {max}; split it or raise the limit")]
    MessageTooLarge {
        /// Size of the batch.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// A partition's records in one Produce are larger than the topic's
    /// `segment.bytes`: Kafka's log append refuses them
    /// (`RECORD_LIST_TOO_LARGE`, not retriable) because a segment must hold
    /// an append whole. Nothing is written.
    #[error(
        "records of {size} bytes for one partition exceed the topic's segment.bytes = {max}; \
         send smaller batches (the producer's batch.size) or raise segment.bytes"
    )]
    RecordListTooLarge {
        /// Size of the partition's records in the request.
        size: usize,
        /// The configured segment size.
        max: u64,
    },
    /// An idempotent producer skipped or reordered sequence numbers.
    #[error("out of order sequence for producer {producer_id} epoch {epoch}: got {found}, expected {expected}")]
    OutOfOrderSequence {
        /// The producer id.
        producer_id: i64,
        /// The epoch of the batch.
        epoch: i16,
        /// First sequence of the rejected batch.
        found: i32,
        /// The sequence the broker expected (last sequence + 1, or 0 for a new epoch).
        expected: i32,
    },
    /// A batch came from an older epoch of a producer than the one the log
    /// already saw: that producer instance has been fenced.
    #[error("producer {producer_id} epoch {epoch} is older than the current epoch {current}: the producer is fenced")]
    InvalidProducerEpoch {
        /// The producer id.
        producer_id: i64,
        /// Epoch of the rejected batch.
        epoch: i16,
        /// Epoch the log holds.
        current: i16,
    },
    /// A transaction marker came from a transaction coordinator older than
    /// one that already wrote a marker for the producer: that coordinator
    /// was replaced.
    #[error("transaction coordinator epoch {coordinator_epoch} for producer {producer_id} is older than {current}: the coordinator is fenced")]
    TransactionCoordinatorFenced {
        /// The producer id of the marker.
        producer_id: i64,
        /// Coordinator epoch of the refused marker.
        coordinator_epoch: i32,
        /// Coordinator epoch the log holds for the producer.
        current: i32,
    },
    /// The topic name cannot be used as a directory name.
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidTopic {
        /// The rejected name.
        name: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// The partition was deleted while a handle to it was still held.
    #[error("partition log {dir} was deleted")]
    LogDeleted {
        /// Directory the log lived in.
        dir: PathBuf,
    },
    /// An earlier storage failure (a failed fsync, or a failed write that
    /// could not be undone) took the log directory offline: nothing in it
    /// is read or written until the broker restarts.
    #[error("log directory {dir} is offline after a storage failure; fix the disk and restart the broker")]
    LogDirOffline {
        /// The log directory.
        dir: PathBuf,
    },
    /// A configuration value is unusable.
    #[error("invalid log configuration: {0}")]
    InvalidConfig(String),
}

impl StorageError {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl AsRef<Path>, source: std::io::Error) -> StorageError {
        StorageError::Io {
            path: path.as_ref().to_path_buf(),
            source: Arc::new(source),
        }
    }

    /// The Kafka protocol error code for this error.
    ///
    /// ```
    /// use durian_broker::StorageError;
    /// let err = StorageError::OffsetOutOfRange { requested: 9, start: 0, end: 3 };
    /// assert_eq!(err.kafka_error_code(), 1);
    /// ```
    pub fn kafka_error_code(&self) -> i16 {
        match self {
            StorageError::OffsetOutOfRange { .. } => 1,
            StorageError::CorruptBatch { .. } => 2,
            StorageError::MessageTooLarge { .. } => 10,
            StorageError::InvalidTopic { .. } => 17,
            StorageError::RecordListTooLarge { .. } => 18,
            StorageError::InvalidTimestamp { .. } => 32,
            StorageError::OutOfOrderSequence { .. } => 45,
            StorageError::InvalidProducerEpoch { .. } => 47,
            StorageError::TransactionCoordinatorFenced { .. } => 52,
            StorageError::Io { .. } | StorageError::LogDirOffline { .. } => 56,
            StorageError::InvalidRecord { .. } => 87,
            // UNKNOWN_TOPIC_OR_PARTITION: the caller should refresh metadata.
            StorageError::LogDeleted { .. } => 3,
            // INVALID_CONFIG.
            StorageError::InvalidConfig(_) => 40,
        }
    }
}

impl From<BatchError> for StorageError {
    /// Classifies a batch parsing/validation failure: size problems are
    /// MESSAGE_TOO_LARGE, header rule violations and old message formats
    /// INVALID_RECORD, and damaged bytes CORRUPT_MESSAGE.
    fn from(err: BatchError) -> StorageError {
        match err {
            BatchError::TooLarge { size, limit } => {
                StorageError::MessageTooLarge { size, max: limit }
            }
            BatchError::InvalidRecordCount { .. }
            | BatchError::OffsetDeltaMismatch { .. }
            | BatchError::UnsupportedMagic(_) => StorageError::InvalidRecord {
                reason: err.to_string(),
            },
            other => StorageError::CorruptBatch {
                reason: other.to_string(),
            },
        }
    }
}
