//! How a shipped line looks in the topic, and how recovery reads it back.
//!
//! Every record carries the source name as its key (so all lines of a
//! source hash to one partition and stay in file order) and one header
//! that names the line for good:
//!
//! | header | value |
//! | --- | --- |
//! | `durian.ship` | `GENERATION/DEVICE:INODE/START-END`: the file's generation, the file, and the line's bytes in it, decimal |
//!
//! The value is the line without its newline.
//!
//! Agents before issue 18's change wrote the same three facts as three
//! headers (`durian.ship.generation`, `durian.ship.file`,
//! `durian.ship.range`); recovery reads both forms, so an agent restarted
//! on a newer version resumes over what the older one wrote. One header
//! takes about 45 fewer bytes per record, which is about a fifth of a
//! 100-byte line's record and a fifth of the agent's and the broker's CPU
//! per line.

use std::io::Write;
use std::str::FromStr;

use bytes::Bytes;
use durian_consumer::ConsumerRecord;
use durian_producer::{Header, ProducerRecord};

use super::follow::Line;
use super::identity::FileId;

/// The header naming a line: `GENERATION/DEVICE:INODE/START-END`.
pub const LINE_HEADER: &str = "durian.ship";
/// Older form: the header holding the file generation.
pub const GENERATION_HEADER: &str = "durian.ship.generation";
/// Older form: the header holding the file's `device:inode`.
pub const FILE_HEADER: &str = "durian.ship.file";
/// Older form: the header holding the line's byte range, `start-end`.
pub const RANGE_HEADER: &str = "durian.ship.range";

/// The longest [`LINE_HEADER`] value: three u64 and the two u64 of a file
/// id in decimal (20 digits each), and four separators.
const MAX_LINE_HEADER: usize = 5 * 20 + 4;

/// The record for one line.
pub fn line_record(topic: &str, partition: i32, source: &Bytes, line: &Line) -> ProducerRecord {
    LineRecords::new(topic, partition, source.clone()).record(line)
}

