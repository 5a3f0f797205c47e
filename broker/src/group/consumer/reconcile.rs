//! Incremental reconciliation: how one member moves from its current assignment towards its
//! target, revoking before assigning.
//!
//! ```text
//!                 target epoch moved on, nothing to revoke
//!   Stable ───────────────────────────────────────────────► Stable / UnreleasedPartitions
//!     │ something to revoke                                       ▲          │ partitions freed
//!     ▼                                                           │          ▼
//!   UnrevokedPartitions ── member's owned list drops them ───────┘    (assigned then)
//! ```
//!
//! A member is only given a partition no other member still owns (assigned or pending
//! revocation): a partition moves once its previous owner acknowledged the revocation by
//! heartbeating its owned partitions without it. While a member still has partitions to
//! revoke it keeps its epoch; once nothing is left to revoke it takes the target epoch.

use std::collections::BTreeSet;

use uuid::Uuid;

use super::assignor::Assignment;

/// Where a member stands in reconciling its assignment, with Kafka's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberState {
    /// The member has its target assignment (at the target epoch).
    Stable,
    /// The member must give up partitions before it gets anything new.
    UnrevokedPartitions,
    /// The member waits for partitions other members have not released yet.
    UnreleasedPartitions,
}

/// A member's assignment state: what it may own now and what it must give up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reconciliation {
    pub epoch: i32,
    /// The epoch before the last bump (a member whose response was lost comes back with it).
    pub previous_epoch: i32,
    pub state: MemberState,
    /// Partitions the member is given (its heartbeat response's assignment).
    pub assigned: Assignment,
    /// Partitions the member must revoke before it moves on.
    pub revoking: Assignment,
}

impl Reconciliation {
    /// A member that has just joined: no partitions, epoch 0.
    pub fn joining() -> Reconciliation {
        Reconciliation {
            epoch: 0,
            previous_epoch: 0,
            state: MemberState::Stable,
            assigned: Assignment::new(),
            revoking: Assignment::new(),
        }
    }

    /// The next state towards `target` (computed at `target_epoch`), given the partitions the
    /// member reported it owns (`None`: not reported in this heartbeat) and whether a
    /// partition is still owned by another member.
    pub fn next(
        &self,
        target: &Assignment,
        target_epoch: i32,
        owned: Option<&Assignment>,
        owned_elsewhere: impl Fn(Uuid, i32) -> bool,
    ) -> Reconciliation {
        let waiting = match self.state {
            MemberState::Stable => self.epoch == target_epoch,
            // Nothing moves until the member stops reporting the revoked partitions.
            MemberState::UnrevokedPartitions => {
                owned.is_none_or(|owned| intersects(owned, &self.revoking))
            }
            MemberState::UnreleasedPartitions => false,
        };
        if waiting {
            return self.clone();
        }
        self.revocation(target, owned)
            .unwrap_or_else(|| self.advance(target, target_epoch, owned_elsewhere))
    }

    /// The member must first give up what `target` no longer holds, unless it reported it
    /// already did.
    fn revocation(
        &self,
        target: &Assignment,
        owned: Option<&Assignment>,
    ) -> Option<Reconciliation> {
        let to_revoke = difference(&self.assigned, target);
        // A member that reported its partitions and no longer holds these need not be asked.
        let must_revoke =
            !to_revoke.is_empty() && owned.is_none_or(|owned| intersects(owned, &to_revoke));
        must_revoke.then(|| Reconciliation {
            epoch: self.epoch,
            previous_epoch: self.previous_epoch,
            state: MemberState::UnrevokedPartitions,
            assigned: intersection(&self.assigned, target),
            revoking: to_revoke,
        })
    }

    /// Moves the member to `target_epoch` with what it keeps and every partition of `target`
    /// no other member still owns.
    fn advance(
        &self,
        target: &Assignment,
        target_epoch: i32,
        owned_elsewhere: impl Fn(Uuid, i32) -> bool,
    ) -> Reconciliation {
        let mut assigned = intersection(&self.assigned, target);
        let mut unreleased = false;
        for (topic, partitions) in difference(target, &self.assigned) {
            for partition in partitions {
                if owned_elsewhere(topic, partition) {
                    unreleased = true;
                } else {
                    assigned.entry(topic).or_default().insert(partition);
                }
            }
        }
        let previous_epoch = if self.epoch == target_epoch {
            self.previous_epoch
        } else {
            self.epoch
        };
        Reconciliation {
            epoch: target_epoch,
            previous_epoch,
            state: if unreleased {
                MemberState::UnreleasedPartitions
            } else {
                MemberState::Stable
            },
            assigned,
            revoking: Assignment::new(),
        }
    }
}

/// Whether the two assignments share a partition.
pub(crate) fn intersects(a: &Assignment, b: &Assignment) -> bool {
    a.iter().any(|(topic, partitions)| {
        b.get(topic)
            .is_some_and(|other| !partitions.is_disjoint(other))
    })
}

/// Whether every partition of `a` is in `b`.
pub(crate) fn is_subset(a: &Assignment, b: &Assignment) -> bool {
    a.iter().all(|(topic, partitions)| {
        partitions.is_empty()
            || b.get(topic)
                .is_some_and(|other| partitions.is_subset(other))
    })
}

fn intersection(a: &Assignment, b: &Assignment) -> Assignment {
    combine(a, |topic, partition| {
        b.get(&topic).is_some_and(|p| p.contains(&partition))
    })
}

fn difference(a: &Assignment, b: &Assignment) -> Assignment {
    combine(a, |topic, partition| {
        !b.get(&topic).is_some_and(|p| p.contains(&partition))
    })
}

/// The partitions of `a` for which `keep` holds, without empty topics.
fn combine(a: &Assignment, keep: impl Fn(Uuid, i32) -> bool) -> Assignment {
    a.iter()
        .filter_map(|(topic, partitions)| {
            let kept: BTreeSet<i32> = partitions
                .iter()
                .copied()
                .filter(|&p| keep(*topic, p))
                .collect();
            (!kept.is_empty()).then_some((*topic, kept))
        })
        .collect()
}
