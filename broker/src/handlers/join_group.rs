//! JoinGroup (key 11), versions from `group::versions::JOIN_GROUP`.
//!
//! Adds a member to a classic-protocol group and waits for the rebalance.
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR when the receiving node does not coordinate the
//! group (in a multi-node cluster).
//! Authorization first, as Kafka: READ on the group, else
//! GROUP_AUTHORIZATION_FAILED.

use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{versions, GroupContext, RequestContext};
use crate::group::versions::JOIN_GROUP;
use crate::group::{join_error, ClientInfo};

/// Versions served.
pub const VERSIONS: VersionRange = versions(JOIN_GROUP.0, JOIN_GROUP.1);

/// Answers JoinGroup through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: JoinGroupRequest,
    ctx: &RequestContext,
) -> JoinGroupResponse {
    if !groups
        .access(ctx)
        .group(AclOperation::Read, &request.group_id.0)
    {
        let code = ResponseError::GroupAuthorizationFailed.code();
        return join_error(ctx.version, &request.member_id, code);
    }
    if !groups.coordinates(&request.group_id.0, ctx.node_id) {
        let code = ResponseError::NotCoordinator.code();
        return join_error(ctx.version, &request.member_id, code);
    }
    let client = ClientInfo {
        client_id: ctx.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", ctx.peer.ip()),
    };
    groups
        .coordinator
        .join_group_from(request, ctx.version, client)
        .await
}
