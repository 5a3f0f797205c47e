//! Starting and stopping a broker: the embedding API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), durian_broker::BrokerError> {
//! let broker = durian_broker::Broker::builder().temporary().listen("127.0.0.1:0").start().await?;
//! println!("bootstrap.servers={}", broker.bootstrap());
//! broker.shutdown().await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::background::maintenance_loop;
use crate::catalog::{CatalogError, TopicCatalog};
use crate::config::{BrokerConfig, NodeIdentity};
use crate::data_dir::{node_identity, DataDirs};
use crate::data_lock::DataDirLock;
use crate::group::{GroupConfig, GroupCoordinator, GroupError};
use crate::handle::BrokerHandle;
use crate::producer_ids::ProducerIdAllocator;
use crate::security::builder::{listener_info, seed_scram_users};
use crate::security::credentials::ScramStore;
use crate::security::sasl::SaslServer;
use crate::security::{AclStoreError, Authorizer, Principal};
use crate::server::endpoint::Endpoint;
use crate::server::listener;
use crate::server::listener::ListenerSecurity;
use crate::server::shutdown::{self, Shutdown, ShutdownTrigger};
use crate::state::BrokerState;
use crate::storage::{FlushPolicy, LogConfig, LogManager, StorageError};
use crate::topology::{BrokerAddress, Topology};
use crate::txn::{TransactionCoordinator, TxnConfig, TxnLogError};

/// Why a broker could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A setting is unusable.
    #[error("invalid broker configuration: {0}")]
    Config(String),
    /// The data directory could not be prepared.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The topic catalog could not be loaded or saved.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The partition logs could not be opened or flushed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The logs of a stored topic could not be opened, reconfigured or,
    /// for a topic missing from the catalog, removed.
    #[error("storage: {message}")]
    TopicLogs {
        /// The Kafka error code the failure maps to.
        code: i16,
        /// What went wrong, naming the topic.
        message: String,
    },
    /// The group coordinator could not be opened.
    #[error("group coordinator: {0}")]
    Group(#[from] GroupError),
    /// The transaction log could not be opened or replayed.
    #[error("transaction coordinator: {0}")]
    Transactions(#[from] TxnLogError),
    /// The ACL file could not be loaded.
    #[error(transparent)]
    Acls(#[from] AclStoreError),
    /// Another broker holds the data directory (its `.lock` file names a
    /// running process).
    #[error(
        "data directory {path} is in use by {holder}: stop it first, or use another --data-dir"
    )]
    DataDirLocked {
        /// The data directory.
        path: PathBuf,
        /// Who holds it, e.g. "process 4711".
        holder: String,
    },
}

/// Entry point of the embedding API.
#[derive(Debug)]
pub struct Broker;

impl Broker {
    /// A builder with Kafka's defaults; call `data_dir` or `temporary`.
    pub fn builder() -> BrokerBuilder {
        BrokerBuilder {
            config: BrokerConfig::new(PathBuf::new()),
            temporary: false,
            groups: GroupConfig::default(),
            transactions: TxnConfig::default(),
            metrics_listen: None,
        }
    }
}

/// Configures and starts a broker.
#[derive(Debug)]
pub struct BrokerBuilder {
    pub(crate) config: BrokerConfig,
    temporary: bool,
    groups: GroupConfig,
    transactions: TxnConfig,
    metrics_listen: Option<String>,
}

