//! Errors of the producer.
//!
//! [`ProducerError`] is `Clone` (causes sit behind `Arc` or are themselves
//! `Clone`) because one failure is handed to every record of a batch, and a
//! fatal error to every later `send`.

use std::time::Duration;

/// The clause an error adds when an attempt may have been written
/// without an answer reaching the producer.
fn written_note(may_be_written: bool) -> &'static str {
    if may_be_written {
        "; it may or may not have been written"
    } else {
        ""
    }
}

/// The result type of durian-producer.
pub type Result<T, E = ProducerError> = std::result::Result<T, E>;

/// Everything a send, flush or close can fail with.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProducerError {
    /// A setting is invalid or two settings conflict (raised by `build`).
    #[error(transparent)]
    Config(durian_core::Error),

    /// The cluster refused the client's TLS handshake or SASL credentials
    /// ([`durian_core::Error::is_auth_failure`]); nothing is retried until
    /// the `ssl.*`/`sasl.*` settings change.
    #[error("cannot authenticate with the cluster: {0}")]
    Authentication(durian_core::Error),

    /// A key or value serializer failed.
    #[error("cannot serialize the {part} of a record for `{topic}`: {source}")]
    Serialization {
        /// `key` or `value`.
        part: &'static str,
        /// The record's topic.
        topic: String,
        /// The serializer's error.
        source: crate::serializer::SerializeError,
    },

    /// One record is larger than a limit; it fails alone.
    #[error(
        "record of about {size} bytes exceeds {setting} = {limit} bytes; \
         send a smaller record or raise {setting}"
    )]
    RecordTooLarge {
        /// The record's encoded size (upper estimate, batch header included).
        size: usize,
        /// The limit it exceeds.
        limit: usize,
        /// The setting that sets the limit.
        setting: &'static str,
    },

    /// `buffer.memory` stayed full for `max.block.ms`.
    #[error(
        "no room in buffer.memory ({limit} bytes) within max.block.ms ({waited:?}): \
         records are produced faster than the brokers take them, or the brokers \
         are unreachable"
    )]
    BufferFull {
        /// `buffer.memory`.
        limit: usize,
        /// How long `send` waited.
        waited: Duration,
    },

    /// The cluster's ACLs refuse this principal the topic: its metadata
    /// answered `TOPIC_AUTHORIZATION_FAILED`. Waiting does not grant ACLs,
    /// so `send` fails at once instead of at `max.block.ms`; a later send
    /// asks the cluster again (an ACL may have been added meanwhile).
    #[error("not authorized to access topic `{topic}`: {error}")]
    TopicAuthorization {
        /// The topic.
        topic: String,
        /// The broker's error (`TOPIC_AUTHORIZATION_FAILED`).
        error: durian_core::Error,
    },

    /// The topic did not show up in the metadata within `max.block.ms`.
    #[error(
        "topic `{topic}` not found in the cluster metadata within max.block.ms ({waited:?}); \
         create it first (the producer does not auto-create topics){}",
        cause.as_ref().map(|c| format!("; last error: {c}")).unwrap_or_default()
    )]
    TopicNotFound {
        /// The topic.
        topic: String,
        /// How long `send` waited.
        waited: Duration,
        /// The last metadata error, if any.
        cause: Option<durian_core::Error>,
    },

    /// An explicit partition is outside the topic's partitions.
    #[error("topic `{topic}` has {partitions} partitions; partition {partition} does not exist")]
    InvalidPartition {
        /// The topic.
        topic: String,
        /// The requested partition.
        partition: i32,
        /// How many partitions the topic has.
        partitions: i32,
    },

    /// The record was not acknowledged within `delivery.timeout.ms`.
    #[error(
        "record expired: not acknowledged within delivery.timeout.ms ({timeout:?}) after \
         {attempts} attempt(s){}{}",
        written_note(*may_be_written),
        last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default()
    )]
    DeliveryTimeout {
        /// `delivery.timeout.ms`.
        timeout: Duration,
        /// How many produce requests carried the record.
        attempts: u32,
        /// Whether an attempt may have been appended without an answer
        /// reaching the producer; `false` when no attempt was made or every
        /// one was refused or never left (e.g. the connection was refused).
        may_be_written: bool,
        /// The error of the last attempt, if one failed.
        last_error: Option<durian_core::Error>,
    },

    /// The produce request carrying the record failed in a way retrying
    /// cannot fix, without an answer from the broker (e.g. its response
    /// could not be decoded, or the client was shut down).
    #[error(
        "the produce request for {topic}-{partition} failed: {error}{}",
        written_note(*may_be_written)
    )]
    RequestFailed {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Whether this or an earlier attempt may have been appended.
        may_be_written: bool,
        /// What failed.
        error: durian_core::Error,
    },

    /// Every attempt `retries` allows failed with a retriable error.
    #[error(
        "gave up on {topic}-{partition} after {attempts} attempt(s) (the retries setting){}: \
         {last_error}",
        written_note(*may_be_written)
    )]
    RetriesExhausted {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// How many produce requests carried the record.
        attempts: u32,
        /// Whether an attempt may have been appended without an answer
        /// reaching the producer.
        may_be_written: bool,
        /// The error of the last attempt.
        last_error: durian_core::Error,
    },

    /// The producer had to bump its epoch (another batch failed and left a
    /// gap in the sequence numbers) while an attempt of this record's batch
    /// had ended without an answer. That attempt may have been written, and
    /// the broker would not recognise a resend under the new epoch as a
    /// duplicate, so the batch is failed rather than risk writing it twice.
    #[error(
        "the producer epoch of {topic}-{partition} had to be bumped while this record's batch \
         was unresolved after {attempts} attempt(s); it may or may not have been written, and \
         is not resent so that it cannot be written twice{}",
        last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default()
    )]
    UnresolvedAtEpochBump {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// How many produce requests carried the record.
        attempts: u32,
        /// The error of the attempt that ended without an answer, or of a later one.
        last_error: Option<durian_core::Error>,
    },

    /// The broker rejected the record's batch with an error that retrying
    /// cannot fix (e.g. `MESSAGE_TOO_LARGE`, `TOPIC_AUTHORIZATION_FAILED`).
    /// `may_be_written` is set when an earlier attempt went unanswered.
    #[error(
        "broker rejected the batch for {topic}-{partition}: {error}{}",
        if *may_be_written { "; an earlier attempt may or may not have been written" } else { "" }
    )]
    Rejected {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The broker's error.
        error: durian_core::Error,
        /// Whether an earlier attempt may have been appended without an
        /// answer reaching the producer.
        may_be_written: bool,
    },

    /// The broker rejected a batch as too large (`MESSAGE_TOO_LARGE`) and
    /// it could not be split further: it holds a single record (or could
    /// not be decoded to split). The limit is the topic's
    /// `max.message.bytes` (its default is the broker's `message.max.bytes`);
    /// the broker's own message, when it sent one, names its value.
    #[error(
        "broker rejected a batch of {batch_bytes} bytes ({records} record(s)) for \
         {topic}-{partition} as larger than the topic's max.message.bytes: {error}; \
         shrink the record or raise max.message.bytes on the topic"
    )]
    TooLargeForTopic {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Size of the rejected batch as sent (compressed when a codec is set).
        batch_bytes: usize,
        /// Records in it (1 unless it could not be split).
        records: i32,
        /// The broker's error (`MESSAGE_TOO_LARGE`, with its message).
        error: durian_core::Error,
    },

    /// The broker refused a batch as larger than the topic's
    /// `segment.bytes` (`RECORD_LIST_TOO_LARGE`). As with the Java client it
    /// is neither retried nor split: the same batch would be refused again,
    /// and a segment smaller than a batch is a configuration mismatch
    /// (Kafka's smallest `segment.bytes`, 1 MiB, is above the default
    /// `batch.size`). Nothing of the batch was written.
    #[error(
        "broker refused a batch of {batch_bytes} bytes ({records} record(s)) for \
         {topic}-{partition} as larger than the topic's segment.bytes: {error}; lower the \
         producer's batch.size below the topic's segment.bytes, or raise segment.bytes on the topic"
    )]
    BatchLargerThanSegment {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Size of the refused batch as sent (compressed when a codec is set).
        batch_bytes: usize,
        /// Records in it.
        records: i32,
        /// The broker's error (`RECORD_LIST_TOO_LARGE`, with its message).
        error: durian_core::Error,
    },

    /// The broker reported a gap in the producer's sequence numbers for the
    /// first unacknowledged batch (`OUT_OF_ORDER_SEQUENCE_NUMBER`): this
    /// batch fails, the producer bumps its epoch and goes on.
    #[error(
        "broker reported OUT_OF_ORDER_SEQUENCE_NUMBER for {topic}-{partition}: it lost track of \
         this producer's sequence; the batch is failed and the producer epoch bumped{}",
        if *may_be_written {
            "; an earlier attempt may or may not have been written (the broker remembers \
             only a producer's last 5 batches to recognise a retry)"
        } else { "" }
    )]
    OutOfOrderSequence {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Whether an earlier attempt went unanswered: it may have been
        /// written and then left the broker's duplicate memory.
        may_be_written: bool,
    },

    /// The producer hit an error it cannot recover from; every pending and
    /// later record fails with this. Create a new producer.
    #[error("the producer is in a fatal state and must be recreated: {0}")]
    Fatal(FatalError),

    /// A newer producer with the same `transactional.id` called
    /// `init_transactions` and took over (`PRODUCER_FENCED`,
    /// `INVALID_PRODUCER_EPOCH`): this producer can do nothing more
    /// (every later call fails with this); close it.
    #[error(
        "producer fenced: a newer producer with transactional.id `{transactional_id}` took \
         over ({error}); close this producer"
    )]
    ProducerFenced {
        /// The transactional id.
        transactional_id: String,
        /// The broker's error.
        error: durian_core::Error,
    },

    /// The open transaction cannot be committed (a send in it failed, a
    /// partition or the group's offsets could not be added, ...): call
    /// `abort_transaction`, then start again. Sends fail with this until then.
    #[error(
        "the transaction cannot be committed and must be aborted (abort_transaction): {reason}"
    )]
    TransactionAbortable {
        /// What doomed the transaction.
        reason: String,
    },

    /// The record's transaction was aborted (`abort_transaction`) before
    /// the record was sent; it was not written.
    #[error("the transaction was aborted before the record was sent; it was not written")]
    TransactionAborted,

    /// A transactional call that the producer's state does not allow
    /// (e.g. `send` before `begin_transaction`, `commit_transaction`
    /// twice), or any transactional call on a producer without
    /// `transactional.id` (`state` is then `None`).
    #[error(
        "{operation} is not allowed {}",
        match state {
            Some(state) => format!("in transaction state {state}"),
            None => "without transactional.id".to_owned(),
        }
    )]
    InvalidTransactionState {
        /// The call.
        operation: &'static str,
        /// The state it found, `None` without transactions.
        state: Option<crate::transaction::TransactionState>,
    },

    /// A transactional call could not finish within `max.block.ms`
    /// (coordinator unreachable or busy); the call may be made again and
    /// resumes where it stopped.
    #[error(
        "{operation} did not complete within max.block.ms ({waited:?}){}; call it again",
        last_error.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default()
    )]
    TransactionTimeout {
        /// The call.
        operation: &'static str,
        /// How long it tried.
        waited: Duration,
        /// The last error of the coordinator, if any.
        last_error: Option<durian_core::Error>,
    },

    /// `close` gave up on this record (its timeout elapsed first).
    #[error("the producer was closed before the record was delivered")]
    Aborted,

    /// `send` after `close`.
    #[error("the producer is closed")]
    Closed,

    /// The client core failed outside any batch (e.g. while connecting).
    #[error(transparent)]
    Client(durian_core::Error),
}

