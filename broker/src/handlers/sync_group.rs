//! SyncGroup (key 14), versions from `group::versions::SYNC_GROUP`.
//!
//! Distributes the leader's assignment to the members.
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR when the receiving node does not coordinate the
//! group (in a multi-node cluster).
//! Authorization first, as Kafka: READ on the group, else
//! GROUP_AUTHORIZATION_FAILED.

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{versions, GroupContext, RequestContext};
use crate::group::versions::SYNC_GROUP;

/// Versions served.
pub const VERSIONS: VersionRange = versions(SYNC_GROUP.0, SYNC_GROUP.1);

/// Answers SyncGroup through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: SyncGroupRequest,
    ctx: &RequestContext,
) -> SyncGroupResponse {
    let version = ctx.version;
    if !groups
        .access(ctx)
        .group(AclOperation::Read, &request.group_id.0)
    {
        let code = ResponseError::GroupAuthorizationFailed.code();
        return crate::group::sync_error(code);
    }
    if !groups.coordinates(&request.group_id.0, ctx.node_id) {
        let code = ResponseError::NotCoordinator.code();
        return crate::group::sync_error(code);
    }
    groups.coordinator.sync_group(request, version).await
}
