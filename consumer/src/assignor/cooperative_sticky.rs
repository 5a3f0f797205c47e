//! The cooperative-sticky assignor (KIP-429).
//!
//! Sticky: members keep what they owned as long as the group stays
//! balanced, so a rebalance moves as few partitions as it can.
//! Cooperative: a partition that moves from A to B is left out of B's
//! assignment in the round where A still owns it. A sees it missing,
//! revokes just that partition and rejoins; in the second round nobody
//! owns it and B gets it. Partitions that stay put are never revoked.
//!
//! ```text
//!  round 1: A owns {0,1,2,3}, B joins ─▶ A keeps {0,1}, B gets {} (2,3 still owned by A)
//!           A revokes {2,3}, rejoins
//!  round 2: A owns {0,1}             ─▶ A keeps {0,1}, B gets {2,3}
//! ```
//!
//! Balancing: with `P` partitions and `N` members, `P % N` members may
//! hold `⌈P/N⌉` and the rest `⌊P/N⌋`. Members already holding the most
//! get the larger quota, excess partitions are released, then released and
//! unowned partitions go to the least loaded subscribed member. With
//! differing subscriptions this last step is greedy and may leave the
//! group less balanced than Java's full algorithm would.
//!
//! With racks (KIP-881, see [`super::rack`]), balance still comes first,
//! then in this order: a member keeps the owned partitions that have a
//! replica in its rack; unowned partitions go to a member in a rack that
//! holds one, while it is under its quota; owned partitions without a
//! replica in their owner's rack go back to their owner while it has room
//! (so racks alone never move a partition); what is left goes to the
//! least loaded member, a local one among equals.

use std::collections::{BTreeMap, BTreeSet};

use super::rack::{is_local, worth_using, PartitionRacks};
use super::{
    empty_assignment, sorted_members, subscribed_partitions, Assignor, GroupAssignment,
    MemberSubscription, RebalanceProtocol,
};
use crate::types::TopicPartition;

/// Kafka's `cooperative-sticky` strategy.
#[derive(Clone, Copy, Debug, Default)]
pub struct CooperativeStickyAssignor;

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &str {
        "cooperative-sticky"
    }

    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Cooperative
    }

    fn assign(
        &self,
        partition_counts: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> GroupAssignment {
        self.assign_with_racks(partition_counts, members, &PartitionRacks::new())
    }

    fn assign_with_racks(
        &self,
        partition_counts: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
        partition_racks: &PartitionRacks,
    ) -> GroupAssignment {
        let claims = valid_claims(partition_counts, members);
        let mut target = balanced(partition_counts, members, partition_racks);
        // Hold back partitions another member still owns: that owner must
        // revoke them first (it sees them missing from its own assignment).
        for (member, partitions) in target.iter_mut() {
            partitions.retain(|tp| match claims.get(tp) {
                Some(owner) => owner == member,
                None => true,
            });
        }
        target
    }
}

/// Who validly owns each partition: it exists, the owner still subscribes
/// to its topic, and no member with a newer generation claims it too.
fn valid_claims(
    partition_counts: &BTreeMap<String, i32>,
    members: &[MemberSubscription],
) -> BTreeMap<TopicPartition, String> {
    let existing = subscribed_partitions(partition_counts, members);
    let mut by_generation = sorted_members(members);
    // Newest generation first, so a stale claim loses to a current one.
    by_generation.sort_by_key(|m| std::cmp::Reverse(m.generation));
    let mut claims = BTreeMap::new();
    for member in by_generation {
        for tp in &member.owned {
            if existing.contains(tp) && member.topics.contains(&*tp.topic) {
                claims
                    .entry(tp.clone())
                    .or_insert_with(|| member.member_id.clone());
            }
        }
    }
    claims
}

/// The balanced assignment closest to what members own now (the end state
/// of a cooperative rebalance, before partitions are held back).
pub fn sticky_assignment(
    partition_counts: &BTreeMap<String, i32>,
    members: &[MemberSubscription],
) -> GroupAssignment {
    balanced(partition_counts, members, &PartitionRacks::new())
}

