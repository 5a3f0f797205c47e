//! Walking a byte range of concatenated record batches without decoding them.
//!
//! Segment files, produce requests and fetch responses all carry batches
//! back to back. A fetch response may cut its last batch at the byte limit,
//! and a crash may leave a torn batch at the end of a segment, so a short
//! tail is the normal end of a scan, not an error:
//!
//! ```text
//! | batch 0 | batch 1 | batch 2 (cut)  →  yields 0, 1; consumed() = end of 1; truncated() = true
//! | batch 0 | garbage (≥ 61 bytes)     →  yields 0, then Err; consumed() = end of 0
//! ```
//!
//! After an error item the scanner yields nothing more.

use bytes::Bytes;

use super::{BatchError, BatchHeader, BATCH_HEADER_LEN};

/// One batch found by a scanner: its header, its bytes, and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedBatch<B> {
    /// The parsed header.
    pub header: BatchHeader,
    /// The whole batch, header included (`header.total_len()` bytes).
    pub bytes: B,
    /// Byte position of the batch within the scanned range.
    pub position: usize,
}

/// Shared state machine of the borrowed and owned scanners.
#[derive(Debug, Clone)]
struct ScanState {
    position: usize,
    truncated: bool,
    done: bool,
    max_batch_size: usize,
}

impl Default for ScanState {
    fn default() -> Self {
        ScanState {
            position: 0,
            truncated: false,
            done: false,
            max_batch_size: usize::MAX,
        }
    }
}

impl ScanState {
    /// Finds the batch starting at `self.position` in `buf`, advancing past it.
    /// Returns its header and byte range, or `None` at a (possibly torn) end.
    fn step(&mut self, buf: &[u8]) -> Option<Result<(BatchHeader, usize, usize), BatchError>> {
        if self.done {
            return None;
        }
        let rest = buf.get(self.position..).unwrap_or_default();
        if rest.is_empty() {
            self.done = true;
            return None;
        }
        if rest.len() < BATCH_HEADER_LEN {
            self.done = true;
            self.truncated = true;
            return None;
        }
        let header = match BatchHeader::parse(rest) {
            Ok(header) => header,
            Err(err) => {
                self.done = true;
                return Some(Err(err));
            }
        };
        let len = header.total_len();
        if len > self.max_batch_size {
            self.done = true;
            return Some(Err(BatchError::TooLarge {
                size: len,
                limit: self.max_batch_size,
            }));
        }
        if rest.len() < len {
            self.done = true;
            self.truncated = true;
            return None;
        }
        let start = self.position;
        self.position += len;
        Some(Ok((header, start, start + len)))
    }
}

/// Iterates over the batches in a borrowed byte slice.
///
/// ```
/// use durian_core::record::{BatchScanner, BatchWriter, NO_HEADERS};
/// let batch = {
///     let mut w = BatchWriter::builder().build();
///     w.try_append(1_700_000_000_000, None, Some(b"v"), NO_HEADERS).unwrap();
///     w.finish().unwrap()
/// };
/// let mut scanner = BatchScanner::new(&batch[..batch.len() - 1]);
/// assert!(scanner.next().is_none());
/// assert!(scanner.truncated());
/// ```
#[derive(Debug, Clone)]
pub struct BatchScanner<'a> {
    buf: &'a [u8],
    state: ScanState,
}

impl<'a> BatchScanner<'a> {
    /// Scans `buf` from its first byte.
    pub fn new(buf: &'a [u8]) -> Self {
        BatchScanner {
            buf,
            state: ScanState::default(),
        }
    }

    /// Treats a header declaring more than `bytes` as an error
    /// ([`BatchError::TooLarge`]) instead of a torn tail. Without a limit a
    /// corrupt length field looks like a batch cut short; storage recovery
    /// and fetch decoding set this to the largest batch they accept.
    pub fn max_batch_size(mut self, bytes: usize) -> Self {
        self.state.max_batch_size = bytes;
        self
    }

    /// Bytes covered by the whole batches yielded so far.
    pub fn consumed(&self) -> usize {
        self.state.position
    }

    /// Whether the scan ended on an incomplete batch (only meaningful once
    /// the iterator returned `None`).
    pub fn truncated(&self) -> bool {
        self.state.truncated
    }

    /// The bytes not yet consumed (a torn tail after the scan ended).
    pub fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.state.position..).unwrap_or_default()
    }
}

impl<'a> Iterator for BatchScanner<'a> {
    type Item = Result<ScannedBatch<&'a [u8]>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        let buf = self.buf;
        Some(self.state.step(buf)?.and_then(|(header, start, end)| {
            let bytes = buf.get(start..end).ok_or(BatchError::Truncated {
                needed: end,
                available: buf.len(),
            })?;
            Ok(ScannedBatch {
                header,
                bytes,
                position: start,
            })
        }))
    }
}

impl std::iter::FusedIterator for BatchScanner<'_> {}

/// Iterates over the batches in a [`Bytes`] buffer, yielding zero-copy
/// `Bytes` slices that share the buffer's allocation.
#[derive(Debug, Clone)]
pub struct BytesBatchScanner {
    buf: Bytes,
    state: ScanState,
}

impl BytesBatchScanner {
    /// Scans `buf` from its first byte.
    pub fn new(buf: Bytes) -> Self {
        BytesBatchScanner {
            buf,
            state: ScanState::default(),
        }
    }

    /// Treats a header declaring more than `bytes` as an error
    /// ([`BatchError::TooLarge`]) instead of a torn tail. Without a limit a
    /// corrupt length field looks like a batch cut short; storage recovery
    /// and fetch decoding set this to the largest batch they accept.
    pub fn max_batch_size(mut self, bytes: usize) -> Self {
        self.state.max_batch_size = bytes;
        self
    }

    /// Bytes covered by the whole batches yielded so far.
    pub fn consumed(&self) -> usize {
        self.state.position
    }

    /// Whether the scan ended on an incomplete batch.
    pub fn truncated(&self) -> bool {
        self.state.truncated
    }

    /// The bytes not yet consumed, as a zero-copy slice.
    pub fn remaining(&self) -> Bytes {
        let start = self.state.position.min(self.buf.len());
        self.buf.slice(start..)
    }
}

impl Iterator for BytesBatchScanner {
    type Item = Result<ScannedBatch<Bytes>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (header, start, end) = match self.state.step(&self.buf)? {
            Ok(found) => found,
            Err(err) => return Some(Err(err)),
        };
        // step() only returns ranges inside the buffer.
        Some(Ok(ScannedBatch {
            header,
            bytes: self.buf.slice(start..end),
            position: start,
        }))
    }
}

impl std::iter::FusedIterator for BytesBatchScanner {}
