//! Heartbeat and LeaveGroup: keeping a member's session alive, and ending it on purpose.

use kafka_protocol::error::ResponseError;
use tokio::time::Instant;

use super::state::{Group, GroupState};

/// Kafka's "no error" code.
pub(crate) const NONE: i16 = 0;

impl Group {
    /// Handles a Heartbeat; returns its error code. REBALANCE_IN_PROGRESS tells a member of
    /// the current generation to rejoin.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        now: Instant,
    ) -> i16 {
        if self.state == GroupState::Dead {
            return ResponseError::CoordinatorNotAvailable.code();
        }
        if self.is_fenced(member_id, instance_id) {
            return ResponseError::FencedInstanceId.code();
        }
        let current_generation = self.generation;
        let state = self.state;
        let Some(member) = self.member_mut(member_id) else {
            return ResponseError::UnknownMemberId.code();
        };
        if generation != current_generation {
            return ResponseError::IllegalGeneration.code();
        }
        match state {
            GroupState::Empty | GroupState::Dead => ResponseError::UnknownMemberId.code(),
            // Clients may heartbeat between their JoinGroup and SyncGroup responses.
            GroupState::CompletingRebalance | GroupState::Stable => {
                member.touch(now);
                NONE
            }
            GroupState::PreparingRebalance => {
                member.touch(now);
                ResponseError::RebalanceInProgress.code()
            }
        }
    }

    /// Handles one leaving member (LeaveGroup v0-2 has one, v3+ a batch); returns its error
    /// code. A static member may leave by instance id alone (empty member id).
    pub fn leave(&mut self, member_id: &str, instance_id: Option<&str>, now: Instant) -> i16 {
        if self.state == GroupState::Dead {
            return ResponseError::CoordinatorNotAvailable.code();
        }
        if let Some(instance_id) = instance_id {
            let Some(current) = self.static_member_id(instance_id) else {
                return ResponseError::UnknownMemberId.code();
            };
            if !member_id.is_empty() && current != member_id {
                return ResponseError::FencedInstanceId.code();
            }
            self.remove_member_and_rebalance(&current, ResponseError::UnknownMemberId, now);
            return NONE;
        }
        if self.pending_members.remove(member_id).is_some() {
            self.maybe_complete_join(now);
            return NONE;
        }
        if self.member(member_id).is_none() {
            return ResponseError::UnknownMemberId.code();
        }
        self.remove_member_and_rebalance(member_id, ResponseError::UnknownMemberId, now);
        NONE
    }
}
