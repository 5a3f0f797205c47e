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
//!
//! Files: this one holds the node table and the shared lock;
//! `placement.rs` partition leaders, replicas and elections;
//! `coordinators.rs` who coordinates each group; `epoch_history.rs` the
//! per-partition leader-epoch history.

mod coordinators;
mod epoch_history;
mod placement;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, OnceLock};

pub use epoch_history::EpochHistory;
pub use placement::Placement;

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
}

#[cfg(any(test, feature = "testing"))]
fn check_running(inner: &Inner, node: i32) -> Result<(), TopologyError> {
    match inner.nodes.get(&node) {
        None => Err(TopologyError::UnknownNode(node)),
        Some(n) if !n.alive => Err(TopologyError::NodeDown(node)),
        Some(_) => Ok(()),
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
