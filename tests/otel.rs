//! Tracing spans and OpenTelemetry trace context (`--features otel`):
//! spans carry OTel's messaging fields; a producer inside a span writes
//! W3C `traceparent`, a consumer reads it back and its processing span
//! joins the producer's trace; kcat, a third-party reader, sees the header.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use durian::admin::{Admin, NewTopic};
use durian::broker::{Broker, BrokerHandle};
use durian::consumer::{otel::processing_span, Consumer, ConsumerRecord, OffsetReset};
use durian::producer::{Producer, ProducerRecord};
use opentelemetry::trace::{TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Instrument, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Bounds every wait on the broker: a stall fails the test.
const WAIT: Duration = Duration::from_secs(30);

async fn start_broker() -> BrokerHandle {
    Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .auto_create_topics(false)
        .start()
        .await
        .unwrap()
}

async fn create_topic(bootstrap: &str, topic: &str) {
    let admin = Admin::builder()
        .bootstrap_servers([bootstrap])
        .connect()
        .await
        .unwrap();
    for (name, result) in admin.create_topics([NewTopic::new(topic, 1)]).await {
        result.unwrap_or_else(|e| panic!("creating {name}: {e}"));
    }
}

fn producer(bootstrap: &str) -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .build()
        .unwrap()
}

/// Sends one record from inside a fresh `tracing` span (an OTel span
/// through the layer) and returns that span's trace id.
async fn send_traced(producer: &Producer, topic: &str) -> TraceId {
    let span = tracing::info_span!("checkout");
    let trace_id = span.context().span().span_context().trace_id();
    assert_ne!(
        trace_id,
        TraceId::INVALID,
        "the OTel layer is not installed"
    );
    producer
        .send_and_wait(ProducerRecord::new(topic, Bytes::from_static(b"order-1")))
        .instrument(span)
        .await
        .unwrap();
    trace_id
}

/// The first record of `topic`, read by a consumer of `group` (or assigned
/// when `group` is None); the consumer is returned for further calls.
async fn read_one(bootstrap: &str, topic: &str, group: &str) -> (Consumer, ConsumerRecord) {
    let mut consumer = Consumer::builder()
        .bootstrap_servers([bootstrap])
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
        .build()
        .unwrap();
    consumer.subscribe([topic]).unwrap();
    let read = async {
        loop {
            let batch = consumer.poll(Duration::from_secs(1)).await.unwrap();
            if let Some(record) = batch.into_iter().next() {
                return record;
            }
        }
    };
    let record = tokio::time::timeout(WAIT, read).await.expect("no record");
    (consumer, record)
}

