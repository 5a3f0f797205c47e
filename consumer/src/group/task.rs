//! The membership state machine.
//!
//! ```text
//!  Unsubscribed ──subscribe──▶ Joining ──JoinGroup/SyncGroup──▶ Stable ──heartbeat: REBALANCE_IN_PROGRESS──┐
//!                                 ▲   ◀── MEMBER_ID_REQUIRED (rejoin with id)                             │
//!                                 └───────────────────────────────────────────────────────────────────────┘
//!  Stable ──poll too late──▶ Left ──next poll (Rejoin)──▶ Joining
//!  any ──Leave──▶ LeaveGroup, stop
//! ```
//!
//! Eager protocols revoke everything (and wait for the application's
//! acknowledgement) before JoinGroup. Cooperative protocols join keeping
//! their partitions, revoke only what the new assignment lacks, and then
//! rejoin once more so the revoked partitions can be handed out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use durian_core::backoff::Backoff;
use durian_core::{
    Client, Error as CoreError, KafkaCode, KafkaError, SendOptions, Target, TrafficClass,
};
use kafka_protocol::messages::{JoinGroupResponse, MetadataRequest};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tracing::Instrument;

use super::link::{Resume, TaskLink};
use super::requests::{
    all_member_topics, heartbeat_request, join_request, leader_assignments, leave_request,
    member_subscriptions, partition_counts, sync_request, MemberIdentityState,
};
use super::{coordinator, GroupCommand, GroupEvent, SubscriptionSpec};
use crate::assignor::protocol::decode_assignment;
use crate::assignor::{partition_racks, RebalanceProtocol};
use crate::config::ConsumerConfig;
use crate::error::ConsumerError;
use crate::spans;
use crate::types::TopicPartition;
use crate::versioned::send_versioned;

/// Why the task stops or goes back to joining.
enum Next {
    Rejoin(String),
    Stop,
}

/// How a join attempt failed.
enum JoinFailure {
    /// Try again after a backoff (coordinator moving, connection lost...).
    Retry(String),
    /// The consumer left or is gone.
    Stop,
}

pub(super) struct GroupTask {
    client: Client,
    config: Arc<ConsumerConfig>,
    group_id: String,
    target: Target,
    link: TaskLink,
    member: MemberIdentityState,
    owned: BTreeSet<TopicPartition>,
    subscription: Option<SubscriptionSpec>,
    topics: BTreeSet<String>,
    protocol: RebalanceProtocol,
    counts_at_assignment: BTreeMap<String, i32>,
    backoff: Backoff,
}

impl GroupTask {
    pub(super) fn new(
        client: Client,
        config: Arc<ConsumerConfig>,
        group_id: String,
        link: TaskLink,
    ) -> Self {
        let backoff = Backoff::new(config.client.retry_backoff, config.client.retry_backoff_max);
        GroupTask {
            target: coordinator(&group_id),
            client,
            config,
            group_id,
            link,
            member: MemberIdentityState {
                member_id: String::new(),
                generation: -1,
                losses: 0,
            },
            owned: BTreeSet::new(),
            subscription: None,
            topics: BTreeSet::new(),
            protocol: RebalanceProtocol::Eager,
            counts_at_assignment: BTreeMap::new(),
            backoff,
        }
    }

    pub(super) async fn run(mut self) {
        let mut rejoin: Option<String> = None;
        loop {
            if self.subscription.is_none() {
                match self.link.first_subscription().await {
                    Some(spec) => {
                        self.subscription = Some(spec);
                        rejoin = Some("subscribed".to_owned());
                    }
                    None => return,
                }
            }
            if let Some(reason) = rejoin.take() {
                match self.join(&reason).await {
                    Ok(()) => self.backoff.reset(),
                    Err(JoinFailure::Stop) => return,
                    Err(JoinFailure::Retry(why)) => {
                        tracing::debug!(group = %self.group_id, %why, "join failed; retrying");
                        tokio::time::sleep(self.backoff.next_delay()).await;
                        rejoin = Some(why);
                        continue;
                    }
                }
            }
            match self.stable().await {
                Next::Rejoin(reason) => rejoin = Some(reason),
                Next::Stop => return,
            }
        }
    }

