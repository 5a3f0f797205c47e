//! Joining, syncing, heartbeats, session expiry, leaving and protocol selection.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::LeaveGroupRequest;
use tokio::time::{sleep, Instant};

use super::*;

#[tokio::test(start_paused = true)]
async fn group_two_members_share_one_generation_and_get_their_assignments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let start = Instant::now();
    let first = spawn_join(&coordinator, "g", None, range(&["orders"]));
    sleep(Duration::from_millis(50)).await;
    let second = spawn_join(&coordinator, "g", None, range(&["orders", "payments"]));
    let first = first.await.expect("join");
    let second = second.await.expect("join");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "initial delay ran long"
    );

    assert_eq!((first.error_code, second.error_code), (0, 0));
    assert_eq!(first.generation_id, 1);
    assert_eq!(second.generation_id, 1);
    assert_ne!(first.member_id, second.member_id);
    assert_eq!(first.leader, first.member_id, "the first joiner leads");
    assert_eq!(second.leader, first.member_id);
    assert_eq!(first.protocol_name.as_deref(), Some("range"));
    assert!(second.members.is_empty(), "followers get no member list");
    let listed: Vec<_> = first.members.iter().map(|m| m.member_id.clone()).collect();
    assert_eq!(
        listed,
        vec![first.member_id.clone(), second.member_id.clone()]
    );
    let second_meta = first
        .members
        .iter()
        .find(|m| m.member_id == second.member_id)
        .map(|m| m.metadata.clone());
    assert_eq!(second_meta, Some(subscription(&["orders", "payments"])));

    // settle() checks that each member receives exactly what the leader assigned to it.
    let joined = settle(&coordinator, "g", vec![first, second]).await;
    for member in &joined {
        assert_eq!(heartbeat(&coordinator, "g", &member.member_id, 1).await, 0);
    }
}

#[tokio::test(start_paused = true)]
async fn group_three_members_have_one_leader_with_every_member() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "g", 3).await;
    let leaders: Vec<_> = joined.iter().filter(|r| r.leader == r.member_id).collect();
    assert_eq!(leaders.len(), 1);
    assert_eq!(leaders[0].members.len(), 3);
    assert!(joined.iter().all(|r| r.generation_id == 1));
    assert!(joined.iter().all(|r| r.leader == leaders[0].member_id));
}

#[tokio::test(start_paused = true)]
async fn group_member_id_required_then_rejoin_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let protocols = range(&["orders"]);
    let first = coordinator
        .join_group(join_request("g", "", None, &protocols), 4)
        .await;
    assert_eq!(first.error_code, MEMBER_ID_REQUIRED);
    assert!(!first.member_id.is_empty());
    assert_eq!(first.generation_id, -1);
    let second = coordinator
        .join_group(join_request("g", &first.member_id, None, &protocols), 4)
        .await;
    assert_eq!(second.error_code, 0);
    assert_eq!(second.member_id, first.member_id);
    assert_eq!(second.generation_id, 1);

    // Before v4 a member id is handed out directly with the join.
    let old = coordinator
        .join_group(join_request("h", "", None, &protocols), 3)
        .await;
    assert_eq!(old.error_code, 0);
    assert!(old.member_id.starts_with("member-"));

    let unknown = coordinator
        .join_group(join_request("nope", "made-up", None, &protocols), 5)
        .await;
    assert_eq!(unknown.error_code, UNKNOWN_MEMBER_ID);
}

#[tokio::test(start_paused = true)]
async fn group_join_validates_group_id_and_session_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let protocols = range(&["orders"]);
    let empty_id = coordinator
        .join_group(join_request("", "", None, &protocols), 5)
        .await;
    assert_eq!(empty_id.error_code, 24);
    let short = join_request("g", "", None, &protocols).with_session_timeout_ms(1000);
    assert_eq!(coordinator.join_group(short, 5).await.error_code, 26);
    let long = join_request("g", "", None, &protocols).with_session_timeout_ms(i32::MAX);
    assert_eq!(coordinator.join_group(long, 5).await.error_code, 26);
    let no_protocols = join_request("g", "", None, &[]);
    assert_eq!(coordinator.join_group(no_protocols, 3).await.error_code, 23);
}

