//! The classic group state machine: membership, generations and the rebalance timers.
//!
//! ```text
//!            first join                 all joined / timeout           leader's SyncGroup
//!   Empty ─────────────► Preparing ───────────────────────► Completing ─────────────────► Stable
//!     ▲                  Rebalance ◄──── join, leave, expiry ─ Rebalance ◄──────────────────┘
//!     └──── every member gone ┘                                              join, leave, expiry
//! ```
//!
//! Everything here is synchronous and takes `now` explicitly; the coordinator calls it under
//! the group's lock, and parked JoinGroup/SyncGroup requests are answered through oneshot
//! channels stored in the members. Request-specific logic lives in join.rs, sync.rs and
//! heartbeat.rs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use tokio::time::Instant;

use super::config::GroupConfig;
use super::consumer::{ConsumerGroup, GroupKind};
use super::join::join_error;
use super::member::Member;
use super::sync::sync_error;

/// The states of a classic group, with the names Kafka reports in DescribeGroups/ListGroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    /// No members (possibly committed offsets).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Assignment distributed; members heartbeat.
    Stable,
    /// Deleted or unloaded; requests that still hold it get a retriable error.
    Dead,
}

impl GroupState {
    /// The state's name as Kafka spells it.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// When the join phase of a rebalance ends.
pub(crate) struct JoinTimer {
    pub deadline: Instant,
    /// Set while a group that was empty waits for more members (initial rebalance delay).
    pub initial: Option<InitialDelay>,
}

pub(crate) struct InitialDelay {
    /// How much longer the delay may still be extended (bounded by the rebalance timeout).
    pub remaining: Duration,
    pub new_member_added: bool,
}

/// One classic consumer group.
pub(crate) struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    /// The assignor chosen for the current generation.
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// In join order: the first member becomes leader.
    pub members: Vec<Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with the deadline to rejoin with them.
    pub pending_members: HashMap<String, Instant>,
    pub join_timer: Option<JoinTimer>,
    /// Members that have not sent SyncGroup by then are removed.
    pub sync_deadline: Option<Instant>,
    /// Wall-clock ms at which the group last became empty; offsets expire relative to it.
    pub empty_since_ms: i64,
    pub config: Arc<GroupConfig>,
    /// Which protocol the group speaks; an empty group of either kind may become the other.
    pub kind: GroupKind,
    /// The consumer-protocol (KIP-848) side; without members unless `kind` is `Consumer`.
    pub consumer: ConsumerGroup,
}

impl Group {
    /// A new empty group; `restored` is the protocol type and generation from the offset log.
    pub fn new(
        id: String,
        config: Arc<GroupConfig>,
        restored: Option<(String, i32)>,
        now_ms: i64,
    ) -> Group {
        let (protocol_type, generation) = match restored {
            Some((protocol_type, generation)) => (Some(protocol_type), generation),
            None => (None, 0),
        };
        Group {
            id,
            state: GroupState::Empty,
            generation,
            protocol_type,
            protocol: None,
            leader: None,
            members: Vec::new(),
            pending_members: HashMap::new(),
            join_timer: None,
            sync_deadline: None,
            empty_since_ms: now_ms,
            consumer: ConsumerGroup::new(Arc::clone(&config)),
            config,
            kind: GroupKind::Classic,
        }
    }

    /// Whether the group has no member of either protocol (nor a pending classic one).
    pub fn is_empty(&self) -> bool {
        self.state == GroupState::Empty
            && self.pending_members.is_empty()
            && self.consumer.members.is_empty()
    }

    /// Turns an empty classic group into a consumer-protocol group; its group epoch
    /// continues from the classic generation, so epochs never go back.
    pub fn become_consumer_group(&mut self) {
        self.kind = GroupKind::Consumer;
        self.protocol_type = Some("consumer".to_owned());
        self.consumer.group_epoch = self.consumer.group_epoch.max(self.generation);
    }

    /// Turns an empty consumer-protocol group into a classic group, its generation
    /// continuing from the group epoch.
    pub fn become_classic_group(&mut self) {
        self.kind = GroupKind::Classic;
        self.generation = self.generation.max(self.consumer.group_epoch);
        self.consumer.clear();
    }

    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    pub fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    /// The member id currently registered for a static `group.instance.id`.
    pub fn static_member_id(&self, instance_id: &str) -> Option<String> {
        self.members
            .iter()
            .find(|m| m.instance_id.as_deref() == Some(instance_id))
            .map(|m| m.id.clone())
    }

