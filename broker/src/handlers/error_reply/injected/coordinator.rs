//! Error responses of FindCoordinator and DescribeGroups as a fault rule
//! fails them.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{
    BrokerId, DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse, GroupId,
};

use crate::handlers::error_reply::described;

/// FindCoordinator: `code` for the key (v0–v3) or every key (v4+).
pub fn find_coordinator(
    request: &FindCoordinatorRequest,
    version: i16,
    code: i16,
) -> FindCoordinatorResponse {
    if version >= 4 {
        let coordinators = request
            .coordinator_keys
            .iter()
            .map(|key| {
                Coordinator::default()
                    .with_key(key.clone())
                    .with_error_code(code)
                    .with_error_message(None)
                    .with_node_id(BrokerId(-1))
                    .with_port(-1)
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let response = FindCoordinatorResponse::default()
        .with_error_code(code)
        .with_node_id(BrokerId(-1))
        .with_port(-1);
    if version >= 1 {
        response.with_error_message(None)
    } else {
        response
    }
}

/// DescribeGroups: `code` for every group.
pub fn describe_groups(groups: &[GroupId], code: i16) -> DescribeGroupsResponse {
    DescribeGroupsResponse::default()
        .with_groups(groups.iter().map(|g| described(g, code)).collect())
}
