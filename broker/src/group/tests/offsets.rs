//! Offset commits and fetches: generation checks, simple commits, durability, deletion.

use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest, TopicName,
};

use super::*;

fn topic(name: &str) -> TopicName {
    TopicName(s(name))
}

fn commit_request(
    group: &str,
    member: &str,
    generation: i32,
    offsets: &[(&str, i32, i64)],
) -> OffsetCommitRequest {
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (name, partition, offset) in offsets {
        let entry = OffsetCommitRequestPartition::default()
            .with_partition_index(*partition)
            .with_committed_offset(*offset)
            .with_committed_leader_epoch(4)
            .with_committed_metadata(Some(s("note")));
        match topics.iter_mut().find(|t| t.name.0.as_str() == *name) {
            Some(t) => t.partitions.push(entry),
            None => topics.push(
                OffsetCommitRequestTopic::default()
                    .with_name(topic(name))
                    .with_partitions(vec![entry]),
            ),
        }
    }
    OffsetCommitRequest::default()
        .with_group_id(gid(group))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member))
        .with_topics(topics)
}

async fn commit_codes(coordinator: &GroupCoordinator, request: OffsetCommitRequest) -> Vec<i16> {
    let response = coordinator.offset_commit(request, 8).await;
    response
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
        .collect()
}

/// Fetches with OffsetFetch v7: (offset, leader epoch, metadata) per requested partition.
async fn fetch(
    coordinator: &GroupCoordinator,
    group: &str,
    wanted: &[(&str, i32)],
) -> Vec<(i64, i32, String)> {
    let mut topics: Vec<OffsetFetchRequestTopic> = Vec::new();
    for (name, partition) in wanted {
        match topics.iter_mut().find(|t| t.name.0.as_str() == *name) {
            Some(t) => t.partition_indexes.push(*partition),
            None => topics.push(
                OffsetFetchRequestTopic::default()
                    .with_name(topic(name))
                    .with_partition_indexes(vec![*partition]),
            ),
        }
    }
    let request = OffsetFetchRequest::default()
        .with_group_id(gid(group))
        .with_topics(Some(topics));
    let response = coordinator.offset_fetch(request, 7).await;
    assert_eq!(response.error_code, 0);
    response
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| {
                let metadata = p
                    .metadata
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default();
                (p.committed_offset, p.committed_leader_epoch, metadata)
            })
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn group_commit_checks_member_and_generation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "g", 2).await;
    let member = &joined[1].member_id;
    let ok = commit_request("g", member, 1, &[("orders", 0, 10), ("orders", 1, 20)]);
    assert_eq!(commit_codes(&coordinator, ok).await, vec![0, 0]);
    let stale = commit_request("g", member, 0, &[("orders", 0, 99)]);
    assert_eq!(
        commit_codes(&coordinator, stale).await,
        vec![ILLEGAL_GENERATION]
    );
    let stranger = commit_request("g", "ghost", 1, &[("orders", 0, 99)]);
    assert_eq!(
        commit_codes(&coordinator, stranger).await,
        vec![UNKNOWN_MEMBER_ID]
    );
    // A "simple" commit into a group that has members is refused too.
    let simple = commit_request("g", "", -1, &[("orders", 0, 99)]);
    assert_eq!(
        commit_codes(&coordinator, simple).await,
        vec![UNKNOWN_MEMBER_ID]
    );
    let unknown_group = commit_request("other", member, 3, &[("orders", 0, 99)]);
    assert_eq!(
        commit_codes(&coordinator, unknown_group).await,
        vec![ILLEGAL_GENERATION]
    );

    let fetched = fetch(
        &coordinator,
        "g",
        &[("orders", 0), ("orders", 1), ("orders", 2)],
    )
    .await;
    assert_eq!(
        fetched,
        vec![
            (10, 4, "note".to_owned()),
            (20, 4, "note".to_owned()),
            (-1, -1, String::new())
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn group_commit_while_completing_rebalance_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let first = spawn_join(&coordinator, "g", None, range(&["orders"]));
    let joined = first.await.expect("join");
    // Joined but not synced: the group is CompletingRebalance.
    let request = commit_request("g", &joined.member_id, 1, &[("orders", 0, 1)]);
    assert_eq!(
        commit_codes(&coordinator, request).await,
        vec![REBALANCE_IN_PROGRESS]
    );
}

#[tokio::test(start_paused = true)]
async fn group_simple_commits_and_multi_group_fetch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let simple = commit_request("standalone", "", -1, &[("orders", 3, 33)]);
    assert_eq!(commit_codes(&coordinator, simple).await, vec![0]);
    let too_long = OffsetCommitRequestPartition::default()
        .with_partition_index(4)
        .with_committed_offset(1)
        .with_committed_metadata(Some(s(&"x".repeat(5000))));
    let request = OffsetCommitRequest::default()
        .with_group_id(gid("standalone"))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic("orders"))
            .with_partitions(vec![too_long])]);
    assert_eq!(commit_codes(&coordinator, request).await, vec![12]);

    let request = OffsetFetchRequest::default().with_groups(vec![
        OffsetFetchRequestGroup::default()
            .with_group_id(gid("standalone"))
            .with_topics(None),
        OffsetFetchRequestGroup::default()
            .with_group_id(gid("nobody"))
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(topic("orders"))
                .with_partition_indexes(vec![0])])),
    ]);
    let response = coordinator.offset_fetch(request, 8).await;
    assert_eq!(response.groups.len(), 2);
    let all = &response.groups[0];
    assert_eq!(all.topics.len(), 1);
    assert_eq!(
        all.topics[0].partitions.len(),
        1,
        "the refused commit stored nothing"
    );
    assert_eq!(all.topics[0].partitions[0].partition_index, 3);
    assert_eq!(all.topics[0].partitions[0].committed_offset, 33);
    let none = &response.groups[1];
    assert_eq!(none.topics[0].partitions[0].committed_offset, -1);
}

