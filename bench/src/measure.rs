//! What one worker measured, and how it travels from the worker process to
//! the orchestrator: a single `RESULT key=value ...` line on stdout.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// Prefix of the line a worker prints with its measurement.
pub const RESULT_PREFIX: &str = "RESULT ";

/// Process CPU time and peak memory, read with `getrusage(RUSAGE_SELF)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Peak resident set size so far, in KiB (Linux reports `ru_maxrss` in KiB).
    pub max_rss_kib: u64,
}

impl Usage {
    /// The calling process's usage now.
    pub fn now() -> Usage {
        // SAFETY: getrusage only writes into the zeroed struct we own.
        let mut raw: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: RUSAGE_SELF with a valid pointer cannot fail on Linux.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut raw) };
        if rc != 0 {
            return Usage::default();
        }
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec.max(0) as u64)
                + Duration::from_micros(t.tv_usec.max(0) as u64)
        };
        Usage {
            cpu: tv(raw.ru_utime) + tv(raw.ru_stime),
            max_rss_kib: raw.ru_maxrss.max(0) as u64,
        }
    }
}

/// End-to-end latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

impl Latency {
    /// Percentiles of `samples` (nearest rank); all zero when empty.
    pub fn from_samples(samples: &mut [u64]) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort_unstable();
        let rank = |q: f64| {
            let idx = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
            samples.get(idx).copied().unwrap_or(0) as f64
        };
        Latency {
            p50_us: rank(0.50),
            p99_us: rank(0.99),
            p999_us: rank(0.999),
            max_us: samples.last().copied().unwrap_or(0) as f64,
        }
    }
}

/// One scenario's result for one client.
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    /// Records produced or consumed.
    pub records: u64,
    /// Payload bytes (values) produced or consumed.
    pub bytes: u64,
    /// Wall time of the measured part.
    pub elapsed: Duration,
    /// Client CPU (user + sys) spent in the measured part.
    pub cpu: Duration,
    /// Peak RSS of the worker process, KiB.
    pub max_rss_kib: u64,
    /// Heap allocations made in the measured part (0 unless counting was on).
    pub allocations: u64,
    /// Latency percentiles, for the latency scenario.
    pub latency: Option<Latency>,
    /// Consume scenario: from creating the consumer to its first record.
    pub startup: Option<Duration>,
}

impl Measurement {
    /// Records per second.
    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Payload megabytes (10^6) per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `RESULT ...` line a worker prints.
    pub fn to_line(&self) -> String {
        let mut line = String::from(RESULT_PREFIX);
        let _ = write!(
            line,
            "records={} bytes={} elapsed_us={} cpu_us={} max_rss_kib={} allocations={}",
            self.records,
            self.bytes,
            self.elapsed.as_micros(),
            self.cpu.as_micros(),
            self.max_rss_kib,
            self.allocations
        );
        if let Some(startup) = self.startup {
            let _ = write!(line, " startup_us={}", startup.as_micros());
        }
        if let Some(l) = self.latency {
            let _ = write!(
                line,
                " p50_us={} p99_us={} p999_us={} max_us={}",
                l.p50_us, l.p99_us, l.p999_us, l.max_us
            );
        }
        line
    }

