//! The state every request handler shares: node identity, topic catalog,
//! partition logs, group coordinator, producer ids, transaction
//! coordinator, the topology (who leads what), and the signal that wakes
//! long-polling fetches when data arrives.
//!
//! One state may be served by several listening nodes (an in-process
//! [`crate::testing::Cluster`]); what differs per node is only the node id
//! a request arrives on, which handlers check against the topology.
//!
//! Handlers never see the whole state: each gets a narrow context of just
//! the parts its API uses ([`contexts`] builds them). Topic changes live in
//! [`topics`], serialised by one async lock.

use std::sync::Arc;

use kafka_protocol::ResponseError;
use uuid::Uuid;

use crate::append_signals::AppendSignals;
use crate::catalog::TopicCatalog;
use crate::config::{BrokerConfig, NodeIdentity};
use crate::fetch_session::FetchSessionCache;
use crate::group::GroupCoordinator;
use crate::metrics::BrokerMetrics;
use crate::producer_ids::ProducerIdAllocator;
use crate::security::Authorizer;
use crate::server::resources::Resources;
use crate::server::shutdown::Shutdown;
use crate::storage::{lock_log, LogManager, PartitionLog};
use crate::topology::Topology;
use crate::txn::TransactionCoordinator;

mod contexts;
mod markers;
mod topics;

pub use topics::{AutoCreateBudget, Topics};

/// Most partitions one topic may have; bounds memory and open files per request.
pub const MAX_PARTITIONS_PER_TOPIC: i32 = 10_000;

/// A failed topic operation: the Kafka error code and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicError {
    /// Kafka error code.
    pub code: i16,
    /// What went wrong, for the response's error_message.
    pub message: String,
}

impl TopicError {
    fn new(error: ResponseError, message: impl Into<String>) -> TopicError {
        TopicError {
            code: error.code(),
            message: message.into(),
        }
    }
}

/// Shared broker state, one per running broker.
///
/// Its parts are private: the broker's own plumbing (startup, shutdown,
/// background jobs, the in-process test cluster) reads them through the
/// accessors below, and handlers through the contexts of [`contexts`].
pub struct BrokerState {
    /// Settings the broker was started with.
    config: BrokerConfig,
    /// How clients reach the node the state was opened for (in a cluster:
    /// the first node); its cluster id is the cluster's.
    node: NodeIdentity,
    /// Brokers, partition leaders and group coordinators.
    topology: Topology,
    /// Topics and their configs.
    catalog: TopicCatalog,
    /// Partition logs.
    logs: Arc<LogManager>,
    /// Consumer group coordinator.
    groups: Arc<GroupCoordinator>,
    /// InitProducerId allocator.
    producer_ids: Arc<ProducerIdAllocator>,
    /// The transaction coordinator.
    transactions: Arc<TransactionCoordinator>,
    /// Broker-wide memory and connection budgets.
    resources: Arc<Resources>,
    /// The ACLs and the checks against them.
    authorizer: Authorizer,
    appends: AppendSignals,
    /// Fetch sessions (KIP-227).
    fetch_sessions: FetchSessionCache,
    topic_changes: tokio::sync::Mutex<()>,
    shutdown: Shutdown,
    /// SCRAM credentials (SASL logins, Describe/AlterUserScramCredentials).
    scram: Arc<crate::security::credentials::ScramStore>,
    /// Request counters and the start time the metrics page reports.
    metrics: BrokerMetrics,
}

