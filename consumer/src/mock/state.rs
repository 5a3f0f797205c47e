//! The state a [`MockConsumer`](super::MockConsumer) shares with its handles.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::consumer::PollBatch;
use crate::error::{ConsumerError, Result};
use crate::types::{ConsumerRecord, OffsetAndMetadata, TopicPartition};

/// A change of assignment the test scheduled for the next poll.
#[derive(Debug)]
pub(super) enum GroupChange {
    /// A rebalance: the assignment becomes this set.
    Rebalance(BTreeSet<TopicPartition>),
    /// These partitions are lost (session expired, fenced).
    Lost(Vec<TopicPartition>),
}

#[derive(Debug, Default)]
pub(super) struct State {
    /// Every record added, per partition, in the order added.
    pub records: BTreeMap<TopicPartition, Vec<ConsumerRecord>>,
    pub subscription: Option<BTreeSet<String>>,
    pub assignment: BTreeSet<TopicPartition>,
    /// The next offset to read, per partition that has been read or sought.
    pub positions: BTreeMap<TopicPartition, i64>,
    pub committed: BTreeMap<TopicPartition, OffsetAndMetadata>,
    pub commits: usize,
    /// Group changes the coming polls apply, in order.
    pub scheduled: VecDeque<GroupChange>,
    pub poll_errors: VecDeque<ConsumerError>,
    pub commit_errors: VecDeque<ConsumerError>,
    pub closed: bool,
}

impl State {
    pub fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(ConsumerError::Closed)
        } else {
            Ok(())
        }
    }

    pub fn next_offset(&self, partition: &TopicPartition) -> i64 {
        self.records
            .get(partition)
            .and_then(|records| records.last())
            .map_or(0, |last| last.offset + 1)
    }

    pub fn add(&mut self, record: ConsumerRecord) {
        self.records
            .entry(record.topic_partition())
            .or_default()
            .push(record);
    }

    /// Drops what the consumer knew of partitions that are no longer its own.
    pub fn unassign(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.assignment.remove(tp);
            self.positions.remove(tp);
        }
    }

    /// Where reading `partition` starts or goes on: the position, else the
    /// committed offset, else the partition's first record.
    fn start_of(&self, partition: &TopicPartition) -> i64 {
        self.positions
            .get(partition)
            .copied()
            .or_else(|| self.committed.get(partition).map(|c| c.offset))
            .or_else(|| {
                self.records
                    .get(partition)
                    .and_then(|r| r.first())
                    .map(|r| r.offset)
            })
            .unwrap_or(0)
    }

    pub fn position(&mut self, partition: &TopicPartition) -> Result<i64> {
        self.check_open()?;
        if !self.assignment.contains(partition) {
            return Err(ConsumerError::Usage(format!("{partition} is not assigned")));
        }
        let position = self.start_of(partition);
        self.positions.insert(partition.clone(), position);
        Ok(position)
    }

    /// Up to `max` records of the assigned partitions from their positions.
    pub fn take_records(&mut self, max: usize) -> PollBatch {
        let mut batch = PollBatch::default();
        let mut left = max;
        let assigned: Vec<TopicPartition> = self.assignment.iter().cloned().collect();
        for tp in assigned {
            if left == 0 {
                break;
            }
            let from = self.start_of(&tp);
            let taken: Vec<ConsumerRecord> = self
                .records
                .get(&tp)
                .into_iter()
                .flatten()
                .filter(|r| r.offset >= from)
                .take(left)
                .cloned()
                .collect();
            let Some(last) = taken.last() else {
                continue;
            };
            self.positions.insert(tp.clone(), last.offset + 1);
            left -= taken.len();
            batch.records.insert(tp, taken);
        }
        batch
    }

    /// The positions of assigned partitions that have one, as offsets to commit.
    pub fn positions_of_assigned(&self) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        self.positions
            .iter()
            .filter(|(tp, _)| self.assignment.contains(*tp))
            .map(|(tp, offset)| (tp.clone(), OffsetAndMetadata::new(*offset)))
            .collect()
    }

    pub fn commit(&mut self, offsets: BTreeMap<TopicPartition, OffsetAndMetadata>) -> Result<()> {
        self.check_open()?;
        if let Some(error) = self.commit_errors.pop_front() {
            return Err(error);
        }
        self.committed.extend(offsets);
        self.commits += 1;
        Ok(())
    }
}
