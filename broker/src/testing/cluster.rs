//! [`Cluster`]: N brokers in one process, one shared data state, with
//! controls to move leaders and coordinators, stop and start nodes, kill
//! connections and inject faults. See the [module docs](super).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::task::JoinHandle;

use super::faults::Faults;
use super::node::Node;
use crate::broker::{local_address, BrokerBuilder, BrokerError};
use crate::group::GroupConfig;
use crate::handle::{close_storage, drain_connections};
use crate::server::endpoint::Endpoint;
use crate::server::intercept::RequestInterceptor;
use crate::server::shutdown::ShutdownTrigger;
use crate::state::BrokerState;
use crate::storage::{FlushPolicy, LogConfig};
use crate::topology::{BrokerAddress, Placement, Topology, TopologyError};
use crate::Broker;

/// Why a cluster control or start failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Starting, binding or stopping the shared broker state failed.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The node id is not part of this cluster.
    #[error("node {0} is not part of this cluster")]
    UnknownNode(i32),
    /// The node is stopped; start it first.
    #[error("node {0} is stopped; start it before giving it work")]
    NodeDown(i32),
    /// The topic or partition does not exist.
    #[error("partition {topic}-{partition} does not exist")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
    },
    /// A topic could not be created.
    #[error("cannot create topic: {0}")]
    Topic(String),
    /// A builder setting is unusable.
    #[error("invalid cluster configuration: {0}")]
    Config(String),
}

impl From<TopologyError> for ClusterError {
    fn from(e: TopologyError) -> Self {
        match e {
            TopologyError::UnknownNode(n) => ClusterError::UnknownNode(n),
            TopologyError::NodeDown(n) => ClusterError::NodeDown(n),
        }
    }
}

/// Configures and starts a [`Cluster`].
#[derive(Debug)]
pub struct ClusterBuilder {
    nodes: usize,
    seed: Option<u64>,
    replication_factor: Option<usize>,
    broker: BrokerBuilder,
}

impl ClusterBuilder {
    pub(crate) fn new() -> ClusterBuilder {
        ClusterBuilder {
            nodes: 3,
            seed: None,
            replication_factor: None,
            broker: Broker::builder().temporary(),
        }
    }

    /// Number of brokers (default 3); node ids are 0..n.
    pub fn nodes(mut self, count: usize) -> Self {
        self.nodes = count;
        self
    }

    /// Makes every random choice (leader spread, random fault rules)
    /// repeatable. Without it a random seed is used; [`Cluster::seed`]
    /// tells which, to replay a failure.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Simulated replicas per partition (default min(3, nodes)).
    pub fn replication_factor(mut self, replicas: usize) -> Self {
        self.replication_factor = Some(replicas);
        self
    }

