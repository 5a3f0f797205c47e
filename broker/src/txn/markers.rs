//! Writing transaction markers to partitions: the one thing the
//! coordinator asks of the partition side.
//!
//! The coordinator talks to a [`MarkerWriter`] so it can be tested with a
//! fake; the broker's implementation appends control batches through the
//! storage engine.

/// The marker the storage engine writes: producer id and epoch, COMMIT or
/// ABORT, and the coordinator's epoch.
pub use crate::storage::TxnMarker;

/// Why a marker could not be written to a partition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot write a transaction marker to {topic}-{partition}: {message}")]
pub struct MarkerError {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The Kafka error code for a response.
    pub code: i16,
    /// What went wrong.
    pub message: String,
}

/// Writes markers to partitions.
pub trait MarkerWriter: Send + Sync {
    /// Appends `marker` to `topic`-`partition` (and wakes its fetches).
    /// A partition that no longer exists is not an error: there is nothing
    /// left to commit or abort there.
    fn write_marker(
        &self,
        topic: &str,
        partition: i32,
        marker: TxnMarker,
    ) -> Result<(), MarkerError>;
}
