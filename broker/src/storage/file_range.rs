//! A byte range of an open segment file, handed to the connection so a
//! plaintext Fetch response sends record bytes from the page cache with
//! `sendfile` instead of reading them into memory first.
//!
//! The range holds the segment's open file, not its path: retention may
//! delete the segment, or the log cleaner replace it, while the response
//! is still being written, and the open file keeps the bytes readable
//! until the last range is dropped (Linux frees a deleted file's data only
//! when no descriptor refers to it). The bytes themselves never change:
//! segments are append-only, and a range only covers whole batches that
//! were already appended when it was taken.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

/// `len` bytes at `position` of a segment's `.log` file.
#[derive(Debug, Clone)]
pub(crate) struct FileRange {
    file: Arc<File>,
    position: u64,
    len: usize,
}

impl FileRange {
    /// The range `position..position + len` of `file`, which the caller
    /// has checked lies within the whole batches of the segment.
    pub(crate) fn new(file: Arc<File>, position: u64, len: usize) -> FileRange {
        FileRange {
            file,
            position,
            len,
        }
    }

    /// The open file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Where the range starts in the file.
    pub(crate) fn position(&self) -> u64 {
        self.position
    }

    /// Bytes in the range.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The bytes, read into memory: for writers `sendfile` cannot reach
    /// (TLS) and for records too small to be worth a piece of their own.
    /// A file shorter than the range (which only a damaged or externally
    /// truncated segment can be) is `UnexpectedEof`.
    pub(crate) fn read(&self) -> std::io::Result<Bytes> {
        let mut buf = vec![0u8; self.len];
        self.file.read_exact_at(&mut buf, self.position)?;
        Ok(Bytes::from(buf))
    }
}
