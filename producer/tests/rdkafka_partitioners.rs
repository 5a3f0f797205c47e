//! The `partitioner` property against librdkafka itself: for each of
//! librdkafka's partitioners, confluent-kafka (librdkafka 2.x) and a
//! durian producer configured with the same `partitioner` value send the
//! same keys (text, every single byte, binary, the empty key and a null
//! key) to a 7-partition topic on durian's broker; wherever librdkafka's
//! rule is deterministic, both put each key on the same partition.
//!
//! The Python interpreter comes from `DURIAN_PEERS_PYTHON`, else
//! `<repo>/.peers/venv/bin/python` (scripts/install-peers.sh); without it
//! the test is skipped unless `DURIAN_REQUIRE_PEERS=1`.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use common::{admin_client, create_topic, start_broker};
use durian_producer::partitioner::{Partitioner, PartitionerKind, TopicPartitions};
use durian_producer::{Producer, ProducerRecord};
use durian_testkit::confluent_python;
use futures::future::join_all;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers");
const PARTITIONS: i32 = 7;

/// The keys as partition_keys.py reads them: "-" null, "=" empty, else hex.
fn key_lines() -> Vec<String> {
    let mut lines = vec!["-".to_owned(), "=".to_owned()];
    lines.extend((0..150).map(|n| hex(format!("user-{n}").as_bytes())));
    lines.extend((0..=255u8).map(|b| hex(&[b])));
    lines.extend(
        (2..60usize).map(|n| hex(&(0..n).map(|i| (i * 37 + n) as u8).collect::<Vec<u8>>())),
    );
    lines
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn key_of(line: &str) -> Option<Bytes> {
    match line {
        "-" => None,
        "=" => Some(Bytes::new()),
        hex => Some(Bytes::from(
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect::<Vec<u8>>(),
        )),
    }
}

/// Runs partition_keys.py; returns (partitioner, line) → partition.
async fn librdkafka_placements(
    python: &std::path::Path,
    bootstrap: &str,
    topic: &str,
    kinds: &[PartitionerKind],
    lines: &[String],
) -> BTreeMap<(String, String), i32> {
    let mut child = Command::new(python)
        .arg(format!("{PEERS}/partition_keys.py"))
        .args([bootstrap, topic])
        .args(kinds.iter().map(|k| k.name()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(lines.join("\n").as_bytes()).await.unwrap();
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the peer finishes within two minutes")
        .unwrap();
    assert!(
        output.status.success(),
        "peer failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let mut placed = BTreeMap::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 3, "malformed peer line {line:?}");
        let previous = placed.insert(
            (fields[0].to_owned(), fields[1].to_owned()),
            fields[2].parse::<i32>().unwrap(),
        );
        assert!(previous.is_none(), "two reports for {line:?}");
    }
    placed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durian_places_keys_like_every_librdkafka_partitioner() {
    let Some(python) = confluent_python() else {
        return;
    };
    let broker = start_broker(None, "127.0.0.1:0").await;
    let bootstrap = broker.bootstrap();
    let topic = "partitioners";
    create_topic(&admin_client(&bootstrap), topic, PARTITIONS).await;
    let kinds: Vec<PartitionerKind> = PartitionerKind::ALL
        .into_iter()
        .filter(|k| *k != PartitionerKind::Default)
        .collect();
    let lines = key_lines();
    let librdkafka = librdkafka_placements(&python, &bootstrap, topic, &kinds, &lines).await;
    assert_eq!(
        librdkafka.len(),
        kinds.len() * lines.len(),
        "a report per record"
    );

    let all = TopicPartitions {
        count: PARTITIONS,
        available: (0..PARTITIONS).collect(),
    };
    let mut compared = 0;
    for kind in kinds {
        let producer = Producer::from_properties([
            ("bootstrap.servers", bootstrap.as_str()),
            ("partitioner", kind.name()),
            ("linger.ms", "5"),
        ])
        .unwrap();
        let mut deliveries = Vec::with_capacity(lines.len());
        for line in &lines {
            let mut record = ProducerRecord::new(topic, Bytes::from_static(b"v"));
            if let Some(key) = key_of(line) {
                record = record.with_key(key);
            }
            deliveries.push(producer.send(record).await.unwrap());
        }
        for (line, delivery) in lines.iter().zip(join_all(deliveries).await) {
            let durian = delivery.unwrap().partition;
            let theirs = librdkafka[&(kind.name().to_owned(), line.clone())];
            assert!((0..PARTITIONS).contains(&durian), "{kind} {line}: {durian}");
            // Deterministic wherever the rule hashes (not random, not sticky).
            let key = key_of(line);
            let rule = match kind {
                PartitionerKind::Random => None,
                _ => kind.partition(topic, key.as_deref(), None, &all),
            };
            if let Some(expected) = rule {
                assert_eq!(theirs, expected, "librdkafka {kind}, key {line}");
                assert_eq!(durian, expected, "durian {kind}, key {line}");
                compared += 1;
            }
        }
        producer.close(Duration::from_secs(10)).await.unwrap();
    }
    // 6 hashing partitioners over 466 keys, less the sticky null/empty keys.
    assert!(compared >= 6 * 460, "only {compared} placements compared");
    broker.shutdown().await.unwrap();
}