    /// Parses the line printed by [`Measurement::to_line`]; `None` if it is not one.
    pub fn parse_line(line: &str) -> Option<Measurement> {
        let body = line.trim().strip_prefix(RESULT_PREFIX)?;
        let fields: BTreeMap<&str, &str> = body
            .split(' ')
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let int = |k: &str| fields.get(k).and_then(|v| v.parse::<u64>().ok());
        let float = |k: &str| fields.get(k).and_then(|v| v.parse::<f64>().ok());
        let latency = match (
            float("p50_us"),
            float("p99_us"),
            float("p999_us"),
            float("max_us"),
        ) {
            (Some(p50_us), Some(p99_us), Some(p999_us), Some(max_us)) => Some(Latency {
                p50_us,
                p99_us,
                p999_us,
                max_us,
            }),
            _ => None,
        };
        Some(Measurement {
            records: int("records")?,
            bytes: int("bytes")?,
            elapsed: Duration::from_micros(int("elapsed_us")?),
            cpu: Duration::from_micros(int("cpu_us")?),
            max_rss_kib: int("max_rss_kib")?,
            allocations: int("allocations").unwrap_or(0),
            latency,
            startup: int("startup_us").map(Duration::from_micros),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_round_trips() {
        let m = Measurement {
            records: 10,
            bytes: 1000,
            elapsed: Duration::from_micros(1234),
            cpu: Duration::from_micros(99),
            max_rss_kib: 4096,
            allocations: 7,
            latency: Some(Latency {
                p50_us: 1.0,
                p99_us: 2.0,
                p999_us: 3.0,
                max_us: 4.0,
            }),
            startup: Some(Duration::from_millis(5)),
        };
        let back = Measurement::parse_line(&m.to_line()).expect("parses");
        assert_eq!(back.records, 10);
        assert_eq!(back.elapsed, Duration::from_micros(1234));
        assert_eq!(back.latency, m.latency);
        assert_eq!(back.startup, Some(Duration::from_millis(5)));
        assert!(Measurement::parse_line("noise").is_none());
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut samples: Vec<u64> = (1..=1000).rev().collect();
        let l = Latency::from_samples(&mut samples);
        assert_eq!(l.p50_us, 500.0);
        assert_eq!(l.p99_us, 990.0);
        assert_eq!(l.p999_us, 999.0);
        assert_eq!(l.max_us, 1000.0);
    }
}

/// Times a consumer: start-up until the first records, then throughput
/// from there on, so the rate is not diluted by metadata and offset lookups.
#[derive(Debug)]
pub struct ConsumeClock {
    created: std::time::Instant,
    span: Option<Span>,
    startup: Duration,
    records: u64,
    bytes: u64,
    seen: u64,
}

impl ConsumeClock {
    /// Starts the start-up clock (call right before creating the consumer).
    pub fn new() -> ConsumeClock {
        ConsumeClock {
            created: std::time::Instant::now(),
            span: None,
            startup: Duration::ZERO,
            records: 0,
            bytes: 0,
            seen: 0,
        }
    }

    /// Notes one delivery of `records` records holding `bytes` value bytes.
    /// The first delivery ends start-up and is not counted in the rate.
    pub fn delivered(&mut self, records: u64, bytes: u64) {
        if records == 0 {
            return;
        }
        self.seen += records;
        if self.span.is_none() {
            self.startup = self.created.elapsed();
            self.span = Some(Span::start());
        } else {
            self.records += records;
            self.bytes += bytes;
        }
    }

    /// Records seen so far, the first delivery included.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The measurement; `None` if nothing arrived.
    pub fn finish(self) -> Option<Measurement> {
        let mut m = self.span?.finish(self.records, self.bytes);
        m.startup = Some(self.startup);
        Some(m)
    }
}

/// The measured part of a scenario: wall time, CPU and allocations between
/// [`Span::start`] and [`Span::finish`].
#[derive(Debug)]
pub struct Span {
    started: std::time::Instant,
    usage: Usage,
    allocations: u64,
}

impl Span {
    /// Starts measuring.
    pub fn start() -> Span {
        Span {
            started: std::time::Instant::now(),
            usage: Usage::now(),
            allocations: crate::alloc_count::allocations(),
        }
    }

    /// Stops measuring; `records` and `bytes` are what the part moved.
    pub fn finish(self, records: u64, bytes: u64) -> Measurement {
        let elapsed = self.started.elapsed();
        let usage = Usage::now();
        Measurement {
            records,
            bytes,
            elapsed,
            cpu: usage.cpu.saturating_sub(self.usage.cpu),
            max_rss_kib: usage.max_rss_kib,
            allocations: crate::alloc_count::allocations() - self.allocations,
            latency: None,
            startup: None,
        }
    }
}
