//! The summary every `durian perf` run ends with ([`PerfReport`]).

use std::fmt;
use std::time::Duration;

use super::histogram::LatencySummary;
use super::progress;

/// The outcome of one perf run, printed as the summary on stdout.
#[derive(Clone, Debug, PartialEq)]
pub struct PerfReport {
    /// "produced" or "consumed".
    pub verb: &'static str,
    /// Records acknowledged (produce) or read (consume).
    pub records: u64,
    /// Their bytes (keys plus values).
    pub bytes: u64,
    /// From the start of the run to the last acknowledgement or record.
    pub elapsed: Duration,
    /// Per-record latency, when the run measures one.
    pub latency: Option<LatencySummary>,
    /// What the latency spans, e.g. "send → ack".
    pub latency_label: &'static str,
    /// How long the first record took to arrive (consume).
    pub first_record: Option<Duration>,
}

impl fmt::Display for PerfReport {
    /// ```text
    /// produced 1000 records (100000 bytes) in 0.41 s: 2439 records/s, 0.24 MB/s
    /// latency send → ack: p50 12.30 ms, p99 25.01 ms, p99.9 26.00 ms, max 26.10 ms
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (per_second, megabytes) = progress::rates(self.records, self.bytes, self.elapsed);
        write!(
            f,
            "{} {} records ({} bytes) in {:.2} s: {per_second:.0} records/s, {megabytes:.2} MB/s",
            self.verb,
            self.records,
            self.bytes,
            self.elapsed.as_secs_f64()
        )?;
        if let Some(latency) = self.latency {
            write!(
                f,
                "\nlatency {}: p50 {}, p99 {}, p99.9 {}, max {}",
                self.latency_label,
                millis(latency.p50),
                millis(latency.p99),
                millis(latency.p999),
                millis(latency.max)
            )?;
        }
        if let Some(first) = self.first_record {
            write!(
                f,
                "\nfirst record after {}",
                millis(u64::try_from(first.as_micros()).unwrap_or(u64::MAX))
            )?;
        }
        Ok(())
    }
}

/// Microseconds as milliseconds with two decimals.
fn millis(micros: u64) -> String {
    format!("{:.2} ms", micros as f64 / 1000.0)
}

/// Parses a duration such as `10s`, `500ms`, `2m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("expected a duration like 10s or 500ms, got {text:?}"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        _ => return Err(format!("unknown unit {unit:?} in {text:?}: use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_count_rates_and_quantiles() {
        let report = PerfReport {
            verb: "produced",
            records: 1_000,
            bytes: 100_000,
            elapsed: Duration::from_millis(500),
            latency: Some(LatencySummary {
                p50: 12_300,
                p99: 25_010,
                p999: 26_000,
                max: 26_100,
            }),
            latency_label: "send → ack",
            first_record: None,
        };
        assert_eq!(
            report.to_string(),
            "produced 1000 records (100000 bytes) in 0.50 s: 2000 records/s, 0.20 MB/s\n\
             latency send → ack: p50 12.30 ms, p99 25.01 ms, p99.9 26.00 ms, max 26.10 ms"
        );
    }

    #[test]
    fn durations_parse_with_and_without_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("").is_err());
    }
}