impl BrokerBuilder {
    /// Store data in `path` (created if missing); a restart on the same path keeps topics and data.
    pub fn data_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.data_dir = path.into();
        self.temporary = false;
        self
    }

    /// Store data in a fresh temporary directory, deleted on shutdown or drop.
    pub fn temporary(mut self) -> Self {
        self.temporary = true;
        self
    }

    /// Address to bind (`127.0.0.1:0` picks a free port).
    pub fn listen(mut self, address: impl Into<String>) -> Self {
        self.config.listen = address.into();
        self
    }

    /// `host:port` announced to clients instead of the bound address.
    pub fn advertised_listener(mut self, address: impl Into<String>) -> Self {
        self.config.advertised_listener = Some(address.into());
        self
    }

    /// Serve Prometheus metrics (`GET /metrics`) over HTTP on `address`
    /// (`127.0.0.1:0` picks a free port; see
    /// [`BrokerHandle::metrics_addr`]). The page is not authenticated, so
    /// bind an address only those allowed to see it can reach. Off unless
    /// called.
    pub fn metrics_listen(mut self, address: impl Into<String>) -> Self {
        self.metrics_listen = Some(address.into());
        self
    }

    /// This broker's node id.
    pub fn node_id(mut self, id: i32) -> Self {
        self.config.node_id = id;
        self
    }

    /// Fixed cluster id (otherwise the stored one, or a new random one).
    pub fn cluster_id(mut self, id: impl Into<String>) -> Self {
        self.config.cluster_id = Some(id.into());
        self
    }

    /// Partitions of auto-created topics (`num.partitions`).
    pub fn default_partitions(mut self, partitions: i32) -> Self {
        self.config.default_partitions = partitions;
        self
    }

    /// Whether unknown topics are created on first use (`auto.create.topics.enable`).
    pub fn auto_create_topics(mut self, enabled: bool) -> Self {
        self.config.auto_create_topics = enabled;
        self
    }

    /// Largest accepted record batch (`message.max.bytes`).
    pub fn message_max_bytes(mut self, bytes: usize) -> Self {
        self.config.log_config.max_message_bytes = bytes;
        self
    }

    /// Log settings every topic starts from.
    pub fn log_config(mut self, config: LogConfig) -> Self {
        self.config.log_config = config;
        self
    }

    /// Whether every append is fsynced before it is acknowledged.
    pub fn fsync(mut self, policy: FlushPolicy) -> Self {
        self.config.log_config.flush = policy;
        self
    }

    /// Largest accepted request frame (`socket.request.max.bytes`).
    pub fn socket_request_max_bytes(mut self, bytes: usize) -> Self {
        self.config.socket_request_max_bytes = bytes;
        self
    }

    /// Close connections idle for this long (`connections.max.idle.ms`).
    pub fn connections_max_idle(mut self, idle: std::time::Duration) -> Self {
        self.config.connections_max_idle = idle;
        self
    }

    /// How often retention runs (`log.retention.check.interval.ms`).
    pub fn retention_check_interval(mut self, interval: std::time::Duration) -> Self {
        self.config.retention_check_interval = interval;
        self
    }

    /// Request bytes read but not yet processed, over all connections
    /// (`queued.max.request.bytes`).
    pub fn queued_max_request_bytes(mut self, bytes: usize) -> Self {
        self.config.queued_max_request_bytes = bytes;
        self
    }

    /// Most concurrent connections (`max.connections`).
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.config.max_connections = connections;
        self
    }

    /// Most connections from one IP address (`max.connections.per.ip`).
    pub fn max_connections_per_ip(mut self, connections: usize) -> Self {
        self.config.max_connections_per_ip = connections;
        self
    }

    /// How long the rest of a request may take once its first byte arrived.
    pub fn request_body_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.request_body_timeout = timeout;
        self
    }

    /// How long writing one response may take before the connection is closed.
    pub fn response_write_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.config.response_write_timeout = timeout;
        self
    }

    /// Response bytes built but not yet written, over all connections.
    pub fn queued_max_response_bytes(mut self, bytes: usize) -> Self {
        self.config.queued_max_response_bytes = bytes;
        self
    }

    /// Most bytes one produced batch may decompress to.
    pub fn max_decompressed_batch_bytes(mut self, bytes: usize) -> Self {
        self.config.max_decompressed_batch_bytes = bytes;
        self
    }

    /// Decompression memory shared by all produced batches being checked at once.
    pub fn decompression_budget_bytes(mut self, bytes: usize) -> Self {
        self.config.decompression_budget_bytes = bytes;
        self
    }

    /// How long a compressed batch waits for decompression budget.
    pub fn decompression_wait(mut self, wait: std::time::Duration) -> Self {
        self.config.decompression_wait = wait;
        self
    }

    /// Most topics one request may auto-create.
    pub fn max_auto_create_topics_per_request(mut self, topics: usize) -> Self {
        self.config.max_auto_create_topics_per_request = topics;
        self
    }

    /// Most topics auto-creation may bring the catalog to.
    pub fn max_auto_created_topics(mut self, topics: usize) -> Self {
        self.config.max_auto_created_topics = topics;
        self
    }

    /// Most fetch sessions (KIP-227) held at once
    /// (`max.incremental.fetch.session.cache.slots`); 0 turns them off.
    pub fn fetch_session_cache_slots(mut self, slots: usize) -> Self {
        self.config.fetch_session_cache_slots = slots;
        self
    }

    /// Principals allowed everything whatever the ACLs say (`super.users`).
    pub fn super_users(mut self, users: impl IntoIterator<Item = Principal>) -> Self {
        self.config.authorizer.super_users = users.into_iter().collect();
        self
    }

    /// Whether a resource no ACL names is open to every principal
    /// (`allow.everyone.if.no.acl.found`; default: true while no listener
    /// authenticates clients, false once one does).
    pub fn allow_everyone_if_no_acl_found(mut self, allow: bool) -> Self {
        self.config.authorizer.allow_everyone_if_no_acl_found = Some(allow);
        self
    }

    /// Test hook: requests whose header `client_id` is `client_id` are
    /// authorized as `principal` (when their connection is anonymous).
    #[cfg(feature = "testing")]
    pub fn principal_for_client_id(mut self, client_id: &str, principal: Principal) -> Self {
        self.config
            .authorizer
            .principal_by_client_id
            .push((client_id.to_string(), principal));
        self
    }

    /// Replaces the whole configuration (the data dir included).
    pub fn config(mut self, config: BrokerConfig) -> Self {
        self.config = config;
        self
    }

    /// Applies settings by their `server.properties` names, in order
    /// ([`crate::SERVER_PROPERTIES`]; a later one wins). Fails on the first
    /// unknown name or unusable value, naming it.
    pub fn properties<K, V>(
        mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, BrokerError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        for (name, value) in pairs {
            let (name, value) = (name.as_ref(), value.as_ref());
            crate::server_properties::set_group_property(&mut self.groups, name, value)
                .or_else(|| {
                    crate::server_properties::set_txn_property(&mut self.transactions, name, value)
                })
                .unwrap_or_else(|| self.config.set_property(name, value))?;
        }
        Ok(self)
    }

    /// Settings of the group coordinator (rebalance delay, session bounds, offset retention).
    pub fn group_config(mut self, config: GroupConfig) -> Self {
        self.groups = config;
        self
    }

    /// Settings of the transaction coordinator (transaction.max.timeout.ms,
    /// the timed-out transaction check interval).
    pub fn txn_config(mut self, config: TxnConfig) -> Self {
        self.transactions = config;
        self
    }

    /// Opens the data directory, binds the listeners and starts serving.
    pub async fn start(mut self) -> Result<BrokerHandle, BrokerError> {
        let metrics_listen = self.metrics_listen.take();
        let prepared = self.prepare()?;
        let specs = prepared.config.effective_listeners();
        // TLS files are read before anything binds, so a bad certificate
        // fails the start with its own message.
        let acceptor = match &prepared.config.tls {
            Some(tls) if specs.iter().any(|l| l.protocol.uses_tls()) => Some(
                crate::security::tls::acceptor(tls)
                    .map_err(|e| BrokerError::Config(e.to_string()))?,
            ),
            _ => None,
        };
        let mut bound = Vec::with_capacity(specs.len());
        for spec in specs {
            let listener = bind(&spec.bind).await?;
            let address = local_address(&listener, &spec.bind)?;
            bound.push((spec, listener, address));
        }
        let local_addr = bound[0].2;
        let metrics_listener = match &metrics_listen {
            Some(address) => {
                let listener = bind(address).await?;
                let bound_to = local_address(&listener, address)?;
                Some((listener, bound_to))
            }
            None => None,
        };
        let node = prepared.identity(local_addr)?;
        let topology = Topology::single(BrokerAddress {
            node_id: node.node_id,
            host: node.host.clone(),
            port: node.port,
        });
        let opened = prepared.open(node, topology)?;
        let state = opened.state.clone();
        let endpoint = Arc::new(Endpoint::new(state.node().node_id));
        let sasl = Arc::new(SaslServer {
            config: state.config().sasl.clone(),
            store: state.scram_credentials().clone(),
        });
        let mut addresses = Vec::with_capacity(bound.len());
        let mut servers = Vec::with_capacity(bound.len());
        for (spec, listener, address) in bound {
            let info = listener_info(&spec, address)?;
            tracing::info!(listener = %spec.name, protocol = %spec.protocol, %address,
                advertised = %format!("{}:{}", info.host, info.port), "listening");
            addresses.push((spec.name.clone(), address));
            let security = ListenerSecurity {
                info: Some(Arc::new(info)),
                tls: acceptor.clone().filter(|_| spec.protocol.uses_tls()),
                sasl: Some(sasl.clone()).filter(|_| spec.protocol.uses_sasl()),
            };
            servers.push(listener::run(
                listener,
                state.clone(),
                endpoint.clone(),
                opened.signal.clone(),
                Arc::new(security),
            ));
        }
        let (metrics_addr, metrics) = match metrics_listener {
            Some((listener, address)) => {
                tracing::info!(%address, "serving metrics on http://{address}/metrics");
                let task = tokio::spawn(crate::metrics::http::serve(
                    listener,
                    state.clone(),
                    opened.signal.clone(),
                ));
                (Some(address), Some(task))
            }
            None => (None, None),
        };
        let server = tokio::spawn(async move {
            // Each listener returns its open connections; one set holds
            // them all so shutdown drains (or aborts) them together.
            let mut all = tokio::task::JoinSet::new();
            for mut connections in futures::future::join_all(servers).await {
                all.spawn(async move { while connections.join_next().await.is_some() {} });
            }
            all
        });
        tracing::info!(address = %local_addr, node_id = state.node().node_id, cluster_id = %state.node().cluster_id,
            data_dir = %state.config().data_dir.display(), "broker started");
        Ok(BrokerHandle {
            state,
            local_addr,
            listeners: addresses,
            metrics_addr,
            metrics,
            trigger: opened.trigger,
            server: Some(server),
            maintenance: Some(opened.maintenance),
            clean_marker: opened.clean_marker,
            _data_lock: opened.lock,
            temp_dir: opened.temp_dir,
        })
    }

    /// Checks the settings and prepares the data directory (a temporary
    /// one if asked), without binding or opening anything yet.
    pub(crate) fn prepare(self) -> Result<Prepared, BrokerError> {
        let mut config = self.config;
        let temp_dir = if self.temporary {
            let dir = tempfile::Builder::new()
                .prefix("durian-broker-")
                .tempdir()
                .map_err(|source| BrokerError::DataDir {
                    path: std::env::temp_dir(),
                    source,
                })?;
            config.data_dir = dir.path().to_path_buf();
            Some(dir)
        } else {
            None
        };
        if config.data_dir.as_os_str().is_empty() {
            return Err(BrokerError::Config(
                "no data directory: call data_dir(path) or temporary()".to_string(),
            ));
        }
        if config.default_partitions < 1 {
            return Err(BrokerError::Config(format!(
                "default partitions must be at least 1, got {}",
                config.default_partitions
            )));
        }
        config
            .log_config
            .validate()
            .map_err(|e| BrokerError::Config(e.to_string()))?;
        check_limits(&config)?;
        config.check_listeners().map_err(BrokerError::Config)?;
        // The first listener is the node's identity (bootstrap(), the
        // topology, other nodes' view).
        if let Some(primary) = config.listeners.first() {
            config.listen = primary.bind.clone();
            config.advertised_listener = primary.advertised.clone();
        }
        // Locked before anything in it is touched (DataDirs::prepare
        // already removes the clean-shutdown marker).
        std::fs::create_dir_all(&config.data_dir).map_err(|source| BrokerError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let lock = DataDirLock::acquire(&config.data_dir)?;
        let dirs = DataDirs::prepare(&config.data_dir)?;
        Ok(Prepared {
            config,
            groups: self.groups,
            transactions: self.transactions,
            dirs,
            lock,
            temp_dir,
        })
    }
}

