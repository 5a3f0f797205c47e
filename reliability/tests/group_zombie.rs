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
//! * A dynamic zombie that learns of its eviction rejoins under a new
//!   generation before its application polls again; its commits of
//!   positions (auto-commit, `commit()`, `commit_async()`) leave the lost
//!   partitions out. Explicit offsets (`commit_offsets`) of a partition it
//!   does not own are accepted, as Kafka's Java consumer sends them.
//!
//! In every case but the last the committed offsets read afterwards are
//! the new owner's.

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
    Consumer, ConsumerBuilder, ConsumerError, CooperativeStickyAssignor, OffsetAndMetadata,
    OffsetReset, TopicPartition,
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
    let mut builder = member_builder(bootstrap, group, name, session);
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

/// The settings every member shares: no auto-commit, reads from the
/// earliest offset, heartbeats every 300 ms.
fn member_builder(bootstrap: &str, group: &str, name: &str, session: Duration) -> ConsumerBuilder {
    let client = ClientConfig::builder()
        .bootstrap_servers(bootstrap.split(','))
        .client_id(name)
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(250))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(250))
        .build()
        .unwrap();
    Consumer::builder()
        .client_config(client)
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .session_timeout(session)
        .heartbeat_interval(Duration::from_millis(300))
        .fetch_max_wait(Duration::from_millis(100))
}