/// Why a producer stopped for good ([`ProducerError::Fatal`]).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FatalError {
    /// InitProducerId failed with an error retrying cannot fix, so the
    /// producer has no identity to write with.
    #[error("InitProducerId failed: {0}")]
    InitProducerId(durian_core::Error),

    /// The broker refused this producer's identity for a batch: a newer
    /// producer fenced it (`PRODUCER_FENCED`, `INVALID_PRODUCER_EPOCH`), or
    /// it is not authorized to write idempotently.
    #[error("produce failed with {0}")]
    Rejected(durian_core::Error),

    /// The broker lost this producer's state (`UNKNOWN_PRODUCER_ID`) while
    /// the log still holds records it acknowledged: continuing could hide
    /// lost data.
    #[error(
        "the broker lost this producer's state (UNKNOWN_PRODUCER_ID) while the log still \
         holds acknowledged records (log start {log_start_offset}, last acknowledged offset \
         {last_acked_offset}); acknowledged data may have been lost"
    )]
    StateLost {
        /// The partition's log start offset in the broker's answer.
        log_start_offset: i64,
        /// The last offset the broker acknowledged to this producer.
        last_acked_offset: i64,
    },

    /// A transactional request failed with an error the producer cannot
    /// recover from (e.g. `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`,
    /// `INVALID_TXN_STATE`, `UNSUPPORTED_VERSION`; docs/PRODUCER.md has
    /// the table).
    #[error("{request} failed: {error}")]
    Transaction {
        /// The request: InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
        /// TxnOffsetCommit or EndTxn.
        request: &'static str,
        /// The broker's error.
        error: durian_core::Error,
    },
}

