//! Request metrics through the `metrics` facade (issue 20).
//!
//! Every request of every client goes through [`super::Link::send`], so the
//! latency histogram is recorded there once, per request (never per
//! record). Without an installed recorder the `metrics` macros are a
//! no-op, so applications that bring no exporter pay a relaxed atomic load
//! per request and nothing else.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;

/// Name of the request latency histogram, in seconds.
pub const REQUEST_LATENCY: &str = "durian.client.request_latency_seconds";
/// Name of the counter of requests that got no response (timeout,
/// connection lost or closed).
pub const REQUEST_FAILURES: &str = "durian.client.request_failures";
/// Name of the counter of error codes found in responses.
pub const RESPONSE_ERRORS: &str = "durian.client.errors";

/// The labels a connection puts on its request metrics, built once per
/// connection so that a request only clones two `Arc`s.
#[derive(Debug)]
pub(super) struct RequestLabels {
    client_id: Arc<str>,
    broker: Arc<str>,
}

impl RequestLabels {
    /// Labels for a connection of `client_id` (`""` when unset) to `broker`.
    pub(super) fn new(client_id: Option<&str>, broker: &str) -> Self {
        RequestLabels {
            client_id: Arc::from(client_id.unwrap_or_default()),
            broker: Arc::from(broker),
        }
    }

    /// Records one request of `api` that took `elapsed`; `answered` is
    /// false when it got no response.
    pub(super) fn record(&self, api: ApiKey, elapsed: Duration, answered: bool) {
        // The Debug name of a key is its Kafka name (Produce, Fetch, ...):
        // bounded by the number of APIs.
        let labels = vec![
            metrics::Label::new("client.id", self.client_id.clone()),
            metrics::Label::new("broker", self.broker.clone()),
            metrics::Label::new("api", format!("{api:?}")),
        ];
        if answered {
            metrics::histogram!(REQUEST_LATENCY, labels).record(elapsed.as_secs_f64());
        } else {
            metrics::counter!(REQUEST_FAILURES, labels).increment(1);
        }
    }
}

/// Counts one error `code` found in a response (where responses are
/// classified, [`crate::KafkaError::from_code`]); bounded by the number of
/// Kafka error codes.
pub(crate) fn record_error_code(code: i16) {
    metrics::counter!(RESPONSE_ERRORS, "code" => crate::KafkaCode(code).name()).increment(1);
}
