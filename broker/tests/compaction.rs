//! Log compaction end to end: keyed records and tombstones produced to a
//! compacted topic on the embedded broker (tiny segments), the cleaner run
//! through `BrokerHandle::run_log_cleaner`, and a read from offset 0 over
//! Fetch; then the same records on Apache Kafka 4.x, whose cleaned log
//! must read back as the same (offset, key, value) sequence, and Kafka's
//! DumpLogSegments over durian's cleaned segments. The Kafka half is
//! skipped without the peers (failed with `DURIAN_REQUIRE_PEERS=1`).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::wait::eventually;
use common::{records_of, TestClient};
use durian_broker::{Broker, BrokerHandle};
use durian_core::record::{BatchWriter, NO_HEADERS};
use durian_testkit::kafka::installation;
use durian_testkit::KafkaCluster;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    CreateTopicsRequest, DescribeConfigsRequest, FetchRequest, IncrementalAlterConfigsRequest,
    ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

type Row = (i64, Option<Bytes>, Option<Bytes>);

const TOPIC: &str = "compacted";

/// Topic configs used on both brokers.
const CONFIGS: &[(&str, &str)] = &[
    ("cleanup.policy", "compact"),
    ("min.cleanable.dirty.ratio", "0.01"),
    ("segment.ms", "100"),
];

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

/// 50 updates of 8 keys: k3's tombstone (record 19) is superseded later,
/// k5's (record 45) is its key's last word.
fn dataset() -> Vec<(String, Option<String>)> {
    (0..50)
        .map(|i| {
            let value = (i != 19 && i != 45).then(|| format!("v{i}"));
            (format!("k{}", i % 8), value)
        })
        .collect()
}

async fn create_topic(client: &mut TestClient, topic: &str, configs: &[(&str, &str)]) {
    let configs = configs
        .iter()
        .map(|(k, v)| {
            CreatableTopicConfig::default()
                .with_name(StrBytes::from_string(k.to_string()))
                .with_value(Some(StrBytes::from_string(v.to_string())))
        })
        .collect();
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(1)
            .with_replication_factor(1)
            .with_configs(configs)]);
    let response = client.call(&request, 5).await;
    assert_eq!(
        response.topics[0].error_code, 0,
        "{:?}",
        response.topics[0].error_message
    );
}

/// Produces one record in its own batch; returns its offset.
async fn produce_to(client: &mut TestClient, topic: &str, key: &str, value: Option<&str>) -> i64 {
    let (error, offset) = try_produce_to(client, topic, key, value).await;
    assert_eq!(error, 0, "produce {key}");
    offset
}

/// Produces one record in its own batch; returns the error code and offset.
async fn try_produce_to(
    client: &mut TestClient,
    topic: &str,
    key: &str,
    value: Option<&str>,
) -> (i16, i64) {
    let mut writer = BatchWriter::builder().build();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    writer
        .try_append(
            now,
            Some(key.as_bytes()),
            value.map(str::as_bytes),
            NO_HEADERS,
        )
        .unwrap();
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(writer.finish().unwrap()))])]);
    let response = client.call(&request, 9).await;
    let partition = &response.responses[0].partition_responses[0];
    (partition.error_code, partition.base_offset)
}

/// Produces one record to the test topic.
async fn produce(client: &mut TestClient, key: &str, value: Option<&str>) -> i64 {
    produce_to(client, TOPIC, key, value).await
}

/// Every (offset, key, value) a read_uncommitted reader from offset 0 gets.
async fn read_all(client: &mut TestClient) -> Vec<Row> {
    read_all_of(client, TOPIC).await
}

/// [`read_all`] of `topic`.
async fn read_all_of(client: &mut TestClient, topic: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut offset = 0;
    loop {
        let request = FetchRequest::default()
            .with_max_wait_ms(0)
            .with_min_bytes(0)
            .with_max_bytes(1 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(name(topic))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(1 << 20)])]);
        let response = client.call(&request, 12).await;
        let partition = &response.responses[0].partitions[0];
        assert_eq!(partition.error_code, 0, "fetch at {offset}");
        let records = partition.records.clone().unwrap_or_default();
        let found = records_of(&records);
        let Some(last) = found.last().map(|r| r.offset) else {
            assert!(
                offset >= partition.high_watermark,
                "no records below the high watermark at {offset}"
            );
            return rows;
        };
        // The first batch may begin before the offset asked for.
        rows.extend(
            found
                .into_iter()
                .filter(|r| r.offset >= offset)
                .map(|r| (r.offset, r.key, r.value)),
        );
        offset = last + 1;
        if offset >= partition.high_watermark {
            return rows;
        }
    }
}

