//! Heartbeat (key 12), versions from `group::versions::HEARTBEAT`.
//!
//! Keeps a member's session alive and signals rebalances.
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR when the receiving node does not coordinate the
//! group (in a multi-node cluster).
//! Authorization first, as Kafka: READ on the group, else
//! GROUP_AUTHORIZATION_FAILED.

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{versions, GroupContext, RequestContext};
use crate::group::versions::HEARTBEAT;

/// Versions served.
pub const VERSIONS: VersionRange = versions(HEARTBEAT.0, HEARTBEAT.1);

/// Answers Heartbeat through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: HeartbeatRequest,
    ctx: &RequestContext,
) -> HeartbeatResponse {
    let version = ctx.version;
    if !groups
        .access(ctx)
        .group(AclOperation::Read, &request.group_id.0)
    {
        let code = ResponseError::GroupAuthorizationFailed.code();
        return HeartbeatResponse::default().with_error_code(code);
    }
    if !groups.coordinates(&request.group_id.0, ctx.node_id) {
        let code = ResponseError::NotCoordinator.code();
        return HeartbeatResponse::default().with_error_code(code);
    }
    groups.coordinator.heartbeat(request, version).await
}
