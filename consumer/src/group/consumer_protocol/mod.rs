//! Membership under `group.protocol=consumer` (KIP-848): one request,
//! ConsumerGroupHeartbeat, replaces JoinGroup, SyncGroup, Heartbeat and
//! LeaveGroup, and the coordinator computes the assignment.
//!
//! ```text
//!  subscribe ──▶ heartbeat epoch 0 (every field) ──▶ member, epoch n
//!     ▲              │ assignment in a response
//!     │              ▼
//!     │          reconcile: revoke (listener, commit) ─▶ heartbeat owned (ack)
//!     │                     assign (listener)         ─▶ heartbeat owned (ack)
//!     │  FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID: partitions lost, epoch 0
//!     └──────────────────────────────────────────────────────────────────
//!  close ──▶ heartbeat epoch -1 (-2 for a static member), stop
//! ```
//!
//! The task speaks to the consumer through the same events as the
//! classic task (`GroupEvent`), so `poll`, commits and the rebalance
//! listener work unchanged. The member epoch is published as the
//! generation of the member identity: commits carry it.

mod apply;
mod fields;
mod reconcile;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use durian_core::backoff::Backoff;
use durian_core::{Client, Error as CoreError, KafkaCode, Target, TrafficClass};
use kafka_protocol::messages::ConsumerGroupHeartbeatResponse;
use tokio::time::Instant;
use uuid::Uuid;

use self::fields::{
    heartbeat_request, leave_request, Fields, Subscribed, LEAVE_EPOCH, STATIC_LEAVE_EPOCH,
};
use super::link::{Resume, TaskLink};
use super::{coordinator, GroupCommand, GroupEvent, SubscriptionSpec};
use crate::config::ConsumerConfig;
use crate::error::ConsumerError;
use crate::types::TopicPartition;
use crate::versioned::send_versioned;

/// How long to wait for the first answer's heartbeat interval.
const INITIAL_INTERVAL: Duration = Duration::from_secs(3);

/// What one heartbeat (or a reconciliation step) came to.
enum Beat {
    /// Carry on at the coordinator's heartbeat interval.
    Ok,
    /// A retriable failure: try again after a backoff.
    Retry,
    /// The coordinator no longer knows this member at this epoch.
    Fenced(String),
    /// The membership was reset (poll timeout): join again now.
    Restart,
    /// The consumer left, is gone, or membership failed for good.
    Stop,
}

pub(super) struct ConsumerGroupTask {
    client: Client,
    config: Arc<ConsumerConfig>,
    group_id: String,
    target: Target,
    link: TaskLink,
    /// Generated here (ConsumerGroupHeartbeat v1) and kept across fencing.
    member_id: String,
    epoch: i32,
    owned: BTreeSet<TopicPartition>,
    subscription: Option<SubscriptionSpec>,
    /// Topic names by id, learned from metadata; kept for the task's life.
    names: BTreeMap<Uuid, String>,
    /// The latest assignment from the coordinator not yet reconciled.
    pending: Option<BTreeMap<Uuid, BTreeSet<i32>>>,
    /// What the last successful heartbeat told; `None` sends every field.
    last_sent: Option<Fields>,
    interval: Duration,
    backoff: Backoff,
    /// Spaces out the all-topics Metadata requests that look for assigned
    /// topic ids missing from the client's metadata (apply.rs).
    names_lookup: NamesLookup,
}

/// When the next all-topics Metadata request for unknown topic ids may go
/// out. A topic id the coordinator assigned may stay unknown for a while
/// (a topic created moments ago that this broker has not heard of, or one
/// deleted meanwhile); asking for every topic on each heartbeat would cost
/// the cluster a full Metadata answer per member every few seconds.
pub(super) struct NamesLookup {
    /// The ids the last lookup left unknown; a different set (a topic
    /// assigned since) is looked up at once, whatever the backoff says.
    unknown: BTreeSet<Uuid>,
    not_before: Option<Instant>,
    backoff: Backoff,
}