/// The latest record of every key, at its offset.
fn latest_per_key(rows: &[Row]) -> Vec<Row> {
    rows.iter()
        .enumerate()
        .filter(|(i, (_, key, _))| !rows[i + 1..].iter().any(|(_, k, _)| k == key))
        .map(|(_, r)| r.clone())
        .collect()
}

fn has_superseded_keys(rows: &[Row]) -> bool {
    let mut seen = HashSet::new();
    rows.iter().any(|(_, key, _)| !seen.insert(key.clone()))
}

/// An embedded broker whose segments hold one small batch each.
async fn durian(data: &Path) -> BrokerHandle {
    Broker::builder()
        .data_dir(data)
        .listen("127.0.0.1:0")
        .log_config(common::tiny_segments())
        .start()
        .await
        .expect("broker starts")
}

/// Produces the dataset then `sentinels` (unique keys) to durian, cleans,
/// and returns what a reader from 0 gets before and after.
async fn durian_run(broker: &BrokerHandle, sentinels: &[String]) -> (Vec<Row>, Vec<Row>) {
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client, TOPIC, CONFIGS).await;
    for (i, (key, value)) in dataset().iter().enumerate() {
        assert_eq!(produce(&mut client, key, value.as_deref()).await, i as i64);
    }
    for key in sentinels {
        produce(&mut client, key, Some("sentinel")).await;
    }
    let before = read_all(&mut client).await;
    let cleaned = broker.run_log_cleaner().await.expect("cleaner");
    assert_eq!(cleaned.len(), 1, "{cleaned:?}");
    let after = read_all(&mut client).await;
    (before, after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_keeps_the_latest_value_per_key_at_its_offset() {
    let data = tempfile::tempdir().unwrap();
    let broker = durian(data.path()).await;
    let (before, after) = durian_run(&broker, &["s0".to_string()]).await;
    assert_eq!(before.len(), 51);
    assert!(has_superseded_keys(&before));
    assert_eq!(after, latest_per_key(&before));
    // k5's tombstone is kept (delete.retention.ms has not passed).
    assert!(after.contains(&(45, Some(Bytes::from_static(b"k5")), None)));
    broker.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_topics_refuse_keyless_records_over_produce() {
    let data = tempfile::tempdir().unwrap();
    let broker = durian(data.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client, TOPIC, CONFIGS).await;
    let mut writer = BatchWriter::builder().build();
    writer.try_append(1, None, Some(b"v"), NO_HEADERS).unwrap();
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(TOPIC))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(writer.finish().unwrap()))])]);
    let response = client.call(&request, 9).await;
    // INVALID_RECORD, as Kafka answers.
    assert_eq!(response.responses[0].partition_responses[0].error_code, 87);
    broker.shutdown().await.expect("shutdown");
}

/// How long a produce or fetch may take while the cleaner is held (below
/// the test client's own 10 s, so this test's message is the one seen).
const WHILE_HELD: Duration = Duration::from_secs(5);

/// Lets a held cleaner go when dropped, so a failing test does not leave
/// it waiting.
struct Release(Arc<durian_broker::StorageFaults>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.release_cleaner();
    }
}

