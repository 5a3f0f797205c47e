//! Who leads what: the brokers of a cluster, each partition's leader,
//! leader epoch and replicas, and which broker coordinates each group.
//!
//! Every handler that cares about placement asks the topology with the id
//! of the node that received the request:
//!
//! ```text
//!  Produce/Fetch/ListOffsets/DeleteRecords ──► check_leader(topic, p, node, epoch)
//!  OffsetForLeaderEpoch ────────────────────► epoch_history(topic, p, node, epoch)
//!  group APIs ──────────────────────────────► coordinator(group) == node ?
//!  Metadata / FindCoordinator / DescribeCluster ──► live brokers, placements
//! ```
//!
//! A single broker has a one-node topology: it leads every partition at
//! epoch 0 and coordinates every group, so it answers exactly as before.
//! An in-process [`crate::testing::Cluster`] shares one topology between its
//! nodes and changes it through its controls (move a leader, stop a node,
//! pin a coordinator). There is no replication behind it: the replicas of
//! a partition are names in this table, all reading one shared log.
//!
//! Partitions are placed lazily, the first time anyone asks about them, so
//! topics created by any path (CreateTopics, auto-creation, a restart) need
//! no registration. The replica list is a pure function of the seed, the
//! topic name and the partition index, and the leader is the first running
//! replica, which makes the spread deterministic for a seed.
//!
//! Each partition also keeps its leader-epoch history ([`EpochHistory`],
//! Kafka's leader-epoch cache): epoch 0 starts at offset 0, and every
//! epoch bump records the log end offset at that moment as the new epoch's
//! start (read through the source the broker state installs with
//! [`Topology::set_end_offset_source`]). OffsetForLeaderEpoch answers from
//! it. It lives in memory only: a single broker never bumps (its history is
//! always epoch 0 from the log start offset, so nothing needs persisting),
//! and a `Cluster`'s topology starts over at epoch 0 anyway.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, OnceLock};

use kafka_protocol::ResponseError;

/// How clients reach one broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    /// The node id.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
}

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

/// Why a topology change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg(any(test, feature = "testing"))]
pub enum TopologyError {
    /// The node id is not part of the cluster.
    #[error("node {0} is not part of this cluster")]
    UnknownNode(i32),
    /// The node is stopped; start it first.
    #[error("node {0} is stopped; start it before giving it work")]
    NodeDown(i32),
}

struct NodeEntry {
    address: BrokerAddress,
    alive: bool,
}

#[derive(Default)]
struct Inner {
    nodes: BTreeMap<i32, NodeEntry>,
    partitions: HashMap<(String, i32), Placement>,
    /// Only partitions whose epoch was bumped; the others have the
    /// initial history (epoch 0 from offset 0).
    epochs: HashMap<(String, i32), EpochHistory>,
    pinned_coordinators: HashMap<String, i32>,
}

/// Reads the log end offset of a partition (`None`: no such log). Called
/// with the topology locked, so it must not call back into the topology.
pub type EndOffsetSource = Box<dyn Fn(&str, i32) -> Option<i64> + Send + Sync>;

/// The shared placement table; see the module docs.
pub struct Topology {
    seed: u64,
    replication_factor: usize,
    inner: Mutex<Inner>,
    end_offsets: OnceLock<EndOffsetSource>,
}

/// The first offset of one leader epoch (an entry of Kafka's leader-epoch
/// cache).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochStart {
    /// The leader epoch.
    pub epoch: i32,
    /// The log end offset when the epoch began: its first offset.
    pub start_offset: i64,
}

/// A partition's leader epochs and where each starts, oldest first, with
/// strictly increasing epochs and non-decreasing start offsets; the last
/// entry is the current epoch. Kafka's `LeaderEpochFileCache`, kept in
/// memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochHistory {
    entries: Vec<EpochStart>,
}

/// Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.
const UNDEFINED: (i32, i64) = (-1, -1);

impl Default for EpochHistory {
    /// Epoch 0 from offset 0: every partition's history before its first
    /// leader change, and a single broker's forever.
    fn default() -> Self {
        EpochHistory {
            entries: vec![EpochStart {
                epoch: 0,
                start_offset: 0,
            }],
        }
    }
}

impl EpochHistory {
    /// The entries, oldest first.
    #[cfg(test)]
    pub fn entries(&self) -> &[EpochStart] {
        &self.entries
    }

