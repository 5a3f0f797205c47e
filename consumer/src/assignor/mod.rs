//! Partition assignors: who in a group consumes which partition.
//!
//! The group leader collects every member's [`MemberSubscription`] from
//! JoinGroup, runs the chosen [`Assignor`] over the current partition
//! counts, and sends the result with SyncGroup:
//!
//! ```text
//!  JoinGroup metadata ──decode──▶ [MemberSubscription] ─┐
//!  cluster metadata ──▶ partition counts per topic ─────┴▶ Assignor::assign ──encode──▶ SyncGroup
//! ```
//!
//! Built in: [`RangeAssignor`] (`range`), [`RoundRobinAssignor`]
//! (`roundrobin`) and [`CooperativeStickyAssignor`] (`cooperative-sticky`,
//! KIP-429 incremental). Applications may add their own by implementing
//! [`Assignor`] and listing it in
//! [`ConsumerConfig::assignors`](crate::ConsumerConfig::assignors).
//!
//! Rack awareness (KIP-881, see [`rack`]): the leader also passes the
//! racks of each partition's replicas to [`Assignor::assign_with_racks`];
//! range and cooperative-sticky then pair members with partitions that
//! have a replica in their `client.rack` where balance allows.

mod cooperative_sticky;
pub mod protocol;
mod rack;
mod range;
mod round_robin;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use cooperative_sticky::{sticky_assignment, CooperativeStickyAssignor};
pub(crate) use rack::partition_racks;
pub use rack::PartitionRacks;
pub use range::RangeAssignor;
pub use round_robin::RoundRobinAssignor;

use crate::types::TopicPartition;

/// How members hand over partitions during a rebalance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebalanceProtocol {
    /// Every member revokes everything before rejoining (stop-the-world).
    Eager,
    /// Members keep their partitions while rejoining and revoke only those
    /// that move, in a second rebalance (KIP-429).
    Cooperative,
}

/// One member's subscription, as the leader sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSubscription {
    /// The member id the coordinator gave.
    pub member_id: String,
    /// The static instance id, when the member has one.
    pub group_instance_id: Option<String>,
    /// Subscribed topics.
    pub topics: BTreeSet<String>,
    /// Partitions the member owned when it joined (subscription v1+).
    pub owned: Vec<TopicPartition>,
    /// The generation in which it owned them (-1 when unknown).
    pub generation: i32,
    /// The member's rack, when known.
    pub rack: Option<String>,
}

impl MemberSubscription {
    /// The key members are ordered by: the static id when present (so a
    /// restarted static member lands in the same place), else the member id.
    pub fn sort_key(&self) -> &str {
        self.group_instance_id.as_deref().unwrap_or(&self.member_id)
    }
}

/// The result of an assignor: partitions per member id. Every member of
/// the input appears, possibly with nothing.
pub type GroupAssignment = BTreeMap<String, BTreeSet<TopicPartition>>;

/// A partition assignment strategy.
///
/// `assign` must be deterministic: the same input gives the same output,
/// whichever member happens to be the leader.
pub trait Assignor: Send + Sync {
    /// The protocol name advertised in JoinGroup (e.g. `range`).
    fn name(&self) -> &str;

    /// Whether the assignor works eagerly or cooperatively.
    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }

    /// Divides the partitions of `partition_counts` (topic → number of
    /// partitions) among `members`.
    fn assign(
        &self,
        partition_counts: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> GroupAssignment;

    /// Like [`Assignor::assign`], knowing which racks hold a replica of
    /// each partition (KIP-881): what the group leader calls. A
    /// rack-aware assignor prefers giving a member partitions with a
    /// replica in its [`MemberSubscription::rack`]; the default ignores
    /// racks.
    fn assign_with_racks(
        &self,
        partition_counts: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
        partition_racks: &PartitionRacks,
    ) -> GroupAssignment {
        let _ = partition_racks;
        self.assign(partition_counts, members)
    }
}