#[tokio::test(start_paused = true)]
async fn group_expired_member_is_dropped_from_the_next_generation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "g", 2).await;
    let (leader, follower) = (&joined[0], &joined[1]);
    sleep(Duration::from_secs(9)).await;
    assert_eq!(heartbeat(&coordinator, "g", &leader.member_id, 1).await, 0);
    sleep(Duration::from_secs(2)).await;
    assert_eq!(
        heartbeat(&coordinator, "g", &leader.member_id, 1).await,
        REBALANCE_IN_PROGRESS
    );
    let rejoin = join_request("g", &leader.member_id, None, &range(&["orders"]));
    let rejoined = coordinator.join_group(rejoin, 5).await;
    assert_eq!(rejoined.error_code, 0);
    assert_eq!(rejoined.generation_id, 2);
    assert_eq!(rejoined.leader, leader.member_id);
    let members: Vec<_> = rejoined
        .members
        .iter()
        .map(|m| m.member_id.clone())
        .collect();
    assert_eq!(members, vec![leader.member_id.clone()]);
    assert_eq!(
        heartbeat(&coordinator, "g", &follower.member_id, 1).await,
        UNKNOWN_MEMBER_ID
    );
}

#[tokio::test(start_paused = true)]
async fn group_member_that_does_not_rejoin_is_removed_at_rebalance_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "g", 2).await;
    let (leader, laggard) = (joined[0].clone(), joined[1].clone());
    let newcomer = spawn_join(&coordinator, "g", None, range(&["orders"]));
    settle_tasks().await;
    assert_eq!(
        heartbeat(&coordinator, "g", &leader.member_id, 1).await,
        REBALANCE_IN_PROGRESS
    );
    let rejoin = join_request("g", &leader.member_id, None, &range(&["orders"]));
    let leader_join = {
        let coordinator = Arc::clone(&coordinator);
        tokio::spawn(async move { coordinator.join_group(rejoin, 5).await })
    };
    // The laggard heartbeats (so its session lives) but never rejoins.
    // Heartbeats fall between whole seconds of the 30 s timeout, never on its deadline.
    let start = Instant::now();
    sleep(Duration::from_millis(1500)).await;
    while !leader_join.is_finished() {
        assert_eq!(
            heartbeat(&coordinator, "g", &laggard.member_id, 1).await,
            REBALANCE_IN_PROGRESS
        );
        sleep(Duration::from_secs(3)).await;
    }
    assert!(
        start.elapsed() >= Duration::from_secs(27),
        "completed before the rebalance timeout"
    );
    let leader_join = leader_join.await.expect("join");
    let newcomer = newcomer.await.expect("join");
    assert_eq!(leader_join.generation_id, 2);
    assert_eq!(newcomer.generation_id, 2);
    assert_eq!(leader_join.members.len(), 2);
    assert!(leader_join
        .members
        .iter()
        .all(|m| m.member_id != laggard.member_id));
    assert_eq!(
        heartbeat(&coordinator, "g", &laggard.member_id, 2).await,
        UNKNOWN_MEMBER_ID
    );
}

#[tokio::test(start_paused = true)]
async fn group_leave_triggers_a_rebalance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "g", 2).await;
    let (leader, follower) = (&joined[0], &joined[1]);
    let leave = LeaveGroupRequest::default()
        .with_group_id(gid("g"))
        .with_members(vec![
            MemberIdentity::default().with_member_id(follower.member_id.clone()),
            MemberIdentity::default().with_member_id(s("stranger")),
        ]);
    let response = coordinator.leave_group(leave, 3).await;
    assert_eq!(response.error_code, 0);
    let codes: Vec<_> = response.members.iter().map(|m| m.error_code).collect();
    assert_eq!(codes, vec![0, UNKNOWN_MEMBER_ID]);
    assert_eq!(
        heartbeat(&coordinator, "g", &leader.member_id, 1).await,
        REBALANCE_IN_PROGRESS
    );
    let rejoin = join_request("g", &leader.member_id, None, &range(&["orders"]));
    let rejoined = coordinator.join_group(rejoin, 5).await;
    assert_eq!(rejoined.generation_id, 2);
    assert_eq!(rejoined.members.len(), 1);

    let old_style = LeaveGroupRequest::default()
        .with_group_id(gid("g"))
        .with_member_id(follower.member_id.clone());
    assert_eq!(
        coordinator.leave_group(old_style, 1).await.error_code,
        UNKNOWN_MEMBER_ID
    );
}

