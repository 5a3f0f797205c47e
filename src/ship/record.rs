//! How a shipped line looks in the topic, and how recovery reads it back.
//!
//! Every record carries the source name as its key (so all lines of a
//! source hash to one partition and stay in file order) and three headers
//! that name the line for good:
//!
//! | header | value |
//! | --- | --- |
//! | `durian.ship.generation` | the file's generation, decimal |
//! | `durian.ship.file` | the file's `device:inode` |
//! | `durian.ship.range` | `start-end`: the line's bytes in that file |
//!
//! The value is the line without its newline.

use std::io::Write;
use std::str::FromStr;

use bytes::Bytes;
use durian_consumer::ConsumerRecord;
use durian_producer::{Header, ProducerRecord};

use super::follow::Line;
use super::identity::FileId;

/// Header holding the file generation.
pub const GENERATION_HEADER: &str = "durian.ship.generation";
/// Header holding the file's `device:inode`.
pub const FILE_HEADER: &str = "durian.ship.file";
/// Header holding the line's byte range, `start-end`.
pub const RANGE_HEADER: &str = "durian.ship.range";

/// The record for one line.
pub fn line_record(topic: &str, partition: i32, source: &Bytes, line: &Line) -> ProducerRecord {
    LineRecords::new(topic, partition, source.clone()).record(line)
}

/// Makes the records of a stream of lines: the same as [`line_record`]
/// for each, but the generation and file header values, the same for every
/// line of a file, are formatted once per file and shared, and the header
/// names are static, so a record costs three allocations (topic, header
/// list, range) instead of nine.
#[derive(Debug)]
pub struct LineRecords {
    topic: String,
    partition: i32,
    source: Bytes,
    /// The file of the last line and its two header values.
    file: Option<(u64, FileId, Bytes, Bytes)>,
}

impl LineRecords {
    /// Records of `source`'s lines for `partition` of `topic`.
    pub fn new(topic: &str, partition: i32, source: Bytes) -> LineRecords {
        LineRecords {
            topic: topic.to_owned(),
            partition,
            source,
            file: None,
        }
    }

    /// The record for `line`.
    pub fn record(&mut self, line: &Line) -> ProducerRecord {
        let (generation, file) = match &self.file {
            Some((generation, file, g, f))
                if (*generation, *file) == (line.generation, line.file) =>
            {
                (g.clone(), f.clone())
            }
            _ => {
                let g = Bytes::from(line.generation.to_string());
                let f = Bytes::from(line.file.to_string());
                self.file = Some((line.generation, line.file, g.clone(), f.clone()));
                (g, f)
            }
        };
        // `start-end`: two u64 in decimal and a dash fit in 41 bytes.
        let mut range = [0u8; 41];
        let mut cursor = &mut range[..];
        let room = cursor.len();
        // Cannot fail: the buffer holds the longest range.
        let _ = write!(cursor, "{}-{}", line.start, line.end);
        let used = room - cursor.len();
        let mut record = ProducerRecord::new(self.topic.as_str(), line.text.clone())
            .with_key(self.source.clone())
            .with_partition(self.partition);
        record.headers = vec![
            Header::new(
                Bytes::from_static(GENERATION_HEADER.as_bytes()),
                Some(generation),
            ),
            Header::new(Bytes::from_static(FILE_HEADER.as_bytes()), Some(file)),
            Header::new(
                Bytes::from_static(RANGE_HEADER.as_bytes()),
                Some(Bytes::copy_from_slice(&range[..used])),
            ),
        ];
        record
    }
}

/// A line found in the topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShippedLine {
    /// The file generation.
    pub generation: u64,
    /// The file.
    pub file: FileId,
    /// First byte of the line.
    pub start: u64,
    /// Byte after the line.
    pub end: u64,
}

