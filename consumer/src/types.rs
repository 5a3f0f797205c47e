//! Plain data types shared by the consumer's modules.

use std::sync::Arc;

use bytes::Bytes;
use durian_core::record::RecordHeader;
/// Re-exported so `durian_consumer::TopicPartition` names the shared type.
pub use durian_core::TopicPartition;

/// An offset to commit, with optional metadata and the leader epoch of the
/// record it follows (lets the broker detect log truncation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The offset of the next record to consume.
    pub offset: i64,
    /// Free-form text stored with the commit.
    pub metadata: Option<String>,
    /// Leader epoch of the last consumed record, when known.
    pub leader_epoch: Option<i32>,
}

impl OffsetAndMetadata {
    /// An offset without metadata or epoch.
    pub fn new(offset: i64) -> Self {
        OffsetAndMetadata {
            offset,
            metadata: None,
            leader_epoch: None,
        }
    }
}

/// One record handed to the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The topic.
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset.
    pub offset: i64,
    /// Create time or log-append time, in ms since the epoch.
    pub timestamp: i64,
    /// The key, `None` when null.
    pub key: Option<Bytes>,
    /// The value, `None` when null (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in wire order (repeated keys kept).
    pub headers: Vec<RecordHeader>,
    /// Leader epoch of the batch holding the record (-1 when unknown).
    pub leader_epoch: i32,
}

impl ConsumerRecord {
    /// The record's topic-partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition {
            topic: self.topic.clone(),
            partition: self.partition,
        }
    }
}
