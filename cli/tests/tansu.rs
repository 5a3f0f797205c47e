//! The `durian` command against Tansu, an independent Kafka-protocol
//! broker: the topic commands and a produce/consume round trip.
//!
//! Tansu comes from `DURIAN_TANSU_BIN`, else `<repo>/.peers/bin/tansu`
//! (scripts/install-peers.sh). Without it the tests are skipped with a
//! message, unless `DURIAN_REQUIRE_PEERS=1`, which makes them fail.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::durian;
use durian_testkit::Tansu;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_commands_work_against_tansu() {
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let b = tansu.bootstrap();
    let created = durian(&b, &["topic", "create", "events", "-p", "3"], b"").await;
    assert!(
        created
            .assert_ok()
            .text()
            .starts_with("created topic `events`"),
        "{}",
        created.text()
    );
    let list = durian(&b, &["topic", "list"], b"").await;
    let listed = list.assert_ok().text();
    assert!(
        listed
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["events", "3"])),
        "{listed}"
    );
    let described = durian(&b, &["topic", "describe", "events"], b"").await;
    let text = described.assert_ok().text();
    assert!(text.contains("\npartitions   3\n"), "{text}");
    for partition in ["0", "1", "2"] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(partition)),
            "partition {partition} missing: {text}"
        );
    }
    durian(&b, &["topic", "delete", "events"], b"")
        .await
        .assert_ok();
    let listed = durian(&b, &["topic", "list"], b"").await.text();
    assert!(!listed.contains("events"), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_consume_round_trip_against_tansu() {
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let b = tansu.bootstrap();
    durian(&b, &["topic", "create", "lines", "-p", "2"], b"")
        .await
        .assert_ok();
    let input: String = (0..200)
        .map(|i| format!("key-{i}\tvalue {i} ✓\twith tab\n"))
        .collect();
    durian(
        &b,
        &["produce", "lines", "--key-sep", "\t", "--header", "h=1"],
        input.as_bytes(),
    )
    .await
    .assert_ok();
    // Tansu reports a partition's end as the last batch's base offset + 1,
    // so --exit-at-end would stop early there; stop after the count instead.
    let printed = durian(
        &b,
        &["consume", "lines", "-n", "200", "--format", "%k\t%v\t%h\\n"],
        b"",
    )
    .await;
    let printed: BTreeSet<String> = printed
        .assert_ok()
        .text()
        .lines()
        .map(str::to_owned)
        .collect();
    let expected: BTreeSet<String> = (0..200)
        .map(|i| format!("key-{i}\tvalue {i} ✓\twith tab\th=1"))
        .collect();
    assert_eq!(printed, expected);
}
