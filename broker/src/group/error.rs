//! Errors of the group coordinator itself (as opposed to Kafka error codes in responses).

use std::path::PathBuf;

/// Why the coordinator could not open or write its offset log.
///
/// Protocol-level refusals (unknown member, illegal generation, ...) are never `GroupError`s:
/// they travel back to the client as error codes inside the response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// Reading, writing or syncing a file of the offset log failed.
    #[error("offset log I/O failed on {path}: {source}; check that the data directory is writable and not full")]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The offset log file does not start with durian's header, so it is not an offset log
    /// (or a different format version); it is left untouched.
    #[error("{path} is not a durian offset log (unknown header); move it away or point the broker at another data directory")]
    UnknownFormat {
        /// The file with the unexpected header.
        path: PathBuf,
    },
}

impl GroupError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        GroupError::Io {
            path: path.into(),
            source,
        }
    }
}
