//! A member evicted while alive (its heartbeats stop reaching the
//! coordinator) learns of it from a later heartbeat, reports its
//! partitions lost and rejoins on its own, under a new generation, before
//! the application's next `poll` has applied the loss. Commits of
//! positions made in that window must leave the lost partitions out: the
//! coordinator accepts any partition under the current generation, so
//! they would move a new owner's committed offset backwards. After the
//! `poll`, the lost partitions' positions are gone and read again from
//! the committed offsets.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{admin, consumer, produce_all};
use durian_broker::testing::{Cluster, Fault, Times};
use durian_broker::GroupConfig;
use durian_consumer::{Consumer, TopicPartition};
use durian_core::{Client, CoordinatorKind, Target};
use durian_testkit::wait::eventually;
use kafka_protocol::messages::{ApiKey, DescribeGroupsRequest, GroupId};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

const TOPIC: &str = "evicted";
const GROUP: &str = "evicted-group";
const PARTITIONS: i32 = 2;
const PER_PARTITION: usize = 10;
/// Bound on every wait for the group to move on.
const WITHIN: Duration = Duration::from_secs(30);

fn all_partitions() -> BTreeSet<TopicPartition> {
    (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect()
}

/// The group's state and member count, as its coordinator describes it.
async fn group_state(client: &Client) -> (String, usize) {
    let request = DescribeGroupsRequest::default()
        .with_groups(vec![GroupId(StrBytes::from_static_str(GROUP))]);
    let target = Target::Coordinator {
        kind: CoordinatorKind::Group,
        key: GROUP.to_owned(),
    };
    let response = client.send(target, request).await.unwrap();
    let group = &response.groups[0];
    (group.group_state.to_string(), group.members.len())
}

/// The committed offsets of every partition, `None` where none is.
async fn committed(consumer: &Consumer) -> BTreeMap<i32, Option<i64>> {
    consumer
        .committed(&all_partitions())
        .await
        .unwrap()
        .into_iter()
        .map(|(tp, c)| (tp.partition, c.map(|c| c.offset)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_between_a_rejoin_and_the_next_poll_leave_lost_partitions_out() {
    let cluster = Cluster::builder()
        .nodes(1)
        .group_config(GroupConfig {
            min_session_timeout: Duration::from_secs(1),
            ..GroupConfig::default()
        })
        .start()
        .await
        .unwrap();
    let bootstrap = cluster.bootstrap();
    cluster.create_topic(TOPIC, PARTITIONS).await.unwrap();
    let setup = admin(&bootstrap).await;
    setup.add_topics([TOPIC]);
    setup.refresh_metadata("test setup").await.unwrap();
    produce_all(&setup, TOPIC, PARTITIONS, PER_PARTITION).await;

    let mut member = consumer(&bootstrap, Some(GROUP))
        .enable_auto_commit(false)
        .session_timeout(Duration::from_secs(2))
        .heartbeat_interval(Duration::from_millis(300))
        .max_poll_records(3)
        .build()
        .unwrap();
    member.subscribe([TOPIC]).unwrap();
    let deadline = Instant::now() + WITHIN;
    let mut read = 0;
    while member.assignment() != all_partitions() || read == 0 {
        assert!(Instant::now() < deadline, "no assignment or no records");
        read += member.poll(Duration::from_millis(200)).await.unwrap().len();
    }
    let first_generation = member.group_metadata().unwrap().generation_id;

    // Evicted while alive: its heartbeats stop arriving until the session
    // has expired and the group is empty.
    let no_heartbeats = cluster
        .faults()
        .any_node()
        .api(ApiKey::Heartbeat)
        .rule(Fault::CloseConnection, Times::Always);
    eventually(WITHIN, "the member's eviction", async || {
        (group_state(&setup).await == ("Empty".to_owned(), 0)).then_some(())
    })
    .await;
    cluster.faults().remove(no_heartbeats);

    // The next heartbeat answers UNKNOWN_MEMBER_ID; the membership task
    // rejoins without waiting for the application.
    eventually(WITHIN, "the member's rejoin", async || {
        (member.group_metadata().unwrap().generation_id > first_generation).then_some(())
    })
    .await;
    member.commit().await.unwrap();
    tokio::time::timeout(WITHIN, member.commit_async().unwrap())
        .await
        .expect("the background commit finishes")
        .unwrap()
        .unwrap();
    assert_eq!(
        committed(&member).await,
        BTreeMap::from([(0, None), (1, None)]),
        "positions of partitions lost to the eviction were committed"
    );

    // The poll applies the loss and the new assignment: the positions
    // read before the eviction are gone, reading starts again from the
    // committed offsets (none: the earliest).
    let deadline = Instant::now() + WITHIN;
    let mut first_offsets = BTreeMap::new();
    while first_offsets.len() < PARTITIONS as usize {
        assert!(
            Instant::now() < deadline,
            "read again only {first_offsets:?}"
        );
        for record in member.poll(Duration::from_millis(200)).await.unwrap() {
            first_offsets
                .entry(record.partition)
                .or_insert(record.offset);
        }
    }
    assert_eq!(first_offsets, BTreeMap::from([(0, 0), (1, 0)]));
    member.close().await.unwrap();
}
