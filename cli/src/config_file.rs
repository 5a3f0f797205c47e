//! `-F FILE` / `--command-config FILE`: client properties in Java's `.properties` format, the
//! format Kafka's own tools take (`--command-config`, `client.properties`).
//!
//! Supported: `key=value`, `key: value` and `key value`; `#` and `!`
//! comment lines; a trailing `\` continuing a line; the escapes `\t`,
//! `\n`, `\r`, `\f`, `\uXXXX` and `\` before any other character (`\=`,
//! `\:`, `\\`, `\ `).

use std::path::Path;

/// The properties of a file, in file order (a later duplicate wins when
/// merged, as in Java).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropertiesFile(pub Vec<(String, String)>);

/// Reads and parses `path`; the error names the file and the line.
pub fn load(path: &str) -> Result<PropertiesFile, String> {
    let text =
        std::fs::read_to_string(Path::new(path)).map_err(|e| format!("cannot read {path}: {e}"))?;
    parse(&text).map_err(|e| format!("{path}: {e}"))
}

/// Parses properties text.
pub fn parse(text: &str) -> Result<PropertiesFile, String> {
    let mut properties = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((number, line)) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        // Join continuation lines: an odd number of trailing backslashes.
        let mut logical = trimmed.to_owned();
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_entry(&logical);
        let key = unescape(key).map_err(|e| format!("line {}: {e}", number + 1))?;
        let value = unescape(value).map_err(|e| format!("line {}: {e}", number + 1))?;
        properties.push((key, value));
    }
    Ok(PropertiesFile(properties))
}

fn ends_with_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or whitespace; the separator's
/// surrounding whitespace is not part of key or value.
fn split_entry(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (at, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => return (&line[..at], line[at + 1..].trim_start()),
            c if c.is_whitespace() => {
                let rest = line[at..].trim_start();
                let rest = rest
                    .strip_prefix('=')
                    .or_else(|| rest.strip_prefix(':'))
                    .unwrap_or(rest);
                return (&line[..at], rest.trim_start());
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .ok_or_else(|| format!("`\\u{hex}` is not a \\uXXXX escape"))?;
                out.push(code);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).expect("parses").0
    }

    #[test]
    fn separators_comments_and_continuations() {
        let text = "# Confluent Cloud\n\
                    ! also a comment\n\
                    bootstrap.servers=pkc-1.example:9092\n\
                    security.protocol : SASL_SSL\n\
                    sasl.mechanism PLAIN\n\
                    sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule \\\n\
                    \x20   required username=\"KEY\" password=\"SECRET\";\n\
                    \n\
                    empty=\n";
        assert_eq!(
            pairs(text),
            vec![
                ("bootstrap.servers".into(), "pkc-1.example:9092".into()),
                ("security.protocol".into(), "SASL_SSL".into()),
                ("sasl.mechanism".into(), "PLAIN".into()),
                (
                    "sasl.jaas.config".into(),
                    "org.apache.kafka.common.security.plain.PlainLoginModule required \
                     username=\"KEY\" password=\"SECRET\";"
                        .into()
                ),
                ("empty".into(), String::new()),
            ]
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            pairs(r"a\=b=c\:d\\e\u0041\t"),
            vec![("a=b".into(), "c:d\\eA\t".into())]
        );
        assert!(parse(r"k=\uZZZZ").is_err());
    }
}
