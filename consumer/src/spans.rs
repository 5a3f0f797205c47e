//! The consumer's `tracing` spans, with OpenTelemetry's messaging attribute
//! names (docs/OBSERVABILITY.md lists them): one per Fetch request to a
//! broker and one per group request, never one per record.

use durian_core::Client;
use tracing::field::Empty;

use crate::fetcher::FetchTarget;

/// A span for one Fetch request to broker `node` for `targets`. The
/// destination fields are set only when the request holds one topic (or
/// one partition), and the offset only for a single partition.
pub(crate) fn fetch_span(
    client: &Client,
    group: Option<&str>,
    node: i32,
    targets: &[FetchTarget],
) -> tracing::Span {
    let span = tracing::debug_span!(
        "fetch",
        otel.kind = "client",
        messaging.system = "kafka",
        messaging.operation.name = "poll",
        messaging.operation.type = "receive",
        messaging.consumer.group.name = group,
        messaging.destination.name = Empty,
        messaging.destination.partition.id = Empty,
        messaging.kafka.offset = Empty,
        messaging.batch.partition_count = targets.len(),
        server.address = Empty,
        server.port = Empty,
        durian.node_id = node,
    );
    if let Some(broker) = client.metadata().broker(node) {
        span.record("server.address", broker.host.as_str());
        span.record("server.port", broker.port);
    }
    if let Some(first) = targets.first() {
        if targets.iter().all(|t| t.topic == first.topic) {
            span.record("messaging.destination.name", &*first.topic);
        }
        if let [only] = targets {
            span.record("messaging.destination.partition.id", only.partition);
            span.record("messaging.kafka.offset", only.fetch_offset);
        }
    }
    span
}

/// A span for one group request (`operation` is "join", "sync",
/// "heartbeat", "leave" or "commit") of `group`.
pub(crate) fn group_span(operation: &'static str, group: &str) -> tracing::Span {
    // A span's level is fixed where it is declared, so the one field list
    // is spelled out at both levels.
    macro_rules! group_span_at {
        ($span:ident) => {
            tracing::$span!(
                "group",
                otel.kind = "client",
                messaging.system = "kafka",
                messaging.operation.name = operation,
                messaging.consumer.group.name = group,
            )
        };
    }
    // Heartbeats come every few seconds for the consumer's whole life:
    // debug, where the membership changes are info.
    if operation == "heartbeat" {
        group_span_at!(debug_span)
    } else {
        group_span_at!(info_span)
    }
}
