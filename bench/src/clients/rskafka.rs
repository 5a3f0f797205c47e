//! rskafka (pure Rust, partition-level, no idempotence, no groups) under the
//! three scenarios.
//!
//! rskafka has no topic-level producer: each partition gets a
//! `BatchProducer` (linger 5 ms, 16 KiB aggregator) and records are spread
//! round-robin. Its consumer is one fetch loop per partition.

use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures::stream::{FuturesUnordered, StreamExt};
use rskafka::client::partition::{Compression, OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::producer::aggregator::RecordAggregator;
use rskafka::client::producer::{BatchProducer, BatchProducerBuilder};
use rskafka::client::{ClientBuilder, Credentials, SaslConfig};
use rskafka::record::Record;

use super::{
    WorkerResult, WorkerSpec, BATCH_SIZE, LATENCY_DRAIN, LINGER, VALUE_POOL, WARM_UP_TIMEOUT,
};
use crate::measure::{ConsumeClock, Span};
use crate::pacing::{paced, Collector, WARM_UP};
use crate::payload;
use crate::security::{self, Security};

/// Produce futures kept in flight per partition before awaiting the oldest.
const IN_FLIGHT_PER_PARTITION: usize = 4096;
/// Bytes asked for per partition and fetch (as Kafka's max.partition.fetch.bytes).
const FETCH_BYTES: std::ops::Range<i32> = 1..1_048_576;
/// Long-poll wait of a fetch, as the other clients' fetch.max.wait.ms.
const FETCH_WAIT_MS: i32 = 500;

/// rustls settings trusting the run's CA (`ssl.ca.location` for the others).
fn tls_config(spec: &WorkerSpec) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::pem::PemObject;
    let ca = spec
        .ca_file
        .as_ref()
        .ok_or("rskafka: SASL_SSL without a CA file")?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca)
        .map_err(|e| format!("rskafka: reading {}: {e}", ca.display()))?
    {
        let cert = cert.map_err(|e| format!("rskafka: {}: {e}", ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("rskafka: CA certificate: {e}"))?;
    }
    // ring, as durian's TLS uses (docs/SECURITY.md): rustls marks it
    // deprecated only for lacking post-quantum key exchange.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("rskafka: TLS versions: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

async fn partitions(spec: &WorkerSpec) -> Result<Vec<Arc<PartitionClient>>, String> {
    let mut builder = ClientBuilder::new(vec![spec.bootstrap.clone()]);
    if spec.security == Security::SaslSsl {
        builder =
            builder
                .tls_config(Arc::new(tls_config(spec)?))
                .sasl_config(SaslConfig::ScramSha512(Credentials::new(
                    security::USER.to_owned(),
                    security::PASSWORD.to_owned(),
                )));
    }
    let client = builder
        .build()
        .await
        .map_err(|e| format!("rskafka client: {e}"))?;
    let mut clients = Vec::new();
    for p in 0..spec.partitions {
        let partition = client
            .partition_client(spec.topic.clone(), p, UnknownTopicHandling::Retry)
            .await
            .map_err(|e| format!("rskafka partition {p}: {e}"))?;
        clients.push(Arc::new(partition));
    }
    Ok(clients)
}

fn producers(
    spec: &WorkerSpec,
    clients: &[Arc<PartitionClient>],
) -> Vec<Arc<BatchProducer<RecordAggregator>>> {
    let codec = if spec.lz4 {
        Compression::Lz4
    } else {
        Compression::NoCompression
    };
    clients
        .iter()
        .map(|c| {
            Arc::new(
                BatchProducerBuilder::new(Arc::clone(c))
                    .with_linger(LINGER)
                    .with_compression(codec)
                    .build(RecordAggregator::new(BATCH_SIZE)),
            )
        })
        .collect()
}

fn record(value: Vec<u8>) -> Record {
    Record {
        key: None,
        value: Some(value),
        headers: Default::default(),
        timestamp: Utc::now(),
    }
}

/// Produces `count` records to one partition, keeping a bounded number of
/// produce futures in flight (each resolves when its batch is acknowledged).
async fn produce_partition(
    producer: Arc<BatchProducer<RecordAggregator>>,
    values: Arc<Vec<bytes::Bytes>>,
    first: u64,
    count: u64,
) -> Result<(), String> {
    let mut pending = FuturesUnordered::new();
    for i in first..first + count {
        if pending.len() >= IN_FLIGHT_PER_PARTITION {
            if let Some(result) = pending.next().await {
                result?;
            }
        }
        let value = values[i as usize % values.len()].to_vec();
        let producer = Arc::clone(&producer);
        pending.push(async move {
            producer
                .produce(record(value))
                .await
                .map(drop)
                .map_err(|e| format!("rskafka produce: {e}"))
        });
    }
    while let Some(result) = pending.next().await {
        result?;
    }
    Ok(())
}

/// Produces `records` values spread evenly over the partitions.
pub async fn produce(spec: &WorkerSpec) -> WorkerResult {
    let values = Arc::new(payload::values(spec.value_size, VALUE_POOL));
    let clients = partitions(spec).await?;
    let producers = producers(spec, &clients);
    for producer in &producers {
        producer
            .produce(record(values[0].to_vec()))
            .await
            .map_err(|e| format!("rskafka warm-up: {e}"))?;
    }
    let span = Span::start();
    let share = spec.records / producers.len() as u64;
    let extra = spec.records % producers.len() as u64;
    let mut tasks = Vec::new();
    let mut first = 0;
    for (i, producer) in producers.iter().enumerate() {
        let count = share + u64::from((i as u64) < extra);
        tasks.push(tokio::spawn(produce_partition(
            Arc::clone(producer),
            Arc::clone(&values),
            first,
            count,
        )));
        first += count;
    }
    for task in tasks {
        task.await
            .map_err(|e| format!("rskafka produce task: {e}"))??;
    }
    Ok(span.finish(spec.records, spec.records * spec.value_size as u64))
}

/// The offset range `[earliest, latest)` of one partition.
async fn offset_range(client: &PartitionClient) -> Result<(i64, i64), String> {
    let earliest = client
        .get_offset(OffsetAt::Earliest)
        .await
        .map_err(|e| format!("rskafka earliest offset: {e}"))?;
    let latest = client
        .get_offset(OffsetAt::Latest)
        .await
        .map_err(|e| format!("rskafka latest offset: {e}"))?;
    Ok((earliest, latest))
}

/// Fetches one partition from `offset` up to `end`, telling the clock about
/// every fetch response.
async fn drain_partition(
    client: Arc<PartitionClient>,
    mut offset: i64,
    end: i64,
    clock: Arc<Mutex<ConsumeClock>>,
) -> Result<(), String> {
    while offset < end {
        let (batch, _high_watermark) = client
            .fetch_records(offset, FETCH_BYTES, FETCH_WAIT_MS)
            .await
            .map_err(|e| format!("rskafka fetch: {e}"))?;
        let (mut records, mut bytes) = (0u64, 0u64);
        for r in batch {
            records += 1;
            bytes += r.record.value.as_ref().map_or(0, |v| v.len() as u64);
            offset = r.offset + 1;
        }
        clock
            .lock()
            .map_err(|_| "clock lock poisoned")?
            .delivered(records, bytes);
    }
    Ok(())
}

/// Reads every partition from its beginning to its end, concurrently (one
/// fetch loop per partition: rskafka has no topic-level consumer).
pub async fn consume(spec: &WorkerSpec) -> WorkerResult {
    let clock = Arc::new(Mutex::new(ConsumeClock::new()));
    let clients = partitions(spec).await?;
    let mut tasks = Vec::new();
    for client in clients {
        let (earliest, latest) = offset_range(&client).await?;
        tasks.push(tokio::spawn(drain_partition(
            client,
            earliest,
            latest,
            Arc::clone(&clock),
        )));
    }
    for task in tasks {
        task.await
            .map_err(|e| format!("rskafka fetch task: {e}"))??;
    }
    let clock = Arc::try_unwrap(clock)
        .map_err(|_| "rskafka: clock still shared".to_owned())?
        .into_inner()
        .map_err(|_| "clock lock poisoned".to_owned())?;
    if clock.seen() != spec.records {
        return Err(format!(
            "rskafka consume: read {} records, expected {}",
            clock.seen(),
            spec.records
        ));
    }
    clock
        .finish()
        .ok_or_else(|| "rskafka consume: no record arrived".to_owned())
}

/// Follows one partition from offset 0, feeding values to the collector.
async fn follow_partition(
    client: Arc<PartitionClient>,
    collector: Arc<Mutex<Collector>>,
) -> Result<(), String> {
    let mut offset = 0;
    loop {
        if collector
            .lock()
            .map_err(|_| "collector lock poisoned")?
            .finished()
        {
            return Ok(());
        }
        let (batch, _) = client
            .fetch_records(offset, FETCH_BYTES, 100)
            .await
            .map_err(|e| format!("rskafka fetch: {e}"))?;
        let mut collector = collector.lock().map_err(|_| "collector lock poisoned")?;
        for r in batch {
            collector.observe(r.record.value.as_deref().unwrap_or_default());
            offset = r.offset + 1;
        }
    }
}

/// Sends `rate` stamped records per second round-robin over the partitions
/// while fetch loops in this process measure their age.
pub async fn latency(spec: &WorkerSpec) -> WorkerResult {
    let filler = payload::values(spec.value_size, 1).remove(0);
    let clients = partitions(spec).await?;
    let producers = producers(spec, &clients);
    let total = spec.rate * spec.duration_secs;
    let (collector, sender_done, ready) =
        Collector::new(total, spec.partitions as u64, LATENCY_DRAIN);
    let collector = Arc::new(Mutex::new(collector));
    let followers: Vec<_> = clients
        .iter()
        .map(|c| tokio::spawn(follow_partition(Arc::clone(c), Arc::clone(&collector))))
        .collect();
    for producer in &producers {
        producer
            .produce(record(WARM_UP.to_vec()))
            .await
            .map_err(|e| format!("rskafka warm-up: {e}"))?;
    }
    ready
        .wait(WARM_UP_TIMEOUT)
        .await
        .map_err(|e| format!("rskafka: {e}"))?;
    let span = Span::start();
    // Each produce future resolves only when its batch is acknowledged, so
    // the sender spawns them instead of awaiting them in line.
    let mut next = 0usize;
    let mut acks = Vec::with_capacity(total as usize);
    paced(spec.rate, total, || {
        let producer = Arc::clone(&producers[next % producers.len()]);
        next += 1;
        let value = payload::stamped(spec.value_size, &filler);
        acks.push(tokio::spawn(async move {
            producer.produce(record(value)).await.map(drop)
        }));
        async { Ok(()) }
    })
    .await?;
    for ack in acks {
        ack.await
            .map_err(|e| format!("rskafka produce task: {e}"))?
            .map_err(|e| format!("rskafka produce: {e}"))?;
    }
    sender_done.done();
    for follower in followers {
        follower
            .await
            .map_err(|e| format!("rskafka fetch task: {e}"))??;
    }
    let collector = Arc::try_unwrap(collector)
        .map_err(|_| "rskafka: collector still shared".to_owned())?
        .into_inner()
        .map_err(|_| "collector lock poisoned".to_owned())?;
    let mut result = span.finish(total, total * spec.value_size as u64);
    result.latency = Some(
        collector
            .into_latency()
            .map_err(|e| format!("rskafka: {e}"))?,
    );
    Ok(result)
}
