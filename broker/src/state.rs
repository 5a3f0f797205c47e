//! The state every request handler shares: node identity, topic catalog,
//! partition logs, group coordinator, producer ids, the topology (who leads
//! what), and the signal that wakes long-polling fetches when data arrives.
//!
//! One state may be served by several listening nodes (an in-process
//! [`crate::testing::Cluster`]); what differs per node is only the node id
//! a request arrives on, which handlers check against the topology.
//!
//! Topic changes (create, delete, add partitions, alter configs) are
//! serialised by one async lock so the catalog and the logs never disagree
//! about a topic half-way through a change.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::ResponseError;
use tokio::sync::watch;
use uuid::Uuid;

use crate::append_signals::AppendSignals;
use crate::catalog::{validate_topic_name, TopicCatalog, TopicMeta};
use crate::config::{BrokerConfig, NodeIdentity};
use crate::group::GroupCoordinator;
use crate::producer_ids::ProducerIdAllocator;
use crate::server::resources::Resources;
use crate::server::shutdown::Shutdown;
use crate::storage::{lock_log, LogConfig, LogManager, PartitionLog};
use crate::topic_config::{log_config_for, validate_topic_configs, TopicLimits};
use crate::topology::Topology;

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
pub struct BrokerState {
    /// Settings the broker was started with.
    pub config: BrokerConfig,
    /// How clients reach the node the state was opened for (in a cluster:
    /// the first node); its cluster id is the cluster's.
    pub node: NodeIdentity,
    /// Brokers, partition leaders and group coordinators.
    pub topology: Topology,
    /// Topics and their configs.
    pub catalog: TopicCatalog,
    /// Partition logs.
    pub logs: Arc<LogManager>,
    /// Consumer group coordinator.
    pub groups: Arc<GroupCoordinator>,
    /// InitProducerId allocator.
    pub producer_ids: ProducerIdAllocator,
    /// Broker-wide memory and connection budgets.
    pub resources: Arc<Resources>,
    appends: AppendSignals,
    topic_changes: tokio::sync::Mutex<()>,
    shutdown: Shutdown,
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
        producer_ids: ProducerIdAllocator,
        shutdown: Shutdown,
    ) -> BrokerState {
        // Epoch bumps record where the new epoch starts (OffsetForLeaderEpoch).
        let end_offsets = logs.clone();
        topology.set_end_offset_source(Box::new(move |topic, partition| {
            let log = end_offsets.get(topic, partition)?;
            let end = lock_log(&log).log_end_offset();
            Some(end)
        }));
        BrokerState {
            resources: Arc::new(Resources::new(&config)),
            config,
            node,
            topology,
            catalog,
            logs,
            groups,
            producer_ids,
            appends: AppendSignals::default(),
            topic_changes: tokio::sync::Mutex::new(()),
            shutdown,
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
        for topic in self.catalog.list() {
            let config = self.log_config(&topic)?;
            for partition in 0..topic.partitions {
                // Storage opens existing logs with the broker defaults; the
                // topic's own overrides are applied here.
                let applied = self
                    .with_partition(&topic.name, partition, |log| log.set_config(config.clone()));
                match applied {
                    None => self.create_log(&topic, partition, &config)?,
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
    pub fn notify_append(&self, topic: &str, partition: i32) {
        self.appends.notify(topic, partition);
    }

    /// The broker's shutdown signal, for requests that wait (long polls).
    pub fn shutdown_signal(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// A receiver that changes whenever `topic`-`partition` changes.
    pub fn subscribe_appends(&self, topic: &str, partition: i32) -> watch::Receiver<u64> {
        self.appends.subscribe(topic, partition)
    }

    /// The topic `name`, created with broker defaults if it is missing and
    /// auto-creation is on (`allow` lets a request opt out, as Metadata v4+ can).
    pub async fn topic_or_auto_create(
        &self,
        name: &str,
        allow: bool,
    ) -> Result<TopicMeta, TopicError> {
        if let Some(topic) = self.catalog.get(name) {
            return Ok(topic);
        }
        if !(allow && self.config.auto_create_topics) {
            return Err(TopicError::new(
                ResponseError::UnknownTopicOrPartition,
                format!("topic {name} does not exist"),
            ));
        }
        match self
            .create_topic(name, self.config.default_partitions, BTreeMap::new(), false)
            .await
        {
            Ok(topic) => Ok(topic),
            // Another request created it between our lookup and the lock.
            Err(e) if e.code == ResponseError::TopicAlreadyExists.code() => self
                .catalog
                .get(name)
                .ok_or_else(|| TopicError::new(ResponseError::UnknownTopicOrPartition, e.message)),
            Err(e) => Err(e),
        }
    }

    /// Creates a topic: validates name, partition count and configs, stores
    /// it in the catalog, then opens its partition logs.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<TopicMeta, TopicError> {
        validate_topic_name(name)
            .map_err(|e| TopicError::new(ResponseError::InvalidTopicException, e.to_string()))?;
        let partitions = if partitions == -1 {
            self.config.default_partitions
        } else {
            partitions
        };
        check_partition_count(partitions)?;
        validate_topic_configs(&self.config.log_config, &configs, self.topic_limits())
            .map_err(|e| TopicError::new(ResponseError::InvalidConfig, e.to_string()))?;
        let _guard = self.topic_changes.lock().await;
        if self.catalog.get(name).is_some() {
            return Err(TopicError::new(
                ResponseError::TopicAlreadyExists,
                format!("topic {name} already exists"),
            ));
        }
        let topic = TopicMeta {
            name: name.to_string(),
            id: random_uuid(),
            partitions,
            configs,
        };
        if validate_only {
            return Ok(topic);
        }
        self.catalog.put(topic.clone()).map_err(storage_failure)?;
        let config = self.log_config(&topic)?;
        for partition in 0..partitions {
            self.create_log(&topic, partition, &config)?;
        }
        tracing::info!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    /// Deletes a topic and its data.
    pub async fn delete_topic(&self, name: &str) -> Result<TopicMeta, TopicError> {
        let _guard = self.topic_changes.lock().await;
        let topic = self.catalog.get(name).ok_or_else(|| {
            TopicError::new(
                ResponseError::UnknownTopicOrPartition,
                format!("topic {name} does not exist"),
            )
        })?;
        // Catalog first: a crash after this leaves orphaned logs (harmless,
        // removed on the next delete of a same-named topic), never a topic
        // whose data is gone.
        self.catalog.remove(name).map_err(storage_failure)?;
        self.logs.delete_topic(name).map_err(|e| TopicError {
            code: e.kafka_error_code(),
            message: e.to_string(),
        })?;
        self.appends.forget_topic(name);
        self.topology.forget_topic(name);
        tracing::info!(topic = name, "deleted topic");
        Ok(topic)
    }

    /// Raises the partition count of `name` to `count`.
    pub async fn add_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        check_partition_count(count)?;
        let _guard = self.topic_changes.lock().await;
        let mut topic = self.catalog.get(name).ok_or_else(|| {
            TopicError::new(
                ResponseError::UnknownTopicOrPartition,
                format!("topic {name} does not exist"),
            )
        })?;
        if count <= topic.partitions {
            return Err(TopicError::new(
                ResponseError::InvalidPartitions,
                format!(
                    "topic {name} has {} partitions; the new count {count} must be larger",
                    topic.partitions
                ),
            ));
        }
        if validate_only {
            return Ok(());
        }
        let old = topic.partitions;
        topic.partitions = count;
        let config = self.log_config(&topic)?;
        for partition in old..count {
            self.create_log(&topic, partition, &config)?;
        }
        self.catalog.put(topic).map_err(storage_failure)?;
        Ok(())
    }

    /// Replaces the config overrides of `name` and applies them to its open logs.
    pub async fn set_topic_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        validate_topic_configs(&self.config.log_config, &configs, self.topic_limits())
            .map_err(|e| TopicError::new(ResponseError::InvalidConfig, e.to_string()))?;
        let _guard = self.topic_changes.lock().await;
        let mut topic = self.catalog.get(name).ok_or_else(|| {
            TopicError::new(
                ResponseError::UnknownTopicOrPartition,
                format!("topic {name} does not exist"),
            )
        })?;
        if validate_only {
            return Ok(());
        }
        topic.configs = configs;
        let config = self.log_config(&topic)?;
        for partition in 0..topic.partitions {
            let applied =
                self.with_partition(name, partition, |log| log.set_config(config.clone()));
            if let Some(Err(e)) = applied {
                return Err(TopicError {
                    code: e.kafka_error_code(),
                    message: format!("cannot apply configs to {name}-{partition}: {e}"),
                });
            }
        }
        self.catalog.put(topic).map_err(storage_failure)?;
        Ok(())
    }

    /// The broker settings topic configs may not exceed.
    pub fn topic_limits(&self) -> TopicLimits {
        TopicLimits {
            socket_request_max_bytes: self.config.socket_request_max_bytes,
        }
    }

    /// The storage settings of `topic`.
    pub fn log_config(&self, topic: &TopicMeta) -> Result<LogConfig, TopicError> {
        log_config_for(&self.config.log_config, &topic.configs)
            .map_err(|e| TopicError::new(ResponseError::InvalidConfig, e.to_string()))
    }

    fn create_log(
        &self,
        topic: &TopicMeta,
        partition: i32,
        config: &LogConfig,
    ) -> Result<(), TopicError> {
        self.logs
            .create_partition(&topic.name, partition, topic.id, config.clone())
            .map(|_| ())
            .map_err(|e| TopicError {
                code: e.kafka_error_code(),
                message: format!("cannot create log for {}-{partition}: {e}", topic.name),
            })
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