/// [`sticky_assignment`], preferring members in a rack that holds a
/// replica where `racks` can make a difference.
fn balanced(
    partition_counts: &BTreeMap<String, i32>,
    members: &[MemberSubscription],
    racks: &PartitionRacks,
) -> GroupAssignment {
    let mut result = empty_assignment(members);
    if members.is_empty() {
        return result;
    }
    let all = subscribed_partitions(partition_counts, members);
    let use_racks = worth_using(racks, members, &all);
    let local =
        |member: &MemberSubscription, tp: &TopicPartition| use_racks && is_local(racks, member, tp);
    let by_id: BTreeMap<&str, &MemberSubscription> =
        members.iter().map(|m| (m.member_id.as_str(), m)).collect();
    for (tp, owner) in valid_claims(partition_counts, members) {
        if let Some(set) = result.get_mut(&owner) {
            set.insert(tp);
        }
    }
    let quotas = quotas(&result, members, all.len());
    let quota = |member: &str| quotas.get(member).copied().unwrap_or(0);
    // Owned partitions not local to their owner, set aside until local
    // ones are placed (only with racks).
    let mut held: Vec<(TopicPartition, String)> = Vec::new();
    let mut unassigned: BTreeSet<TopicPartition> = all.clone();
    for (member, set) in result.iter_mut() {
        if use_racks {
            if let Some(m) = by_id.get(member.as_str()) {
                let away: Vec<TopicPartition> =
                    set.iter().filter(|tp| !local(m, tp)).cloned().collect();
                for tp in away {
                    set.remove(&tp);
                    unassigned.remove(&tp);
                    held.push((tp, member.clone()));
                }
            }
        }
        // Release the highest-numbered excess, deterministically.
        while set.len() > quota(member) {
            if set.pop_last().is_none() {
                break;
            }
        }
        for tp in set.iter() {
            unassigned.remove(tp);
        }
    }
    let order = sorted_members(members);
    let load = |result: &GroupAssignment, member: &str| result.get(member).map_or(0, BTreeSet::len);
    if use_racks {
        // Unowned partitions to a local member with room.
        for tp in unassigned.clone() {
            let candidate = order
                .iter()
                .filter(|m| {
                    m.topics.contains(&*tp.topic)
                        && local(m, &tp)
                        && load(&result, &m.member_id) < quota(&m.member_id)
                })
                .min_by_key(|m| load(&result, &m.member_id));
            if let Some(member) = candidate {
                if let Some(set) = result.get_mut(&member.member_id) {
                    set.insert(tp.clone());
                    unassigned.remove(&tp);
                }
            }
        }
        // Owned but not local: back to the owner while it has room.
        held.sort();
        for (tp, owner) in held {
            if load(&result, &owner) < quota(&owner) {
                if let Some(set) = result.get_mut(&owner) {
                    set.insert(tp);
                    continue;
                }
            }
            unassigned.insert(tp);
        }
    }
    for tp in unassigned {
        let candidate = order
            .iter()
            .filter(|m| m.topics.contains(&*tp.topic))
            .min_by_key(|m| (load(&result, &m.member_id), !local(m, &tp)));
        if let Some(member) = candidate {
            if let Some(set) = result.get_mut(&member.member_id) {
                set.insert(tp);
            }
        }
    }
    result
}

