//! rust-rdkafka (bundled librdkafka 2.12) under the three scenarios.
//!
//! The producer is a `ThreadedProducer` whose context counts delivery
//! reports, the high-throughput way librdkafka is meant to be driven; the
//! consumer is a `BaseConsumer` polled on a thread of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::{
    WorkerResult, WorkerSpec, BATCH_SIZE, LATENCY_DRAIN, LINGER, VALUE_POOL, WARM_UP_TIMEOUT,
};
use crate::measure::{ConsumeClock, Span};
use crate::pacing::{Collector, WARM_UP};
use crate::payload;

/// Counts delivery reports.
#[derive(Default)]
pub(crate) struct Deliveries {
    /// Records acknowledged.
    pub(crate) ok: AtomicU64,
    /// Records that failed.
    pub(crate) failed: AtomicU64,
}

/// A producer context counting delivery reports (shared with the
/// whole-process program in `rdkafka_file`).
#[derive(Clone, Default)]
pub(crate) struct Counting(pub(crate) Arc<Deliveries>);

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _opaque: ()) {
        match result {
            Ok(_) => self.0.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.0.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// The producer every rdkafka scenario uses.
pub(crate) type Threaded = ThreadedProducer<Counting>;

/// A config with the bootstrap address and the listener's security settings.
fn base_config(spec: &WorkerSpec) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &spec.bootstrap);
    for (key, value) in spec.security_properties() {
        config.set(key, value);
    }
    config
}

fn producer(spec: &WorkerSpec) -> Result<(Threaded, Counting), String> {
    let context = Counting::default();
    if spec.defaults {
        // librdkafka's own defaults: only the bootstrap address (and the
        // listener's security settings) are set.
        let producer = base_config(spec)
            .create_with_context::<_, Threaded>(context.clone())
            .map_err(|e| format!("rdkafka producer: {e}"))?;
        return Ok((producer, context));
    }
    let producer = base_config(spec)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", LINGER.as_millis().to_string())
        .set("batch.size", BATCH_SIZE.to_string())
        .set("compression.type", if spec.lz4 { "lz4" } else { "none" })
        .create_with_context::<_, Threaded>(context.clone())
        .map_err(|e| format!("rdkafka producer: {e}"))?;
    Ok((producer, context))
}

fn consumer(spec: &WorkerSpec) -> Result<BaseConsumer, String> {
    let mut config = base_config(spec);
    config
        .set("group.id", format!("durian-bench-{}", spec.topic))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false");
    for (key, value) in super::extra_properties("RDKAFKA_BENCH_CONSUMER_PROPS") {
        config.set(key, value);
    }
    let consumer: BaseConsumer = config
        .create()
        .map_err(|e| format!("rdkafka consumer: {e}"))?;
    let mut partitions = TopicPartitionList::new();
    for p in 0..spec.partitions {
        partitions
            .add_partition_offset(&spec.topic, p, Offset::Beginning)
            .map_err(|e| format!("rdkafka assign list: {e}"))?;
    }
    consumer
        .assign(&partitions)
        .map_err(|e| format!("rdkafka assign: {e}"))?;
    Ok(consumer)
}

/// Enqueues one record, waiting while librdkafka's queue is full.
fn send_blocking(producer: &Threaded, topic: &str, value: &[u8]) -> Result<(), String> {
    let mut record = BaseRecord::<(), [u8], ()>::to(topic).payload(value);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                std::thread::sleep(Duration::from_micros(200));
            }
            Err((e, _)) => return Err(format!("rdkafka send: {e}")),
        }
    }
}

fn flush(producer: &Threaded) -> Result<(), String> {
    producer
        .flush(Duration::from_secs(120))
        .map_err(|e| format!("rdkafka flush: {e}"))
}

