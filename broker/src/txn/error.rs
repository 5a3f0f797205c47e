//! Errors of the transaction coordinator.

use std::path::{Path, PathBuf};

/// Why the transaction coordinator could not open or write its log.
#[derive(Debug, thiserror::Error)]
pub enum TxnLogError {
    /// Reading, writing or syncing a file failed.
    #[error("transaction log I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a transaction log.
    #[error("{path} is not a durian transaction log")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
}

impl TxnLogError {
    pub(crate) fn io(path: impl AsRef<Path>, source: std::io::Error) -> TxnLogError {
        TxnLogError::Io {
            path: path.as_ref().to_owned(),
            source,
        }
    }
}
