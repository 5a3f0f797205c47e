//! What the data APIs (Produce, Fetch, ListOffsets, DeleteRecords,
//! OffsetForLeaderEpoch) see of the broker: topic lookups, partition logs,
//! leadership checks, append signals, the shutdown signal and Produce's
//! check of transactional batches against the transaction coordinator. No
//! group coordinator, no producer ids, and of the topic changes only
//! auto-creation (Produce may create a missing topic).

use super::RequestContext;
use crate::security::{Access, Authorizer};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use uuid::Uuid;

use kafka_protocol::ResponseError;

use super::produce_validate::Decompression;
use crate::append_signals::AppendSignals;
use crate::catalog::{TopicCatalog, TopicMeta};
use crate::fetch_session::FetchSessionCache;
use crate::server::resources::Resources;
use crate::server::shutdown::Shutdown;
use crate::state::{AutoCreateBudget, TopicError, Topics};
use crate::storage::{lock_log, LogManager, PartitionLog, SharedLog, StorageError, TxnMarker};
use crate::topology::{EpochHistory, Topology};
use crate::txn::{ProducerRef, TransactionCoordinator};

/// The data handlers' view of the broker state.
#[derive(Clone, Copy)]
pub struct DataContext<'a> {
    authorizer: &'a Authorizer,
    catalog: &'a TopicCatalog,
    logs: &'a LogManager,
    topology: &'a Topology,
    appends: &'a AppendSignals,
    fetch_sessions: &'a FetchSessionCache,
    shutdown: &'a Shutdown,
    transactions: &'a TransactionCoordinator,
    topics: Topics<'a>,
    limits: DataLimits<'a>,
}

/// The broker limits the data handlers enforce.
#[derive(Debug, Clone, Copy)]
pub struct DataLimits<'a> {
    /// Most bytes one produced batch may decompress to.
    pub max_decompressed_batch_bytes: usize,
    /// How long a batch waits for decompression budget.
    pub decompression_wait: Duration,
    /// The broker-wide budgets (decompression memory).
    pub resources: &'a Arc<Resources>,
}

