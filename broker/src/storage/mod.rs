//! The broker's storage engine: Kafka-style partition logs on local disk.
//!
//! ```text
//! LogManager (data dir) ── checkpoints: recovery points, log start offsets
//!   └─ PartitionLog (<topic>-<partition>/)
//!        ├─ Segment 00000000000000000000  .log .index .timeindex .txnindex
//!        ├─ Segment 00000000000000001234  ...
//!        └─ ProducerStateManager (idempotent producers, open transactions)
//! ```
//!
//! Produce data is validated and appended as sent, with offsets stamped
//! into copies of the batch headers written in the same vectored write;
//! fetches return raw byte ranges of whole batches. See `docs/STORAGE.md`
//! for the on-disk formats, recovery and flush policy.

mod append;
mod batch_io;
mod checkpoint;
mod cleaner;
mod config;
mod dir_status;
mod error;
mod faults;
mod file_range;
mod index_file;
mod layout;
mod log_manager;
mod marker;
mod offset_index;
mod partition_log;
mod partition_metadata;
mod producer_state;
mod read;
mod recovery;
mod retention;
mod scanned;
mod segment;
mod stamped;
mod time_index;
mod txn_index;

#[cfg(test)]
mod tests;

pub use cleaner::{CleanOutcome, CleanedPartition, CleanerConfig};
pub use config::{CleanupPolicy, DirtyRatio, FlushPolicy, LogConfig};
pub use error::StorageError;
pub use faults::FaultPoint;
pub(crate) use faults::Faults;
#[cfg(any(test, feature = "testing"))]
pub use faults::{FaultKind, StorageFaults};
pub(crate) use file_range::FileRange;
pub use log_manager::{lock_log, LogManager, SharedLog};
pub use marker::TxnMarker;
pub use partition_log::{PartitionLog, ReadResult, RecoveryHints};
pub(crate) use producer_state::ProducerView;
pub use scanned::ScannedRecords;
