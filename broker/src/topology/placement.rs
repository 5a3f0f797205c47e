//! Partition placement: each partition's replicas (a pure function of the
//! seed, the topic and the index), its leader (the first running replica)
//! and leader epoch, the leadership checks handlers make, and the elections
//! a cluster's controls cause (a moved leader, a stopped or restarted
//! node), each recorded in the partition's epoch history.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError;

#[cfg(any(test, feature = "testing"))]
use super::{check_running, TopologyError};
use super::{mix, EpochHistory, Inner, NodeEntry, Topology};

/// One partition's place in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The leader's node id, or -1 when no replica is alive.
    pub leader: i32,
    /// Bumped on every leader change, as a controller does.
    pub leader_epoch: i32,
    /// Nodes holding a (simulated) replica; the first is the preferred leader.
    pub replicas: Vec<i32>,
    /// The replicas that are alive (simulated in-sync replicas).
    pub isr: Vec<i32>,
    /// The replicas that are down.
    pub offline: Vec<i32>,
}

impl Topology {
    /// The placement of `topic`-`partition` (placed now if never asked about).
    pub fn placement(&self, topic: &str, partition: i32) -> Placement {
        let mut inner = self.lock();
        self.placement_in(&mut inner, topic, partition).clone()
    }

    fn placement_in<'a>(
        &self,
        inner: &'a mut Inner,
        topic: &str,
        partition: i32,
    ) -> &'a mut Placement {
        let Inner {
            nodes, partitions, ..
        } = inner;
        partitions
            .entry((topic.to_string(), partition))
            .or_insert_with(|| self.initial_placement(nodes, topic, partition))
    }

    fn initial_placement(
        &self,
        nodes: &BTreeMap<i32, NodeEntry>,
        topic: &str,
        partition: i32,
    ) -> Placement {
        let ids: Vec<i32> = nodes.keys().copied().collect();
        if ids.is_empty() {
            return empty_placement();
        }
        let start = (mix(self.seed, topic) % ids.len() as u64) as usize;
        let first = start + usize::try_from(partition).unwrap_or(0);
        let replicas: Vec<i32> = (0..self.replication_factor)
            .filter_map(|i| ids.get((first + i) % ids.len()).copied())
            .collect();
        let mut placement = Placement {
            leader: -1,
            leader_epoch: 0,
            replicas,
            isr: Vec::new(),
            offline: Vec::new(),
        };
        refresh_replica_sets(&mut placement, nodes);
        placement.leader = placement.isr.first().copied().unwrap_or(-1);
        placement
    }

    /// Checks that `node` leads `topic`-`partition` and that the client's
    /// `current_leader_epoch` (-1 = unknown) matches, as a Kafka leader
    /// checks Fetch and ListOffsets. Returns the leader epoch.
    ///
    /// A node that does not lead the partition answers
    /// NOT_LEADER_OR_FOLLOWER; an older epoch than the leader's is
    /// FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH (the client
    /// knows of an election this node has not seen).
    pub fn check_leader(
        &self,
        topic: &str,
        partition: i32,
        node: i32,
        current_leader_epoch: i32,
    ) -> Result<i32, ResponseError> {
        if self.single_node(node) {
            return epoch_check(0, current_leader_epoch).map(|()| 0);
        }
        let mut inner = self.lock();
        let placement = self.placement_in(&mut inner, topic, partition);
        if placement.leader != node {
            return Err(ResponseError::NotLeaderOrFollower);
        }
        epoch_check(placement.leader_epoch, current_leader_epoch)?;
        Ok(placement.leader_epoch)
    }

    /// Checks leadership and `current_leader_epoch` as [`Self::check_leader`]
    /// does, and returns the partition's leader-epoch history, read under
    /// the same lock (its last entry is the epoch that was checked).
    pub fn epoch_history(
        &self,
        topic: &str,
        partition: i32,
        node: i32,
        current_leader_epoch: i32,
    ) -> Result<EpochHistory, ResponseError> {
        if self.single_node(node) {
            // As check_leader: a single node leads at epoch 0, always.
            epoch_check(0, current_leader_epoch)?;
            return Ok(EpochHistory::default());
        }
        let mut inner = self.lock();
        let placement = self.placement_in(&mut inner, topic, partition);
        if placement.leader != node {
            return Err(ResponseError::NotLeaderOrFollower);
        }
        epoch_check(placement.leader_epoch, current_leader_epoch)?;
        Ok(inner
            .epochs
            .get(&(topic.to_string(), partition))
            .cloned()
            .unwrap_or_default())
    }

    /// True when this is a one-node topology of `node` (the common case,
    /// answered without touching the partition table).
    fn single_node(&self, node: i32) -> bool {
        let inner = self.lock();
        inner.nodes.len() == 1 && inner.nodes.contains_key(&node)
    }

    /// Makes `to` (which must run) the leader of `topic`-`partition` and
    /// bumps the leader epoch; `to` becomes a replica if it was not one.
    /// Returns the new epoch.
    #[cfg(any(test, feature = "testing"))]
    pub fn move_leader(&self, topic: &str, partition: i32, to: i32) -> Result<i32, TopologyError> {
        let mut inner = self.lock();
        check_running(&inner, to)?;
        let placement = self.placement_in(&mut inner, topic, partition);
        if !placement.replicas.contains(&to) {
            placement.replicas.push(to);
        }
        placement.leader = to;
        placement.leader_epoch += 1;
        let epoch = placement.leader_epoch;
        let Inner {
            nodes,
            partitions,
            epochs,
            ..
        } = &mut *inner;
        if let Some(placement) = partitions.get_mut(&(topic.to_string(), partition)) {
            refresh_replica_sets(placement, nodes);
        }
        self.record_epoch(epochs, topic, partition, epoch);
        Ok(epoch)
    }

    /// Marks `node` stopped (`alive = false`) or running again, and
    /// re-elects leaders as a controller would: partitions it led move to
    /// their next running replica, leaderless partitions it replicates get
    /// it as leader; every change bumps the epoch. Leaders do not move back
    /// on their own when a node returns (no preferred-leader election).
    #[cfg(any(test, feature = "testing"))]
    pub fn set_alive(&self, node: i32, alive: bool) -> Result<(), TopologyError> {
        let mut inner = self.lock();
        let entry = inner
            .nodes
            .get_mut(&node)
            .ok_or(TopologyError::UnknownNode(node))?;
        entry.alive = alive;
        let Inner {
            nodes,
            partitions,
            epochs,
            ..
        } = &mut *inner;
        for ((topic, partition), placement) in partitions.iter_mut() {
            refresh_replica_sets(placement, nodes);
            let elect = if alive {
                placement.leader == -1 && placement.isr.contains(&node)
            } else {
                placement.leader == node
            };
            if elect {
                placement.leader = placement.isr.first().copied().unwrap_or(-1);
                placement.leader_epoch += 1;
                self.record_epoch(epochs, topic, *partition, placement.leader_epoch);
            }
        }
        Ok(())
    }

    /// Records in `epochs` that `topic`-`partition` entered `epoch` at its
    /// current log end offset. Called with the topology locked, right after
    /// the bump, so no request sees the new epoch before it is recorded.
    #[cfg(any(test, feature = "testing"))]
    fn record_epoch(
        &self,
        epochs: &mut std::collections::HashMap<(String, i32), EpochHistory>,
        topic: &str,
        partition: i32,
        epoch: i32,
    ) {
        let end = self
            .end_offsets
            .get()
            .and_then(|source| source(topic, partition))
            .unwrap_or(0);
        epochs
            .entry((topic.to_string(), partition))
            .or_default()
            .assign(epoch, end);
    }

    /// Forgets the placements of a deleted topic, so a new topic of the
    /// same name starts over at epoch 0.
    pub fn forget_topic(&self, topic: &str) {
        let mut inner = self.lock();
        inner.partitions.retain(|(name, _), _| name != topic);
        inner.epochs.retain(|(name, _), _| name != topic);
    }
}

fn epoch_check(leader_epoch: i32, current_leader_epoch: i32) -> Result<(), ResponseError> {
    match current_leader_epoch {
        e if e < 0 => Ok(()),
        e if e < leader_epoch => Err(ResponseError::FencedLeaderEpoch),
        e if e > leader_epoch => Err(ResponseError::UnknownLeaderEpoch),
        _ => Ok(()),
    }
}

fn refresh_replica_sets(placement: &mut Placement, nodes: &BTreeMap<i32, NodeEntry>) {
    let alive = |id: &i32| nodes.get(id).is_some_and(|n| n.alive);
    placement.isr = placement.replicas.iter().copied().filter(alive).collect();
    placement.offline = placement
        .replicas
        .iter()
        .copied()
        .filter(|r| !alive(r))
        .collect();
}

fn empty_placement() -> Placement {
    Placement {
        leader: -1,
        leader_epoch: 0,
        replicas: Vec::new(),
        isr: Vec::new(),
        offline: Vec::new(),
    }
}