impl<'a> DataContext<'a> {
    /// A view over the given parts of one broker state.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        authorizer: &'a Authorizer,
        catalog: &'a TopicCatalog,
        logs: &'a LogManager,
        topology: &'a Topology,
        appends: &'a AppendSignals,
        fetch_sessions: &'a FetchSessionCache,
        shutdown: &'a Shutdown,
        transactions: &'a TransactionCoordinator,
        topics: Topics<'a>,
        limits: DataLimits<'a>,
    ) -> DataContext<'a> {
        DataContext {
            authorizer,
            catalog,
            logs,
            topology,
            appends,
            fetch_sessions,
            shutdown,
            transactions,
            topics,
            limits,
        }
    }

    /// Whether a transactional batch of `producer` may be appended to
    /// `topic`-`partition` (KIP-890 part 1); the error to answer if not.
    pub fn check_transactional(
        &self,
        transactional_id: Option<&str>,
        producer: ProducerRef,
        topic: &str,
        partition: i32,
    ) -> Result<(), ResponseError> {
        self.transactions
            .check_produce(transactional_id, producer, topic, partition)
    }

    /// The fetch sessions (KIP-227).
    pub fn fetch_sessions(&self) -> &'a FetchSessionCache {
        self.fetch_sessions
    }

    /// The authorizer, for the request `ctx`.
    pub fn access<'c>(&'c self, ctx: &'c RequestContext) -> Access<'c> {
        Access::new(self.authorizer, ctx)
    }

    /// How produced batches may decompress.
    pub fn decompression(&self) -> Decompression {
        Decompression {
            limit: self.limits.max_decompressed_batch_bytes,
            wait: self.limits.decompression_wait,
            resources: self.limits.resources.clone(),
        }
    }

    /// The topic `name`, if it exists.
    pub fn topic(&self, name: &str) -> Option<TopicMeta> {
        self.catalog.get(name)
    }

    /// The topic with id `id`, if it exists.
    pub fn topic_by_id(&self, id: Uuid) -> Option<TopicMeta> {
        self.catalog.get_by_id(id)
    }

    /// The topic `name`, auto-created as the broker's settings and `allow` permit.
    pub async fn topic_or_auto_create(
        &self,
        name: &str,
        allow: bool,
        budget: &mut AutoCreateBudget,
    ) -> Result<TopicMeta, TopicError> {
        self.topics.topic_or_auto_create(name, allow, budget).await
    }

    /// How many topics one request may auto-create.
    pub fn auto_create_budget(&self) -> AutoCreateBudget {
        self.topics.auto_create_budget()
    }

    /// The log of `topic`-`partition`, for work that locks it later (or elsewhere).
    pub fn log(&self, topic: &str, partition: i32) -> Option<SharedLog> {
        self.logs.get(topic, partition)
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

    /// Writes a transaction marker into `topic`-`partition`, led by `node`
    /// (WriteTxnMarkers; the transaction coordinator), and wakes the
    /// fetches waiting on the partition, since its last stable offset may
    /// have moved. Returns the marker's offset.
    ///
    /// Errors are the partition's error in a WriteTxnMarkers response:
    /// NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, and the storage
    /// refusals (INVALID_PRODUCER_EPOCH, TRANSACTION_COORDINATOR_FENCED,
    /// KAFKA_STORAGE_ERROR, ...).
    // Until WriteTxnMarkers lands only the test hook calls it.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub async fn write_txn_marker(
        &self,
        topic: &str,
        partition: i32,
        node: i32,
        marker: TxnMarker,
    ) -> Result<i64, ResponseError> {
        let leader_epoch = self.check_leader(topic, partition, node, -1)?;
        let log = self
            .logs
            .get(topic, partition)
            .ok_or(ResponseError::UnknownTopicOrPartition)?;
        // The append may fsync (flush.messages=1): off the async workers.
        let written = tokio::task::spawn_blocking(move || {
            lock_log(&log).append_marker(marker, leader_epoch, crate::clock::now_ms())
        })
        .await;
        let offset = match written {
            Ok(Ok(offset)) => offset,
            Ok(Err(e)) => {
                tracing::debug!(topic, partition, error = %e, "transaction marker refused");
                return Err(ResponseError::try_from_code(e.kafka_error_code())
                    .unwrap_or(ResponseError::UnknownServerError));
            }
            Err(e) => {
                tracing::error!(topic, partition, error = %e, "transaction marker task failed");
                return Err(ResponseError::KafkaStorageError);
            }
        };
        self.notify_append(topic, partition);
        Ok(offset)
    }

    /// Writes every log's checkpoint (log start offsets, after DeleteRecords).
    pub fn checkpoint(&self) -> Result<(), StorageError> {
        self.logs.checkpoint()
    }

    /// The leader epoch if `node` leads `topic`-`partition` at `current_leader_epoch`
    /// (see [`Topology::check_leader`]).
    pub fn check_leader(
        &self,
        topic: &str,
        partition: i32,
        node: i32,
        current_leader_epoch: i32,
    ) -> Result<i32, ResponseError> {
        self.topology
            .check_leader(topic, partition, node, current_leader_epoch)
    }

    /// The partition's leader-epoch history after the same check as
    /// [`Self::check_leader`] (see [`Topology::epoch_history`]).
    pub fn epoch_history(
        &self,
        topic: &str,
        partition: i32,
        node: i32,
        current_leader_epoch: i32,
    ) -> Result<EpochHistory, ResponseError> {
        self.topology
            .epoch_history(topic, partition, node, current_leader_epoch)
    }

    /// Tells fetches waiting on `topic`-`partition` that it changed.
    pub fn notify_append(&self, topic: &str, partition: i32) {
        self.appends.notify(topic, partition);
    }

    /// A receiver that changes whenever `topic`-`partition` changes.
    pub fn subscribe_appends(&self, topic: &str, partition: i32) -> watch::Receiver<u64> {
        self.appends.subscribe(topic, partition)
    }

    /// The broker's shutdown signal, for requests that wait (long polls).
    pub fn shutdown_signal(&self) -> Shutdown {
        self.shutdown.clone()
    }
}
