//! The read side of a partition log: fetches and timestamp lookups.
//!
//! ```text
//! read(offset) ─▶ first segment whose records reach `offset`
//!              ─▶ .index: position of the last indexed batch at or before it
//!              ─▶ scan headers to the batch containing `offset`
//!              ─▶ whole batches from there, up to max_bytes
//! ```
//!
//! Batches are returned as raw bytes, never decoded; the first one may
//! start before the requested offset, and consumers skip those records, as
//! with Kafka. A read stays within one segment, as Kafka's does. A
//! read_committed read also stops at the last stable offset.

use bytes::Bytes;
use durian_core::record::BatchScanner;

use super::partition_log::{PartitionLog, ReadResult};
use super::segment::Segment;
use super::{FileRange, StorageError};

/// A fetch read answered with a range of a segment file instead of bytes
/// (see [`PartitionLog::locate_isolated`]).
#[derive(Debug, Clone)]
pub(crate) struct LocatedRead {
    /// The whole batches [`PartitionLog::read_isolated`] would have read.
    pub range: FileRange,
    /// The read's offsets and aborted transactions; its `records` are empty.
    pub result: ReadResult,
}

impl PartitionLog {
    /// Reads whole record batches starting with the one that contains
    /// `offset`, up to `max_bytes` in total.
    ///
    /// If the first batch alone is larger than `max_bytes` it is returned
    /// anyway when `min_one_batch` is set (so a consumer can always make
    /// progress), else nothing is. Reading at the log end offset returns no
    /// records; an offset below the log start or beyond the log end is
    /// [`StorageError::OffsetOutOfRange`].
    ///
    /// The broker's fetch path calls [`read_isolated`](Self::read_isolated);
    /// this is the read_uncommitted read for tests and the fuzz targets.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<ReadResult, StorageError> {
        self.read_isolated(offset, max_bytes, min_one_batch, false)
    }

    /// [`read`](Self::read) for a consumer's isolation level. With
    /// `read_committed` the batches stop before the last stable offset
    /// (nothing is returned from there on) and
    /// [`ReadResult::aborted_transactions`] lists the aborted transactions
    /// overlapping the batches returned, so the consumer can drop their
    /// records; read_uncommitted leaves it `None`, as Kafka does.
    pub fn read_isolated(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        read_committed: bool,
    ) -> Result<ReadResult, StorageError> {
        let (last_stable_offset, upper) = self.readable_from(offset, read_committed)?;
        let mut records = Vec::new();
        if offset < upper {
            for segment in self.segments_reaching(offset) {
                let Some((position, header)) = segment.find_batch(offset)? else {
                    continue;
                };
                let first_len = header.total_len();
                if first_len > max_bytes {
                    if min_one_batch {
                        records = segment.read_bytes(position, first_len)?;
                    }
                } else {
                    records = segment.read_bytes(position, max_bytes)?;
                }
                let (whole, _) = batches_below(&records, upper);
                records.truncate(whole);
                release_slack(&mut records);
                break;
            }
        }
        let aborted_transactions = read_committed.then(|| match batches_below(&records, upper).1 {
            Some(end) => self.aborted_transactions(offset, end),
            None => Vec::new(),
        });
        Ok(ReadResult {
            records: Bytes::from(records),
            high_watermark: self.high_watermark(),
            log_start_offset: self.log_start_offset,
            last_stable_offset,
            aborted_transactions,
        })
    }

    /// [`read_isolated`](Self::read_isolated) without reading the records:
    /// the same whole batches as a range of their segment file, for a
    /// response that sends them with `sendfile`.
    ///
    /// `Ok(None)` when there is nothing to send, and when the end of the
    /// batches is not known cheaply: a read_committed read whose last
    /// stable offset lies inside the segment read (the read path stops at
    /// it batch by batch), or bytes that are not well-formed batches. The
    /// caller then calls `read_isolated`. Every byte of the range was
    /// appended before this call (a segment's size only counts finished
    /// appends) and lies below the offset the read may see.
    pub(crate) fn locate_isolated(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        read_committed: bool,
    ) -> Result<Option<LocatedRead>, StorageError> {
        let (last_stable_offset, upper) = self.readable_from(offset, read_committed)?;
        if offset >= upper {
            return Ok(None);
        }
        for segment in self.segments_reaching(offset) {
            let Some((position, header)) = segment.find_batch(offset)? else {
                continue;
            };
            // Every batch of the segment lies below `upper`, or the read
            // path's per-batch cut is needed.
            if segment.next_offset() > upper {
                return Ok(None);
            }
            let first_len = header.total_len();
            let budget = if first_len <= max_bytes {
                max_bytes
            } else if min_one_batch {
                first_len
            } else {
                return Ok(None);
            };
            let Some(located) = segment.locate_batches(position, header, budget)? else {
                return Ok(None);
            };
            let end = located.last.next_offset();
            let aborted_transactions =
                read_committed.then(|| self.aborted_transactions(offset, end));
            return Ok(Some(LocatedRead {
                range: located.range,
                result: ReadResult {
                    records: Bytes::new(),
                    high_watermark: self.high_watermark(),
                    log_start_offset: self.log_start_offset,
                    last_stable_offset,
                    aborted_transactions,
                },
            }));
        }
        Ok(None)
    }

    /// Checks that the log is live and `offset` in range, and returns the
    /// last stable offset with the offset a read may not reach: the last
    /// stable offset under read_committed, else the log end. Shared by the
    /// read path and the sendfile path, so both see the same bound.
    fn readable_from(&self, offset: i64, read_committed: bool) -> Result<(i64, i64), StorageError> {
        self.ensure_live()?;
        self.check_offset(offset)?;
        let last_stable_offset = self.last_stable_offset();
        let upper = if read_committed {
            last_stable_offset
        } else {
            self.log_end_offset()
        };
        Ok((last_stable_offset, upper))
    }

    /// The earliest record whose timestamp is `>= timestamp` and whose
    /// offset is at least the log start, as (offset, timestamp); `None`
    /// when every record is older (ListOffsets then answers the log end).
    ///
    /// The time index finds the segment and a starting point; the first
    /// batch whose max timestamp reaches `timestamp` is then searched record
    /// by record (decompressing it if needed). The special ListOffsets
    /// timestamps (-1 latest, -2 earliest, -3 max) are the caller's to map.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, StorageError> {
        self.ensure_live()?;
        for segment in self.segments_reaching(self.log_start_offset) {
            if let Some(found) = segment.find_by_timestamp(
                timestamp,
                self.log_start_offset,
                self.config.max_message_bytes.saturating_mul(64),
            )? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The largest timestamp in the log and the last offset of the batch
    /// holding it, as (offset, timestamp), for ListOffsets MAX_TIMESTAMP
    /// (-3). On ties the earliest batch wins. `None` for an empty log or one
    /// without timestamps.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        let mut best: Option<(i64, i64)> = None;
        for segment in self.segments() {
            if let Some((offset, ts)) = segment.max_timestamp() {
                if best.is_none_or(|(_, best_ts)| ts > best_ts) {
                    best = Some((offset, ts));
                }
            }
        }
        best
    }

    /// Checks that `offset` lies in `[log start, log end]`.
    pub(super) fn check_offset(&self, offset: i64) -> Result<(), StorageError> {
        let (start, end) = (self.log_start_offset, self.log_end_offset());
        if offset < start || offset > end {
            return Err(StorageError::OffsetOutOfRange {
                requested: offset,
                start,
                end,
            });
        }
        Ok(())
    }

    /// Segments that may hold `offset` or later records, oldest first.
    fn segments_reaching(&self, offset: i64) -> impl Iterator<Item = &Segment> {
        self.segments().filter(move |s| s.next_offset() > offset)
    }
}

