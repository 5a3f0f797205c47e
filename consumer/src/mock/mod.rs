//! [`MockConsumer`]: a consumer without a broker, for tests of application
//! code written against [`ConsumerApi`] (cargo feature `testing`).
//!
//! ```text
//!  test ── MockConsumerHandle ──▶ records per partition, rebalances, losses, poll/commit errors
//!                                   │ shared state
//!  code under test ── MockConsumer ─┴─▶ poll: error? ─▶ rebalance (listener) ─▶ records from positions
//! ```
//!
//! The test keeps a [`MockConsumerHandle`] while the code under test owns
//! the consumer, and can feed it records (or a rebalance) while that code
//! is polling: `poll` waits for them up to its timeout, as a real one does.

mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::api::ConsumerApi;
use crate::consumer::PollBatch;
use crate::error::{ConsumerError, Result};
use crate::listener::RebalanceListener;
use crate::types::{ConsumerRecord, OffsetAndMetadata, TopicPartition};
use state::{GroupChange, State};

/// A consumer reading what the test gives it.
///
/// * Records are added per partition through the [`handle`](Self::handle);
///   `poll` returns those of assigned partitions from each partition's
///   position (its committed offset at first, else its first record's
///   offset), at most `max_poll_records` at a time, and moves the position.
/// * `subscribe` remembers the topics; partitions come with a rebalance the
///   test schedules ([`MockConsumerHandle::schedule_rebalance`]), applied at
///   the next `poll` through the [`RebalanceListener`], as a group's are.
///   `assign` sets partitions directly.
/// * Commits are recorded ([`MockConsumerHandle::committed`]); the test can
///   make the next poll or commit fail.
///
/// ```
/// # tokio_test_block_on(async {
/// use std::time::Duration;
/// use durian_consumer::{ConsumerApi, MockConsumer, TopicPartition};
/// let mut consumer = MockConsumer::new();
/// let feed = consumer.handle();
/// let tp = TopicPartition::new("clicks", 0);
/// consumer.assign([tp.clone()]).unwrap();
/// feed.add_record(&tp, Some("user-1"), Some("/home"));
/// let batch = consumer.poll(Duration::from_secs(1)).await.unwrap();
/// assert_eq!(batch.len(), 1);
/// consumer.commit().await.unwrap();
/// assert_eq!(feed.committed()[&tp].offset, 1);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(f)
/// # }
/// ```
pub struct MockConsumer {
    shared: Arc<Shared>,
    /// Behind a mutex only so that `MockConsumer` is `Sync`, as `Consumer`
    /// is; reached with `get_mut`, never locked.
    listener: Mutex<Option<Box<dyn RebalanceListener<MockConsumer>>>>,
    max_poll_records: usize,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// Wakes a waiting `poll` when the test adds something.
    changed: Notify,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // Each update leaves the state whole; a panic elsewhere in a test
        // must not hide it from the assertions that follow.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl std::fmt::Debug for MockConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockConsumer")
            .field("state", &*self.shared.state())
            .finish_non_exhaustive()
    }
}

impl Default for MockConsumer {
    fn default() -> Self {
        Self::new()
    }
}

impl MockConsumer {
    /// A consumer with nothing assigned and no records; `max.poll.records` 500.
    pub fn new() -> Self {
        MockConsumer {
            shared: Arc::default(),
            listener: Mutex::new(None),
            max_poll_records: 500,
        }
    }

    /// Sets how many records one `poll` returns at most.
    pub fn with_max_poll_records(mut self, max: usize) -> Self {
        self.max_poll_records = max.max(1);
        self
    }

