//! The `--format` of `durian consume`: a template compiled once, then
//! rendered for every record into a byte buffer.
//!
//! Placeholders: `%t` topic, `%p` partition, `%o` offset, `%k` key, `%v`
//! value, `%h` headers (`key=value` joined by `,`; a null header value
//! prints the key alone), `%T` timestamp (ms since the epoch) and `%%`.
//! Escapes: `\n`, `\t`, `\r` and `\\`. Keys and values are written as
//! their raw bytes; a null key or value prints nothing.

use std::io::Write;

use durian::consumer::ConsumerRecord;

/// A compiled output template.
///
/// ```
/// use durian_cli::consume::Format;
/// let format: Format = "%t/%p@%o %k=%v\\n".parse().unwrap();
/// # let _ = format;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    Headers,
    Timestamp,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(template: &str) -> Result<Format, String> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut chars = template.chars();
        while let Some(c) = chars.next() {
            let piece = match c {
                '%' => match chars.next() {
                    Some('t') => Piece::Topic,
                    Some('p') => Piece::Partition,
                    Some('o') => Piece::Offset,
                    Some('k') => Piece::Key,
                    Some('v') => Piece::Value,
                    Some('h') => Piece::Headers,
                    Some('T') => Piece::Timestamp,
                    Some('%') => Piece::Literal(b"%".to_vec()),
                    other => return Err(unknown("%", other)),
                },
                '\\' => match chars.next() {
                    Some('n') => Piece::Literal(b"\n".to_vec()),
                    Some('t') => Piece::Literal(b"\t".to_vec()),
                    Some('r') => Piece::Literal(b"\r".to_vec()),
                    Some('\\') => Piece::Literal(b"\\".to_vec()),
                    other => return Err(unknown("\\", other)),
                },
                c => {
                    let mut utf8 = [0u8; 4];
                    Piece::Literal(c.encode_utf8(&mut utf8).as_bytes().to_vec())
                }
            };
            match piece {
                Piece::Literal(bytes) => literal.extend_from_slice(&bytes),
                placeholder => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(placeholder);
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Format { pieces })
    }
}

fn unknown(lead: &str, next: Option<char>) -> String {
    let shown = next.map_or_else(|| format!("a trailing {lead}"), |c| format!("{lead}{c}"));
    format!(
        "unknown {shown} in --format: use %t %p %o %k %v %h %T %% for record fields \
         and \\n \\t \\r \\\\ for special characters"
    )
}

impl Format {
    /// Appends `record` rendered by this template to `out`.
    pub fn render(&self, record: &ConsumerRecord, out: &mut Vec<u8>) {
        for piece in &self.pieces {
            // Writing into a Vec cannot fail.
            let _ = match piece {
                Piece::Literal(bytes) => out.write_all(bytes),
                Piece::Topic => out.write_all(record.topic.as_bytes()),
                Piece::Partition => write!(out, "{}", record.partition),
                Piece::Offset => write!(out, "{}", record.offset),
                Piece::Timestamp => write!(out, "{}", record.timestamp),
                Piece::Key => out.write_all(record.key.as_deref().unwrap_or_default()),
                Piece::Value => out.write_all(record.value.as_deref().unwrap_or_default()),
                Piece::Headers => {
                    for (i, header) in record.headers.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(&header.key);
                        if let Some(value) = &header.value {
                            out.push(b'=');
                            out.extend_from_slice(value);
                        }
                    }
                    Ok(())
                }
            };
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use durian::core::record::RecordHeader;

    fn record() -> ConsumerRecord {
        ConsumerRecord {
            topic: "web_log".into(),
            partition: 2,
            offset: 41,
            timestamp: 1_700_000_000_123,
            key: Some(Bytes::from_static(b"k\t1")),
            value: Some(Bytes::from("dürian ✓")),
            headers: vec![
                RecordHeader::new(Bytes::from_static(b"a"), Some(Bytes::from_static(b"1"))),
                RecordHeader::new(Bytes::from_static(b"n"), None),
            ],
            leader_epoch: 0,
        }
    }

    fn render(template: &str, record: &ConsumerRecord) -> String {
        let format: Format = template.parse().unwrap();
        let mut out = Vec::new();
        format.render(record, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_placeholder_and_escape_renders() {
        assert_eq!(
            render("%t|%p|%o|%k|%v|%h|%T|100%%\\t\\\\\\r\\n", &record()),
            "web_log|2|41|k\t1|dürian ✓|a=1,n|1700000000123|100%\t\\\r\n"
        );
        assert_eq!(render("%v\\n", &record()), "dürian ✓\n");
        assert_eq!(render("ü", &record()), "ü");
    }

    #[test]
    fn null_keys_values_and_no_headers_print_nothing() {
        let mut empty = record();
        empty.key = None;
        empty.value = None;
        empty.headers.clear();
        assert_eq!(render("[%k][%v][%h]", &empty), "[][][]");
    }

    #[test]
    fn unknown_placeholders_and_escapes_are_errors_naming_them() {
        for (template, named) in [
            ("%x", "%x"),
            ("%", "trailing %"),
            ("\\q", "\\q"),
            ("a\\", "trailing \\"),
        ] {
            let error = template.parse::<Format>().unwrap_err();
            assert!(error.contains(named), "{template}: {error}");
        }
    }
}
