//! Static membership (group.instance.id): rejoining without a rebalance, and fencing.

use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::{HeartbeatRequest, LeaveGroupRequest};

use super::*;

const FENCED_INSTANCE_ID: i16 = 82;

/// Two static members "a" (leader) and "b", settled in generation 1.
async fn static_pair(
    coordinator: &Arc<GroupCoordinator>,
) -> (JoinGroupResponse, JoinGroupResponse) {
    let a = spawn_join(coordinator, "g", Some("a"), range(&["orders"]));
    settle_tasks().await;
    let b = spawn_join(coordinator, "g", Some("b"), range(&["orders"]));
    let joined = vec![a.await.expect("join"), b.await.expect("join")];
    let joined = settle(coordinator, "g", joined).await;
    assert!(
        joined[0].member_id.starts_with("a-"),
        "a joined first and leads"
    );
    (joined[0].clone(), joined[1].clone())
}

#[tokio::test(start_paused = true)]
async fn group_static_member_rejoins_with_its_assignment_and_no_rebalance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let (a, b) = static_pair(&coordinator).await;

    // "b" restarts: it joins with an empty member id and its instance id.
    let request = join_request("g", "", Some("b"), &range(&["orders"]));
    let rejoined = coordinator.join_group(request, 5).await;
    assert_eq!(rejoined.error_code, 0);
    assert_ne!(rejoined.member_id, b.member_id);
    assert_eq!(rejoined.generation_id, 1);
    assert_eq!(rejoined.leader, a.member_id);
    assert!(rejoined.members.is_empty());

    // No rebalance: the leader keeps heartbeating normally.
    assert_eq!(heartbeat(&coordinator, "g", &a.member_id, 1).await, 0);
    // The new incarnation gets the assignment made for the old member id.
    let sync = coordinator
        .sync_group(sync_request("g", &rejoined.member_id, 1, &[]), 5)
        .await;
    assert_eq!(sync.error_code, 0);
    assert_eq!(sync.assignment.as_ref(), b.member_id.as_bytes());
    // The old incarnation is fenced.
    let zombie = HeartbeatRequest::default()
        .with_group_id(gid("g"))
        .with_member_id(b.member_id.clone())
        .with_group_instance_id(Some(s("b")))
        .with_generation_id(1);
    assert_eq!(
        coordinator.heartbeat(zombie, 4).await.error_code,
        FENCED_INSTANCE_ID
    );
}

#[tokio::test(start_paused = true)]
async fn group_static_leader_rejoin_does_not_reassign() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let (a, b) = static_pair(&coordinator).await;

    // v5-v8: the old leader id comes back, so the client does not think it leads.
    let request = join_request("g", "", Some("a"), &range(&["orders"]));
    let v5 = coordinator.join_group(request.clone(), 5).await;
    assert_eq!(v5.error_code, 0);
    assert_eq!(v5.leader, a.member_id);
    assert_ne!(v5.member_id, a.member_id);
    assert!(v5.members.is_empty());
    assert!(!v5.skip_assignment);

    // v9: it is told it leads, gets the members, and is asked to skip the assignment.
    let v9 = coordinator.join_group(request, 9).await;
    assert_eq!(v9.error_code, 0);
    assert_eq!(v9.leader, v9.member_id);
    assert!(v9.skip_assignment);
    assert_eq!(v9.members.len(), 2);
    assert_eq!(heartbeat(&coordinator, "g", &b.member_id, 1).await, 0);
    let sync = coordinator
        .sync_group(sync_request("g", &v9.member_id, 1, &[]), 5)
        .await;
    assert_eq!(sync.assignment.as_ref(), a.member_id.as_bytes());
}

#[tokio::test(start_paused = true)]
async fn group_static_member_with_new_subscription_triggers_rebalance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let (a, _b) = static_pair(&coordinator).await;
    let changed = spawn_join(&coordinator, "g", Some("b"), range(&["orders", "refunds"]));
    settle_tasks().await;
    assert_eq!(
        heartbeat(&coordinator, "g", &a.member_id, 1).await,
        REBALANCE_IN_PROGRESS
    );
    let rejoin = join_request("g", &a.member_id, Some("a"), &range(&["orders"]));
    let a2 = coordinator.join_group(rejoin, 5).await;
    let b2 = changed.await.expect("join");
    assert_eq!((a2.generation_id, b2.generation_id), (2, 2));
    let b_meta = a2
        .members
        .iter()
        .find(|m| m.member_id == b2.member_id)
        .map(|m| m.metadata.clone());
    assert_eq!(b_meta, Some(subscription(&["orders", "refunds"])));
}

#[tokio::test(start_paused = true)]
async fn group_static_member_leaves_by_instance_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let (a, b) = static_pair(&coordinator).await;
    let stale = LeaveGroupRequest::default()
        .with_group_id(gid("g"))
        .with_members(vec![MemberIdentity::default()
            .with_member_id(s("b-old"))
            .with_group_instance_id(Some(s("b")))]);
    let response = coordinator.leave_group(stale, 4).await;
    assert_eq!(response.members[0].error_code, FENCED_INSTANCE_ID);
    let by_instance = LeaveGroupRequest::default()
        .with_group_id(gid("g"))
        .with_members(vec![
            MemberIdentity::default().with_group_instance_id(Some(s("b")))
        ]);
    let response = coordinator.leave_group(by_instance, 4).await;
    assert_eq!(response.members[0].error_code, 0);
    assert_eq!(
        heartbeat(&coordinator, "g", &a.member_id, 1).await,
        REBALANCE_IN_PROGRESS
    );
    assert_eq!(
        heartbeat(&coordinator, "g", &b.member_id, 1).await,
        UNKNOWN_MEMBER_ID
    );
}
