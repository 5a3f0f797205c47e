//! durian's producer and consumer under the three scenarios.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use durian_consumer::{Consumer, TopicPartition};
use durian_producer::{Acks, Compression, Producer, ProducerRecord};
use tokio::time::Instant;

use super::{
    WorkerResult, WorkerSpec, BATCH_SIZE, LATENCY_DRAIN, LINGER, VALUE_POOL, WARM_UP_TIMEOUT,
};
use crate::measure::{ConsumeClock, Span};
use crate::pacing::{paced, Collector, WARM_UP};
use crate::payload;

fn producer(spec: &WorkerSpec) -> Result<Producer, String> {
    let codec = if spec.lz4 {
        Compression::Lz4
    } else {
        Compression::None
    };
    let security = spec.security_properties();
    let mut builder = Producer::builder().bootstrap_servers([spec.bootstrap.clone()]);
    if !security.is_empty() {
        // The client settings (TLS, SASL) come from the same property list
        // rdkafka gets; the producer's own settings stay on the builder.
        let mut properties = vec![("bootstrap.servers".to_owned(), spec.bootstrap.clone())];
        properties.extend(security.iter().cloned());
        let client = durian_core::config::ClientConfig::from_properties(properties)
            .map_err(|e| format!("durian producer security settings: {e}"))?;
        builder = builder.configure(|c| c.client = client);
    }
    if spec.defaults {
        let extra = super::extra_properties("DURIAN_BENCH_PRODUCER_PROPS");
        if !extra.is_empty() {
            // A tuning experiment: the defaults but these keys (e.g. what
            // a default batch.size should be).
            let mut properties = vec![("bootstrap.servers".to_owned(), spec.bootstrap.clone())];
            properties.extend(security);
            properties.extend(extra);
            let config = durian_producer::ProducerConfig::from_properties(properties)
                .map_err(|e| format!("durian producer settings: {e}"))?;
            builder = builder.config(config);
        }
        // What `Producer::builder()` gives a user who sets nothing else.
        return builder.build().map_err(|e| format!("durian producer: {e}"));
    }
    builder
        .acks(Acks::All)
        .idempotence(true)
        .linger(LINGER)
        .batch_size(BATCH_SIZE)
        .compression(codec)
        .build()
        .map_err(|e| format!("durian producer: {e}"))
}

fn consumer(spec: &WorkerSpec) -> Result<Consumer, String> {
    let mut properties = vec![
        ("bootstrap.servers".to_owned(), spec.bootstrap.clone()),
        ("auto.offset.reset".to_owned(), "earliest".to_owned()),
        ("enable.auto.commit".to_owned(), "false".to_owned()),
    ];
    properties.extend(spec.security_properties());
    properties.extend(super::extra_properties("DURIAN_BENCH_CONSUMER_PROPS"));
    let mut consumer =
        Consumer::from_properties(properties).map_err(|e| format!("durian consumer: {e}"))?;
    let topic: Arc<str> = Arc::from(spec.topic.as_str());
    consumer
        .assign((0..spec.partitions).map(|p| TopicPartition::new(topic.clone(), p)))
        .map_err(|e| format!("durian assign: {e}"))?;
    Ok(consumer)
}

/// Sends one record and waits for it, so metadata and connections are up
/// before the clock starts.
async fn warm_up(producer: &Producer, topic: &str, value: Bytes) -> Result<(), String> {
    producer
        .send_and_wait(ProducerRecord::new(topic, value))
        .await
        .map(|_| ())
        .map_err(|e| format!("durian warm-up send: {e}"))
}

/// The producer's counters once `records_sent` reached `expected` (or 2 s
/// passed): they are updated just after the batch futures resolve, so they
/// can trail what `flush` or `send_and_wait` already saw.
async fn settled_metrics(producer: &Producer, expected: u64) -> durian_producer::ProducerMetrics {
    let settle = Instant::now() + Duration::from_secs(2);
    let mut metrics = producer.metrics();
    while metrics.records_sent < expected && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(5)).await;
        metrics = producer.metrics();
    }
    metrics
}

