//! Every `durian topic` command as a process against the embedded broker.

#![allow(clippy::unwrap_used)]

mod common;

use common::{durian, start_broker};

/// The row of `table` whose first column is `first`, split into cells.
fn row(table: &str, first: &str) -> Option<Vec<String>> {
    table
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.first().map(String::as_str) == Some(first))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_describe_alter_and_delete() {
    let broker = start_broker().await;
    let b = broker.bootstrap();

    let created = durian(
        &b,
        &[
            "topic",
            "create",
            "web_log",
            "-p",
            "3",
            "-r",
            "1",
            "-c",
            "retention.ms=60000",
        ],
        b"",
    )
    .await;
    assert!(
        created
            .assert_ok()
            .text()
            .starts_with("created topic `web_log` with 3 partitions"),
        "{}",
        created.text()
    );
    durian(&b, &["topic", "create", "web_log"], b"")
        .await
        .assert_failed_with("TOPIC_ALREADY_EXISTS");
    durian(&b, &["topic", "create", "other", "-p", "0"], b"")
        .await
        .assert_failed_with("--partitions must be at least 1");
    durian(&b, &["topic", "create", "other"], b"")
        .await
        .assert_ok();

    let list = durian(&b, &["topic", "list"], b"").await;
    let list = list.assert_ok().text();
    assert_eq!(
        row(&list, "NAME").unwrap(),
        ["NAME", "PARTITIONS", "REPLICAS", "ID"]
    );
    assert_eq!(row(&list, "web_log").unwrap()[1..3], ["3", "1"]);
    assert!(row(&list, "other").is_some(), "{list}");
    assert!(
        row(&list, "__consumer_offsets").is_none(),
        "internal topics hidden: {list}"
    );

    durian(&b, &["produce", "web_log", "-p", "2"], b"a\nb\n")
        .await
        .assert_ok();
    let described = durian(&b, &["topic", "describe", "web_log"], b"").await;
    let text = described.assert_ok().text();
    assert!(
        text.starts_with("topic        web_log\nid           "),
        "{text}"
    );
    assert!(text.contains("\npartitions   3\n"), "{text}");
    // PARTITION LEADER EPOCH REPLICAS ISR OFFLINE LOG-START HIGH-WATERMARK
    assert_eq!(
        row(&text, "0").unwrap(),
        ["0", "0", "0", "0", "0", "-", "0", "0"]
    );
    assert_eq!(row(&text, "2").unwrap()[6..], ["0", "2"]);
    assert_eq!(
        row(&text, "retention.ms").unwrap(),
        ["retention.ms", "60000", "topic"]
    );

    durian(
        &b,
        &[
            "topic",
            "alter-config",
            "web_log",
            "--set",
            "retention.ms=1000",
            "--set",
            "segment.ms=3600000",
        ],
        b"",
    )
    .await
    .assert_ok();
    let text = durian(&b, &["topic", "describe", "web_log"], b"")
        .await
        .text();
    assert_eq!(row(&text, "retention.ms").unwrap()[1..], ["1000", "topic"]);
    assert_eq!(row(&text, "segment.ms").unwrap()[1..], ["3600000", "topic"]);
    durian(
        &b,
        &[
            "topic",
            "alter-config",
            "web_log",
            "--delete",
            "retention.ms",
        ],
        b"",
    )
    .await
    .assert_ok();
    let text = durian(&b, &["topic", "describe", "web_log"], b"")
        .await
        .text();
    assert_eq!(row(&text, "retention.ms").unwrap()[2], "default", "{text}");
    durian(&b, &["topic", "alter-config", "web_log"], b"")
        .await
        .assert_failed_with("nothing to change");

    let deleted = durian(&b, &["topic", "delete", "web_log"], b"").await;
    assert_eq!(deleted.assert_ok().text(), "deleted topic `web_log`\n");
    let list = durian(&b, &["topic", "list"], b"").await.text();
    assert!(row(&list, "web_log").is_none(), "{list}");
    durian(&b, &["topic", "describe", "web_log"], b"")
        .await
        .assert_failed_with("does not exist");
    durian(&b, &["topic", "delete", "web_log"], b"")
        .await
        .assert_failed_with("UNKNOWN_TOPIC_OR_PARTITION");
    broker.shutdown().await.unwrap();
}
