//! Offsets committed inside transactions (TxnOffsetCommit).
//!
//! The transaction coordinator stages them here per group and producer id;
//! they stay pending, invisible to OffsetFetch (which answers
//! UNSTABLE_OFFSET_COMMIT for them when asked with require_stable), until
//! the transaction ends: a commit writes them to the offset log as
//! ordinary commits, an abort drops them. Their durability until then is
//! the transaction log's (the coordinator stages them again on replay).

use std::collections::{BTreeMap, HashMap};

use super::error::GroupError;
use super::offset_record::{CommittedOffset, LogRecord};
use super::offsets::PartitionKey;
use super::GroupCoordinator;
use crate::clock::now_ms;

/// One offset a transaction commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset.
    pub offset: i64,
    /// The leader epoch the consumer saw at that offset.
    pub leader_epoch: i32,
    /// The commit's metadata.
    pub metadata: String,
}

/// Pending offsets per group, then per producer id.
pub(crate) type PendingOffsets = HashMap<String, HashMap<i64, BTreeMap<PartitionKey, TxnOffset>>>;

impl GroupCoordinator {
    /// Stages `offsets` of `group` for the transaction of `producer_id`
    /// (replacing what it staged for the same partitions).
    pub fn stage_txn_offsets(&self, group: &str, producer_id: i64, offsets: Vec<TxnOffset>) {
        let mut pending = self.shared.pending_txn();
        let staged = pending
            .entry(group.to_owned())
            .or_default()
            .entry(producer_id)
            .or_default();
        for offset in offsets {
            staged.insert((offset.topic.clone(), offset.partition), offset);
        }
    }

    /// Ends the transaction of `producer_id` for `group`: on commit its
    /// staged offsets are written as the group's committed offsets (and
    /// stay pending if that write fails, for a retry); on abort they are
    /// dropped.
    pub async fn complete_txn_offsets(
        &self,
        group: &str,
        producer_id: i64,
        commit: bool,
    ) -> Result<(), GroupError> {
        let staged: Vec<TxnOffset> = self
            .shared
            .pending_txn()
            .get(group)
            .and_then(|by_producer| by_producer.get(&producer_id))
            .map(|offsets| offsets.values().cloned().collect())
            .unwrap_or_default();
        if commit && !staged.is_empty() {
            let timestamp = now_ms();
            let records = staged
                .into_iter()
                .map(|o| LogRecord::Commit {
                    group: group.to_owned(),
                    topic: o.topic,
                    partition: o.partition,
                    offset: CommittedOffset {
                        offset: o.offset,
                        leader_epoch: o.leader_epoch,
                        metadata: Some(o.metadata),
                        commit_timestamp_ms: timestamp,
                    },
                })
                .collect();
            self.shared.store.write(records).await?;
            // The group exists from now on, as after any commit.
            let _ = self.shared.slot_or_create(group);
        }
        let mut pending = self.shared.pending_txn();
        if let Some(by_producer) = pending.get_mut(group) {
            by_producer.remove(&producer_id);
            if by_producer.is_empty() {
                pending.remove(group);
            }
        }
        Ok(())
    }

    /// Kafka's group checks of a TxnOffsetCommit: a dead group is
    /// COORDINATOR_NOT_AVAILABLE, a named member the group lacks
    /// UNKNOWN_MEMBER_ID, a generation other than the group's
    /// ILLEGAL_GENERATION (v3+ carry them; older versions send none).
    pub async fn txn_commit_error(
        &self,
        group: &str,
        member_id: &str,
        generation: i32,
    ) -> Option<kafka_protocol::ResponseError> {
        use kafka_protocol::ResponseError;
        if self.shared.is_closed() {
            return Some(ResponseError::NotCoordinator);
        }
        let Some(slot) = self.shared.slot(group) else {
            // No group yet: only an unnamed member may commit (it is created on commit).
            return (!member_id.is_empty()).then_some(ResponseError::UnknownMemberId);
        };
        let group = slot.group.lock().await;
        if group.state == super::state::GroupState::Dead {
            return Some(ResponseError::CoordinatorNotAvailable);
        }
        if group.kind == super::consumer::GroupKind::Consumer {
            if member_id.is_empty() && generation < 0 {
                return None;
            }
            let Some(member) = group.consumer.members.get(member_id) else {
                return Some(ResponseError::UnknownMemberId);
            };
            // TxnOffsetCommit has no STALE_MEMBER_EPOCH: Kafka answers a stale epoch with
            // ILLEGAL_GENERATION, which producers understand.
            return (generation != member.epoch()).then_some(ResponseError::IllegalGeneration);
        }
        if !member_id.is_empty() && group.member(member_id).is_none() {
            return Some(ResponseError::UnknownMemberId);
        }
        if generation >= 0 && generation != group.generation {
            return Some(ResponseError::IllegalGeneration);
        }
        None
    }

    /// Longest commit metadata accepted (`offset.metadata.max.bytes`);
    /// TxnOffsetCommit refuses longer with OFFSET_METADATA_TOO_LARGE.
    pub fn offset_metadata_max_bytes(&self) -> usize {
        self.shared.config.offset_metadata_max_bytes
    }

    /// Whether a transaction has a pending offset for `topic`-`partition`
    /// of `group` (OffsetFetch with require_stable answers
    /// UNSTABLE_OFFSET_COMMIT for it).
    pub fn has_pending_txn_offset(&self, group: &str, topic: &str, partition: i32) -> bool {
        self.shared
            .pending_txn()
            .get(group)
            .is_some_and(|by_producer| {
                by_producer
                    .values()
                    .any(|offsets| offsets.contains_key(&(topic.to_owned(), partition)))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::GroupConfig;

    fn offset(partition: i32, offset: i64) -> TxnOffset {
        TxnOffset {
            topic: "t".into(),
            partition,
            offset,
            leader_epoch: -1,
            metadata: String::new(),
        }
    }

    #[tokio::test]
    async fn txn_offsets_become_visible_on_commit_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let groups = GroupCoordinator::open(dir.path(), GroupConfig::default()).expect("open");
        groups.stage_txn_offsets("g", 7, vec![offset(0, 10)]);
        groups.stage_txn_offsets("g", 8, vec![offset(1, 20)]);
        assert!(groups.has_pending_txn_offset("g", "t", 0));
        assert!(groups.shared.store.get("g", "t", 0).is_none());
        groups
            .complete_txn_offsets("g", 7, true)
            .await
            .expect("commit");
        assert!(!groups.has_pending_txn_offset("g", "t", 0));
        assert_eq!(
            groups.shared.store.get("g", "t", 0).map(|o| o.offset),
            Some(10)
        );
        groups
            .complete_txn_offsets("g", 8, false)
            .await
            .expect("abort");
        assert!(!groups.has_pending_txn_offset("g", "t", 1));
        assert!(groups.shared.store.get("g", "t", 1).is_none());
    }
}
