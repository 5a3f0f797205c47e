//! SyncGroup: the leader hands in the assignment, every member receives its share.

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::SyncGroupResponse;
use kafka_protocol::protocol::StrBytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::member::ParkedSync;
use super::state::{Group, GroupState};

/// A SyncGroup request with owned fields.
pub(crate) struct SyncParams {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// (member id, opaque assignment), sent only by the leader.
    pub assignments: Vec<(String, Bytes)>,
    pub version: i16,
}

/// What the coordinator does with a SyncGroup: answer now, or wait for the leader.
pub(crate) enum SyncOutcome {
    Respond(SyncGroupResponse),
    Wait(oneshot::Receiver<SyncGroupResponse>),
}

/// A SyncGroup response carrying only an error code (and an empty assignment).
pub(crate) fn sync_error(code: i16) -> SyncGroupResponse {
    SyncGroupResponse::default().with_error_code(code)
}

impl Group {
    /// Handles a SyncGroup request.
    pub fn sync(&mut self, params: SyncParams, now: Instant) -> SyncOutcome {
        let version = params.version;
        let error = |code: ResponseError| SyncOutcome::Respond(sync_error(code.code()));
        if self.state == GroupState::Dead {
            return error(ResponseError::CoordinatorNotAvailable);
        }
        if self.is_fenced(&params.member_id, params.instance_id.as_deref()) {
            return error(ResponseError::FencedInstanceId);
        }
        if self.member(&params.member_id).is_none() {
            return error(ResponseError::UnknownMemberId);
        }
        if params.generation != self.generation {
            return error(ResponseError::IllegalGeneration);
        }
        let type_differs = params
            .protocol_type
            .as_ref()
            .is_some_and(|t| self.protocol_type.as_ref() != Some(t));
        let name_differs = params
            .protocol_name
            .as_ref()
            .is_some_and(|n| self.protocol.as_ref() != Some(n));
        if type_differs || name_differs {
            return error(ResponseError::InconsistentGroupProtocol);
        }
        match self.state {
            GroupState::Empty | GroupState::Dead => error(ResponseError::UnknownMemberId),
            GroupState::PreparingRebalance => error(ResponseError::RebalanceInProgress),
            GroupState::CompletingRebalance => self.sync_while_completing(params, now),
            GroupState::Stable => {
                let Some(member) = self.member_mut(&params.member_id) else {
                    return error(ResponseError::UnknownMemberId);
                };
                member.synced = true;
                member.touch(now);
                let assignment = member.assignment.clone();
                self.clear_sync_deadline_if_all_synced();
                SyncOutcome::Respond(self.sync_success(version, assignment))
            }
        }
    }

    fn sync_while_completing(&mut self, params: SyncParams, now: Instant) -> SyncOutcome {
        let Some(member) = self.member_mut(&params.member_id) else {
            let code = ResponseError::UnknownMemberId.code();
            return SyncOutcome::Respond(sync_error(code));
        };
        let (reply, receiver) = oneshot::channel();
        if let Some(previous) = member.parked_sync.replace(ParkedSync {
            reply,
            version: params.version,
        }) {
            let code = ResponseError::RebalanceInProgress.code();
            let _ = previous.reply.send(sync_error(code));
        }
        member.synced = true;
        if self.is_leader(&params.member_id) {
            self.distribute(params.assignments, now);
        }
        SyncOutcome::Wait(receiver)
    }

    /// Stores the leader's assignment (members it left out get an empty one), answers every
    /// parked SyncGroup and settles the group.
    fn distribute(&mut self, assignments: Vec<(String, Bytes)>, now: Instant) {
        for member in &mut self.members {
            member.assignment = assignments
                .iter()
                .find(|(id, _)| *id == member.id)
                .map(|(_, assignment)| assignment.clone())
                .unwrap_or_default();
        }
        self.state = GroupState::Stable;
        let mut replies = Vec::new();
        for member in &mut self.members {
            if let Some(parked) = member.parked_sync.take() {
                member.touch(now);
                replies.push((parked, member.assignment.clone()));
            }
        }
        for (parked, assignment) in replies {
            let response = self.sync_success(parked.version, assignment);
            let _ = parked.reply.send(response);
        }
        self.clear_sync_deadline_if_all_synced();
    }

    fn clear_sync_deadline_if_all_synced(&mut self) {
        if self.members.iter().all(|m| m.synced) {
            self.sync_deadline = None;
        }
    }

    fn sync_success(&self, version: i16, assignment: Bytes) -> SyncGroupResponse {
        let text = |value: &Option<String>| value.clone().map(StrBytes::from_string);
        let response = SyncGroupResponse::default().with_assignment(assignment);
        if version >= 5 {
            response
                .with_protocol_type(text(&self.protocol_type))
                .with_protocol_name(text(&self.protocol))
        } else {
            response
        }
    }
}
