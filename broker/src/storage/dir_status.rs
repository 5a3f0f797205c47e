//! Whether a log directory is still usable.
//!
//! ```text
//! fsync fails ──▶ set_offline(cause) ──▶ error log, once
//!                      │
//!   every later append / read / flush of its logs ──▶ LogDirOffline (KAFKA_STORAGE_ERROR)
//! ```
//!
//! After a failed fsync the kernel may already have dropped the dirty pages
//! and cleared the error, so nothing written since the last successful
//! fsync can be trusted, and retrying the fsync proves nothing. Kafka's
//! answer, followed here, is to take the whole log directory offline: no
//! further writes, every request for its partitions answered with
//! KAFKA_STORAGE_ERROR, until an operator restarts the broker (recovery
//! then validates everything after the recovery point).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::StorageError;

/// The health of one log directory, shared by all its logs.
#[derive(Debug)]
pub(crate) struct LogDirStatus {
    dir: PathBuf,
    offline: AtomicBool,
}

impl LogDirStatus {
    /// A healthy directory.
    pub(crate) fn new(dir: &Path) -> LogDirStatus {
        LogDirStatus {
            dir: dir.to_path_buf(),
            offline: AtomicBool::new(false),
        }
    }

    /// Whether a failure took the directory offline.
    pub(crate) fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Acquire)
    }

    /// Takes the directory offline because of `cause`; logs it the first time.
    pub(crate) fn set_offline(&self, cause: &StorageError) {
        if !self.offline.swap(true, Ordering::AcqRel) {
            tracing::error!(
                log_dir = %self.dir.display(),
                error = %cause,
                "STORAGE FAILURE: log directory taken offline; its partitions refuse every \
                 produce and fetch with KAFKA_STORAGE_ERROR until the broker is restarted"
            );
        }
    }

    /// `Err(LogDirOffline)` once the directory is offline.
    pub(crate) fn check(&self) -> Result<(), StorageError> {
        if self.is_offline() {
            return Err(StorageError::LogDirOffline {
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }
}
