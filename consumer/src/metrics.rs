//! A snapshot of what a consumer holds, for monitoring and for the
//! bounded-memory test, and the consumer's metrics sent to the `metrics`
//! facade (issue 20) under `durian.consumer.*`: a no-op until the
//! application installs a recorder (docs/OBSERVABILITY.md).

use crate::types::TopicPartition;

/// What a consumer has buffered and in flight, from [`Consumer::metrics`].
///
/// [`Consumer::metrics`]: crate::Consumer::metrics
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerMetrics {
    /// Records fetched and not yet returned by `poll`.
    pub buffered_records: usize,
    /// Key, value and header bytes of those records (decompressed).
    pub buffered_bytes: usize,
    /// Fetch requests awaiting their response (at most one per broker).
    pub fetches_in_flight: usize,
    /// Fetch requests sent since the consumer was created.
    pub fetch_requests: u64,
    /// Their encoded body bytes (without the request header and frame
    /// length), at the version each was sent: what fetch sessions save.
    pub fetch_request_bytes: u64,
}

/// Sends what one fetch answer brought for `tp` to the `metrics` facade:
/// once per partition per fetch answer, never per record.
///
/// `lag` is the partition's high watermark minus the offset the consumer
/// will read next, when the broker told the high watermark.
pub(crate) fn export_fetch(
    client_id: &str,
    tp: &TopicPartition,
    records: usize,
    bytes: usize,
    lag: Option<i64>,
) {
    if records > 0 {
        let labels = [
            ("client.id", client_id.to_owned()),
            ("topic", tp.topic.to_string()),
        ];
        metrics::counter!("durian.consumer.records_fetched", &labels).increment(records as u64);
        metrics::counter!("durian.consumer.bytes_fetched", &labels).increment(bytes as u64);
    }
    if let Some(lag) = lag {
        metrics::gauge!(
            "durian.consumer.lag",
            "client.id" => client_id.to_owned(),
            "topic" => tp.topic.clone(),
            "partition" => tp.partition.to_string()
        )
        .set(lag.max(0) as f64);
    }
}

/// Counts one completed rebalance (a new assignment) of `group`.
pub(crate) fn export_rebalance(client_id: &str, group: &str) {
    metrics::counter!(
        "durian.consumer.rebalances",
        "client.id" => client_id.to_owned(),
        "group" => group.to_owned()
    )
    .increment(1);
}