#[tokio::test(start_paused = true)]
async fn group_offsets_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let coordinator = open(dir.path(), 100);
        let joined = stable_group(&coordinator, "g", 1).await;
        let request = commit_request(
            "g",
            &joined[0].member_id,
            1,
            &[("orders", 0, 7), ("payments", 2, 8)],
        );
        assert_eq!(commit_codes(&coordinator, request).await, vec![0, 0]);
        let simple = commit_request("tool", "", -1, &[("orders", 0, 5)]);
        assert_eq!(commit_codes(&coordinator, simple).await, vec![0]);
        coordinator.shutdown().await;
        // After shutdown the coordinator refuses work.
        assert_eq!(
            heartbeat(&coordinator, "g", &joined[0].member_id, 1).await,
            16
        );
    }
    let coordinator = open(dir.path(), 100);
    let fetched = fetch(&coordinator, "g", &[("orders", 0), ("payments", 2)]).await;
    assert_eq!(fetched.iter().map(|f| f.0).collect::<Vec<_>>(), vec![7, 8]);
    assert_eq!(fetch(&coordinator, "tool", &[("orders", 0)]).await[0].0, 5);
    // The group comes back empty with its protocol type; generations continue upward.
    let listed = coordinator
        .list_groups(kafka_protocol::messages::ListGroupsRequest::default(), 4)
        .await;
    let g = listed
        .groups
        .iter()
        .find(|l| l.group_id.0.as_str() == "g")
        .expect("listed");
    assert_eq!(
        (g.group_state.as_str(), g.protocol_type.as_str()),
        ("Empty", "consumer")
    );
    let rejoined = join(&coordinator, "g", None, &range(&["orders"])).await;
    assert_eq!(rejoined.generation_id, 2);
}

