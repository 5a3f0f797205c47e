//! Segment files both ways between durian's broker and Apache Kafka 4.x:
//!
//! - Kafka's `kafka.tools.DumpLogSegments` reads the `.log`, `.index` and
//!   `.timeindex` files an embedded durian broker wrote (every codec, keys,
//!   headers, several segments) and finds every record at its offset, no
//!   index mismatch and indexes that pass Kafka's start-up sanity check;
//! - durian's broker serves a partition directory Apache Kafka wrote
//!   (several segments): every record at its original offset with its key,
//!   value, headers and timestamp, seeks into the middle of every segment,
//!   and appends after it at the next offset.
//!
//! The jars come from `DURIAN_KAFKA_LIBS`, else `<repo>/.peers/kafka/libs`
//! (fetched by scripts/install-peers.sh). Without them the tests are
//! skipped with a message, or fail when `DURIAN_REQUIRE_PEERS=1`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use durian_broker::{Broker, LogConfig};
use durian_consumer::{Consumer, OffsetReset, TopicPartition};
use durian_producer::{Producer, ProducerRecord};
use durian_reliability::readback::create_topic;
use durian_testkit::kafka::{installation, INSTALL_HINT};
use durian_testkit::KafkaCluster;
use tokio::time::Instant;

use common::sent::{Sent, CODECS};

/// Records are sent in chunks of this many, each awaited, so every codec
/// writes several batches.
const CHUNK: usize = 50;

/// Record `n`: values up to 1 KiB of pseudo-random bytes, so compression
/// does not shrink them away and segments fill.
fn sent_record(n: usize) -> Sent {
    let value = || {
        let mut state = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let bytes: Vec<u8> = (0..(n * 37) % 1024)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        Bytes::from(bytes)
    };
    Sent::numbered(n, value, base_timestamp() + n as i64)
}

/// The timestamp of record 0: an hour before the test started. Recent on
/// purpose: with old timestamps the 7-day default retention would delete
/// every sealed segment as soon as a broker opens the log.
fn base_timestamp() -> i64 {
    static BASE: OnceLock<i64> = OnceLock::new();
    *BASE.get_or_init(|| {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        i64::try_from(now.as_millis()).unwrap() - 3_600_000
    })
}

/// The producer record that sends `sent` to partition 0 of `topic`.
fn producer_record(topic: &str, sent: &Sent) -> ProducerRecord {
    sent.producer_record(topic).with_partition(0)
}

/// Sends `per_codec` records with each codec to partition 0 of `topic`;
/// returns what was sent by the offset its delivery reported.
async fn produce_every_codec(bootstrap: &str, topic: &str, per_codec: usize) -> Vec<Sent> {
    let mut written = Vec::new();
    for codec in CODECS {
        let producer = Producer::builder()
            .bootstrap_servers([bootstrap])
            .compression(codec)
            .build()
            .unwrap();
        for start in (0..per_codec).step_by(CHUNK) {
            let mut deliveries = Vec::new();
            for _ in start..(start + CHUNK).min(per_codec) {
                let sent = sent_record(written.len() + deliveries.len());
                deliveries.push((
                    producer.send(producer_record(topic, &sent)).await.unwrap(),
                    sent,
                ));
            }
            for (delivery, sent) in deliveries {
                let at = delivery.await.unwrap_or_else(|e| panic!("{codec}: {e}"));
                assert_eq!(
                    at.offset,
                    written.len() as i64,
                    "{codec}: offsets follow the send order"
                );
                written.push(sent);
            }
        }
        producer.close(Duration::from_secs(10)).await.unwrap();
    }
    written
}

/// Reads partition 0 of `topic` from `from` to its end and checks every
/// record against `expected` (indexed by offset).
async fn read_back(bootstrap: &str, topic: &str, from: i64, expected: &[Sent]) {
    let mut consumer = Consumer::builder()
        .bootstrap_servers([bootstrap])
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    let tp = TopicPartition::new(topic, 0);
    consumer.assign([tp.clone()]).unwrap();
    consumer.seek(&tp, from).unwrap();
    let end = expected.len() as i64;
    let mut position = from;
    let deadline = Instant::now() + Duration::from_secs(60);
    while position < end {
        assert!(
            Instant::now() < deadline,
            "{topic}: read up to {position} of {end} from {from}"
        );
        let batch = consumer.poll(Duration::from_millis(500)).await.unwrap();
        assert!(batch.errors.is_empty(), "{topic}: {:?}", batch.errors);
        for record in batch.iter() {
            assert_eq!(
                record.offset, position,
                "{topic}: offsets in order, without gaps, from {from}"
            );
            let got = Sent::received(record);
            assert_eq!(
                &got, &expected[position as usize],
                "{topic}: record at offset {position}"
            );
            position += 1;
        }
    }
    consumer.close().await.unwrap();
}