    /// The test's side: feeds records, schedules rebalances and errors,
    /// reads commits. Clones share the consumer's state.
    pub fn handle(&self) -> MockConsumerHandle {
        MockConsumerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Installs the rebalance listener, called from `poll`.
    pub fn set_rebalance_listener(
        &mut self,
        listener: impl RebalanceListener<MockConsumer> + 'static,
    ) {
        *self.listener_slot() = Some(Box::new(listener));
    }

    fn listener_slot(&mut self) -> &mut Option<Box<dyn RebalanceListener<MockConsumer>>> {
        self.listener.get_mut().unwrap_or_else(|p| p.into_inner())
    }

    /// The topics of the last `subscribe`, if any.
    pub fn subscription(&self) -> Option<BTreeSet<String>> {
        self.shared.state().subscription.clone()
    }

    /// Stops the consumer: later calls fail with [`ConsumerError::Closed`].
    pub fn close(&mut self) {
        self.shared.state().closed = true;
    }

    /// Applies one scheduled rebalance: revokes what leaves (listener
    /// first, while the consumer still owns it), then assigns what comes.
    async fn rebalance(&mut self, target: BTreeSet<TopicPartition>) {
        let current = self.shared.state().assignment.clone();
        let revoked: Vec<TopicPartition> = current.difference(&target).cloned().collect();
        let added: Vec<TopicPartition> = target.difference(&current).cloned().collect();
        if !revoked.is_empty() {
            if let Some(mut listener) = self.listener_slot().take() {
                listener.on_partitions_revoked(self, &revoked).await;
                *self.listener_slot() = Some(listener);
            }
            self.shared.state().unassign(&revoked);
        }
        self.shared.state().assignment.extend(added.iter().cloned());
        if !added.is_empty() {
            if let Some(mut listener) = self.listener_slot().take() {
                listener.on_partitions_assigned(self, &added).await;
                *self.listener_slot() = Some(listener);
            }
        }
    }
}

impl MockConsumer {
    /// Applies a scheduled loss: the listener hears of it, then the
    /// partitions are gone, uncommitted.
    async fn lose(&mut self, partitions: Vec<TopicPartition>) {
        let owned = self.shared.state().assignment.clone();
        let lost: Vec<TopicPartition> = partitions
            .into_iter()
            .filter(|tp| owned.contains(tp))
            .collect();
        if lost.is_empty() {
            return;
        }
        if let Some(mut listener) = self.listener_slot().take() {
            listener.on_partitions_lost(self, &lost).await;
            *self.listener_slot() = Some(listener);
        }
        self.shared.state().unassign(&lost);
    }
}

impl ConsumerApi for MockConsumer {
    fn subscribe<I, S>(&mut self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut state = self.shared.state();
        state.check_open()?;
        if state.subscription.is_none() && !state.assignment.is_empty() {
            return Err(ConsumerError::Usage(
                "assign() and subscribe() cannot be mixed; unassign first".to_owned(),
            ));
        }
        state.subscription = Some(topics.into_iter().map(Into::into).collect());
        Ok(())
    }

    fn assign<I>(&mut self, partitions: I) -> Result<()>
    where
        I: IntoIterator<Item = TopicPartition>,
    {
        let mut state = self.shared.state();
        state.check_open()?;
        if state.subscription.is_some() {
            return Err(ConsumerError::Usage(
                "assign() and subscribe() cannot be mixed".to_owned(),
            ));
        }
        let wanted: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        let gone: Vec<TopicPartition> = state.assignment.difference(&wanted).cloned().collect();
        state.unassign(&gone);
        state.assignment = wanted;
        Ok(())
    }

    fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.shared.state().assignment.clone()
    }

    async fn poll(&mut self, timeout: Duration) -> Result<PollBatch> {
        let deadline = Instant::now() + timeout;
        loop {
            let change = {
                let mut state = self.shared.state();
                state.check_open()?;
                if let Some(error) = state.poll_errors.pop_front() {
                    return Err(error);
                }
                state.scheduled.pop_front()
            };
            match change {
                Some(GroupChange::Rebalance(target)) => {
                    self.rebalance(target).await;
                    continue;
                }
                Some(GroupChange::Lost(partitions)) => {
                    self.lose(partitions).await;
                    continue;
                }
                None => {}
            }
            let batch = self.shared.state().take_records(self.max_poll_records);
            if !batch.is_empty() || Instant::now() >= deadline {
                return Ok(batch);
            }
            // Notify keeps one wake-up for a poll not yet waiting, so a
            // record added between the check above and here is not missed.
            let _ = tokio::time::timeout_at(deadline, self.shared.changed.notified()).await;
        }
    }

