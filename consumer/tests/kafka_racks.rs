//! Racks against Apache Kafka 4.x: three nodes in racks r0, r1 and r2
//! with the rack-aware replica selector, one cluster for both phases (three
//! JVMs rather than six on a small test machine):
//!
//! 1. Rack-aware range (KIP-881): a group of three members, one per rack,
//!    on a topic whose six partitions have one replica each, partition `p`
//!    in rack `r(p % 3)`: each member gets the two partitions of its rack.
//! 2. Follower fetching (KIP-392): a topic with three replicas led by the
//!    node in r0. A consumer in rack r1 reads from the node in r1, not from
//!    the leader; once that node is killed it falls back to the leader and
//!    still reads every record once, in order.
//!
//! Skipped without the Kafka jars (see consumer/tests/kafka.rs), failed
//! instead under `DURIAN_REQUIRE_PEERS=1`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{admin, check_record, consumer, produce_by_name as produce};
use durian_consumer::{Consumer, RangeAssignor, TopicPartition};
use durian_core::{Client, KafkaError, Target};
use durian_testkit::kafka::KafkaOptions;
use durian_testkit::KafkaCluster;
use kafka_protocol::messages::create_topics_request::{CreatableReplicaAssignment, CreatableTopic};
use kafka_protocol::messages::{BrokerId, CreateTopicsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

const TOPIC: &str = "racked";
/// The topic of the group phase: partition p on node p % 3 + 1 alone.
const SPREAD: &str = "spread";
const RECORDS: usize = 4_000;
/// The leader, in rack r0.
const LEADER: i32 = 1;
/// The node in the consumer's rack, r1.
const LOCAL: i32 = 2;
/// The node in rack r2, which the consumer never needs.
const REMOTE: i32 = 3;

/// Creates `topic` with one partition per entry of `replicas` on those
/// nodes (the first leads) and waits until every replica is in sync.
async fn create_placed_topic(client: &Client, topic: &str, replicas: &[&[i32]]) {
    let assignments = replicas
        .iter()
        .enumerate()
        .map(|(p, nodes)| {
            CreatableReplicaAssignment::default()
                .with_partition_index(i32::try_from(p).unwrap())
                .with_broker_ids(nodes.iter().map(|n| BrokerId(*n)).collect())
        })
        .collect();
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_num_partitions(-1)
            .with_replication_factor(-1)
            .with_assignments(assignments)]);
    let response = client.send(Target::Controller, request).await.unwrap();
    KafkaError::check(response.topics[0].error_code, None).unwrap();
    client.add_topics([topic]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metadata = client.refresh_metadata("test: leaders").await.unwrap();
        let ready = replicas.iter().enumerate().all(|(p, nodes)| {
            metadata
                .partition(topic, i32::try_from(p).unwrap())
                .is_some_and(|m| m.leader == Some(nodes[0]) && m.isr.len() == nodes.len())
        });
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{topic} not placed: {metadata:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Phase 1: three range members, one per rack, each end up with the two
/// partitions of `SPREAD` that live in their rack.
async fn range_pairs_members_with_their_racks(bootstrap: &str, admin: &Client) {
    create_placed_topic(admin, SPREAD, &[&[1], &[2], &[3], &[1], &[2], &[3]]).await;
    let mut members: Vec<Consumer> = (0..3)
        .map(|rack| {
            let mut member = consumer(bootstrap, Some("racked-range"))
                .client_rack(format!("r{rack}"))
                .assignors(vec![Arc::new(RangeAssignor)])
                .build()
                .unwrap();
            member.subscribe([SPREAD]).unwrap();
            member
        })
        .collect();
    let expected: Vec<BTreeSet<TopicPartition>> = (0..3)
        .map(|rack| {
            [rack, rack + 3]
                .into_iter()
                .map(|p| TopicPartition::new(SPREAD, p))
                .collect()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        for member in &mut members {
            let batch = member.poll(Duration::from_millis(100)).await.unwrap();
            assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        }
        let got: Vec<BTreeSet<TopicPartition>> = members.iter().map(Consumer::assignment).collect();
        if got == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "assignments {got:?}, wanted {expected:?}"
        );
    }
    for member in members {
        member.close().await.unwrap();
    }
}

/// Polls until `next` reaches `to`, checking every record.
async fn read_until(consumer: &mut Consumer, next: &mut i64, to: i64) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while *next < to {
        assert!(Instant::now() < deadline, "stalled at offset {next}");
        let batch = consumer.poll(Duration::from_millis(500)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        for record in batch {
            check_record(&record);
            assert_eq!(record.offset, *next, "lost or repeated");
            *next += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racked_members_get_local_partitions_and_read_from_their_rack() {
    let options = KafkaOptions {
        extra: vec![(
            "replica.selector.class".to_owned(),
            "org.apache.kafka.common.replica.RackAwareReplicaSelector".to_owned(),
        )],
        ..KafkaOptions::default()
    };
    let racks: Vec<Vec<(String, String)>> = (0..3)
        .map(|rack| vec![("broker.rack".to_owned(), format!("r{rack}"))])
        .collect();
    let Some(mut kafka) = KafkaCluster::start_per_node(options, &racks).await else {
        return;
    };
    let admin = admin(&kafka.bootstrap()).await;
    range_pairs_members_with_their_racks(&kafka.bootstrap(), &admin).await;

    create_placed_topic(&admin, TOPIC, &[&[LEADER, LOCAL, REMOTE]]).await;
    // acks=all: every record is on all three replicas before reading.
    produce(&admin, TOPIC, 0, 0, RECORDS, 50).await;

    // Small fetches, so reading takes many of them and some are left
    // after the kill.
    let mut consumer = consumer(&kafka.bootstrap(), None)
        .client_rack("r1")
        .max_partition_fetch_bytes(4_096)
        .max_poll_records(100)
        .build()
        .unwrap();
    let tp = TopicPartition::new(TOPIC, 0);
    consumer.assign([tp.clone()]).unwrap();
    let mut next = 0;
    let half = i64::try_from(RECORDS / 2).unwrap();
    read_until(&mut consumer, &mut next, half).await;
    let fetches = consumer.fetches_per_broker();
    let count = |node: i32| fetches.get(&node).copied().unwrap_or(0);
    assert!(
        count(LOCAL) >= 10,
        "reads went to the rack-local node: {fetches:?}"
    );
    assert!(
        count(LEADER) <= 3,
        "the leader only named the replica: {fetches:?}"
    );
    assert_eq!(count(REMOTE), 0, "{fetches:?}");

    // The rack-local node dies: the consumer falls back to the leader.
    kafka.kill(LOCAL);
    let leader_before = count(LEADER);
    read_until(&mut consumer, &mut next, i64::try_from(RECORDS).unwrap()).await;
    let after = consumer.fetches_per_broker();
    assert!(
        after.get(&LEADER).copied().unwrap_or(0) > leader_before,
        "the rest came from the leader: {after:?}"
    );
    let extra = consumer.poll(Duration::from_millis(300)).await.unwrap();
    assert!(extra.is_empty(), "records after the end: {}", extra.len());
    consumer.close().await.unwrap();
}
