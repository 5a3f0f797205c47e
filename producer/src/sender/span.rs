//! The `tracing` span of one Produce request, with OpenTelemetry's
//! messaging attribute names (docs/OBSERVABILITY.md lists them). One span
//! per request to a broker, never one per record.

use kafka_protocol::messages::ProduceRequest;
use tracing::field::Empty;

/// A span for `request` to broker `node` at `address`. The destination
/// fields are set only when the request holds one topic (or one
/// partition): a list would not be an attribute OTel defines.
pub(super) fn produce_span(node: i32, address: &str, request: &ProduceRequest) -> tracing::Span {
    let partitions: usize = request
        .topic_data
        .iter()
        .map(|t| t.partition_data.len())
        .sum();
    let span = tracing::debug_span!(
        "produce",
        otel.kind = "producer",
        messaging.system = "kafka",
        messaging.operation.name = "send",
        messaging.operation.type = "send",
        messaging.destination.name = Empty,
        messaging.destination.partition.id = Empty,
        messaging.batch.partition_count = partitions,
        server.address = Empty,
        server.port = Empty,
        durian.node_id = node,
    );
    // OTel wants the host and the port apart; the connection knows "host:port".
    let split = address
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)));
    match split {
        Some((host, port)) => {
            span.record("server.address", host);
            span.record("server.port", port);
        }
        None => {
            span.record("server.address", address);
        }
    }
    if let [topic] = request.topic_data.as_slice() {
        span.record("messaging.destination.name", topic.name.0.as_str());
        if let [partition] = topic.partition_data.as_slice() {
            span.record("messaging.destination.partition.id", partition.index);
        }
    }
    span
}
