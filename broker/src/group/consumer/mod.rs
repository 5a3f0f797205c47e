//! Groups of Kafka's consumer group protocol (KIP-848): ConsumerGroupHeartbeat membership,
//! server-side assignment and incremental reconciliation.
//!
//! ```text
//!  heartbeat ──► member joins / updates its subscription ──► group epoch + 1
//!                                                              │ assignor (uniform, range)
//!                                                              ▼
//!                            target assignment per member (at the assignment epoch)
//!                                                              │ reconcile.rs
//!                                                              ▼
//!            member's assignment: revoke first, then partitions nobody else owns
//! ```
//!
//! A consumer group lives inside the same [`Group`](super::state::Group) slot as a classic
//! one (same lock, timer and committed offsets); [`GroupKind`] says which protocol the id
//! currently speaks. Everything here is synchronous and takes `now`; `api.rs` is the
//! coordinator's entry point. Memberships are in memory only (docs/GROUPS.md).

mod api;
pub(crate) mod assignor;
mod heartbeat;
pub(crate) mod member;
pub(crate) mod reconcile;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::time::Instant;
use uuid::Uuid;

use super::config::GroupConfig;
use assignor::{Assignment, Assignor, AssignorMember, TopicsMeta};
pub(crate) use heartbeat::HeartbeatReply;
use member::ConsumerMember;
use reconcile::MemberState;

/// Which rebalance protocol a group id currently speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupKind {
    /// JoinGroup / SyncGroup (ListGroups type `classic`).
    Classic,
    /// ConsumerGroupHeartbeat (ListGroups type `consumer`).
    Consumer,
}

impl GroupKind {
    /// The group type ListGroups v5 reports.
    pub fn name(self) -> &'static str {
        match self {
            GroupKind::Classic => "classic",
            GroupKind::Consumer => "consumer",
        }
    }
}

/// The consumer-protocol side of a group: members, epochs and the target assignment.
pub(crate) struct ConsumerGroup {
    pub members: BTreeMap<String, ConsumerMember>,
    /// Bumped whenever membership, a subscription or the subscribed topics change.
    pub group_epoch: i32,
    /// The group epoch the target assignment was computed at.
    pub assignment_epoch: i32,
    /// Every member's target assignment.
    pub targets: HashMap<String, Assignment>,
    /// The assignor that computed the targets.
    pub assignor: Assignor,
    /// The existing topics the members subscribe to, as of the last heartbeat.
    pub topics: TopicsMeta,
    config: Arc<GroupConfig>,
}

impl ConsumerGroup {
    /// An empty consumer side at epoch 0.
    pub fn new(config: Arc<GroupConfig>) -> ConsumerGroup {
        ConsumerGroup {
            members: BTreeMap::new(),
            group_epoch: 0,
            assignment_epoch: 0,
            targets: HashMap::new(),
            assignor: Assignor::Uniform,
            topics: TopicsMeta::new(),
            config,
        }
    }

    /// Kafka's consumer group state: Empty, Reconciling while a member has not reached its
    /// target, Stable otherwise (Assigning never shows: targets are computed at once).
    pub fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            return "Empty";
        }
        let reconciling = self.members.values().any(|m| {
            m.epoch() >= 0
                && (m.epoch() != self.assignment_epoch
                    || m.reconciliation.state != MemberState::Stable)
        });
        if reconciling {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    /// The member currently holding static instance `instance_id`.
    pub fn static_member(&self, instance_id: &str) -> Option<&ConsumerMember> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance_id))
    }

    /// Whether a member other than `me` owns (or still has to revoke) the partition.
    pub fn owned_by_other(&self, me: &str, topic: Uuid, partition: i32) -> bool {
        let holds = |a: &Assignment| a.get(&topic).is_some_and(|p| p.contains(&partition));
        self.members.values().any(|m| {
            m.id != me && (holds(&m.reconciliation.assigned) || holds(&m.reconciliation.revoking))
        })
    }

    /// Every topic name some member subscribes to.
    pub fn subscribed_topics(&self) -> std::collections::HashSet<String> {
        self.members.values().flat_map(|m| m.topics()).collect()
    }

    /// The assignor most members ask for (ties: the earlier name); `uniform` if none asks.
    fn chosen_assignor(&self) -> Assignor {
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for member in self.members.values() {
            if let Some(name) = member.server_assignor.as_deref() {
                *votes.entry(name).or_default() += 1;
            }
        }
        let mut best: Option<(&str, usize)> = None;
        for (name, count) in votes {
            if best.is_none_or(|(_, c)| count > c) {
                best = Some((name, count));
            }
        }
        best.and_then(|(name, _)| Assignor::by_name(name))
            .unwrap_or(Assignor::Uniform)
    }

    /// Starts a new group epoch and computes every member's target assignment for it.
    pub fn bump_epoch(&mut self) {
        self.group_epoch = self.group_epoch.wrapping_add(1).max(1);
        self.assignor = self.chosen_assignor();
        let subscriptions: Vec<(String, std::collections::BTreeSet<String>)> = self
            .members
            .values()
            .map(|m| (m.id.clone(), m.topics()))
            .collect();
        let inputs: Vec<AssignorMember<'_>> = subscriptions
            .iter()
            .map(|(id, topics)| AssignorMember {
                id,
                topics,
                previous: self.targets.get(id),
            })
            .collect();
        let targets = self.assignor.assign(&inputs, &self.topics);
        self.targets = targets;
        self.assignment_epoch = self.group_epoch;
    }

    /// Removes a member (left, expired or fenced); the group moves to a new epoch.
    pub fn remove_member(&mut self, id: &str) -> Option<ConsumerMember> {
        let removed = self.members.remove(id)?;
        self.targets.remove(id);
        self.bump_epoch();
        Some(removed)
    }

    /// The earliest session or revocation deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.members
            .values()
            .flat_map(|m| std::iter::once(m.session_deadline).chain(m.revocation_deadline))
            .min()
    }

    /// Removes members whose session expired or who did not revoke in time; returns how
    /// many were removed.
    pub fn on_timer(&mut self, group_id: &str, now: Instant) -> usize {
        let expired: Vec<(String, &'static str)> = self
            .members
            .values()
            .filter_map(|m| {
                if m.session_deadline <= now {
                    Some((m.id.clone(), "session expired"))
                } else if m.revocation_deadline.is_some_and(|d| d <= now) {
                    Some((
                        m.id.clone(),
                        "did not revoke its partitions within the rebalance timeout",
                    ))
                } else {
                    None
                }
            })
            .collect();
        for (id, why) in &expired {
            tracing::info!(group = %group_id, member = %id, "consumer group member {why}; removing it");
            self.remove_member(id);
        }
        expired.len()
    }

    /// Forgets every member (deletion, shutdown, conversion to a classic group).
    pub fn clear(&mut self) {
        self.members.clear();
        self.targets.clear();
    }
}
