//! LeaveGroup (key 13), versions from `group::versions::LEAVE_GROUP`.
//!
//! Removes one member (v0–v2) or a batch of members (v3+).
//! The group coordinator does the work; this file only routes to it.

use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};
use kafka_protocol::protocol::VersionRange;

use super::versions;
use crate::group::versions::LEAVE_GROUP;
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(LEAVE_GROUP.0, LEAVE_GROUP.1);

/// Answers LeaveGroup through the group coordinator.
pub async fn handle(
    state: &BrokerState,
    request: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    state.groups.leave_group(request, version).await
}