/// The cleaner builds its cleaned segments without the partition lock: a
/// produce and a fetch to the partition complete while a clean of a large
/// sealed set is held mid-way. With the old locking the produce blocked
/// on the partition lock until the clean ended, stalling the runtime's
/// workers: the test then failed once the held cleaner gave up waiting
/// (`StorageFaults::hold_cleaner`'s one-minute limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_fetch_complete_while_the_cleaner_is_mid_clean() {
    let data = tempfile::tempdir().unwrap();
    let broker = durian(data.path()).await;
    let faults = broker.storage_faults();
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client, TOPIC, CONFIGS).await;
    for i in 0..300 {
        let value = format!("v{i}");
        produce(&mut client, &format!("k{}", i % 16), Some(&value)).await;
    }
    let before = read_all(&mut client).await;
    faults.hold_cleaner();
    let during = async {
        let _release = Release(Arc::clone(&faults));
        let held = Arc::clone(&faults);
        let reached =
            tokio::task::spawn_blocking(move || held.wait_cleaner_held(Duration::from_secs(30)))
                .await
                .unwrap();
        assert!(reached, "the cleaner never reached its pause point");
        let (error, offset) = tokio::time::timeout(
            WHILE_HELD,
            try_produce_to(&mut client, TOPIC, "during", Some("the clean")),
        )
        .await
        .expect("produce completes while the cleaner is held");
        assert_eq!(error, 0);
        let fetched = tokio::time::timeout(WHILE_HELD, read_all(&mut client))
            .await
            .expect("fetch completes while the cleaner is held");
        assert_eq!(fetched.len(), before.len() + 1);
        offset
    };
    let (cleaned, offset) = tokio::join!(broker.run_log_cleaner(), during);
    cleaned.expect("cleaner");
    let after = read_all(&mut client).await;
    let produced = (
        offset,
        Some(Bytes::from_static(b"during")),
        Some(Bytes::from_static(b"the clean")),
    );
    // Cleaned: superseded records are gone, the latest of every key and
    // the record produced mid-clean are there.
    assert!(after.len() < before.len(), "{} rows", after.len());
    assert!(after.contains(&produced));
    for latest in latest_per_key(&before) {
        assert!(after.contains(&latest), "{latest:?}");
    }
    broker.shutdown().await.expect("shutdown");
}

/// Sets topic configs with IncrementalAlterConfigs; returns the error code.
async fn alter(client: &mut TestClient, topic: &str, configs: &[(&str, &str)]) -> i16 {
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_string(topic.to_string()))
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        AlterableConfig::default()
                            .with_name(StrBytes::from_string(k.to_string()))
                            .with_config_operation(0)
                            .with_value(Some(StrBytes::from_string(v.to_string())))
                    })
                    .collect(),
            ),
    ]);
    client.call(&request, 1).await.responses[0].error_code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_altered_to_compact_is_described_and_cleaned() {
    let data = tempfile::tempdir().unwrap();
    let broker = durian(data.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client, "altered", &[]).await;
    for (key, value) in dataset() {
        produce_to(&mut client, "altered", &key, value.as_deref()).await;
    }
    produce_to(&mut client, "altered", "last", Some("x")).await;
    let before = read_all_of(&mut client, "altered").await;
    assert!(
        broker.run_log_cleaner().await.unwrap().is_empty(),
        "delete policy: no cleaning"
    );
    assert_eq!(
        alter(
            &mut client,
            "altered",
            &[("min.cleanable.dirty.ratio", "2")]
        )
        .await,
        40
    );
    assert_eq!(
        alter(&mut client, "altered", &[("max.compaction.lag.ms", "0")]).await,
        40
    );
    assert_eq!(
        alter(
            &mut client,
            "altered",
            &[
                ("cleanup.policy", "compact"),
                ("min.cleanable.dirty.ratio", "0.2")
            ]
        )
        .await,
        0
    );
    let describe =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(StrBytes::from_static_str("altered"))]);
    let described = client.call(&describe, 4).await;
    let config = |wanted: &str| {
        described.results[0]
            .configs
            .iter()
            .find(|c| c.name.as_str() == wanted)
            .map(|c| {
                (
                    c.value.as_ref().unwrap().to_string(),
                    c.config_source,
                    c.config_type,
                )
            })
            .unwrap()
    };
    assert_eq!(config("cleanup.policy"), ("compact".to_string(), 1, 7));
    assert_eq!(
        config("min.cleanable.dirty.ratio"),
        ("0.2".to_string(), 1, 6)
    );
    assert_eq!(
        config("delete.retention.ms"),
        ("86400000".to_string(), 5, 5)
    );
    assert_eq!(config("min.compaction.lag.ms"), ("0".to_string(), 5, 5));
    assert_eq!(
        config("max.compaction.lag.ms"),
        (i64::MAX.to_string(), 5, 5)
    );
    let cleaned = broker.run_log_cleaner().await.unwrap();
    assert_eq!(cleaned.len(), 1);
    assert_eq!(
        read_all_of(&mut client, "altered").await,
        latest_per_key(&before)
    );
    broker.shutdown().await.expect("shutdown");
}

