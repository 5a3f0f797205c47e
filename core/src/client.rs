//! The client: routing requests to brokers.
//!
//! ```text
//!  send(target, request)
//!     │ resolve target ── Any / Broker(id) / Controller ──▶ metadata snapshot
//!     │                └─ Coordinator{kind,key} ──▶ coordinator cache ──▶ FindCoordinator
//!     ▼
//!  broker pool (address, traffic class) ──▶ connection ──▶ negotiated version ──▶ response
//!     │ on error: metadata refresh or coordinator invalidation, as the error says
//! ```
//!
//! `send` makes one attempt; it does not look inside responses for error
//! codes, because where they sit depends on the API. Callers that find one
//! pass it to [`Client::report_error`] so the right cache is invalidated,
//! and use [`crate::retry::retry`] to try again.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use kafka_protocol::messages::{FindCoordinatorRequest, MetadataRequest, MetadataResponse};
use kafka_protocol::protocol::{Message, Request};

use crate::broker_pool::{BrokerPool, PoolSettings};
use crate::connection::versions::api_key_of;
use crate::connection::Connection;
use crate::coordinator::{
    find_coordinator_request, parse_find_coordinator, CoordinatorCache, CoordinatorKind,
    BATCHED_FIND_COORDINATOR,
};
use crate::error::{Error, Invalidates, KafkaError, Result};
use crate::metadata::refresh::{MetadataManager, MetadataSource, RefreshTiming};
use crate::metadata::{metadata_request_at, BrokerInfo, ClusterMetadata, MetadataTrigger};
use crate::traffic::TrafficClass;
use crate::ClientConfig;

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// Any reachable broker (metadata brokers first, then bootstrap servers).
    Any,
    /// The broker with this node id.
    Broker(i32),
    /// The active controller.
    Controller,
    /// The coordinator of a group or transactional id.
    Coordinator {
        /// Group or transaction.
        kind: CoordinatorKind,
        /// The group id or transactional id.
        key: String,
    },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Any => f.write_str("any broker"),
            Target::Broker(id) => write!(f, "broker {id}"),
            Target::Controller => f.write_str("the controller"),
            Target::Coordinator { kind, key } => write!(f, "{kind:?} coordinator of `{key}`"),
        }
    }
}

/// Per-request options of [`Client::send_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendOptions {
    /// An explicit API version instead of the highest common one.
    pub version: Option<i16>,
    /// The connection class instead of the API's default.
    pub class: Option<TrafficClass>,
    /// The response timeout instead of `request.timeout.ms` (a Fetch
    /// long-poll needs its max wait on top).
    pub timeout: Option<Duration>,
}

struct ClientInner {
    config: ClientConfig,
    pool: Arc<BrokerPool>,
    metadata: MetadataManager,
    coordinators: CoordinatorCache,
    next_any: AtomicUsize,
}

impl Drop for ClientInner {
    fn drop(&mut self) {
        self.pool.close_all();
    }
}

/// A connection to a Kafka cluster; cheap to clone, `Send + Sync`.
///
/// ```no_run
/// # async fn demo() -> durian_core::Result<()> {
/// use durian_core::{Client, ClientConfig, Target};
/// use kafka_protocol::messages::MetadataRequest;
/// let client = Client::connect(ClientConfig::builder().bootstrap_servers(["localhost:9092"]).build()?).await?;
/// let response = client.send(Target::Any, MetadataRequest::default()).await?;
/// println!("{} brokers", response.brokers.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("bootstrap_servers", &self.inner.config.bootstrap_servers)
            .field("metadata_generation", &self.metadata_generation())
            .finish()
    }
}

