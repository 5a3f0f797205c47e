//! What the application hands to `send` and what it gets back.

use bytes::Bytes;

/// One record header: the shared [`RecordHeader`](durian_core::record::RecordHeader) of durian-core, under
/// the name this crate has always exported. The key is bytes as on the
/// wire; [`ProducerRecord::with_header`] takes a text key.
pub use durian_core::record::RecordHeader as Header;

/// A record to produce: topic, optional partition, key, value, headers and
/// timestamp. `K` and `V` are turned into bytes by the producer's serializers.
///
/// ```
/// use durian_producer::ProducerRecord;
/// let record: ProducerRecord = ProducerRecord::new("clicks", "page=/home")
///     .with_key("user-7")
///     .with_header("trace", "abc")
///     .with_header("trace", "def");
/// assert_eq!(record.headers.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerRecord<K = Bytes, V = Bytes> {
    /// The topic.
    pub topic: String,
    /// An explicit partition, which overrides the partitioner.
    pub partition: Option<i32>,
    /// The key; `None` is a null key (spread by the sticky partitioner).
    pub key: Option<K>,
    /// The value; `None` is a null value (a tombstone on compacted topics).
    pub value: Option<V>,
    /// Headers, in order.
    pub headers: Vec<Header>,
    /// Create time in milliseconds since the epoch; `None` means now.
    pub timestamp: Option<i64>,
}

impl<K, V> ProducerRecord<K, V> {
    /// A record with a value and nothing else.
    pub fn new(topic: impl Into<String>, value: impl Into<V>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: None,
            value: Some(value.into()),
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// A record with a null value (a tombstone once a key is set).
    pub fn tombstone(topic: impl Into<String>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<K>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets an explicit partition.
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the create timestamp (milliseconds since the epoch).
    pub fn with_timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }

    /// Appends a header with a text key; an existing header with the same
    /// key is kept. A binary key can be pushed onto
    /// [`headers`](Self::headers) as a [`Header::new`].
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header::text(key, value));
        self
    }

    /// Appends a header with a null value.
    pub fn with_null_header(mut self, key: impl Into<String>) -> Self {
        self.headers.push(Header::null(key));
        self
    }
}

/// Where an acknowledged record was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The partition.
    pub partition: i32,
    /// The record's offset; -1 when the broker did not say (acks=0, or a
    /// retried batch the broker recognised as a duplicate of an older one).
    pub offset: i64,
    /// The record's timestamp: its create time, or the broker's append time
    /// on topics with `message.timestamp.type=LogAppendTime`.
    pub timestamp: i64,
}
