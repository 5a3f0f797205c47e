//! The round-robin assignor: all partitions dealt out one by one.
//!
//! Partitions of every subscribed topic are sorted by (topic, partition)
//! and dealt to the sorted members in turn, skipping members not
//! subscribed to a partition's topic. With identical subscriptions the
//! sizes differ by at most one.

use std::collections::BTreeMap;

use super::{
    empty_assignment, sorted_members, subscribed_partitions, Assignor, GroupAssignment,
    MemberSubscription,
};

/// Kafka's `roundrobin` strategy.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &str {
        "roundrobin"
    }

    fn assign(
        &self,
        partition_counts: &BTreeMap<String, i32>,
        members: &[MemberSubscription],
    ) -> GroupAssignment {
        let mut result = empty_assignment(members);
        let sorted = sorted_members(members);
        if sorted.is_empty() {
            return result;
        }
        let mut turn = 0usize;
        for tp in subscribed_partitions(partition_counts, members) {
            // At most one full circle finds a subscriber: one exists, since
            // the partition came from somebody's subscription.
            for step in 0..sorted.len() {
                let member = sorted[(turn + step) % sorted.len()];
                if member.topics.contains(&*tp.topic) {
                    if let Some(set) = result.get_mut(&member.member_id) {
                        set.insert(tp.clone());
                    }
                    turn = (turn + step + 1) % sorted.len();
                    break;
                }
            }
        }
        result
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn deals_partitions_in_turn() {
        let counts = counts(&[("a", 3), ("b", 3)]);
        let members = [member("m1", &["a", "b"]), member("m2", &["a", "b"])];
        let result = RoundRobinAssignor.assign(&counts, &members);
        assert_disjoint_and_covering(&counts, &members, &result);
        let names =
            |m: &str| -> Vec<String> { result[m].iter().map(|tp| tp.to_string()).collect() };
        assert_eq!(names("m1"), ["a-0", "a-2", "b-1"]);
        assert_eq!(names("m2"), ["a-1", "b-0", "b-2"]);
    }

    #[test]
    fn balanced_within_one_and_skips_unsubscribed() {
        let counts = counts(&[("a", 10), ("b", 4)]);
        let members = [
            member("m1", &["a"]),
            member("m2", &["a", "b"]),
            member("m3", &["a", "b"]),
        ];
        let result = RoundRobinAssignor.assign(&counts, &members);
        assert_disjoint_and_covering(&counts, &members, &result);
        let sizes = sizes(&result);
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min <= 1, "{sizes:?}");
    }
}
