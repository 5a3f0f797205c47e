//! The range assignor: per topic, consecutive partitions to each member.
//!
//! For each topic the subscribed members are sorted and the partitions
//! split into contiguous ranges; the first `partitions % members` members
//! get one extra. Members subscribed to several topics with the same
//! partition count get the same partition numbers of each, which is what
//! co-partitioned joins rely on.
//!
//! With racks (KIP-881, see [`super::rack`]) the counts stay the same but
//! each member first takes, in order, partitions with a replica in its
//! rack, up to its count; the rest are then handed out in ranges as
//! before. Co-partitioned topics (same subscribers, same partition count)
//! are still assigned together: partition number `p` counts as in a rack
//! when that rack holds a replica of `p` of every one of those topics.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::rack::{is_local, worth_using, PartitionRacks};
use super::{empty_assignment, sorted_members, Assignor, GroupAssignment, MemberSubscription};
use crate::types::TopicPartition;

/// Kafka's `range` strategy.
#[derive(Clone, Copy, Debug, Default)]
pub struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &str {
        "range"
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
        let mut result = empty_assignment(members);
        let sorted = sorted_members(members);
        // Topics with the same (sorted) subscribers and partition count,
        // assigned together so they stay co-partitioned.
        let mut groups: BTreeMap<(Vec<usize>, i32), Vec<Arc<str>>> = BTreeMap::new();
        for (topic, &count) in partition_counts {
            let subscribers: Vec<usize> = (0..sorted.len())
                .filter(|&i| sorted[i].topics.contains(topic))
                .collect();
            if subscribers.is_empty() || count <= 0 {
                continue;
            }
            groups
                .entry((subscribers, count))
                .or_default()
                .push(Arc::from(topic.as_str()));
        }
        for ((subscribers, count), topics) in groups {
            let subscribers: Vec<&MemberSubscription> =
                subscribers.iter().map(|&i| sorted[i]).collect();
            let partitions: Vec<TopicPartition> = topics
                .iter()
                .flat_map(|t| (0..count).map(|p| TopicPartition::new(t.clone(), p)))
                .collect();
            let use_racks = worth_using(partition_racks, subscribers.iter().copied(), &partitions);
            let local = |member: usize, partition: i32| {
                topics.iter().all(|t| {
                    let tp = TopicPartition::new(t.clone(), partition);
                    is_local(partition_racks, subscribers[member], &tp)
                })
            };
            let split = split(subscribers.len(), count, use_racks.then_some(&local));
            for (member, numbers) in subscribers.iter().zip(split) {
                if let Some(set) = result.get_mut(&member.member_id) {
                    for partition in numbers {
                        for topic in &topics {
                            set.insert(TopicPartition::new(topic.clone(), partition));
                        }
                    }
                }
            }
        }
        result
    }
}