/// Refuses resource limits of zero, which would make the broker unusable.
fn check_limits(config: &BrokerConfig) -> Result<(), BrokerError> {
    let positive = [
        (
            "max decompressed batch bytes",
            config.max_decompressed_batch_bytes,
        ),
        (
            "decompression budget bytes",
            config.decompression_budget_bytes,
        ),
        ("max.connections.per.ip", config.max_connections_per_ip),
        ("queued response bytes", config.queued_max_response_bytes),
    ];
    for (name, value) in positive {
        if value == 0 {
            return Err(BrokerError::Config(format!("{name} must be positive")));
        }
    }
    Ok(())
}

/// Binds a listener on `address`.
pub(crate) async fn bind(address: &str) -> Result<TcpListener, BrokerError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| BrokerError::Bind {
            address: address.to_string(),
            source,
        })
}

/// The address `listener` is bound to.
pub(crate) fn local_address(
    listener: &TcpListener,
    asked: &str,
) -> Result<SocketAddr, BrokerError> {
    listener.local_addr().map_err(|source| BrokerError::Bind {
        address: asked.to_string(),
        source,
    })
}

/// A checked configuration with its data directory ready.
pub(crate) struct Prepared {
    pub(crate) config: BrokerConfig,
    groups: GroupConfig,
    transactions: TxnConfig,
    dirs: DataDirs,
    lock: DataDirLock,
    temp_dir: Option<tempfile::TempDir>,
}