fn produce_blocking(spec: WorkerSpec) -> WorkerResult {
    let values = payload::values(spec.value_size, VALUE_POOL);
    let (producer, counts) = producer(&spec)?;
    send_blocking(&producer, &spec.topic, &values[0])?;
    flush(&producer)?;
    let before = counts.0.ok.load(Ordering::Relaxed);
    let span = Span::start();
    for i in 0..spec.records {
        send_blocking(&producer, &spec.topic, &values[i as usize % values.len()])?;
    }
    flush(&producer)?;
    let result = span.finish(spec.records, spec.records * spec.value_size as u64);
    let acked = counts.0.ok.load(Ordering::Relaxed) - before;
    let failed = counts.0.failed.load(Ordering::Relaxed);
    if acked != spec.records || failed > 0 {
        return Err(format!(
            "rdkafka: {acked} of {} records acknowledged, {failed} failed",
            spec.records
        ));
    }
    Ok(result)
}

/// Produces `records` values as fast as librdkafka accepts them, then flushes.
pub async fn produce(spec: &WorkerSpec) -> WorkerResult {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || produce_blocking(spec))
        .await
        .map_err(|e| format!("rdkafka producer thread: {e}"))?
}

fn consume_blocking(spec: WorkerSpec) -> WorkerResult {
    let mut clock = ConsumeClock::new();
    let consumer = consumer(&spec)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while clock.seen() < spec.records {
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "rdkafka consume: only {} of {} records in 300 s",
                clock.seen(),
                spec.records
            ));
        }
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(message)) => clock.delivered(1, message.payload_len() as u64),
            Some(Err(e)) => return Err(format!("rdkafka poll: {e}")),
            None => {}
        }
    }
    clock
        .finish()
        .ok_or_else(|| "rdkafka consume: no record arrived".to_owned())
}

/// Reads `records` records from offset 0 of every partition.
pub async fn consume(spec: &WorkerSpec) -> WorkerResult {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || consume_blocking(spec))
        .await
        .map_err(|e| format!("rdkafka consumer thread: {e}"))?
}

fn latency_blocking(spec: WorkerSpec) -> WorkerResult {
    let filler = payload::values(spec.value_size, 1).remove(0);
    let (producer, _counts) = producer(&spec)?;
    let consumer = consumer(&spec)?;
    let total = spec.rate * spec.duration_secs;
    let (mut collector, sender_done, ready) =
        Collector::new(total, spec.partitions as u64, LATENCY_DRAIN);
    let receiver = std::thread::spawn(move || {
        while !collector.finished() {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => collector.observe(message.payload().unwrap_or_default()),
                Some(Err(e)) => return Err(format!("rdkafka poll: {e}")),
                None => {}
            }
        }
        Ok(collector)
    });
    for partition in 0..spec.partitions {
        let record = BaseRecord::<(), [u8], ()>::to(&spec.topic)
            .payload(WARM_UP)
            .partition(partition);
        producer
            .send(record)
            .map_err(|(e, _)| format!("rdkafka warm-up send: {e}"))?;
    }
    flush(&producer)?;
    ready
        .wait_blocking(WARM_UP_TIMEOUT)
        .map_err(|e| format!("rdkafka: {e}"))?;
    let span = Span::start();
    let started = std::time::Instant::now();
    let interval = Duration::from_secs_f64(1.0 / spec.rate.max(1) as f64);
    for i in 0..total {
        let due = started + interval.mul_f64(i as f64);
        let now = std::time::Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        send_blocking(
            &producer,
            &spec.topic,
            &payload::stamped(spec.value_size, &filler),
        )?;
    }
    flush(&producer)?;
    sender_done.done();
    let collector = receiver
        .join()
        .map_err(|_| "rdkafka latency consumer thread panicked".to_owned())??;
    let mut result = span.finish(total, total * spec.value_size as u64);
    result.latency = Some(
        collector
            .into_latency()
            .map_err(|e| format!("rdkafka: {e}"))?,
    );
    Ok(result)
}

/// Sends `rate` stamped records per second while a consumer thread measures
/// their age. The sender is a plain thread (librdkafka's API is blocking).
pub async fn latency(spec: &WorkerSpec) -> WorkerResult {
    let spec = spec.clone();
    tokio::task::spawn_blocking(move || latency_blocking(spec))
        .await
        .map_err(|e| format!("rdkafka latency thread: {e}"))?
}
