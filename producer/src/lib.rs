//! durian-producer: an idempotent, batching Kafka producer.
//!
//! ```text
//!  send(record) ─▶ serializers ─▶ partitioner ─▶ accumulator ──────────────▶ sender task
//!   │ returns once buffered        explicit >      per-partition batches       per broker: drain
//!   │ (awaiting it = backpressure)  murmur2(key) >  in wire format,             ready partitions into
//!   ▼                               sticky          buffer.memory budget        one ProduceRequest ─▶ sink(node)
//!  DeliveryFuture ◀──────────── batch signal ◀── ack / retry / fail / epoch bump ◀── responses
//! ```
//!
//! * [`Producer::send`] returns a [`DeliveryFuture`] once the record is in a
//!   batch; the future resolves to [`RecordMetadata`] (partition, offset,
//!   timestamp) or a [`ProducerError`].
//! * Idempotence is on by default: a producer id from InitProducerId,
//!   sequence numbers per partition, retries that keep order, and epoch
//!   bumps (KIP-360) on the recoverable sequence errors.
//! * `delivery.timeout.ms` bounds every record's life; `close` delivers or
//!   fails everything buffered.
//!
//! docs/PRODUCER.md has the guarantees, every setting and the error table.

mod accumulator;
mod api;
mod clock;
mod config;
mod delivery;
mod error;
mod idempotence;
mod lifecycle;
mod metrics;
#[cfg(feature = "testing")]
mod mock;
#[cfg(feature = "otel")]
pub mod otel;
pub mod partitioner;
mod producer;
mod record;
pub mod schema_registry;
mod sender;
pub mod serializer;
mod shared;
mod topic_map;
mod transaction;

pub use api::ProducerApi;
pub use config::{Acks, ProducerConfig, ProducerConfigBuilder, PRODUCER_PROPERTIES};
pub use delivery::DeliveryFuture;
pub use durian_core::compression::Compression;
pub use durian_core::{ConsumerGroupMetadata, TopicPartition};
pub use error::{FatalError, ProducerError, Result};
pub use metrics::ProducerMetrics;
/// A producer without a broker for tests (cargo feature `testing`).
#[cfg(feature = "testing")]
pub use mock::MockProducer;
pub use partitioner::{DefaultPartitioner, Partitioner, RoundRobinPartitioner, TopicPartitions};
pub use producer::{Producer, ProducerBuilder};
pub use record::{Header, ProducerRecord, RecordMetadata};
#[cfg(feature = "json")]
pub use serializer::JsonSerializer;
pub use serializer::{
    BytesSerializer, IntegerSerializer, SerializeError, Serializer, StringSerializer,
};
pub use transaction::TransactionState;