#[tokio::test]
async fn the_processing_span_joins_the_producers_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("otel-test"));
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "orders").await;
    let producer = producer(&bootstrap);
    let trace_id = send_traced(&producer, "orders").await;

    let (consumer, record) = read_one(&bootstrap, "orders", "billing").await;
    let context = record
        .trace_context()
        .expect("the record carries trace context");
    assert_eq!(context.span().span_context().trace_id(), trace_id);
    let processing = processing_span(&record);
    processing.in_scope(|| tracing::info!("processing the order"));
    drop(processing);

    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let named = |name: &str| spans.iter().find(|s| s.name == name).cloned();
    let checkout = named("checkout").expect("the producer's span was exported");
    let process = named("process").expect("the processing span was exported");
    assert_eq!(process.span_context.trace_id(), trace_id);
    assert_eq!(checkout.span_context.trace_id(), trace_id);
    // Parented to the span that was current when the record was sent.
    assert_eq!(process.parent_span_id, checkout.span_context.span_id());

    consumer.close().await.unwrap();
    producer.close(WAIT).await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn kcat_sees_the_traceparent_header() {
    let Some(kcat) = durian_testkit::peers::kcat() else {
        return;
    };
    let provider = SdkTracerProvider::builder().build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("otel-test"));
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));

    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "traced").await;
    let producer = producer(&bootstrap);
    let trace_id = send_traced(&producer, "traced").await;

    let output = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new(kcat)
            .args(["-C", "-b", &bootstrap, "-t", "traced", "-o", "beginning"])
            .args(["-c", "1", "-e", "-f", "%h\\n"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("kcat did not finish")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "kcat failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected = format!("traceparent=00-{trace_id}-");
    assert!(stdout.contains(&expected), "kcat printed {stdout:?}");

    producer.close(WAIT).await.unwrap();
    broker.shutdown().await.unwrap();
}

/// One span as the capturing layer saw it: name and every field recorded
/// at creation or later, as text.
#[derive(Clone, Debug)]
struct Captured {
    name: &'static str,
    fields: BTreeMap<String, String>,
}

/// A `tracing` layer that keeps every span it sees.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

/// Where a span's capture lives in the list, kept in its extensions.
struct Slot(usize);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut captured = Captured {
            name: attrs.metadata().name(),
            fields: BTreeMap::new(),
        };
        attrs.record(&mut Fields(&mut captured.fields));
        let mut spans = self.0.lock().unwrap();
        spans.push(captured);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Slot(spans.len() - 1));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let extensions = span.extensions();
        let Some(Slot(slot)) = extensions.get::<Slot>() else {
            return;
        };
        let mut spans = self.0.lock().unwrap();
        values.record(&mut Fields(&mut spans[*slot].fields));
    }
}

impl Capture {
    /// The spans named `name` whose fields include every pair of `want`.
    fn matching(&self, name: &str, want: &[(&str, &str)]) -> Vec<Captured> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                want.iter()
                    .all(|(k, v)| s.fields.get(*k).map(String::as_str) == Some(*v))
            })
            .cloned()
            .collect()
    }
}

#[tokio::test]
async fn spans_carry_the_messaging_fields() {
    let capture = Capture::default();
    let _default =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));

    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "clicks").await;
    let producer = producer(&bootstrap);
    producer
        .send_and_wait(ProducerRecord::new("clicks", Bytes::from_static(b"c")))
        .await
        .unwrap();
    let (mut consumer, _record) = read_one(&bootstrap, "clicks", "readers").await;
    consumer.commit().await.unwrap();
    consumer.close().await.unwrap();
    producer.close(WAIT).await.unwrap();

    let kafka = ("messaging.system", "kafka");
    let admin = capture.matching(
        "admin",
        &[kafka, ("messaging.operation.name", "create_topics")],
    );
    assert_eq!(admin.len(), 1, "{admin:?}");

    let produce = capture.matching(
        "produce",
        &[
            kafka,
            ("messaging.operation.name", "send"),
            ("messaging.destination.name", "clicks"),
            ("messaging.destination.partition.id", "0"),
            ("otel.kind", "producer"),
        ],
    );
    assert!(!produce.is_empty(), "no produce span");
    let server = |key: &str| produce[0].fields.get(key).cloned().unwrap_or_default();
    assert_eq!(
        format!("{}:{}", server("server.address"), server("server.port")),
        bootstrap
    );

    let fetch = capture.matching(
        "fetch",
        &[
            kafka,
            ("messaging.operation.name", "poll"),
            ("messaging.destination.name", "clicks"),
            ("messaging.destination.partition.id", "0"),
            ("messaging.consumer.group.name", "readers"),
            ("server.address", "127.0.0.1"),
        ],
    );
    assert!(
        fetch
            .iter()
            .any(|s| s.fields.contains_key("messaging.kafka.offset")),
        "no fetch span with an offset: {fetch:?}"
    );

    for operation in ["join", "sync", "commit", "leave"] {
        let group = capture.matching(
            "group",
            &[
                kafka,
                ("messaging.operation.name", operation),
                ("messaging.consumer.group.name", "readers"),
            ],
        );
        assert!(!group.is_empty(), "no {operation} span");
    }
    broker.shutdown().await.unwrap();
}
