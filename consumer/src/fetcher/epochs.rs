//! Leader epochs (KIP-320): position validation and log truncation.
//!
//! ```text
//!  metadata shows a newer leader epoch ──▶ cursor.needs_validation (no fetch)
//!        │ consumer: OffsetForLeaderEpoch(current epoch, last epoch read) to the leader
//!        ▼
//!  EpochEnd ──┬─ end offset ≥ position ─────────────▶ valid: fetch on
//!             ├─ end offset < position ─────────────▶ truncated: seek to the end offset
//!             │                                        (auto.offset.reset none: LogTruncation)
//!             └─ undefined (-1) ────────────────────▶ reset by policy
//!                                                      (auto.offset.reset none: LogTruncation)
//!  Fetch v12+ diverging epoch ─────────────────────▶ same as an EpochEnd answer
//! ```
//!
//! A truncation with a reset policy moves the position back to the first
//! offset known to diverge (as the Java client does), not to the earliest
//! or latest offset: everything before it is the same in the new leader's
//! log, so nothing is read twice and nothing skipped.

use std::collections::BTreeMap;

use durian_core::KafkaCode;
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::{
    BrokerId, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::{Cursor, EpochEnd, Fetcher};
use crate::config::OffsetReset;
use crate::error::ConsumerError;
use crate::types::TopicPartition;

/// A position to check against the leader's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ToValidate {
    /// The leader epoch the consumer knows now.
    pub current_leader_epoch: i32,
    /// The epoch of the log just before the position.
    pub last_epoch: i32,
    /// The position.
    pub position: i64,
}

/// What an epoch's end says about a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// The leader's log holds everything before the position.
    Valid,
    /// The log was truncated at `end.end_offset`, before the position.
    Truncated(EpochEnd),
    /// The leader knows no such epoch: the position cannot be placed.
    Undefined,
}

fn check(position: i64, end: EpochEnd) -> Check {
    if end.epoch < 0 || end.end_offset < 0 {
        Check::Undefined
    } else if end.end_offset < position {
        Check::Truncated(end)
    } else {
        Check::Valid
    }
}

impl Cursor {
    /// Takes in the leader epoch metadata shows (-1: the broker reports
    /// none). A newer one than known means a new leader, whose log the
    /// position must be checked against when there is an epoch to check.
    pub(super) fn see_leader_epoch(&mut self, epoch: i32) {
        if epoch < 0 || self.leader_epoch.is_some_and(|known| known >= epoch) {
            return;
        }
        self.leader_epoch = Some(epoch);
        if self.position.is_some() && self.last_epoch.is_some() {
            self.needs_validation = true;
        }
    }
}

impl Fetcher {
    /// Partitions whose position waits for validation, with what to ask;
    /// only once nothing is buffered (the position is final) and no
    /// error waits to be reported.
    pub(crate) fn awaiting_validation(&self) -> BTreeMap<TopicPartition, ToValidate> {
        self.cursors
            .iter()
            .filter(|(_, c)| c.needs_validation && c.buffer.is_empty() && c.pending_error.is_none())
            .filter_map(|(tp, c)| {
                Some((
                    tp.clone(),
                    ToValidate {
                        current_leader_epoch: c.leader_epoch?,
                        last_epoch: c.last_epoch?,
                        position: c.position?,
                    },
                ))
            })
            .collect()
    }

    /// Validation is impossible (the broker lacks OffsetForLeaderEpoch):
    /// fetch on, as clients did before KIP-320.
    pub(crate) fn skip_validation(&mut self, tp: &TopicPartition) {
        tracing::debug!(partition = %tp, "position not validated: the leader cannot answer");
        if let Some(cursor) = self.cursors.get_mut(tp) {
            cursor.needs_validation = false;
        }
    }

    /// Applies the leader's answer for a position `asked` validated: fetch
    /// on, or handle a truncation. Ignored if the position moved meanwhile.
    pub(crate) fn validated(&mut self, tp: &TopicPartition, asked: ToValidate, end: EpochEnd) {
        let Some(cursor) = self.cursors.get_mut(tp) else {
            return;
        };
        if !cursor.needs_validation || cursor.position != Some(asked.position) {
            return;
        }
        cursor.needs_validation = false;
        tracing::debug!(
            partition = %tp,
            position = asked.position,
            last_epoch = asked.last_epoch,
            leader_epoch = asked.current_leader_epoch,
            end_epoch = end.epoch,
            end_offset = end.end_offset,
            "the leader answered a position validation"
        );
        let policy = self.config.auto_offset_reset;
        self.apply_epoch_end(tp, end, policy);
    }

