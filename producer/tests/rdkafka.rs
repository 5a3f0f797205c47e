//! The producer against librdkafka: records durian writes to its own broker
//! are read back by the Python confluent-kafka package (and by kcat), byte
//! for byte, for every codec; and durian's default partitioner places keyed
//! records where librdkafka's `murmur2_random` partitioner does.
//!
//! The Python interpreter comes from `DURIAN_PEERS_PYTHON`, else
//! `<repo>/.peers/venv/bin/python` (scripts/install-peers.sh); kcat from
//! `DURIAN_KCAT_BIN`, else `kcat` on the PATH. Without them the tests are
//! skipped unless `DURIAN_REQUIRE_PEERS=1`.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use durian_producer::{Compression, Producer, ProducerRecord};
use futures::future::join_all;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

const PEERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers");

use durian_testkit::{confluent_python as python, kcat};

fn producer_for(bootstrap: &str, codec: Compression) -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .compression(codec)
        .configure(|c| {
            c.client.request_timeout = Duration::from_secs(10);
            c.client.retry_backoff = Duration::from_millis(20);
            c.client.retry_backoff_max = Duration::from_millis(200);
        })
        .build()
        .unwrap()
}

/// Runs a peer program to completion and returns its standard output,
/// failing the test with its standard error if it exits unsuccessfully.
async fn run_peer(mut command: Command, stdin: Option<String>) -> String {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .await
        .unwrap();
    drop(input);
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("peer finishes within two minutes")
        .unwrap();
    assert!(
        output.status.success(),
        "peer failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_or_dash(data: Option<&Bytes>) -> String {
    data.map_or_else(|| "-".to_owned(), |d| hex(d))
}

/// One record as the peer prints it: everything but partition and offset.
#[derive(Debug, PartialEq, Eq)]
struct SeenRecord {
    key: String,
    value: String,
    timestamp_type: String,
    timestamp: i64,
    headers: String,
}

/// Parses read_all.py's output into (partition, offset) → record, failing
/// on a record seen twice.
fn parse_read_all(output: &str) -> BTreeMap<(i32, i64), SeenRecord> {
    let mut seen = BTreeMap::new();
    for line in output.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 7, "malformed peer line {line:?}");
        let position = (fields[0].parse().unwrap(), fields[1].parse().unwrap());
        let record = SeenRecord {
            key: fields[2].to_owned(),
            value: fields[3].to_owned(),
            timestamp_type: fields[4].to_owned(),
            timestamp: fields[5].parse().unwrap(),
            headers: fields[6].to_owned(),
        };
        let previous = seen.insert(position, record);
        assert!(previous.is_none(), "{position:?} read twice");
    }
    seen
}

/// The `n`th test record: a key, a value with every byte value in it
/// (null for every 97th record), repeated header keys (one header null)
/// and an explicit timestamp.
fn test_record(topic: &str, n: usize) -> ProducerRecord {
    let base = if n % 97 == 13 {
        ProducerRecord::tombstone(topic)
    } else {
        let mut value = format!("value-{n}\t\n").into_bytes();
        value.extend((0..=255u8).cycle().skip(n % 256).take(n % 300));
        ProducerRecord::new(topic, Bytes::from(value))
    };
    let mut record = base
        .with_key(Bytes::from(format!("key-{n}")))
        .with_timestamp(1_700_000_000_000 + (n as i64) * 7)
        .with_header("seq", n.to_string())
        .with_header("trace", Bytes::from(vec![0u8, 255, n as u8]))
        .with_header("seq", "second");
    if n.is_multiple_of(5) {
        record = record.with_null_header("maybe");
    }
    record
}

fn expected_headers(record: &ProducerRecord) -> String {
    record
        .headers
        .iter()
        .map(|h| format!("{}:{}", hex(&h.key), hex_or_dash(h.value.as_ref())))
        .collect::<Vec<_>>()
        .join(",")
}

