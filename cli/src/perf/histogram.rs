//! A fixed-size log-linear latency histogram.
//!
//! Values (microseconds) below [`SUB_BUCKETS`] get a bucket each; above
//! that, every power of two is split into [`SUB_BUCKETS`] equal buckets, so
//! a reported quantile is within 1/32 (about 3 %) of the true value while
//! the whole histogram stays a few kilobytes no matter how many values it
//! records. The exact minimum and maximum are kept beside the buckets.

use std::time::Duration;

/// Buckets per power of two (and the number of exact buckets at the bottom).
const SUB_BUCKETS: u64 = 32;
/// log2 of [`SUB_BUCKETS`].
const SUB_BUCKET_BITS: u32 = 5;
/// Enough buckets for any `u64`: one exact range plus one range per
/// power of two above it.
const BUCKETS: usize = ((64 - SUB_BUCKET_BITS as usize) + 1) * SUB_BUCKETS as usize;

/// Counts of latencies in log-linear buckets.
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
    min: u64,
    max: u64,
}

/// The quantiles `durian perf` prints, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LatencySummary {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest value recorded (exact).
    pub max: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram.
    pub fn new() -> LatencyHistogram {
        LatencyHistogram {
            counts: vec![0; BUCKETS],
            total: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Records one latency, at microsecond resolution.
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.record_micros(micros);
    }

    /// Records one value in microseconds.
    pub fn record_micros(&mut self, micros: u64) {
        if let Some(count) = self.counts.get_mut(bucket_of(micros)) {
            *count += 1;
        }
        self.total += 1;
        self.min = self.min.min(micros);
        self.max = self.max.max(micros);
    }

    /// How many values were recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The value at quantile `q` (0.0..=1.0): the upper edge of the bucket
    /// holding the `ceil(q * n)`-th smallest value, clamped to the exact
    /// minimum and maximum. `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        // ceil(q * n), at least the first value, at most the last.
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(bucket_upper_edge(index).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// p50, p99, p99.9 and max; `None` when empty.
    pub fn summary(&self) -> Option<LatencySummary> {
        Some(LatencySummary {
            p50: self.quantile(0.50)?,
            p99: self.quantile(0.99)?,
            p999: self.quantile(0.999)?,
            max: self.max,
        })
    }
}

/// The bucket a value falls in.
fn bucket_of(value: u64) -> usize {
    if value < SUB_BUCKETS {
        return value as usize;
    }
    // `value` has `magnitude + 1` significant bits; keep the top
    // SUB_BUCKET_BITS + 1 of them (the leading one and the sub-bucket).
    let magnitude = 63 - value.leading_zeros();
    let shift = magnitude - SUB_BUCKET_BITS;
    let sub = (value >> shift) & (SUB_BUCKETS - 1);
    ((shift as u64 + 1) * SUB_BUCKETS + sub) as usize
}

/// The largest value that falls in bucket `index`.
fn bucket_upper_edge(index: usize) -> u64 {
    let index = index as u64;
    if index < SUB_BUCKETS {
        return index;
    }
    let shift = index / SUB_BUCKETS - 1;
    let sub = index % SUB_BUCKETS;
    let lowest = (SUB_BUCKETS + sub) << shift;
    lowest.saturating_add((1u64 << shift) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        let mut histogram = LatencyHistogram::new();
        for value in 1..=10 {
            histogram.record_micros(value);
        }
        assert_eq!(histogram.quantile(0.5), Some(5));
        assert_eq!(histogram.quantile(1.0), Some(10));
        assert_eq!(histogram.quantile(0.0), Some(1));
    }

    #[test]
    fn every_value_lies_in_its_bucket() {
        for value in (0..20_000u64).chain([u64::MAX / 3, u64::MAX - 1, u64::MAX]) {
            let bucket = bucket_of(value);
            assert!(bucket < BUCKETS, "{value} → bucket {bucket}");
            assert!(value <= bucket_upper_edge(bucket), "{value}");
            if bucket > 0 {
                assert!(value > bucket_upper_edge(bucket - 1), "{value}");
            }
        }
    }

    #[test]
    fn quantiles_of_a_uniform_spread_are_within_the_bucket_error() {
        let mut histogram = LatencyHistogram::new();
        for value in 1..=100_000u64 {
            histogram.record_micros(value);
        }
        for (q, exact) in [(0.5, 50_000f64), (0.99, 99_000.0), (0.999, 99_900.0)] {
            let got = histogram.quantile(q).unwrap_or(0) as f64;
            let error = (got - exact).abs() / exact;
            assert!(error <= 1.0 / 32.0, "q{q}: {got} vs {exact}");
        }
        let summary = histogram.summary();
        assert_eq!(summary.map(|s| s.max), Some(100_000));
        assert_eq!(histogram.len(), 100_000);
    }

    #[test]
    fn a_single_outlier_is_the_max_not_the_median() {
        let mut histogram = LatencyHistogram::new();
        for _ in 0..999 {
            histogram.record(Duration::from_micros(200));
        }
        histogram.record(Duration::from_secs(3));
        let summary = histogram.summary();
        assert_eq!(summary.map(|s| s.max), Some(3_000_000));
        let p50 = summary.map_or(0, |s| s.p50);
        assert!((200..=207).contains(&p50), "{p50}");
        let p999 = summary.map_or(0, |s| s.p999);
        assert!((200..=207).contains(&p999), "{p999}");
    }

    #[test]
    fn empty_has_no_summary() {
        assert!(LatencyHistogram::new().summary().is_none());
        assert!(LatencyHistogram::new().is_empty());
    }
}
