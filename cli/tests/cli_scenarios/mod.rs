//! `durian topic`, `produce`/`consume`, `group` and `perf` scenarios that
//! take a bootstrap, so that the same cases run against durian's embedded
//! broker (tests/topic.rs, produce_consume.rs, group.rs, perf.rs) and
//! against Apache Kafka (tests/kafka_cli.rs). Each scenario uses its own
//! topic and group names, so several can share one cluster.

// Each including test binary uses a different subset.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::{consume_all, create_topic, durian};
use durian::consumer::{Consumer, OffsetReset, TopicPartition};

/// The topic of [`topic_lifecycle`].
pub const LIFECYCLE_TOPIC: &str = "page_views";

/// Milliseconds since the epoch, as record timestamps count them.
pub fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// The row of `table` whose first column is `first`, split into cells.
pub fn row(table: &str, first: &str) -> Option<Vec<String>> {
    table
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .find(|cells| cells.first().map(String::as_str) == Some(first))
}

/// Every `durian topic` command on [`LIFECYCLE_TOPIC`] (and `other`):
/// create, list, describe, alter-config, delete, and the errors of each.
/// `leader` is the id of the node that leads every partition (the cluster
/// has one node). `inspect` runs after the config changes, while the topic
/// still exists, and gets what `topic describe` printed then.
pub async fn topic_lifecycle(b: &str, leader: i32, inspect: impl FnOnce(&str)) {
    const TOPIC: &str = LIFECYCLE_TOPIC;
    let created = durian(
        b,
        &[
            "topic",
            "create",
            TOPIC,
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
    let expected = format!("created topic `{TOPIC}` with 3 partitions");
    assert!(
        created.assert_ok().text().starts_with(&expected),
        "{}",
        created.text()
    );
    durian(b, &["topic", "create", TOPIC], b"")
        .await
        .assert_failed_with("TOPIC_ALREADY_EXISTS");
    durian(b, &["topic", "create", "other", "-p", "0"], b"")
        .await
        .assert_failed_with("--partitions must be at least 1");
    durian(b, &["topic", "create", "other"], b"")
        .await
        .assert_ok();

    let list = durian(b, &["topic", "list"], b"").await;
    let list = list.assert_ok().text();
    assert_eq!(
        row(&list, "NAME").unwrap(),
        ["NAME", "PARTITIONS", "REPLICAS", "ID"]
    );
    assert_eq!(row(&list, TOPIC).unwrap()[1..3], ["3", "1"]);
    assert!(row(&list, "other").is_some(), "{list}");
    assert!(
        row(&list, "__consumer_offsets").is_none(),
        "internal topics hidden: {list}"
    );

    durian(b, &["produce", TOPIC, "-p", "2"], b"a\nb\n")
        .await
        .assert_ok();
    let described = durian(b, &["topic", "describe", TOPIC], b"").await;
    let text = described.assert_ok().text();
    assert!(
        text.starts_with(&format!("topic        {TOPIC}\nid           ")),
        "{text}"
    );
    assert!(text.contains("\npartitions   3\n"), "{text}");
    // PARTITION LEADER EPOCH REPLICAS ISR OFFLINE LOG-START HIGH-WATERMARK
    let node = leader.to_string();
    assert_eq!(
        row(&text, "0").unwrap(),
        ["0", &node, "0", &node, &node, "-", "0", "0"]
    );
    assert_eq!(row(&text, "2").unwrap()[6..], ["0", "2"]);
    assert_eq!(
        row(&text, "retention.ms").unwrap(),
        ["retention.ms", "60000", "topic"]
    );

    durian(
        b,
        &[
            "topic",
            "alter-config",
            TOPIC,
            "--set",
            "retention.ms=1000",
            "--set",
            "segment.ms=3600000",
        ],
        b"",
    )
    .await
    .assert_ok();
    let text = durian(b, &["topic", "describe", TOPIC], b"").await.text();
    assert_eq!(row(&text, "retention.ms").unwrap()[1..], ["1000", "topic"]);
    assert_eq!(row(&text, "segment.ms").unwrap()[1..], ["3600000", "topic"]);
    durian(
        b,
        &["topic", "alter-config", TOPIC, "--delete", "retention.ms"],
        b"",
    )
    .await
    .assert_ok();
    let text = durian(b, &["topic", "describe", TOPIC], b"").await.text();
    assert_eq!(row(&text, "retention.ms").unwrap()[2], "default", "{text}");
    inspect(&text);
    durian(b, &["topic", "alter-config", TOPIC], b"")
        .await
        .assert_failed_with("nothing to change");

    let deleted = durian(b, &["topic", "delete", TOPIC], b"").await;
    assert_eq!(
        deleted.assert_ok().text(),
        format!("deleted topic `{TOPIC}`\n")
    );
    let list = durian(b, &["topic", "list"], b"").await.text();
    assert!(row(&list, TOPIC).is_none(), "{list}");
    durian(b, &["topic", "describe", TOPIC], b"")
        .await
        .assert_failed_with("does not exist");
    durian(b, &["topic", "delete", TOPIC], b"")
        .await
        .assert_failed_with("UNKNOWN_TOPIC_OR_PARTITION");
}

/// `durian produce` with keys and headers, read back by `durian consume`
/// with every field printed: the same records, keys, headers, partitions
/// in range, contiguous offsets and timestamps of the produce run.
pub async fn keys_headers_tabs_and_unicode_round_trip(bootstrap: &str) {
    create_topic(bootstrap, "round-trip", 3).await;
    // (key, value) per line; `|` splits them, the second `|` stays in the value.
    let records = [
        (Some("k1"), "value\twith\ttabs"),
        (Some("k2"), "dürian ✓ 榴莲"),
        (None, "a line without separator"),
        (Some("k3"), ""),
        (Some(""), "empty key"),
        (Some("k4"), "pipe | inside"),
    ];
    let input: String = records
        .iter()
        .map(|(k, v)| match k {
            Some(k) => format!("{k}|{v}\n"),
            None => format!("{v}\n"),
        })
        .collect();
    let before = now_ms();
    let run = durian(
        bootstrap,
        &[
            "produce",
            "round-trip",
            "--key-sep",
            "|",
            "--header",
            "source=test",
            "--header",
            "eq=a=b",
        ],
        input.as_bytes(),
    )
    .await;
    run.assert_ok();
    assert!(
        run.stderr.contains("produced 6 records to `round-trip`"),
        "summary: {}",
        run.stderr
    );
    let after = now_ms();

    // A separator no value contains, so every field can be cut out again.
    let lines = consume_all(
        bootstrap,
        "round-trip",
        "%t\u{1}%p\u{1}%o\u{1}%k\u{1}%v\u{1}%h\u{1}%T\\n",
    )
    .await;
    assert_eq!(lines.len(), records.len(), "{lines:?}");
    let mut seen = BTreeSet::new();
    let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for line in &lines {
        let fields: Vec<&str> = line.split('\u{1}').collect();
        let [topic, partition, offset, key, value, headers, timestamp] = fields[..] else {
            panic!("unexpected line {line:?}");
        };
        assert_eq!(topic, "round-trip");
        assert_eq!(headers, "source=test,eq=a=b");
        let timestamp: i64 = timestamp.parse().unwrap();
        assert!(
            (before..=after).contains(&timestamp),
            "timestamp {timestamp}"
        );
        let partition: i32 = partition.parse().unwrap();
        assert!((0..3).contains(&partition));
        offsets
            .entry(partition)
            .or_default()
            .push(offset.parse().unwrap());
        seen.insert((key.to_owned(), value.to_owned()));
    }
    let expected: BTreeSet<(String, String)> = records
        .iter()
        .map(|(k, v)| (k.unwrap_or("").to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(seen, expected);
    for (partition, offsets) in offsets {
        let contiguous: Vec<i64> = (0..i64::try_from(offsets.len()).unwrap()).collect();
        assert_eq!(offsets, contiguous, "partition {partition}");
    }
}

/// `(partition, committed, end, lag)` rows of `durian group describe`.
pub fn offset_rows(text: &str, topic: &str) -> BTreeMap<i32, (String, String, String)> {
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

/// The rows [`offset_rows`] should find for `(partition, committed, end)`.
pub fn expect_rows(rows: &[(i32, i64, i64)]) -> BTreeMap<i32, (String, String, String)> {
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

/// `durian consume -g readers -n 7` on topic `clicks`, then `group
/// describe` shows what it committed, `group list` lists it, `group seek`
/// moves it (and the next consume starts there), `group delete` removes it.
pub async fn group_describe_seek_and_delete(b: &str) {
    create_topic(b, "clicks", 2).await;
    let six: String = (0..6).map(|i| format!("p0-{i}\n")).collect();
    let four: String = (0..4).map(|i| format!("p1-{i}\n")).collect();
    durian(b, &["produce", "clicks", "-p", "0"], six.as_bytes())
        .await
        .assert_ok();
    durian(b, &["produce", "clicks", "-p", "1"], four.as_bytes())
        .await
        .assert_ok();

    // Seven of ten records: which partition is cut short depends on fetch
    // timing, so the expected commits come from what was printed.
    let run = durian(
        b,
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

    let described = durian(b, &["group", "describe", "readers"], b"").await;
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

    let list = durian(b, &["group", "list"], b"").await;
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
            b,
            &["group", "seek", "readers", "--topic", "clicks", "--to", to],
            b"",
        )
        .await
        .assert_ok();
        let text = durian(b, &["group", "describe", "readers"], b"")
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
        b,
        &["consume", "clicks", "-g", "readers", "--exit-idle", "1s"],
        b"",
    )
    .await;
    assert_eq!(run.assert_ok().text(), "");

    durian(
        b,
        &["group", "seek", "readers", "--topic", "nope", "--to", "end"],
        b"",
    )
    .await
    .assert_failed_with("does not exist");
    let deleted = durian(b, &["group", "delete", "readers"], b"").await;
    assert_eq!(deleted.assert_ok().text(), "deleted group `readers`\n");
    durian(b, &["group", "describe", "readers"], b"")
        .await
        .assert_failed_with("does not exist");
}

/// Partitions of the topics [`perf_produce_then_consume`] writes to.
pub const PERF_PARTITIONS: i32 = 3;

/// Every record of `topic` (of [`PERF_PARTITIONS`] partitions), read
/// without a group: (partition, value length). Fails unless exactly
/// `expected` arrive within 30 s.
pub async fn read_all(bootstrap: &str, topic: &str, expected: usize) -> Vec<(i32, usize)> {
    let mut consumer = Consumer::builder()
        .bootstrap_servers([bootstrap])
        .auto_offset_reset(OffsetReset::Earliest)
        .build()
        .unwrap();
    consumer
        .assign((0..PERF_PARTITIONS).map(|p| TopicPartition::new(topic, p)))
        .unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < expected && tokio::time::Instant::now() < deadline {
        let batch = consumer.poll(Duration::from_millis(200)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        seen.extend(
            batch
                .iter()
                .map(|r| (r.partition, r.value.as_ref().map_or(0, |v| v.len()))),
        );
    }
    // One more poll: anything beyond `expected` would show up here.
    let extra = consumer.poll(Duration::from_millis(300)).await.unwrap();
    assert!(extra.is_empty(), "more records than expected");
    consumer.close().await.unwrap();
    seen
}

/// `durian perf produce` of 700 records of 120 bytes to `topic` (created
/// here), then `perf consume` with and without a group: each summary
/// reports the counts asked for, and the topic holds exactly those records.
pub async fn perf_produce_then_consume(b: &str, topic: &str) {
    create_topic(b, topic, PERF_PARTITIONS).await;
    let produced = durian(
        b,
        &["perf", "produce", topic, "--num", "700", "--size", "120"],
        b"",
    )
    .await;
    let summary = produced.assert_ok().text();
    assert!(
        summary.starts_with("produced 700 records (84000 bytes) in "),
        "{summary}"
    );
    assert!(summary.contains("\nlatency send → ack: p50 "), "{summary}");
    let records = read_all(b, topic, 700).await;
    assert_eq!(records.len(), 700);
    assert!(
        records.iter().all(|&(_, len)| len == 120),
        "every value is 120 bytes"
    );

    let group = format!("{topic}-readers");
    let with_group = durian(
        b,
        &["perf", "consume", topic, "--num", "700", "-g", &group],
        b"",
    )
    .await;
    let summary = with_group.assert_ok().text();
    assert!(
        summary.starts_with("consumed 700 records (84000 bytes) in "),
        "{summary}"
    );
    assert!(summary.contains("\nfirst record after "), "{summary}");

    // Fewer than the topic holds: exactly that many are counted.
    let without_group = durian(b, &["perf", "consume", topic, "--num", "250"], b"").await;
    let summary = without_group.assert_ok().text();
    assert!(
        summary.starts_with("consumed 250 records (30000 bytes) in "),
        "{summary}"
    );
}
