//! OpenTelemetry trace context read back from record headers (the `otel`
//! feature): the W3C `traceparent`/`tracestate` a producer wrote (durian's
//! with its `otel` feature, the Java client's instrumentation, or any
//! other), and a processing span that continues that trace.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::types::ConsumerRecord;

/// The W3C header naming the trace and the parent span.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C header carrying vendor-specific trace state.
pub const TRACESTATE: &str = "tracestate";

impl ConsumerRecord {
    /// The OpenTelemetry context the producer propagated in this record's
    /// `traceparent`/`tracestate` headers; `None` when there is no
    /// `traceparent` or it is not valid W3C trace context.
    pub fn trace_context(&self) -> Option<Context> {
        let context = TraceContextPropagator::new().extract(&RecordExtractor(self));
        context.span().span_context().is_valid().then_some(context)
    }
}

/// A `process` span for `record` whose parent is the producer's span (from
/// [`ConsumerRecord::trace_context`]), so the processing joins the
/// producer's trace; a record without trace context gets a span in the
/// current trace, as any span would. Enter it (or `.instrument` the
/// handling future with it) while handling the record.
///
/// The parent is set through the `tracing_opentelemetry` layer; without
/// that layer the span is a plain `tracing` span. Created only when the
/// application asks: the consumer never makes a span per record itself.
pub fn processing_span(record: &ConsumerRecord) -> tracing::Span {
    let span = tracing::info_span!(
        "process",
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.operation.name = "process",
        messaging.operation.type = "process",
        messaging.destination.name = &*record.topic,
        messaging.destination.partition.id = record.partition,
        messaging.kafka.offset = record.offset,
    );
    if let Some(context) = record.trace_context() {
        // Fails only without the layer or on a disabled span, where there
        // is no OpenTelemetry span to parent.
        let _ = span.set_parent(context);
    }
    span
}

/// Header lookup for the propagator: the first header with the key, as
/// text. Repeated or non-UTF-8 values are not valid trace context anyway.
struct RecordExtractor<'a>(&'a ConsumerRecord);

impl Extractor for RecordExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .headers
            .iter()
            .find(|h| h.key.as_ref() == key.as_bytes())
            .and_then(|h| h.value.as_deref())
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .headers
            .iter()
            .filter_map(|h| std::str::from_utf8(&h.key).ok())
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use durian_core::record::RecordHeader;

    use super::*;

    fn record(headers: Vec<RecordHeader>) -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from("t"),
            partition: 0,
            offset: 7,
            timestamp: 0,
            key: None,
            value: None,
            headers,
            leader_epoch: -1,
        }
    }

    #[test]
    fn reads_traceparent_and_tracestate() {
        let context = record(vec![
            RecordHeader::text(
                TRACEPARENT,
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            RecordHeader::text(TRACESTATE, "vendor=x"),
        ])
        .trace_context()
        .unwrap();
        let span = context.span();
        let parent = span.span_context();
        assert_eq!(
            parent.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(parent.span_id().to_string(), "00f067aa0ba902b7");
        assert!(parent.is_remote());
        assert_eq!(parent.trace_state().get("vendor"), Some("x"));
    }

    #[test]
    fn no_or_garbled_traceparent_is_none() {
        assert!(record(Vec::new()).trace_context().is_none());
        assert!(record(vec![RecordHeader::text(TRACEPARENT, "garbage")])
            .trace_context()
            .is_none());
        assert!(record(vec![RecordHeader::null(TRACEPARENT)])
            .trace_context()
            .is_none());
    }
}
