//! OffsetCommit (key 8), versions from `group::versions::OFFSET_COMMIT`.
//!
//! Stores committed offsets durably.
//! The group coordinator does the work; this file only routes to it, and
//! answers NOT_COORDINATOR when the receiving node does not coordinate the
//! group (in a multi-node cluster).
//! Authorization first, as Kafka: READ on the group (else
//! GROUP_AUTHORIZATION_FAILED for every partition), then READ on each
//! topic (else TOPIC_AUTHORIZATION_FAILED for its partitions, which are
//! not committed).

use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::group_context::serve_readable_topics;
use super::{error_reply, versions, GroupContext, RequestContext};
use crate::group::versions::OFFSET_COMMIT;

/// Versions served.
pub const VERSIONS: VersionRange = versions(OFFSET_COMMIT.0, OFFSET_COMMIT.1);

/// Answers OffsetCommit through the group coordinator.
pub async fn handle(
    groups: &GroupContext<'_>,
    mut request: OffsetCommitRequest,
    ctx: &RequestContext,
) -> OffsetCommitResponse {
    let version = ctx.version;
    let access = groups.access(ctx);
    if !access.group(AclOperation::Read, &request.group_id.0) {
        let code = ResponseError::GroupAuthorizationFailed.code();
        return error_reply::offset_commit(&request, code);
    }
    if !groups.coordinates(&request.group_id.0, ctx.node_id) {
        let code = ResponseError::NotCoordinator.code();
        return error_reply::offset_commit(&request, code);
    }
    // Topics the principal may not READ are answered here; the coordinator
    // commits the rest (and is not called when nothing is left).
    let topics = std::mem::take(&mut request.topics);
    let skeleton = request.clone();
    let code = ResponseError::TopicAuthorizationFailed.code();
    serve_readable_topics(
        &access,
        topics,
        |t| &t.name,
        |denied| error_reply::offset_commit(&skeleton.with_topics(denied), code).topics,
        |allowed| {
            groups
                .coordinator
                .offset_commit(request.with_topics(allowed), version)
        },
        |reply: &mut OffsetCommitResponse| &mut reply.topics,
    )
    .await
}