impl Client {
    /// Creates a client without contacting any broker; connections are
    /// made on first use. Must be called within a tokio runtime. The
    /// `ssl.*` files are read here, so a missing or malformed one fails now.
    pub fn new(config: ClientConfig) -> Result<Client> {
        config.validate()?;
        let pool = Arc::new(BrokerPool::new(PoolSettings::from_config(&config)?));
        let source = Arc::new(PoolMetadataSource {
            pool: pool.clone(),
            bootstrap: config.bootstrap_servers.clone(),
            known: std::sync::Mutex::new(Vec::new()),
            timeout: config.request_timeout,
        });
        let metadata = MetadataManager::start(
            source,
            RefreshTiming {
                min_interval: config.retry_backoff,
                max_age: config.metadata_max_age,
                retry_backoff: (config.retry_backoff, config.retry_backoff_max),
            },
        );
        Ok(Client {
            inner: Arc::new(ClientInner {
                config,
                pool,
                metadata,
                coordinators: CoordinatorCache::default(),
                next_any: AtomicUsize::new(0),
            }),
        })
    }

    /// Creates a client and fetches the cluster metadata once, so a wrong
    /// `bootstrap.servers` fails here rather than at the first request.
    pub async fn connect(config: ClientConfig) -> Result<Client> {
        let client = Client::new(config)?;
        client.refresh_metadata("bootstrap").await?;
        Ok(client)
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Sends `request` to `target` at the highest version both sides
    /// support, on the connection class of its API.
    pub async fn send<R: Request>(&self, target: Target, request: R) -> Result<R::Response> {
        self.send_with(target, request, SendOptions::default())
            .await
    }

    /// Sends `request` at an explicit `version`.
    pub async fn send_with_version<R: Request>(
        &self,
        target: Target,
        request: R,
        version: i16,
    ) -> Result<R::Response> {
        let options = SendOptions {
            version: Some(version),
            ..SendOptions::default()
        };
        self.send_with(target, request, options).await
    }

    /// Sends `request` with explicit options. Errors that prove a cache
    /// stale (a lost connection, an unknown broker) are reported before
    /// they are returned.
    pub async fn send_with<R: Request>(
        &self,
        target: Target,
        request: R,
        options: SendOptions,
    ) -> Result<R::Response> {
        let api = api_key_of::<R>()?;
        let class = options.class.unwrap_or_else(|| TrafficClass::for_api(api));
        let timeout = options.timeout.unwrap_or(self.inner.config.request_timeout);
        let result = async {
            let connection = self.connection_for(&target, class).await?;
            match options.version {
                Some(version) => {
                    connection
                        .send_with_version(&request, version, timeout)
                        .await
                }
                None => connection.send(&request, timeout).await,
            }
        }
        .await;
        if let Err(error) = &result {
            self.report_error(&target, error);
        }
        result
    }

    /// The connection `target` resolves to for `class`, for callers that
    /// drive a connection directly (the producer's per-broker sender).
    pub async fn connection_for(&self, target: &Target, class: TrafficClass) -> Result<Connection> {
        match target {
            Target::Any => {
                let candidates = self.any_candidates();
                self.inner.pool.any_connection(&candidates, class).await
            }
            Target::Broker(node_id) => {
                let broker = self.known_broker(*node_id).await?;
                self.inner.pool.connection(&broker.address(), class).await
            }
            Target::Controller => {
                let broker = self.controller().await?;
                self.inner.pool.connection(&broker.address(), class).await
            }
            Target::Coordinator { kind, key } => {
                let broker = self.find_coordinator(*kind, key).await?;
                self.inner.pool.connection(&broker.address(), class).await
            }
        }
    }

    /// Invalidates what `error` proves stale: metadata, or the coordinator
    /// behind `target`. Call it with errors decoded from response bodies.
    pub fn report_error(&self, target: &Target, error: &Error) {
        let coordinator_gone = matches!(error.invalidates(), Invalidates::Coordinator)
            || matches!(
                error,
                Error::Connection { .. } | Error::Poisoned(_) | Error::ConnectionClosed { .. }
            );
        if let Target::Coordinator { kind, key } = target {
            if coordinator_gone && self.inner.coordinators.invalidate(*kind, key) {
                tracing::debug!(%target, %error, "forgetting coordinator");
            }
        }
        if error.invalidates() == Invalidates::Metadata {
            self.request_metadata_refresh(format!("{error} (sending to {target})"));
        }
    }

    /// The current metadata snapshot.
    pub fn metadata(&self) -> Arc<ClusterMetadata> {
        self.inner.metadata.snapshot()
    }

    /// The generation of the current metadata snapshot
    /// ([`ClusterMetadata::generation`]), read without taking the snapshot:
    /// for a cache keyed by generation on a per-record path. Never ahead of
    /// [`metadata`](Self::metadata), but it can trail a snapshot published
    /// a moment ago: to tell whether an answer is newer than a request, use
    /// the snapshot's own generation.
    pub fn metadata_generation(&self) -> u64 {
        self.inner.metadata.generation()
    }

    /// A receiver notified of every new metadata snapshot.
    pub fn subscribe_metadata(&self) -> tokio::sync::watch::Receiver<Arc<ClusterMetadata>> {
        self.inner.metadata.subscribe()
    }

    /// Refreshes metadata and waits for a fetch that started after this call.
    pub async fn refresh_metadata(
        &self,
        reason: impl Into<MetadataTrigger>,
    ) -> Result<Arc<ClusterMetadata>> {
        self.inner.metadata.refresh(reason).await
    }

    /// Asks for a metadata refresh without waiting.
    pub fn request_metadata_refresh(&self, reason: impl Into<MetadataTrigger>) {
        self.inner.metadata.request_refresh(reason);
    }

    /// The error of the last metadata refresh, if it failed. Callers that
    /// wait for metadata in the background use it to stop waiting on
    /// errors no refresh can fix ([`Error::is_auth_failure`]).
    pub fn last_metadata_error(&self) -> Option<Error> {
        self.inner.metadata.last_error()
    }

    /// Registers topics whose metadata the client keeps; a new topic
    /// triggers a refresh. Returns whether any topic was new.
    pub fn add_topics<I, S>(&self, topics: I) -> bool
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.inner.metadata.add_topics(topics)
    }

