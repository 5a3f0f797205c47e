//! OffsetCommit (key 8), versions from `group::versions::OFFSET_COMMIT`.
//!
//! Stores committed offsets durably.
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR when the receiving node does not coordinate the
//! group (in a multi-node cluster).

use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use super::{error_reply, versions, GroupContext, RequestContext};
use crate::group::versions::OFFSET_COMMIT;

/// Versions served.
pub const VERSIONS: VersionRange = versions(OFFSET_COMMIT.0, OFFSET_COMMIT.1);

/// Answers OffsetCommit through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: OffsetCommitRequest,
    ctx: &RequestContext,
) -> OffsetCommitResponse {
    let version = ctx.version;
    if !groups.coordinates(&request.group_id.0, ctx.node_id) {
        let code = ResponseError::NotCoordinator.code();
        return error_reply::offset_commit(&request, code);
    }
    groups.coordinator.offset_commit(request, version).await
}
