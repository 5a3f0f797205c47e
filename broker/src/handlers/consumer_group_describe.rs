//! ConsumerGroupDescribe (key 69), versions from `group::versions::CONSUMER_GROUP_DESCRIBE`.
//!
//! Describes consumer-protocol groups (KIP-848): epochs, assignor, members with their
//! current and target assignments. The group coordinator does the work; this file answers
//! GROUP_AUTHORIZATION_FAILED for groups the principal may not DESCRIBE, NOT_COORDINATOR for
//! groups another node coordinates, and UNSUPPORTED_VERSION when the consumer protocol is
//! switched off. `authorized_operations` is filled when asked for.

use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup;
use kafka_protocol::messages::{ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::{AclOperation, ResourceType};

use super::{versions, GroupContext, RequestContext};
use crate::group::versions::CONSUMER_GROUP_DESCRIBE;

/// Versions served.
pub const VERSIONS: VersionRange = versions(CONSUMER_GROUP_DESCRIBE.0, CONSUMER_GROUP_DESCRIBE.1);

/// Answers ConsumerGroupDescribe through the group coordinator, group by group.
pub async fn handle(
    groups: &GroupContext<'_>,
    request: ConsumerGroupDescribeRequest,
    ctx: &RequestContext,
) -> ConsumerGroupDescribeResponse {
    let access = groups.access(ctx);
    let operations = request.include_authorized_operations;
    let mut described = Vec::with_capacity(request.group_ids.len());
    for group_id in request.group_ids {
        let refuse = |code: ResponseError| {
            DescribedGroup::default()
                .with_group_id(group_id.clone())
                .with_error_code(code.code())
                .with_authorized_operations(i32::MIN)
        };
        let answer = if !groups.coordinator.consumer_protocol_enabled() {
            refuse(ResponseError::UnsupportedVersion)
        } else if !access.group(AclOperation::Describe, &group_id) {
            refuse(ResponseError::GroupAuthorizationFailed)
        } else if !groups.coordinates(&group_id, ctx.node_id) {
            refuse(ResponseError::NotCoordinator)
        } else {
            let single = ConsumerGroupDescribeRequest::default()
                .with_group_ids(vec![group_id.clone()])
                .with_include_authorized_operations(operations);
            let found = groups
                .coordinator
                .consumer_group_describe(single, ctx.version)
                .await
                .groups
                .into_iter()
                .next();
            match found {
                Some(group) if operations && group.error_code == 0 => group
                    .with_authorized_operations(access.operations(ResourceType::Group, &group_id)),
                Some(group) => group,
                None => refuse(ResponseError::UnknownServerError),
            }
        };
        described.push(answer);
    }
    ConsumerGroupDescribeResponse::default().with_groups(described)
}
