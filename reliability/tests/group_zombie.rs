//! C2 (zombies): a group member that was evicted while its process lives
//! on, and then commits, is refused, as Kafka refuses it, and cannot move
//! the group's committed offsets behind those of the member that took its
//! partitions over.
//!
//! * A dynamic member whose heartbeats stop reaching the coordinator (the
//!   cluster closes the connection of every Heartbeat) is evicted when its
//!   session expires; a new member takes the partitions and commits; the
//!   old one, which never learnt of the eviction, commits older offsets:
//!   UNKNOWN_MEMBER_ID (its member id is gone) or ILLEGAL_GENERATION.
//! * A static member (`group.instance.id`) on the cooperative-sticky
//!   assignor is replaced by a new process with the same instance id; the
//!   old one commits: FENCED_INSTANCE_ID.
//!
//! In both cases the committed offsets read afterwards are the new
//! member's.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fault_tolerant_producer;
use common::group_member::short_sessions;
use durian_admin::Admin;
use durian_broker::testing::{Cluster, Fault, Times};
use durian_consumer::{
    Consumer, ConsumerError, CooperativeStickyAssignor, OffsetAndMetadata, OffsetReset,
    TopicPartition,
};
use durian_core::{ClientConfig, KafkaCode};
use durian_reliability::{produce, Workload};
use kafka_protocol::messages::ApiKey;

const TOPIC: &str = "c2";
const PARTITIONS: i32 = 2;
const RECORDS: u64 = 40;

/// A one-node cluster that accepts short sessions, with [`RECORDS`]
/// records in the topic.
async fn cluster_with_records() -> Cluster {
    let cluster = short_sessions(Cluster::builder().nodes(1))
        .start()
        .await
        .unwrap();
    cluster.create_topic(TOPIC, PARTITIONS).await.unwrap();
    let producer = fault_tolerant_producer(&cluster.bootstrap());
    let ledger = produce(
        &producer,
        &Workload::new(TOPIC, PARTITIONS, RECORDS),
        |_| {},
    )
    .await;
    producer.close(Duration::from_secs(10)).await.unwrap();
    assert_eq!(ledger.len(), RECORDS as usize);
    cluster
}

/// A group member; `instance` makes it static, `cooperative` picks the
/// cooperative-sticky assignor instead of the default.
fn member(
    bootstrap: &str,
    group: &str,
    name: &str,
    instance: Option<&str>,
    session: Duration,
    cooperative: bool,
) -> Consumer {
    let client = ClientConfig::builder()
        .bootstrap_servers(bootstrap.split(','))
        .client_id(name)
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(250))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(250))
        .build()
        .unwrap();
    let mut builder = Consumer::builder()
        .client_config(client)
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .session_timeout(session)
        .heartbeat_interval(Duration::from_millis(300))
        .fetch_max_wait(Duration::from_millis(100));
    if let Some(instance) = instance {
        builder = builder.group_instance_id(instance);
    }
    if cooperative {
        builder = builder.assignors(vec![Arc::new(CooperativeStickyAssignor)]);
    }
    let mut consumer = builder.build().unwrap();
    consumer.subscribe([TOPIC]).unwrap();
    consumer
}

fn all_partitions() -> BTreeSet<TopicPartition> {
    (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect()
}

/// Polls until the member owns every partition (bounded: fails the test).
async fn poll_until_it_owns_everything(consumer: &mut Consumer, who: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while consumer.assignment() != all_partitions() {
        assert!(
            Instant::now() < deadline,
            "{who} got no full assignment: {:?}",
            consumer.assignment()
        );
        consumer.poll(Duration::from_millis(200)).await.unwrap();
    }
}

/// The same offset for every partition.
fn offsets(offset: i64) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
    all_partitions()
        .into_iter()
        .map(|tp| (tp, OffsetAndMetadata::new(offset)))
        .collect()
}

/// The group's committed offsets, read by a consumer outside it.
async fn committed(bootstrap: &str, group: &str) -> BTreeMap<i32, Option<i64>> {
    let looker = Consumer::builder()
        .bootstrap_servers(bootstrap.split(','))
        .group_id(group)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    let answer = looker.committed(&all_partitions()).await.unwrap();
    looker.close().await.unwrap();
    answer
        .into_iter()
        .map(|(tp, c)| (tp.partition, c.map(|c| c.offset)))
        .collect()
}

