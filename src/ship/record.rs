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

use std::str::FromStr;

use bytes::Bytes;
use durian_consumer::ConsumerRecord;
use durian_producer::ProducerRecord;

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
    ProducerRecord::new(topic, line.text.clone())
        .with_key(source.clone())
        .with_partition(partition)
        .with_header(GENERATION_HEADER, line.generation.to_string())
        .with_header(FILE_HEADER, line.file.to_string())
        .with_header(RANGE_HEADER, format!("{}-{}", line.start, line.end))
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
    use crate::ship::identity::{ContentCheck, Fingerprint};

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
            tail: ContentCheck::default(),
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
    fn malformed_headers_make_a_record_foreign() {
        let source = Bytes::from_static(b"s");
        let line = Line {
            generation: 0,
            file: FileId {
                device: 0,
                inode: 0,
            },
            fingerprint: Fingerprint::default(),
            tail: ContentCheck::default(),
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
