//! LeaveGroup (key 13), versions from `group::versions::LEAVE_GROUP`.
//!
//! Removes one member (v0–v2) or a batch of members (v3+).
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR when the receiving node does not coordinate the
//! group (in a multi-node cluster).
//! Authorization first, as Kafka: READ on the group, else
//! GROUP_AUTHORIZATION_FAILED.

use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{error_reply, versions, GroupContext, RequestContext};
use crate::group::versions::LEAVE_GROUP;

/// Versions served.
pub const VERSIONS: VersionRange = versions(LEAVE_GROUP.0, LEAVE_GROUP.1);

/// Answers LeaveGroup through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: LeaveGroupRequest,
    ctx: &RequestContext,
) -> LeaveGroupResponse {
    let version = ctx.version;
    if !groups
        .access(ctx)
        .group(AclOperation::Read, &request.group_id.0)
    {
        let code = ResponseError::GroupAuthorizationFailed.code();
        return error_reply::leave_group(&request, version, code);
    }
    if !groups.coordinates(&request.group_id.0, ctx.node_id) {
        let code = ResponseError::NotCoordinator.code();
        return error_reply::leave_group(&request, version, code);
    }
    groups.coordinator.leave_group(request, version).await
}
