//! Tests of the group coordinator through its public API, on paused tokio time.

mod admin;
mod encoding;
mod offsets;
mod rebalance;
mod static_members;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse, SyncGroupRequest,
    SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::{ClientInfo, GroupConfig, GroupCoordinator};

pub(super) const MEMBER_ID_REQUIRED: i16 = 79;
pub(super) const REBALANCE_IN_PROGRESS: i16 = 27;
pub(super) const ILLEGAL_GENERATION: i16 = 22;
pub(super) const UNKNOWN_MEMBER_ID: i16 = 25;

pub(super) fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

pub(super) fn gid(text: &str) -> GroupId {
    GroupId(s(text))
}

/// A coordinator on a fresh directory with the given initial rebalance delay.
pub(super) fn open(dir: &std::path::Path, delay_ms: u64) -> Arc<GroupCoordinator> {
    let config = GroupConfig {
        initial_rebalance_delay: Duration::from_millis(delay_ms),
        fsync_offset_log: false,
        ..GroupConfig::default()
    };
    GroupCoordinator::open(dir, config).expect("open coordinator")
}

/// The `consumer`-protocol subscription metadata of a member subscribed to `topics`.
pub(super) fn subscription(topics: &[&str]) -> Bytes {
    super::subscription::encode_subscription(topics)
}

pub(super) fn join_request(
    group: &str,
    member_id: &str,
    instance: Option<&str>,
    protocols: &[(&str, Bytes)],
) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(gid(group))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(30_000)
        .with_member_id(s(member_id))
        .with_group_instance_id(instance.map(s))
        .with_protocol_type(s("consumer"))
        .with_protocols(
            protocols
                .iter()
                .map(|(name, metadata)| {
                    JoinGroupRequestProtocol::default()
                        .with_name(s(name))
                        .with_metadata(metadata.clone())
                })
                .collect(),
        )
}

/// Joins like a v5 client: an empty member id first, then again with the id handed out.
pub(super) async fn join(
    coordinator: &GroupCoordinator,
    group: &str,
    instance: Option<&str>,
    protocols: &[(&str, Bytes)],
) -> JoinGroupResponse {
    let client = ClientInfo {
        client_id: "test-client".into(),
        client_host: "/127.0.0.1".into(),
    };
    let first = coordinator
        .join_group_from(
            join_request(group, "", instance, protocols),
            5,
            client.clone(),
        )
        .await;
    if first.error_code != MEMBER_ID_REQUIRED {
        return first;
    }
    coordinator
        .join_group_from(
            join_request(group, &first.member_id, instance, protocols),
            5,
            client,
        )
        .await
}

/// Starts a join in the background.
pub(super) fn spawn_join(
    coordinator: &Arc<GroupCoordinator>,
    group: &str,
    instance: Option<&str>,
    protocols: Vec<(&'static str, Bytes)>,
) -> tokio::task::JoinHandle<JoinGroupResponse> {
    let coordinator = Arc::clone(coordinator);
    let group = group.to_owned();
    let instance = instance.map(str::to_owned);
    tokio::spawn(async move { join(&coordinator, &group, instance.as_deref(), &protocols).await })
}

pub(super) fn range(topics: &[&str]) -> Vec<(&'static str, Bytes)> {
    vec![("range", subscription(topics))]
}

pub(super) fn sync_request(
    group: &str,
    member_id: &str,
    generation: i32,
    assignments: &[(&str, &[u8])],
) -> SyncGroupRequest {
    SyncGroupRequest::default()
        .with_group_id(gid(group))
        .with_generation_id(generation)
        .with_member_id(s(member_id))
        .with_assignments(
            assignments
                .iter()
                .map(|(member, assignment)| {
                    SyncGroupRequestAssignment::default()
                        .with_member_id(s(member))
                        .with_assignment(Bytes::copy_from_slice(assignment))
                })
                .collect(),
        )
}

/// Starts a SyncGroup in the background.
pub(super) fn spawn_sync(
    coordinator: &Arc<GroupCoordinator>,
    request: SyncGroupRequest,
) -> tokio::task::JoinHandle<SyncGroupResponse> {
    let coordinator = Arc::clone(coordinator);
    tokio::spawn(async move { coordinator.sync_group(request, 5).await })
}

pub(super) async fn heartbeat(
    coordinator: &GroupCoordinator,
    group: &str,
    member_id: &str,
    generation: i32,
) -> i16 {
    let request = HeartbeatRequest::default()
        .with_group_id(gid(group))
        .with_member_id(s(member_id))
        .with_generation_id(generation);
    coordinator.heartbeat(request, 4).await.error_code
}

/// A settled group of `n` members (joined together, leader synced with an assignment
/// `member id bytes` for everyone). Returns the join responses in leader-first order.
pub(super) async fn stable_group(
    coordinator: &Arc<GroupCoordinator>,
    group: &str,
    n: usize,
) -> Vec<JoinGroupResponse> {
    let handles: Vec<_> = (0..n)
        .map(|_| spawn_join(coordinator, group, None, range(&["orders"])))
        .collect();
    let mut joined = Vec::new();
    for handle in handles {
        joined.push(handle.await.expect("join task"));
    }
    settle(coordinator, group, joined).await
}

/// Runs SyncGroup for every joined member, the leader last so followers are parked.
pub(super) async fn settle(
    coordinator: &Arc<GroupCoordinator>,
    group: &str,
    mut joined: Vec<JoinGroupResponse>,
) -> Vec<JoinGroupResponse> {
    joined.sort_by_key(|r| r.leader != r.member_id);
    let leader = joined.first().expect("at least one member").clone();
    let generation = leader.generation_id;
    let mut followers = Vec::new();
    for member in joined.iter().skip(1) {
        let request = sync_request(group, &member.member_id, generation, &[]);
        followers.push(spawn_sync(coordinator, request));
    }
    let ids: Vec<String> = leader
        .members
        .iter()
        .map(|m| m.member_id.to_string())
        .collect();
    let assignments: Vec<(&str, &[u8])> =
        ids.iter().map(|id| (id.as_str(), id.as_bytes())).collect();
    let request = sync_request(group, &leader.member_id, generation, &assignments);
    let response = coordinator.sync_group(request, 5).await;
    assert_eq!(response.error_code, 0);
    assert_eq!(response.assignment.as_ref(), leader.member_id.as_bytes());
    for (follower, handle) in joined.iter().skip(1).zip(followers) {
        let response = handle.await.expect("sync task");
        assert_eq!(response.error_code, 0);
        assert_eq!(response.assignment.as_ref(), follower.member_id.as_bytes());
    }
    joined
}

/// Lets spawned tasks run until they park (time stays put unless every task sleeps).
pub(super) async fn settle_tasks() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}