/// The built-in assignor with this name (also accepting the Java class names).
pub fn assignor_by_name(name: &str) -> Option<Arc<dyn Assignor>> {
    let short = name.rsplit('.').next().unwrap_or(name);
    match short {
        "range" | "RangeAssignor" => Some(Arc::new(RangeAssignor)),
        "roundrobin" | "round-robin" | "RoundRobinAssignor" => Some(Arc::new(RoundRobinAssignor)),
        "cooperative-sticky" | "CooperativeStickyAssignor" => {
            Some(Arc::new(CooperativeStickyAssignor))
        }
        _ => None,
    }
}

/// An assignment with every member present and nothing assigned.
fn empty_assignment(members: &[MemberSubscription]) -> GroupAssignment {
    members
        .iter()
        .map(|m| (m.member_id.clone(), BTreeSet::new()))
        .collect()
}

/// Members sorted by [`MemberSubscription::sort_key`], then member id.
fn sorted_members(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut sorted: Vec<&MemberSubscription> = members.iter().collect();
    sorted.sort_by(|a, b| {
        a.sort_key()
            .cmp(b.sort_key())
            .then_with(|| a.member_id.cmp(&b.member_id))
    });
    sorted
}

/// Every partition of the topics at least one member subscribes to.
fn subscribed_partitions(
    partition_counts: &BTreeMap<String, i32>,
    members: &[MemberSubscription],
) -> BTreeSet<TopicPartition> {
    let topics: BTreeSet<&String> = members.iter().flat_map(|m| m.topics.iter()).collect();
    let mut all = BTreeSet::new();
    for topic in topics {
        if let Some(&count) = partition_counts.get(topic) {
            let name: Arc<str> = Arc::from(topic.as_str());
            for partition in 0..count.max(0) {
                all.insert(TopicPartition::new(name.clone(), partition));
            }
        }
    }
    all
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod test_support {
    use super::*;

    pub use super::rack::test_support::{racked, racked_members, racks_of};

    /// A member subscribed to `topics` owning nothing.
    pub fn member(id: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.to_owned(),
            group_instance_id: None,
            topics: topics.iter().map(|t| t.to_string()).collect(),
            owned: Vec::new(),
            generation: -1,
            rack: None,
        }
    }

    /// Checks that no partition is given twice and every subscribed one is given.
    pub fn assert_disjoint_and_covering(
        counts: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
        result: &GroupAssignment,
    ) {
        let mut seen = BTreeSet::new();
        for (member, partitions) in result {
            for tp in partitions {
                assert!(
                    seen.insert(tp.clone()),
                    "{tp} given twice (again to {member})"
                );
            }
        }
        assert_eq!(seen, subscribed_partitions(counts, members));
        for member in members {
            let got = result.get(&member.member_id).expect("member missing");
            assert!(got.iter().all(|tp| member.topics.contains(&*tp.topic)));
        }
    }

    /// Runs `assignor` with `racks` and checks the result with
    /// [`assert_disjoint_and_covering`].
    pub fn assign_checked(
        assignor: &dyn Assignor,
        counts: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
        racks: &PartitionRacks,
    ) -> GroupAssignment {
        let result = assignor.assign_with_racks(counts, members, racks);
        assert_disjoint_and_covering(counts, members, &result);
        result
    }

    /// The partition numbers `member` got, of every topic.
    pub fn numbers(result: &GroupAssignment, member: &str) -> Vec<i32> {
        result[member].iter().map(|tp| tp.partition).collect()
    }

    /// The partition numbers `member` got of `topic`.
    pub fn numbers_in(result: &GroupAssignment, member: &str, topic: &str) -> Vec<i32> {
        result[member]
            .iter()
            .filter(|tp| &*tp.topic == topic)
            .map(|tp| tp.partition)
            .collect()
    }

    /// Sizes of each member's assignment.
    pub fn sizes(result: &GroupAssignment) -> Vec<usize> {
        result.values().map(BTreeSet::len).collect()
    }

    /// Partition counts from pairs.
    pub fn counts(pairs: &[(&str, i32)]) -> BTreeMap<String, i32> {
        pairs.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }
}
