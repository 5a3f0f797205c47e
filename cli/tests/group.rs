//! Every `durian group` command, and group consumption by `durian consume
//! -g` processes, against the embedded broker. The first case is the
//! scenario of tests/cli_scenarios/mod.rs, which tests/kafka_cli.rs runs
//! against Apache Kafka as well.

#![allow(clippy::unwrap_used)]

mod cli_scenarios;
mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cli_scenarios::offset_rows;
use common::{command, create_topic, durian, finish, start_broker};
use durian::admin::Admin;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_shows_what_consume_committed_then_seek_and_delete() {
    let broker = start_broker().await;
    cli_scenarios::group_describe_seek_and_delete(&broker.bootstrap()).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consume_processes_split_a_group_and_print_everything_once() {
    let broker = start_broker().await;
    let b = broker.bootstrap();
    create_topic(&b, "shared", 4).await;
    let args = [
        "consume",
        "shared",
        "-g",
        "pair",
        "--exit-idle",
        "4s",
        "--format",
        "%p %v\\n",
    ];
    let first = command(&b, &args).spawn().unwrap();
    let second = command(&b, &args).spawn().unwrap();

    // Produce only once both members hold partitions, so both get records.
    let admin = Admin::from_properties([("bootstrap.servers", b.as_str())]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut described = admin.describe_groups(["pair"]).await;
        if let Some(Ok(group)) = described.remove("pair") {
            if group.state == "Stable"
                && group.members.len() == 2
                && group.members.iter().all(|m| !m.assignment.is_empty())
            {
                let assigned: BTreeSet<_> = group
                    .members
                    .iter()
                    .flat_map(|m| m.assignment.clone())
                    .collect();
                assert_eq!(assigned.len(), 4, "{group:?}");
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the two members never shared the group"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Keys make the partitioner spread the records over all four partitions.
    let input: String = (0..400).map(|i| format!("key-{i}|value-{i}\n")).collect();
    durian(
        &b,
        &["produce", "shared", "--key-sep", "|"],
        input.as_bytes(),
    )
    .await
    .assert_ok();

    let first = finish(first, &args).await;
    let second = finish(second, &args).await;
    let mut union = BTreeSet::new();
    let mut partitions_of = Vec::new();
    for run in [&first, &second] {
        let text = run.assert_ok().text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            !lines.is_empty(),
            "a member printed nothing; stderr: {}",
            run.stderr
        );
        let mut partitions = BTreeSet::new();
        for line in lines {
            let (partition, value) = line.split_once(' ').unwrap();
            partitions.insert(partition.to_owned());
            assert!(union.insert(value.to_owned()), "{value} printed twice");
        }
        partitions_of.push(partitions);
    }
    assert!(
        partitions_of[0].is_disjoint(&partitions_of[1]),
        "both members printed a partition: {partitions_of:?}"
    );
    let expected: BTreeSet<String> = (0..400).map(|i| format!("value-{i}")).collect();
    assert_eq!(union, expected);

    // Both left, and between them they committed everything.
    let text = durian(&b, &["group", "describe", "pair"], b"").await.text();
    assert!(text.contains("\nmembers      0\n"), "{text}");
    for (partition, (_, _, lag)) in offset_rows(&text, "shared") {
        assert_eq!(lag, "0", "partition {partition}: {text}");
    }
    assert_eq!(offset_rows(&text, "shared").len(), 4, "{text}");
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_and_delete_refuse_a_group_with_members() {
    let broker = start_broker().await;
    let b = broker.bootstrap();
    create_topic(&b, "busy", 1).await;
    let args = ["consume", "busy", "-g", "active", "--exit-idle", "20s"];
    let member = command(&b, &args).spawn().unwrap();
    let admin = Admin::from_properties([("bootstrap.servers", b.as_str())]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut described = admin.describe_groups(["active"]).await;
        if let Some(Ok(group)) = described.remove("active") {
            if group.state == "Stable" {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the member never joined");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    durian(
        &b,
        &[
            "group",
            "seek",
            "active",
            "--topic",
            "busy",
            "--to",
            "beginning",
        ],
        b"",
    )
    .await
    .assert_failed_with("stop its consumers first");
    durian(&b, &["group", "delete", "active"], b"")
        .await
        .assert_failed_with("stop its consumers first");
    let described = durian(&b, &["group", "describe", "active"], b"").await;
    let text = described.assert_ok().text();
    assert!(text.contains("\nstate        Stable\n"), "{text}");
    assert!(
        text.contains("busy:0"),
        "the member's partition is listed: {text}"
    );
    drop(member);
    broker.shutdown().await.unwrap();
}
