//! The server-side assignors of the consumer group protocol (KIP-848): `uniform` (the
//! default) and `range`.
//!
//! Both map every partition of every subscribed, existing topic to exactly one member that
//! subscribes to it. Neither looks at racks.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use uuid::Uuid;

/// Partitions per topic id: a member's assignment (target or current).
pub(crate) type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// A topic the group subscribes to, as the broker's catalog knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopicInfo {
    pub id: Uuid,
    pub partitions: i32,
}

/// Existing topics some member subscribes to, by name.
pub(crate) type TopicsMeta = BTreeMap<String, TopicInfo>;

/// What an assignor needs to know of one member.
pub(crate) struct AssignorMember<'a> {
    pub id: &'a str,
    /// Topic names the member subscribes to (names and regex matches).
    pub topics: &'a BTreeSet<String>,
    /// The member's previous target assignment, kept where possible (uniform only).
    pub previous: Option<&'a Assignment>,
}

/// A server-side assignor, chosen by the members' `server_assignor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Assignor {
    /// Balances the partition count per member (differences of at most one among members
    /// with the same subscription) and keeps partitions where they were when it can.
    Uniform,
    /// Per topic, contiguous ranges of partitions to the subscribed members in member-id
    /// order, as the client-side RangeAssignor does.
    Range,
}

impl Assignor {
    /// The assignor a member names; `None` for one this broker does not have.
    pub fn by_name(name: &str) -> Option<Assignor> {
        match name {
            "uniform" => Some(Assignor::Uniform),
            "range" => Some(Assignor::Range),
            _ => None,
        }
    }

    /// The name members and ConsumerGroupDescribe use.
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Uniform => "uniform",
            Assignor::Range => "range",
        }
    }

    /// Every member's target assignment (members without partitions get an empty one).
    pub fn assign(
        self,
        members: &[AssignorMember<'_>],
        topics: &TopicsMeta,
    ) -> HashMap<String, Assignment> {
        let owners = match self {
            Assignor::Uniform => uniform(members, topics),
            Assignor::Range => range(members, topics),
        };
        let mut result: HashMap<String, Assignment> = members
            .iter()
            .map(|m| (m.id.to_owned(), Assignment::new()))
            .collect();
        for ((topic, partition), owner) in owners {
            if let Some(member) = members.get(owner) {
                if let Some(assignment) = result.get_mut(member.id) {
                    assignment.entry(topic).or_default().insert(partition);
                }
            }
        }
        result
    }
}

/// Partition → index of the member that gets it.
type Owners = BTreeMap<(Uuid, i32), usize>;

fn range(members: &[AssignorMember<'_>], topics: &TopicsMeta) -> Owners {
    let mut owners = Owners::new();
    for (name, info) in topics {
        let mut subscribers: Vec<usize> = (0..members.len())
            .filter(|&i| members[i].topics.contains(name))
            .collect();
        if subscribers.is_empty() {
            continue;
        }
        subscribers.sort_by(|&a, &b| members[a].id.cmp(members[b].id));
        let count = i32::try_from(subscribers.len()).unwrap_or(i32::MAX);
        let per_member = info.partitions / count;
        let extra = info.partitions % count;
        let mut next = 0;
        for (rank, &member) in (0..).zip(&subscribers) {
            let len = per_member + i32::from(rank < extra);
            for partition in next..next + len {
                owners.insert((info.id, partition), member);
            }
            next += len;
        }
    }
    owners
}

fn uniform(members: &[AssignorMember<'_>], topics: &TopicsMeta) -> Owners {
    let by_id: HashMap<Uuid, (&str, i32)> = topics
        .iter()
        .map(|(name, info)| (info.id, (name.as_str(), info.partitions)))
        .collect();
    let eligible = |member: usize, topic: Uuid| {
        by_id
            .get(&topic)
            .is_some_and(|(name, _)| members[member].topics.contains(*name))
    };
    let mut owners = Owners::new();
    let mut counts = vec![0usize; members.len()];
    // Stickiness: a partition stays with the member that had it, if that member still
    // subscribes to its topic; balancing below moves only what it must.
    for (index, member) in members.iter().enumerate() {
        let Some(previous) = member.previous else {
            continue;
        };
        for (topic, partitions) in previous {
            let Some((_, count)) = by_id.get(topic) else {
                continue;
            };
            if !eligible(index, *topic) {
                continue;
            }
            for &partition in partitions.iter().filter(|&&p| p < *count) {
                if let std::collections::btree_map::Entry::Vacant(slot) =
                    owners.entry((*topic, partition))
                {
                    slot.insert(index);
                    counts[index] += 1;
                }
            }
        }
    }
    // Every partition nobody kept goes to the least loaded member that can take it.
    for info in topics.values() {
        for partition in 0..info.partitions {
            if owners.contains_key(&(info.id, partition)) {
                continue;
            }
            let lightest = (0..members.len())
                .filter(|&m| eligible(m, info.id))
                .min_by_key(|&m| counts[m]);
            if let Some(member) = lightest {
                owners.insert((info.id, partition), member);
                counts[member] += 1;
            }
        }
    }
    // Balance: move a partition from a member to an eligible one holding at least two fewer,
    // until no such move exists. Each move lowers the sum of squared counts, so this ends.
    loop {
        let mut moved = false;
        let keys: Vec<(Uuid, i32)> = owners.keys().copied().collect();
        for key in keys {
            let Some(&from) = owners.get(&key) else {
                continue;
            };
            let target = (0..members.len())
                .filter(|&m| m != from && eligible(m, key.0) && counts[m] + 1 < counts[from])
                .min_by_key(|&m| counts[m]);
            if let Some(to) = target {
                owners.insert(key, to);
                counts[from] -= 1;
                counts[to] += 1;
                moved = true;
            }
        }
        if !moved {
            return owners;
        }
    }
}
