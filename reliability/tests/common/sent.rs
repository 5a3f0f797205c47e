//! The records of the round trips against Apache Kafka (`kafka.rs`,
//! `kafka_segments.rs`): what record `n` is sent with, the producer record
//! that carries it, and what a consumed record came back with.

use bytes::Bytes;
use durian_consumer::ConsumerRecord;
use durian_producer::{Compression, ProducerRecord};

/// Every codec the producer offers.
pub const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// What a record was sent with, compared field by field on the way back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The key, if any.
    pub key: Option<Bytes>,
    /// The value; none for a tombstone.
    pub value: Option<Bytes>,
    /// Header keys and values, in order.
    pub headers: Vec<(Bytes, Option<Bytes>)>,
    /// The record's timestamp.
    pub timestamp: i64,
}

impl Sent {
    /// Record `n` of a run: keyed (16 keys) except every 13th, every 17th
    /// keyed one a tombstone (else its value is `value()`), two headers
    /// named "n" and a null header every third record.
    pub fn numbered(n: usize, value: impl FnOnce() -> Bytes, timestamp: i64) -> Sent {
        let key = (!n.is_multiple_of(13)).then(|| Bytes::from(format!("key-{}", n % 16)));
        let value = (key.is_none() || !n.is_multiple_of(17)).then(value);
        let mut headers = vec![
            (Bytes::from_static(b"n"), Some(Bytes::from(n.to_string()))),
            (Bytes::from_static(b"n"), Some(Bytes::from_static(b"again"))),
        ];
        if n.is_multiple_of(3) {
            headers.push((Bytes::from_static(b"null"), None));
        }
        Sent {
            key,
            value,
            headers,
            timestamp,
        }
    }

    /// What `record` came back with.
    pub fn received(record: &ConsumerRecord) -> Sent {
        Sent {
            key: record.key.clone(),
            value: record.value.clone(),
            headers: record
                .headers
                .iter()
                .map(|h| (h.key.clone(), h.value.clone()))
                .collect(),
            timestamp: record.timestamp,
        }
    }

    /// The producer record that sends this to `topic` (the partition left
    /// to the partitioner).
    pub fn producer_record(&self, topic: &str) -> ProducerRecord {
        let mut record = match &self.value {
            Some(value) => ProducerRecord::new(topic, value.clone()),
            None => ProducerRecord::tombstone(topic),
        }
        .with_timestamp(self.timestamp);
        if let Some(key) = &self.key {
            record = record.with_key(key.clone());
        }
        for (key, value) in &self.headers {
            let key = String::from_utf8(key.to_vec()).unwrap();
            record = match value {
                Some(value) => record.with_header(key, value.clone()),
                None => record.with_null_header(key),
            };
        }
        record
    }
}