#[tokio::test(start_paused = true)]
async fn group_last_member_leaving_empties_the_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "g", 1).await;
    let leave = LeaveGroupRequest::default()
        .with_group_id(gid("g"))
        .with_member_id(joined[0].member_id.clone());
    assert_eq!(coordinator.leave_group(leave, 2).await.error_code, 0);
    let group = coordinator.shared.slot("g").expect("group exists");
    let group = group.group.lock().await;
    assert_eq!(group.state, crate::group::state::GroupState::Empty);
    assert_eq!(group.generation, 2);
}

#[tokio::test(start_paused = true)]
async fn group_protocol_is_the_most_preferred_common_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let meta = |tag: &str| Bytes::copy_from_slice(tag.as_bytes());
    let members = vec![
        vec![("range", meta("a-range")), ("roundrobin", meta("a-rr"))],
        vec![("roundrobin", meta("b-rr")), ("range", meta("b-range"))],
        vec![
            ("roundrobin", meta("c-rr")),
            ("range", meta("c-range")),
            ("sticky", meta("c-st")),
        ],
    ];
    let handles: Vec<_> = members
        .into_iter()
        .map(|protocols| spawn_join(&coordinator, "g", None, protocols))
        .collect();
    settle_tasks().await;
    // While they wait, a member sharing no assignor (or of another type) is refused.
    let odd = join(&coordinator, "g", None, &[("sticky", meta("d"))]).await;
    assert_eq!(odd.error_code, 23);
    let connect = join_request("g", "", None, &range(&["orders"])).with_protocol_type(s("connect"));
    assert_eq!(coordinator.join_group(connect, 3).await.error_code, 23);

    let mut joined = Vec::new();
    for handle in handles {
        joined.push(handle.await.expect("join"));
    }
    assert!(joined
        .iter()
        .all(|r| r.protocol_name.as_deref() == Some("roundrobin")));
    let leader = joined
        .iter()
        .find(|r| r.leader == r.member_id)
        .expect("a leader");
    let mut metadata: Vec<_> = leader.members.iter().map(|m| m.metadata.clone()).collect();
    metadata.sort();
    assert_eq!(metadata, vec![meta("a-rr"), meta("b-rr"), meta("c-rr")]);
}

#[tokio::test(start_paused = true)]
async fn group_follower_rejoining_unchanged_gets_the_current_generation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "g", 2).await;
    let (leader, follower) = (&joined[0], &joined[1]);
    let rejoin = join_request("g", &follower.member_id, None, &range(&["orders"]));
    let response = coordinator.join_group(rejoin, 5).await;
    assert_eq!(response.error_code, 0);
    assert_eq!(response.generation_id, 1);
    assert_eq!(response.leader, leader.member_id);
    assert_eq!(heartbeat(&coordinator, "g", &leader.member_id, 1).await, 0);
}

#[tokio::test(start_paused = true)]
async fn group_requests_with_wrong_generation_or_member_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "g", 2).await;
    let member = &joined[1].member_id;
    assert_eq!(
        heartbeat(&coordinator, "g", member, 0).await,
        ILLEGAL_GENERATION
    );
    assert_eq!(
        heartbeat(&coordinator, "g", "ghost", 1).await,
        UNKNOWN_MEMBER_ID
    );
    assert_eq!(
        heartbeat(&coordinator, "nogroup", member, 1).await,
        UNKNOWN_MEMBER_ID
    );
    let sync = coordinator
        .sync_group(sync_request("g", member, 7, &[]), 5)
        .await;
    assert_eq!(sync.error_code, ILLEGAL_GENERATION);
    let sync = coordinator
        .sync_group(sync_request("g", "ghost", 1, &[]), 5)
        .await;
    assert_eq!(sync.error_code, UNKNOWN_MEMBER_ID);
    let wrong_protocol = sync_request("g", member, 1, &[]).with_protocol_name(Some(s("sticky")));
    assert_eq!(
        coordinator.sync_group(wrong_protocol, 5).await.error_code,
        23
    );
}

