//! Errors of the consumer.
//!
//! Client-level failures (connections, broker error codes, configuration)
//! arrive as [`durian_core::Error`] inside [`ConsumerError::Client`]; the
//! other variants are situations only a consumer has, each saying what the
//! application should do about it.

use durian_core::KafkaCode;

use crate::types::TopicPartition;

/// The result type of durian-consumer.
pub type Result<T, E = ConsumerError> = std::result::Result<T, E>;

/// Everything that can go wrong in the consumer.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumerError {
    /// A client-level error: connection, broker error code, configuration.
    #[error(transparent)]
    Client(#[from] durian_core::Error),

    /// The position of a partition lies outside its log and
    /// `auto.offset.reset` is `none`: seek the partition to continue.
    #[error("offset {offset} of {partition} is out of range and auto.offset.reset is none; seek to continue")]
    OffsetOutOfRange {
        /// The partition.
        partition: TopicPartition,
        /// The position that was out of range.
        offset: i64,
    },

    /// The log of a partition was truncated under the consumer (records it
    /// may have read are gone after an unclean leader election, KIP-320)
    /// and `auto.offset.reset` is `none`: seek the partition to continue,
    /// e.g. to `divergent_offset`. As the Java client's LogTruncationException.
    #[error("the log of {partition} was truncated under position {offset} (first diverging offset: {divergent_offset:?}) and auto.offset.reset is none; seek to continue")]
    LogTruncation {
        /// The partition.
        partition: TopicPartition,
        /// The consumer's position when the truncation was found.
        offset: i64,
        /// The first offset known to diverge, when the leader said.
        divergent_offset: Option<i64>,
    },

    /// A partition has no committed offset and `auto.offset.reset` is
    /// `none`: seek the partition to choose where to start.
    #[error("{0} has no committed offset and auto.offset.reset is none; seek to choose a start")]
    NoOffset(TopicPartition),

    /// The application did not call `poll` within `max.poll.interval.ms`,
    /// so the consumer left its group and its partitions were given away.
    /// The next `poll` rejoins.
    #[error("poll was not called within max.poll.interval.ms; the consumer left the group and will rejoin on the next poll")]
    PollIntervalExceeded,

    /// The group refused the consumer for good (fenced static member,
    /// inconsistent protocols...).
    #[error("group membership failed: {0}")]
    Group(String),

    /// The cluster's ACLs refuse this principal the group
    /// (`GROUP_AUTHORIZATION_FAILED`, Kafka's GroupAuthorizationException):
    /// like [`ConsumerError::Group`] it ends the membership, and every
    /// later `poll` reports it.
    #[error("not authorized to use group `{group}`: {error}")]
    GroupAuthorization {
        /// The group (`group.id`).
        group: String,
        /// The broker's error.
        error: durian_core::Error,
    },

    /// A commit was refused because the group rebalanced since the
    /// consumer's assignment; the records will be redelivered elsewhere.
    #[error(
        "commit failed: the group rebalanced ({0}); the uncommitted records may be consumed again"
    )]
    CommitFailed(KafkaCode),

    /// An operation needs a group (`group.id`) or a subscription.
    #[error("{0}")]
    Usage(String),

    /// A key or value could not be deserialized.
    #[error("cannot deserialize {what} of {partition} at offset {offset}: {source}")]
    Deserialize {
        /// `key` or `value`.
        what: &'static str,
        /// Where the record lives.
        partition: TopicPartition,
        /// The record's offset.
        offset: i64,
        /// The deserializer's error.
        source: crate::deserializer::DeserializeError,
    },

    /// A fetched record batch could not be decoded.
    #[error("corrupt record batch in {partition} near offset {offset}: {reason}")]
    CorruptBatch {
        /// The partition.
        partition: TopicPartition,
        /// The fetch position.
        offset: i64,
        /// What the decoder said.
        reason: String,
    },

    /// The consumer was closed.
    #[error("the consumer is closed")]
    Closed,
}

impl ConsumerError {
    /// The Kafka error code, if the broker sent one.
    pub fn kafka_code(&self) -> Option<KafkaCode> {
        match self {
            ConsumerError::Client(error) => error.kafka_code(),
            ConsumerError::CommitFailed(code) => Some(*code),
            _ => None,
        }
    }
}