    /// The topics of interest.
    pub fn topics(&self) -> BTreeSet<String> {
        self.inner.metadata.topics()
    }

    /// The leader of a partition in the current snapshot.
    pub fn partition_leader(&self, topic: &str, partition: i32) -> Option<BrokerInfo> {
        self.metadata().partition_leader(topic, partition).cloned()
    }

    /// The coordinator of `key`, from the cache or FindCoordinator.
    pub async fn find_coordinator(&self, kind: CoordinatorKind, key: &str) -> Result<BrokerInfo> {
        if let Some(broker) = self.inner.coordinators.get(kind, key) {
            return Ok(broker);
        }
        let mut found = self.find_coordinators(kind, &[key.to_owned()]).await?;
        match found.pop() {
            Some((_, result)) => result,
            None => Err(Error::Protocol(
                "FindCoordinator returned nothing".to_owned(),
            )),
        }
    }

    /// Looks up the coordinators of several keys (one request with
    /// FindCoordinator v4+, one per key before) and caches the answers.
    pub async fn find_coordinators(
        &self,
        kind: CoordinatorKind,
        keys: &[String],
    ) -> Result<Vec<(String, Result<BrokerInfo>)>> {
        let timeout = self.inner.config.request_timeout;
        let candidates = self.any_candidates();
        let connection = self
            .inner
            .pool
            .any_connection(&candidates, TrafficClass::Group)
            .await?;
        let api = api_key_of::<FindCoordinatorRequest>()?;
        let version = connection.versions().negotiate(api, kind.versions())?;
        let batches: Vec<&[String]> = if version >= BATCHED_FIND_COORDINATOR {
            vec![keys]
        } else {
            keys.chunks(1).collect()
        };
        let mut results = Vec::with_capacity(keys.len());
        for batch in batches {
            let request = find_coordinator_request(kind, batch, version);
            let response = connection
                .send_with_version(&request, version, timeout)
                .await?;
            for (key, result) in parse_find_coordinator(&response, batch, version) {
                if let Ok(broker) = &result {
                    self.inner
                        .coordinators
                        .insert(kind, key.clone(), broker.clone());
                }
                results.push((key, result));
            }
        }
        Ok(results)
    }