/// Reads the shipping headers of `record` if it is a line of `source`;
/// `None` for other records (other sources, other producers, or headers
/// that do not parse).
pub fn shipped_line(record: &ConsumerRecord, source: &[u8]) -> Option<ShippedLine> {
    if record.key.as_deref() != Some(source) {
        return None;
    }
    let header = |name: &str| {
        record
            .headers
            .iter()
            .find(|h| &h.key[..] == name.as_bytes())
            .and_then(|h| h.value.as_deref())
            .and_then(|v| std::str::from_utf8(v).ok())
    };
    let (start, end) = header(RANGE_HEADER)?.split_once('-')?;
    let line = ShippedLine {
        generation: parse(header(GENERATION_HEADER)?)?,
        file: FileId::parse(header(FILE_HEADER)?)?,
        start: parse(start)?,
        end: parse(end)?,
    };
    (line.start <= line.end).then_some(line)
}

fn parse<T: FromStr>(text: &str) -> Option<T> {
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use super::*;
    use crate::ship::identity::Fingerprint;

    fn consumed(produced: ProducerRecord) -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from(produced.topic.as_str()),
            partition: produced.partition.unwrap(),
            offset: 7,
            timestamp: 0,
            key: produced.key,
            value: produced.value,
            headers: produced.headers,
            leader_epoch: 0,
        }
    }

    #[test]
    fn a_line_survives_the_round_trip_through_headers() {
        let line = Line {
            generation: 4,
            file: FileId {
                device: 1,
                inode: 99,
            },
            fingerprint: Fingerprint::default(),
            start: 120,
            end: 131,
            text: Bytes::from_static(b"GET / 200"),
        };
        let source = Bytes::from_static(b"/var/log/a.log");
        let record = consumed(line_record("web_log", 2, &source, &line));
        assert_eq!(record.value.as_deref(), Some(&b"GET / 200"[..]));
        assert_eq!(
            shipped_line(&record, &source),
            Some(ShippedLine {
                generation: 4,
                file: line.file,
                start: 120,
                end: 131
            })
        );
        assert_eq!(shipped_line(&record, b"other source"), None);
    }

    #[test]
    fn records_of_a_stream_match_records_made_one_by_one() {
        let source = Bytes::from_static(b"/var/log/a.log");
        let line = |generation, inode, start: u64, text: &'static [u8]| Line {
            generation,
            file: FileId { device: 8, inode },
            fingerprint: Fingerprint::default(),
            start,
            end: start + text.len() as u64 + 1,
            text: Bytes::from_static(text),
        };
        let lines = [
            line(0, 7, 0, b"one"),
            line(0, 7, 4, b"two"),
            // Rotation: a new file, a new generation.
            line(1, 9, 0, b"three"),
            line(1, 9, u64::MAX - 10, b"far"),
            // Truncation: the same file, a new generation.
            line(2, 9, 0, b"again"),
        ];
        let mut records = LineRecords::new("web_log", 3, source.clone());
        for line in &lines {
            let streamed = records.record(line);
            let single = line_record("web_log", 3, &source, line);
            assert_eq!(
                (
                    &streamed.topic,
                    streamed.partition,
                    &streamed.key,
                    &streamed.value
                ),
                (&single.topic, single.partition, &single.key, &single.value)
            );
            assert_eq!(streamed.headers, single.headers);
            assert_eq!(
                shipped_line(&consumed(streamed), &source),
                Some(ShippedLine {
                    generation: line.generation,
                    file: line.file,
                    start: line.start,
                    end: line.end
                })
            );
        }
    }

    #[test]
    fn malformed_headers_make_a_record_foreign() {
        let source = Bytes::from_static(b"s");
        let line = Line {
            generation: 0,
            file: FileId {
                device: 0,
                inode: 0,
            },
            fingerprint: Fingerprint::default(),
            start: 5,
            end: 9,
            text: Bytes::new(),
        };
        for (name, bad) in [
            (RANGE_HEADER, "9-5"),
            (RANGE_HEADER, "x"),
            (GENERATION_HEADER, "-1"),
            (FILE_HEADER, "1"),
        ] {
            let mut record = consumed(line_record("t", 0, &source, &line));
            for header in &mut record.headers {
                if &header.key[..] == name.as_bytes() {
                    header.value = Some(Bytes::from(bad));
                }
            }
            assert_eq!(shipped_line(&record, &source), None, "{name}={bad}");
        }
    }
}
