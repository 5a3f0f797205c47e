//! The `Producer` handle and its builder.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use durian_core::compression::Compression;
use durian_core::Client;
use tokio::time::Instant;

use crate::accumulator::{Accumulator, AccumulatorSettings, Append, RecordParts};
use crate::config::{Acks, ProducerConfig};
use crate::delivery::DeliveryFuture;
use crate::error::ProducerError;
use crate::lifecycle::State;
use crate::metrics::ProducerMetrics;
use crate::partitioner::{Partitioner, SharedPartitioner};
use crate::record::{ProducerRecord, RecordMetadata};
use crate::serializer::{BytesSerializer, Serializer};
use crate::shared::Shared;

/// Stops the sender (after it delivered everything) when the last handle goes.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lifecycle.advance(State::Closing);
        self.shared.wakeup.notify_one();
    }
}

/// A Kafka producer; cheap to clone, `Send + Sync`.
///
/// `K` and `V` are the key and value types, turned into bytes by the
/// serializers given to the builder (bytes by default).
///
/// ```no_run
/// # async fn demo() -> Result<(), durian_producer::ProducerError> {
/// use durian_producer::{Producer, ProducerRecord};
/// let producer = Producer::builder().bootstrap_servers(["localhost:9092"]).build()?;
/// let delivery = producer.send(ProducerRecord::new("clicks", "page=/").with_key("user-7")).await?;
/// let written = delivery.await?;
/// println!("partition {} offset {}", written.partition, written.offset);
/// producer.close(std::time::Duration::from_secs(30)).await?;
/// # Ok(()) }
/// ```
pub struct Producer<K = Bytes, V = Bytes> {
    handle: Arc<Handle>,
    key_serializer: Arc<dyn Serializer<K>>,
    value_serializer: Arc<dyn Serializer<V>>,
}

impl<K, V> Clone for Producer<K, V> {
    fn clone(&self) -> Self {
        Producer {
            handle: self.handle.clone(),
            key_serializer: self.key_serializer.clone(),
            value_serializer: self.value_serializer.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for Producer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field(
                "bootstrap_servers",
                &self.shared().config.client.bootstrap_servers,
            )
            .field("metrics", &self.metrics())
            .finish()
    }
}

impl Producer {
    /// A builder with Kafka's defaults and byte keys and values.
    pub fn builder() -> ProducerBuilder<Bytes, Bytes> {
        ProducerBuilder {
            config: ProducerConfig::new(durian_core::ClientConfig::default()),
            partitioner: None,
            key_serializer: Arc::new(BytesSerializer),
            value_serializer: Arc::new(BytesSerializer),
        }
    }

    /// A producer of bytes configured by Kafka property names.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), durian_producer::ProducerError> {
    /// let producer = durian_producer::Producer::from_properties([
    ///     ("bootstrap.servers", "localhost:9092"),
    ///     ("linger.ms", "10"),
    ///     ("compression.type", "lz4"),
    /// ])?;
    /// # Ok(()) }
    /// ```
    pub fn from_properties<I, K, V>(properties: I) -> Result<Producer, ProducerError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let config = ProducerConfig::from_properties(properties)?;
        Producer::builder().config(config).build()
    }
}

