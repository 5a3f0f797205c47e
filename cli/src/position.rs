//! Small parsers shared by several subcommands: where to start reading
//! (`beginning`, `end`, an offset or `@TIMESTAMP_MS`) and human durations
//! (`500ms`, `10s`, `2m`, `1h`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A place in a partition: `--from` of `durian consume`, `--to` of
/// `durian group seek`.
///
/// ```
/// use durian_cli::position::Position;
/// assert_eq!("beginning".parse(), Ok(Position::Beginning));
/// assert_eq!("42".parse(), Ok(Position::Offset(42)));
/// assert_eq!("@1700000000000".parse(), Ok(Position::Timestamp(1_700_000_000_000)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// The log start offset (`beginning`, also `earliest` or `start`).
    Beginning,
    /// The end of the log: only records written from now on (`end`, also `latest`).
    End,
    /// This offset in every partition.
    Offset(i64),
    /// The first record at or after this time, in ms since the epoch (`@MS`).
    Timestamp(i64),
}

impl FromStr for Position {
    type Err = String;

    fn from_str(text: &str) -> Result<Position, String> {
        let text = text.trim();
        match text {
            "beginning" | "earliest" | "start" => return Ok(Position::Beginning),
            "end" | "latest" => return Ok(Position::End),
            _ => {}
        }
        if let Some(ms) = text.strip_prefix('@') {
            return match ms.parse::<i64>() {
                Ok(ms) if ms >= 0 => Ok(Position::Timestamp(ms)),
                _ => Err(format!(
                    "bad timestamp {text:?}: expected @ followed by milliseconds since the epoch, e.g. @1700000000000"
                )),
            };
        }
        match text.parse::<i64>() {
            Ok(offset) if offset >= 0 => Ok(Position::Offset(offset)),
            _ => Err(format!(
                "bad position {text:?}: expected beginning, end, an offset (0 or more) or @TIMESTAMP_MS"
            )),
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Beginning => f.write_str("beginning"),
            Position::End => f.write_str("end"),
            Position::Offset(offset) => write!(f, "{offset}"),
            Position::Timestamp(ms) => write!(f, "@{ms}"),
        }
    }
}

/// Parses a duration: a number followed by `ms`, `s`, `m` or `h`; a bare
/// number means seconds.
///
/// ```
/// use std::time::Duration;
/// use durian_cli::position::parse_duration;
/// assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
/// assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || format!("bad duration {text:?}: expected e.g. 500ms, 10s, 2m or 1h");
    let value: f64 = number.parse().map_err(|_| bad())?;
    let seconds_per_unit = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    Duration::try_from_secs_f64(value * seconds_per_unit).map_err(|_| bad())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_print_back() {
        for (text, position) in [
            ("beginning", Position::Beginning),
            ("end", Position::End),
            ("0", Position::Offset(0)),
            ("17", Position::Offset(17)),
            ("@5", Position::Timestamp(5)),
        ] {
            assert_eq!(text.parse::<Position>(), Ok(position));
            assert_eq!(position.to_string(), text);
        }
        assert_eq!("earliest".parse::<Position>(), Ok(Position::Beginning));
        assert_eq!("latest".parse::<Position>(), Ok(Position::End));
    }

    #[test]
    fn bad_positions_are_rejected_with_the_accepted_forms() {
        for text in ["", "-1", "@", "@-3", "@x", "begin", "1.5"] {
            let error = text.parse::<Position>().unwrap_err();
            assert!(
                error.contains("beginning") || error.contains("@"),
                "{text:?}: {error}"
            );
        }
    }

    #[test]
    fn durations_take_units_and_default_to_seconds() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        for bad in ["", "s", "10x", "-1s", "ten"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }
}
