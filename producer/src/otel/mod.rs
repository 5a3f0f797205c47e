//! OpenTelemetry trace context carried in record headers (the `otel`
//! feature): W3C `traceparent` and `tracestate`, as the Java client's
//! OpenTelemetry instrumentation and other Kafka clients write them, so a
//! consumer in any language can continue the trace.

use bytes::Bytes;
use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::record::Header;

/// The W3C header naming the trace and the parent span.
pub const TRACEPARENT: &str = "traceparent";
/// The W3C header carrying vendor-specific trace state.
pub const TRACESTATE: &str = "tracestate";

/// Writes `context`'s span context into `headers` as W3C `traceparent`
/// (and `tracestate` when it is not empty). Does nothing when `headers`
/// already has a `traceparent` (the application's own propagation wins) or
/// when `context` holds no valid span context. Returns whether it wrote.
pub fn inject_context(context: &Context, headers: &mut Vec<Header>) -> bool {
    if has_traceparent(headers) || !context.span().span_context().is_valid() {
        return false;
    }
    let mut injector = HeaderInjector(headers);
    TraceContextPropagator::new().inject_context(context, &mut injector);
    true
}

/// [`inject_context`] with the OpenTelemetry context of the current
/// `tracing` span (set by a `tracing_opentelemetry` layer). Called by
/// `Producer::send` for every record when the feature is on.
pub fn inject_current_span(headers: &mut Vec<Header>) -> bool {
    let span = tracing::Span::current();
    // The common case without tracing: no span, no lookup in the subscriber.
    if span.is_none() || has_traceparent(headers) {
        return false;
    }
    inject_context(&span.context(), headers)
}

fn has_traceparent(headers: &[Header]) -> bool {
    headers
        .iter()
        .any(|h| h.key.as_ref() == TRACEPARENT.as_bytes())
}

/// Appends each propagated field as a text header.
struct HeaderInjector<'a>(&'a mut Vec<Header>);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // The propagator always hands over `tracestate`, even empty; an
        // empty header only costs bytes on every record.
        if value.is_empty() {
            return;
        }
        self.0.push(Header::text(key, Bytes::from(value)));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    fn remote(state: TraceState) -> Context {
        let span = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            state,
        );
        Context::new().with_remote_span_context(span)
    }

    fn value(headers: &[Header], key: &str) -> Option<String> {
        headers
            .iter()
            .find(|h| h.key.as_ref() == key.as_bytes())
            .and_then(|h| h.value.as_ref())
            .map(|v| String::from_utf8(v.to_vec()).unwrap())
    }

    #[test]
    fn writes_traceparent_and_skips_an_empty_tracestate() {
        let mut headers = Vec::new();
        assert!(inject_context(&remote(TraceState::default()), &mut headers));
        assert_eq!(
            value(&headers, TRACEPARENT).as_deref(),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(headers.len(), 1);
    }

    #[test]
    fn writes_a_non_empty_tracestate() {
        let state = TraceState::from_key_value([("vendor", "x")]).unwrap();
        let mut headers = Vec::new();
        assert!(inject_context(&remote(state), &mut headers));
        assert_eq!(value(&headers, TRACESTATE).as_deref(), Some("vendor=x"));
    }

    #[test]
    fn keeps_an_existing_traceparent() {
        let mut headers = vec![Header::text(TRACEPARENT, "mine")];
        assert!(!inject_context(
            &remote(TraceState::default()),
            &mut headers
        ));
        assert_eq!(headers.len(), 1);
        assert_eq!(value(&headers, TRACEPARENT).as_deref(), Some("mine"));
    }

    #[test]
    fn writes_nothing_without_a_span() {
        let mut headers = Vec::new();
        assert!(!inject_context(&Context::new(), &mut headers));
        assert!(!inject_current_span(&mut headers));
        assert!(headers.is_empty());
    }
}
