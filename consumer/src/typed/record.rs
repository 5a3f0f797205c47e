//! What a [`TypedConsumer`](super::TypedConsumer) hands out: records with
//! decoded keys and values, or, for a record that would not decode, an
//! error naming it.

use std::collections::BTreeMap;
use std::sync::Arc;

use durian_core::record::RecordHeader;

use crate::deserializer::DeserializeError;
use crate::error::ConsumerError;
use crate::types::{ConsumerRecord, TopicPartition};

/// A record whose key and value were decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedRecord<K, V> {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// Create time or log-append time, in ms since the epoch.
    pub timestamp: i64,
    /// The decoded key, `None` when null.
    pub key: Option<K>,
    /// The decoded value, `None` when null (a tombstone).
    pub value: Option<V>,
    /// Headers in wire order (repeated keys kept).
    pub headers: Vec<RecordHeader>,
    /// Leader epoch of the batch holding the record (-1 when unknown).
    pub leader_epoch: i32,
}

impl<K, V> TypedRecord<K, V> {
    /// The record's topic-partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition {
            topic: self.topic.clone(),
            partition: self.partition,
        }
    }
}

/// A record whose key or value the deserializer refused (Java's
/// `RecordDeserializationException`). It names the record, and keeps it
/// raw so the application can log it or send it to a dead-letter topic.
///
/// The consumer's position is already past this record (and past the
/// rest of its poll): to skip it, carry on; to stop at it, `seek` its
/// partition back to [`offset`](Self::offset) before polling or
/// committing again (docs/CONSUMER.md, "Typed records").
#[derive(Clone, Debug, thiserror::Error)]
#[error("cannot deserialize {what} of {partition} at offset {offset}: {source}")]
pub struct RecordDeserializationError {
    /// `key` or `value`.
    pub what: &'static str,
    /// Where the record lives.
    pub partition: TopicPartition,
    /// The record's offset.
    pub offset: i64,
    /// The deserializer's error.
    #[source]
    pub source: DeserializeError,
    /// The record as fetched.
    pub record: Box<ConsumerRecord>,
}

/// One per-record error becomes the consumer's `Deserialize` error, so `?`
/// works in code returning [`ConsumerError`].
impl From<RecordDeserializationError> for ConsumerError {
    fn from(error: RecordDeserializationError) -> Self {
        ConsumerError::Deserialize {
            what: error.what,
            partition: error.partition,
            offset: error.offset,
            source: error.source,
        }
    }
}

/// A decoded record, or why it could not be decoded.
pub type TypedResult<K, V> = Result<TypedRecord<K, V>, RecordDeserializationError>;

/// The records of one typed `poll`, grouped by partition in offset order,
/// each decoded or failed on its own, with the poll's partition errors.
#[derive(Debug)]
pub struct TypedPollBatch<K, V> {
    /// Records per partition, in offset order.
    pub records: BTreeMap<TopicPartition, Vec<TypedResult<K, V>>>,
    /// Partitions that could not be read, and why.
    pub errors: Vec<(TopicPartition, ConsumerError)>,
}

impl<K, V> Default for TypedPollBatch<K, V> {
    fn default() -> Self {
        TypedPollBatch {
            records: BTreeMap::new(),
            errors: Vec::new(),
        }
    }
}

impl<K, V> TypedPollBatch<K, V> {
    /// Number of records, decoded or not.
    pub fn len(&self) -> usize {
        self.records.values().map(Vec::len).sum()
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record, partition by partition.
    pub fn iter(&self) -> impl Iterator<Item = &TypedResult<K, V>> {
        self.records.values().flatten()
    }
}

impl<K, V> IntoIterator for TypedPollBatch<K, V> {
    type Item = TypedResult<K, V>;
    type IntoIter = std::iter::Flatten<
        std::collections::btree_map::IntoValues<TopicPartition, Vec<TypedResult<K, V>>>,
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.records.into_values().flatten()
    }
}