#[tokio::test(start_paused = true)]
async fn group_torn_offset_log_tail_is_truncated_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let coordinator = open(dir.path(), 100);
        let first = commit_request("tool", "", -1, &[("orders", 0, 1)]);
        assert_eq!(commit_codes(&coordinator, first).await, vec![0]);
        let second = commit_request("tool", "", -1, &[("orders", 0, 2)]);
        assert_eq!(commit_codes(&coordinator, second).await, vec![0]);
        coordinator.shutdown().await;
    }
    let log = dir.path().join("offsets.log");
    let bytes = std::fs::read(&log).expect("read log");
    std::fs::write(&log, &bytes[..bytes.len() - 3]).expect("tear the tail");
    let coordinator = open(dir.path(), 100);
    assert_eq!(fetch(&coordinator, "tool", &[("orders", 0)]).await[0].0, 1);
    let third = commit_request("tool", "", -1, &[("orders", 0, 3)]);
    assert_eq!(commit_codes(&coordinator, third).await, vec![0]);
    coordinator.shutdown().await;
    let coordinator = open(dir.path(), 100);
    assert_eq!(fetch(&coordinator, "tool", &[("orders", 0)]).await[0].0, 3);
}

fn delete_request(group: &str, offsets: &[(&str, i32)]) -> OffsetDeleteRequest {
    let topics = offsets
        .iter()
        .map(|(name, partition)| {
            OffsetDeleteRequestTopic::default()
                .with_name(topic(name))
                .with_partitions(vec![
                    OffsetDeleteRequestPartition::default().with_partition_index(*partition)
                ])
        })
        .collect();
    OffsetDeleteRequest::default()
        .with_group_id(gid(group))
        .with_topics(topics)
}

#[tokio::test(start_paused = true)]
async fn group_offset_delete_spares_subscribed_topics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "g", 1).await;
    let request = commit_request(
        "g",
        &joined[0].member_id,
        1,
        &[("orders", 0, 7), ("old", 0, 8)],
    );
    assert_eq!(commit_codes(&coordinator, request).await, vec![0, 0]);
    let response = coordinator
        .offset_delete(delete_request("g", &[("orders", 0), ("old", 0)]), 0)
        .await;
    assert_eq!(response.error_code, 0);
    let codes: Vec<_> = response
        .topics
        .iter()
        .map(|t| t.partitions[0].error_code)
        .collect();
    assert_eq!(codes, vec![86, 0]);
    let fetched = fetch(&coordinator, "g", &[("orders", 0), ("old", 0)]).await;
    assert_eq!(fetched.iter().map(|f| f.0).collect::<Vec<_>>(), vec![7, -1]);

    let missing = coordinator
        .offset_delete(delete_request("nobody", &[("orders", 0)]), 0)
        .await;
    assert_eq!(missing.error_code, 69);
    let simple = commit_request("tool", "", -1, &[("orders", 0, 5)]);
    assert_eq!(commit_codes(&coordinator, simple).await, vec![0]);
    let response = coordinator
        .offset_delete(delete_request("tool", &[("orders", 0)]), 0)
        .await;
    assert_eq!(response.topics[0].partitions[0].error_code, 0);
    assert_eq!(fetch(&coordinator, "tool", &[("orders", 0)]).await[0].0, -1);
}

#[tokio::test(start_paused = true)]
async fn group_retention_expires_offsets_of_empty_groups_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let coordinator = open(dir.path(), 100);
    let joined = stable_group(&coordinator, "active", 1).await;
    let request = commit_request("active", &joined[0].member_id, 1, &[("orders", 0, 7)]);
    assert_eq!(commit_codes(&coordinator, request).await, vec![0]);
    let simple = commit_request("idle", "", -1, &[("orders", 0, 5)]);
    assert_eq!(commit_codes(&coordinator, simple).await, vec![0]);
    let later = crate::clock::now_ms() + 8 * 24 * 3600 * 1000;
    super::super::retention::sweep(&coordinator.shared, later).await;
    assert_eq!(fetch(&coordinator, "idle", &[("orders", 0)]).await[0].0, -1);
    assert!(
        coordinator.shared.slot("idle").is_none(),
        "idle group forgotten"
    );
    assert_eq!(
        fetch(&coordinator, "active", &[("orders", 0)]).await[0].0,
        7
    );
}