/// The files of a partition directory ending in `.{ext}`, sorted.
fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

/// Runs Kafka's DumpLogSegments on `files` with `options`; returns stdout
/// and stderr together, failing the test when the tool fails.
fn dump(libs: &Path, java: &Path, files: &[PathBuf], options: &[&str]) -> String {
    let list: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let output = Command::new(java)
        .arg("-Xmx256m")
        .arg("-cp")
        .arg(format!("{}/*", libs.display()))
        .arg("kafka.tools.DumpLogSegments")
        .arg("--files")
        .arg(list.join(","))
        .args(options)
        .output()
        .expect("run DumpLogSegments");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "DumpLogSegments {options:?} failed:\n{text}"
    );
    text
}

/// The value after `name: ` on a dump line (`None` when absent).
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {name}: "))? + name.len() + 3;
    line[start..].split_whitespace().next()
}

fn size_of(bytes: &Option<Bytes>) -> i64 {
    bytes.as_ref().map_or(-1, |b| b.len() as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_dump_log_segments_reads_durian_segments() {
    let Some((libs, java)) = installation() else {
        assert!(!durian_testkit::peers_required(), "{INSTALL_HINT}");
        eprintln!("skipping: {INSTALL_HINT}");
        return;
    };
    let started = std::time::Instant::now();
    let data = tempfile::tempdir().unwrap();
    // 256 KiB segments: below the 1 MiB CreateTopics accepts, allowed
    // through the LogConfig struct, so a few hundred KiB roll several.
    let config = LogConfig {
        segment_bytes: 256 * 1024,
        ..LogConfig::default()
    };
    let broker = Broker::builder()
        .data_dir(data.path())
        .listen("127.0.0.1:0")
        .log_config(config)
        .start()
        .await
        .unwrap();
    let topic = "dumped";
    create_topic(&broker.bootstrap(), topic, 1).await.unwrap();
    let written = produce_every_codec(&broker.bootstrap(), topic, 300).await;
    broker.shutdown().await.unwrap();

    let dir = data.path().join("logs").join(format!("{topic}-0"));
    let logs = files_with(&dir, "log");
    assert!(logs.len() >= 3, "expected several segments, got {logs:?}");
    let text = dump(&libs, &java, &logs, &["--deep-iteration"]);
    let mut offsets = Vec::new();
    let mut codecs = BTreeMap::new();
    for line in text.lines() {
        let lower = line.to_lowercase();
        for bad in ["exception", "corrupt", "error", "mismatch", "invalid"] {
            assert!(
                !lower.contains(bad),
                "DumpLogSegments reports {bad}: {line}"
            );
        }
        if line.starts_with("baseOffset:") {
            *codecs
                .entry(field(line, "compresscodec").unwrap().to_owned())
                .or_insert(0) += 1;
            assert_eq!(field(line, "isvalid"), Some("true"), "{line}");
        }
        if let Some(rest) = line.strip_prefix("| offset: ") {
            let offset: i64 = rest.split_whitespace().next().unwrap().parse().unwrap();
            let sent = &written[offset as usize];
            assert_eq!(
                field(line, "keySize"),
                Some(size_of(&sent.key).to_string().as_str()),
                "{line}"
            );
            assert_eq!(
                field(line, "valueSize"),
                Some(size_of(&sent.value).to_string().as_str()),
                "{line}"
            );
            assert_eq!(
                field(line, "CreateTime"),
                Some(sent.timestamp.to_string().as_str()),
                "{line}"
            );
            offsets.push(offset);
        }
    }
    let expected: Vec<i64> = (0..written.len() as i64).collect();
    assert_eq!(
        offsets, expected,
        "DumpLogSegments sees every record at its offset"
    );
    assert_eq!(
        codecs.len(),
        CODECS.len(),
        "batches of every codec: {codecs:?}"
    );

    let mut indexes = files_with(&dir, "index");
    indexes.extend(files_with(&dir, "timeindex"));
    let verified = dump(&libs, &java, &indexes, &["--verify-index-only"]);
    for line in verified.lines() {
        let lower = line.to_lowercase();
        for bad in [
            "exception",
            "corrupt",
            "error",
            "mismatch",
            "not in log",
            "not found",
        ] {
            assert!(
                !lower.contains(bad),
                "index verification reports {bad}: {line}\n{verified}"
            );
        }
    }
    let sane = dump(&libs, &java, &indexes, &["--index-sanity-check"]);
    let passed = sane
        .lines()
        .filter(|l| l.contains("passed sanity check"))
        .count();
    assert_eq!(
        passed,
        indexes.len(),
        "every index passes Kafka's sanity check:\n{sane}"
    );
    eprintln!(
        "{} records in {} segments dumped by Kafka in {:?}",
        written.len(),
        logs.len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durian_serves_a_partition_directory_written_by_kafka() {
    let started = std::time::Instant::now();
    // Kafka 4.2 refuses segments below 1 MiB, so ~2.5 MiB of records roll
    // a few.
    let Some(mut kafka) = KafkaCluster::start(1, &[("log.segment.bytes", "1048576")]).await else {
        return;
    };
    let topic = "kafka-made";
    create_topic(&kafka.bootstrap(), topic, 1).await.unwrap();
    let written = produce_every_codec(&kafka.bootstrap(), topic, 1_000).await;
    kafka.stop(1).await;
    let source = kafka.log_dir(1).join(format!("{topic}-0"));
    let kafka_logs = files_with(&source, "log");
    assert!(
        kafka_logs.len() >= 3,
        "expected several Kafka segments, got {kafka_logs:?}"
    );

    // durian learns topics from its catalog: create the topic, stop, and
    // put Kafka's segments in place of durian's empty one.
    let data = tempfile::tempdir().unwrap();
    let broker = Broker::builder()
        .data_dir(data.path())
        .listen("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    create_topic(&broker.bootstrap(), topic, 1).await.unwrap();
    broker.shutdown().await.unwrap();
    let target = data.path().join("logs").join(format!("{topic}-0"));
    for ext in ["log", "index", "timeindex"] {
        for file in files_with(&target, ext) {
            std::fs::remove_file(file).unwrap();
        }
    }
    let mut copied = Vec::new();
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // Kafka's partition.metadata names Kafka's topic id; durian's
        // catalog has its own, so durian's file stays.
        if path.is_file() && name != "partition.metadata" {
            std::fs::copy(&path, target.join(&name)).unwrap();
            copied.push(name);
        }
    }
    copied.sort();
    eprintln!("copied from Kafka: {copied:?}");

    let broker = Broker::builder()
        .data_dir(data.path())
        .listen("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let bootstrap = broker.bootstrap();
    read_back(&bootstrap, topic, 0, &written).await;
    // A seek into the middle of every segment goes through its offset index.
    for log in &kafka_logs {
        let base: i64 = log.file_stem().unwrap().to_string_lossy().parse().unwrap();
        read_back(
            &bootstrap,
            topic,
            (base + 7).min(written.len() as i64 - 1),
            &written,
        )
        .await;
    }
    // Appending continues at Kafka's log end offset, idempotently: the log
    // holds Kafka's producer ids 0..=4, and durian's id allocator hands out
    // ids above every producer id its logs hold (docs/STORAGE.md,
    // "Compatibility with Apache Kafka's files").
    let producer = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .build()
        .unwrap();
    let next = sent_record(written.len());
    let at = producer
        .send(producer_record(topic, &next))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(
        at.offset,
        written.len() as i64,
        "the next offset after Kafka's records"
    );
    producer.close(Duration::from_secs(10)).await.unwrap();
    let mut all = written.clone();
    all.push(next);
    read_back(&bootstrap, topic, all.len() as i64 - 1, &all).await;
    broker.shutdown().await.unwrap();
    eprintln!(
        "{} Kafka records in {} segments served by durian in {:?}",
        written.len(),
        kafka_logs.len(),
        started.elapsed()
    );
}
