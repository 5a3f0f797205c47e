//! Every response the coordinator builds must encode at every version it claims to serve:
//! the crate refuses fields set outside their versions, so this catches version mistakes.

use bytes::BytesMut;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, LeaveGroupRequest, ListGroupsRequest,
    OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest,
};
use kafka_protocol::protocol::Encodable;

use super::super::versions;
use super::*;

fn encodes<T: Encodable>(message: &T, range: (i16, i16), what: &str) {
    for version in range.0..=range.1 {
        let mut buf = BytesMut::new();
        if let Err(e) = message.encode(&mut buf, version) {
            panic!("{what} does not encode at v{version}: {e}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn group_responses_encode_at_every_supported_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "g", 2).await;
    let leader = &joined[0];
    encodes(leader, versions::JOIN_GROUP, "leader JoinGroup response");
    encodes(
        &joined[1],
        versions::JOIN_GROUP,
        "follower JoinGroup response",
    );
    for version in versions::JOIN_GROUP.0..=versions::JOIN_GROUP.1 {
        let error = coordinator
            .join_group(join_request("", "", None, &[]), version)
            .await;
        encodes(&error, (version, version), "JoinGroup error response");
    }
    let sync = coordinator
        .sync_group(sync_request("g", &leader.member_id, 1, &[]), 5)
        .await;
    encodes(&sync, versions::SYNC_GROUP, "SyncGroup response");
    encodes(
        &sync_error_response(),
        versions::SYNC_GROUP,
        "SyncGroup error response",
    );

    let hb = HeartbeatRequest::default().with_group_id(gid("g"));
    encodes(
        &coordinator.heartbeat(hb, 0).await,
        versions::HEARTBEAT,
        "Heartbeat response",
    );

    let commit = OffsetCommitRequest::default().with_group_id(gid("x"));
    let response = coordinator.offset_commit(commit, 2).await;
    encodes(&response, versions::OFFSET_COMMIT, "OffsetCommit response");

    let fetch = OffsetFetchRequest::default()
        .with_group_id(gid("g"))
        .with_topics(None);
    for version in versions::OFFSET_FETCH.0..=versions::OFFSET_FETCH.1 {
        let response = coordinator.offset_fetch(fetch.clone(), version).await;
        encodes(&response, (version, version), "OffsetFetch response");
    }

    let describe = DescribeGroupsRequest::default().with_groups(vec![gid("g")]);
    for version in versions::DESCRIBE_GROUPS.0..=versions::DESCRIBE_GROUPS.1 {
        let response = coordinator.describe_groups(describe.clone(), version).await;
        encodes(&response, (version, version), "DescribeGroups response");
    }
    let list = coordinator
        .list_groups(ListGroupsRequest::default(), 5)
        .await;
    encodes(&list, versions::LIST_GROUPS, "ListGroups response");
    for version in versions::LEAVE_GROUP.0..=versions::LEAVE_GROUP.1 {
        let leave = LeaveGroupRequest::default().with_group_id(gid("none"));
        let response = coordinator.leave_group(leave, version).await;
        encodes(&response, (version, version), "LeaveGroup response");
    }
    let delete = DeleteGroupsRequest::default().with_groups_names(vec![gid("g")]);
    let response = coordinator.delete_groups(delete, 2).await;
    encodes(&response, versions::DELETE_GROUPS, "DeleteGroups response");
    let offset_delete = OffsetDeleteRequest::default().with_group_id(gid("g"));
    let response = coordinator.offset_delete(offset_delete, 0).await;
    encodes(&response, versions::OFFSET_DELETE, "OffsetDelete response");
}

fn sync_error_response() -> kafka_protocol::messages::SyncGroupResponse {
    super::super::sync::sync_error(27)
}
