//! The consumer's public API.
//!
//! ```text
//!  poll() ─┬─ group events ──▶ listener (revoked / assigned / lost), commits on revoke
//!          ├─ auto-commit of positions already returned (every auto.commit.interval.ms)
//!          ├─ positions: committed offsets, else auto.offset.reset (ListOffsets)
//!          ├─ buffered records? ──▶ up to max.poll.records, grouped by partition
//!          └─ start fetches (up to N per broker) and wait for one, an event, or the timeout
//! ```
//!
//! A consumer either `subscribe`s (group membership, partitions assigned
//! by the group) or `assign`s partitions itself (no group; commits still
//! work when `group.id` is set). Everything runs in the caller's task
//! except the group membership and the fetches in flight.

mod builder;
mod commit;
mod positions;
mod seek;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use durian_core::Client;
use futures::Stream;
use regex::Regex;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use builder::ConsumerBuilder;

use crate::config::ConsumerConfig;
use crate::error::{ConsumerError, Result};
use crate::fetcher::Fetcher;
use crate::group::{GroupCommand, GroupEvent, GroupHandle, SubscriptionSpec};
use crate::listener::RebalanceListener;
use crate::metrics::ConsumerMetrics;
use crate::types::{ConsumerRecord, TopicPartition};

/// The records of one `poll`, grouped by partition, with per-partition errors.
#[derive(Debug, Default)]
pub struct PollBatch {
    /// Records per partition, in offset order.
    pub records: BTreeMap<TopicPartition, Vec<ConsumerRecord>>,
    /// Partitions that could not be read, and why.
    pub errors: Vec<(TopicPartition, ConsumerError)>,
}

impl PollBatch {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.values().map(Vec::len).sum()
    }

    /// Whether the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record, partition by partition.
    pub fn iter(&self) -> impl Iterator<Item = &ConsumerRecord> {
        self.records.values().flatten()
    }
}

impl IntoIterator for PollBatch {
    type Item = ConsumerRecord;
    type IntoIter = std::iter::Flatten<
        std::collections::btree_map::IntoValues<TopicPartition, Vec<ConsumerRecord>>,
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.records.into_values().flatten()
    }
}

/// A Kafka consumer: group member or manually assigned reader.
///
/// ```no_run
/// # async fn demo() -> durian_consumer::Result<()> {
/// use std::time::Duration;
/// let mut consumer = durian_consumer::Consumer::builder()
///     .bootstrap_servers(["localhost:9092"])
///     .group_id("shippers")
///     .build()?;
/// consumer.subscribe(["logs"])?;
/// loop {
///     for record in consumer.poll(Duration::from_secs(1)).await? {
///         println!("{}@{}: {:?}", record.partition, record.offset, record.value);
///     }
/// }
/// # }
/// ```
pub struct Consumer {
    client: Client,
    config: Arc<ConsumerConfig>,
    fetcher: Fetcher,
    group: Option<GroupHandle>,
    /// Behind a mutex only so that `Consumer` is `Sync` (a listener need
    /// only be `Send`): `&Consumer` is then `Send`, and the listener's
    /// future may await `&self` methods such as `committed`. It is reached
    /// with `get_mut`, never locked.
    listener: std::sync::Mutex<Option<Box<dyn RebalanceListener>>>,
    events: VecDeque<GroupEvent>,
    subscribed: bool,
    group_failed: Option<ConsumerError>,
    last_auto_commit: Instant,
    last_committed: BTreeMap<TopicPartition, i64>,
    auto_commit_task: Option<JoinHandle<Result<()>>>,
    next_position_lookup: Instant,
    /// Metadata updates, to go on at once when the consumer waits for
    /// them (e.g. a partition's leader, to look its position up); `None`
    /// once the client's metadata task is gone.
    metadata_updates: Option<tokio::sync::watch::Receiver<Arc<durian_core::ClusterMetadata>>>,
    closed: bool,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("group_id", &self.config.group_id)
            .field("subscribed", &self.subscribed)
            .field("assignment", &self.fetcher.assigned())
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// Starts a typed builder.
    pub fn builder() -> ConsumerBuilder {
        ConsumerBuilder::new()
    }

