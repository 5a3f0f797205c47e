//! What can stop the shipper, each variant saying what to do about it.

use std::path::PathBuf;

/// Everything [`Shipper`](super::Shipper) can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShipError {
    /// A setting is invalid, or a client property conflicts with what
    /// exactly-once shipping needs.
    #[error("invalid ship configuration: {0}")]
    Config(String),

    /// Reading the followed file or its directory failed.
    #[error("cannot read {}: {source}", path.display())]
    File {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Reading or writing the checkpoint file failed.
    #[error("checkpoint {}: {source}", path.display())]
    CheckpointIo {
        /// The checkpoint file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The checkpoint file exists but cannot be used.
    #[error(
        "checkpoint {} is unusable: {reason}; move it away to start over \
         (lines may then be shipped again)",
        path.display()
    )]
    CheckpointInvalid {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Another agent holds the checkpoint: two agents on one checkpoint
    /// would both ship every line.
    #[error(
        "checkpoint {} is in use by another agent ({holder}; lock file {}); \
         one agent per checkpoint. If no agent is running on it, remove the lock file",
        path.display(),
        lock.display()
    )]
    CheckpointLocked {
        /// The checkpoint file.
        path: PathBuf,
        /// Its lock file (`CHECKPOINT.lock`).
        lock: PathBuf,
        /// Who holds it, as the lock file says (pid and host).
        holder: String,
    },

    /// The topic does not exist (the producer does not create topics).
    #[error("topic `{0}` does not exist; create it first (e.g. `durian topic create {0}`)")]
    TopicNotFound(String),

    /// A producer call or a delivery failed. Lines after the last
    /// checkpoint are recovered from the topic on the next start.
    #[error("producing to the topic failed: {0}")]
    Produce(#[from] durian_producer::ProducerError),

    /// Reading the topic back during recovery failed.
    #[error("reading the topic back during recovery failed: {0}")]
    Consume(#[from] durian_consumer::ConsumerError),

    /// A cluster request (metadata) failed.
    #[error("cluster request failed: {0}")]
    Client(#[from] durian_core::Error),

    /// Records recovery must read were deleted (retention or
    /// DeleteRecords moved the partition's log start past the checkpoint's
    /// `scan_from`), so lines shipped past the checkpoint cannot be told
    /// from lines never shipped. Nothing is sent; see docs/SHIP.md.
    #[error(
        "records {scan_from}..{log_start} of {topic}-{partition} were deleted (retention or \
         DeleteRecords) before recovery read them; lines shipped past checkpoint {} may be \
         among them, so resuming could ship them twice. To go on accepting that, set \
         `scan_from={log_start}` in the checkpoint; to start the file over, move the \
         checkpoint away",
        path.display()
    )]
    RecoveryRangeDeleted {
        /// The checkpoint file.
        path: PathBuf,
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Where recovery had to start reading.
        scan_from: i64,
        /// The partition's log start offset, past `scan_from`.
        log_start: i64,
    },

    /// Recovery could not reach the end of the partition in time.
    #[error(
        "recovery did not reach offset {end} of {topic}-{partition} within {waited:?} \
         (stuck at {position}); is the partition leader reachable?"
    )]
    RecoveryTimeout {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The end offset recovery was reading up to.
        end: i64,
        /// Where it stopped.
        position: i64,
        /// How long it tried.
        waited: std::time::Duration,
    },
}