impl<K, V> Producer<K, V> {
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// Buffers a record and returns the future of its delivery.
    ///
    /// Returns once the record is in a batch: awaiting `send` is where the
    /// producer pushes back when `buffer.memory` is full (for at most
    /// `max.block.ms`, which also bounds waiting for a new topic's metadata).
    /// Errors here concern this record alone (too large, serializer failed,
    /// unknown topic) or the producer (closed, fatal).
    ///
    /// With the `otel` feature, the current span's OpenTelemetry context is
    /// added as `traceparent`/`tracestate` headers unless the record already
    /// has a `traceparent` (see the `otel` module).
    pub async fn send(
        &self,
        record: ProducerRecord<K, V>,
    ) -> Result<DeliveryFuture, ProducerError> {
        // The trace context goes in before the size check: it counts.
        #[cfg(feature = "otel")]
        let record = {
            let mut record = record;
            crate::otel::inject_current_span(&mut record.headers);
            record
        };
        let shared = self.shared();
        shared.check_open()?;
        // A transactional producer sends only inside a transaction; checked
        // early too, so a misuse fails before waiting for metadata.
        if let Some(txn) = &shared.txn {
            txn.check_send()?;
        }
        let key = match &record.key {
            Some(key) => Some(serialize("key", &*self.key_serializer, &record.topic, key)?),
            None => None,
        };
        let value = match &record.value {
            Some(value) => Some(serialize(
                "value",
                &*self.value_serializer,
                &record.topic,
                value,
            )?),
            None => None,
        };
        let topic = record.topic.as_str();
        // One clock read per record: it starts max.block.ms, dates a batch
        // this record opens and the sticky partition's turn, and gives the
        // record's timestamp (see `clock`). The clock is read again only
        // after a wait (metadata, memory). Reading the wall clock as well
        // showed as part of ~8% of `durian ship`'s CPU.
        let started = Instant::now();
        let deadline = started + shared.config.max_block;
        let (partitions, mut now) = match shared.known_partitions(topic) {
            Some(known) => (known, started),
            None => (
                shared.topic_partitions(topic, deadline).await?,
                Instant::now(),
            ),
        };
        let mut partition = match record.partition {
            Some(partition) => Some(partition),
            None => {
                shared
                    .partitioner
                    .partition(topic, key.as_deref(), value.as_deref(), &partitions)
            }
        };
        if let Some(p) = partition.filter(|p| *p < 0 || *p >= partitions.count) {
            return Err(ProducerError::InvalidPartition {
                topic: topic.to_owned(),
                partition: p,
                partitions: partitions.count,
            });
        }
        let parts = RecordParts {
            timestamp: record
                .timestamp
                .unwrap_or_else(|| crate::clock::wall_millis_at(now)),
            key: key.as_deref(),
            value: value.as_ref(),
            headers: &record.headers,
        };
        let size = parts.max_encoded_size();
        if size > shared.config.max_request_size {
            return Err(ProducerError::RecordTooLarge {
                size,
                limit: shared.config.max_request_size,
                setting: "max.request.size",
            });
        }
        let mut reservation = None;
        loop {
            let appended = {
                let mut accumulator = shared.accumulator();
                // Checked under the lock the sender's exit test also takes,
                // so no record lands in a queue nobody drains any more.
                shared.check_open()?;
                // Also under the lock: a commit or abort that starts
                // after this check finds the record in the accumulator.
                if let Some(txn) = &shared.txn {
                    txn.check_send()?;
                }
                accumulator.append(
                    topic,
                    &partitions,
                    partition,
                    &parts,
                    now,
                    reservation.take(),
                )?
            };
            match appended {
                Append::Done { future, new_batch } => {
                    if new_batch {
                        shared.wakeup.notify_one();
                    }
                    return Ok(future);
                }
                Append::NeedsMemory {
                    partition: p,
                    bytes,
                } => {
                    // Keep the partition the reservation is for, even if the
                    // sticky partitioner moves on meanwhile.
                    partition = Some(p);
                    reservation = Some(match shared.budget.try_reserve(bytes) {
                        Some(reserved) => reserved,
                        None => {
                            let left = deadline.saturating_duration_since(Instant::now());
                            shared
                                .budget
                                .reserve(bytes, left)
                                .await
                                .map_err(|e| match e {
                                    ProducerError::BufferFull { limit, .. } => {
                                        ProducerError::BufferFull {
                                            limit,
                                            waited: shared.config.max_block,
                                        }
                                    }
                                    other => other,
                                })?
                        }
                    });
                    now = Instant::now();
                }
            }
        }
    }

    /// Sends a record and waits for its acknowledgement.
    pub async fn send_and_wait(
        &self,
        record: ProducerRecord<K, V>,
    ) -> Result<RecordMetadata, ProducerError> {
        self.send(record).await?.await
    }

