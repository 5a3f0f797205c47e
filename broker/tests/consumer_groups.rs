//! The consumer group protocol (KIP-848) over TCP: raw ConsumerGroupHeartbeat requests from
//! two members, revocation before assignment, commits with member epochs, leaving, session
//! expiry, the group's type in ListGroups/DescribeGroups, and the protocol switch.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{start_broker_in, TestClient};
use durian_broker::{Broker, BrokerHandle};
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ConsumerGroupDescribeRequest, ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse, CreateTopicsRequest, DescribeGroupsRequest, GroupId,
    JoinGroupRequest, ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

const NONE: i16 = 0;
const UNKNOWN_MEMBER_ID: i16 = 25;
const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
const UNSUPPORTED_VERSION: i16 = 35;
const STALE_MEMBER_EPOCH: i16 = 113;

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

async fn start(properties: &[(&str, &str)]) -> BrokerHandle {
    Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .properties(properties.iter().copied())
        .unwrap()
        .start()
        .await
        .expect("broker starts")
}

async fn create_topic(client: &mut TestClient, topic: &str, partitions: i32) {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(1000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(text(topic)))
            .with_num_partitions(partitions)
            .with_replication_factor(1)]);
    let response = client.call(&request, 7).await;
    assert_eq!(response.topics[0].error_code, NONE);
}

/// Partitions per topic id, as a member owns them.
type Owned = Vec<(Uuid, Vec<i32>)>;

fn join(member: &str, topic: &str) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(text("g")))
        .with_member_id(text(member))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![TopicName(text(topic))]))
        .with_topic_partitions(Some(Vec::new()))
}

fn beat(member: &str, epoch: i32, owned: Option<&Owned>) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(text("g")))
        .with_member_id(text(member))
        .with_member_epoch(epoch)
        .with_rebalance_timeout_ms(-1)
        .with_topic_partitions(owned.map(|owned| {
            owned
                .iter()
                .map(|(id, partitions)| {
                    TopicPartitions::default()
                        .with_topic_id(*id)
                        .with_partitions(partitions.clone())
                })
                .collect()
        }))
}

fn assigned(response: &ConsumerGroupHeartbeatResponse) -> Option<Owned> {
    response.assignment.as_ref().map(|a| {
        a.topic_partitions
            .iter()
            .map(|t| (t.topic_id, t.partitions.clone()))
            .collect()
    })
}

fn count(owned: &Owned) -> usize {
    owned.iter().map(|(_, p)| p.len()).sum()
}

fn commit(member: &str, epoch: i32, topic: &str) -> OffsetCommitRequest {
    OffsetCommitRequest::default()
        .with_group_id(GroupId(text("g")))
        .with_member_id(text(member))
        .with_generation_id_or_member_epoch(epoch)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(text(topic)))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(5)])])
}