/// Waits until the coordinator describes `group` in `state` with
/// `members` members.
async fn wait_for_group(bootstrap: &str, group: &str, state: &str, members: usize) {
    let admin = Admin::builder()
        .bootstrap_servers(bootstrap.split(','))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let described = admin.describe_groups([group]).await.remove(group);
        if let Some(Ok(g)) = &described {
            if g.state == state && g.members.len() == members {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "group {group} never got to {state} with {members} members: {described:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The error code of a refused commit.
fn refusal(result: Result<(), ConsumerError>) -> ConsumerError {
    match result {
        Ok(()) => panic!("the zombie's commit was accepted"),
        Err(error) => error,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c2_an_evicted_dynamic_member_cannot_commit() {
    let started = Instant::now();
    let cluster = cluster_with_records().await;
    let bootstrap = cluster.bootstrap();
    let group = "c2-dynamic";
    let mut zombie = member(
        &bootstrap,
        group,
        "zombie",
        None,
        Duration::from_secs(2),
        false,
    );
    poll_until_it_owns_everything(&mut zombie, "the first member").await;
    zombie.commit_offsets(offsets(5)).await.unwrap();

    // Its heartbeats no longer arrive: the coordinator evicts it when its
    // 2 s session expires, while it goes on believing it is a member.
    let no_heartbeats = cluster
        .faults()
        .any_node()
        .api(ApiKey::Heartbeat)
        .rule(Fault::CloseConnection, Times::Always);
    wait_for_group(&bootstrap, group, "Empty", 0).await;

    // Its successor (with a session that outlives the broken heartbeats)
    // takes every partition and commits further.
    let mut successor = member(
        &bootstrap,
        group,
        "successor",
        None,
        Duration::from_secs(20),
        false,
    );
    poll_until_it_owns_everything(&mut successor, "the successor").await;
    successor.commit_offsets(offsets(20)).await.unwrap();

    let error = refusal(zombie.commit_offsets(offsets(3)).await);
    eprintln!("C2 dynamic: the zombie's commit failed: {error}");
    assert!(
        matches!(
            error,
            ConsumerError::CommitFailed(
                KafkaCode::UNKNOWN_MEMBER_ID | KafkaCode::ILLEGAL_GENERATION
            )
        ),
        "{error:?}"
    );
    assert_eq!(
        committed(&bootstrap, group).await,
        BTreeMap::from([(0, Some(20)), (1, Some(20))]),
        "the successor's commit stands"
    );
    cluster.faults().remove(no_heartbeats);
    drop(zombie);
    successor.close().await.unwrap();
    eprintln!("C2 dynamic: {:.1?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c2_a_replaced_static_member_is_fenced() {
    let started = Instant::now();
    let cluster = cluster_with_records().await;
    let bootstrap = cluster.bootstrap();
    let group = "c2-static";
    // A long session: the old process is replaced, not timed out.
    let session = Duration::from_secs(20);
    let mut zombie = member(&bootstrap, group, "zombie", Some("static-1"), session, true);
    poll_until_it_owns_everything(&mut zombie, "the first incarnation").await;
    zombie.commit_offsets(offsets(5)).await.unwrap();

    // A new process with the same instance id takes the old one's place.
    let mut successor = member(
        &bootstrap,
        group,
        "successor",
        Some("static-1"),
        session,
        true,
    );
    poll_until_it_owns_everything(&mut successor, "the second incarnation").await;
    successor.commit_offsets(offsets(20)).await.unwrap();
    wait_for_group(&bootstrap, group, "Stable", 1).await;

    let error = refusal(zombie.commit_offsets(offsets(3)).await);
    eprintln!("C2 static: the zombie's commit failed: {error}");
    assert!(
        matches!(
            error,
            ConsumerError::CommitFailed(KafkaCode::FENCED_INSTANCE_ID)
        ),
        "{error:?}"
    );
    assert_eq!(
        committed(&bootstrap, group).await,
        BTreeMap::from([(0, Some(20)), (1, Some(20))]),
        "the successor's commit stands"
    );
    drop(zombie);
    successor.close().await.unwrap();
    eprintln!("C2 static: {:.1?}", started.elapsed());
}