    async fn commit(&mut self) -> Result<()> {
        let mut state = self.shared.state();
        let offsets = state.positions_of_assigned();
        state.commit(offsets)
    }

    async fn commit_offsets(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        self.shared.state().commit(offsets)
    }

    async fn position(&mut self, partition: &TopicPartition) -> Result<i64> {
        self.shared.state().position(partition)
    }

    fn seek(&mut self, partition: &TopicPartition, offset: i64) -> Result<()> {
        let mut state = self.shared.state();
        state.check_open()?;
        if !state.assignment.contains(partition) {
            return Err(ConsumerError::Usage(format!(
                "cannot seek {partition}: not assigned"
            )));
        }
        state.positions.insert(partition.clone(), offset);
        Ok(())
    }
}

/// The test's side of a [`MockConsumer`]; cheap to clone.
#[derive(Clone, Debug)]
pub struct MockConsumerHandle {
    shared: Arc<Shared>,
}

impl MockConsumerHandle {
    /// Adds a record to `partition` at the offset after its last one (0
    /// first) and returns that offset.
    pub fn add_record(
        &self,
        partition: &TopicPartition,
        key: Option<impl Into<Bytes>>,
        value: Option<impl Into<Bytes>>,
    ) -> i64 {
        let offset = self.shared.state().next_offset(partition);
        self.add(ConsumerRecord {
            topic: partition.topic.clone(),
            partition: partition.partition,
            offset,
            timestamp: 0,
            key: key.map(Into::into),
            value: value.map(Into::into),
            headers: Vec::new(),
            leader_epoch: -1,
        });
        offset
    }

    /// Adds a record as it is (its offset must be past the partition's
    /// last one, as in a log; an older offset is appended all the same).
    pub fn add(&self, record: ConsumerRecord) {
        self.shared.state().add(record);
        self.shared.changed.notify_one();
    }

    /// At the next `poll`, the assignment becomes `partitions`: the
    /// listener sees the partitions that leave revoked and the new ones
    /// assigned (cooperatively: partitions that stay are not revoked).
    pub fn schedule_rebalance(&self, partitions: impl IntoIterator<Item = TopicPartition>) {
        self.shared
            .state()
            .scheduled
            .push_back(GroupChange::Rebalance(partitions.into_iter().collect()));
        self.shared.changed.notify_one();
    }

    /// At the next `poll`, those of `partitions` the consumer owns are
    /// lost (as when its session expired): the listener's
    /// `on_partitions_lost` runs and they are unassigned without a commit.
    pub fn schedule_partitions_lost(&self, partitions: impl IntoIterator<Item = TopicPartition>) {
        self.shared
            .state()
            .scheduled
            .push_back(GroupChange::Lost(partitions.into_iter().collect()));
        self.shared.changed.notify_one();
    }

    /// The next `poll` fails with `error` (then polls work again).
    pub fn schedule_poll_error(&self, error: ConsumerError) {
        self.shared.state().poll_errors.push_back(error);
        self.shared.changed.notify_one();
    }

    /// The next commit fails with `error` and commits nothing.
    pub fn fail_next_commit(&self, error: ConsumerError) {
        self.shared.state().commit_errors.push_back(error);
    }

    /// The committed offsets.
    pub fn committed(&self) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        self.shared.state().committed.clone()
    }

    /// How many commits succeeded.
    pub fn commits(&self) -> usize {
        self.shared.state().commits
    }

    /// The position of each partition that has one (read or sought).
    pub fn positions(&self) -> BTreeMap<TopicPartition, i64> {
        self.shared.state().positions.clone()
    }

    /// The partitions assigned now.
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.shared.state().assignment.clone()
    }
}
