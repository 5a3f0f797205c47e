//! State shared by the producer handles and the sender task.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use durian_core::Client;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::accumulator::buffer_pool::MemoryBudget;
use crate::accumulator::Accumulator;
use crate::config::ProducerConfig;
use crate::error::ProducerError;
use crate::lifecycle::Lifecycle;
use crate::metrics::Metrics;
use crate::partitioner::{SharedPartitioner, TopicPartitions};
use crate::topic_map::TopicMap;
use crate::transaction::TransactionManager;

/// Partitions per topic, with the metadata generation they were read
/// from; nearly every `send` names the topic of the one before, which
/// [`TopicMap`] finds without hashing the name.
type TopicCache = TopicMap<(u64, Arc<TopicPartitions>)>;

/// Everything the handles and the sender share.
pub(crate) struct Shared {
    pub(crate) client: Client,
    pub(crate) config: ProducerConfig,
    pub(crate) accumulator: Mutex<Accumulator>,
    pub(crate) budget: MemoryBudget,
    pub(crate) partitioner: SharedPartitioner,
    /// Wakes the sender: a new batch, a flush, a close.
    pub(crate) wakeup: Notify,
    /// Number of `flush`/`close` calls waiting: linger is ignored meanwhile.
    /// A counter, not a state: flushes come and go while the producer is
    /// open (see lifecycle.rs).
    pub(crate) hurry: AtomicUsize,
    /// Open → Closing → Aborting → Closed.
    pub(crate) lifecycle: Lifecycle,
    /// Set once; every later send fails with it. Kept beside the lifecycle,
    /// not in it: it may strike in any state and carries the error.
    pub(crate) fatal: OnceLock<ProducerError>,
    pub(crate) metrics: Metrics,
    /// With `transactional.id`: the transaction state machine.
    pub(crate) txn: Option<Arc<TransactionManager>>,
    topics: Mutex<TopicCache>,
    /// Notified when the sender task stops (the lifecycle is then Closed).
    pub(crate) sender_done: Notify,
}

impl Shared {
    pub(crate) fn new(
        client: Client,
        config: ProducerConfig,
        accumulator: Accumulator,
        partitioner: SharedPartitioner,
    ) -> Self {
        let txn = config.transactional_id.clone().map(|id| {
            let timeout_ms =
                i32::try_from(config.transaction_timeout.as_millis()).unwrap_or(i32::MAX);
            Arc::new(TransactionManager::new(id, timeout_ms))
        });
        Shared {
            client,
            budget: MemoryBudget::new(config.buffer_memory),
            config,
            accumulator: Mutex::new(accumulator),
            partitioner,
            wakeup: Notify::new(),
            hurry: AtomicUsize::new(0),
            lifecycle: Lifecycle::new(),
            fatal: OnceLock::new(),
            metrics: Metrics::default(),
            txn,
            topics: Mutex::new(TopicCache::default()),
            sender_done: Notify::new(),
        }
    }

    /// The accumulator; the lock is only ever held for synchronous steps.
    pub(crate) fn accumulator(&self) -> MutexGuard<'_, Accumulator> {
        self.accumulator.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fails when the producer may not take records any more.
    pub(crate) fn check_open(&self) -> Result<(), ProducerError> {
        if let Some(fatal) = self.fatal.get() {
            return Err(fatal.clone());
        }
        if self.lifecycle.is_closing() {
            return Err(ProducerError::Closed);
        }
        Ok(())
    }

    /// The partitions of `topic`, waiting for its metadata until `deadline`.
    pub(crate) async fn topic_partitions(
        &self,
        topic: &str,
        deadline: Instant,
    ) -> Result<Arc<TopicPartitions>, ProducerError> {
        // The common case: known topic, unchanged metadata. No allocation.
        if let Some(found) = self.known_partitions(topic) {
            return Ok(found);
        }
        self.wait_for_partitions(topic, deadline).await
    }

    /// The partitions of `topic` when the cache already knows them for the
    /// current metadata, without waiting: the path of nearly every `send`,
    /// which can then tell that no time passed in a wait (so the clock
    /// read it took before still dates a batch it opens).
    pub(crate) fn known_partitions(&self, topic: &str) -> Option<Arc<TopicPartitions>> {
        self.cached(topic, self.client.metadata_generation())
    }

    async fn wait_for_partitions(
        &self,
        topic: &str,
        deadline: Instant,
    ) -> Result<Arc<TopicPartitions>, ProducerError> {
        let metadata = self.client.metadata();
        let mut updates = self.client.subscribe_metadata();
        let mut registered = false;
        let asked_at = metadata.generation;
        loop {
            let metadata = self.client.metadata();
            if let Some(info) = metadata.topic(topic).filter(|t| !t.partitions.is_empty()) {
                let partitions = Arc::new(TopicPartitions {
                    count: info.partitions.len() as i32,
                    available: info
                        .partitions
                        .values()
                        .filter(|p| p.leader.is_some())
                        .map(|p| p.partition)
                        .collect(),
                });
                let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
                *topics.get_or_insert_with(topic, |_| (metadata.generation, partitions.clone())) =
                    (metadata.generation, partitions.clone());
                return Ok(partitions);
            }
            if !registered {
                registered = true;
                if !self.client.add_topics([topic]) {
                    self.client
                        .request_metadata_refresh(format!("producing to `{topic}`"));
                }
            } else {
                self.client
                    .request_metadata_refresh(format!("topic `{topic}` has no partitions yet"));
            }
            // Credentials or certificates the cluster refuses will not
            // change by waiting: fail now rather than at max.block.ms.
            if let Some(error) = self
                .client
                .last_metadata_error()
                .filter(durian_core::Error::is_auth_failure)
            {
                return Err(ProducerError::Authentication(error));
            }
            // ACLs refusing the topic will not change by waiting either
            // (Kafka's producer throws TopicAuthorizationException here);
            // only an answer newer than this send's own request counts,
            // so an ACL added since an earlier refusal is seen.
            if let Some(code) = metadata
                .topic(topic)
                .and_then(|t| t.error)
                .filter(|code| *code == durian_core::KafkaCode::TOPIC_AUTHORIZATION_FAILED)
                .filter(|_| metadata.generation > asked_at)
            {
                return Err(ProducerError::TopicAuthorization {
                    topic: topic.to_owned(),
                    error: durian_core::Error::Kafka(durian_core::KafkaError {
                        code,
                        message: None,
                    }),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ProducerError::TopicNotFound {
                    topic: topic.to_owned(),
                    waited: self.config.max_block,
                    cause: metadata.topic(topic).and_then(|t| t.error).map(|code| {
                        durian_core::Error::Kafka(durian_core::KafkaError {
                            code,
                            message: None,
                        })
                    }),
                });
            }
            // Wake on a new snapshot, or after a backoff to ask again.
            let pause = self
                .config
                .client
                .retry_backoff
                .max(Duration::from_millis(10));
            let until = deadline.min(now + pause);
            let _ = tokio::time::timeout_at(until, updates.changed()).await;
        }
    }

    fn cached(&self, topic: &str, generation: u64) -> Option<Arc<TopicPartitions>> {
        let mut topics = self.topics.lock().unwrap_or_else(|p| p.into_inner());
        topics
            .get_mut(topic)
            .filter(|(seen, _)| *seen == generation)
            .map(|(_, partitions)| partitions.clone())
    }
}
