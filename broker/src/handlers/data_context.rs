//! What the data APIs (Produce, Fetch, ListOffsets, DeleteRecords,
//! OffsetForLeaderEpoch) see of the broker: topic lookups, partition logs,
//! leadership checks, append signals and the shutdown signal. No group
//! coordinator, no producer ids, and of the topic changes only
//! auto-creation (Produce may create a missing topic).

use tokio::sync::watch;
use uuid::Uuid;

use kafka_protocol::ResponseError;

use crate::append_signals::AppendSignals;
use crate::catalog::{TopicCatalog, TopicMeta};
use crate::server::shutdown::Shutdown;
use crate::state::{TopicError, Topics};
use crate::storage::{lock_log, LogManager, PartitionLog, SharedLog, StorageError};
use crate::topology::{EpochHistory, Topology};

/// The data handlers' view of the broker state.
#[derive(Clone, Copy)]
pub struct DataContext<'a> {
    catalog: &'a TopicCatalog,
    logs: &'a LogManager,
    topology: &'a Topology,
    appends: &'a AppendSignals,
    shutdown: &'a Shutdown,
    topics: Topics<'a>,
}

impl<'a> DataContext<'a> {
    /// A view over the given parts of one broker state.
    pub(crate) fn new(
        catalog: &'a TopicCatalog,
        logs: &'a LogManager,
        topology: &'a Topology,
        appends: &'a AppendSignals,
        shutdown: &'a Shutdown,
        topics: Topics<'a>,
    ) -> DataContext<'a> {
        DataContext {
            catalog,
            logs,
            topology,
            appends,
            shutdown,
            topics,
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
    ) -> Result<TopicMeta, TopicError> {
        self.topics.topic_or_auto_create(name, allow).await
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