    /// Records that `epoch` starts at `start_offset`, as Kafka's
    /// `assign`: a repeat of the latest epoch at the same or a later
    /// offset changes nothing; otherwise entries with an epoch at least
    /// `epoch` or a start at least `start_offset` are dropped first (an
    /// epoch in which nothing was written leaves no entry behind).
    /// Negative epochs or offsets are ignored.
    #[cfg(any(test, feature = "testing"))]
    pub fn assign(&mut self, epoch: i32, start_offset: i64) {
        if epoch < 0 || start_offset < 0 {
            return;
        }
        if let Some(last) = self.entries.last() {
            if last.epoch == epoch && start_offset >= last.start_offset {
                return;
            }
        }
        while self
            .entries
            .last()
            .is_some_and(|e| e.epoch >= epoch || e.start_offset >= start_offset)
        {
            self.entries.pop();
        }
        self.entries.push(EpochStart {
            epoch,
            start_offset,
        });
    }

    /// The entries once the log starts at `log_start` (Kafka's
    /// `truncateFromStart`): entries starting at or before it are dropped
    /// and the last of them comes back starting at `log_start`.
    fn starting_at(&self, log_start: i64) -> Vec<EpochStart> {
        let before = self
            .entries
            .iter()
            .take_while(|e| e.start_offset <= log_start)
            .count();
        let mut entries = Vec::with_capacity(self.entries.len());
        if let Some(last_removed) = before.checked_sub(1).map(|i| self.entries[i]) {
            entries.push(EpochStart {
                epoch: last_removed.epoch,
                start_offset: log_start,
            });
        }
        entries.extend_from_slice(&self.entries[before..]);
        entries
    }

    /// The answer to OffsetForLeaderEpoch for `requested`, as
    /// `(leader_epoch, end_offset)`, computed like Kafka's
    /// `LeaderEpochFileCache::endOffsetFor` on a log spanning
    /// `log_start..log_end`:
    ///
    /// - -1 (undefined) → (-1, -1);
    /// - the current epoch → (it, `log_end`);
    /// - an epoch with a later one → (the largest known epoch ≤ it, the
    ///   start of the first epoch after it), i.e. where it ended;
    /// - an epoch before every known one → (it, the start of the earliest
    ///   known epoch): its data is gone, the log resumes there;
    /// - an epoch after every known one → (-1, -1).
    pub fn end_offset_for(&self, requested: i32, log_start: i64, log_end: i64) -> (i32, i64) {
        if requested == UNDEFINED.0 {
            return UNDEFINED;
        }
        let entries = self.starting_at(log_start);
        if entries.last().is_some_and(|e| e.epoch == requested) {
            return (requested, log_end);
        }
        let Some(higher) = entries.iter().find(|e| e.epoch > requested) else {
            return UNDEFINED;
        };
        match entries.iter().rev().find(|e| e.epoch <= requested) {
            None => (requested, higher.start_offset),
            Some(floor) => (floor.epoch, higher.start_offset),
        }
    }
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Topology")
            .field("seed", &self.seed)
            .field("replication_factor", &self.replication_factor)
            .finish_non_exhaustive()
    }
}

impl Topology {
    /// A one-node topology: `node` leads everything at epoch 0.
    pub fn single(node: BrokerAddress) -> Topology {
        Topology::new(vec![node], 0, 1)
    }

    /// A topology over `nodes` (all alive), placing each partition on
    /// `replication_factor` of them (capped at the node count) in a
    /// rotation that starts at a seed- and topic-dependent node.
    pub fn new(nodes: Vec<BrokerAddress>, seed: u64, replication_factor: usize) -> Topology {
        let count = nodes.len();
        let nodes = nodes
            .into_iter()
            .map(|address| {
                let entry = NodeEntry {
                    address,
                    alive: true,
                };
                (entry.address.node_id, entry)
            })
            .collect();
        Topology {
            seed,
            replication_factor: replication_factor.clamp(1, count.max(1)),
            inner: Mutex::new(Inner {
                nodes,
                ..Inner::default()
            }),
            end_offsets: OnceLock::new(),
        }
    }

    /// Installs how epoch bumps read a partition's log end offset (the
    /// broker state does this with its logs). Only the first call counts.
    /// Without a source, a bump records offset 0.
    pub fn set_end_offset_source(&self, source: EndOffsetSource) {
        let _ = self.end_offsets.set(source);
    }