impl std::fmt::Debug for BrokerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerState")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl BrokerState {
    /// Assembles the state from its opened parts.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: BrokerConfig,
        node: NodeIdentity,
        topology: Topology,
        catalog: TopicCatalog,
        logs: Arc<LogManager>,
        groups: Arc<GroupCoordinator>,
        producer_ids: Arc<ProducerIdAllocator>,
        transactions: Arc<TransactionCoordinator>,
        authorizer: Authorizer,
        shutdown: Shutdown,
        scram: Arc<crate::security::credentials::ScramStore>,
    ) -> BrokerState {
        // Epoch bumps record where the new epoch starts (OffsetForLeaderEpoch).
        let end_offsets = logs.clone();
        topology.set_end_offset_source(Box::new(move |topic, partition| {
            let log = end_offsets.get(topic, partition)?;
            let end = lock_log(&log).log_end_offset();
            Some(end)
        }));
        let fetch_session_slots = config.fetch_session_cache_slots;
        BrokerState {
            resources: Arc::new(Resources::new(&config)),
            config,
            node,
            topology,
            catalog,
            logs,
            groups,
            producer_ids,
            transactions,
            authorizer,
            appends: AppendSignals::default(),
            fetch_sessions: FetchSessionCache::new(fetch_session_slots),
            topic_changes: tokio::sync::Mutex::new(()),
            shutdown,
            scram,
            metrics: BrokerMetrics::default(),
        }
    }

    /// Request counters and uptime, for the metrics page.
    pub fn metrics(&self) -> &BrokerMetrics {
        &self.metrics
    }

    /// The stored SCRAM credentials.
    pub fn scram_credentials(&self) -> &Arc<crate::security::credentials::ScramStore> {
        &self.scram
    }

    /// Settings the broker was started with.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Broker-wide memory and connection budgets.
    pub fn resources(&self) -> &Arc<Resources> {
        &self.resources
    }

    /// How clients reach the node the state was opened for.
    pub fn node(&self) -> &NodeIdentity {
        &self.node
    }

    /// Brokers, partition leaders and group coordinators.
    #[cfg(feature = "testing")] // The in-process cluster's hooks.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Topics and their configs (the metrics page counts them; the
    /// in-process cluster's hooks read them).
    pub fn catalog(&self) -> &TopicCatalog {
        &self.catalog
    }

    /// Partition logs.
    pub fn logs(&self) -> &LogManager {
        &self.logs
    }

    /// Consumer group coordinator.
    pub fn groups(&self) -> &GroupCoordinator {
        &self.groups
    }

    /// The transaction coordinator.
    pub fn transactions(&self) -> &Arc<TransactionCoordinator> {
        &self.transactions
    }

    /// The topic changes (create, delete, add partitions, alter configs).
    pub fn topics(&self) -> Topics<'_> {
        Topics {
            config: &self.config,
            catalog: &self.catalog,
            logs: &self.logs,
            appends: &self.appends,
            topology: &self.topology,
            lock: &self.topic_changes,
        }
    }

    /// Makes sure every catalog partition has an open log with its topic's
    /// settings (after a restart, or when a crash interrupted a topic
    /// creation).
    ///
    /// Logs of topics the catalog does not know (a crash between deleting a
    /// topic from the catalog and removing its logs), or whose topic id
    /// differs from the catalog's, are deleted first: otherwise a new topic
    /// of the same name would inherit the old data.
    pub fn open_catalog_partitions(&self) -> Result<(), TopicError> {
        let mut stored: Vec<String> = self.logs.partitions().into_iter().map(|(t, _)| t).collect();
        stored.dedup();
        for topic in stored {
            let current = self.catalog.get(&topic);
            let orphaned = match (&current, self.logs.topic_id(&topic)) {
                (None, _) => true,
                (Some(meta), Some(id)) => meta.id != id,
                (Some(_), None) => false,
            };
            if orphaned {
                tracing::warn!(%topic, "removing logs of a topic missing from the catalog");
                self.logs.delete_topic(&topic).map_err(|e| TopicError {
                    code: e.kafka_error_code(),
                    message: format!("cannot remove orphaned logs of {topic}: {e}"),
                })?;
            }
        }
        let topics = self.topics();
        for topic in self.catalog.list() {
            let config = topics.log_config(&topic)?;
            for partition in 0..topic.partitions {
                // Storage opens existing logs with the broker defaults; the
                // topic's own overrides are applied here.
                let applied = self
                    .with_partition(&topic.name, partition, |log| log.set_config(config.clone()));
                match applied {
                    None => topics.create_log(&topic, partition, &config)?,
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        return Err(TopicError {
                            code: e.kafka_error_code(),
                            message: format!(
                                "cannot apply configs to {}-{partition}: {e}",
                                topic.name
                            ),
                        })
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs `f` on one partition log; `None` if the topic or partition does not exist.
    pub fn with_partition<T>(
        &self,
        topic: &str,
        partition: i32,
        f: impl FnOnce(&mut PartitionLog) -> T,
    ) -> Option<T> {
        let log = self.logs.get(topic, partition)?;
        let result = f(&mut lock_log(&log));
        Some(result)
    }

    /// Tells fetches waiting on `topic`-`partition` that it changed.
    #[cfg(feature = "testing")] // The in-process cluster's hooks.
    pub fn notify_append(&self, topic: &str, partition: i32) {
        self.appends.notify(topic, partition);
    }
}

fn check_partition_count(count: i32) -> Result<(), TopicError> {
    if !(1..=MAX_PARTITIONS_PER_TOPIC).contains(&count) {
        return Err(TopicError::new(
            ResponseError::InvalidPartitions,
            format!("partition count {count} must be between 1 and {MAX_PARTITIONS_PER_TOPIC}"),
        ));
    }
    Ok(())
}

fn storage_failure(err: impl std::fmt::Display) -> TopicError {
    TopicError::new(ResponseError::KafkaStorageError, err.to_string())
}

/// A random (version 4) UUID for topic ids; never the all-zero id, which
/// the protocol reserves for "no id".
pub fn random_uuid() -> Uuid {
    let bytes: [u8; 16] = rand::random();
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}