    /// Store data in `path` instead of a temporary directory.
    pub fn data_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.broker = self.broker.data_dir(path);
        self
    }

    /// Partitions of auto-created topics (`num.partitions`).
    pub fn default_partitions(mut self, partitions: i32) -> Self {
        self.broker = self.broker.default_partitions(partitions);
        self
    }

    /// Whether unknown topics are created on first use.
    pub fn auto_create_topics(mut self, enabled: bool) -> Self {
        self.broker = self.broker.auto_create_topics(enabled);
        self
    }

    /// Log settings every topic starts from.
    pub fn log_config(mut self, config: LogConfig) -> Self {
        self.broker = self.broker.log_config(config);
        self
    }

    /// Whether appends are fsynced before they are acknowledged.
    pub fn fsync(mut self, policy: FlushPolicy) -> Self {
        self.broker = self.broker.fsync(policy);
        self
    }

    /// Group coordinator settings (e.g. a shorter initial rebalance delay).
    pub fn group_config(mut self, config: GroupConfig) -> Self {
        self.broker = self.broker.group_config(config);
        self
    }

    /// Any other broker setting; the listen and advertised addresses are
    /// ignored (every node listens on its own 127.0.0.1 port).
    pub fn broker(mut self, configure: impl FnOnce(BrokerBuilder) -> BrokerBuilder) -> Self {
        self.broker = configure(self.broker);
        self
    }

    /// Opens the shared state and starts every node.
    pub async fn start(self) -> Result<Cluster, ClusterError> {
        if self.nodes == 0 {
            return Err(ClusterError::Config(
                "a cluster needs at least one node".into(),
            ));
        }
        let seed = self.seed.unwrap_or_else(rand::random);
        let prepared = self.broker.prepare()?;
        let first_id = prepared.config.node_id;
        let mut listeners = Vec::with_capacity(self.nodes);
        let mut addresses = Vec::with_capacity(self.nodes);
        for i in 0..self.nodes {
            let listener = crate::broker::bind("127.0.0.1:0").await?;
            let address = local_address(&listener, "127.0.0.1:0")?;
            let node_id = first_id + i32::try_from(i).unwrap_or(i32::MAX - first_id);
            addresses.push((node_id, address));
            listeners.push(listener);
        }
        let Some(&(_, first_address)) = addresses.first() else {
            return Err(ClusterError::Config(
                "a cluster needs at least one node".into(),
            ));
        };
        let identity = prepared.identity(first_address)?;
        let brokers = addresses
            .iter()
            .map(|(node_id, address)| BrokerAddress {
                node_id: *node_id,
                host: address.ip().to_string(),
                port: i32::from(address.port()),
            })
            .collect();
        let replication = self.replication_factor.unwrap_or(3).min(self.nodes);
        let topology = Topology::new(brokers, seed, replication);
        let opened = prepared.open(identity, topology)?;
        let faults = Arc::new(Faults::new(seed));
        let interceptor: Arc<dyn RequestInterceptor> = faults.clone();
        let mut nodes = Vec::with_capacity(self.nodes);
        for ((node_id, address), listener) in addresses.into_iter().zip(listeners) {
            let endpoint = Arc::new(Endpoint::intercepted(node_id, interceptor.clone()));
            let node = Node::new(node_id, address, endpoint);
            node.serve(listener, opened.state.clone()).await;
            nodes.push(node);
        }
        tracing::info!(nodes = nodes.len(), seed, data_dir = %opened.state.config().data_dir.display(),
            "cluster started");
        Ok(Cluster {
            state: opened.state,
            nodes,
            faults,
            seed,
            trigger: opened.trigger,
            maintenance: Some(opened.maintenance),
            clean_marker: opened.clean_marker,
            _data_lock: opened.lock,
            _temp_dir: opened.temp_dir,
        })
    }
}

