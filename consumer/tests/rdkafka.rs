//! durian's consumer with librdkafka peers, on durian's broker.
//!
//! * Mixed groups: durian consumers and librdkafka consumers (the Python
//!   confluent-kafka package) in one group. Whoever joins first leads and
//!   assigns, so each order checks one direction of the consumer-protocol
//!   bytes: a librdkafka leader reads durian's subscription and durian
//!   reads its assignment, and the other way round.
//! * A durian group reads exactly what kcat and confluent-kafka produced
//!   (keys, values, headers, timestamps, every codec), and the offsets
//!   durian commits are what confluent-kafka's `committed()` returns
//!   (see `interop` below).
//!
//! The peers are found through `common::peers`; without them the tests
//! are skipped unless `DURIAN_REQUIRE_PEERS=1`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use common::members::{
    assert_disjoint_and_covering, partitions_of, wait_for, wait_for_commits_at_end, Ending, Member,
    SharedLog,
};
use common::*;
use durian_consumer::{Assignor, CooperativeStickyAssignor, RangeAssignor, TopicPartition};
use durian_testkit::confluent_python as python;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

const TOPIC: &str = "mixed";
const PARTITIONS: i32 = 6;
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/rdkafka_member.py");

#[path = "rdkafka/interop.rs"]
mod interop;

/// A running librdkafka member: the process, and the task that turns its
/// output into log entries (done once the process has exited and every
/// line it printed is in the log).
struct Rdkafka {
    child: Child,
    reader: JoinHandle<()>,
}

/// Starts the librdkafka member and feeds its output into `log` as member `rdkafka`.
fn start_rdkafka(
    python: &PathBuf,
    bootstrap: &str,
    group: &str,
    strategy: &str,
    log: SharedLog,
) -> Rdkafka {
    let mut child = Command::new(python)
        .args([SCRIPT, bootstrap, group, TOPIC, strategy])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let reader = tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let event: serde_json::Value = serde_json::from_str(&line).unwrap();
            let partitions = |key: &str| -> Vec<TopicPartition> {
                event[key]
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .filter_map(|p| p.as_i64())
                            .map(|p| TopicPartition::new(TOPIC, p as i32))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let mut log = log.lock().unwrap();
            let owned = log.assignment.entry("rdkafka".to_owned()).or_default();
            if event.get("assigned").is_some() {
                owned.extend(partitions("assigned"));
            } else if event.get("revoked").is_some() || event.get("lost").is_some() {
                for tp in partitions("revoked").into_iter().chain(partitions("lost")) {
                    owned.remove(&tp);
                }
            } else if let Some(record) = event["record"].as_array() {
                let partition = record[0].as_i64().unwrap() as i32;
                let offset = record[1].as_i64().unwrap();
                assert_eq!(
                    record[2].as_str().unwrap(),
                    value_of(partition, offset as usize)
                );
                log.deliveries.push((
                    "rdkafka".to_owned(),
                    TopicPartition::new(TOPIC, partition),
                    offset,
                ));
            } else {
                log.errors.push(("rdkafka".to_owned(), line.clone()));
            }
        }
    });
    Rdkafka { child, reader }
}

/// Closes the librdkafka member (it leaves the group) and waits until its
/// last output line is in the log.
async fn stop_rdkafka(member: Rdkafka) {
    let Rdkafka { mut child, reader } = member;
    drop(child.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("rdkafka member exits")
        .unwrap();
    assert!(status.success(), "rdkafka member failed: {status}");
    tokio::time::timeout(Duration::from_secs(60), reader)
        .await
        .expect("the rdkafka member's output is read to its end")
        .unwrap();
}

fn has_partitions(member: &'static str) -> impl Fn(&common::members::Log) -> bool {
    move |l| l.assignment.get(member).is_some_and(|s| !s.is_empty())
}

async fn mixed_group(durian_first: bool, strategy: &str, assignor: Arc<dyn Assignor>) {
    init_tracing();
    let Some(python) = python() else { return };
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    let admin = admin(&bootstrap).await;
    create_topic(&admin, TOPIC, PARTITIONS).await;
    let group = format!("mixed-{strategy}-{durian_first}");
    let log = SharedLog::default();
    let durian = || consumer(&bootstrap, Some(&group)).assignors(vec![assignor.clone()]);

    let (member, child) = if durian_first {
        let member = Member::start("durian", durian(), TOPIC, log.clone(), false);
        wait_for(
            &log,
            Duration::from_secs(60),
            "durian's first assignment",
            has_partitions("durian"),
        )
        .await;
        (
            member,
            start_rdkafka(&python, &bootstrap, &group, strategy, log.clone()),
        )
    } else {
        let child = start_rdkafka(&python, &bootstrap, &group, strategy, log.clone());
        wait_for(
            &log,
            Duration::from_secs(60),
            "rdkafka's first assignment",
            has_partitions("rdkafka"),
        )
        .await;
        (
            Member::start("durian", durian(), TOPIC, log.clone(), false),
            child,
        )
    };
    wait_for(
        &log,
        Duration::from_secs(90),
        "a stable assignment shared by both",
        |l| {
            has_partitions("durian")(l)
                && has_partitions("rdkafka")(l)
                && l.assignment.values().map(BTreeSet::len).sum::<usize>() == PARTITIONS as usize
        },
    )
    .await;
    assert_disjoint_and_covering(&log.lock().unwrap(), TOPIC, PARTITIONS);

    produce_all(&admin, TOPIC, PARTITIONS, 100).await;
    let total = PARTITIONS as usize * 100;
    wait_for(&log, Duration::from_secs(60), "every record", |l| {
        l.counts().len() >= total
    })
    .await;
    // Both members auto-commit (librdkafka every 5 s); once the group's
    // commits reach the end, closing them leaves the log final, so a record
    // delivered twice at any time shows up below.
    let observer = consumer(&bootstrap, Some(&group)).build().unwrap();
    let all = partitions_of(TOPIC, PARTITIONS);
    wait_for_commits_at_end(&observer, &all, Duration::from_secs(60)).await;
    {
        let log = log.lock().unwrap();
        assert!(log.errors.is_empty(), "{:?}", log.errors);
    }
    stop_rdkafka(child).await;
    member.stop(Ending::Close).await;
    {
        let log = log.lock().unwrap();
        assert!(log.counts().values().all(|n| *n == 1), "repeated records");
        for (member, _, _) in &log.deliveries {
            assert!(member == "durian" || member == "rdkafka");
        }
        let by_durian = log
            .deliveries
            .iter()
            .filter(|(m, _, _)| m == "durian")
            .count();
        assert!(
            by_durian > 0 && by_durian < total,
            "both members consumed: durian {by_durian} of {total}"
        );
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durian_leads_a_range_group_with_librdkafka() {
    mixed_group(true, "range", Arc::new(RangeAssignor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn librdkafka_leads_a_range_group_with_durian() {
    mixed_group(false, "range", Arc::new(RangeAssignor)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_group_with_librdkafka() {
    mixed_group(
        false,
        "cooperative-sticky",
        Arc::new(CooperativeStickyAssignor),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durian_leads_a_cooperative_sticky_group_with_librdkafka() {
    mixed_group(
        true,
        "cooperative-sticky",
        Arc::new(CooperativeStickyAssignor),
    )
    .await;
}
