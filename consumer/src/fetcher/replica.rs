//! Follower fetching (KIP-392): which replica a partition is fetched from.
//!
//! ```text
//!  Fetch to the leader ──▶ answer names preferred_read_replica N (v11+)
//!        │ remember N for metadata.max.age
//!        ▼
//!  fetches go to N while N is fresh, online and a replica in metadata
//!        │ an error answer from N, N unreachable, N gone from metadata,
//!        │ or the preference expired
//!        ▼
//!  back to the leader, which may name a replica again
//! ```
//!
//! The leader names a replica (with `replica.selector.class` set, usually
//! one in the consumer's `client.rack`) in an answer that carries no
//! records; the consumer then fetches from that replica. A follower never
//! names one itself, so the preference lapses after `metadata.max.age` and
//! the next fetch asks the leader again: the leader's choice may have
//! changed (replicas moved, a rack emptied). As with the Java client, any
//! error the replica answers for a partition sends that partition back to
//! the leader, and OFFSET_OUT_OF_RANGE from a replica is not a reason to
//! reset the position: a follower may lag the leader's log start or end,
//! so the leader, not the follower, decides whether the offset is gone.

use std::collections::BTreeMap;
use std::time::Duration;

use durian_core::metadata::ClusterMetadata;
use durian_core::KafkaCode;
use tokio::time::Instant;

use crate::types::TopicPartition;

/// A replica a leader named for a partition, and until when to use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Preferred {
    node: i32,
    until: Instant,
}

/// The preferred read replicas of the assigned partitions.
#[derive(Debug, Default)]
pub(super) struct ReadReplicas {
    by_partition: BTreeMap<TopicPartition, Preferred>,
}

impl ReadReplicas {
    /// Takes in the preferred read replica a fetch answer named for `tp`
    /// (`node` < 0: none named, and an existing preference stands until it
    /// expires or fails), to use for `ttl` from `now`.
    pub(super) fn prefer(&mut self, tp: &TopicPartition, node: i32, now: Instant, ttl: Duration) {
        if node < 0 {
            return;
        }
        tracing::debug!(partition = %tp, node, "fetching from the preferred read replica");
        self.by_partition.insert(
            tp.clone(),
            Preferred {
                node,
                until: now + ttl,
            },
        );
    }

    /// The node to fetch `tp` from, whose leader is `leader`: the preferred
    /// replica while it is fresh, listed as a broker and an online replica
    /// of the partition in `metadata`; otherwise the leader, and a stale
    /// preference is forgotten.
    pub(super) fn choose(
        &mut self,
        tp: &TopicPartition,
        leader: i32,
        metadata: &ClusterMetadata,
        now: Instant,
    ) -> i32 {
        let Some(preferred) = self.by_partition.get(tp).copied() else {
            return leader;
        };
        let online = metadata.brokers.contains_key(&preferred.node)
            && metadata
                .partition(&tp.topic, tp.partition)
                .is_some_and(|p| {
                    p.replicas.contains(&preferred.node)
                        && !p.offline_replicas.contains(&preferred.node)
                });
        if now < preferred.until && online {
            return preferred.node;
        }
        tracing::debug!(
            partition = %tp,
            node = preferred.node,
            expired = now >= preferred.until,
            "back to the leader from the preferred read replica"
        );
        self.by_partition.remove(tp);
        leader
    }

    /// Handles an error answer for `tp` from `node`. Returns whether the
    /// error is still the consumer's to act on: not when it is
    /// OFFSET_OUT_OF_RANGE from a preferred replica, which only sends the
    /// partition back to the leader.
    pub(super) fn on_error(&mut self, tp: &TopicPartition, node: i32, code: KafkaCode) -> bool {
        let from_replica = self
            .by_partition
            .remove(tp)
            .is_some_and(|preferred| preferred.node == node);
        if from_replica {
            tracing::debug!(partition = %tp, node, %code, "the preferred read replica refused; back to the leader");
        }
        !(from_replica && code == KafkaCode::OFFSET_OUT_OF_RANGE)
    }

    /// Forgets every preference for `node`: it could not be reached.
    pub(super) fn forget_node(&mut self, node: i32) {
        self.by_partition
            .retain(|_, preferred| preferred.node != node);
    }

    /// Forgets the preference for a partition no longer assigned.
    pub(super) fn forget(&mut self, tp: &TopicPartition) {
        self.by_partition.remove(tp);
    }

    /// The preferred replica of `tp`, if one is remembered.
    #[cfg(test)]
    pub(super) fn preferred(&self, tp: &TopicPartition) -> Option<i32> {
        self.by_partition.get(tp).map(|p| p.node)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use durian_core::metadata::{BrokerInfo, PartitionMetadata, TopicMetadata};

    use super::*;

    const TTL: Duration = Duration::from_secs(300);

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }

