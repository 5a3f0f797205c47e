//! ConsumerGroupHeartbeat on one group: joining, leaving, subscription changes, epoch
//! checks and the member's next assignment.

use std::collections::BTreeSet;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use tokio::time::Instant;

use super::assignor::{Assignment, Assignor, TopicsMeta};
use super::member::{ConsumerMember, TopicRegex, LEAVE_EPOCH, STATIC_LEAVE_EPOCH};
use super::reconcile::{is_subset, MemberState, Reconciliation};
use super::ConsumerGroup;
use crate::group::member::ClientInfo;

/// A heartbeat as the group sees it; `None` fields mean "unchanged".
#[derive(Debug, Clone)]
pub(crate) struct HeartbeatParams {
    /// Empty only for a v0 member joining: the broker picks the id.
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    /// -1: unchanged.
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    /// An empty string clears the regex.
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// The partitions the member owns now.
    pub owned: Option<Assignment>,
    pub client: ClientInfo,
}

/// A successful heartbeat's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeartbeatReply {
    pub member_id: String,
    pub member_epoch: i32,
    /// The member's assignment, sent on a full request or when it changed.
    pub assignment: Option<Assignment>,
}

/// A refused heartbeat: the error and a message for the client's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeartbeatFailure {
    pub error: ResponseError,
    pub message: String,
}

fn fail<T>(error: ResponseError, message: impl Into<String>) -> Result<T, HeartbeatFailure> {
    Err(HeartbeatFailure {
        error,
        message: message.into(),
    })
}

/// Kafka's request checks, before the group is looked at.
pub(crate) fn validate(p: &HeartbeatParams, version: i16) -> Result<(), HeartbeatFailure> {
    let invalid = |message: &str| fail(ResponseError::InvalidRequest, message);
    if p.instance_id.as_deref() == Some("") {
        return invalid("InstanceId can't be empty.");
    }
    if p.rack_id.as_deref() == Some("") {
        return invalid("RackId can't be empty.");
    }
    if p.member_id.is_empty() && (version >= 1 || p.member_epoch != 0) {
        return invalid("MemberId can't be empty.");
    }
    match p.member_epoch {
        0 => {
            if p.rebalance_timeout_ms == -1 {
                return invalid("RebalanceTimeoutMs must be provided in first request.");
            }
            if p.owned.as_ref().is_none_or(|owned| !owned.is_empty()) {
                return invalid("TopicPartitions must be empty when (re-)joining.");
            }
            if p.subscribed_topic_names.is_none() && p.subscribed_topic_regex.is_none() {
                return invalid(
                    "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
                );
            }
        }
        STATIC_LEAVE_EPOCH if p.instance_id.is_none() => {
            return invalid("InstanceId can't be null when leaving temporarily.");
        }
        epoch if epoch < STATIC_LEAVE_EPOCH => {
            return invalid(format!("MemberEpoch {epoch} is invalid.").as_str());
        }
        _ => {}
    }
    if let Some(name) = p.server_assignor.as_deref() {
        if Assignor::by_name(name).is_none() {
            return fail(
                ResponseError::UnsupportedAssignor,
                format!(
                    "ServerAssignor {name} is not supported. Supported assignors: uniform, range."
                ),
            );
        }
    }
    if let Some(regex) = p.subscribed_topic_regex.as_deref() {
        if !regex.is_empty() && TopicRegex::new(regex).is_none() {
            return fail(
                ResponseError::InvalidRegularExpression,
                format!("SubscribedTopicRegex `{regex}` is not a valid regular expression."),
            );
        }
    }
    Ok(())
}

