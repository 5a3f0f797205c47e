//! A snapshot of what a consumer holds, for monitoring and for the
//! bounded-memory test, and the consumer's metrics sent to the `metrics`
//! facade (issue 20) under `durian.consumer.*`: a no-op until the
//! application installs a recorder (docs/OBSERVABILITY.md).

use std::sync::Arc;

use crate::types::TopicPartition;

/// What a consumer has buffered and in flight, from [`Consumer::metrics`].
///
/// [`Consumer::metrics`]: crate::Consumer::metrics
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerMetrics {
    /// Records fetched and not yet returned by `poll`.
    pub buffered_records: usize,
    /// Bytes of the batches holding those records: their records
    /// sections (decompressed), kept until their last record is returned.
    pub buffered_bytes: usize,
    /// Fetch requests awaiting their response (at most
    /// `durian.fetch.max.in.flight.per.broker` per broker).
    pub fetches_in_flight: usize,
    /// Fetch requests sent since the consumer was created.
    pub fetch_requests: u64,
    /// Their encoded body bytes (without the request header and frame
    /// length), at the version each was sent: what fetch sessions save.
    pub fetch_request_bytes: u64,
}

/// Where the `metrics` macros would place the consumer's metrics: this
/// module, at INFO, as `counter!` and `gauge!` called here describe them.
static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// The metric keys (name and labels) of one assigned partition, built
/// once when it is assigned so that a fetch answer allocates nothing for
/// its metrics. Keys rather than handles: a handle is bound to the
/// recorder installed when it was registered, and an application may
/// install its recorder after the consumer started.
#[derive(Clone, Debug)]
pub(crate) struct PartitionMetrics {
    /// `durian.consumer.records_fetched{client.id, topic}`.
    records: metrics::Key,
    /// `durian.consumer.bytes_fetched{client.id, topic}`.
    bytes: metrics::Key,
    /// `durian.consumer.lag{client.id, topic, partition}`.
    lag: metrics::Key,
}

impl PartitionMetrics {
    /// The keys of `tp` for the consumer named `client_id`.
    pub(crate) fn new(client_id: &str, tp: &TopicPartition) -> Self {
        let client: metrics::SharedString = Arc::<str>::from(client_id).into();
        let topic: metrics::SharedString = tp.topic.clone().into();
        let per_topic = || {
            vec![
                metrics::Label::new("client.id", client.clone()),
                metrics::Label::new("topic", topic.clone()),
            ]
        };
        let mut per_partition = per_topic();
        per_partition.push(metrics::Label::new("partition", tp.partition.to_string()));
        PartitionMetrics {
            records: metrics::Key::from_parts("durian.consumer.records_fetched", per_topic()),
            bytes: metrics::Key::from_parts("durian.consumer.bytes_fetched", per_topic()),
            lag: metrics::Key::from_parts("durian.consumer.lag", per_partition),
        }
    }

    /// Sends what one fetch answer brought for the partition to the
    /// `metrics` facade: once per partition per fetch answer, never per
    /// record.
    ///
    /// `lag` is the partition's high watermark minus the offset the
    /// consumer will read next, when the broker told the high watermark.
    pub(crate) fn export_fetch(&self, records: usize, bytes: usize, lag: Option<i64>) {
        metrics::with_recorder(|recorder| {
            if records > 0 {
                recorder
                    .register_counter(&self.records, &METADATA)
                    .increment(records as u64);
                recorder
                    .register_counter(&self.bytes, &METADATA)
                    .increment(bytes as u64);
            }
            if let Some(lag) = lag {
                recorder
                    .register_gauge(&self.lag, &METADATA)
                    .set(lag.max(0) as f64);
            }
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached keys are the ones the `counter!`/`gauge!` macros built
    /// per fetch answer before: same names, labels and label order.
    #[test]
    fn partition_keys_name_client_topic_and_partition() {
        let keys = PartitionMetrics::new("app", &TopicPartition::new("orders", 7));
        let labels = |pairs: &[(&'static str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| metrics::Label::new(*k, (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        let per_topic = labels(&[("client.id", "app"), ("topic", "orders")]);
        assert_eq!(
            keys.records,
            metrics::Key::from_parts("durian.consumer.records_fetched", per_topic.clone())
        );
        assert_eq!(
            keys.bytes,
            metrics::Key::from_parts("durian.consumer.bytes_fetched", per_topic)
        );
        assert_eq!(
            keys.lag,
            metrics::Key::from_parts(
                "durian.consumer.lag",
                labels(&[
                    ("client.id", "app"),
                    ("topic", "orders"),
                    ("partition", "7")
                ])
            )
        );
    }
}