/// Produces `count` records with `codec` and returns them by the
/// (partition, offset) their delivery futures reported.
async fn produce_test_records(
    bootstrap: &str,
    topic: &str,
    codec: Compression,
    count: usize,
) -> BTreeMap<(i32, i64), ProducerRecord> {
    let producer = producer_for(bootstrap, codec);
    let mut sent = Vec::with_capacity(count);
    let mut futures = Vec::with_capacity(count);
    for n in 0..count {
        let record = test_record(topic, n);
        futures.push(producer.send(record.clone()).await.unwrap());
        sent.push(record);
    }
    let mut by_position = BTreeMap::new();
    for (record, result) in sent.into_iter().zip(join_all(futures).await) {
        let written = result.unwrap();
        assert!(written.offset >= 0, "no offset reported: {written:?}");
        assert_eq!(
            Some(written.timestamp),
            record.timestamp,
            "create-time timestamp reported as sent"
        );
        let previous = by_position.insert((written.partition, written.offset), record);
        assert!(previous.is_none(), "two records reported at one offset");
    }
    producer.close(Duration::from_secs(10)).await.unwrap();
    by_position
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_produced_by_durian_are_read_exactly_by_confluent_kafka() {
    let Some(python) = python() else { return };
    const PARTITIONS: i32 = 3;
    const COUNT: usize = 2000;
    let broker = start_broker(None, "127.0.0.1:0").await;
    let bootstrap = broker.bootstrap();
    let admin = admin_client(&bootstrap);
    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    for codec in codecs {
        let topic = format!("interop-{codec:?}").to_lowercase();
        create_topic(&admin, &topic, PARTITIONS).await;
        let sent = produce_test_records(&bootstrap, &topic, codec, COUNT).await;
        assert_eq!(sent.len(), COUNT);
        for partition in 0..PARTITIONS {
            assert!(
                sent.keys().any(|(p, _)| *p == partition),
                "keys spread over every partition"
            );
        }

        let mut command = Command::new(&python);
        command
            .arg(format!("{PEERS}/read_all.py"))
            .args([bootstrap.as_str(), topic.as_str()])
            .arg(PARTITIONS.to_string());
        let seen = parse_read_all(&run_peer(command, None).await);
        assert_eq!(seen.len(), COUNT, "{codec:?}: every record read once");
        for (position, record) in &sent {
            let read = seen
                .get(position)
                .unwrap_or_else(|| panic!("{codec:?}: nothing read at {position:?}"));
            let expected = SeenRecord {
                key: hex_or_dash(record.key.as_ref()),
                value: hex_or_dash(record.value.as_ref()),
                // confluent_kafka.TIMESTAMP_CREATE_TIME
                timestamp_type: "1".to_owned(),
                timestamp: record.timestamp.unwrap(),
                headers: expected_headers(record),
            };
            assert_eq!(read, &expected, "{codec:?}: record at {position:?}");
        }
    }
    broker.shutdown().await.unwrap();
}

/// Keys for the partitioner test, all distinct: text, every single byte,
/// and binary keys of 2 to 199 bytes.
fn partitioner_keys() -> Vec<Bytes> {
    let mut keys: Vec<Bytes> = (0..600).map(|n| Bytes::from(format!("user-{n}"))).collect();
    keys.extend((0..=255u8).map(|b| Bytes::from(vec![b])));
    keys.extend(
        (2..200usize).map(|n| Bytes::from((0..n).map(|i| (i * 31 + n) as u8).collect::<Vec<u8>>())),
    );
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durian_partitions_keys_like_librdkafka_murmur2_random() {
    let Some(python) = python() else { return };
    const PARTITIONS: i32 = 6;
    let broker = start_broker(None, "127.0.0.1:0").await;
    let bootstrap = broker.bootstrap();
    let admin = admin_client(&bootstrap);
    let topic = "partitioned-by-key";
    create_topic(&admin, topic, PARTITIONS).await;
    let keys = partitioner_keys();

    let input: String = keys.iter().map(|k| format!("{}\n", hex(k))).collect();
    let mut command = Command::new(&python);
    command
        .arg(format!("{PEERS}/produce_keys.py"))
        .args([bootstrap.as_str(), topic])
        .arg(keys.len().to_string());
    let output = run_peer(command, Some(input)).await;
    let mut librdkafka = BTreeMap::new();
    for line in output.lines() {
        let (key, partition) = line.split_once('\t').expect("key<TAB>partition");
        librdkafka.insert(key.to_owned(), partition.parse::<i32>().unwrap());
    }
    assert_eq!(librdkafka.len(), keys.len(), "a report for every key");

    let producer = producer_for(&bootstrap, Compression::None);
    let mut futures = Vec::with_capacity(keys.len());
    for key in &keys {
        let record = ProducerRecord::new(topic, Bytes::from_static(b"v")).with_key(key.clone());
        futures.push(producer.send(record).await.unwrap());
    }
    let mut used = std::collections::BTreeSet::new();
    for (key, result) in keys.iter().zip(join_all(futures).await) {
        let written = result.unwrap();
        used.insert(written.partition);
        assert_eq!(
            Some(&written.partition),
            librdkafka.get(&hex(key)),
            "partition of key {}",
            hex(key)
        );
    }
    assert_eq!(
        used.len(),
        PARTITIONS as usize,
        "keys reach every partition"
    );
    producer.close(Duration::from_secs(10)).await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_reads_durians_zstd_records() {
    let Some(kcat) = kcat() else { return };
    const COUNT: usize = 500;
    let broker = start_broker(None, "127.0.0.1:0").await;
    let bootstrap = broker.bootstrap();
    let admin = admin_client(&bootstrap);
    let topic = "kcat-zstd";
    create_topic(&admin, topic, 1).await;
    let producer = producer_for(&bootstrap, Compression::Zstd);
    let mut futures = Vec::with_capacity(COUNT);
    for n in 0..COUNT {
        let record = ProducerRecord::new(
            topic,
            Bytes::from(format!("value {n} {}", "z".repeat(n % 50))),
        )
        .with_key(Bytes::from(format!("k{n}")));
        futures.push(producer.send(record).await.unwrap());
    }
    for result in join_all(futures).await {
        result.unwrap();
    }
    producer.close(Duration::from_secs(10)).await.unwrap();

    let mut command = Command::new(&kcat);
    command.args([
        "-C",
        "-b",
        bootstrap.as_str(),
        "-t",
        topic,
        "-e",
        "-q",
        "-f",
        "%k\t%s\n",
    ]);
    let output = run_peer(command, None).await;
    let lines: Vec<&str> = output.lines().collect();
    let expected: Vec<String> = (0..COUNT)
        .map(|n| format!("k{n}\tvalue {n} {}", "z".repeat(n % 50)))
        .collect();
    assert_eq!(lines, expected, "kcat reads every record in order");
    broker.shutdown().await.unwrap();
}
