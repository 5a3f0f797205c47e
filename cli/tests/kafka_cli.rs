//! The `durian` command against Apache Kafka 4.x (one KRaft node shared by
//! every case): `topic`, `produce`/`consume`, `group` and `perf` run the
//! scenarios of tests/cli_scenarios/mod.rs, which tests/topic.rs,
//! produce_consume.rs, group.rs and perf.rs run against durian's own
//! broker; what `topic describe` prints is compared with what Kafka's own
//! TopicCommand reports; `ship` sends a log file that is read back
//! exactly. Skipped without the Kafka jars, failed instead when
//! `DURIAN_REQUIRE_PEERS=1`.

#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod cli_scenarios;
mod common;
#[path = "../../tests/support/ship.rs"]
mod ship_support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cli_scenarios::{row, LIFECYCLE_TOPIC};
use common::create_topic;
use durian::ship::checkpoint::Checkpoint;
use durian_testkit::KafkaCluster;
use ship_support::{append, assert_shipped_exactly, TopicReader, PARTITIONS, TOPIC};

/// How long a case waits for records or for `durian ship` to exit.
const PATIENCE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durian_cli_commands_on_kafka() {
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    let b = kafka.bootstrap();
    let leader = kafka.node_ids()[0];
    cli_scenarios::topic_lifecycle(&b, leader, |described| {
        described_as_kafka_holds_it(&b, described, leader);
    })
    .await;
    cli_scenarios::keys_headers_tabs_and_unicode_round_trip(&b).await;
    cli_scenarios::group_describe_seek_and_delete(&b).await;
    cli_scenarios::perf_produce_then_consume(&b, "perf").await;
    ship_sends_a_file_exactly_once_in_order(&b).await;
}

/// `durian topic describe` (after `retention.ms` was removed and
/// `segment.ms` set) against Kafka's TopicCommand: the same topic id (in
/// Kafka's base64 form), partition count, leaders, replicas, ISR and
/// configs that are not at their defaults.
fn described_as_kafka_holds_it(bootstrap: &str, described: &str, leader: i32) {
    let kafka = topic_command(bootstrap, LIFECYCLE_TOPIC);
    let (topic, partitions) = kafka.split_first().unwrap();
    assert_eq!(
        row(described, "id").unwrap()[1],
        topic["TopicId"],
        "{described}\n{kafka:?}"
    );
    assert_eq!(
        row(described, "partitions").unwrap()[1],
        topic["PartitionCount"]
    );
    // Kafka's tool lists every config not at its static default: the
    // topic's overrides and cluster-wide dynamic defaults.
    let overridden: BTreeSet<String> = described
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| cells.len() == 3 && !["default", "SOURCE"].contains(&cells[2]))
        .map(|cells| format!("{}={}", cells[0], cells[1]))
        .collect();
    let held: BTreeSet<String> = topic["Configs"].split(',').map(str::to_owned).collect();
    assert_eq!(overridden, held, "{described}");
    assert!(overridden.contains("segment.ms=3600000"));
    assert_eq!(partitions.len(), 3, "{kafka:?}");
    for partition in partitions {
        let cells = row(described, &partition["Partition"]).unwrap();
        // PARTITION LEADER EPOCH REPLICAS ISR ...
        let shown = [&cells[1], &cells[3], &cells[4]];
        let held = [
            &partition["Leader"],
            &partition["Replicas"],
            &partition["Isr"],
        ];
        assert_eq!(shown, held, "{described}\n{kafka:?}");
        assert_eq!(partition["Leader"], leader.to_string());
    }
}

/// Kafka's `TopicCommand --describe --topic TOPIC`: its topic line, then
/// one line per partition, each as `Key: value` cells.
fn topic_command(bootstrap: &str, topic: &str) -> Vec<BTreeMap<String, String>> {
    let (libs, java) = durian_testkit::kafka::installation().expect("Kafka's jars and a JVM");
    let output = Command::new(java)
        .arg("-Xmx256m")
        .arg("-cp")
        .arg(format!("{}/*", libs.display()))
        .arg("org.apache.kafka.tools.TopicCommand")
        .args([
            "--bootstrap-server",
            bootstrap,
            "--describe",
            "--topic",
            topic,
        ])
        .output()
        .expect("run TopicCommand");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "TopicCommand failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Cells are tab-separated; a cell's value may be empty (`Elr: `).
    stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            line.split('\t')
                .filter_map(|cell| cell.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect()
        })
        .collect()
}

/// `durian ship` follows a log file: lines written before it starts and
/// while it runs reach the topic once each, in file order, in one
/// partition; SIGTERM stops it cleanly with the whole file checkpointed.
async fn ship_sends_a_file_exactly_once_in_order(b: &str) {
    create_topic(b, TOPIC, PARTITIONS).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let agent_log = dir.path().join("agent.stderr");
    let mut topic = TopicReader::new(b, PATIENCE).with_diagnostics(&agent_log);
    let mut lines = append(&log, 0..100);
    let mut agent = Command::new(env!("CARGO_BIN_EXE_durian"))
        .args([
            "-b",
            b,
            "ship",
            "--topic",
            TOPIC,
            "--poll-interval-ms",
            "20",
        ])
        .args(["--checkpoint-interval-ms", "50", "--file"])
        .arg(&log)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&agent_log).unwrap())
        .spawn()
        .unwrap();
    topic.wait_for(100).await;
    lines.extend(append(&log, 100..150));
    topic.wait_for(150).await;

    let term = Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = agent.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "durian ship did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        status.success(),
        "exit {status:?}; stderr:\n{}",
        std::fs::read_to_string(&agent_log).unwrap_or_default()
    );
    let saved = Checkpoint::load(&dir.path().join("access.log.durian-ship"))
        .unwrap()
        .unwrap();
    assert_eq!(saved.position, std::fs::metadata(&log).unwrap().len());
    assert_shipped_exactly(&topic.read_to_end().await, &lines);
}