/// How many partitions each member may keep: `total % n` members (those
/// already holding the most) get the ceiling, the others the floor.
fn quotas(
    owned: &GroupAssignment,
    members: &[MemberSubscription],
    total: usize,
) -> BTreeMap<String, usize> {
    let n = members.len().max(1);
    let floor = total / n;
    let with_extra = total % n;
    let mut order = sorted_members(members);
    // Stable sort keeps the member order among equals: deterministic.
    order.sort_by_key(|m| std::cmp::Reverse(owned.get(&m.member_id).map_or(0, BTreeSet::len)));
    order
        .iter()
        .enumerate()
        .map(|(rank, m)| (m.member_id.clone(), floor + usize::from(rank < with_extra)))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn owning(
        mut m: MemberSubscription,
        owned: &GroupAssignment,
        generation: i32,
    ) -> MemberSubscription {
        m.owned = owned[&m.member_id].iter().cloned().collect();
        m.generation = generation;
        m
    }

    /// Runs cooperative rounds until the assignment stops changing; returns
    /// every partition revoked along the way and the final assignment.
    fn settle(
        counts: &BTreeMap<String, i32>,
        mut members: Vec<MemberSubscription>,
    ) -> (BTreeSet<TopicPartition>, GroupAssignment, usize) {
        let mut revoked = BTreeSet::new();
        for round in 1..10 {
            let result = CooperativeStickyAssignor.assign(counts, &members);
            let mut changed = false;
            for m in &mut members {
                let before: BTreeSet<_> = m.owned.iter().cloned().collect();
                let after = &result[&m.member_id];
                revoked.extend(before.difference(after).cloned());
                changed |= &before != after;
                m.owned = after.iter().cloned().collect();
                m.generation = round;
            }
            if !changed {
                return (revoked, result, round as usize);
            }
        }
        panic!("no convergence");
    }

    #[test]
    fn fresh_group_is_balanced_and_covering() {
        let counts = counts(&[("t", 7), ("u", 5)]);
        let members = [
            member("a", &["t", "u"]),
            member("b", &["t", "u"]),
            member("c", &["t", "u"]),
        ];
        let result = CooperativeStickyAssignor.assign(&counts, &members);
        assert_disjoint_and_covering(&counts, &members, &result);
        let mut s = sizes(&result);
        s.sort();
        assert_eq!(s, [4, 4, 4]);
        assert_eq!(
            result,
            CooperativeStickyAssignor.assign(&counts, &members),
            "deterministic"
        );
    }

    #[test]
    fn joining_member_moves_only_what_balance_needs_in_two_rounds() {
        let counts = counts(&[("t", 6)]);
        let two = [member("a", &["t"]), member("b", &["t"])];
        let first = CooperativeStickyAssignor.assign(&counts, &two);
        let mut three: Vec<_> = two.iter().map(|m| owning(m.clone(), &first, 1)).collect();
        three.push(member("c", &["t"]));

        // Round 1: c gets nothing yet, a and b each give up exactly one.
        let round1 = CooperativeStickyAssignor.assign(&counts, &three);
        assert!(round1["c"].is_empty());
        for m in ["a", "b"] {
            assert_eq!(first[m].difference(&round1[m]).count(), 1);
            assert!(round1[m].is_subset(&first[m]), "nothing new while revoking");
        }
        let (revoked, settled, rounds) = settle(&counts, three);
        assert_eq!(
            revoked.len(),
            2,
            "only the two moved partitions are revoked"
        );
        assert_eq!(rounds, 3, "two rounds that change, one that confirms");
        assert_disjoint_and_covering(
            &counts,
            &[
                member("a", &["t"]),
                member("b", &["t"]),
                member("c", &["t"]),
            ],
            &settled,
        );
        assert_eq!(sizes(&settled), [2, 2, 2]);
    }

    #[test]
    fn leaving_member_partitions_go_to_others_without_revoking() {
        let counts = counts(&[("t", 6)]);
        let three = [
            member("a", &["t"]),
            member("b", &["t"]),
            member("c", &["t"]),
        ];
        let first = CooperativeStickyAssignor.assign(&counts, &three);
        let two: Vec<_> = three[..2]
            .iter()
            .map(|m| owning(m.clone(), &first, 1))
            .collect();
        let result = CooperativeStickyAssignor.assign(&counts, &two);
        for m in ["a", "b"] {
            assert!(first[m].is_subset(&result[m]), "{m} keeps everything");
            assert_eq!(result[m].len(), 3);
        }
    }

    #[test]
    fn stale_generation_loses_a_double_claim() {
        let counts = counts(&[("t", 2)]);
        let mut a = member("a", &["t"]);
        a.owned = vec![TopicPartition::new("t", 0)];
        a.generation = 5;
        let mut b = member("b", &["t"]);
        b.owned = vec![TopicPartition::new("t", 0)];
        b.generation = 3;
        let result = CooperativeStickyAssignor.assign(&counts, &[a, b]);
        assert!(result["a"].contains(&TopicPartition::new("t", 0)));
        assert!(!result["b"].contains(&TopicPartition::new("t", 0)));
    }

    /// Partitions 0,1 in rack r0, 2,3 in r1, 4,5 in r2.
    fn paired_racks() -> PartitionRacks {
        racks_of("t", &[&["r0"], &["r0"], &["r1"], &["r1"], &["r2"], &["r2"]])
    }

    #[test]
    fn a_fresh_racked_group_gets_local_partitions() {
        let counts = counts(&[("t", 6)]);
        let members = racked_members(&["t"], &[("a", "r0"), ("b", "r1"), ("c", "r2")]);
        let result = assign_checked(
            &CooperativeStickyAssignor,
            &counts,
            &members,
            &paired_racks(),
        );
        let of = |m: &str| numbers(&result, m);
        assert_eq!(
            (of("a"), of("b"), of("c")),
            (vec![0, 1], vec![2, 3], vec![4, 5])
        );
        assert_ne!(
            result,
            CooperativeStickyAssignor.assign(&counts, &members),
            "without racks the pairing differs"
        );
    }

    #[test]
    fn balance_comes_before_racks() {
        let counts = counts(&[("t", 6)]);
        // Only b's rack is local to anything but a and c must get a share.
        let members = racked_members(&["t"], &[("a", "r9"), ("b", "r1"), ("c", "r8")]);
        let result = assign_checked(
            &CooperativeStickyAssignor,
            &counts,
            &members,
            &paired_racks(),
        );
        assert_eq!(sizes(&result), [2, 2, 2]);
        assert_eq!(numbers(&result, "b"), [2, 3]);
    }

    #[test]
    fn racks_alone_never_move_an_owned_partition() {
        let counts = counts(&[("t", 6)]);
        let members = racked_members(&["t"], &[("a", "r1"), ("b", "r2"), ("c", "r0")]);
        // Everyone owns the partitions of the next rack over.
        let first = CooperativeStickyAssignor.assign(
            &counts,
            &[
                member("a", &["t"]),
                member("b", &["t"]),
                member("c", &["t"]),
            ],
        );
        let owning_all: Vec<_> = members
            .iter()
            .map(|m| owning(m.clone(), &first, 1))
            .collect();
        let result =
            CooperativeStickyAssignor.assign_with_racks(&counts, &owning_all, &paired_racks());
        assert_eq!(result, first, "a stable group stays put");
    }

    #[test]
    fn a_joining_member_takes_what_is_local_to_it() {
        let counts = counts(&[("t", 4)]);
        // a (r0) owns all four; 0 and 1 are in r1, 2 and 3 in r0.
        let racks = racks_of("t", &[&["r1"], &["r1"], &["r0"], &["r0"]]);
        let mut a = racked(member("a", &["t"]), "r0");
        a.owned = (0..4).map(|p| TopicPartition::new("t", p)).collect();
        a.generation = 1;
        let b = racked(member("b", &["t"]), "r1");
        let members = [a, b];
        let (settled, rounds) = settle_with(&counts, members.to_vec(), &racks);
        let of = |m: &str| numbers(&settled, m);
        assert_eq!(
            (of("a"), of("b")),
            (vec![2, 3], vec![0, 1]),
            "each has its local pair"
        );
        assert_eq!(rounds, 3);
        let plain = sticky_assignment(&counts, &members);
        assert_eq!(
            plain["a"].iter().map(|tp| tp.partition).collect::<Vec<_>>(),
            [0, 1],
            "without racks a keeps its lowest"
        );
    }

    /// Cooperative rounds with racks until nothing changes.
    fn settle_with(
        counts: &BTreeMap<String, i32>,
        mut members: Vec<MemberSubscription>,
        racks: &PartitionRacks,
    ) -> (GroupAssignment, usize) {
        for round in 1..10 {
            let result = CooperativeStickyAssignor.assign_with_racks(counts, &members, racks);
            let mut changed = false;
            for m in &mut members {
                let before: BTreeSet<_> = m.owned.iter().cloned().collect();
                changed |= before != result[&m.member_id];
                m.owned = result[&m.member_id].iter().cloned().collect();
                m.generation = round + 1;
            }
            if !changed {
                return (result, round as usize);
            }
        }
        panic!("no convergence");
    }
}
