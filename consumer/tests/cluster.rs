//! The consumer on a three-node in-process cluster whose leaders and
//! coordinators move (issue 7's C1, C3 and C4):
//!
//! * C3: partition leaders move while a consumer reads; its cursors follow
//!   them, and every record is read exactly once.
//! * C4: the group coordinator moves; heartbeats and commits go on at the
//!   new one, the member keeps its partitions and its offsets.
//! * C1: a broker that is not the coordinator is stopped and started
//!   again; the group does not rebalance and nothing is lost or repeated.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::members::{
    partitions_of, wait_for, wait_for_commits_at_end, Ending, Member, SharedLog,
};
use common::{produce_request, value_of};
use durian_broker::testing::Cluster;
use durian_consumer::{ConsumerBuilder, OffsetReset, TopicPartition};
use durian_core::record::{BatchWriter, NO_HEADERS};
use durian_core::{Client, ClientConfig, KafkaError, Target};
use durian_testkit::wait::eventually;
use kafka_protocol::messages::ApiKey;
use tokio::time::Instant;

const PARTITIONS: i32 = 3;
/// The group members' session timeout (the broker's smallest accepted).
const SESSION_TIMEOUT: Duration = Duration::from_secs(6);

async fn start_cluster() -> Cluster {
    Cluster::builder().nodes(3).seed(7).start().await.unwrap()
}

fn servers(cluster: &Cluster) -> Vec<String> {
    cluster.bootstrap().split(',').map(str::to_owned).collect()
}

async fn setup_client(cluster: &Cluster, topic: &str) -> Client {
    let config = ClientConfig::builder()
        .bootstrap_servers(servers(cluster))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    let client = Client::connect(config).await.unwrap();
    client.add_topics([topic]);
    client.refresh_metadata("test setup").await.unwrap();
    client
}

