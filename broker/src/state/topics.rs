//! Topic changes (create, delete, add partitions, alter configs) and
//! auto-creation, over just the parts of the state they touch.
//!
//! Every change holds one async lock so the catalog and the logs never
//! disagree about a topic half-way through a change.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError;
use tokio::sync::Mutex;

use super::{check_partition_count, random_uuid, storage_failure, TopicError};
use crate::append_signals::AppendSignals;
use crate::catalog::{validate_topic_name, TopicCatalog, TopicMeta};
use crate::config::BrokerConfig;
use crate::storage::{lock_log, LogConfig, LogManager};
use crate::topic_config::{log_config_for, validate_topic_configs, TopicLimits};
use crate::topology::Topology;

/// How many more topics one request may auto-create
/// (`max_auto_create_topics_per_request`); one per request, from
/// [`Topics::auto_create_budget`].
#[derive(Debug)]
pub struct AutoCreateBudget {
    left: usize,
}

/// The topic-changing operations, borrowed from a [`super::BrokerState`].
#[derive(Clone, Copy)]
pub struct Topics<'a> {
    pub(super) config: &'a BrokerConfig,
    pub(super) catalog: &'a TopicCatalog,
    pub(super) logs: &'a LogManager,
    pub(super) appends: &'a AppendSignals,
    pub(super) topology: &'a Topology,
    /// Serialises topic changes.
    pub(super) lock: &'a Mutex<()>,
}

impl Topics<'_> {
    /// Whether unknown topics may be created on use (`auto.create.topics.enable`).
    pub fn auto_creates(&self) -> bool {
        self.config.auto_create_topics
    }

    /// The broker settings topic configs may not exceed.
    pub fn topic_limits(&self) -> TopicLimits {
        TopicLimits {
            socket_request_max_bytes: self.config.socket_request_max_bytes,
        }
    }

    /// How many topics one request may still auto-create.
    pub fn auto_create_budget(&self) -> AutoCreateBudget {
        AutoCreateBudget {
            left: self.config.max_auto_create_topics_per_request,
        }
    }

    /// The topic `name`, created with broker defaults if it is missing and
    /// auto-creation is on (`allow` lets a request opt out, as Metadata v4+
    /// can), within the request's `budget` and the broker's total cap.
    pub async fn topic_or_auto_create(
        &self,
        name: &str,
        allow: bool,
        budget: &mut AutoCreateBudget,
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
        // Each topic costs files and memory; a request naming 10^5
        // unknown topics must not create them all.
        if budget.left == 0 {
            return Err(TopicError::new(
                ResponseError::UnknownTopicOrPartition,
                format!(
                    "topic {name} does not exist and was not auto-created: one request may \
                     auto-create at most {} topics; use CreateTopics",
                    self.config.max_auto_create_topics_per_request
                ),
            ));
        }
        let held = self.catalog.len();
        if held >= self.config.max_auto_created_topics {
            return Err(TopicError::new(
                ResponseError::UnknownTopicOrPartition,
                format!(
                    "topic {name} does not exist and was not auto-created: the broker holds \
                     {held} topics and auto-creation stops at {}; use CreateTopics",
                    self.config.max_auto_created_topics
                ),
            ));
        }
        budget.left -= 1;
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
        let _guard = self.lock.lock().await;
        if self.catalog.get(name).is_some() {
            return Err(TopicError::new(
                ResponseError::TopicAlreadyExists,
                format!("topic {name} already exists"),
            ));
        }
        self.check_collision(name)?;
        let topic = TopicMeta {
            name: name.to_string(),
            id: random_uuid(),
            partitions,
            configs,
        };
        if validate_only {
            return Ok(topic);
        }
        // The catalog file and every new log are fsynced.
        run_blocking(|| -> Result<(), TopicError> {
            self.catalog.put(topic.clone()).map_err(storage_failure)?;
            let config = self.log_config(&topic)?;
            for partition in 0..partitions {
                self.create_log(&topic, partition, &config)?;
            }
            Ok(())
        })?;
        tracing::info!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    /// Refuses `name` if an existing topic differs from it only by `.`
    /// versus `_`: Kafka refuses those (INVALID_TOPIC_EXCEPTION) because
    /// both characters map to `_` in metric names.
    fn check_collision(&self, name: &str) -> Result<(), TopicError> {
        if !name.contains(['.', '_']) {
            return Ok(());
        }
        let folded = name.replace('.', "_");
        let mut colliding: Vec<String> = self
            .catalog
            .list()
            .into_iter()
            .map(|t| t.name)
            .filter(|existing| existing != name && existing.replace('.', "_") == folded)
            .collect();
        if colliding.is_empty() {
            return Ok(());
        }
        colliding.sort_unstable();
        Err(TopicError::new(
            ResponseError::InvalidTopicException,
            format!(
                "Topic '{name}' collides with existing topics: {}",
                colliding.join(", ")
            ),
        ))
    }

    /// Deletes a topic and its data.
    pub async fn delete_topic(&self, name: &str) -> Result<TopicMeta, TopicError> {
        let _guard = self.lock.lock().await;
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
        let _guard = self.lock.lock().await;
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
        run_blocking(|| {
            for partition in old..count {
                self.create_log(&topic, partition, &config)?;
            }
            self.catalog.put(topic).map_err(storage_failure)
        })
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
        let _guard = self.lock.lock().await;
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
            let applied = self
                .logs
                .get(name, partition)
                .map(|log| lock_log(&log).set_config(config.clone()));
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

    /// The storage settings of `topic`.
    pub fn log_config(&self, topic: &TopicMeta) -> Result<LogConfig, TopicError> {
        log_config_for(&self.config.log_config, &topic.configs)
            .map_err(|e| TopicError::new(ResponseError::InvalidConfig, e.to_string()))
    }

    pub(super) fn create_log(
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

/// Runs file work that fsyncs without stalling the async workers. On the
/// multi-threaded runtime the worker first hands its other tasks to
/// another thread (`block_in_place`); the work borrows the topic state, so
/// it cannot move to `spawn_blocking`. A current-thread runtime has no
/// other worker to hand over to, so there it runs inline.
fn run_blocking<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
