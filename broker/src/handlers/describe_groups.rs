//! DescribeGroups (key 15), versions from `group::versions::DESCRIBE_GROUPS`.
//!
//! Describes groups and their members.
//! The group coordinator does the work; this file only routes to it.

use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};
use kafka_protocol::protocol::VersionRange;

use super::versions;
use crate::group::versions::DESCRIBE_GROUPS;
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(DESCRIBE_GROUPS.0, DESCRIBE_GROUPS.1);

/// Answers DescribeGroups through the group coordinator.
pub async fn handle(
    state: &BrokerState,
    request: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    state.groups.describe_groups(request, version).await
}
