//! What was sent and what became of each send.
//!
//! The ledger is the producer side of a scenario: one entry per `send`, in
//! send order, with the outcome the producer reported. The checker compares
//! it with what the broker serves afterwards.

use durian_producer::{ProducerError, RecordMetadata};

use crate::record::RecordId;

/// What the producer said about one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledged: it must be readable at exactly this place.
    Acked {
        /// The partition the broker wrote it to.
        partition: i32,
        /// Its offset (-1 when the broker answered a duplicate without one).
        offset: i64,
    },
    /// Definitely not written (refused before sending, or rejected by the
    /// broker): it must never be read.
    Failed {
        /// The producer's error, for the report.
        reason: String,
    },
    /// May or may not have been written (e.g. it expired after an attempt
    /// whose answer never came): reading it once is fine, never twice.
    Unknown {
        /// The producer's error, for the report.
        reason: String,
    },
    /// The delivery future has not resolved (only while a run is going).
    Pending,
}

impl Outcome {
    /// Classifies the result of a delivery future.
    ///
    /// Rejections by the broker and an out-of-order sequence mean the batch
    /// was not appended; an expiry or exhausted retries after an attempt
    /// that went unanswered, a failure at an epoch bump, a fatal state or
    /// an abort leave it open whether an earlier attempt was written.
    pub fn from_delivery(result: &Result<RecordMetadata, ProducerError>) -> Outcome {
        match result {
            Ok(written) => Outcome::Acked {
                partition: written.partition,
                offset: written.offset,
            },
            Err(error) => Outcome::from_error(error),
        }
    }

    /// Classifies an error of `send` or of a delivery future.
    pub fn from_error(error: &ProducerError) -> Outcome {
        let reason = error.to_string();
        match error {
            ProducerError::DeliveryTimeout {
                may_be_written: false,
                ..
            }
            | ProducerError::RetriesExhausted {
                may_be_written: false,
                ..
            }
            | ProducerError::RequestFailed {
                may_be_written: false,
                ..
            }
            | ProducerError::Rejected {
                may_be_written: false,
                ..
            }
            | ProducerError::TooLargeForTopic { .. }
            | ProducerError::BatchLargerThanSegment { .. }
            | ProducerError::OutOfOrderSequence {
                may_be_written: false,
                ..
            }
            | ProducerError::RecordTooLarge { .. }
            | ProducerError::BufferFull { .. }
            | ProducerError::Serialization { .. }
            | ProducerError::TopicNotFound { .. }
            // Refused at metadata, before any produce request.
            | ProducerError::TopicAuthorization { .. }
            | ProducerError::InvalidPartition { .. }
            | ProducerError::Closed
            | ProducerError::Config(_) => Outcome::Failed { reason },
            _ => Outcome::Unknown { reason },
        }
    }
}

/// One `send` of a scenario.
#[derive(Clone, Debug)]
pub struct SentRecord {
    /// The record's identity (also encoded in its value).
    pub id: RecordId,
    /// The partition it was sent to.
    pub partition: i32,
    /// What the producer reported.
    pub outcome: Outcome,
}

/// Every send of one run, indexed by send index.
#[derive(Clone, Debug, Default)]
pub struct SendLedger {
    records: Vec<SentRecord>,
}

impl SendLedger {
    /// An empty ledger.
    pub fn new() -> SendLedger {
        SendLedger::default()
    }

    /// Adds the next send; its send index must equal the number of sends
    /// so far (the ledger is indexed by it).
    ///
    /// Returns `false` and records nothing when the index is out of turn.
    pub fn push(&mut self, record: SentRecord) -> bool {
        if record.id.send_index != self.records.len() as u64 {
            return false;
        }
        self.records.push(record);
        true
    }

    /// Sets the outcome of the send with this index; `false` if unknown.
    pub fn resolve(&mut self, send_index: u64, outcome: Outcome) -> bool {
        match usize::try_from(send_index)
            .ok()
            .and_then(|i| self.records.get_mut(i))
        {
            Some(entry) => {
                entry.outcome = outcome;
                true
            }
            None => false,
        }
    }

    /// The send with this index.
    pub fn get(&self, send_index: u64) -> Option<&SentRecord> {
        usize::try_from(send_index)
            .ok()
            .and_then(|i| self.records.get(i))
    }

    /// All sends in send order.
    pub fn records(&self) -> &[SentRecord] {
        &self.records
    }

    /// How many sends were made.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether nothing was sent.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// How many sends ended with an outcome matching `predicate`.
    pub fn count(&self, predicate: impl Fn(&Outcome) -> bool) -> usize {
        self.records
            .iter()
            .filter(|r| predicate(&r.outcome))
            .count()
    }
}