    /// Sends everything buffered now, ignoring `linger.ms`, and waits until
    /// each of those records is acknowledged or failed (their futures say
    /// which). Fails only if the producer is in a fatal state.
    pub async fn flush(&self) -> Result<(), ProducerError> {
        let shared = self.shared();
        let _hurry = HurryGuard::new(shared);
        let pending = shared.accumulator().pending_signals();
        for signal in pending {
            signal.wait().await;
        }
        match shared.fatal.get() {
            Some(fatal) => Err(fatal.clone()),
            None => Ok(()),
        }
    }

    /// Stops taking records, delivers everything buffered, and stops the
    /// sender. After `timeout`, whatever is still pending fails with
    /// [`ProducerError::Aborted`] (never silently dropped) and that error is
    /// returned. Other clones of this producer are closed as well.
    pub async fn close(&self, timeout: Duration) -> Result<(), ProducerError> {
        let shared = self.shared();
        shared.lifecycle.advance(State::Closing);
        shared.wakeup.notify_one();
        let deadline = Instant::now() + timeout;
        let delivered = tokio::time::timeout_at(deadline, self.flush()).await;
        let result = match delivered {
            Ok(result) => result,
            Err(_) => {
                shared.lifecycle.advance(State::Aborting);
                shared.wakeup.notify_one();
                Err(ProducerError::Aborted)
            }
        };
        // Give the sender a moment to finish its last replies; it stops on its own.
        let stopped = async {
            loop {
                let done = shared.sender_done.notified();
                if shared.lifecycle.get() == State::Closed {
                    break;
                }
                done.await;
            }
        };
        let grace = deadline.max(Instant::now() + Duration::from_millis(100));
        let _ = tokio::time::timeout_at(grace, stopped).await;
        result
    }

    /// A snapshot of the producer's counters.
    pub fn metrics(&self) -> ProducerMetrics {
        let shared = self.shared();
        shared
            .metrics
            .snapshot(shared.budget.in_use(), shared.config.buffer_memory)
    }

    /// The client the producer talks through (for metadata or admin requests).
    pub fn client(&self) -> &Client {
        &self.shared().client
    }

    /// The producer's settings.
    pub fn config(&self) -> &ProducerConfig {
        &self.shared().config
    }
}

fn serialize<T>(
    part: &'static str,
    serializer: &dyn Serializer<T>,
    topic: &str,
    data: &T,
) -> Result<Bytes, ProducerError> {
    serializer
        .serialize(topic, data)
        .map_err(|source| ProducerError::Serialization {
            part,
            topic: topic.to_owned(),
            source,
        })
}

/// Makes the sender ignore linger while a flush waits.
struct HurryGuard<'a> {
    shared: &'a Shared,
}

impl<'a> HurryGuard<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.hurry.fetch_add(1, Ordering::AcqRel);
        shared.wakeup.notify_one();
        HurryGuard { shared }
    }
}

impl Drop for HurryGuard<'_> {
    fn drop(&mut self) {
        self.shared.hurry.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Configures a [`Producer`]: settings, partitioner and serializers.
pub struct ProducerBuilder<K, V> {
    config: ProducerConfig,
    partitioner: Option<SharedPartitioner>,
    key_serializer: Arc<dyn Serializer<K>>,
    value_serializer: Arc<dyn Serializer<V>>,
}

impl<K, V> std::fmt::Debug for ProducerBuilder<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerBuilder")
            .field("config", &self.config)
            .field("custom_partitioner", &self.partitioner.is_some())
            .finish()
    }
}

impl<K, V> ProducerBuilder<K, V> {
    /// Replaces all settings (e.g. from [`ProducerConfig::from_properties`]).
    pub fn config(mut self, config: ProducerConfig) -> Self {
        self.config = config;
        self
    }