impl NamesLookup {
    /// The first lookup goes out at once; while ids stay unknown the next
    /// ones wait from one second doubling up to `max`.
    fn new(max: Duration) -> Self {
        NamesLookup {
            unknown: BTreeSet::new(),
            not_before: None,
            backoff: Backoff::new(NAMES_LOOKUP_INITIAL, max),
        }
    }

    /// Whether a lookup for `unknown` may be sent now.
    pub(super) fn due(&self, unknown: &BTreeSet<Uuid>) -> bool {
        *unknown != self.unknown || self.not_before.is_none_or(|at| Instant::now() >= at)
    }

    /// A lookup left `unknown` unknown: the next one for the same ids waits
    /// longer; for other ids the wait starts over.
    pub(super) fn missed(&mut self, unknown: BTreeSet<Uuid>) {
        if unknown != self.unknown {
            self.backoff.reset();
            self.unknown = unknown;
        }
        self.not_before = Some(Instant::now() + self.backoff.next_delay());
    }

    /// Every id is known: a later unknown one is looked up at once.
    pub(super) fn settled(&mut self) {
        self.unknown.clear();
        self.not_before = None;
        self.backoff.reset();
    }
}

/// The first wait between two all-topics lookups for the same unknown ids.
const NAMES_LOOKUP_INITIAL: Duration = Duration::from_secs(1);

impl ConsumerGroupTask {
    pub(super) fn new(
        client: Client,
        config: Arc<ConsumerConfig>,
        group_id: String,
        link: TaskLink,
    ) -> Self {
        let backoff = Backoff::new(config.client.retry_backoff, config.client.retry_backoff_max);
        let names_lookup = NamesLookup::new(config.client.metadata_max_age);
        let member_id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        ConsumerGroupTask {
            target: coordinator(&group_id),
            client,
            config,
            group_id,
            link,
            member_id: member_id.to_string(),
            epoch: 0,
            owned: BTreeSet::new(),
            subscription: None,
            names: BTreeMap::new(),
            pending: None,
            last_sent: None,
            interval: INITIAL_INTERVAL,
            backoff,
            names_lookup,
        }
    }