/// Produces `records` values as fast as `send` accepts them, then flushes.
/// Delivery futures are dropped: the producer still resolves every batch,
/// and its metrics say whether any failed.
pub async fn produce(spec: &WorkerSpec) -> WorkerResult {
    let values = payload::values(spec.value_size, VALUE_POOL);
    let producer = producer(spec)?;
    warm_up(&producer, &spec.topic, values[0].clone()).await?;
    let before = settled_metrics(&producer, 1).await;
    let span = Span::start();
    for i in 0..spec.records {
        let value = values[i as usize % values.len()].clone();
        producer
            .send(ProducerRecord::new(spec.topic.as_str(), value))
            .await
            .map_err(|e| format!("durian send: {e}"))?;
    }
    producer
        .flush()
        .await
        .map_err(|e| format!("durian flush: {e}"))?;
    let result = span.finish(spec.records, spec.records * spec.value_size as u64);
    let after = settled_metrics(&producer, before.records_sent + spec.records).await;
    let acked = after.records_sent - before.records_sent;
    if after.errors > before.errors || acked != spec.records {
        return Err(format!(
            "durian: {acked} of {} records acknowledged, {} batches failed",
            spec.records,
            after.errors - before.errors
        ));
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .map_err(|e| format!("durian close: {e}"))?;
    Ok(result)
}

/// Reads `records` records from offset 0 of every partition.
pub async fn consume(spec: &WorkerSpec) -> WorkerResult {
    let mut clock = ConsumeClock::new();
    let mut consumer = consumer(spec)?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while clock.seen() < spec.records {
        if Instant::now() > deadline {
            return Err(format!(
                "durian consume: only {} of {} records in 300 s",
                clock.seen(),
                spec.records
            ));
        }
        let batch = consumer
            .poll(Duration::from_millis(500))
            .await
            .map_err(|e| format!("durian poll: {e}"))?;
        if let Some((partition, error)) = batch.errors.first() {
            return Err(format!("durian poll: {partition:?}: {error}"));
        }
        let (mut records, mut bytes) = (0u64, 0u64);
        for record in batch {
            records += 1;
            bytes += record.value.as_ref().map_or(0, |v| v.len() as u64);
        }
        clock.delivered(records, bytes);
    }
    let _ = consumer.close().await;
    clock
        .finish()
        .ok_or_else(|| "durian consume: no record arrived".to_owned())
}

/// Sends `rate` records per second for `duration_secs`, each stamped with
/// its send time, while a consumer in this process measures their age.
pub async fn latency(spec: &WorkerSpec) -> WorkerResult {
    let filler = payload::values(spec.value_size, 1).remove(0);
    let producer = producer(spec)?;
    let mut consumer = consumer(spec)?;
    let total = spec.rate * spec.duration_secs;
    let (mut collector, sender_done, ready) =
        Collector::new(total, spec.partitions as u64, LATENCY_DRAIN);
    let receiver = tokio::spawn(async move {
        while !collector.finished() {
            let batch = consumer
                .poll(Duration::from_millis(100))
                .await
                .map_err(|e| format!("durian poll: {e}"))?;
            for record in batch {
                collector.observe(record.value.as_deref().unwrap_or_default());
            }
        }
        let _ = consumer.close().await;
        Ok::<Collector, String>(collector)
    });
    for partition in 0..spec.partitions {
        let record = ProducerRecord::new(spec.topic.as_str(), Bytes::from_static(WARM_UP))
            .with_partition(partition);
        producer
            .send_and_wait(record)
            .await
            .map_err(|e| format!("durian warm-up send: {e}"))?;
    }
    ready
        .wait(WARM_UP_TIMEOUT)
        .await
        .map_err(|e| format!("durian: {e}"))?;
    let span = Span::start();
    paced(spec.rate, total, || {
        let record = ProducerRecord::new(
            spec.topic.as_str(),
            payload::stamped(spec.value_size, &filler),
        );
        let producer = &producer;
        async move {
            producer
                .send(record)
                .await
                .map(drop)
                .map_err(|e| format!("durian send: {e}"))
        }
    })
    .await?;
    producer
        .flush()
        .await
        .map_err(|e| format!("durian flush: {e}"))?;
    sender_done.done();
    let collector = receiver
        .await
        .map_err(|e| format!("durian latency consumer task: {e}"))??;
    let mut result = span.finish(total, total * spec.value_size as u64);
    result.latency = Some(
        collector
            .into_latency()
            .map_err(|e| format!("durian: {e}"))?,
    );
    let _ = producer.close(Duration::from_secs(5)).await;
    Ok(result)
}