    /// `bootstrap.servers`.
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.client.bootstrap_servers = durian_core::config::split_servers(servers);
        self
    }

    /// Edits any setting in place.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = durian_producer::Producer::builder()
    ///     .bootstrap_servers(["localhost:9092"])
    ///     .configure(|c| {
    ///         c.linger = Duration::from_millis(20);
    ///         c.client.request_timeout = Duration::from_secs(10);
    ///     });
    /// ```
    pub fn configure(mut self, edit: impl FnOnce(&mut ProducerConfig)) -> Self {
        edit(&mut self.config);
        self
    }

    /// `acks`.
    pub fn acks(self, acks: Acks) -> Self {
        self.configure(|c| c.acks = acks)
    }

    /// `enable.idempotence`.
    pub fn idempotence(self, enabled: bool) -> Self {
        self.configure(|c| c.enable_idempotence = enabled)
    }

    /// `linger.ms`.
    pub fn linger(self, linger: Duration) -> Self {
        self.configure(|c| c.linger = linger)
    }

    /// `batch.size`.
    pub fn batch_size(self, bytes: usize) -> Self {
        self.configure(|c| c.batch_size = bytes)
    }

    /// `compression.type`.
    pub fn compression(self, codec: Compression) -> Self {
        self.configure(|c| c.compression = codec)
    }

    /// `delivery.timeout.ms`.
    pub fn delivery_timeout(self, timeout: Duration) -> Self {
        self.configure(|c| c.delivery_timeout = timeout)
    }

    /// `buffer.memory`.
    pub fn buffer_memory(self, bytes: usize) -> Self {
        self.configure(|c| c.buffer_memory = bytes)
    }

    /// `max.block.ms`.
    pub fn max_block(self, timeout: Duration) -> Self {
        self.configure(|c| c.max_block = timeout)
    }

    /// `transactional.id`: makes the producer transactional
    /// (`init_transactions`, `begin_transaction`, ...).
    pub fn transactional_id(self, id: impl Into<String>) -> Self {
        let id = id.into();
        self.configure(|c| c.transactional_id = Some(id))
    }

    /// `transaction.timeout.ms`.
    pub fn transaction_timeout(self, timeout: Duration) -> Self {
        self.configure(|c| c.transaction_timeout = timeout)
    }

    /// A partitioner instead of the one the `partitioner` property names
    /// (by default the Java client's: murmur2 keys, sticky otherwise).
    pub fn partitioner(mut self, partitioner: impl Partitioner) -> Self {
        self.partitioner = Some(Arc::new(partitioner));
        self
    }

    /// Key and value serializers; changes the producer's record types.
    pub fn serializers<K2, V2>(
        self,
        key: impl Serializer<K2> + 'static,
        value: impl Serializer<V2> + 'static,
    ) -> ProducerBuilder<K2, V2> {
        ProducerBuilder {
            config: self.config,
            partitioner: self.partitioner,
            key_serializer: Arc::new(key),
            value_serializer: Arc::new(value),
        }
    }

    /// Validates the settings and starts the producer's sender task. No
    /// broker is contacted yet. Must be called within a tokio runtime.
    pub fn build(self) -> Result<Producer<K, V>, ProducerError> {
        let config = self.config;
        config.validate()?;
        let client = Client::new(config.client.clone())?;
        let settings = AccumulatorSettings {
            batch_size: config.batch_size,
            compression: config.compression,
            delivery_timeout: config.delivery_timeout,
            retries: config.retries,
            retry_backoff: (config.client.retry_backoff, config.client.retry_backoff_max),
            adaptive: config.adaptive_partitioning,
            sticky_turn: config.linger.max(crate::partitioner::sticky::MIN_TURN),
            transactional: config.transactional_id.is_some(),
            reference_values_from: crate::accumulator::REFERENCE_VALUES_FROM,
        };
        let partitioner = self
            .partitioner
            .unwrap_or_else(|| config.partitioner.build(config.partitioner_ignore_keys));
        let shared = Arc::new(Shared::new(
            client,
            config,
            Accumulator::new(settings),
            partitioner,
        ));
        tokio::spawn(crate::sender::run(shared.clone()));
        Ok(Producer {
            handle: Arc::new(Handle { shared }),
            key_serializer: self.key_serializer,
            value_serializer: self.value_serializer,
        })
    }
}