    /// Forgets the cached coordinator of `key`.
    pub fn invalidate_coordinator(&self, kind: CoordinatorKind, key: &str) {
        self.inner.coordinators.invalidate(kind, key);
    }

    /// Metadata brokers in rotating order, then the bootstrap servers.
    fn any_candidates(&self) -> Vec<String> {
        let metadata = self.metadata();
        let mut brokers: Vec<String> = metadata.brokers.values().map(BrokerInfo::address).collect();
        if !brokers.is_empty() {
            let start = self.inner.next_any.fetch_add(1, Ordering::Relaxed) % brokers.len();
            brokers.rotate_left(start);
        }
        for server in &self.inner.config.bootstrap_servers {
            if !brokers.contains(server) {
                brokers.push(server.clone());
            }
        }
        brokers
    }

    async fn known_broker(&self, node_id: i32) -> Result<BrokerInfo> {
        if let Some(broker) = self.metadata().broker(node_id) {
            return Ok(broker.clone());
        }
        let metadata = self
            .refresh_metadata(format!("looking for broker {node_id}"))
            .await?;
        metadata
            .broker(node_id)
            .cloned()
            .ok_or(Error::UnknownBroker(node_id))
    }

    async fn controller(&self) -> Result<BrokerInfo> {
        let mut metadata = self.metadata();
        if metadata.controller_id.is_none() {
            metadata = self.refresh_metadata("looking for the controller").await?;
        }
        let id = metadata.controller_id.ok_or(Error::NoController)?;
        metadata.broker(id).cloned().ok_or(Error::UnknownBroker(id))
    }
}

/// Fetches metadata through the pool for the refresh task. It remembers the
/// brokers of the last response itself, so it needs no link back to the
/// client (which would keep the client alive forever).
struct PoolMetadataSource {
    pool: Arc<BrokerPool>,
    bootstrap: Vec<String>,
    known: std::sync::Mutex<Vec<String>>,
    timeout: Duration,
}

impl PoolMetadataSource {
    async fn fetch_from_any(&self, topics: BTreeSet<String>) -> Result<MetadataResponse> {
        let mut candidates = self.known.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for server in &self.bootstrap {
            if !candidates.contains(server) {
                candidates.push(server.clone());
            }
        }
        let connection = self
            .pool
            .any_connection(&candidates, TrafficClass::Admin)
            .await?;
        let version = connection
            .versions()
            .negotiate(api_key_of::<MetadataRequest>()?, MetadataRequest::VERSIONS)?;
        let request = metadata_request_at(&topics, version);
        // v0 reads an empty topic list as "all topics"; ask for at least v1.
        if version < 1 && topics.is_empty() {
            return Err(Error::UnsupportedVersion {
                api: kafka_protocol::messages::ApiKey::Metadata,
                client_range: kafka_protocol::protocol::VersionRange { min: 1, max: 13 },
                broker_range: connection
                    .versions()
                    .broker_range(kafka_protocol::messages::ApiKey::Metadata),
            });
        }
        let response = connection
            .send_with_version(&request, version, self.timeout)
            .await?;
        KafkaError::check(response.error_code, None)?;
        let addresses = response
            .brokers
            .iter()
            .map(|b| {
                BrokerInfo {
                    node_id: b.node_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                    rack: None,
                }
                .address()
            })
            .collect();
        *self.known.lock().unwrap_or_else(|p| p.into_inner()) = addresses;
        Ok(response)
    }
}

impl MetadataSource for PoolMetadataSource {
    fn fetch(&self, topics: BTreeSet<String>) -> BoxFuture<'_, Result<MetadataResponse>> {
        Box::pin(self.fetch_from_any(topics))
    }
}