/// The bytes covered by the whole batches at the start of `bytes` that
/// begin below `upper`, and the offset after the last of them (`None`
/// when there is none).
fn batches_below(bytes: &[u8], upper: i64) -> (usize, Option<i64>) {
    let mut scanner = BatchScanner::new(bytes);
    let mut end = None;
    let mut covered = 0;
    while let Some(Ok(batch)) = scanner.next() {
        if batch.header.base_offset >= upper {
            break;
        }
        end = Some(batch.header.next_offset());
        covered = scanner.consumed();
    }
    (covered, end)
}

/// Gives back a read buffer's unused capacity when it is large. Records go
/// to the socket by reference (handlers/fetch_encode), so the buffer lives
/// until the response is written, while the response budget counts only the
/// bytes sent: a read_committed fetch that keeps a few hundred bytes of a
/// 1 MiB read (the last stable offset just past it) must not pin the rest.
fn release_slack(records: &mut Vec<u8>) {
    let slack = records.capacity() - records.len();
    if slack > RELEASABLE_SLACK.max(records.len() / 4) {
        records.shrink_to_fit();
    }
}

/// Unused read-buffer capacity worth a copy to give back.
const RELEASABLE_SLACK: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mostly_unused_read_buffer_gives_its_capacity_back() {
        let mut kept = Vec::with_capacity(1 << 20);
        kept.extend_from_slice(&[1u8; 600]);
        release_slack(&mut kept);
        assert!(
            kept.capacity() < 64 * 1024,
            "{} bytes pinned",
            kept.capacity()
        );
        assert_eq!(kept, vec![1u8; 600]);
        // A nearly full one is left as it is: no copy for a little slack.
        let mut full = Vec::with_capacity(1 << 20);
        full.resize((1 << 20) - 100, 2u8);
        release_slack(&mut full);
        assert_eq!(full.capacity(), 1 << 20);
    }
}
