//! Broker metrics in the Prometheus text exposition format (issue 20).
//!
//! Counting stays off the hot path's locks: each request bumps one
//! `AtomicU64` of a fixed array indexed by its API key, with `Relaxed`
//! ordering (a scrape needs a recent value, not a synchronised one).
//! Everything else (connections, held bytes, topics, uptime) is read from
//! the broker's state when a scrape renders the page. Request latency and
//! queue time are fixed-bucket histograms per API ([`histogram`]). Error
//! codes inside responses are counted per API and code before the
//! response is encoded ([`errors`], walking [`response_codes`]).
//!
//! [`http`] serves the page on its own listener, when the embedder asks
//! for one with `BrokerBuilder::metrics_listen`.

pub mod errors;
pub mod histogram;
pub mod http;
pub mod logs;
pub mod response_codes;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kafka_protocol::messages::ApiKey;

use crate::state::BrokerState;
use errors::ResponseErrors;
use histogram::ApiHistograms;
use response_codes::ErrorCodes;

/// Slots of the per-API counter array: every Kafka API key is below this
/// (the highest today is under 100); a larger key is not counted.
const API_SLOTS: usize = 128;

/// The counters requests update, one set per broker state.
#[derive(Debug)]
pub struct BrokerMetrics {
    requests: [AtomicU64; API_SLOTS],
    refused: AtomicU64,
    /// Frame read to response written, per API.
    latency: ApiHistograms,
    /// Frame read to handler start, per API.
    queue: ApiHistograms,
    /// Non-zero error codes inside responses, per API and code.
    errors: ResponseErrors,
    started: Instant,
}

impl Default for BrokerMetrics {
    fn default() -> Self {
        BrokerMetrics {
            requests: std::array::from_fn(|_| AtomicU64::new(0)),
            refused: AtomicU64::new(0),
            latency: ApiHistograms::default(),
            queue: ApiHistograms::default(),
            errors: ResponseErrors::default(),
            started: Instant::now(),
        }
    }
}

impl BrokerMetrics {
    /// Counts one request of `api` (a served API, its header decoded).
    pub fn count_request(&self, api: ApiKey) {
        if let Some(slot) = usize::try_from(api as i16)
            .ok()
            .and_then(|i| self.requests.get(i))
        {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Requests of `api` counted so far.
    pub fn requests(&self, api: ApiKey) -> u64 {
        usize::try_from(api as i16)
            .ok()
            .and_then(|i| self.requests.get(i))
            .map_or(0, |slot| slot.load(Ordering::Relaxed))
    }

    /// Counts one request refused by closing its connection (undecodable,
    /// an API or version not served, refused by the authentication gate).
    pub fn count_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests refused by closing their connection so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Records how long a request of `api` waited between its frame being
    /// read and its handler starting.
    pub fn record_queue_time(&self, api: ApiKey, waited: Duration) {
        self.queue.record(api, waited);
    }

    /// Records how long a request of `api` took from its frame being read
    /// to its response being written (or, without a response, handled).
    pub fn record_latency(&self, api: ApiKey, took: Duration) {
        self.latency.record(api, took);
    }

    /// Counts the non-zero error codes of `response`, an answer of `api`
    /// about to be encoded (one count per occurrence).
    pub fn count_response_errors<R: ErrorCodes>(&self, api: ApiKey, response: &R) {
        self.errors.count(api, response);
    }

    /// Counts one `code` in an answer of `api` built without a typed
    /// response at hand.
    pub fn count_response_error(&self, api: ApiKey, code: i16) {
        if code != 0 {
            self.errors.count_code(api, code);
        }
    }

    /// Seconds since the broker state was opened.
    pub fn uptime_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// The Prometheus text page (format 0.0.4) for `state`.
pub fn render(state: &BrokerState) -> String {
    let metrics = state.metrics();
    let mut page = String::with_capacity(4096);
    header(
        &mut page,
        "requests_total",
        "counter",
        "Requests received, by Kafka API (header decoded, API and version served).",
    );
    for key in 0..API_SLOTS {
        let Ok(api) = i16::try_from(key)
            .map_err(drop)
            .and_then(|k| ApiKey::try_from(k).map_err(drop))
        else {
            continue;
        };
        if crate::handlers::lookup(api).is_none() {
            continue;
        }
        // The Debug name of a key is its Kafka name (Metadata, Produce, ...),
        // plain ASCII letters, so it needs no label escaping.
        let _ = writeln!(
            page,
            "durian_broker_requests_total{{api=\"{api:?}\"}} {}",
            metrics.requests(api)
        );
    }
    header(
        &mut page,
        "requests_refused_total",
        "counter",
        "Requests answered by closing the connection (undecodable, API or version not served, \
         refused before authentication).",
    );
    let _ = writeln!(
        page,
        "durian_broker_requests_refused_total {}",
        metrics.refused()
    );
    header(
        &mut page,
        "response_errors_total",
        "counter",
        "Non-zero error codes inside responses, by Kafka API and error name (one per occurrence: \
         top-level, per topic, per partition, per group or member).",
    );
    metrics.errors.render(&mut page);
    header(
        &mut page,
        "request_latency_seconds",
        "histogram",
        "Seconds from a request's frame being read to its response being written, by Kafka API.",
    );
    metrics.latency.render(&mut page, "request_latency_seconds");
    header(
        &mut page,
        "request_queue_seconds",
        "histogram",
        "Seconds from a request's frame being read to its handler starting, by Kafka API.",
    );
    metrics.queue.render(&mut page, "request_queue_seconds");
    let usage = state.resources().usage();
    let topics = state.catalog().list();
    let partitions: u64 = topics
        .iter()
        .map(|t| u64::try_from(t.partitions).unwrap_or(0))
        .sum();
    let gauges: [(&str, &str, String); 6] = [
        (
            "connections",
            "Open client connections.",
            usage.connections.to_string(),
        ),
        (
            "request_bytes_held",
            "Request bytes read and not yet processed, over all connections.",
            usage.request_bytes.to_string(),
        ),
        (
            "response_bytes_held",
            "Response bytes built and not yet written, over all connections.",
            usage.response_bytes.to_string(),
        ),
        ("topics", "Topics in the catalog.", topics.len().to_string()),
        (
            "partitions",
            "Partitions of all topics in the catalog.",
            partitions.to_string(),
        ),
        (
            "uptime_seconds",
            "Seconds since the broker started.",
            format!("{:.3}", metrics.uptime_seconds()),
        ),
    ];
    for (name, help, value) in gauges {
        header(&mut page, name, "gauge", help);
        let _ = writeln!(page, "durian_broker_{name} {value}");
    }
    logs::render(&mut page, state);
    page
}

/// Writes the `# HELP` and `# TYPE` lines of `durian_broker_<name>`.
fn header(page: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(page, "# HELP durian_broker_{name} {help}");
    let _ = writeln!(page, "# TYPE durian_broker_{name} {kind}");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_per_api() {
        let metrics = BrokerMetrics::default();
        metrics.count_request(ApiKey::Metadata);
        metrics.count_request(ApiKey::Metadata);
        metrics.count_request(ApiKey::Produce);
        assert_eq!(metrics.requests(ApiKey::Metadata), 2);
        assert_eq!(metrics.requests(ApiKey::Produce), 1);
        assert_eq!(metrics.requests(ApiKey::Fetch), 0);
    }

    #[test]
    fn every_api_key_fits_the_counter_array() {
        for key in 0..=i16::MAX {
            if ApiKey::try_from(key).is_ok() {
                assert!(usize::try_from(key).unwrap() < API_SLOTS, "API key {key}");
            }
        }
    }
}