/// N brokers in one process sharing one data state; see the [module docs](super).
///
/// Dropping it stops every node without waiting; call
/// [`Cluster::shutdown`] for a clean stop.
pub struct Cluster {
    state: Arc<BrokerState>,
    nodes: Vec<Node>,
    faults: Arc<Faults>,
    seed: u64,
    trigger: ShutdownTrigger,
    maintenance: Option<JoinHandle<()>>,
    clean_marker: PathBuf,
    /// The data directory's lock, dropped before the temporary directory.
    _data_lock: crate::data_lock::DataDirLock,
    _temp_dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("nodes", &self.node_ids())
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// A builder: 3 nodes, temporary data, random seed.
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::new()
    }

    fn node(&self, id: i32) -> Result<&Node, ClusterError> {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .ok_or(ClusterError::UnknownNode(id))
    }

    /// `bootstrap.servers` naming every node, running or not
    /// (`127.0.0.1:p1,127.0.0.1:p2,...`).
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(|n| n.address.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every node id, in ascending order.
    pub fn node_ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// The address node `id` listens on (kept across restarts).
    pub fn address(&self, id: i32) -> Option<SocketAddr> {
        self.node(id).ok().map(|n| n.address)
    }

    /// The seed of every random choice.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The shared data directory.
    pub fn data_dir(&self) -> &Path {
        &self.state.config().data_dir
    }

    /// The fault rules and hooks (see [`Faults`]).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Installs a fresh set of storage faults in the shared logs and the
    /// group coordinator's offsets log, and returns it (every point starts
    /// disarmed): a failing disk, where [`faults`](Self::faults) fails
    /// requests.
    pub fn storage_faults(&self) -> Arc<crate::StorageFaults> {
        let faults = crate::StorageFaults::new();
        self.state.logs().set_faults(faults.clone());
        self.state
            .groups()
            .set_faults(crate::storage::Faults::installed(faults.clone()));
        faults
    }

    /// Stops (true) or resumes (false) the transaction coordinator's
    /// completion of prepared transactions: with it held, EndTxn writes
    /// PrepareCommit or PrepareAbort and answers, but no marker is written,
    /// as if the broker stopped right after (a restart then completes it).
    pub fn hold_transaction_completions(&self, hold: bool) {
        self.state.transactions().hold_completions(hold);
    }

    /// The placement (leader, epoch, replicas) of a partition, if it exists.
    pub fn placement(&self, topic: &str, partition: i32) -> Option<Placement> {
        self.check_partition(topic, partition).ok()?;
        Some(self.state.topology().placement(topic, partition))
    }

    /// The leader of a partition (-1 when none runs), if it exists.
    pub fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.placement(topic, partition).map(|p| p.leader)
    }

    /// The node coordinating `group` (`None` when no node runs).
    pub fn coordinator(&self, group: &str) -> Option<i32> {
        self.state.topology().coordinator(group)
    }

    /// Creates a topic (as CreateTopics would, with default configs).
    pub async fn create_topic(&self, name: &str, partitions: i32) -> Result<(), ClusterError> {
        self.state
            .topics()
            .create_topic(name, partitions, BTreeMap::new(), false)
            .await
            .map(|_| ())
            .map_err(|e| ClusterError::Topic(e.message))
    }

    fn check_partition(&self, topic: &str, partition: i32) -> Result<(), ClusterError> {
        match self.state.catalog().get(topic) {
            Some(meta) if (0..meta.partitions).contains(&partition) => Ok(()),
            _ => Err(ClusterError::UnknownPartition {
                topic: topic.to_string(),
                partition,
            }),
        }
    }

    /// Makes running node `to` the leader of `topic`-`partition` and bumps
    /// the leader epoch; returns the new epoch. The old leader answers
    /// NOT_LEADER_OR_FOLLOWER from now on (fetches parked on it wake up
    /// and say so).
    pub fn move_leader(&self, topic: &str, partition: i32, to: i32) -> Result<i32, ClusterError> {
        self.check_partition(topic, partition)?;
        let epoch = self.state.topology().move_leader(topic, partition, to)?;
        self.state.notify_append(topic, partition);
        tracing::info!(topic, partition, leader = to, epoch, "leader moved");
        Ok(epoch)
    }

    /// Makes running node `to` the coordinator of `group`. The group's
    /// state is shared, so members keep their generation and commits; the
    /// old coordinator answers NOT_COORDINATOR and clients re-find it.
    pub fn move_coordinator(&self, group: &str, to: i32) -> Result<(), ClusterError> {
        self.state.topology().pin_coordinator(group, to)?;
        tracing::info!(group, coordinator = to, "coordinator moved");
        Ok(())
    }

    /// Stops node `id` like a crash: its listener closes (connections are
    /// refused), every open connection drops mid-request, and the
    /// partitions it led get new leaders among the running replicas (epoch
    /// bumped), as a controller would elect. Groups it coordinated move to
    /// other running nodes. A no-op if it is already stopped.
    pub async fn stop_broker(&self, id: i32) -> Result<(), ClusterError> {
        let node = self.node(id)?;
        let _control = node.control().await;
        if node.stop().await {
            self.state.topology().set_alive(id, false)?;
            tracing::info!(node = id, "broker stopped");
        }
        Ok(())
    }

    /// Starts node `id` again on the same port. It becomes a replica in
    /// sync again and leads partitions that had no running replica; other
    /// leaders stay where they are (use [`Cluster::move_leader`]). A no-op
    /// if it runs.
    pub async fn start_broker(&self, id: i32) -> Result<(), ClusterError> {
        let node = self.node(id)?;
        let _control = node.control().await;
        if node.is_running().await {
            return Ok(());
        }
        let listener = node.bind().await?;
        self.state.topology().set_alive(id, true)?;
        node.serve(listener, self.state.clone()).await;
        tracing::info!(node = id, "broker started again");
        Ok(())
    }

    /// Whether node `id` runs.
    pub async fn is_running(&self, id: i32) -> bool {
        match self.node(id) {
            Ok(node) => node.is_running().await,
            Err(_) => false,
        }
    }

    /// Closes every open client connection of node `id` now (requests in
    /// progress are dropped mid-way); new connections are accepted.
    pub fn kill_connections(&self, id: i32) -> Result<(), ClusterError> {
        self.node(id)?.endpoint.kill_connections();
        Ok(())
    }

    /// Stops every node (in-flight requests get the shutdown grace period),
    /// flushes the logs and marks the data directory cleanly shut down.
    pub async fn shutdown(mut self) -> Result<(), ClusterError> {
        let mut open = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            open.extend(node.close_listener().await);
        }
        self.trigger.trigger();
        // Parked JoinGroup/SyncGroup requests are answered now.
        self.state.groups().shutdown().await;
        let grace = self.state.config().shutdown_grace;
        for connections in open {
            drain_connections(connections, grace).await;
        }
        close_storage(&self.state, self.maintenance.take(), &self.clean_marker).await?;
        Ok(())
    }
}
