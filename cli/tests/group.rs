//! Every `durian group` command, and group consumption by `durian consume
//! -g` processes, against the embedded broker.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{command, create_topic, durian, finish, start_broker};
use durian::admin::Admin;

/// `(partition, committed, end, lag)` rows of `durian group describe`.
fn offset_rows(text: &str, topic: &str) -> BTreeMap<i32, (String, String, String)> {
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| cells.len() == 6 && cells[0] == topic)
        .map(|c| {
            (
                c[1].parse().unwrap(),
                (c[2].to_owned(), c[3].to_owned(), c[4].to_owned()),
            )
        })
        .collect()
}

fn expect_rows(rows: &[(i32, i64, i64)]) -> BTreeMap<i32, (String, String, String)> {
    rows.iter()
        .map(|(p, committed, end)| {
            let lag = end - committed;
            (
                *p,
                (committed.to_string(), end.to_string(), lag.to_string()),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_shows_what_consume_committed_then_seek_and_delete() {
    let broker = start_broker().await;
    let b = broker.bootstrap();
    create_topic(&b, "clicks", 2).await;
    let six: String = (0..6).map(|i| format!("p0-{i}\n")).collect();
    let four: String = (0..4).map(|i| format!("p1-{i}\n")).collect();
    durian(&b, &["produce", "clicks", "-p", "0"], six.as_bytes())
        .await
        .assert_ok();
    durian(&b, &["produce", "clicks", "-p", "1"], four.as_bytes())
        .await
        .assert_ok();

    // Seven of ten records: which partition is cut short depends on fetch
    // timing, so the expected commits come from what was printed.
    let run = durian(
        &b,
        &[
            "consume", "clicks", "-g", "readers", "-n", "7", "--format", "%p %o\\n",
        ],
        b"",
    )
    .await;
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for line in run.assert_ok().text().lines() {
        let (p, o) = line.split_once(' ').unwrap();
        next.insert(p.parse().unwrap(), o.parse::<i64>().unwrap() + 1);
    }
    assert_eq!(next.values().sum::<i64>(), 7, "printed offsets {next:?}");
    let ends = [(0, 6), (1, 4)];
    let expected: Vec<(i32, i64, i64)> = ends
        .iter()
        .filter(|(p, _)| next.contains_key(p))
        .map(|(p, end)| (*p, next[p], *end))
        .collect();

    let described = durian(&b, &["group", "describe", "readers"], b"").await;
    let text = described.assert_ok().text();
    assert!(text.starts_with("group        readers\n"), "{text}");
    assert!(
        text.contains("\nstate        Empty\n"),
        "the member left: {text}"
    );
    assert_eq!(
        offset_rows(&text, "clicks"),
        expect_rows(&expected),
        "{text}"
    );

    let list = durian(&b, &["group", "list"], b"").await;
    assert!(
        list.assert_ok()
            .text()
            .lines()
            .any(|l| l.starts_with("readers ")),
        "{}",
        list.text()
    );

    for (to, offsets) in [("beginning", [0, 0]), ("3", [3, 3]), ("end", [6, 4])] {
        durian(
            &b,
            &["group", "seek", "readers", "--topic", "clicks", "--to", to],
            b"",
        )
        .await
        .assert_ok();
        let text = durian(&b, &["group", "describe", "readers"], b"")
            .await
            .text();
        let rows = [(0, offsets[0], 6), (1, offsets[1], 4)];
        assert_eq!(
            offset_rows(&text, "clicks"),
            expect_rows(&rows),
            "after --to {to}: {text}"
        );
    }
    // After the seek to the end, the group has nothing left to read.
    let run = durian(
        &b,
        &["consume", "clicks", "-g", "readers", "--exit-idle", "1s"],
        b"",
    )
    .await;
    assert_eq!(run.assert_ok().text(), "");

    durian(
        &b,
        &["group", "seek", "readers", "--topic", "nope", "--to", "end"],
        b"",
    )
    .await
    .assert_failed_with("does not exist");
    let deleted = durian(&b, &["group", "delete", "readers"], b"").await;
    assert_eq!(deleted.assert_ok().text(), "deleted group `readers`\n");
    durian(&b, &["group", "describe", "readers"], b"")
        .await
        .assert_failed_with("does not exist");
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
