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
    let (allowed, denied): (Vec<_>, Vec<_>) = std::mem::take(&mut request.topics)
        .into_iter()
        .partition(|t| access.topic(AclOperation::Read, &t.name));
    if denied.is_empty() {
        return groups
            .coordinator
            .offset_commit(request.with_topics(allowed), version)
            .await;
    }
    let code = ResponseError::TopicAuthorizationFailed.code();
    let refused = error_reply::offset_commit(&request.clone().with_topics(denied), code).topics;
    let mut response = if allowed.is_empty() {
        OffsetCommitResponse::default()
    } else {
        groups
            .coordinator
            .offset_commit(request.with_topics(allowed), version)
            .await
    };
    response.topics.extend(refused);
    response
}
