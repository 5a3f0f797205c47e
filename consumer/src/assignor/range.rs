//! The range assignor: per topic, consecutive partitions to each member.
//!
//! For each topic the subscribed members are sorted and the partitions
//! split into contiguous ranges; the first `partitions % members` members
//! get one extra. Members subscribed to several topics with the same
//! partition count get the same partition numbers of each, which is what
//! co-partitioned joins rely on.

use std::collections::BTreeMap;
use std::sync::Arc;

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
        let mut result = empty_assignment(members);
        let sorted = sorted_members(members);
        for (topic, &count) in partition_counts {
            let subscribers: Vec<&MemberSubscription> = sorted
                .iter()
                .copied()
                .filter(|m| m.topics.contains(topic))
                .collect();
            if subscribers.is_empty() || count <= 0 {
                continue;
            }
            let name: Arc<str> = Arc::from(topic.as_str());
            let per_member = count as usize / subscribers.len();
            let extra = count as usize % subscribers.len();
            let mut next = 0usize;
            for (index, member) in subscribers.iter().enumerate() {
                let take = per_member + usize::from(index < extra);
                if let Some(set) = result.get_mut(&member.member_id) {
                    for partition in next..next + take {
                        set.insert(TopicPartition::new(name.clone(), partition as i32));
                    }
                }
                next += take;
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
    fn splits_each_topic_into_ranges() {
        let counts = counts(&[("a", 7), ("b", 2)]);
        let members = [
            member("m1", &["a", "b"]),
            member("m2", &["a", "b"]),
            member("m3", &["a"]),
        ];
        let result = RangeAssignor.assign(&counts, &members);
        assert_disjoint_and_covering(&counts, &members, &result);
        let a_of = |m: &str| -> Vec<i32> {
            result[m]
                .iter()
                .filter(|tp| &*tp.topic == "a")
                .map(|tp| tp.partition)
                .collect()
        };
        assert_eq!(a_of("m1"), [0, 1, 2]);
        assert_eq!(a_of("m2"), [3, 4]);
        assert_eq!(a_of("m3"), [5, 6]);
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
}