    /// Brokers 1..=3; partition t-0 led by 1 on `replicas`, `offline` down.
    fn metadata(replicas: &[i32], offline: &[i32]) -> ClusterMetadata {
        let brokers = (1..=3)
            .map(|id| {
                (
                    id,
                    BrokerInfo {
                        node_id: id,
                        host: "h".into(),
                        port: 9000 + id,
                        rack: Some(format!("r{id}")),
                    },
                )
            })
            .collect();
        let partition = PartitionMetadata {
            partition: 0,
            leader: Some(1),
            leader_epoch: 0,
            replicas: replicas.to_vec(),
            isr: replicas.to_vec(),
            offline_replicas: offline.to_vec(),
            error: None,
        };
        let topic = TopicMetadata {
            name: "t".into(),
            topic_id: uuid::Uuid::nil(),
            is_internal: false,
            error: None,
            partitions: BTreeMap::from([(0, partition)]),
        };
        ClusterMetadata {
            brokers,
            topics: BTreeMap::from([("t".into(), topic)]),
            ..ClusterMetadata::default()
        }
    }

    #[test]
    fn the_leader_until_a_replica_is_named_then_the_replica() {
        let mut replicas = ReadReplicas::default();
        let metadata = metadata(&[1, 2, 3], &[]);
        let now = Instant::now();
        assert_eq!(replicas.choose(&tp(), 1, &metadata, now), 1);
        replicas.prefer(&tp(), -1, now, TTL);
        assert_eq!(
            replicas.choose(&tp(), 1, &metadata, now),
            1,
            "-1 names none"
        );
        replicas.prefer(&tp(), 2, now, TTL);
        assert_eq!(replicas.choose(&tp(), 1, &metadata, now), 2);
        replicas.prefer(&tp(), -1, now, TTL);
        assert_eq!(
            replicas.choose(&tp(), 1, &metadata, now),
            2,
            "a follower's answer names none and keeps the preference"
        );
    }

    #[test]
    fn the_preference_expires_after_the_metadata_max_age() {
        let mut replicas = ReadReplicas::default();
        let metadata = metadata(&[1, 2, 3], &[]);
        let now = Instant::now();
        replicas.prefer(&tp(), 3, now, TTL);
        assert_eq!(replicas.choose(&tp(), 1, &metadata, now + TTL / 2), 3);
        assert_eq!(replicas.choose(&tp(), 1, &metadata, now + TTL), 1);
        assert_eq!(replicas.preferred(&tp()), None, "forgotten once expired");
    }

    #[test]
    fn a_replica_gone_from_metadata_or_offline_is_not_used() {
        let now = Instant::now();
        for metadata in [metadata(&[1, 3], &[]), metadata(&[1, 2, 3], &[2]), {
            let mut m = metadata(&[1, 2, 3], &[]);
            m.brokers.remove(&2);
            m
        }] {
            let mut replicas = ReadReplicas::default();
            replicas.prefer(&tp(), 2, now, TTL);
            assert_eq!(replicas.choose(&tp(), 1, &metadata, now), 1, "{metadata:?}");
            assert_eq!(replicas.preferred(&tp()), None);
        }
    }

    #[test]
    fn an_error_from_the_replica_sends_the_partition_back_to_the_leader() {
        let mut replicas = ReadReplicas::default();
        let metadata = metadata(&[1, 2, 3], &[]);
        let now = Instant::now();
        replicas.prefer(&tp(), 2, now, TTL);
        assert!(replicas.on_error(&tp(), 2, KafkaCode::NOT_LEADER_OR_FOLLOWER));
        assert_eq!(replicas.choose(&tp(), 1, &metadata, now), 1);

        replicas.prefer(&tp(), 2, now, TTL);
        assert!(
            !replicas.on_error(&tp(), 2, KafkaCode::OFFSET_OUT_OF_RANGE),
            "out of range on a follower is no reason to reset"
        );
        assert_eq!(replicas.choose(&tp(), 1, &metadata, now), 1);
        assert!(
            replicas.on_error(&tp(), 1, KafkaCode::OFFSET_OUT_OF_RANGE),
            "out of range on the leader is"
        );
    }

    #[test]
    fn an_unreachable_replica_is_forgotten_for_every_partition() {
        let mut replicas = ReadReplicas::default();
        let now = Instant::now();
        let other = TopicPartition::new("t", 1);
        replicas.prefer(&tp(), 2, now, TTL);
        replicas.prefer(&other, 3, now, TTL);
        replicas.forget_node(2);
        assert_eq!(replicas.preferred(&tp()), None);
        assert_eq!(replicas.preferred(&other), Some(3));
        replicas.forget(&other);
        assert_eq!(replicas.preferred(&other), None);
    }
}
