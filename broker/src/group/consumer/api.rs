//! The coordinator's entry points for the consumer group protocol: ConsumerGroupHeartbeat
//! (key 68) and ConsumerGroupDescribe (key 69).

use std::collections::BTreeSet;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::consumer_group_describe_response::{
    self as describe, DescribedGroup,
};
use kafka_protocol::messages::consumer_group_heartbeat_response::{
    Assignment as WireAssignment, TopicPartitions,
};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse, GroupId, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::assignor::{Assignment, TopicsMeta};
use super::heartbeat::{validate, HeartbeatFailure, HeartbeatParams};
use super::GroupKind;
use crate::clock::now_ms;
use crate::group::member::ClientInfo;
use crate::group::state::GroupState;
use crate::group::GroupCoordinator;

/// `authorized_operations` when the client did not ask for them.
const OPERATIONS_NOT_ASKED: i32 = i32::MIN;

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

fn heartbeat_error(failure: HeartbeatFailure) -> ConsumerGroupHeartbeatResponse {
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(failure.error.code())
        .with_error_message(Some(text(&failure.message)))
}

fn failure(error: ResponseError, message: impl Into<String>) -> HeartbeatFailure {
    HeartbeatFailure {
        error,
        message: message.into(),
    }
}

/// The request's owned partitions, `None` when the field is null ("unchanged").
fn owned_partitions(req: &ConsumerGroupHeartbeatRequest) -> Option<Assignment> {
    req.topic_partitions.as_ref().map(|topics| {
        let mut owned = Assignment::new();
        for topic in topics {
            owned
                .entry(topic.topic_id)
                .or_default()
                .extend(topic.partitions.iter().copied());
        }
        owned.retain(|_, partitions| !partitions.is_empty());
        owned
    })
}

fn wire_assignment(assignment: &Assignment) -> WireAssignment {
    WireAssignment::default().with_topic_partitions(
        assignment
            .iter()
            .map(|(id, partitions)| {
                TopicPartitions::default()
                    .with_topic_id(*id)
                    .with_partitions(partitions.iter().copied().collect())
            })
            .collect(),
    )
}

fn described_assignment(assignment: &Assignment, topics: &TopicsMeta) -> describe::Assignment {
    let partitions = assignment
        .iter()
        .map(|(id, partitions)| {
            let name = topics
                .iter()
                .find(|(_, info)| info.id == *id)
                .map(|(name, _)| name.as_str())
                .unwrap_or_default();
            describe::TopicPartitions::default()
                .with_topic_id(*id)
                .with_topic_name(TopicName(text(name)))
                .with_partitions(partitions.iter().copied().collect())
        })
        .collect();
    describe::Assignment::default().with_topic_partitions(partitions)
}

impl GroupCoordinator {
    /// Whether ConsumerGroupHeartbeat and ConsumerGroupDescribe are served
    /// (`group.coordinator.rebalance.protocols` includes `consumer`).
    pub fn consumer_protocol_enabled(&self) -> bool {
        self.shared.config.consumer_protocol
    }

    /// ConsumerGroupHeartbeat (v0-1): joins, heartbeats and leaves a consumer-protocol group.
    /// `catalog` is every topic of the broker (subscriptions and regexes resolve against it).
    pub async fn consumer_group_heartbeat(
        &self,
        req: ConsumerGroupHeartbeatRequest,
        version: i16,
        client: ClientInfo,
        catalog: &TopicsMeta,
    ) -> ConsumerGroupHeartbeatResponse {
        self.ensure_sweeper();
        let interval_ms = i32::try_from(self.shared.config.consumer_heartbeat_interval.as_millis())
            .unwrap_or(i32::MAX);
        let params = HeartbeatParams {
            member_id: req.member_id.to_string(),
            member_epoch: req.member_epoch,
            instance_id: req.instance_id.as_ref().map(|s| s.to_string()),
            rack_id: req.rack_id.as_ref().map(|s| s.to_string()),
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            subscribed_topic_names: req
                .subscribed_topic_names
                .as_ref()
                .map(|names| names.iter().map(|n| n.0.to_string()).collect()),
            subscribed_topic_regex: req
                .subscribed_topic_regex
                .as_ref()
                .map(|r| r.to_string())
                .filter(|_| version >= 1),
            server_assignor: req.server_assignor.as_ref().map(|a| a.to_string()),
            owned: owned_partitions(&req),
            client,
        };
        match self
            .consumer_heartbeat_inner(&req.group_id.0, params, version, catalog)
            .await
        {
            Ok(reply) => ConsumerGroupHeartbeatResponse::default()
                .with_member_id(Some(text(&reply.member_id)))
                .with_member_epoch(reply.member_epoch)
                .with_heartbeat_interval_ms(interval_ms)
                .with_assignment(reply.assignment.as_ref().map(wire_assignment)),
            Err(failure) => heartbeat_error(failure),
        }
    }

