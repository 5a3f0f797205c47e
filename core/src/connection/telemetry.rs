//! Request metrics through the `metrics` facade (issue 20).
//!
//! Every request of every client goes through [`super::Link::send`], so the
//! latency histogram is recorded there once, per request (never per
//! record). Without an installed recorder the `metrics` macros record
//! nothing; what a request still pays is building its three labels (two
//! `Arc` clones, a shared API name and a small vector).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use metrics::SharedString;

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
        let labels = vec![
            metrics::Label::new("client.id", self.client_id.clone()),
            metrics::Label::new("broker", self.broker.clone()),
            metrics::Label::new("api", api_name(api)),
        ];
        if answered {
            metrics::histogram!(REQUEST_LATENCY, labels).record(elapsed.as_secs_f64());
        } else {
            metrics::counter!(REQUEST_FAILURES, labels).increment(1);
        }
    }
}

/// The Kafka name of `api` (Produce, Fetch, ...), formatted once per
/// process and shared: formatting it per request would allocate on every
/// request.
fn api_name(api: ApiKey) -> SharedString {
    static NAMES: OnceLock<Vec<SharedString>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        (0..=MAX_API_KEY)
            .map(|key| match ApiKey::try_from(key) {
                Ok(known) => SharedString::from(Arc::<str>::from(format!("{known:?}"))),
                Err(()) => SharedString::const_str("Unknown"),
            })
            .collect()
    });
    usize::try_from(api as i16)
        .ok()
        .and_then(|index| names.get(index))
        .cloned()
        .unwrap_or_else(|| SharedString::from(Arc::<str>::from(format!("{api:?}"))))
}

/// The largest API key the name table covers; keys above it (none today)
/// are formatted per request.
const MAX_API_KEY: i16 = 127;

/// Counts one error `code` found in a response (where responses are
/// classified, [`crate::KafkaError::from_code`]); bounded by the number of
/// Kafka error codes.
pub(crate) fn record_error_code(code: i16) {
    metrics::counter!(RESPONSE_ERRORS, "code" => crate::KafkaCode(code).name()).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names_are_kafka_names_formatted_once() {
        assert_eq!(&*api_name(ApiKey::Produce), "Produce");
        assert_eq!(
            &*api_name(ApiKey::ConsumerGroupHeartbeat),
            "ConsumerGroupHeartbeat"
        );
        // Both calls hand out the one string made when the table was built.
        let (a, b) = (api_name(ApiKey::Fetch), api_name(ApiKey::Fetch));
        assert!(std::ptr::eq(a.as_ptr(), b.as_ptr()));
    }
}