/// Appends records `first..first + count` of `partition` at its current
/// leader (as the cluster says), retrying while leadership settles.
async fn produce(
    client: &Client,
    cluster: &Cluster,
    topic: &str,
    partition: i32,
    first: usize,
    count: usize,
) {
    let mut writer = BatchWriter::builder().size_limit(usize::MAX).build();
    for index in first..first + count {
        let value = value_of(partition, index);
        writer
            .try_append(1_700_000_000_000, None, Some(value.as_bytes()), NO_HEADERS)
            .unwrap();
    }
    let request = produce_request(topic, partition, writer.finish().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let leader = cluster.leader(topic, partition).unwrap();
        let attempt = client.send(Target::Broker(leader), request.clone()).await;
        let outcome = attempt.map_err(|e| e.to_string()).and_then(|response| {
            let code = response.responses[0].partition_responses[0].error_code;
            KafkaError::check(code, None).map_err(|e| e.to_string())
        });
        match outcome {
            Ok(()) => return,
            Err(error) if Instant::now() < deadline => {
                eprintln!("produce to {topic}-{partition} at {leader}: {error}; retrying");
                client.refresh_metadata("test produce retry").await.ok();
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("cannot produce to {topic}-{partition}: {error}"),
        }
    }
}

async fn produce_round(
    client: &Client,
    cluster: &Cluster,
    topic: &str,
    first: usize,
    count: usize,
) {
    for partition in 0..PARTITIONS {
        produce(client, cluster, topic, partition, first, count).await;
    }
}

/// Produces records `first..first + count` to every partition, then waits
/// (30 s at most) until the log holds every record up to there.
async fn produce_and_await_reading(
    setup: &(Client, SharedLog),
    cluster: &Cluster,
    topic: &str,
    first: usize,
    count: usize,
    what: &str,
) {
    let (client, log) = setup;
    produce_round(client, cluster, topic, first, count).await;
    let total = PARTITIONS as usize * (first + count);
    wait_for(log, Duration::from_secs(30), what, |l| {
        l.counts().len() >= total
    })
    .await;
}

/// Creates `topic` and starts member "a" of `group` on it, committing after
/// every poll: returns the set-up client with the member's log, and the
/// member.
async fn start_member(
    cluster: &Cluster,
    topic: &str,
    group: &str,
) -> ((Client, SharedLog), Member) {
    cluster.create_topic(topic, PARTITIONS).await.unwrap();
    let client = setup_client(cluster, topic).await;
    let log = SharedLog::default();
    let member = Member::start(
        "a",
        consumer(cluster, Some(group)),
        topic,
        log.clone(),
        true,
    );
    ((client, log), member)
}

fn consumer(cluster: &Cluster, group: Option<&str>) -> ConsumerBuilder {
    let client = ClientConfig::builder()
        .bootstrap_servers(servers(cluster))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    let builder = durian_consumer::Consumer::builder()
        .client_config(client)
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
        .session_timeout(SESSION_TIMEOUT)
        .heartbeat_interval(Duration::from_millis(300));
    match group {
        Some(group) => builder.group_id(group),
        None => builder,
    }
}

/// Requests the cluster received, with arrival times: (when, node, api).
type Arrivals = Arc<Mutex<Vec<(Instant, i32, ApiKey)>>>;

fn record_arrivals(cluster: &Cluster) -> Arrivals {
    let arrivals: Arrivals = Arc::default();
    let sink = arrivals.clone();
    cluster.faults().hook(move |request| {
        sink.lock()
            .unwrap()
            .push((Instant::now(), request.node_id, request.api_key));
    });
    arrivals
}

fn arrived_after(arrivals: &Arrivals, since: Instant, node: i32, api: ApiKey) -> bool {
    arrivals
        .lock()
        .unwrap()
        .iter()
        .any(|(at, n, a)| *at > since && *n == node && *a == api)
}

/// Waits until the group has committed the end of every partition, then
/// checks that no partition was revoked or lost while the member ran, then
/// closes it, after which the log is final and a record delivered twice at
/// any time shows up. Closing revokes each partition exactly once, and
/// that must be the only revocation the member ever saw.
async fn close_after_commits_at_end(
    cluster: &Cluster,
    group: &str,
    topic: &str,
    log: &SharedLog,
    member: Member,
) {
    let observer = consumer(cluster, Some(group)).build().unwrap();
    let all = partitions_of(topic, PARTITIONS);
    wait_for_commits_at_end(&observer, &all, Duration::from_secs(30)).await;
    {
        let log = log.lock().unwrap();
        assert!(log.errors.is_empty(), "{:?}", log.errors);
        assert!(log.revoked.is_empty(), "rebalanced: {:?}", log.revoked);
        assert!(log.lost.is_empty(), "lost partitions: {:?}", log.lost);
    }
    let name = member.name.clone();
    member.stop(Ending::Close).await;
    let log = log.lock().unwrap();
    assert!(log.errors.is_empty(), "{:?}", log.errors);
    assert!(log.lost.is_empty(), "lost partitions: {:?}", log.lost);
    let mut revoked = log.revoked.get(&name).cloned().unwrap_or_default();
    revoked.sort();
    assert_eq!(
        revoked,
        all.into_iter().collect::<Vec<_>>(),
        "only the close revokes, each partition once: {:?}",
        log.revoked
    );
}

/// Every partition read exactly once, offsets 0..per_partition, values
/// as produced.
fn assert_exactly_once(log: &SharedLog, topic: &str, per_partition: usize) {
    let log = log.lock().unwrap();
    let counts = log.counts();
    for partition in 0..PARTITIONS {
        for offset in 0..per_partition as i64 {
            let key = (TopicPartition::new(topic, partition), offset);
            assert_eq!(counts.get(&key), Some(&1), "{topic}-{partition}@{offset}");
        }
    }
    assert_eq!(counts.len(), PARTITIONS as usize * per_partition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_follow_moving_leaders_without_loss_or_duplicates() {
    const PER_PARTITION: usize = 20_000;
    let cluster = start_cluster().await;
    let topic = "moving-leaders";
    cluster.create_topic(topic, PARTITIONS).await.unwrap();
    let client = setup_client(&cluster, topic).await;
    for first in (0..PER_PARTITION).step_by(1_000) {
        produce_round(&client, &cluster, topic, first, 1_000).await;
    }
    let arrivals = record_arrivals(&cluster);
    let mut consumer = consumer(&cluster, None)
        .max_poll_records(200)
        .build()
        .unwrap();
    consumer
        .assign((0..PARTITIONS).map(|p| TopicPartition::new(topic, p)))
        .unwrap();
    let total = PARTITIONS as usize * PER_PARTITION;
    let mut next = [0i64; PARTITIONS as usize];
    let mut read = 0usize;
    let mut moves = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while read < total {
        assert!(
            Instant::now() < deadline,
            "{read} of {total} read: {next:?}"
        );
        let batch = consumer.poll(Duration::from_millis(200)).await.unwrap();
        for record in batch {
            let p = record.partition as usize;
            assert_eq!(record.offset, next[p], "partition {p}: lost or repeated");
            assert_eq!(
                record.value.as_deref(),
                Some(value_of(record.partition, record.offset as usize).as_bytes())
            );
            next[p] += 1;
            read += 1;
            // Every 5,000 records one partition's leader moves on.
            if read.is_multiple_of(5_000) {
                let partition = (moves.len() % PARTITIONS as usize) as i32;
                let from = cluster.leader(topic, partition).unwrap();
                let to = (from + 1) % 3;
                cluster.move_leader(topic, partition, to).unwrap();
                moves.push((Instant::now(), partition, to));
            }
        }
    }
    // Nothing more arrives: no record is delivered twice.
    let extra = consumer.poll(Duration::from_millis(500)).await.unwrap();
    assert!(extra.is_empty(), "records after the end: {}", extra.len());
    assert!(moves.len() >= 10, "{} moves", moves.len());
    for (at, partition, to) in &moves[..moves.len() - 1] {
        assert!(
            arrived_after(&arrivals, *at, *to, ApiKey::Fetch),
            "no fetch reached node {to}, the new leader of partition {partition}"
        );
    }
    consumer.close().await.unwrap();
    cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_and_heartbeats_follow_a_moving_coordinator() {
    let cluster = start_cluster().await;
    let topic = "moving-coordinator";
    let group = "coordinator-moves";
    let arrivals = record_arrivals(&cluster);
    let (setup, member) = start_member(&cluster, topic, group).await;
    let mut produced = 0;
    for round in 0..3 {
        produce_and_await_reading(
            &setup,
            &cluster,
            topic,
            produced,
            1_000,
            "every record so far",
        )
        .await;
        produced += 1_000;
        let from = cluster.coordinator(group).unwrap();
        let to = (from + 1) % 3;
        cluster.move_coordinator(group, to).unwrap();
        let moved = Instant::now();
        // A heartbeat must find the new coordinator before the session
        // would run out.
        eventually(
            SESSION_TIMEOUT,
            &format!("a heartbeat at the new coordinator {to}"),
            async || arrived_after(&arrivals, moved, to, ApiKey::Heartbeat).then_some(()),
        )
        .await;
        if round == 0 {
            // Kept on purpose: the passing of time is what is tested. The
            // member must outlive a whole session timeout after the move,
            // which only heartbeats that reach the new coordinator allow
            // (the checks after the last round see no revocation or loss).
            tokio::time::sleep_until(moved + SESSION_TIMEOUT + Duration::from_secs(1)).await;
        }
    }
    produce_and_await_reading(&setup, &cluster, topic, produced, 1_000, "every record").await;
    produced += 1_000;
    let log = &setup.1;
    close_after_commits_at_end(&cluster, group, topic, log, member).await;
    assert_exactly_once(log, topic, produced);
    // The offsets the member committed are where a new member starts.
    let reader = consumer(&cluster, Some(group)).build().unwrap();
    let partitions = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    let committed = reader.committed(&partitions).await.unwrap();
    for (tp, offset) in committed {
        assert_eq!(offset.map(|o| o.offset), Some(produced as i64), "{tp}");
    }
    assert!(
        arrivals
            .lock()
            .unwrap()
            .iter()
            .any(|(_, node, api)| *api == ApiKey::OffsetCommit
                && Some(*node) == cluster.coordinator(group)),
        "commits reached the last coordinator"
    );
    cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bouncing_broker_that_is_not_the_coordinator_causes_no_rebalance() {
    let cluster = start_cluster().await;
    let topic = "bounce";
    let group = "bounce-group";
    let (setup, member) = start_member(&cluster, topic, group).await;
    produce_and_await_reading(&setup, &cluster, topic, 0, 1_000, "the first records").await;
    let coordinator = cluster.coordinator(group).unwrap();
    // A node that leads a partition, so fetches must move, but does not
    // coordinate the group.
    let bounced = (0..PARTITIONS)
        .filter_map(|p| cluster.leader(topic, p))
        .find(|node| *node != coordinator)
        .unwrap_or((coordinator + 1) % 3);
    cluster.stop_broker(bounced).await.unwrap();
    produce_and_await_reading(&setup, &cluster, topic, 1_000, 1_000, "records while down").await;
    cluster.start_broker(bounced).await.unwrap();
    produce_and_await_reading(&setup, &cluster, topic, 2_000, 1_000, "records after").await;
    let log = &setup.1;
    close_after_commits_at_end(&cluster, group, topic, log, member).await;
    assert_exactly_once(log, topic, 3_000);
    cluster.shutdown().await.unwrap();
}