    async fn consumer_heartbeat_inner(
        &self,
        group_id: &str,
        params: HeartbeatParams,
        version: i16,
        catalog: &TopicsMeta,
    ) -> Result<super::HeartbeatReply, HeartbeatFailure> {
        if self.shared.is_closed() {
            return Err(failure(ResponseError::NotCoordinator, "Shutting down."));
        }
        if group_id.is_empty() {
            return Err(failure(
                ResponseError::InvalidRequest,
                "GroupId can't be empty.",
            ));
        }
        validate(&params, version)?;
        let joining = params.member_epoch == 0;
        let slot = if joining {
            self.shared.slot_or_create(group_id)
        } else {
            self.shared.slot(group_id)
        };
        let Some(slot) = slot else {
            // Without the group its members are unknown (e.g. after a restart: they rejoin).
            return Err(if self.shared.is_closed() {
                failure(ResponseError::NotCoordinator, "Shutting down.")
            } else {
                failure(
                    ResponseError::UnknownMemberId,
                    format!(
                        "Consumer group {group_id} has no member {}.",
                        params.member_id
                    ),
                )
            });
        };
        slot.ensure_timer();
        let mut group = slot.group.lock().await;
        if group.state == GroupState::Dead {
            return Err(failure(
                ResponseError::CoordinatorNotAvailable,
                "The group was just removed; retry.",
            ));
        }
        if group.kind == GroupKind::Classic {
            let classic_in_use = !group.members.is_empty() || !group.pending_members.is_empty();
            if classic_in_use {
                return Err(failure(
                    ResponseError::GroupIdNotFound,
                    format!("Group {group_id} is not a consumer group."),
                ));
            }
            if !joining {
                return Err(failure(
                    ResponseError::UnknownMemberId,
                    format!(
                        "Consumer group {group_id} has no member {}.",
                        params.member_id
                    ),
                ));
            }
            group.become_consumer_group();
        }
        let had_members = !group.consumer.members.is_empty();
        let result = group
            .consumer
            .heartbeat(params, catalog, Instant::now(), || {
                uuid::Uuid::from_u128(rand::random()).to_string()
            });
        if had_members && group.consumer.members.is_empty() {
            group.empty_since_ms = now_ms();
        }
        drop(group);
        slot.wake.notify_one();
        result
    }

    /// ConsumerGroupDescribe (v0-1): members, epochs and assignments of consumer groups;
    /// GROUP_ID_NOT_FOUND for unknown ids and for classic groups.
    pub async fn consumer_group_describe(
        &self,
        req: ConsumerGroupDescribeRequest,
        version: i16,
    ) -> ConsumerGroupDescribeResponse {
        let _ = version; // v1 only adds member_type, which is always filled
        self.ensure_sweeper();
        let mut described = Vec::with_capacity(req.group_ids.len());
        for group_id in &req.group_ids {
            described.push(
                self.describe_consumer_group(group_id, req.include_authorized_operations)
                    .await,
            );
        }
        ConsumerGroupDescribeResponse::default().with_groups(described)
    }

    async fn describe_consumer_group(
        &self,
        group_id: &GroupId,
        operations: bool,
    ) -> DescribedGroup {
        let error = |code: ResponseError, message: String| {
            DescribedGroup::default()
                .with_group_id(group_id.clone())
                .with_error_code(code.code())
                .with_error_message(Some(text(&message)))
                .with_authorized_operations(OPERATIONS_NOT_ASKED)
        };
        if self.shared.is_closed() {
            return error(ResponseError::NotCoordinator, "Shutting down.".to_owned());
        }
        let not_found = || {
            error(
                ResponseError::GroupIdNotFound,
                format!("Group {} not found.", group_id.0),
            )
        };
        let Some(slot) = self.shared.slot(group_id) else {
            return not_found();
        };
        let group = slot.group.lock().await;
        if group.state == GroupState::Dead {
            return not_found();
        }
        if group.kind != GroupKind::Consumer {
            return error(
                ResponseError::GroupIdNotFound,
                format!("Group {} is not a consumer group.", group_id.0),
            );
        }
        let consumer = &group.consumer;
        let members = consumer
            .members
            .values()
            .map(|m| {
                let target = consumer.targets.get(&m.id).cloned().unwrap_or_default();
                let names: BTreeSet<&String> = m.subscribed_names.iter().collect();
                describe::Member::default()
                    .with_member_id(text(&m.id))
                    .with_instance_id(m.instance_id.as_deref().map(text))
                    .with_rack_id(m.rack_id.as_deref().map(text))
                    .with_member_epoch(m.epoch())
                    .with_client_id(text(&m.client.client_id))
                    .with_client_host(text(&m.client.client_host))
                    .with_subscribed_topic_names(
                        names.into_iter().map(|n| TopicName(text(n))).collect(),
                    )
                    .with_subscribed_topic_regex(
                        m.subscribed_regex.as_ref().map(|r| text(&r.source)),
                    )
                    .with_assignment(described_assignment(
                        &m.reconciliation.assigned,
                        &consumer.topics,
                    ))
                    .with_target_assignment(described_assignment(&target, &consumer.topics))
                    .with_member_type(1)
            })
            .collect();
        DescribedGroup::default()
            .with_group_id(group_id.clone())
            .with_group_state(text(consumer.state_name()))
            .with_group_epoch(consumer.group_epoch)
            .with_assignment_epoch(consumer.assignment_epoch)
            .with_assignor_name(text(consumer.assignor.name()))
            .with_members(members)
            .with_authorized_operations(if operations {
                crate::group::admin::GROUP_OPERATIONS
            } else {
                OPERATIONS_NOT_ASKED
            })
    }
}