impl ConsumerGroup {
    /// Handles one validated heartbeat. `catalog` is every topic of the broker; `new_id`
    /// makes member ids for v0 members joining without one.
    pub fn heartbeat(
        &mut self,
        p: HeartbeatParams,
        catalog: &TopicsMeta,
        now: Instant,
        new_id: impl FnOnce() -> String,
    ) -> Result<HeartbeatReply, HeartbeatFailure> {
        let session = self.config.consumer_session_timeout;
        if p.member_epoch == LEAVE_EPOCH || p.member_epoch == STATIC_LEAVE_EPOCH {
            return self.leave(&p, catalog, now + session);
        }
        let (mut member, mut changed) = if p.member_epoch == 0 {
            self.join(&p, now, session, new_id)?
        } else {
            (self.known_member(&p)?, false)
        };
        if let Some(names) = &p.subscribed_topic_names {
            let names: BTreeSet<String> = names.iter().cloned().collect();
            changed |= names != member.subscribed_names;
            member.subscribed_names = names;
        }
        if let Some(source) = &p.subscribed_topic_regex {
            let regex = if source.is_empty() {
                None
            } else {
                TopicRegex::new(source)
            };
            let before = member.subscribed_regex.as_ref().map(|r| r.source.clone());
            changed |= before != regex.as_ref().map(|r| r.source.clone());
            member.subscribed_regex = regex;
        }
        if let Some(assignor) = &p.server_assignor {
            changed |= member.server_assignor.as_deref() != Some(assignor.as_str());
            member.server_assignor = Some(assignor.clone());
        }
        if let Ok(ms) = u64::try_from(p.rebalance_timeout_ms) {
            member.rebalance_timeout = Duration::from_millis(ms);
        }
        if p.rack_id.is_some() {
            member.rack_id.clone_from(&p.rack_id);
        }
        member.client = p.client.clone();
        changed |= member.resolve_regex(catalog);
        member.session_deadline = now + session;
        let id = member.id.clone();
        self.members.insert(id.clone(), member);
        let topics = self.subscribed_metadata(catalog);
        if topics != self.topics {
            self.topics = topics;
            changed = true;
        }
        if changed {
            self.bump_epoch();
        }
        Ok(self.reconcile(&id, &p, now))
    }

    /// The member a heartbeat with an epoch above 0 is for, unless it is unknown or fenced.
    fn known_member(&self, p: &HeartbeatParams) -> Result<ConsumerMember, HeartbeatFailure> {
        let Some(member) = self.members.get(&p.member_id) else {
            return fail(
                ResponseError::UnknownMemberId,
                format!("Member {} is not a member of the group.", p.member_id),
            );
        };
        if p.instance_id.is_some() && p.instance_id != member.instance_id {
            return fail(
                ResponseError::FencedInstanceId,
                "The member's instance id does not match the static member's.",
            );
        }
        let current = &member.reconciliation;
        let fenced = if p.member_epoch > current.epoch {
            true
        } else if p.member_epoch < current.epoch {
            // A member whose last response was lost comes back with its previous epoch and
            // no partitions it was not given: accepted.
            p.member_epoch != current.previous_epoch
                || !p
                    .owned
                    .as_ref()
                    .is_some_and(|owned| is_subset(owned, &current.assigned))
        } else {
            false
        };
        if fenced {
            return fail(
                ResponseError::FencedMemberEpoch,
                format!(
                    "The consumer group member has a member epoch ({}) other than the broker's ({}).",
                    p.member_epoch, current.epoch
                ),
            );
        }
        Ok(member.clone())
    }

    /// A heartbeat with epoch 0: a new member, a static member taking over its instance, or
    /// a member rejoining after losing its partitions.
    fn join(
        &mut self,
        p: &HeartbeatParams,
        now: Instant,
        session: Duration,
        new_id: impl FnOnce() -> String,
    ) -> Result<(ConsumerMember, bool), HeartbeatFailure> {
        if let Some(instance) = p.instance_id.as_deref() {
            if let Some(old) = self.static_member(instance) {
                if old.id != p.member_id || old.epoch() == STATIC_LEAVE_EPOCH {
                    if old.epoch() != STATIC_LEAVE_EPOCH {
                        return fail(
                            ResponseError::UnreleasedInstanceId,
                            format!("Static member {instance} has not left the group yet."),
                        );
                    }
                    // The returning instance takes over the assignment under its new id.
                    let old = old.clone();
                    self.members.remove(&old.id);
                    let target = self.targets.remove(&old.id).unwrap_or_default();
                    let mut member = old;
                    member.id = if p.member_id.is_empty() {
                        new_id()
                    } else {
                        p.member_id.clone()
                    };
                    self.targets.insert(member.id.clone(), target);
                    member.reconciliation.epoch = 0;
                    member.reconciliation.previous_epoch = 0;
                    member.reconciliation.state = MemberState::Stable;
                    return Ok((member, false));
                }
            }
        }
        if let Some(existing) = self.members.get(&p.member_id) {
            // Rejoining with epoch 0 means the member dropped its partitions.
            let mut member = existing.clone();
            member.reconciliation = Reconciliation::joining();
            member.revocation_deadline = None;
            return Ok((member, false));
        }
        if self.members.len() >= self.config.consumer_max_size {
            return fail(
                ResponseError::GroupMaxSizeReached,
                format!(
                    "The consumer group has reached its maximum capacity of {} members.",
                    self.config.consumer_max_size
                ),
            );
        }
        let id = if p.member_id.is_empty() {
            new_id()
        } else {
            p.member_id.clone()
        };
        let mut member = ConsumerMember::new(id, p.client.clone(), now, session);
        member.instance_id.clone_from(&p.instance_id);
        Ok((member, true))
    }

