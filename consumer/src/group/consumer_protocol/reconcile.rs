//! Reconciliation: from the coordinator's target assignment (topic ids)
//! and what the member owns (topic names) to what must be revoked and
//! what assigned, as pure functions.
//!
//! Revocation always comes first: the coordinator hands a partition to
//! its next owner only once the current owner acknowledged giving it up,
//! so assigning before revoking could only delay the group.

use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use crate::types::TopicPartition;

/// What the member must do to reach the target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Owned partitions the target lacks: revoke them first.
    pub revoke: Vec<TopicPartition>,
    /// Target partitions not owned yet: assign them after the revocation.
    pub assign: Vec<TopicPartition>,
    /// Topic ids of the target whose names are unknown yet: the member
    /// refreshes metadata and reconciles them later.
    pub unresolved: BTreeSet<Uuid>,
}

impl Plan {
    /// Whether the member already owns exactly the (resolved) target.
    pub fn is_settled(&self) -> bool {
        self.revoke.is_empty() && self.assign.is_empty()
    }
}

/// The target assignment in topic names, plus the ids without a name.
pub fn resolve(
    target: &BTreeMap<Uuid, BTreeSet<i32>>,
    names: &BTreeMap<Uuid, String>,
) -> (BTreeSet<TopicPartition>, BTreeSet<Uuid>) {
    let mut resolved = BTreeSet::new();
    let mut unresolved = BTreeSet::new();
    for (id, partitions) in target {
        match names.get(id) {
            Some(name) => resolved.extend(
                partitions
                    .iter()
                    .map(|p| TopicPartition::new(name.as_str(), *p)),
            ),
            None => {
                unresolved.insert(*id);
            }
        }
    }
    (resolved, unresolved)
}

/// The steps from `owned` to `target`. A partition of an unresolved topic
/// cannot be owned (ownership starts with a resolved name), so unresolved
/// ids never cause a revocation.
pub fn plan(
    owned: &BTreeSet<TopicPartition>,
    target: &BTreeMap<Uuid, BTreeSet<i32>>,
    names: &BTreeMap<Uuid, String>,
) -> Plan {
    let (resolved, unresolved) = resolve(target, names);
    Plan {
        revoke: owned.difference(&resolved).cloned().collect(),
        assign: resolved.difference(owned).cloned().collect(),
        unresolved,
    }
}

/// `owned` by topic id, as the heartbeat acknowledges it. A partition
/// whose topic id is unknown is left out: the coordinator could not
/// name it either (it is gone).
pub fn owned_by_id(
    owned: &BTreeSet<TopicPartition>,
    names: &BTreeMap<Uuid, String>,
) -> BTreeMap<Uuid, BTreeSet<i32>> {
    let ids: BTreeMap<&str, Uuid> = names.iter().map(|(id, n)| (n.as_str(), *id)).collect();
    let mut by_id: BTreeMap<Uuid, BTreeSet<i32>> = BTreeMap::new();
    for tp in owned {
        if let Some(id) = ids.get(&*tp.topic) {
            by_id.entry(*id).or_default().insert(tp.partition);
        }
    }
    by_id
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Uuid = Uuid::from_u128(1);
    const B: Uuid = Uuid::from_u128(2);
    const C: Uuid = Uuid::from_u128(3);

    fn names() -> BTreeMap<Uuid, String> {
        [(A, "a".to_owned()), (B, "b".to_owned())].into()
    }

    fn tps(list: &[(&str, i32)]) -> Vec<TopicPartition> {
        list.iter()
            .map(|(t, p)| TopicPartition::new(*t, *p))
            .collect()
    }

    fn target(list: &[(Uuid, &[i32])]) -> BTreeMap<Uuid, BTreeSet<i32>> {
        list.iter()
            .map(|(id, ps)| (*id, ps.iter().copied().collect()))
            .collect()
    }

    #[test]
    fn a_first_assignment_only_assigns() {
        let plan = plan(
            &BTreeSet::new(),
            &target(&[(A, &[0, 1]), (B, &[2])]),
            &names(),
        );
        assert!(plan.revoke.is_empty());
        assert_eq!(plan.assign, tps(&[("a", 0), ("a", 1), ("b", 2)]));
        assert!(plan.unresolved.is_empty());
        assert!(!plan.is_settled());
    }

    #[test]
    fn a_moved_partition_is_revoked_and_a_new_one_assigned() {
        let owned = tps(&[("a", 0), ("a", 1)]).into_iter().collect();
        let plan = plan(&owned, &target(&[(A, &[1]), (B, &[0])]), &names());
        assert_eq!(plan.revoke, tps(&[("a", 0)]));
        assert_eq!(plan.assign, tps(&[("b", 0)]));
    }

    #[test]
    fn an_empty_target_revokes_everything() {
        let owned: BTreeSet<_> = tps(&[("a", 0), ("b", 3)]).into_iter().collect();
        let plan = plan(&owned, &BTreeMap::new(), &names());
        assert_eq!(plan.revoke, tps(&[("a", 0), ("b", 3)]));
        assert!(plan.assign.is_empty());
    }

    #[test]
    fn the_same_target_is_settled() {
        let owned = tps(&[("a", 0), ("b", 1)]).into_iter().collect();
        let plan = plan(&owned, &target(&[(A, &[0]), (B, &[1])]), &names());
        assert!(plan.is_settled());
        assert!(plan.unresolved.is_empty());
    }

    #[test]
    fn unknown_topic_ids_wait_without_revoking_anything() {
        let owned = tps(&[("a", 0)]).into_iter().collect();
        let plan = plan(&owned, &target(&[(A, &[0]), (C, &[0, 1])]), &names());
        assert!(plan.is_settled(), "{plan:?}");
        assert_eq!(plan.unresolved, [C].into());
    }

    #[test]
    fn owned_partitions_are_acknowledged_by_topic_id() {
        let owned = tps(&[("a", 2), ("a", 0), ("b", 1), ("gone", 0)])
            .into_iter()
            .collect();
        let by_id = owned_by_id(&owned, &names());
        assert_eq!(by_id, target(&[(A, &[0, 2]), (B, &[1])]));
    }
}
