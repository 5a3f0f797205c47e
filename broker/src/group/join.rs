//! JoinGroup: admitting members, the MEMBER_ID_REQUIRED handshake, static members, and the
//! responses that end the join phase.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::JoinGroupResponse;
use kafka_protocol::protocol::StrBytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::consumer::GroupKind;
use super::member::{new_member_id, JoinParams, Member, ParkedJoin};
use super::state::{Group, GroupState};

/// What the coordinator does with a JoinGroup: answer now, or wait for the rebalance.
pub(crate) enum JoinOutcome {
    Respond(JoinGroupResponse),
    Wait(oneshot::Receiver<JoinGroupResponse>),
}

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

/// ProtocolName is nullable only from v7; older versions need an empty string instead.
fn protocol_name_field(version: i16, name: Option<&str>) -> Option<StrBytes> {
    match name {
        Some(name) => Some(text(name)),
        None if version >= 7 => None,
        None => Some(StrBytes::default()),
    }
}

/// A JoinGroup response carrying only an error code.
pub(crate) fn join_error(version: i16, member_id: &str, code: i16) -> JoinGroupResponse {
    JoinGroupResponse::default()
        .with_error_code(code)
        .with_generation_id(-1)
        .with_protocol_name(protocol_name_field(version, None))
        .with_member_id(text(member_id))
}

impl Group {
    /// Handles a JoinGroup whose group id and session timeout the coordinator has checked.
    pub fn join(&mut self, params: JoinParams, now: Instant) -> JoinOutcome {
        let version = params.version;
        let error = |code: ResponseError| {
            JoinOutcome::Respond(join_error(version, &params.member_id, code.code()))
        };
        if self.state == GroupState::Dead {
            // The group was deleted under us; a retry finds (or creates) the live one.
            return error(ResponseError::CoordinatorNotAvailable);
        }
        if self.kind == GroupKind::Consumer {
            if !self.consumer.members.is_empty() {
                // Online migration between the protocols (Kafka's mixed groups) is not served.
                return error(ResponseError::InconsistentGroupProtocol);
            }
            self.become_classic_group();
        }
        if !self.supports_protocols(&params.protocol_type, &params.protocols) {
            return error(ResponseError::InconsistentGroupProtocol);
        }
        if params.member_id.is_empty() {
            self.join_new_member(params, now)
        } else {
            self.join_known_member(params, now)
        }
    }

    fn join_new_member(&mut self, params: JoinParams, now: Instant) -> JoinOutcome {
        if let Some(instance_id) = params.instance_id.clone() {
            if let Some(old_id) = self.static_member_id(&instance_id) {
                return self.rejoin_static_member(&old_id, params, now);
            }
            let id = new_member_id(&instance_id);
            return self.add_member_and_rebalance(id, params, now);
        }
        let id = new_member_id(&params.client.client_id);
        if params.version >= 4 {
            // KIP-394: the client must come back with this id, so a client that times out
            // and retries does not leave a ghost member behind.
            self.pending_members
                .insert(id.clone(), now + params.session_timeout);
            let code = ResponseError::MemberIdRequired.code();
            return JoinOutcome::Respond(join_error(params.version, &id, code));
        }
        self.add_member_and_rebalance(id, params, now)
    }

    fn join_known_member(&mut self, params: JoinParams, now: Instant) -> JoinOutcome {
        let id = params.member_id.clone();
        let version = params.version;
        if self.pending_members.remove(&id).is_some() {
            return self.add_member_and_rebalance(id, params, now);
        }
        if self.is_fenced(&id, params.instance_id.as_deref()) {
            let code = ResponseError::FencedInstanceId.code();
            return JoinOutcome::Respond(join_error(version, &id, code));
        }
        let Some(member) = self.member(&id) else {
            let code = ResponseError::UnknownMemberId.code();
            return JoinOutcome::Respond(join_error(version, &id, code));
        };
        let unchanged = member.same_protocols(&params.protocols);
        match self.state {
            GroupState::PreparingRebalance => self.update_member_and_rebalance(params, now),
            // A retried JoinGroup whose response was lost: answer it from the current state.
            GroupState::CompletingRebalance if unchanged => {
                JoinOutcome::Respond(self.current_generation_response(&id, version, false))
            }
            GroupState::Stable if unchanged && !self.is_leader(&id) => {
                if let Some(member) = self.member_mut(&id) {
                    member.touch(now);
                }
                JoinOutcome::Respond(self.current_generation_response(&id, version, false))
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                self.update_member_and_rebalance(params, now)
            }
            GroupState::Empty | GroupState::Dead => {
                let code = ResponseError::UnknownMemberId.code();
                JoinOutcome::Respond(join_error(version, &id, code))
            }
        }
    }

    fn park_join(member: &mut Member, version: i16) -> oneshot::Receiver<JoinGroupResponse> {
        let (reply, receiver) = oneshot::channel();
        if let Some(previous) = member.parked_join.replace(ParkedJoin { reply, version }) {
            // The client gave up on its earlier request and sent a new one.
            let code = ResponseError::RebalanceInProgress.code();
            let _ = previous
                .reply
                .send(join_error(previous.version, &member.id, code));
        }
        receiver
    }