fn all_partitions() -> BTreeSet<TopicPartition> {
    (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect()
}

/// Polls until the member owns every partition (bounded: fails the
/// test); how many records those polls returned.
async fn poll_until_it_owns_everything(consumer: &mut Consumer, who: &str) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut read = 0;
    while consumer.assignment() != all_partitions() {
        assert!(
            Instant::now() < deadline,
            "{who} got no full assignment: {:?}",
            consumer.assignment()
        );
        read += consumer
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .len();
    }
    read
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

/// How the rejoined zombie commits its positions.
#[derive(Clone, Copy, Debug)]
enum Commit {
    /// `enable.auto.commit`, due at the first `poll` after the rejoin.
    Auto,
    /// `commit()` of the current positions.
    Sync,
    /// `commit_async()` of the current positions.
    Async,
}

/// Long enough that no auto-commit is due before the zombie's eviction:
/// its positions stay uncommitted until after it rejoined.
const AUTO_COMMIT_INTERVAL: Duration = Duration::from_secs(20);

/// A zombie that learns of its eviction and rejoins: it reads a few
/// records and stops polling; its heartbeats stop arriving and it is
/// evicted; a successor reads everything and commits; then its heartbeats
/// arrive again, it is told it is unknown and rejoins under a new
/// generation while the application has not polled yet. The commit it
/// then makes (`how`) must not move any partition's committed offset
/// behind the successor's, since it owns at most one of them now and
/// reads it from the successor's offset.
async fn zombie_rejoins_and_commits(how: Commit) {
    let started = Instant::now();
    let cluster = cluster_with_records().await;
    let bootstrap = cluster.bootstrap();
    let group = format!("c2-rejoin-{how:?}").to_lowercase();
    let mut builder = member_builder(&bootstrap, &group, "zombie", Duration::from_secs(2))
        .max_poll_records(5)
        .auto_commit_interval(AUTO_COMMIT_INTERVAL);
    if matches!(how, Commit::Auto) {
        builder = builder.enable_auto_commit(true);
    }
    let mut zombie = builder.build().unwrap();
    let auto_commit_due = Instant::now() + AUTO_COMMIT_INTERVAL;
    zombie.subscribe([TOPIC]).unwrap();
    let mut read = poll_until_it_owns_everything(&mut zombie, "the zombie").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while read == 0 {
        assert!(Instant::now() < deadline, "the zombie read nothing");
        read += zombie.poll(Duration::from_millis(200)).await.unwrap().len();
    }
    let first_generation = zombie.group_metadata().unwrap().generation_id;

    let no_heartbeats = cluster
        .faults()
        .any_node()
        .api(ApiKey::Heartbeat)
        .rule(Fault::CloseConnection, Times::Always);
    wait_for_group(&bootstrap, &group, "Empty", 0).await;
    assert_eq!(
        committed(&bootstrap, &group).await,
        BTreeMap::from([(0, None), (1, None)]),
        "the zombie's positions (at most 5 records read) are not committed yet"
    );

    let mut successor = member(
        &bootstrap,
        &group,
        "successor",
        None,
        Duration::from_secs(20),
        false,
    );
    let mut read = poll_until_it_owns_everything(&mut successor, "the successor").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while read < RECORDS as usize {
        assert!(
            Instant::now() < deadline,
            "the successor read {read} records"
        );
        read += successor
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .len();
    }
    successor.commit().await.unwrap();
    let owners_offsets = BTreeMap::from([(0, Some(20)), (1, Some(20))]);
    assert_eq!(committed(&bootstrap, &group).await, owners_offsets);

    // Heartbeats arrive again: the zombie hears UNKNOWN_MEMBER_ID and
    // rejoins on its own; the successor polls so the rebalance completes.
    cluster.faults().remove(no_heartbeats);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        successor.poll(Duration::from_millis(200)).await.unwrap();
        let zombie_generation = zombie.group_metadata().unwrap().generation_id;
        let successor_generation = successor.group_metadata().unwrap().generation_id;
        if zombie_generation > first_generation && zombie_generation == successor_generation {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the zombie never rejoined: generation {zombie_generation}, the successor's {successor_generation}"
        );
    }

    // The zombie's application wakes up and commits, before and after the
    // poll that applies the loss and the new assignment.
    match how {
        Commit::Auto => {
            tokio::time::sleep_until(auto_commit_due.into()).await;
            zombie.poll(Duration::from_millis(200)).await.unwrap();
        }
        Commit::Sync => zombie.commit().await.unwrap(),
        Commit::Async => {
            tokio::time::timeout(Duration::from_secs(10), zombie.commit_async().unwrap())
                .await
                .expect("the background commit finishes")
                .unwrap()
                .unwrap()
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while zombie.assignment().len() != 1 {
        assert!(
            Instant::now() < deadline,
            "the zombie got {:?}",
            zombie.assignment()
        );
        zombie.poll(Duration::from_millis(200)).await.unwrap();
        successor.poll(Duration::from_millis(200)).await.unwrap();
    }
    let theirs: Vec<TopicPartition> = all_partitions()
        .difference(&zombie.assignment())
        .cloned()
        .collect();
    let assert_owners_offsets = |found: BTreeMap<i32, Option<i64>>| {
        assert_eq!(
            found, owners_offsets,
            "{how:?}: no commit of the rejoined zombie moved an offset behind the owner's"
        );
    };
    if matches!(how, Commit::Auto) {
        // Waits for the background commit and commits what it owns now.
        zombie.close().await.unwrap();
        assert_owners_offsets(committed(&bootstrap, &group).await);
    } else {
        zombie.commit().await.unwrap();
        assert_owners_offsets(committed(&bootstrap, &group).await);
        if matches!(how, Commit::Sync) {
            // Explicit offsets are sent as given, for any partition, as
            // Kafka's Java consumer sends them: the coordinator does not
            // check who owns a partition, so this moves the other
            // member's offset.
            let other = theirs[0].clone();
            zombie
                .commit_offsets(BTreeMap::from([(other.clone(), OffsetAndMetadata::new(3))]))
                .await
                .unwrap();
            let after = committed(&bootstrap, &group).await;
            assert_eq!(after[&other.partition], Some(3), "{after:?}");
        }
        zombie.close().await.unwrap();
    }
    successor.close().await.unwrap();
    eprintln!("C2 rejoin, {how:?} commit: {:.1?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c2_a_rejoined_zombie_auto_commits_only_what_it_owns() {
    zombie_rejoins_and_commits(Commit::Auto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c2_a_rejoined_zombie_commits_only_what_it_owns() {
    zombie_rejoins_and_commits(Commit::Sync).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c2_a_rejoined_zombie_commits_async_only_what_it_owns() {
    zombie_rejoins_and_commits(Commit::Async).await;
}