    /// Epoch -1 (leave for good) or -2 (static member away for up to its session timeout).
    fn leave(
        &mut self,
        p: &HeartbeatParams,
        catalog: &TopicsMeta,
        away_until: Instant,
    ) -> Result<HeartbeatReply, HeartbeatFailure> {
        let member = match p.instance_id.as_deref() {
            // Kafka finds a leaving static member by its instance id.
            Some(instance) => self.static_member(instance),
            None => self.members.get(&p.member_id),
        };
        let Some(member) = member else {
            return fail(
                ResponseError::UnknownMemberId,
                format!("Member {} is not a member of the group.", p.member_id),
            );
        };
        if member.id != p.member_id {
            return fail(
                ResponseError::FencedInstanceId,
                "The static member was replaced by another member id.",
            );
        }
        let id = member.id.clone();
        if p.member_epoch == STATIC_LEAVE_EPOCH {
            if let Some(member) = self.members.get_mut(&id) {
                // Its assignment is kept for one session timeout from now.
                member.reconciliation.epoch = STATIC_LEAVE_EPOCH;
                member.session_deadline = away_until;
            }
        } else {
            self.members.remove(&id);
            self.targets.remove(&id);
            self.topics = self.subscribed_metadata(catalog);
            self.bump_epoch();
        }
        Ok(HeartbeatReply {
            member_id: id,
            member_epoch: p.member_epoch,
            assignment: None,
        })
    }

    /// Moves the member one step towards its target and builds its answer.
    fn reconcile(&mut self, id: &str, p: &HeartbeatParams, now: Instant) -> HeartbeatReply {
        let target = self.targets.get(id).cloned().unwrap_or_default();
        let Some(member) = self.members.get(id) else {
            // Inserted by the caller just before; nothing to reconcile otherwise.
            return HeartbeatReply {
                member_id: id.to_owned(),
                member_epoch: 0,
                assignment: None,
            };
        };
        let before = member.reconciliation.clone();
        let next = before.next(
            &target,
            self.assignment_epoch,
            p.owned.as_ref(),
            |t, part| self.owned_by_other(id, t, part),
        );
        let full_request = p.member_epoch == 0
            || (p.rebalance_timeout_ms != -1
                && p.subscribed_topic_names.is_some()
                && p.owned.is_some());
        let assignment =
            (full_request || next.assigned != before.assigned).then(|| next.assigned.clone());
        if let Some(member) = self.members.get_mut(id) {
            member.revocation_deadline = match next.state {
                MemberState::UnrevokedPartitions => Some(
                    member
                        .revocation_deadline
                        .unwrap_or(now + member.rebalance_timeout),
                ),
                _ => None,
            };
            member.reconciliation = next;
            HeartbeatReply {
                member_id: id.to_owned(),
                member_epoch: member.reconciliation.epoch,
                assignment,
            }
        } else {
            HeartbeatReply {
                member_id: id.to_owned(),
                member_epoch: 0,
                assignment: None,
            }
        }
    }

    /// The existing topics the members subscribe to, from the broker's catalog.
    fn subscribed_metadata(&self, catalog: &TopicsMeta) -> TopicsMeta {
        let wanted = self.subscribed_topics();
        catalog
            .iter()
            .filter(|(name, _)| wanted.contains(*name))
            .map(|(name, info)| (name.clone(), *info))
            .collect()
    }
}
