//! [`TypedConsumer`]: a consumer that decodes keys and values with
//! [`Deserializer`]s, the counterpart of the producer's `Producer<K, V>`.
//!
//! ```text
//!  poll ─▶ inner consumer's PollBatch ─▶ per partition: prepare (async, e.g. schema ids)
//!                                     └▶ per record: key + value deserialize ─▶ Ok(TypedRecord)
//!                                                                           └─▶ Err(RecordDeserializationError)
//! ```
//!
//! A wrapper rather than type parameters on [`Consumer`]: the rebalance
//! listener, the builder and every method of `Consumer` keep their types,
//! so existing code compiles unchanged, and the wrapper works over any
//! [`ConsumerApi`] (a `MockConsumer` too).

mod record;

use std::time::Duration;

use crate::api::ConsumerApi;
use crate::consumer::{Consumer, PollBatch};
use crate::deserializer::Deserializer;
use crate::error::Result;
use crate::types::ConsumerRecord;

pub use record::{RecordDeserializationError, TypedPollBatch, TypedRecord, TypedResult};

type BoxedDeserializer<T> = Box<DynDeserializer<T>>;

/// A consumer of `K` keys and `V` values.
///
/// Each record is decoded on its own: one that fails comes back as a
/// [`RecordDeserializationError`] in its place, and the records around it
/// are unaffected, so a bad record neither disappears nor stops the
/// consumer. What to do with it (skip, dead-letter, stop) is the
/// application's choice; see [`RecordDeserializationError`] for positions.
///
/// ```no_run
/// # async fn demo() -> durian_consumer::Result<()> {
/// use std::time::Duration;
/// use durian_consumer::deserializer::{I64Deserializer, StringDeserializer};
/// use durian_consumer::{Consumer, TypedConsumer};
/// let consumer = Consumer::builder()
///     .bootstrap_servers(["localhost:9092"])
///     .group_id("counters")
///     .build()?;
/// let mut counts = TypedConsumer::new(consumer, StringDeserializer, I64Deserializer);
/// counts.consumer_mut().subscribe(["counts"])?;
/// for record in counts.poll(Duration::from_secs(1)).await? {
///     match record {
///         Ok(record) => println!("{:?} = {:?}", record.key, record.value),
///         Err(bad) => eprintln!("skipping {}", bad),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct TypedConsumer<K, V, C = Consumer> {
    consumer: C,
    keys: BoxedDeserializer<K>,
    values: BoxedDeserializer<V>,
}

impl<K, V, C: std::fmt::Debug> std::fmt::Debug for TypedConsumer<K, V, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedConsumer")
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

impl<K, V, C: ConsumerApi> TypedConsumer<K, V, C> {
    /// Decodes what `consumer` reads with `keys` and `values`.
    pub fn new(
        consumer: C,
        keys: impl Deserializer<Output = K> + Send + Sync + 'static,
        values: impl Deserializer<Output = V> + Send + Sync + 'static,
    ) -> Self {
        TypedConsumer {
            consumer,
            keys: Box::new(keys),
            values: Box::new(values),
        }
    }

    /// The consumer underneath, for subscribing, committing, seeking...
    pub fn consumer(&self) -> &C {
        &self.consumer
    }

    /// The consumer underneath, mutably.
    pub fn consumer_mut(&mut self) -> &mut C {
        &mut self.consumer
    }

    /// The consumer underneath, without the deserializers.
    pub fn into_inner(self) -> C {
        self.consumer
    }

    /// Polls the consumer and decodes every record (see [`ConsumerApi::poll`]).
    pub async fn poll(&mut self, timeout: Duration) -> Result<TypedPollBatch<K, V>> {
        let batch = self.consumer.poll(timeout).await?;
        // Only the deserializers are borrowed while decoding, so the poll
        // future is `Send` whenever the consumer is, `Sync` or not.
        Ok(decode_batch(&*self.keys, &*self.values, batch).await)
    }

    /// Decodes a batch polled from the consumer underneath (e.g. one from
    /// [`Consumer::poll`] called directly).
    pub async fn decode(&self, batch: PollBatch) -> TypedPollBatch<K, V> {
        decode_batch(&*self.keys, &*self.values, batch).await
    }
}

type DynDeserializer<T> = dyn Deserializer<Output = T> + Send + Sync;

async fn decode_batch<K, V>(
    keys: &DynDeserializer<K>,
    values: &DynDeserializer<V>,
    batch: PollBatch,
) -> TypedPollBatch<K, V> {
    let mut typed = TypedPollBatch {
        errors: batch.errors,
        ..TypedPollBatch::default()
    };
    for (partition, records) in batch.records {
        prepare(keys, &partition.topic, &records, |r| &r.key).await;
        prepare(values, &partition.topic, &records, |r| &r.value).await;
        let decoded = records
            .into_iter()
            .map(|record| decode_record(keys, values, record))
            .collect();
        typed.records.insert(partition, decoded);
    }
    typed
}

fn decode_record<K, V>(
    keys: &DynDeserializer<K>,
    values: &DynDeserializer<V>,
    record: ConsumerRecord,
) -> TypedResult<K, V> {
    let key = decode(keys, "key", &record, record.key.as_deref())?;
    let value = decode(values, "value", &record, record.value.as_deref())?;
    Ok(TypedRecord {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        timestamp: record.timestamp,
        key,
        value,
        headers: record.headers,
        leader_epoch: record.leader_epoch,
    })
}

/// Lets a deserializer see a partition's keys (or values) before decoding.
async fn prepare<T>(
    deserializer: &DynDeserializer<T>,
    topic: &str,
    records: &[ConsumerRecord],
    field: impl Fn(&ConsumerRecord) -> &Option<bytes::Bytes>,
) {
    let data: Vec<&[u8]> = records.iter().filter_map(|r| field(r).as_deref()).collect();
    if !data.is_empty() {
        deserializer.prepare(topic, &data).await;
    }
}

fn decode<T>(
    deserializer: &DynDeserializer<T>,
    what: &'static str,
    record: &ConsumerRecord,
    data: Option<&[u8]>,
) -> std::result::Result<Option<T>, RecordDeserializationError> {
    deserializer
        .deserialize(&record.topic, data)
        .map_err(|source| RecordDeserializationError {
            what,
            partition: record.topic_partition(),
            offset: record.offset,
            source,
            record: Box::new(record.clone()),
        })
}