    /// Acts on where the epoch the consumer last read ends in the leader's
    /// log (a validation answer or a fetch's diverging epoch).
    pub(super) fn apply_epoch_end(
        &mut self,
        tp: &TopicPartition,
        end: EpochEnd,
        policy: OffsetReset,
    ) {
        let Some(cursor) = self.cursors.get_mut(tp) else {
            return;
        };
        let Some(position) = cursor.position else {
            return;
        };
        let known = cursor.leader_epoch;
        match (check(position, end), policy) {
            (Check::Valid, _) => {}
            (outcome, OffsetReset::None) => {
                let divergent_offset = match outcome {
                    Check::Truncated(end) => Some(end.end_offset),
                    _ => None,
                };
                tracing::warn!(partition = %tp, position, ?divergent_offset, "log truncation detected; auto.offset.reset is none");
                cursor.pending_error = Some(ConsumerError::LogTruncation {
                    partition: tp.clone(),
                    offset: position,
                    divergent_offset,
                });
            }
            (Check::Truncated(end), _) => {
                tracing::info!(partition = %tp, position, to = end.end_offset, "log truncation detected; resuming at the first diverging offset");
                self.seek(tp, end.end_offset, Some(end.epoch));
                // The leader itself placed this position: no validation
                // is due for the epoch already known.
                if let Some(cursor) = self.cursors.get_mut(tp) {
                    cursor.leader_epoch = known;
                }
            }
            (Check::Undefined, _) => {
                tracing::info!(partition = %tp, position, "log truncation detected and the epoch is unknown to the leader; applying auto.offset.reset");
                cursor.needs_reset = true;
            }
        }
    }
}

/// An OffsetForLeaderEpoch request (as a consumer, replica -1) for `partitions`.
pub(crate) fn epoch_request(
    partitions: &BTreeMap<TopicPartition, ToValidate>,
) -> OffsetForLeaderEpochRequest {
    let mut topics: Vec<OffsetForLeaderTopic> = Vec::new();
    for (tp, asked) in partitions {
        let partition = OffsetForLeaderPartition::default()
            .with_partition(tp.partition)
            .with_current_leader_epoch(asked.current_leader_epoch)
            .with_leader_epoch(asked.last_epoch);
        match topics.last_mut() {
            Some(last) if last.topic.0.as_str() == &*tp.topic => last.partitions.push(partition),
            _ => topics.push(
                OffsetForLeaderTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(tp.topic.to_string())))
                    .with_partitions(vec![partition]),
            ),
        }
    }
    OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(topics)
}

/// Each partition's answer: where its epoch ends, or the error.
pub(crate) fn parse_epoch_response(
    response: &OffsetForLeaderEpochResponse,
) -> BTreeMap<TopicPartition, Result<EpochEnd, KafkaCode>> {
    let mut out = BTreeMap::new();
    for topic in &response.topics {
        for p in &topic.partitions {
            let result = if p.error_code != 0 {
                Err(KafkaCode(p.error_code))
            } else {
                Ok(EpochEnd {
                    epoch: p.leader_epoch,
                    end_offset: p.end_offset,
                })
            };
            out.insert(
                TopicPartition::new(topic.topic.0.as_str(), p.partition),
                result,
            );
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn end(epoch: i32, end_offset: i64) -> EpochEnd {
        EpochEnd { epoch, end_offset }
    }

    #[test]
    fn an_epoch_ending_before_the_position_is_a_truncation() {
        assert_eq!(check(10, end(3, 10)), Check::Valid);
        assert_eq!(check(10, end(3, 50)), Check::Valid);
        assert_eq!(check(10, end(2, 7)), Check::Truncated(end(2, 7)));
        assert_eq!(check(10, end(-1, -1)), Check::Undefined);
    }

    #[test]
    fn request_and_response_round_trip_per_partition() {
        let asked = ToValidate {
            current_leader_epoch: 5,
            last_epoch: 4,
            position: 9,
        };
        let partitions = BTreeMap::from([
            (TopicPartition::new("a", 0), asked),
            (TopicPartition::new("a", 1), asked),
            (TopicPartition::new("b", 0), asked),
        ]);
        let request = epoch_request(&partitions);
        assert_eq!(request.replica_id, BrokerId(-1));
        assert_eq!(request.topics.len(), 2);
        let p = &request.topics[0].partitions[1];
        assert_eq!(
            (p.partition, p.current_leader_epoch, p.leader_epoch),
            (1, 5, 4)
        );
    }
}
