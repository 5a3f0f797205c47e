//! Recovery: what the topic already holds past the checkpoint.
//!
//! The checkpoint trails the acknowledgements (it is written every
//! checkpoint interval, and a crash can come between an acknowledgement and
//! the next write). So on start the shipper reads its partition from the
//! checkpoint's `scan_from` offset to the current end and collects, per
//! file generation, the byte ranges of its lines found there. Lines inside
//! those ranges are then skipped instead of sent again.
//!
//! ```text
//!  partition:  … | scan_from ──────────────────────────────▶ end offset
//!                  records keyed by our source: (generation, file, start-end)
//!                        ▼
//!  Written { generation → (file, ranges) } ──▶ resume points + skip filter
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use durian_consumer::{Consumer, TopicPartition};

use super::error::ShipError;
use super::identity::{ContentCheck, FileId};
use super::record::{shipped_line, ShippedLine};

/// Disjoint byte ranges `[start, end)`, merged as they are added.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// start → end, non-overlapping and non-adjacent.
    ranges: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// Adds `[start, end)`.
    pub fn insert(&mut self, mut start: u64, mut end: u64) {
        if start >= end {
            return;
        }
        // Absorb the range that begins at or before `start` if it reaches it.
        if let Some((&s, &e)) = self.ranges.range(..=start).next_back() {
            if e >= start {
                start = s;
                end = end.max(e);
            }
        }
        let absorbed: Vec<u64> = self.ranges.range(start..=end).map(|(&s, _)| s).collect();
        for s in absorbed {
            if let Some(e) = self.ranges.remove(&s) {
                end = end.max(e);
            }
        }
        self.ranges.insert(start, end);
    }

    /// Whether `offset` lies in one of the ranges.
    pub fn contains(&self, offset: u64) -> bool {
        self.ranges
            .range(..=offset)
            .next_back()
            .is_some_and(|(_, &end)| offset < end)
    }

    /// The end of the last range (0 when empty).
    pub fn end(&self) -> u64 {
        self.ranges.values().next_back().copied().unwrap_or(0)
    }

    /// How many separate ranges there are (1 when nothing is missing).
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether no range was added.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// The lines of one file generation found in the topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFile {
    /// The file, as its records name it.
    pub file: FileId,
    /// Byte ranges of its lines.
    pub ranges: RangeSet,
    /// The last bytes of its line that ends last, taken from the record's
    /// value: a file found by this inode must still hold them to be
    /// resumed (`None` if no record's value matched its byte range).
    pub last: Option<ContentCheck>,
}

impl WrittenFile {
    /// Adds a line found in the topic, with its value.
    fn add(&mut self, line: &ShippedLine, value: &[u8]) {
        self.ranges.insert(line.start, line.end);
        let length = line.end - line.start;
        let value_len = value.len() as u64;
        // The value is the line without its newline; anything else is a
        // record that does not describe its bytes, so nothing to check.
        if length != value_len && length != value_len + 1 {
            return;
        }
        if self.last.is_none_or(|last| last.end() <= line.end) {
            self.last = Some(ContentCheck::line_tail(line.end, value, length > value_len));
        }
    }
}

/// What recovery found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Per generation, the lines already in the topic.
    pub generations: BTreeMap<u64, WrittenFile>,
    /// The partition's end offset when the scan started.
    pub end_offset: i64,
    /// How many of our records the scan read.
    pub records: u64,
}

impl Written {
    /// Whether the line of `generation` starting at `start` is already in the topic.
    pub fn contains(&self, generation: u64, start: u64) -> bool {
        self.generations
            .get(&generation)
            .is_some_and(|w| w.ranges.contains(start))
    }

    /// Whether the topic holds a line past byte `position` of
    /// `generation`, or of a later generation.
    pub fn has_line_past(&self, generation: u64, position: u64) -> bool {
        self.generations
            .range(generation..)
            .any(|(&g, w)| g > generation || w.ranges.end() > position)
    }
}