impl ProducerError {
    /// Whether this error ends the producer (every later send fails too).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ProducerError::Fatal(_) | ProducerError::ProducerFenced { .. }
        )
    }

    /// Whether this error dooms only the open transaction, which
    /// `abort_transaction` recovers from.
    pub fn is_transaction_abortable(&self) -> bool {
        matches!(self, ProducerError::TransactionAbortable { .. })
    }
}

impl From<durian_core::Error> for ProducerError {
    fn from(error: durian_core::Error) -> Self {
        match error {
            durian_core::Error::Config { .. } => ProducerError::Config(error),
            other => ProducerError::Client(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_limit_and_what_to_do() {
        let too_large = ProducerError::RecordTooLarge {
            size: 2_000_000,
            limit: 1_048_576,
            setting: "max.request.size",
        };
        let text = too_large.to_string();
        assert!(text.contains("max.request.size = 1048576"), "{text}");
        let expired = ProducerError::DeliveryTimeout {
            timeout: Duration::from_secs(3),
            attempts: 0,
            may_be_written: false,
            last_error: None,
        };
        let text = expired.to_string();
        assert!(text.contains("delivery.timeout.ms") && !text.contains("may or may not"));
        let sent = ProducerError::DeliveryTimeout {
            timeout: Duration::from_secs(3),
            attempts: 2,
            may_be_written: true,
            last_error: Some(durian_core::Error::Shutdown),
        };
        assert!(sent
            .to_string()
            .contains("may or may not have been written"));
        let unresolved = ProducerError::UnresolvedAtEpochBump {
            topic: "t".into(),
            partition: 0,
            attempts: 1,
            last_error: None,
        }
        .to_string();
        assert!(
            unresolved.contains("may or may not have been written") && !unresolved.contains("  "),
            "{unresolved}"
        );
    }
}