#[tokio::test]
async fn two_members_share_partitions_only_after_revocation() {
    let broker = start(&[]).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client, "events", 4).await;

    let a = client.call(&join("member-a", "events"), 1).await;
    assert_eq!(a.error_code, NONE, "{:?}", a.error_message);
    assert_eq!(a.member_epoch, 1);
    assert_eq!(a.heartbeat_interval_ms, 5000);
    let a_owned = assigned(&a).unwrap();
    assert_eq!(count(&a_owned), 4);

    // b joins: epoch 2, but nothing is free yet.
    let b = client.call(&join("member-b", "events"), 1).await;
    assert_eq!(b.member_epoch, 2);
    assert_eq!(assigned(&b).map(|o| count(&o)), Some(0));

    // a is told to give up two partitions, and keeps its epoch until it does.
    let a = client.call(&beat("member-a", 1, Some(&a_owned)), 1).await;
    assert_eq!(a.member_epoch, 1);
    let a_kept = assigned(&a).unwrap();
    assert_eq!(count(&a_kept), 2);
    let b = client
        .call(&beat("member-b", 2, Some(&Vec::new())), 1)
        .await;
    assert_eq!(assigned(&b), None, "nothing moves before a revokes");

    // A commit with a stale epoch is refused; with the current one it is stored.
    let stale = client.call(&commit("member-a", 0, "events"), 9).await;
    assert_eq!(stale.topics[0].partitions[0].error_code, STALE_MEMBER_EPOCH);
    let fresh = client.call(&commit("member-a", 1, "events"), 9).await;
    assert_eq!(fresh.topics[0].partitions[0].error_code, NONE);
    let old_version = client.call(&commit("member-a", 1, "events"), 8).await;
    assert_eq!(
        old_version.topics[0].partitions[0].error_code,
        UNSUPPORTED_VERSION
    );
    let fetch = |epoch: i32| {
        OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(text("g")))
            .with_member_id(Some(text("member-a")))
            .with_member_epoch(epoch)
            .with_topics(None)])
    };
    let stale = client.call(&fetch(0), 9).await;
    assert_eq!(stale.groups[0].error_code, STALE_MEMBER_EPOCH);
    let fetched = client.call(&fetch(1), 9).await;
    assert_eq!(fetched.groups[0].error_code, NONE);
    assert_eq!(
        fetched.groups[0].topics[0].partitions[0].committed_offset,
        5
    );

    // a acknowledges; then b receives the other two.
    let a = client.call(&beat("member-a", 1, Some(&a_kept)), 1).await;
    assert_eq!(a.member_epoch, 2);
    let b = client
        .call(&beat("member-b", 2, Some(&Vec::new())), 1)
        .await;
    let b_owned = assigned(&b).unwrap();
    assert_eq!(count(&b_owned), 2);
    let a_set: BTreeSet<i32> = a_kept[0].1.iter().copied().collect();
    assert!(b_owned[0].1.iter().all(|p| !a_set.contains(p)));

    // The group is a consumer group to every API that looks at it.
    let described = client
        .call(
            &ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(text("g"))]),
            1,
        )
        .await;
    let group = &described.groups[0];
    assert_eq!(group.error_code, NONE);
    assert_eq!(group.group_state.as_str(), "Stable");
    assert_eq!(group.assignor_name.as_str(), "uniform");
    assert_eq!(group.members.len(), 2);
    let listed = client
        .call(
            &ListGroupsRequest::default().with_types_filter(vec![text("consumer")]),
            5,
        )
        .await;
    assert_eq!(listed.groups.len(), 1);
    assert_eq!(listed.groups[0].group_type.as_str(), "consumer");
    let classic = client
        .call(
            &ListGroupsRequest::default().with_types_filter(vec![text("classic")]),
            5,
        )
        .await;
    assert!(classic.groups.is_empty());
    let old_style = client
        .call(
            &DescribeGroupsRequest::default().with_groups(vec![GroupId(text("g"))]),
            5,
        )
        .await;
    assert_eq!(old_style.groups[0].protocol_type.as_str(), "consumer");
    assert_eq!(old_style.groups[0].members.len(), 2);
    let join_classic = JoinGroupRequest::default()
        .with_group_id(GroupId(text("g")))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(text("consumer"))
        .with_protocols(vec![
            JoinGroupRequestProtocol::default().with_name(text("range"))
        ]);
    let refused = client.call(&join_classic, 5).await;
    assert_eq!(refused.error_code, INCONSISTENT_GROUP_PROTOCOL);

    // a leaves; b takes everything on its next heartbeat.
    let left = client.call(&beat("member-a", -1, None), 1).await;
    assert_eq!((left.error_code, left.member_epoch), (NONE, -1));
    let b = client.call(&beat("member-b", 2, Some(&b_owned)), 1).await;
    assert_eq!(b.member_epoch, 3);
    assert_eq!(assigned(&b).map(|o| count(&o)), Some(4));
    let gone = client.call(&beat("member-a", 2, None), 1).await;
    assert_eq!(gone.error_code, UNKNOWN_MEMBER_ID);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_silent_member_expires_and_its_partitions_move() {
    let broker = start(&[("group.consumer.session.timeout.ms", "300")]).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client, "events", 2).await;
    let a = client.call(&join("member-a", "events"), 1).await;
    assert_eq!(count(&assigned(&a).unwrap()), 2);
    let b = client.call(&join("member-b", "events"), 1).await;
    let mut epoch = b.member_epoch;
    let mut owned: Owned = Vec::new();
    // a never heartbeats again: once its session expires, b gets both partitions. b keeps
    // heartbeating (well inside its own 300 ms session) until then, bounded by 10 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let b = client.call(&beat("member-b", epoch, Some(&owned)), 1).await;
        assert_eq!(b.error_code, NONE, "{:?}", b.error_message);
        epoch = b.member_epoch;
        if let Some(now_owned) = assigned(&b) {
            owned = now_owned;
        }
        if count(&owned) == 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "member-a's partitions never moved"
        );
        // Pace the heartbeats; the loop ends on the assignment, not on this pause.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let gone = client.call(&beat("member-a", 1, None), 1).await;
    assert_eq!(gone.error_code, UNKNOWN_MEMBER_ID);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_consumer_protocol_can_be_switched_off() {
    let on = start(&[]).await;
    let mut client = TestClient::connect(on.local_addr()).await;
    let versions = client.call(&ApiVersionsRequest::default(), 3).await;
    let keys: Vec<i16> = versions.api_keys.iter().map(|k| k.api_key).collect();
    assert!(keys.contains(&(ApiKey::ConsumerGroupHeartbeat as i16)));
    assert!(keys.contains(&(ApiKey::ConsumerGroupDescribe as i16)));
    on.shutdown().await.unwrap();

    let off = start(&[("group.coordinator.rebalance.protocols", "classic")]).await;
    let mut client = TestClient::connect(off.local_addr()).await;
    let versions = client.call(&ApiVersionsRequest::default(), 3).await;
    let keys: Vec<i16> = versions.api_keys.iter().map(|k| k.api_key).collect();
    assert!(!keys.contains(&(ApiKey::ConsumerGroupHeartbeat as i16)));
    assert!(!keys.contains(&(ApiKey::ConsumerGroupDescribe as i16)));
    let refused = client.call(&join("member-a", "events"), 1).await;
    assert_eq!(refused.error_code, UNSUPPORTED_VERSION);
    off.shutdown().await.unwrap();
}

#[tokio::test]
async fn after_a_restart_members_rejoin_and_epochs_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker_in(dir.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client, "events", 2).await;
    client.call(&join("member-a", "events"), 1).await;
    let b = client.call(&join("member-b", "events"), 1).await;
    assert_eq!(b.member_epoch, 2);
    let committed = client.call(&commit("member-b", 2, "events"), 9).await;
    assert_eq!(committed.topics[0].partitions[0].error_code, NONE);
    broker.shutdown().await.unwrap();

    // Membership is not persisted: the old member is unknown and rejoins; the group
    // epoch goes on from the one stored with the commit.
    let broker = start_broker_in(dir.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let stale = client.call(&beat("member-b", 2, None), 1).await;
    assert_eq!(stale.error_code, UNKNOWN_MEMBER_ID);
    let rejoined = client.call(&join("member-b", "events"), 1).await;
    assert_eq!(rejoined.error_code, NONE, "{:?}", rejoined.error_message);
    assert_eq!(rejoined.member_epoch, 3);
    assert_eq!(assigned(&rejoined).map(|o| count(&o)), Some(2));
    broker.shutdown().await.unwrap();
}