    fn add_member_and_rebalance(
        &mut self,
        id: String,
        params: JoinParams,
        now: Instant,
    ) -> JoinOutcome {
        let mut member = Member::new(id, &params, now);
        let receiver = Self::park_join(&mut member, params.version);
        self.add_member(member, &params.protocol_type);
        self.maybe_prepare_rebalance(now);
        self.maybe_complete_join(now);
        JoinOutcome::Wait(receiver)
    }

    fn update_member_and_rebalance(&mut self, params: JoinParams, now: Instant) -> JoinOutcome {
        let Some(member) = self.member_mut(&params.member_id) else {
            let code = ResponseError::UnknownMemberId.code();
            return JoinOutcome::Respond(join_error(params.version, &params.member_id, code));
        };
        member.update(&params);
        let receiver = Self::park_join(member, params.version);
        self.maybe_prepare_rebalance(now);
        self.maybe_complete_join(now);
        JoinOutcome::Wait(receiver)
    }

    /// A static member came back with an empty member id: it takes over its old member
    /// (and assignment) under a new id, fencing whoever still uses the old one.
    fn rejoin_static_member(
        &mut self,
        old_id: &str,
        params: JoinParams,
        now: Instant,
    ) -> JoinOutcome {
        let new_id = new_member_id(params.instance_id.as_deref().unwrap_or_default());
        let old_leader = self.leader.clone();
        let version = params.version;
        let Some(member) = self.member_mut(old_id) else {
            let code = ResponseError::UnknownMemberId.code();
            return JoinOutcome::Respond(join_error(version, "", code));
        };
        let unchanged = member.same_protocols(&params.protocols);
        let fenced = ResponseError::FencedInstanceId.code();
        if let Some(parked) = member.parked_join.take() {
            let _ = parked
                .reply
                .send(join_error(parked.version, old_id, fenced));
        }
        if let Some(parked) = member.parked_sync.take() {
            let _ = parked.reply.send(super::sync::sync_error(fenced));
        }
        member.id = new_id.clone();
        member.update(&params);
        member.touch(now);
        if old_leader.as_deref() == Some(old_id) {
            self.leader = Some(new_id.clone());
        }
        if self.state == GroupState::Stable && unchanged {
            // Nothing the assignment depends on changed: no rebalance. A returning leader must
            // not compute a new assignment (a Stable group would never distribute it), so
            // it either hears the old leader id (v0-8) or is told to skip assignment (v9+).
            let is_leader = self.is_leader(&new_id);
            let response = if is_leader && version >= 9 {
                self.current_generation_response(&new_id, version, true)
            } else {
                let mut response = self.current_generation_response(&new_id, version, false);
                response.leader = text(old_leader.as_deref().unwrap_or_default());
                response.members.clear();
                response
            };
            return JoinOutcome::Respond(response);
        }
        let mut params = params;
        params.member_id = new_id;
        self.update_member_and_rebalance(params, now)
    }

    /// The current generation as seen by `member_id`; the leader also gets every member's
    /// metadata (always when `skip_assignment`, which asks it to keep the old assignment).
    fn current_generation_response(
        &self,
        member_id: &str,
        version: i16,
        skip_assignment: bool,
    ) -> JoinGroupResponse {
        let members = if self.is_leader(member_id) {
            self.member_list()
        } else {
            Vec::new()
        };
        JoinGroupResponse::default()
            .with_generation_id(self.generation)
            .with_protocol_type(self.protocol_type.as_deref().map(text))
            .with_protocol_name(protocol_name_field(version, self.protocol.as_deref()))
            .with_leader(text(self.leader.as_deref().unwrap_or_default()))
            .with_skip_assignment(skip_assignment && version >= 9)
            .with_member_id(text(member_id))
            .with_members(members)
    }

    /// Every member with its metadata for the chosen protocol, for the leader to assign.
    fn member_list(&self) -> Vec<JoinGroupResponseMember> {
        let protocol = self.protocol.as_deref().unwrap_or_default();
        self.members
            .iter()
            .map(|m| {
                JoinGroupResponseMember::default()
                    .with_member_id(text(&m.id))
                    .with_group_instance_id(m.instance_id.as_deref().map(text))
                    .with_metadata(m.metadata_for(protocol))
            })
            .collect()
    }

    /// Sends the new generation to every member whose JoinGroup is parked.
    pub fn answer_parked_joins(&mut self, now: Instant) {
        let mut replies = Vec::new();
        for member in &mut self.members {
            member.synced = false;
            if let Some(parked) = member.parked_join.take() {
                member.touch(now);
                replies.push((member.id.clone(), parked));
            }
        }
        for (id, parked) in replies {
            let response = self.current_generation_response(&id, parked.version, false);
            let _ = parked.reply.send(response);
        }
    }
}