/// Reads `topic`-`partition` from `from` (or nothing, if `None`) to
/// `end`, its end offset, collecting the lines of `source`.
/// `consumer_properties` configure a group-less consumer.
pub async fn scan(
    consumer_properties: Vec<(String, String)>,
    topic: &str,
    partition: i32,
    source: &[u8],
    from: Option<i64>,
    end: i64,
    timeout: Duration,
) -> Result<Written, ShipError> {
    let mut consumer = Consumer::from_properties(consumer_properties)?;
    let tp = TopicPartition::new(topic, partition);
    consumer.assign([tp.clone()])?;
    let mut written = Written {
        end_offset: end,
        ..Written::default()
    };
    let Some(from) = from.filter(|from| *from < end) else {
        consumer.close().await?;
        return Ok(written);
    };
    consumer.seek(&tp, from)?;
    let mut position = from;
    let mut last_progress = Instant::now();
    while position < end {
        let batch = consumer.poll(Duration::from_millis(200)).await?;
        if let Some((_, error)) = batch.errors.into_iter().next() {
            return Err(ShipError::Consume(error));
        }
        for record in batch.records.values().flatten() {
            let Some(line) = shipped_line(record, source) else {
                continue;
            };
            written.records += 1;
            written
                .generations
                .entry(line.generation)
                .or_insert_with(|| WrittenFile {
                    file: line.file,
                    ranges: RangeSet::default(),
                    last: None,
                })
                .add(&line, record.value.as_deref().unwrap_or_default());
        }
        let now = consumer.position(&tp).await?;
        if now > position {
            position = now;
            last_progress = Instant::now();
        } else if last_progress.elapsed() > timeout {
            return Err(ShipError::RecoveryTimeout {
                topic: topic.to_owned(),
                partition,
                end,
                position,
                waited: timeout,
            });
        }
    }
    consumer.close().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_answer_membership() {
        let mut set = RangeSet::default();
        set.insert(10, 20);
        set.insert(30, 40);
        assert_eq!(set.len(), 2);
        assert!(set.contains(10) && set.contains(19) && !set.contains(20));
        assert!(!set.contains(5) && !set.contains(25) && set.contains(35));
        set.insert(20, 30); // adjacent on both sides: one range
        assert_eq!(set.len(), 1);
        assert!(set.contains(25) && set.contains(39) && !set.contains(40));
        set.insert(0, 100);
        assert_eq!(set.len(), 1);
        assert!(set.contains(0) && set.contains(99));
        set.insert(7, 7); // empty: ignored
        set.insert(200, 210);
        set.insert(205, 215);
        assert_eq!(set.len(), 2);
        assert!(set.contains(214) && !set.contains(215));
    }

    #[test]
    fn written_answers_per_generation() {
        let mut written = Written::default();
        let mut ranges = RangeSet::default();
        ranges.insert(0, 50);
        written.generations.insert(
            2,
            WrittenFile {
                file: FileId {
                    device: 1,
                    inode: 2,
                },
                ranges,
                last: None,
            },
        );
        assert!(written.contains(2, 49));
        assert!(!written.contains(2, 50));
        assert!(!written.contains(3, 0));
        assert!(written.has_line_past(1, 900) && written.has_line_past(2, 49));
        assert!(!written.has_line_past(2, 50) && !written.has_line_past(3, 0));
    }

    #[test]
    fn the_line_that_ends_last_gives_the_content_check() {
        let mut found = WrittenFile {
            file: FileId {
                device: 1,
                inode: 2,
            },
            ranges: RangeSet::default(),
            last: None,
        };
        let file = found.file;
        let line = |start, end| ShippedLine {
            generation: 0,
            file,
            start,
            end,
        };
        found.add(&line(10, 14), b"abc");
        assert_eq!(found.last, Some(ContentCheck::line_tail(14, b"abc", true)));
        found.add(&line(0, 10), b"012345678");
        assert_eq!(found.last.map(|c| c.end()), Some(14), "an earlier line");
        found.add(&line(14, 16), b"xy"); // cut piece: no newline
        assert_eq!(found.last, Some(ContentCheck::line_tail(16, b"xy", false)));
        found.add(&line(16, 30), b"short"); // value does not fit its range
        assert_eq!(found.last.map(|c| c.end()), Some(16));
        assert!(found.ranges.contains(29));
    }
}