#[tokio::test(start_paused = true)]
async fn group_leader_that_never_syncs_sends_followers_back_to_join() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let a = spawn_join(&coordinator, "g", None, range(&["orders"]));
    let b = spawn_join(&coordinator, "g", None, range(&["orders"]));
    let (a, b) = (a.await.expect("join"), b.await.expect("join"));
    let follower = if a.leader == a.member_id { b } else { a };
    let request = sync_request("g", &follower.member_id, follower.generation_id, &[]);
    let parked = spawn_sync(&coordinator, request);
    let response = parked.await.expect("sync");
    assert_eq!(response.error_code, REBALANCE_IN_PROGRESS);
}

#[tokio::test(start_paused = true)]
async fn group_initial_delay_extends_while_members_keep_arriving() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let a = spawn_join(&coordinator, "g", None, range(&["orders"]));
    sleep(Duration::from_millis(80)).await;
    let b = spawn_join(&coordinator, "g", None, range(&["orders"]));
    // Past the first 100 ms: only the extension granted for b keeps the phase open.
    sleep(Duration::from_millis(80)).await;
    let c = spawn_join(&coordinator, "g", None, range(&["orders"]));
    let joined = [a.await, b.await, c.await].map(|r| r.expect("join"));
    assert!(joined
        .iter()
        .all(|r| r.error_code == 0 && r.generation_id == 1));
    let leader = joined
        .iter()
        .find(|r| r.leader == r.member_id)
        .expect("leader");
    assert_eq!(leader.members.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn group_unused_member_id_holds_the_rebalance_until_it_expires() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "g", 1).await;
    let leader = &joined[0];
    // A client gets a member id (v5) and never comes back with it.
    let request = join_request("g", "", None, &range(&["orders"]));
    let handed_out = coordinator.join_group(request, 5).await;
    assert_eq!(handed_out.error_code, MEMBER_ID_REQUIRED);
    // The leader rejoins (as it does when the topic metadata changed): a rebalance starts.
    let start = Instant::now();
    let rejoin = join_request("g", &leader.member_id, None, &range(&["orders"]));
    let rejoined = coordinator.join_group(rejoin, 5).await;
    assert_eq!(rejoined.error_code, 0);
    assert_eq!(rejoined.generation_id, 2);
    assert!(
        start.elapsed() >= Duration::from_secs(9),
        "the join phase did not wait for the pending member"
    );
    let late = join_request("g", &handed_out.member_id, None, &range(&["orders"]));
    assert_eq!(
        coordinator.join_group(late, 5).await.error_code,
        UNKNOWN_MEMBER_ID
    );
}

#[tokio::test(start_paused = true)]
async fn group_leader_that_heartbeats_but_never_syncs_is_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let a = spawn_join(&coordinator, "g", None, range(&["orders"]));
    let b = spawn_join(&coordinator, "g", None, range(&["orders"]));
    let (a, b) = (a.await.expect("join"), b.await.expect("join"));
    let (leader, follower) = if a.leader == a.member_id {
        (a, b)
    } else {
        (b, a)
    };
    let request = sync_request("g", &follower.member_id, 1, &[]);
    let parked = spawn_sync(&coordinator, request);
    // The leader stays alive by heartbeating, but never sends SyncGroup.
    let start = Instant::now();
    sleep(Duration::from_millis(1500)).await;
    while !parked.is_finished() {
        assert_eq!(heartbeat(&coordinator, "g", &leader.member_id, 1).await, 0);
        sleep(Duration::from_secs(3)).await;
    }
    assert!(
        start.elapsed() >= Duration::from_secs(29),
        "removed before the rebalance timeout"
    );
    let response = parked.await.expect("sync");
    assert_eq!(response.error_code, REBALANCE_IN_PROGRESS);
    assert_eq!(
        heartbeat(&coordinator, "g", &leader.member_id, 1).await,
        UNKNOWN_MEMBER_ID
    );
}
