//! DescribeGroups, ListGroups and DeleteGroups.

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, LeaveGroupRequest, ListGroupsRequest,
    OffsetCommitRequest, TopicName,
};

use super::*;

async fn delete(coordinator: &GroupCoordinator, group: &str) -> i16 {
    let request = DeleteGroupsRequest::default().with_groups_names(vec![gid(group)]);
    let response = coordinator.delete_groups(request, 2).await;
    response.results[0].error_code
}

#[tokio::test(start_paused = true)]
async fn group_delete_refuses_non_empty_groups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "g", 1).await;
    let member = joined[0].member_id.clone();
    let commit = OffsetCommitRequest::default()
        .with_group_id(gid("g"))
        .with_generation_id_or_member_epoch(1)
        .with_member_id(member.clone())
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s("orders")))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(9)])]);
    let response = coordinator.offset_commit(commit, 8).await;
    assert_eq!(response.topics[0].partitions[0].error_code, 0);

    assert_eq!(delete(&coordinator, "g").await, 68, "NON_EMPTY_GROUP");
    let leave = LeaveGroupRequest::default()
        .with_group_id(gid("g"))
        .with_member_id(member);
    assert_eq!(coordinator.leave_group(leave, 0).await.error_code, 0);
    assert_eq!(delete(&coordinator, "g").await, 0);
    assert_eq!(delete(&coordinator, "g").await, 69, "GROUP_ID_NOT_FOUND");
    assert_eq!(delete(&coordinator, "never").await, 69);

    // The deletion is durable: the offsets stay gone after a restart.
    coordinator.shutdown().await;
    let coordinator = open(dir.path(), 100);
    let listed = coordinator
        .list_groups(ListGroupsRequest::default(), 0)
        .await;
    assert!(listed.groups.is_empty());
}

#[tokio::test(start_paused = true)]
async fn group_list_shows_states_and_filters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    stable_group(&coordinator, "busy", 2).await;
    let commit = OffsetCommitRequest::default()
        .with_group_id(gid("quiet"))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s("orders")))
            .with_partitions(vec![OffsetCommitRequestPartition::default()])]);
    coordinator.offset_commit(commit, 2).await;

    let all = coordinator
        .list_groups(ListGroupsRequest::default(), 5)
        .await;
    let mut seen: Vec<_> = all
        .groups
        .iter()
        .map(|g| {
            (
                g.group_id.0.to_string(),
                g.group_state.to_string(),
                g.protocol_type.to_string(),
                g.group_type.to_string(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (
                "busy".into(),
                "Stable".into(),
                "consumer".into(),
                "classic".into()
            ),
            (
                "quiet".into(),
                "Empty".into(),
                String::new(),
                "classic".into()
            ),
        ]
    );
    let stable_only = ListGroupsRequest::default().with_states_filter(vec![s("stable")]);
    let filtered = coordinator.list_groups(stable_only, 4).await;
    assert_eq!(filtered.groups.len(), 1);
    assert_eq!(filtered.groups[0].group_id.0.as_str(), "busy");
    let consumer_type = ListGroupsRequest::default().with_types_filter(vec![s("consumer")]);
    assert!(coordinator
        .list_groups(consumer_type, 5)
        .await
        .groups
        .is_empty());
}

#[tokio::test(start_paused = true)]
async fn group_describe_shows_members_protocol_and_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "g", 2).await;
    let request = DescribeGroupsRequest::default()
        .with_groups(vec![gid("g"), gid("unknown")])
        .with_include_authorized_operations(true);
    let response = coordinator.describe_groups(request, 5).await;
    let described = &response.groups[0];
    assert_eq!(described.error_code, 0);
    assert_eq!(described.group_state.as_str(), "Stable");
    assert_eq!(described.protocol_type.as_str(), "consumer");
    assert_eq!(described.protocol_data.as_str(), "range");
    assert_ne!(described.authorized_operations, i32::MIN);
    assert_eq!(described.members.len(), 2);
    for member in &described.members {
        assert!(joined.iter().any(|j| j.member_id == member.member_id));
        assert_eq!(member.client_id.as_str(), "test-client");
        assert_eq!(member.client_host.as_str(), "/127.0.0.1");
        assert_eq!(member.member_metadata, subscription(&["orders"]));
        assert_eq!(
            member.member_assignment.as_ref(),
            member.member_id.as_bytes()
        );
    }
    let unknown = &response.groups[1];
    assert_eq!(unknown.group_state.as_str(), "Dead");
    assert!(unknown.members.is_empty());

    // While rebalancing, members are listed without metadata or assignment.
    let _newcomer = spawn_join(&coordinator, "g", None, range(&["orders"]));
    settle_tasks().await;
    let request = DescribeGroupsRequest::default().with_groups(vec![gid("g")]);
    let response = coordinator.describe_groups(request, 0).await;
    let described = &response.groups[0];
    assert_eq!(described.group_state.as_str(), "PreparingRebalance");
    assert_eq!(described.protocol_data.as_str(), "");
    assert_eq!(described.members.len(), 3);
    assert!(described
        .members
        .iter()
        .all(|m| m.member_assignment.is_empty()));
}