    pub(super) async fn run(mut self) {
        match self.link.first_subscription().await {
            Some(spec) => self.subscription = Some(spec),
            None => return,
        }
        let mut next = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {
                    let outcome = if self.epoch > 0 && self.poll_overdue() {
                        self.leave_for_poll_timeout().await
                    } else {
                        self.step().await
                    };
                    let delay = match outcome {
                        Beat::Ok => {
                            self.backoff.reset();
                            self.interval
                        }
                        Beat::Retry => self.backoff.next_delay(),
                        Beat::Fenced(why) => {
                            self.fenced(&why);
                            Duration::ZERO
                        }
                        Beat::Restart => Duration::ZERO,
                        Beat::Stop => return,
                    };
                    next = Instant::now() + delay;
                }
                command = self.link.commands.recv() => match command {
                    Some(GroupCommand::Subscribe(spec)) => {
                        // The next heartbeat carries the new subscription.
                        self.subscription = Some(spec);
                        next = Instant::now();
                    }
                    Some(GroupCommand::Rejoin) => {}
                    Some(GroupCommand::Leave(ack)) => {
                        self.leave_on_close().await;
                        let _ = ack.send(());
                        return;
                    }
                    None => return,
                },
            }
        }
    }

    /// A heartbeat, then whatever reconciliation its answer calls for.
    async fn step(&mut self) -> Beat {
        match self.beat().await {
            Beat::Ok => self.reconcile().await,
            other => other,
        }
    }

    fn poll_overdue(&self) -> bool {
        self.link.poll_overdue(self.config.max_poll_interval)
    }

    fn fields(&self) -> Fields {
        let subscribed = match &self.subscription {
            Some(SubscriptionSpec::Pattern(regex)) => Subscribed::Regex(regex.as_str().to_owned()),
            Some(SubscriptionSpec::Topics(topics)) => Subscribed::Topics(topics.clone()),
            None => Subscribed::Topics(BTreeSet::new()),
        };
        Fields {
            instance_id: self.config.group_instance_id.clone(),
            rack: self.config.client_rack.clone(),
            rebalance_timeout_ms: i32::try_from(self.config.max_poll_interval.as_millis())
                .unwrap_or(i32::MAX),
            subscribed,
            assignor: self.config.group_remote_assignor.clone(),
            owned: reconcile::owned_by_id(&self.owned, &self.names),
        }
    }

    /// One ConsumerGroupHeartbeat and its answer.
    async fn beat(&mut self) -> Beat {
        let fields = self.fields();
        let mut version = -1;
        let sent = {
            let (group_id, member_id, epoch, last) = (
                &self.group_id,
                &self.member_id,
                self.epoch,
                self.last_sent.as_ref(),
            );
            send_versioned(
                &self.client,
                self.target.clone(),
                TrafficClass::Group,
                |v| {
                    version = v;
                    heartbeat_request(group_id, member_id, epoch, &fields, last)
                },
            )
            .await
        };
        let response = match sent {
            Ok(response) => response,
            Err(error) => return self.send_failed(error, version, &fields),
        };
        match KafkaCode(response.error_code) {
            KafkaCode::NONE => {
                self.accept(response, fields);
                Beat::Ok
            }
            code @ (KafkaCode::FENCED_MEMBER_EPOCH | KafkaCode::UNKNOWN_MEMBER_ID) => {
                Beat::Fenced(describe(code, &response))
            }
            code @ (KafkaCode::COORDINATOR_NOT_AVAILABLE
            | KafkaCode::NOT_COORDINATOR
            | KafkaCode::COORDINATOR_LOAD_IN_PROGRESS) => {
                let error = CoreError::Kafka(durian_core::KafkaError {
                    code,
                    message: response.error_message.as_ref().map(|m| m.to_string()),
                });
                self.client.report_error(&self.target, &error);
                self.last_sent = None;
                Beat::Retry
            }
            KafkaCode::GROUP_AUTHORIZATION_FAILED => {
                let error = CoreError::Kafka(durian_core::KafkaError {
                    code: KafkaCode::GROUP_AUTHORIZATION_FAILED,
                    message: None,
                });
                let _ =
                    self.link
                        .events
                        .send(GroupEvent::Fatal(ConsumerError::GroupAuthorization {
                            group: self.group_id.clone(),
                            error,
                        }));
                Beat::Stop
            }
            KafkaCode::UNSUPPORTED_VERSION => self.unsupported(),
            code => self.fatal(describe(code, &response)),
        }
    }

    /// Takes in a successful answer: identity, interval, assignment.
    fn accept(&mut self, response: ConsumerGroupHeartbeatResponse, fields: Fields) {
        if let Some(id) = response.member_id.filter(|id| !id.is_empty()) {
            self.member_id = id.to_string();
        }
        let epoch_changed = response.member_epoch != self.epoch;
        self.epoch = response.member_epoch;
        if let Ok(ms) = u64::try_from(response.heartbeat_interval_ms) {
            if ms > 0 {
                self.interval = Duration::from_millis(ms);
            }
        }
        if let Some(assignment) = response.assignment {
            let target = assignment
                .topic_partitions
                .into_iter()
                .map(|t| (t.topic_id, t.partitions.into_iter().collect()))
                .collect();
            self.pending = Some(target);
        }
        self.last_sent = Some(fields);
        if epoch_changed {
            tracing::debug!(group = %self.group_id, member = %self.member_id, epoch = self.epoch, "member epoch");
            self.publish_identity();
        }
    }

    fn publish_identity(&self) {
        self.link.publish(&self.member_id, self.epoch);
    }

    fn send_failed(&mut self, error: CoreError, version: i16, fields: &Fields) -> Beat {
        if matches!(error, CoreError::UnsupportedVersion { .. }) {
            return self.unsupported();
        }
        if version == 0 && matches!(fields.subscribed, Subscribed::Regex(_)) {
            return self.fatal(
                "a pattern subscription under group.protocol=consumer needs ConsumerGroupHeartbeat v1 \
                 (Kafka 4.0 or later); this broker offers v0 only"
                    .to_owned(),
            );
        }
        self.client.report_error(&self.target, &error);
        if error.is_retriable() {
            tracing::debug!(group = %self.group_id, %error, "heartbeat failed; retrying");
            self.last_sent = None;
            return Beat::Retry;
        }
        if error.is_auth_failure() {
            let _ = self
                .link
                .events
                .send(GroupEvent::Fatal(ConsumerError::Client(error)));
            return Beat::Stop;
        }
        self.fatal(format!("ConsumerGroupHeartbeat failed: {error}"))
    }

    fn unsupported(&mut self) -> Beat {
        self.fatal(
            "the coordinator does not support ConsumerGroupHeartbeat (KIP-848, Kafka 4.0+ with the \
             consumer rebalance protocol enabled); set group.protocol=classic"
                .to_owned(),
        )
    }

    fn fatal(&mut self, message: String) -> Beat {
        self.link.fail(&self.group_id, message);
        Beat::Stop
    }

    /// Fenced: the partitions are lost (another member may own them by
    /// now) and the member joins again with epoch 0, keeping its id.
    fn fenced(&mut self, why: &str) {
        tracing::info!(group = %self.group_id, member = %self.member_id, %why, "fenced; rejoining");
        self.link.lose(&mut self.owned, false);
        self.reset();
    }

    fn reset(&mut self) {
        self.epoch = 0;
        self.pending = None;
        self.last_sent = None;
        self.publish_identity();
    }

    /// Leaves the group (epoch -1) because the application stopped
    /// polling, as Java's consumer does even for static members, so the
    /// partitions move on at once; rejoins once `poll` runs again.
    async fn leave_for_poll_timeout(&mut self) -> Beat {
        tracing::warn!(group = %self.group_id, "poll not called within max.poll.interval.ms; leaving the group");
        self.send_leave(LEAVE_EPOCH).await;
        self.link.lose(&mut self.owned, true);
        self.reset();
        match self.link.wait_for_poll(&mut self.subscription).await {
            Resume::Rejoin => Beat::Restart,
            Resume::Stop => Beat::Stop,
        }
    }

    /// Leaves on close: epoch -2 keeps a static member's assignment for
    /// its restart, -1 hands the partitions out at once.
    async fn leave_on_close(&mut self) {
        let epoch = if self.config.group_instance_id.is_some() {
            STATIC_LEAVE_EPOCH
        } else {
            LEAVE_EPOCH
        };
        self.send_leave(epoch).await;
    }

    async fn send_leave(&mut self, epoch: i32) {
        if self.epoch <= 0 && self.last_sent.is_none() {
            return;
        }
        let (group_id, member_id, instance) = (
            &self.group_id,
            &self.member_id,
            self.config.group_instance_id.as_deref(),
        );
        let sent = send_versioned(
            &self.client,
            self.target.clone(),
            TrafficClass::Group,
            |_| leave_request(group_id, member_id, instance, epoch),
        )
        .await;
        match sent {
            Ok(response) if response.error_code == 0 => {}
            Ok(response) => {
                tracing::debug!(group = %self.group_id, code = ?KafkaCode(response.error_code), "leaving the group failed")
            }
            Err(error) => {
                tracing::debug!(group = %self.group_id, %error, "leaving the group failed; the session will expire instead")
            }
        }
    }
}

fn describe(code: KafkaCode, response: &ConsumerGroupHeartbeatResponse) -> String {
    match &response.error_message {
        Some(message) => format!("{code:?}: {message}"),
        None => format!("{code:?}"),
    }
}