/// Makes the records of a stream of lines: the same as [`line_record`]
/// for each, but the header's `GENERATION/DEVICE:INODE/` prefix, the same
/// for every line of a file, is formatted once per file, so a record costs
/// three allocations (topic, header list, header value).
#[derive(Debug)]
pub struct LineRecords {
    topic: String,
    partition: i32,
    source: Bytes,
    /// The file of the last line and its header prefix.
    file: Option<(u64, FileId, Vec<u8>)>,
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
        let prefix = match &self.file {
            Some((generation, file, prefix))
                if (*generation, *file) == (line.generation, line.file) =>
            {
                prefix
            }
            _ => {
                let prefix = format!("{}/{}/", line.generation, line.file).into_bytes();
                &self.file.insert((line.generation, line.file, prefix)).2
            }
        };
        let mut value = Vec::with_capacity(MAX_LINE_HEADER);
        value.extend_from_slice(prefix);
        // Cannot fail: writing to a Vec.
        let _ = write!(value, "{}-{}", line.start, line.end);
        let mut record = ProducerRecord::new(self.topic.as_str(), line.text.clone())
            .with_key(self.source.clone())
            .with_partition(self.partition);
        record.headers = vec![Header::new(
            Bytes::from_static(LINE_HEADER.as_bytes()),
            Some(Bytes::from(value)),
        )];
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

/// Reads the shipping header(s) of `record` if it is a line of `source`;
/// `None` for other records (other sources, other producers, or headers
/// that do not parse).
pub fn shipped_line(record: &ConsumerRecord, source: &[u8]) -> Option<ShippedLine> {
    if record.key.as_deref() != Some(source) {
        return None;
    }
    line_of(record)
}

/// Reads the line a record names, from its shipping header(s) in either
/// form, whatever its key; `None` when it names none.
pub fn line_of(record: &ConsumerRecord) -> Option<ShippedLine> {
    let header = |name: &str| {
        record
            .headers
            .iter()
            .find(|h| &h.key[..] == name.as_bytes())
            .and_then(|h| h.value.as_deref())
            .and_then(|v| std::str::from_utf8(v).ok())
    };
    let line = match header(LINE_HEADER) {
        Some(value) => {
            let (generation, rest) = value.split_once('/')?;
            let (file, range) = rest.split_once('/')?;
            let (start, end) = range.split_once('-')?;
            ShippedLine {
                generation: parse(generation)?,
                file: FileId::parse(file)?,
                start: parse(start)?,
                end: parse(end)?,
            }
        }
        None => {
            let (start, end) = header(RANGE_HEADER)?.split_once('-')?;
            ShippedLine {
                generation: parse(header(GENERATION_HEADER)?)?,
                file: FileId::parse(header(FILE_HEADER)?)?,
                start: parse(start)?,
                end: parse(end)?,
            }
        }
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
        // Written out by hand, so that a mistake shared by both ways of
        // making records cannot pass.
        let expected = [
            "0/8:7/0-4",
            "0/8:7/4-8",
            "1/8:9/0-6",
            "1/8:9/18446744073709551605-18446744073709551609",
            "2/8:9/0-6",
        ];
        let mut records = LineRecords::new("web_log", 3, source.clone());
        for (line, expected) in lines.iter().zip(expected) {
            let streamed = records.record(line);
            assert_eq!(streamed.key.as_deref(), Some(&b"/var/log/a.log"[..]));
            assert_eq!(streamed.value.as_deref(), Some(&line.text[..]));
            assert_eq!(streamed.headers.len(), 1);
            assert_eq!(&streamed.headers[0].key[..], b"durian.ship");
            assert_eq!(
                streamed.headers[0].value.as_deref(),
                Some(expected.as_bytes())
            );
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

    /// A record as agents before the one-header form wrote it.
    fn old_form(source: &Bytes, line: &Line) -> ConsumerRecord {
        let mut record = ProducerRecord::new("t", line.text.clone())
            .with_key(source.clone())
            .with_partition(0)
            .with_header(GENERATION_HEADER, line.generation.to_string())
            .with_header(FILE_HEADER, line.file.to_string())
            .with_header(RANGE_HEADER, format!("{}-{}", line.start, line.end));
        record.topic = "t".into();
        consumed(record)
    }

    fn line_5_to_9() -> Line {
        Line {
            generation: 3,
            file: FileId {
                device: 2,
                inode: 1,
            },
            fingerprint: Fingerprint::default(),
            start: 5,
            end: 9,
            text: Bytes::new(),
        }
    }

    #[test]
    fn records_of_older_agents_are_read_back() {
        let source = Bytes::from_static(b"s");
        let line = line_5_to_9();
        let record = old_form(&source, &line);
        assert_eq!(
            shipped_line(&record, &source),
            Some(ShippedLine {
                generation: 3,
                file: line.file,
                start: 5,
                end: 9
            })
        );
        // The new form is one header with the same facts.
        let new = consumed(line_record("t", 0, &source, &line));
        assert_eq!(new.headers.len(), 1);
        assert_eq!(new.headers[0].value.as_deref(), Some(&b"3/2:1/5-9"[..]));
        assert_eq!(shipped_line(&new, &source), shipped_line(&record, &source));
    }

    #[test]
    fn malformed_headers_make_a_record_foreign() {
        let source = Bytes::from_static(b"s");
        let line = line_5_to_9();
        for bad in [
            "3/2:1/9-5",
            "3/2:1/x",
            "-1/2:1/5-9",
            "3/1/5-9",
            "3/2:1",
            "3/2:1/5-9/",
            "",
            "3/2:1/5-",
        ] {
            let mut record = consumed(line_record("t", 0, &source, &line));
            record.headers[0].value = Some(Bytes::from(bad));
            assert_eq!(shipped_line(&record, &source), None, "{LINE_HEADER}={bad}");
        }
        for (name, bad) in [
            (RANGE_HEADER, "9-5"),
            (RANGE_HEADER, "x"),
            (GENERATION_HEADER, "-1"),
            (FILE_HEADER, "1"),
        ] {
            let mut record = old_form(&source, &line);
            for header in &mut record.headers {
                if &header.key[..] == name.as_bytes() {
                    header.value = Some(Bytes::from(bad));
                }
            }
            assert_eq!(shipped_line(&record, &source), None, "{name}={bad}");
        }
    }
}
