//! Rack awareness for the classic assignors (KIP-881).
//!
//! Members send their `client.rack` in the subscription (v3); the leader
//! knows from metadata which racks hold a replica of each partition. A
//! member whose rack holds a replica can fetch that partition from a
//! follower next to it (KIP-392) instead of across racks, so the range and
//! cooperative-sticky assignors prefer such pairings, but never at the
//! cost of balance (or, for range, of its partition counts per member).
//!
//! Racks are only used when they can make a difference: some member's rack
//! holds replicas of the partitions being assigned, and not every
//! partition has replicas in the same racks (then every member is equally
//! close to every partition and the plain assignment stands).

use std::collections::{BTreeMap, BTreeSet};

use durian_core::ClusterMetadata;

use super::MemberSubscription;
use crate::types::TopicPartition;

/// The racks holding a replica of each partition, from cluster metadata.
/// A partition left out (or with no racks) has no rack preference.
pub type PartitionRacks = BTreeMap<TopicPartition, BTreeSet<String>>;

/// The racks of the replicas of every partition of `topics`, from the
/// brokers' `broker.rack` in `metadata`.
pub(crate) fn partition_racks<'a>(
    metadata: &ClusterMetadata,
    topics: impl IntoIterator<Item = &'a String>,
) -> PartitionRacks {
    let mut racks = PartitionRacks::new();
    for topic in topics {
        let Some(meta) = metadata.topic(topic) else {
            continue;
        };
        for (&partition, p) in &meta.partitions {
            let of: BTreeSet<String> = p
                .replicas
                .iter()
                .filter_map(|id| metadata.broker(*id)?.rack.clone())
                .collect();
            if !of.is_empty() {
                racks.insert(TopicPartition::new(topic.as_str(), partition), of);
            }
        }
    }
    racks
}

/// Whether rack-aware assignment can help `members` with `partitions`:
/// some member's rack holds a replica of one of them, and their replicas
/// do not all sit in the same racks.
pub(super) fn worth_using<'a>(
    racks: &PartitionRacks,
    members: impl IntoIterator<Item = &'a MemberSubscription>,
    partitions: impl IntoIterator<Item = &'a TopicPartition>,
) -> bool {
    let member_racks: BTreeSet<&str> = members
        .into_iter()
        .filter_map(|m| m.rack.as_deref())
        .collect();
    if member_racks.is_empty() {
        return false;
    }
    let empty = BTreeSet::new();
    let mut all: BTreeSet<&String> = BTreeSet::new();
    let mut distinct: BTreeSet<&BTreeSet<String>> = BTreeSet::new();
    for tp in partitions {
        let of = racks.get(tp).unwrap_or(&empty);
        all.extend(of);
        distinct.insert(of);
    }
    let reachable = all.iter().any(|rack| member_racks.contains(rack.as_str()));
    reachable && distinct.len() > 1
}

/// Whether `member`'s rack holds a replica of `tp`.
pub(super) fn is_local(
    racks: &PartitionRacks,
    member: &MemberSubscription,
    tp: &TopicPartition,
) -> bool {
    match (&member.rack, racks.get(tp)) {
        (Some(rack), Some(of)) => of.contains(rack),
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// `member` with `rack`.
    pub fn racked(mut member: MemberSubscription, rack: &str) -> MemberSubscription {
        member.rack = Some(rack.to_owned());
        member
    }

    /// Members subscribed to `topics`, one per `(id, rack)`.
    pub fn racked_members(topics: &[&str], racks: &[(&str, &str)]) -> Vec<MemberSubscription> {
        racks
            .iter()
            .map(|(id, rack)| racked(super::super::test_support::member(id, topics), rack))
            .collect()
    }

    /// Racks for partitions of `topic`: entry i lists partition i's racks.
    pub fn racks_of(topic: &str, per_partition: &[&[&str]]) -> PartitionRacks {
        per_partition
            .iter()
            .enumerate()
            .map(|(p, racks)| {
                (
                    TopicPartition::new(topic, i32::try_from(p).unwrap_or(i32::MAX)),
                    racks.iter().map(|r| (*r).to_owned()).collect(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::test_support::member;
    use super::test_support::*;
    use super::*;

    #[test]
    fn racks_are_used_only_when_they_can_differ() {
        let tps: Vec<TopicPartition> = (0..3).map(|p| TopicPartition::new("t", p)).collect();
        let racked_members = [racked(member("a", &["t"]), "r0")];
        let plain = [member("a", &["t"])];
        let uneven = racks_of("t", &[&["r0"], &["r1"], &["r2"]]);
        let even = racks_of("t", &[&["r0", "r1"], &["r0", "r1"], &["r0", "r1"]]);
        let elsewhere = racks_of("t", &[&["r1"], &["r2"], &["r1"]]);
        assert!(worth_using(&uneven, &racked_members, &tps));
        assert!(!worth_using(&uneven, &plain, &tps), "members without racks");
        assert!(!worth_using(&even, &racked_members, &tps), "all alike");
        assert!(
            !worth_using(&elsewhere, &racked_members, &tps),
            "no member rack"
        );
        assert!(!worth_using(&PartitionRacks::new(), &racked_members, &tps));
        assert!(is_local(&uneven, &racked_members[0], &tps[0]));
        assert!(!is_local(&uneven, &racked_members[0], &tps[1]));
        assert!(!is_local(&uneven, &plain[0], &tps[0]));
    }
}
