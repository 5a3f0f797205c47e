//! Per-API latency histograms with fixed buckets, in the Prometheus text
//! format (`_bucket{le=...}`, `_sum`, `_count`).
//!
//! A sample is one relaxed `fetch_add` on its bucket plus two on the sum
//! and count: no lock, no allocation. Buckets are stored non-cumulative
//! and summed when a scrape renders them.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;

use super::API_SLOTS;

/// Upper bounds of the buckets, in seconds (a last `+Inf` bucket follows):
/// from half a millisecond (an in-memory answer) to ten seconds (a long
/// Fetch wait or a slow disk).
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One histogram per API key.
#[derive(Debug)]
pub struct ApiHistograms {
    /// `API_SLOTS` rows of `BUCKETS.len() + 1` counts (the last is `+Inf`).
    buckets: Vec<AtomicU64>,
    /// Sum of the samples of each API, in microseconds.
    sum_micros: Vec<AtomicU64>,
    count: Vec<AtomicU64>,
}

impl Default for ApiHistograms {
    fn default() -> Self {
        let atomics = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        ApiHistograms {
            buckets: atomics(API_SLOTS * (BUCKETS.len() + 1)),
            sum_micros: atomics(API_SLOTS),
            count: atomics(API_SLOTS),
        }
    }
}

impl ApiHistograms {
    /// Records one sample of `api`; a key outside the array is not counted.
    pub fn record(&self, api: ApiKey, elapsed: Duration) {
        let Some(slot) = usize::try_from(api as i16).ok().filter(|s| *s < API_SLOTS) else {
            return;
        };
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        let row = slot * (BUCKETS.len() + 1);
        if let Some(counter) = self.buckets.get(row + bucket) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros[slot].fetch_add(micros, Ordering::Relaxed);
        self.count[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// Samples recorded for `api` so far.
    #[cfg(test)]
    pub fn count(&self, api: ApiKey) -> u64 {
        usize::try_from(api as i16)
            .ok()
            .and_then(|i| self.count.get(i))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Writes the `_bucket`, `_sum` and `_count` lines of `name` for every
    /// API with at least one sample (so the page grows only with the APIs
    /// clients actually use).
    pub fn render(&self, page: &mut String, name: &str) {
        for slot in 0..API_SLOTS {
            let count = self.count[slot].load(Ordering::Relaxed);
            let Some(api) = i16::try_from(slot)
                .ok()
                .and_then(|k| ApiKey::try_from(k).ok())
                .filter(|_| count > 0)
            else {
                continue;
            };
            let row = slot * (BUCKETS.len() + 1);
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().map(Some).chain([None]).enumerate() {
                cumulative += self.buckets[row + i].load(Ordering::Relaxed);
                let le = bound.map_or_else(|| "+Inf".to_owned(), f64::to_string);
                let _ = writeln!(
                    page,
                    "durian_broker_{name}_bucket{{api=\"{api:?}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let sum = self.sum_micros[slot].load(Ordering::Relaxed) as f64 / 1e6;
            // The count line is the +Inf bucket, so the two always agree
            // even when a sample lands between the loads.
            let _ = writeln!(page, "durian_broker_{name}_sum{{api=\"{api:?}\"}} {sum}");
            let _ = writeln!(
                page,
                "durian_broker_{name}_count{{api=\"{api:?}\"}} {cumulative}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_land_in_cumulative_buckets() {
        let histograms = ApiHistograms::default();
        histograms.record(ApiKey::Produce, Duration::from_micros(300));
        histograms.record(ApiKey::Produce, Duration::from_millis(3));
        histograms.record(ApiKey::Produce, Duration::from_secs(60));
        assert_eq!(histograms.count(ApiKey::Produce), 3);
        let mut page = String::new();
        histograms.render(&mut page, "x");
        assert!(page.contains("durian_broker_x_bucket{api=\"Produce\",le=\"0.0005\"} 1\n"));
        assert!(page.contains("durian_broker_x_bucket{api=\"Produce\",le=\"0.005\"} 2\n"));
        assert!(page.contains("durian_broker_x_bucket{api=\"Produce\",le=\"10\"} 2\n"));
        assert!(page.contains("durian_broker_x_bucket{api=\"Produce\",le=\"+Inf\"} 3\n"));
        assert!(page.contains("durian_broker_x_count{api=\"Produce\"} 3\n"));
        assert!(page.contains("durian_broker_x_sum{api=\"Produce\"} 60.0033\n"));
        assert!(!page.contains("Fetch"), "APIs without samples are left out");
    }
}