    fn poll_overdue(&self) -> bool {
        self.link.poll_overdue(self.config.max_poll_interval)
    }

    /// Heartbeats until something calls for a rejoin or a stop.
    async fn stable(&mut self) -> Next {
        let mut tick = tokio::time::interval(self.config.heartbeat_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut metadata = self.client.subscribe_metadata();
        let mut pattern_check = tokio::time::interval(self.config.client.metadata_max_age);
        pattern_check.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if self.poll_overdue() {
                        return self.leave_for_poll_timeout().await;
                    }
                    if let Some(next) = self.heartbeat().await {
                        return next;
                    }
                }
                command = self.link.commands.recv() => match command {
                    Some(GroupCommand::Subscribe(spec)) => {
                        self.subscription = Some(spec);
                        let topics = self.resolve_topics().await;
                        if topics != self.topics {
                            return Next::Rejoin("subscription changed".to_owned());
                        }
                    }
                    Some(GroupCommand::Rejoin) => {}
                    Some(GroupCommand::Leave(ack)) => {
                        self.leave("the consumer is closing").await;
                        let _ = ack.send(());
                        return Next::Stop;
                    }
                    None => return Next::Stop,
                },
                changed = metadata.changed() => {
                    if changed.is_err() {
                        return Next::Stop;
                    }
                    let snapshot = metadata.borrow_and_update().clone();
                    let counts = partition_counts(&snapshot, &self.topics);
                    if !counts.is_empty() && counts != self.counts_at_assignment {
                        return Next::Rejoin("partition counts changed".to_owned());
                    }
                }
                _ = pattern_check.tick() => {
                    if matches!(self.subscription, Some(SubscriptionSpec::Pattern(_)))
                        && self.resolve_topics().await != self.topics
                    {
                        return Next::Rejoin("topics matching the pattern changed".to_owned());
                    }
                }
            }
        }
    }

    /// One heartbeat; `Some` when the answer calls for leaving the stable state.
    async fn heartbeat(&mut self) -> Option<Next> {
        let request = heartbeat_request(&self.config, &self.group_id, &self.member);
        let result = self
            .client
            .send(self.target.clone(), request)
            .instrument(spans::group_span("heartbeat", &self.group_id))
            .await
            .and_then(|r| KafkaError::check(r.error_code, None));
        match result {
            Ok(()) => None,
            Err(error) => match error.kafka_code() {
                Some(KafkaCode::REBALANCE_IN_PROGRESS) => {
                    Some(Next::Rejoin("the group is rebalancing".to_owned()))
                }
                Some(
                    KafkaCode::UNKNOWN_MEMBER_ID
                    | KafkaCode::ILLEGAL_GENERATION
                    | KafkaCode::FENCED_INSTANCE_ID,
                ) => {
                    if error.kafka_code() == Some(KafkaCode::FENCED_INSTANCE_ID) {
                        self.link.lose(&mut self.owned, false);
                        let _ = self
                            .link
                            .events
                            .send(GroupEvent::Fatal(ConsumerError::Group(format!(
                                "another consumer uses group.instance.id {:?}; this one stopped",
                                self.config.group_instance_id
                            ))));
                        return Some(Next::Stop);
                    }
                    self.link.lose(&mut self.owned, false);
                    self.reset_member(error.kafka_code() == Some(KafkaCode::UNKNOWN_MEMBER_ID));
                    Some(Next::Rejoin(format!("heartbeat: {error}")))
                }
                _ => {
                    // Coordinator moved or connection lost: the client
                    // already forgot the coordinator; the next tick finds it.
                    self.client.report_error(&self.target, &error);
                    tracing::debug!(group = %self.group_id, %error, "heartbeat failed");
                    None
                }
            },
        }
    }

    fn reset_member(&mut self, forget_id: bool) {
        if forget_id {
            self.member.member_id.clear();
        }
        self.member.generation = -1;
        self.link
            .publish(&self.member.member_id, self.member.generation);
    }

    async fn leave_for_poll_timeout(&mut self) -> Next {
        tracing::warn!(group = %self.group_id, "poll not called within max.poll.interval.ms; leaving the group");
        self.leave("max.poll.interval.ms exceeded").await;
        self.link.lose(&mut self.owned, true);
        self.reset_member(true);
        match self.link.wait_for_poll(&mut self.subscription).await {
            Resume::Rejoin => Next::Rejoin("poll resumed".to_owned()),
            Resume::Stop => Next::Stop,
        }
    }

    /// Sends LeaveGroup, except for static members, whose departure the
    /// coordinator should not notice until their session times out.
    async fn leave(&mut self, reason: &str) {
        if self.config.group_instance_id.is_some() || self.member.member_id.is_empty() {
            return;
        }
        let (config, group_id, member_id) = (&self.config, &self.group_id, &self.member.member_id);
        let sent = send_versioned(
            &self.client,
            self.target.clone(),
            TrafficClass::Group,
            |version| leave_request(config, group_id, member_id, reason, version),
        )
        .instrument(spans::group_span("leave", group_id))
        .await;
        if let Err(error) = sent {
            tracing::debug!(group = %self.group_id, %error, "LeaveGroup failed; the session will expire instead");
        }
    }

    /// The topics the subscription names now.
    async fn resolve_topics(&self) -> BTreeSet<String> {
        match &self.subscription {
            None => BTreeSet::new(),
            Some(SubscriptionSpec::Topics(topics)) => topics.clone(),
            Some(SubscriptionSpec::Pattern(regex)) => {
                // Every topic (a null list) is never auto-created, so the
                // request leaves allow_auto_topic_creation at its default:
                // `false` cannot be encoded below Metadata v4, which some
                // brokers (librdkafka's mock cluster) stop short of.
                let request = MetadataRequest::default().with_topics(None);
                match self.client.send(Target::Any, request).await {
                    Ok(response) => response
                        .topics
                        .iter()
                        .filter(|t| !t.is_internal)
                        .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
                        .filter(|name| regex.is_match(name))
                        .collect(),
                    Err(error) => {
                        tracing::debug!(%error, "listing topics for the pattern failed; keeping the old match");
                        self.topics.clone()
                    }
                }
            }
        }
    }

    /// Waits until the consumer acknowledged an event, heartbeating
    /// meanwhile. `Err(Stop)` when the consumer is gone or left.
    async fn wait_ack(&mut self, mut ack: oneshot::Receiver<()>) -> Result<(), JoinFailure> {
        let sent = Instant::now();
        let mut tick = tokio::time::interval(self.config.heartbeat_interval);
        tick.tick().await;
        loop {
            tokio::select! {
                done = &mut ack => return done.map_err(|_| JoinFailure::Stop),
                _ = tick.tick() => {
                    if sent.elapsed() > self.config.max_poll_interval {
                        return match self.leave_for_poll_timeout().await {
                            Next::Rejoin(why) => Err(JoinFailure::Retry(why)),
                            Next::Stop => Err(JoinFailure::Stop),
                        };
                    }
                    if self.member.generation >= 0 {
                        // REBALANCE_IN_PROGRESS is expected here; only keep the session alive.
                        let request = heartbeat_request(&self.config, &self.group_id, &self.member);
                        let _ = self.client.send(self.target.clone(), request).await;
                    }
                }
                command = self.link.commands.recv() => match command {
                    Some(GroupCommand::Leave(done)) => {
                        self.leave("the consumer is closing").await;
                        let _ = done.send(());
                        return Err(JoinFailure::Stop);
                    }
                    Some(GroupCommand::Subscribe(spec)) => self.subscription = Some(spec),
                    Some(GroupCommand::Rejoin) => {}
                    None => return Err(JoinFailure::Stop),
                },
            }
        }
    }

    /// Runs JoinGroup and SyncGroup until the member has a stable assignment.
    async fn join(&mut self, reason: &str) -> Result<(), JoinFailure> {
        self.topics = self.resolve_topics().await;
        self.client.add_topics(self.topics.iter().cloned());
        if partition_counts(&self.client.metadata(), &self.topics).len() < self.topics.len() {
            // Without this, the counts recorded after the join would be
            // incomplete and the first metadata update would look like a
            // partition change, causing a needless rebalance.
            if let Err(error) = self.client.refresh_metadata("consumer subscription").await {
                tracing::debug!(%error, "metadata for the subscription unavailable");
            }
        }
        if self.protocol == RebalanceProtocol::Eager && !self.owned.is_empty() {
            let partitions: Vec<TopicPartition> = self.owned.iter().cloned().collect();
            let (ack, done) = oneshot::channel();
            if self
                .link
                .events
                .send(GroupEvent::RevokeAll { partitions, ack })
                .is_err()
            {
                return Err(JoinFailure::Stop);
            }
            self.wait_ack(done).await?;
            self.owned.clear();
        }
        let mut reason = reason.to_owned();
        loop {
            let response = self.join_group(&reason).await?;
            self.member.member_id = response.member_id.to_string();
            self.member.generation = response.generation_id;
            let protocol_name = response
                .protocol_name
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default();
            let Some(assignor) = self
                .config
                .assignors
                .iter()
                .find(|a| a.name() == protocol_name)
                .cloned()
            else {
                return self.fatal(format!("the group chose assignor `{protocol_name}`, which this consumer does not offer"));
            };
            self.protocol = assignor.protocol();
            let assignments = if response.leader == response.member_id && !response.skip_assignment
            {
                self.lead(&*assignor, &response).await?
            } else {
                Vec::new()
            };
            let request = sync_request(
                &self.config,
                &self.group_id,
                &self.member,
                &protocol_name,
                assignments,
            );
            let sync = match self
                .send_group(request)
                .instrument(spans::group_span("sync", &self.group_id))
                .await
            {
                Ok(sync) => sync,
                Err(error) => match error.kafka_code() {
                    Some(KafkaCode::REBALANCE_IN_PROGRESS) => {
                        reason = "rebalance during sync".to_owned();
                        continue;
                    }
                    Some(KafkaCode::UNKNOWN_MEMBER_ID | KafkaCode::ILLEGAL_GENERATION) => {
                        self.link.lose(&mut self.owned, false);
                        self.reset_member(error.kafka_code() == Some(KafkaCode::UNKNOWN_MEMBER_ID));
                        reason = format!("sync: {error}");
                        continue;
                    }
                    _ => return self.failure(error),
                },
            };
            let assigned: BTreeSet<TopicPartition> = match decode_assignment(&sync.assignment) {
                Ok(list) => list.into_iter().collect(),
                Err(error) => {
                    return self.fatal(format!("the leader's assignment is unreadable: {error}"))
                }
            };
            let added: Vec<TopicPartition> = assigned.difference(&self.owned).cloned().collect();
            let revoked: Vec<TopicPartition> = self.owned.difference(&assigned).cloned().collect();
            tracing::info!(group = %self.group_id, generation = self.member.generation, member = %self.member.member_id,
                assigned = assigned.len(), added = added.len(), revoked = revoked.len(), "joined the group");
            crate::metrics::export_rebalance(&self.config.client.client_id, &self.group_id);
            self.link
                .publish(&self.member.member_id, self.member.generation);
            self.counts_at_assignment = partition_counts(&self.client.metadata(), &self.topics);
            let must_rejoin =
                self.protocol == RebalanceProtocol::Cooperative && !revoked.is_empty();
            let Some(done) = self.link.assign(added, revoked) else {
                return Err(JoinFailure::Stop);
            };
            self.owned = assigned;
            self.wait_ack(done).await?;
            if !must_rejoin {
                return Ok(());
            }
            reason = "cooperative: revoked partitions can now be reassigned".to_owned();
        }
    }

    /// JoinGroup, including the MEMBER_ID_REQUIRED round trip.
    async fn join_group(&mut self, reason: &str) -> Result<JoinGroupResponse, JoinFailure> {
        loop {
            let owned: Vec<TopicPartition> = self.owned.iter().cloned().collect();
            let request = match join_request(
                &self.config,
                &self.group_id,
                &self.member.member_id,
                &self.topics,
                &owned,
                self.member.generation,
                reason,
            ) {
                Ok(request) => request,
                Err(error) => {
                    return self.fatal(format!("cannot encode the subscription: {error}"))
                }
            };
            let options = SendOptions {
                timeout: Some(self.config.max_poll_interval + self.config.client.request_timeout),
                ..SendOptions::default()
            };
            let response = match self
                .client
                .send_with(self.target.clone(), request, options)
                .instrument(spans::group_span("join", &self.group_id))
                .await
            {
                Ok(response) => response,
                Err(error) => return self.failure(error),
            };
            match KafkaCode(response.error_code) {
                KafkaCode::NONE => return Ok(response),
                // KIP-394: the coordinator hands out the id and waits for
                // the member to come back with it.
                KafkaCode::MEMBER_ID_REQUIRED => {
                    self.member.member_id = response.member_id.to_string()
                }
                KafkaCode::UNKNOWN_MEMBER_ID => {
                    self.link.lose(&mut self.owned, false);
                    self.reset_member(true);
                }
                code => {
                    return self.failure(CoreError::Kafka(KafkaError {
                        code,
                        message: None,
                    }))
                }
            }
        }
    }

    /// The leader's part: metadata for every member's topics, then the assignor.
    async fn lead(
        &mut self,
        assignor: &dyn crate::assignor::Assignor,
        response: &JoinGroupResponse,
    ) -> Result<
        Vec<kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment>,
        JoinFailure,
    > {
        let members = match member_subscriptions(response) {
            Ok(members) => members,
            Err(error) => {
                return self.fatal(format!("cannot read a member's subscription: {error}"))
            }
        };
        let topics = all_member_topics(&members);
        self.client.add_topics(topics.iter().cloned());
        let metadata = self
            .client
            .refresh_metadata("group leader assigning partitions")
            .await
            .map_err(|e| JoinFailure::Retry(format!("metadata for the assignment: {e}")))?;
        let counts = partition_counts(&metadata, &topics);
        let racks = partition_racks(&metadata, &topics);
        leader_assignments(assignor, response, &counts, &racks)
            .map_err(|e| JoinFailure::Retry(format!("assignment: {e}")))
    }

    async fn send_group<R: kafka_protocol::protocol::Request>(
        &self,
        request: R,
    ) -> Result<R::Response, CoreError>
    where
        R::Response: ErrorCode,
    {
        let response = self.client.send(self.target.clone(), request).await?;
        KafkaError::check(response.error_code(), None)?;
        Ok(response)
    }

    /// A retriable error goes back to the retry loop, anything else is fatal.
    fn failure<T>(&mut self, error: CoreError) -> Result<T, JoinFailure> {
        self.client.report_error(&self.target, &error);
        if error.is_retriable() || error.kafka_code() == Some(KafkaCode::REBALANCE_IN_PROGRESS) {
            return Err(JoinFailure::Retry(error.to_string()));
        }
        if error.kafka_code() == Some(KafkaCode::GROUP_AUTHORIZATION_FAILED) {
            tracing::error!(group = %self.group_id, %error, "group membership refused");
            let _ = self
                .link
                .events
                .send(GroupEvent::Fatal(ConsumerError::GroupAuthorization {
                    group: self.group_id.clone(),
                    error,
                }));
            return Err(JoinFailure::Stop);
        }
        if error.is_auth_failure() {
            // Refused credentials or certificates: typed, as poll reports
            // them without a group.
            tracing::error!(group = %self.group_id, %error, "cannot authenticate with the coordinator");
            let _ = self
                .link
                .events
                .send(GroupEvent::Fatal(ConsumerError::Client(error)));
            return Err(JoinFailure::Stop);
        }
        self.fatal(error.to_string())
    }

    fn fatal<T>(&mut self, message: String) -> Result<T, JoinFailure> {
        self.link.fail(&self.group_id, message);
        Err(JoinFailure::Stop)
    }
}

/// Responses with a top-level error code.
trait ErrorCode {
    fn error_code(&self) -> i16;
}

impl ErrorCode for kafka_protocol::messages::SyncGroupResponse {
    fn error_code(&self) -> i16 {
        self.error_code
    }
}
