//! `durian consume -g` exit rules against a broker whose first JoinGroup
//! answers late (durian's testing cluster holding it): the time spent
//! joining is not idle time, and --exit-at-end waits for the assignment.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{create_topic, durian};
use durian_broker::testing::Cluster;
use kafka_protocol::messages::ApiKey;

/// How long the first JoinGroup is held: well past the idle limit.
const JOIN_DELAY: Duration = Duration::from_secs(4);

/// A one-node cluster with topic `t` (one partition) holding five records,
/// whose next JoinGroup is held for [`JOIN_DELAY`].
async fn slow_joining_cluster() -> (Cluster, String) {
    let cluster = Cluster::builder().nodes(1).start().await.unwrap();
    let bootstrap = cluster.bootstrap();
    create_topic(&bootstrap, "t", 1).await;
    let lines: String = (0..5).map(|i| format!("line-{i}\n")).collect();
    durian(&bootstrap, &["produce", "t"], lines.as_bytes())
        .await
        .assert_ok();
    (cluster, bootstrap)
}

fn expected_lines() -> Vec<String> {
    (0..5).map(|i| format!("line-{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_idle_does_not_count_a_slow_join() {
    let (cluster, bootstrap) = slow_joining_cluster().await;
    let rule = cluster
        .faults()
        .any_node()
        .api(ApiKey::JoinGroup)
        .delay_next(1, JOIN_DELAY);
    let started = Instant::now();
    let run = durian(
        &bootstrap,
        &["consume", "t", "-g", "g", "--exit-idle", "1s"],
        b"",
    )
    .await;
    run.assert_ok();
    assert_eq!(cluster.faults().fired(rule), 1, "the JoinGroup was held");
    let lines: Vec<String> = run.text().lines().map(str::to_owned).collect();
    assert_eq!(lines, expected_lines(), "stderr: {}", run.stderr);
    assert!(
        started.elapsed() >= JOIN_DELAY,
        "exited after {:?}, before the join could finish",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_at_end_waits_for_the_assignment() {
    let (cluster, bootstrap) = slow_joining_cluster().await;
    let rule = cluster
        .faults()
        .any_node()
        .api(ApiKey::JoinGroup)
        .delay_next(1, JOIN_DELAY);
    let run = durian(
        &bootstrap,
        &["consume", "t", "-g", "g", "--exit-at-end"],
        b"",
    )
    .await;
    run.assert_ok();
    assert_eq!(cluster.faults().fired(rule), 1, "the JoinGroup was held");
    let lines: Vec<String> = run.text().lines().map(str::to_owned).collect();
    assert_eq!(lines, expected_lines(), "stderr: {}", run.stderr);
}