/// Partition numbers `0..count` for `members` members: each gets
/// `count / members`, and `count % members` of them one more. With
/// `local`, each member first takes the partitions local to it (in order),
/// then the rest are handed out in order; without, member `i` gets the
/// `i`-th contiguous range.
fn split(
    members: usize,
    count: i32,
    local: Option<&dyn Fn(usize, i32) -> bool>,
) -> Vec<BTreeSet<i32>> {
    let total = usize::try_from(count).unwrap_or(0);
    let per_member = total / members.max(1);
    let mut extra = total % members.max(1);
    let mut taken = vec![false; total];
    let mut out = vec![BTreeSet::new(); members];
    let mut fill = |member: usize, extra: &mut usize, want: &dyn Fn(i32) -> bool| {
        if out[member].len() > per_member {
            return;
        }
        let cap = per_member + usize::from(*extra > 0);
        for partition in 0..count {
            let index = usize::try_from(partition).unwrap_or(0);
            if out[member].len() >= cap {
                break;
            }
            if !taken[index] && want(partition) {
                taken[index] = true;
                out[member].insert(partition);
            }
        }
        if out[member].len() > per_member {
            *extra -= 1;
        }
    };
    if let Some(local) = local {
        for member in 0..members {
            fill(member, &mut extra, &|p| local(member, p));
        }
    }
    for member in 0..members {
        fill(member, &mut extra, &|_| true);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn splits_each_topic_into_ranges() {
        let counts = counts(&[("a", 7), ("b", 2)]);
        let members = [
            member("m1", &["a", "b"]),
            member("m2", &["a", "b"]),
            member("m3", &["a"]),
        ];
        let result = RangeAssignor.assign(&counts, &members);
        assert_disjoint_and_covering(&counts, &members, &result);
        assert_eq!(numbers_in(&result, "m1", "a"), [0, 1, 2]);
        assert_eq!(numbers_in(&result, "m2", "a"), [3, 4]);
        assert_eq!(numbers_in(&result, "m3", "a"), [5, 6]);
        assert_eq!(result["m3"].len(), 2, "m3 is not subscribed to b");
    }

    #[test]
    fn is_deterministic_whatever_the_input_order() {
        let counts = counts(&[("t", 6)]);
        let forward = [
            member("x", &["t"]),
            member("y", &["t"]),
            member("z", &["t"]),
        ];
        let mut backward = forward.clone();
        backward.reverse();
        assert_eq!(
            RangeAssignor.assign(&counts, &forward),
            RangeAssignor.assign(&counts, &backward)
        );
        assert_eq!(sizes(&RangeAssignor.assign(&counts, &forward)), [2, 2, 2]);
    }

    #[test]
    fn more_members_than_partitions_leaves_some_empty() {
        let counts = counts(&[("t", 2)]);
        let members = [
            member("a", &["t"]),
            member("b", &["t"]),
            member("c", &["t"]),
        ];
        let result = RangeAssignor.assign(&counts, &members);
        assert_disjoint_and_covering(&counts, &members, &result);
        assert_eq!(sizes(&result), [1, 1, 0]);
    }

    #[test]
    fn racks_pair_members_with_local_partitions_keeping_the_counts() {
        let counts = counts(&[("t", 6)]);
        let members = racked_members(&["t"], &[("a", "r0"), ("b", "r1"), ("c", "r2")]);
        // Partition p has its only replica in rack r(p % 3).
        let racks = racks_of("t", &[&["r0"], &["r1"], &["r2"], &["r0"], &["r1"], &["r2"]]);
        let result = assign_checked(&RangeAssignor, &counts, &members, &racks);
        assert_eq!(numbers(&result, "a"), [0, 3]);
        assert_eq!(numbers(&result, "b"), [1, 4]);
        assert_eq!(numbers(&result, "c"), [2, 5]);
        assert_eq!(
            RangeAssignor.assign(&counts, &members)["a"].len(),
            2,
            "without racks: plain ranges"
        );
    }

    #[test]
    fn racks_never_unbalance_and_fall_back_to_ranges() {
        let counts = counts(&[("t", 5)]);
        // Every replica in r0: a could take all, but gets its share only.
        let members = racked_members(&["t"], &[("a", "r0"), ("b", "r1")]);
        let racks = racks_of("t", &[&["r0"], &["r0"], &["r1"], &["r0"], &["r0"]]);
        let result = assign_checked(&RangeAssignor, &counts, &members, &racks);
        assert_eq!(
            numbers(&result, "a"),
            [0, 1, 3],
            "local first, up to its three"
        );
        assert_eq!(
            numbers(&result, "b"),
            [2, 4],
            "its local 2, then what is left"
        );
    }

    #[test]
    fn co_partitioned_topics_stay_aligned_with_racks() {
        let counts = counts(&[("x", 4), ("y", 4)]);
        let members = racked_members(&["x", "y"], &[("a", "r0"), ("b", "r1")]);
        let mut racks = racks_of("x", &[&["r1"], &["r0"], &["r1"], &["r0"]]);
        racks.extend(racks_of("y", &[&["r1"], &["r0"], &["r0", "r1"], &["r0"]]));
        let result = assign_checked(&RangeAssignor, &counts, &members, &racks);
        for m in ["a", "b"] {
            assert_eq!(
                numbers_in(&result, m, "x"),
                numbers_in(&result, m, "y"),
                "{m}: same numbers of both topics"
            );
        }
        assert_eq!(numbers_in(&result, "a", "x"), [1, 3]);
        assert_eq!(numbers_in(&result, "b", "x"), [0, 2]);
    }

    #[test]
    fn racks_alike_everywhere_change_nothing() {
        let counts = counts(&[("t", 4)]);
        let members = racked_members(&["t"], &[("a", "r0"), ("b", "r1")]);
        let racks = racks_of(
            "t",
            &[&["r0", "r1"], &["r0", "r1"], &["r0", "r1"], &["r0", "r1"]],
        );
        assert_eq!(
            RangeAssignor.assign_with_racks(&counts, &members, &racks),
            RangeAssignor.assign(&counts, &members)
        );
    }
}