    /// Records in `epochs` that `topic`-`partition` entered `epoch` at its
    /// current log end offset. Called with the topology locked, right after
    /// the bump, so no request sees the new epoch before it is recorded.
    #[cfg(any(test, feature = "testing"))]
    fn record_epoch(
        &self,
        epochs: &mut HashMap<(String, i32), EpochHistory>,
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

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change is a few map updates that leave the table consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Simulated replicas per partition.
    pub fn replication_factor(&self) -> usize {
        self.replication_factor
    }

    /// Every node id, running or not, in ascending order.
    pub fn node_ids(&self) -> Vec<i32> {
        self.lock().nodes.keys().copied().collect()
    }

    /// The running brokers, in node id order.
    pub fn live_brokers(&self) -> Vec<BrokerAddress> {
        let inner = self.lock();
        inner
            .nodes
            .values()
            .filter(|n| n.alive)
            .map(|n| n.address.clone())
            .collect()
    }

    /// How to reach `node_id`, running or not.
    pub fn broker(&self, node_id: i32) -> Option<BrokerAddress> {
        self.lock().nodes.get(&node_id).map(|n| n.address.clone())
    }

    /// The controller: the lowest running node id (-1 if none runs).
    pub fn controller(&self) -> i32 {
        let inner = self.lock();
        inner
            .nodes
            .values()
            .find(|n| n.alive)
            .map_or(-1, |n| n.address.node_id)
    }

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

    /// The node coordinating `key` (a group or transactional id): the
    /// pinned node while it runs, otherwise the running node with the
    /// highest rendezvous hash of the key, so stopping a node only moves
    /// the groups it coordinated. `None` when no node runs.
    pub fn coordinator(&self, key: &str) -> Option<i32> {
        let inner = self.lock();
        if let Some(&pinned) = inner.pinned_coordinators.get(key) {
            if inner.nodes.get(&pinned).is_some_and(|n| n.alive) {
                return Some(pinned);
            }
        }
        inner
            .nodes
            .values()
            .filter(|n| n.alive)
            .max_by_key(|n| mix(self.seed ^ n.address.node_id as u64, key))
            .map(|n| n.address.node_id)
    }

    /// Whether `node` coordinates `key`.
    pub fn coordinates(&self, key: &str, node: i32) -> bool {
        self.coordinator(key) == Some(node)
    }

    /// Pins the coordinator of `key` to `node` (which must run).
    #[cfg(any(test, feature = "testing"))]
    pub fn pin_coordinator(&self, key: &str, node: i32) -> Result<(), TopologyError> {
        let mut inner = self.lock();
        check_running(&inner, node)?;
        inner.pinned_coordinators.insert(key.to_string(), node);
        Ok(())
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

    /// Forgets the placements of a deleted topic, so a new topic of the
    /// same name starts over at epoch 0.
    pub fn forget_topic(&self, topic: &str) {
        let mut inner = self.lock();
        inner.partitions.retain(|(name, _), _| name != topic);
        inner.epochs.retain(|(name, _), _| name != topic);
    }
}

#[cfg(any(test, feature = "testing"))]
fn check_running(inner: &Inner, node: i32) -> Result<(), TopologyError> {
    match inner.nodes.get(&node) {
        None => Err(TopologyError::UnknownNode(node)),
        Some(n) if !n.alive => Err(TopologyError::NodeDown(node)),
        Some(_) => Ok(()),
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

/// A stable 64-bit hash of `seed` and `text` (FNV-1a, then a splitmix
/// finaliser): the same on every run and platform, unlike std's hasher.
fn mix(seed: u64, text: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn three(seed: u64) -> Topology {
        let nodes = (0..3)
            .map(|id| BrokerAddress {
                node_id: id,
                host: "127.0.0.1".to_string(),
                port: 9000 + id,
            })
            .collect();
        Topology::new(nodes, seed, 3)
    }

    #[test]
    fn leaders_rotate_over_the_nodes() {
        let topology = three(7);
        let mut led = [0; 3];
        for p in 0..6 {
            let placement = topology.placement("t", p);
            assert_eq!(placement.replicas.len(), 3);
            assert_eq!(placement.leader, placement.replicas[0]);
            led[placement.leader as usize] += 1;
        }
        assert_eq!(led, [2, 2, 2]);
    }

    #[test]
    fn placement_depends_only_on_the_seed() {
        let a: Vec<i32> = (0..4).map(|p| three(1).placement("x", p).leader).collect();
        let b: Vec<i32> = (0..4).map(|p| three(1).placement("x", p).leader).collect();
        assert_eq!(a, b);
        let differs = (0..64).any(|seed| three(seed).placement("x", 0).leader != a[0]);
        assert!(differs, "the seed must influence placement");
    }

    #[test]
    fn stopping_the_leader_elects_the_next_replica_and_bumps_the_epoch() {
        let topology = three(0);
        let before = topology.placement("t", 0);
        topology.set_alive(before.leader, false).unwrap();
        let after = topology.placement("t", 0);
        assert_ne!(after.leader, before.leader);
        assert_eq!(after.leader_epoch, before.leader_epoch + 1);
        assert_eq!(after.offline, vec![before.leader]);
        assert_eq!(
            topology.check_leader("t", 0, before.leader, -1),
            Err(ResponseError::NotLeaderOrFollower)
        );
    }

    #[test]
    fn epochs_are_checked_like_kafka() {
        let topology = three(0);
        let leader = topology.placement("t", 1).leader;
        let epoch = topology.move_leader("t", 1, leader).unwrap();
        assert_eq!(epoch, 1);
        assert_eq!(topology.check_leader("t", 1, leader, -1), Ok(1));
        assert_eq!(topology.check_leader("t", 1, leader, 1), Ok(1));
        assert_eq!(
            topology.check_leader("t", 1, leader, 0),
            Err(ResponseError::FencedLeaderEpoch)
        );
        assert_eq!(
            topology.check_leader("t", 1, leader, 2),
            Err(ResponseError::UnknownLeaderEpoch)
        );
    }

    #[test]
    fn all_replicas_down_means_no_leader_until_one_returns() {
        let topology = three(0);
        for id in 0..3 {
            topology.set_alive(id, false).unwrap();
        }
        assert_eq!(topology.placement("t", 0).leader, -1);
        assert_eq!(topology.controller(), -1);
        assert_eq!(topology.coordinator("g"), None);
        topology.set_alive(2, true).unwrap();
        assert_eq!(topology.placement("t", 0).leader, 2);
    }

    #[test]
    fn coordinators_move_only_when_their_node_stops_or_are_pinned() {
        let topology = three(3);
        let groups: Vec<String> = (0..30).map(|i| format!("group-{i}")).collect();
        let before: Vec<Option<i32>> = groups.iter().map(|g| topology.coordinator(g)).collect();
        topology.set_alive(1, false).unwrap();
        for (group, old) in groups.iter().zip(&before) {
            let now = topology.coordinator(group);
            if *old == Some(1) {
                assert!(matches!(now, Some(0 | 2)));
            } else {
                assert_eq!(now, *old, "{group} moved although its node runs");
            }
        }
        assert_eq!(
            topology.pin_coordinator("g", 1),
            Err(TopologyError::NodeDown(1))
        );
        topology.pin_coordinator("g", 2).unwrap();
        assert!(topology.coordinates("g", 2));
    }

    fn history(entries: &[(i32, i64)]) -> EpochHistory {
        let mut history = EpochHistory { entries: vec![] };
        for &(epoch, start) in entries {
            history.assign(epoch, start);
        }
        assert_eq!(history.entries().len(), entries.len(), "{entries:?}");
        history
    }

    #[test]
    fn the_initial_history_is_epoch_zero_up_to_the_log_end() {
        let initial = EpochHistory::default();
        assert_eq!(initial.end_offset_for(0, 0, 10), (0, 10));
        assert_eq!(initial.end_offset_for(0, 4, 10), (0, 10));
        assert_eq!(initial.end_offset_for(1, 0, 10), (-1, -1), "unknown epoch");
        assert_eq!(initial.end_offset_for(-1, 0, 10), (-1, -1), "undefined");
    }

    #[test]
    fn an_epoch_ends_where_the_next_known_one_starts() {
        let h = history(&[(0, 0), (1, 5), (3, 12)]);
        assert_eq!(h.end_offset_for(0, 0, 20), (0, 5));
        assert_eq!(h.end_offset_for(1, 0, 20), (1, 12));
        // No entry for 2: the largest known epoch below it, and where 3 starts.
        assert_eq!(h.end_offset_for(2, 0, 20), (1, 12));
        assert_eq!(h.end_offset_for(3, 0, 20), (3, 20), "current: log end");
        assert_eq!(h.end_offset_for(4, 0, 20), (-1, -1), "future epoch");
    }

    #[test]
    fn epochs_before_the_earliest_known_one_end_at_its_start() {
        let h = history(&[(2, 7), (4, 9)]);
        // Kafka answers with the requested epoch and the first known start.
        assert_eq!(h.end_offset_for(1, 0, 30), (1, 7));
        assert_eq!(h.end_offset_for(0, 0, 30), (0, 7));
    }

    #[test]
    fn the_log_start_cuts_the_history_like_kafka() {
        let h = history(&[(0, 0), (1, 5), (2, 10)]);
        // Log starts at 7: epoch 0 is gone, epoch 1 now starts at 7.
        assert_eq!(h.end_offset_for(0, 7, 15), (0, 7));
        assert_eq!(h.end_offset_for(1, 7, 15), (1, 10));
        assert_eq!(h.end_offset_for(2, 7, 15), (2, 15));
        // Log starts at 10: only epoch 2 remains.
        assert_eq!(h.end_offset_for(1, 10, 15), (1, 10));
        assert_eq!(h.end_offset_for(0, 10, 15), (0, 10));
        assert_eq!(h.end_offset_for(2, 12, 15), (2, 15));
    }

    #[test]
    fn assign_keeps_epochs_and_offsets_monotonic() {
        let mut h = EpochHistory::default();
        h.assign(0, 3);
        assert_eq!(
            h,
            EpochHistory::default(),
            "same epoch, later offset: no-op"
        );
        // Nothing was written in epoch 0: a bump at offset 0 replaces it.
        h.assign(1, 0);
        assert_eq!(
            h.entries(),
            &[EpochStart {
                epoch: 1,
                start_offset: 0
            }]
        );
        assert_eq!(h.end_offset_for(0, 0, 4), (0, 0));
        h.assign(2, 4);
        h.assign(3, 4);
        assert_eq!(
            h.entries().iter().map(|e| e.epoch).collect::<Vec<_>>(),
            vec![1, 3],
            "epoch 2 wrote nothing"
        );
        assert_eq!(h.end_offset_for(2, 0, 9), (1, 4));
        h.assign(-1, 10);
        h.assign(5, -1);
        assert_eq!(h.entries().len(), 2, "negative values are ignored");
    }

    #[test]
    fn bumps_record_the_log_end_offset_of_the_moment() {
        use std::sync::atomic::{AtomicI64, Ordering};
        use std::sync::Arc;

        let topology = three(0);
        let end = Arc::new(AtomicI64::new(5));
        let source = end.clone();
        topology.set_end_offset_source(Box::new(move |topic, partition| {
            (topic == "t" && partition == 0).then(|| source.load(Ordering::SeqCst))
        }));
        let first = topology.placement("t", 0).leader;
        let second = (first + 1) % 3;
        assert_eq!(topology.move_leader("t", 0, second).unwrap(), 1);
        end.store(9, Ordering::SeqCst);
        topology.set_alive(second, false).unwrap();
        let leader = topology.placement("t", 0).leader;
        assert_ne!(leader, second);
        let h = topology.epoch_history("t", 0, leader, 2).unwrap();
        let starts: Vec<(i32, i64)> = h
            .entries()
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect();
        assert_eq!(starts, vec![(0, 0), (1, 5), (2, 9)]);
        assert_eq!(h.end_offset_for(1, 0, 12), (1, 9));

        assert_eq!(
            topology.epoch_history("t", 0, second, -1),
            Err(ResponseError::NotLeaderOrFollower)
        );
        assert_eq!(
            topology.epoch_history("t", 0, leader, 1),
            Err(ResponseError::FencedLeaderEpoch)
        );
        assert_eq!(
            topology.epoch_history("t", 0, leader, 3),
            Err(ResponseError::UnknownLeaderEpoch)
        );
        // Another partition keeps the initial history; a deleted topic
        // starts over.
        let other = topology.placement("t", 1).leader;
        assert_eq!(
            topology.epoch_history("t", 1, other, -1),
            Ok(EpochHistory::default())
        );
        topology.forget_topic("t");
        let leader = topology.placement("t", 0).leader;
        assert_eq!(
            topology.epoch_history("t", 0, leader, 0),
            Ok(EpochHistory::default())
        );
    }

    #[test]
    fn single_node_leads_everything_at_epoch_zero() {
        let topology = Topology::single(BrokerAddress {
            node_id: 4,
            host: "h".to_string(),
            port: 1,
        });
        assert_eq!(topology.check_leader("any", 99, 4, -1), Ok(0));
        assert_eq!(topology.placement("any", 3).leader, 4);
        assert_eq!(topology.coordinator("g"), Some(4));
        assert_eq!(topology.controller(), 4);
        assert_eq!(
            topology.epoch_history("any", 0, 4, -1),
            Ok(EpochHistory::default())
        );
        assert_eq!(
            topology.epoch_history("any", 0, 4, 1),
            Err(ResponseError::UnknownLeaderEpoch)
        );
    }
}