/// The shared state, opened, with its background task running and no
/// listener yet.
pub(crate) struct Opened {
    pub(crate) state: Arc<BrokerState>,
    pub(crate) trigger: ShutdownTrigger,
    pub(crate) signal: Shutdown,
    pub(crate) maintenance: JoinHandle<()>,
    pub(crate) clean_marker: PathBuf,
    /// Held as long as the broker runs.
    pub(crate) lock: DataDirLock,
    pub(crate) temp_dir: Option<tempfile::TempDir>,
}

impl Prepared {
    /// The identity of a node bound to `bound` (cluster id kept in the data dir).
    pub(crate) fn identity(&self, bound: SocketAddr) -> Result<NodeIdentity, BrokerError> {
        node_identity(&self.config, bound, &self.dirs)
    }

    /// Opens logs, groups, catalog, producer ids and transactions, and
    /// starts maintenance.
    pub(crate) fn open(
        self,
        node: NodeIdentity,
        topology: Topology,
    ) -> Result<Opened, BrokerError> {
        let Prepared {
            config,
            groups,
            transactions,
            dirs,
            lock,
            temp_dir,
        } = self;
        let logs = LogManager::open(&dirs.logs, config.log_config.clone())?;
        let groups = GroupCoordinator::open(&dirs.groups, groups)?;
        let catalog = TopicCatalog::open(&dirs.topics)?;
        let producer_ids = Arc::new(ProducerIdAllocator::open(&dirs.meta)?);
        let scram =
            Arc::new(ScramStore::open(&dirs.meta).map_err(|e| BrokerError::Config(e.to_string()))?);
        seed_scram_users(&scram, &config)?;
        let authorizer = Authorizer::open(
            &dirs.meta,
            config.authorizer.clone(),
            config.authenticates_clients(),
        )?;
        // Logs may hold producer ids this directory never handed out (logs
        // copied from another broker, or a lost producer_ids file).
        if let Some(highest) = logs.max_producer_id() {
            producer_ids.skip_past(highest);
        }
        let transactions = TransactionCoordinator::open(
            &dirs.meta.join("transactions"),
            transactions,
            producer_ids.clone(),
            groups.clone(),
        )?;
        let (trigger, signal) = shutdown::channel();
        let state = Arc::new(BrokerState::new(
            config,
            node,
            topology,
            catalog,
            Arc::new(logs),
            groups,
            producer_ids,
            transactions,
            authorizer,
            signal.clone(),
            scram,
        ));
        state
            .open_catalog_partitions()
            .map_err(|e| BrokerError::TopicLogs {
                code: e.code,
                message: e.message,
            })?;
        // Prepared commits and aborts of the last run write their markers
        // again and complete, now that the partitions are open.
        state.start_transactions();
        let maintenance = tokio::spawn(maintenance_loop(state.clone(), signal.clone()));
        Ok(Opened {
            state,
            trigger,
            signal,
            maintenance,
            clean_marker: dirs.clean_marker,
            lock,
            temp_dir,
        })
    }
}