    /// A request naming a static instance under another member id comes from a zombie that
    /// was replaced by a newer instance with the same `group.instance.id`.
    pub fn is_fenced(&self, member_id: &str, instance_id: Option<&str>) -> bool {
        instance_id
            .and_then(|instance| self.static_member_id(instance))
            .is_some_and(|current| current != member_id)
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    fn max_rebalance_timeout(&self) -> Duration {
        self.members
            .iter()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default()
    }

    /// Assignors every member supports, in the first member's order.
    fn candidate_protocols(&self) -> Vec<String> {
        let Some(first) = self.members.first() else {
            return Vec::new();
        };
        first
            .protocols
            .iter()
            .map(|(name, _)| name.clone())
            .filter(|name| self.members.iter().all(|m| m.supports(name)))
            .collect()
    }

    /// Whether a member with these protocols may join: the type must match the group's and
    /// at least one assignor must be shared with every current member.
    pub fn supports_protocols(
        &self,
        protocol_type: &str,
        protocols: &[(String, bytes::Bytes)],
    ) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        let candidates = self.candidate_protocols();
        protocols.iter().any(|(name, _)| candidates.contains(name))
    }

    /// Picks the assignor for the next generation: among those all members support, the one
    /// most members prefer (each votes for its first supported choice); ties go to the
    /// earlier one in the first member's list.
    pub fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols();
        let mut votes = vec![0usize; candidates.len()];
        for member in &self.members {
            let choice = member
                .protocols
                .iter()
                .find_map(|(name, _)| candidates.iter().position(|c| c == name));
            if let Some(index) = choice {
                if let Some(count) = votes.get_mut(index) {
                    *count += 1;
                }
            }
        }
        let mut best: Option<(usize, usize)> = None;
        for (index, count) in votes.iter().enumerate() {
            if best.is_none_or(|(_, best_count)| *count > best_count) {
                best = Some((index, *count));
            }
        }
        best.and_then(|(index, _)| candidates.get(index).cloned())
    }

    /// Adds a member that has just parked its JoinGroup.
    pub fn add_member(&mut self, member: Member, protocol_type: &str) {
        if self.members.is_empty() {
            // The first member sets the type; it stays while the group is empty afterwards.
            self.protocol_type = Some(protocol_type.to_owned());
        }
        if self.leader.is_none() {
            self.leader = Some(member.id.clone());
        }
        if let Some(JoinTimer {
            initial: Some(delay),
            ..
        }) = &mut self.join_timer
        {
            delay.new_member_added = true;
        }
        self.members.push(member);
    }

    /// Removes a member, answering its parked requests with `code` and handing leadership on.
    pub fn remove_member(&mut self, id: &str, code: ResponseError) -> Option<Member> {
        let index = self.members.iter().position(|m| m.id == id)?;
        let mut member = self.members.remove(index);
        if let Some(parked) = member.parked_join.take() {
            let _ = parked
                .reply
                .send(join_error(parked.version, &member.id, code.code()));
        }
        if let Some(parked) = member.parked_sync.take() {
            let _ = parked.reply.send(sync_error(code.code()));
        }
        if self.is_leader(id) {
            let next = self
                .members
                .iter()
                .find(|m| m.parked_join.is_some())
                .or(self.members.first());
            self.leader = next.map(|m| m.id.clone());
        }
        Some(member)
    }

    /// Removes a member and lets the rest of the group react: a settled group rebalances, a
    /// rebalancing one may now have everyone it waits for.
    pub fn remove_member_and_rebalance(&mut self, id: &str, code: ResponseError, now: Instant) {
        if self.remove_member(id, code).is_none() {
            return;
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => self.prepare_rebalance(now),
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Starts a rebalance if the state allows one (a rebalancing group just keeps going).
    pub fn maybe_prepare_rebalance(&mut self, now: Instant) {
        if matches!(
            self.state,
            GroupState::Empty | GroupState::Stable | GroupState::CompletingRebalance
        ) {
            self.prepare_rebalance(now);
        }
    }

    fn prepare_rebalance(&mut self, now: Instant) {
        if self.state == GroupState::CompletingRebalance {
            // The assignment being computed is for a generation that will never start.
            for member in &mut self.members {
                member.assignment = bytes::Bytes::new();
                if let Some(parked) = member.parked_sync.take() {
                    let code = ResponseError::RebalanceInProgress.code();
                    let _ = parked.reply.send(sync_error(code));
                }
            }
        }
        self.sync_deadline = None;
        let rebalance_timeout = self.max_rebalance_timeout();
        let delay = self.config.initial_rebalance_delay.min(rebalance_timeout);
        self.join_timer = Some(if self.state == GroupState::Empty && !delay.is_zero() {
            JoinTimer {
                deadline: now + delay,
                initial: Some(InitialDelay {
                    remaining: rebalance_timeout - delay,
                    new_member_added: false,
                }),
            }
        } else {
            JoinTimer {
                deadline: now + rebalance_timeout,
                initial: None,
            }
        });
        self.state = GroupState::PreparingRebalance;
        self.maybe_complete_join(now);
    }

    fn all_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.iter().all(|m| m.parked_join.is_some())
    }

    /// Completes the join phase early once every known member has rejoined (never during the
    /// initial delay, whose purpose is to wait for members not yet known).
    pub fn maybe_complete_join(&mut self, now: Instant) {
        let in_initial_delay = self
            .join_timer
            .as_ref()
            .is_some_and(|timer| timer.initial.is_some());
        if self.state == GroupState::PreparingRebalance && !in_initial_delay && self.all_joined() {
            self.complete_join(now);
        }
    }

    /// Ends the join phase: drops dynamic members that did not rejoin, starts the next
    /// generation and answers every parked JoinGroup.
    fn complete_join(&mut self, now: Instant) {
        let missing: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.parked_join.is_none() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in missing {
            self.remove_member(&id, ResponseError::UnknownMemberId);
        }
        if !self.members.is_empty() && self.members.iter().all(|m| m.parked_join.is_none()) {
            // Only static members that have not come back: give them another timeout.
            self.join_timer = Some(JoinTimer {
                deadline: now + self.max_rebalance_timeout(),
                initial: None,
            });
            return;
        }
        let leader_rejoined = self
            .leader
            .as_ref()
            .and_then(|leader| self.member(leader))
            .is_some_and(|m| m.parked_join.is_some());
        if !leader_rejoined {
            // A static leader that has not come back cannot run the assignment.
            self.leader = self
                .members
                .iter()
                .find(|m| m.parked_join.is_some())
                .map(|m| m.id.clone());
        }
        self.join_timer = None;
        self.generation = self.generation.wrapping_add(1);
        if self.members.is_empty() {
            self.become_empty();
            return;
        }
        self.protocol = self.select_protocol();
        self.state = GroupState::CompletingRebalance;
        self.sync_deadline = Some(now + self.max_rebalance_timeout());
        self.answer_parked_joins(now);
    }

    pub fn become_empty(&mut self) {
        self.state = GroupState::Empty;
        self.protocol = None;
        self.leader = None;
        self.join_timer = None;
        self.sync_deadline = None;
        self.empty_since_ms = crate::clock::now_ms();
    }

    /// The earliest moment the timer task must look at this group.
    pub fn next_deadline(&self) -> Option<Instant> {
        let sessions = self
            .members
            .iter()
            .filter(|m| !m.is_parked())
            .map(|m| m.session_deadline);
        let pending = self.pending_members.values().copied();
        let join = self
            .join_timer
            .as_ref()
            .filter(|_| self.state == GroupState::PreparingRebalance)
            .map(|timer| timer.deadline);
        sessions
            .chain(pending)
            .chain(join)
            .chain(self.sync_deadline)
            .chain(self.consumer.next_deadline())
            .min()
    }

    /// Applies every timeout that has passed at `now`.
    pub fn on_timer(&mut self, now: Instant) {
        if self.state == GroupState::Dead {
            return;
        }
        let had_consumers = !self.consumer.members.is_empty();
        let removed = self.consumer.on_timer(&self.id, now);
        if removed > 0 && had_consumers && self.consumer.members.is_empty() {
            self.empty_since_ms = crate::clock::now_ms();
        }
        let before = self.pending_members.len();
        self.pending_members.retain(|_, deadline| *deadline > now);
        if self.pending_members.len() != before {
            self.maybe_complete_join(now);
        }
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|m| !m.is_parked() && m.session_deadline <= now)
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %self.id, member = %id, "member session expired; removing it");
            self.remove_member_and_rebalance(&id, ResponseError::UnknownMemberId, now);
        }
        self.on_join_timer(now);
        if self.sync_deadline.is_some_and(|deadline| deadline <= now) {
            self.sync_deadline = None;
            let unsynced: Vec<String> = self
                .members
                .iter()
                .filter(|m| !m.synced)
                .map(|m| m.id.clone())
                .collect();
            for id in unsynced {
                tracing::info!(group = %self.id, member = %id, "member did not sync within the rebalance timeout; removing it");
                self.remove_member_and_rebalance(&id, ResponseError::UnknownMemberId, now);
            }
        }
    }

    fn on_join_timer(&mut self, now: Instant) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        let Some(timer) = self.join_timer.as_mut() else {
            return;
        };
        if timer.deadline > now {
            return;
        }
        if let Some(delay) = timer.initial.as_mut() {
            if delay.new_member_added && !delay.remaining.is_zero() {
                let extension = self.config.initial_rebalance_delay.min(delay.remaining);
                delay.remaining -= extension;
                delay.new_member_added = false;
                timer.deadline = now + extension;
                return;
            }
        }
        self.complete_join(now);
    }

    /// Answers every parked request with `code` and marks the group dead (deletion, shutdown).
    pub fn shut(&mut self, code: ResponseError) {
        for member in &mut self.members {
            if let Some(parked) = member.parked_join.take() {
                let _ = parked
                    .reply
                    .send(join_error(parked.version, &member.id, code.code()));
            }
            if let Some(parked) = member.parked_sync.take() {
                let _ = parked.reply.send(sync_error(code.code()));
            }
        }
        self.members.clear();
        self.consumer.clear();
        self.pending_members.clear();
        self.join_timer = None;
        self.sync_deadline = None;
        self.state = GroupState::Dead;
    }
}