    /// A consumer from Kafka properties (see [`ConsumerConfig::from_properties`]).
    pub fn from_properties<I, K, V>(properties: I) -> Result<Consumer>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Consumer::new(ConsumerConfig::from_properties(properties)?)
    }

    /// A consumer for `config`; no broker is contacted until it is used.
    /// Must be called within a tokio runtime.
    pub fn new(config: ConsumerConfig) -> Result<Consumer> {
        config.validate()?;
        let client = Client::new(config.client.clone())?;
        let metadata_updates = client.subscribe_metadata();
        let config = Arc::new(config);
        Ok(Consumer {
            fetcher: Fetcher::new(client.clone(), config.clone()),
            client,
            config,
            group: None,
            listener: std::sync::Mutex::new(None),
            events: VecDeque::new(),
            subscribed: false,
            group_failed: None,
            last_auto_commit: Instant::now(),
            last_committed: BTreeMap::new(),
            auto_commit_task: None,
            next_position_lookup: Instant::now(),
            metadata_updates: Some(metadata_updates),
            closed: false,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ConsumerConfig {
        &self.config
    }

    /// The underlying client (metadata, raw requests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The listener's place (a poisoned mutex cannot hide a listener: the
    /// data is taken as it is).
    pub(crate) fn listener_slot(&mut self) -> &mut Option<Box<dyn RebalanceListener>> {
        self.listener.get_mut().unwrap_or_else(|p| p.into_inner())
    }

    /// Installs the rebalance listener, called from `poll`.
    pub fn set_rebalance_listener(&mut self, listener: impl RebalanceListener + 'static) {
        *self.listener_slot() = Some(Box::new(listener));
    }

    fn group_id(&self) -> Result<&str> {
        self.config
            .group_id
            .as_deref()
            .ok_or_else(|| ConsumerError::Usage("this needs group.id".to_owned()))
    }

    /// Joins the group and consumes `topics`; replaces an earlier subscription.
    pub fn subscribe<I, S>(&mut self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let topics: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        self.client.add_topics(topics.iter().cloned());
        self.start_subscription(SubscriptionSpec::Topics(topics))
    }

    /// Joins the group and consumes every topic whose whole name matches
    /// `pattern` (a `regex` crate expression); new matching topics are
    /// picked up at the next metadata check (`metadata.max.age.ms`).
    pub fn subscribe_pattern(&mut self, pattern: &str) -> Result<()> {
        let regex = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| ConsumerError::Usage(format!("invalid topic pattern `{pattern}`: {e}")))?;
        self.start_subscription(SubscriptionSpec::Pattern(regex))
    }

    fn start_subscription(&mut self, spec: SubscriptionSpec) -> Result<()> {
        let group_id = self.group_id()?.to_owned();
        if !self.subscribed && !self.fetcher.assigned().is_empty() {
            return Err(ConsumerError::Usage(
                "assign() and subscribe() cannot be mixed; unassign first".to_owned(),
            ));
        }
        self.subscribed = true;
        let group = self.group.get_or_insert_with(|| {
            GroupHandle::start(self.client.clone(), self.config.clone(), group_id)
        });
        group
            .commands
            .send(GroupCommand::Subscribe(spec))
            .map_err(|_| ConsumerError::Closed)
    }

    /// Gives up the subscription: revokes the partitions (listener and,
    /// with auto-commit, a commit), leaves the group. `assign` may be used
    /// afterwards.
    pub async fn unsubscribe(&mut self) -> Result<()> {
        if !self.subscribed {
            return Ok(());
        }
        let assigned: Vec<TopicPartition> = self.fetcher.assigned().into_iter().collect();
        self.revoke(&assigned).await;
        if let Some(mut group) = self.group.take() {
            group.leave(self.config.client.request_timeout).await;
        }
        self.events.clear();
        self.subscribed = false;
        Ok(())
    }

    /// Consumes exactly `partitions`, without a group. An empty list unassigns.
    pub fn assign<I>(&mut self, partitions: I) -> Result<()>
    where
        I: IntoIterator<Item = TopicPartition>,
    {
        if self.subscribed {
            return Err(ConsumerError::Usage(
                "assign() and subscribe() cannot be mixed".to_owned(),
            ));
        }
        let wanted: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        self.client
            .add_topics(wanted.iter().map(|tp| tp.topic.to_string()));
        let current = self.fetcher.assigned();
        let gone: Vec<TopicPartition> = current.difference(&wanted).cloned().collect();
        self.fetcher.remove(&gone);
        self.fetcher.add(wanted.difference(&current).cloned());
        Ok(())
    }

    /// The partitions currently assigned.
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.fetcher.assigned()
    }

    /// Waits up to `timeout` for records, handling rebalances on the way.
    ///
    /// Errors of single partitions come back in [`PollBatch::errors`];
    /// an `Err` means the consumer as a whole could not go on this time
    /// (e.g. [`ConsumerError::PollIntervalExceeded`], after which the next
    /// poll rejoins the group).
    pub async fn poll(&mut self, timeout: Duration) -> Result<PollBatch> {
        if self.closed {
            return Err(ConsumerError::Closed);
        }
        if let Some(error) = &self.group_failed {
            return Err(error.clone());
        }
        self.maybe_auto_commit();
        let deadline = Instant::now() + timeout;
        loop {
            // Time spent waiting inside poll is not the application stalling.
            if let Some(group) = &self.group {
                group.touch();
            }
            self.handle_group_events().await?;
            // Credentials or certificates the cluster refuses will not
            // change by polling again: report them instead of waiting. The
            // refresh asked for here (debounced by the client) lets a later
            // poll recover once the cause is fixed, e.g. a token provider
            // that works again.
            if let Some(error) = self
                .client
                .last_metadata_error()
                .filter(durian_core::Error::is_auth_failure)
            {
                self.client
                    .request_metadata_refresh("retrying after an authentication failure");
                return Err(ConsumerError::Client(error));
            }
            self.update_positions().await;
            self.fetcher.handle_ready();
            if self.fetcher.has_ready() {
                let mut batch = PollBatch {
                    errors: self.fetcher.take_errors(),
                    ..PollBatch::default()
                };
                for (tp, records) in self
                    .fetcher
                    .drain_by_partition(self.config.max_poll_records)
                {
                    match batch.records.entry(tp) {
                        std::collections::btree_map::Entry::Vacant(slot) => {
                            slot.insert(records);
                        }
                        // A partition comes once per drain; kept for safety.
                        std::collections::btree_map::Entry::Occupied(mut slot) => {
                            slot.get_mut().extend(records)
                        }
                    }
                }
                // Prefetch while the application works on this batch.
                self.fetcher.start_fetches();
                return Ok(batch);
            }
            self.fetcher.start_fetches();
            let now = Instant::now();
            if now >= deadline {
                return Ok(PollBatch::default());
            }
            // Wake up now and then to retry position lookups and leaderless partitions.
            let wake = deadline.min(now + self.config.client.retry_backoff_max);
            let fetching = self.fetcher.fetching();
            // Nothing in flight, or positions still to look up: new
            // metadata (the leader a lookup or a fetch needs) is worth
            // acting on at once rather than at the next wake-up, which cost
            // a fresh consumer about `poll`'s timeout before its first fetch.
            let awaits_metadata = self.metadata_updates.is_some()
                && (!fetching || !self.fetcher.without_position().is_empty());
            tokio::select! {
                _ = self.fetcher.wait_and_handle(), if fetching => {}
                changed = metadata_changed(&mut self.metadata_updates), if awaits_metadata => {
                    if changed {
                        // A lookup held back by the backoff may now succeed.
                        self.next_position_lookup = Instant::now();
                    } else {
                        self.metadata_updates = None;
                    }
                }
                event = next_event(&mut self.group) => match event {
                    Some(event) => self.events.push_back(event),
                    None => {
                        let error = ConsumerError::Group("the group membership task stopped".to_owned());
                        self.group_failed = Some(error.clone());
                        return Err(error);
                    }
                },
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// The group id, generation, member id and `group.instance.id` as
    /// they are now, for a transactional producer's
    /// `send_offsets_to_transaction` (KIP-447): the group coordinator
    /// refuses offsets sent with a generation the group has left behind,
    /// so a member that lost its partitions cannot commit for them.
    /// Take it after the `poll` whose records the transaction holds.
    /// Fails without `group.id`; before the first join the generation is -1
    /// and the member id empty.
    pub fn group_metadata(&self) -> Result<durian_core::ConsumerGroupMetadata> {
        let identity = self.commit_identity()?;
        Ok(durian_core::ConsumerGroupMetadata {
            group_id: identity.group_id,
            generation_id: identity.generation,
            member_id: identity.member_id,
            group_instance_id: identity.group_instance_id,
        })
    }

    /// What the consumer has buffered and in flight right now.
    pub fn metrics(&self) -> ConsumerMetrics {
        let (buffered_records, buffered_bytes, fetches_in_flight) = self.fetcher.buffered();
        let (fetch_requests, fetch_request_bytes) = self.fetcher.fetch_traffic();
        ConsumerMetrics {
            buffered_records,
            buffered_bytes,
            fetches_in_flight,
            fetch_requests,
            fetch_request_bytes,
        }
    }

    /// Fetch requests sent per broker (node id → count) since the consumer
    /// was created: shows where reads go, e.g. to a follower in the
    /// consumer's `client.rack` (KIP-392) rather than to the leader.
    pub fn fetches_per_broker(&self) -> BTreeMap<i32, u64> {
        self.fetcher.fetches_sent()
    }

    /// The records as a stream; each item is one record or a poll error.
    /// The stream borrows the consumer; drop it to call other methods.
    pub fn stream(&mut self) -> impl Stream<Item = Result<ConsumerRecord>> + '_ {
        futures::stream::unfold(
            (self, VecDeque::<Result<ConsumerRecord>>::new()),
            |(consumer, mut pending)| async move {
                loop {
                    if let Some(item) = pending.pop_front() {
                        return Some((item, (consumer, pending)));
                    }
                    match consumer.poll(Duration::from_secs(1)).await {
                        Ok(PollBatch { records, errors }) => {
                            pending.extend(errors.into_iter().map(|(_, e)| Err(e)));
                            pending.extend(records.into_values().flatten().map(Ok));
                        }
                        Err(ConsumerError::Closed) => return None,
                        Err(error) => pending.push_back(Err(error)),
                    }
                }
            },
        )
    }

    /// Applies queued group events: revocations (with the listener and,
    /// under auto-commit, a commit first), assignments and losses.
    async fn handle_group_events(&mut self) -> Result<()> {
        if let Some(group) = &mut self.group {
            while let Ok(event) = group.events.try_recv() {
                self.events.push_back(event);
            }
        }
        while let Some(event) = self.events.pop_front() {
            match event {
                GroupEvent::RevokeAll { partitions, ack } => {
                    self.revoke(&partitions).await;
                    self.count_revocation();
                    let _ = ack.send(());
                }
                GroupEvent::Assigned {
                    added,
                    revoked,
                    ack,
                } => {
                    if !revoked.is_empty() {
                        self.revoke(&revoked).await;
                        self.count_revocation();
                    }
                    self.fetcher.add(added.iter().cloned());
                    self.client
                        .add_topics(added.iter().map(|tp| tp.topic.to_string()));
                    if !added.is_empty() {
                        self.with_listener(|l, c, p| l.on_partitions_assigned(c, p), &added)
                            .await;
                    }
                    let _ = ack.send(());
                }
                GroupEvent::Lost {
                    partitions,
                    poll_timeout,
                } => {
                    if !partitions.is_empty() {
                        self.with_listener(|l, c, p| l.on_partitions_lost(c, p), &partitions)
                            .await;
                        self.forget(&partitions);
                    }
                    if poll_timeout {
                        if let Some(group) = &self.group {
                            let _ = group.commands.send(GroupCommand::Rejoin);
                        }
                        return Err(ConsumerError::PollIntervalExceeded);
                    }
                }
                GroupEvent::Fatal(error) => {
                    self.group_failed = Some(error.clone());
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    async fn revoke(&mut self, partitions: &[TopicPartition]) {
        self.with_listener(|l, c, p| l.on_partitions_revoked(c, p), partitions)
            .await;
        if self.config.enable_auto_commit {
            // An older background commit landing after this one would
            // move the committed offsets backwards.
            if let Some(task) = self.auto_commit_task.take() {
                let _ = task.await;
            }
            let outcome = match self.commit_snapshot(Some(partitions)) {
                Ok((identity, offsets)) => self.commit_as(identity, offsets).await,
                Err(error) => Err(error),
            };
            if let Err(error) = outcome {
                tracing::warn!(%error, "commit before revocation failed; records may be consumed again");
            }
        }
        self.forget(partitions);
    }

    /// Counts an applied revocation before it is acknowledged: the
    /// coordinator's next epoch comes only after the acknowledgement, so
    /// a commit refused as stale that sees that epoch sees this count too
    /// and does not follow it with the revoked partitions
    /// (`commit::send_commit`).
    fn count_revocation(&self) {
        if let Some(group) = &self.group {
            group.revocations.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn forget(&mut self, partitions: &[TopicPartition]) {
        self.fetcher.remove(partitions);
        for tp in partitions {
            self.last_committed.remove(tp);
        }
    }

    /// Runs one listener callback with the listener taken out of `self`,
    /// so it can use the consumer.
    async fn with_listener<F>(&mut self, call: F, partitions: &[TopicPartition])
    where
        F: for<'a> FnOnce(
            &'a mut Box<dyn RebalanceListener>,
            &'a mut Consumer,
            &'a [TopicPartition],
        ) -> futures::future::BoxFuture<'a, ()>,
    {
        if let Some(mut listener) = self.listener_slot().take() {
            call(&mut listener, self, partitions).await;
            *self.listener_slot() = Some(listener);
        }
    }

    /// Commits (with auto-commit), runs the revocation listener, leaves
    /// the group and stops. Dropping a consumer without `close` leaves the
    /// group only when its session times out.
    pub async fn close(mut self) -> Result<()> {
        self.closed = true;
        let mut result = Ok(());
        if self.subscribed {
            let assigned: Vec<TopicPartition> = self.fetcher.assigned().into_iter().collect();
            self.with_listener(|l, c, p| l.on_partitions_revoked(c, p), &assigned)
                .await;
        }
        if self.config.enable_auto_commit && self.config.group_id.is_some() {
            if let Some(task) = self.auto_commit_task.take() {
                let _ = task.await;
            }
            result = match self.commit_snapshot(None) {
                Ok((identity, offsets)) => self.commit_as(identity, offsets).await,
                Err(error) => Err(error),
            };
        }
        if let Some(mut group) = self.group.take() {
            group.leave(self.config.client.request_timeout).await;
        }
        self.fetcher.close_sessions().await;
        result
    }
}

/// Waits for the next metadata update; false when there will be none.
async fn metadata_changed(
    updates: &mut Option<tokio::sync::watch::Receiver<Arc<durian_core::ClusterMetadata>>>,
) -> bool {
    match updates {
        Some(updates) => updates.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

/// The next group event, or never when there is no group.
async fn next_event(group: &mut Option<GroupHandle>) -> Option<GroupEvent> {
    match group {
        Some(group) => group.events.recv().await,
        None => std::future::pending().await,
    }
}