/// Runs Kafka's DumpLogSegments; returns its output, failing on an error exit.
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

fn files_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_matches_apache_kafka() {
    let Some(mut kafka) = KafkaCluster::start(1, &[("log.cleaner.backoff.ms", "100")]).await else {
        return;
    };
    let address: SocketAddr = kafka
        .bootstrap()
        .split(',')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut client = TestClient::connect(address).await;
    create_topic(&mut client, TOPIC, CONFIGS).await;
    let data = dataset();
    // Kafka answers NOT_LEADER_OR_FOLLOWER until the new partition has
    // its leader: the first record is retried until it is accepted.
    let (key, value) = &data[0];
    let first = eventually(
        Duration::from_secs(30),
        "Kafka to accept the first record",
        async || {
            let (error, offset) = try_produce_to(&mut client, TOPIC, key, value.as_deref()).await;
            assert!(error == 0 || error == 6, "produce: error {error}");
            (error == 0).then_some(offset)
        },
    )
    .await;
    assert_eq!(first, 0);
    for (i, (key, value)) in data.iter().enumerate().skip(1) {
        assert_eq!(produce(&mut client, key, value.as_deref()).await, i as i64);
    }
    // Kafka cleans only sealed segments, and rolls (segment.ms) only on an
    // append: unique sentinel keys keep it rolling until its cleaner has
    // compacted the dataset. They are never superseded, so they do not
    // change what compaction keeps.
    let mut sentinels = Vec::new();
    let kafka_rows = eventually(
        Duration::from_secs(90),
        "Kafka's cleaner to compact the log",
        async || {
            let key = format!("s{}", sentinels.len());
            produce(&mut client, &key, Some("sentinel")).await;
            sentinels.push(key);
            let rows = read_all(&mut client).await;
            (!has_superseded_keys(&rows)).then_some(rows)
        },
    )
    .await;
    kafka.stop(1).await;

    let data = tempfile::tempdir().unwrap();
    let broker = durian(data.path()).await;
    let (_, durian_rows) = durian_run(&broker, &sentinels).await;
    assert_eq!(
        durian_rows, kafka_rows,
        "durian and Kafka keep the same records at the same offsets"
    );
    eprintln!(
        "both keep {} of {} records ({} sentinels)",
        durian_rows.len(),
        dataset().len() + sentinels.len(),
        sentinels.len()
    );

    // Kafka's own tool reads the cleaned segments (closed cleanly first).
    let partition_dir = broker.data_dir().join("logs").join(format!("{TOPIC}-0"));
    let (libs, java) = installation().expect("Kafka is installed: it just ran");
    broker.shutdown().await.expect("shutdown");
    let logs = files_with(&partition_dir, ".log");
    let deep = dump(&libs, &java, &logs, &["--deep-iteration"]);
    assert!(!deep.contains("isvalid: false"), "{deep}");
    let mut dumped = deep.lines().filter(|l| l.contains("| offset: ")).count();
    // Every record kept is dumped once (offsets as read over Fetch).
    for (offset, _, _) in &durian_rows {
        assert!(
            deep.contains(&format!("| offset: {offset} ")),
            "offset {offset} missing:\n{deep}"
        );
        dumped -= 1;
    }
    assert_eq!(dumped, 0, "no other record in the segments:\n{deep}");
    let indexes: Vec<PathBuf> = files_with(&partition_dir, ".index")
        .into_iter()
        .chain(files_with(&partition_dir, ".timeindex"))
        .collect();
    let verified = dump(&libs, &java, &indexes, &["--verify-index-only"]);
    for bad in ["exception", "corrupt", "mismatch", "not found"] {
        assert!(!verified.to_lowercase().contains(bad), "{verified}");
    }
}
