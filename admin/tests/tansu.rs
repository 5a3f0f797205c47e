//! The admin client against Tansu, an independent Kafka-protocol broker.
//!
//! The binary comes from `DURIAN_TANSU_BIN`, else `<repo>/.peers/bin/tansu`
//! (scripts/install-peers.sh installs it). Without it the tests are skipped
//! with a message, or fail when `DURIAN_REQUIRE_PEERS=1`. An operation Tansu
//! reports as unsupported (no version of the API, or UNSUPPORTED_VERSION)
//! is skipped with a message; any other failure fails the test.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use durian_admin::{Admin, NewTopic, OffsetSpec, TopicPartition};
use durian_core::{Error, KafkaCode};
use tokio::time::Instant;

fn tansu_binary() -> Option<PathBuf> {
    let path = match std::env::var_os("DURIAN_TANSU_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.peers/bin/tansu"),
    };
    if path.is_file() {
        return Some(path);
    }
    let hint = "Tansu not found: run scripts/install-peers.sh or set DURIAN_TANSU_BIN";
    if std::env::var("DURIAN_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{hint}");
    }
    eprintln!("skipping: {hint}");
    None
}

/// A Tansu broker with in-memory storage, killed on drop.
struct Tansu {
    child: Child,
    address: String,
}

impl Tansu {
    async fn start(binary: PathBuf) -> Tansu {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        let child = Command::new(binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start tansu");
        let tansu = Tansu { child, address };
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(&tansu.address)
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {}",
                tansu.address
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tansu
    }

    async fn admin(&self) -> Admin {
        Admin::builder()
            .client_config(common::client_config(&self.address))
            .default_api_timeout(Duration::from_secs(20))
            .connect()
            .await
            .unwrap()
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `error` says the broker does not implement the request.
fn unsupported(error: &Error) -> bool {
    matches!(error, Error::UnsupportedVersion { .. })
        || error.kafka_code() == Some(KafkaCode::UNSUPPORTED_VERSION)
}

/// Skips (returns `None`) when Tansu does not support the operation.
fn supported<T>(operation: &str, result: Result<T, Error>) -> Option<T> {
    match result {
        Err(error) if unsupported(&error) => {
            eprintln!("skipping {operation}: Tansu does not support it ({error})");
            None
        }
        other => Some(other.unwrap_or_else(|e| panic!("{operation} failed: {e}"))),
    }
}

#[tokio::test]
async fn topics_are_created_listed_described_and_deleted() {
    let Some(binary) = tansu_binary() else {
        return;
    };
    let tansu = Tansu::start(binary).await;
    let admin = tansu.admin().await;
    let mut created = admin
        .create_topics([NewTopic::new("admin-tansu", 3).replication_factor(1)])
        .await;
    let Some(created) = supported("CreateTopics", created.remove("admin-tansu").unwrap()) else {
        return;
    };
    assert!(
        created.partitions == 3 || created.partitions == -1,
        "{created:?}"
    );

    if let Some(listed) = supported("list topics", admin.list_topics().await) {
        assert!(listed.iter().any(|t| t.name == "admin-tansu"), "{listed:?}");
    }
    let mut described = admin.describe_topics(["admin-tansu"]).await;
    if let Some(topic) = supported("describe topics", described.remove("admin-tansu").unwrap()) {
        assert_eq!(topic.partitions.len(), 3);
        assert!(
            topic.partitions.iter().all(|p| p.leader.is_some()),
            "{topic:?}"
        );
    }
    let mut deleted = admin.delete_topics(["admin-tansu"]).await;
    if supported("DeleteTopics", deleted.remove("admin-tansu").unwrap()).is_some() {
        let listed = admin.list_topics().await.unwrap();
        assert!(
            !listed.iter().any(|t| t.name == "admin-tansu"),
            "{listed:?}"
        );
    }
}

#[tokio::test]
async fn cluster_is_described() {
    let Some(binary) = tansu_binary() else {
        return;
    };
    let tansu = Tansu::start(binary).await;
    let admin = tansu.admin().await;
    let Some(cluster) = supported("describe cluster", admin.describe_cluster().await) else {
        return;
    };
    assert_eq!(cluster.brokers.len(), 1, "{cluster:?}");
    let broker = &cluster.brokers[0];
    assert_eq!(format!("{}:{}", broker.host, broker.port), tansu.address);
}

#[tokio::test]
async fn offsets_are_listed_after_producing() {
    let Some(binary) = tansu_binary() else {
        return;
    };
    let tansu = Tansu::start(binary).await;
    let admin = tansu.admin().await;
    let mut created = admin
        .create_topics([NewTopic::new("admin-tansu-offsets", 1).replication_factor(1)])
        .await;
    supported(
        "CreateTopics",
        created.remove("admin-tansu-offsets").unwrap(),
    )
    .unwrap();
    let tp = TopicPartition::new("admin-tansu-offsets", 0);
    // Single-record batches with wall-clock timestamps: Tansu 0.6 reports
    // the end offset as the last batch's base offset + 1 and stamps records
    // with its own clock (see docs/ADMIN.md), so only this shape gives the
    // same answers as Kafka.
    let now_ms = || {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        i64::try_from(since_epoch.as_millis()).unwrap()
    };
    common::produce(&admin, &tp, 1, now_ms()).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let between = now_ms();
    tokio::time::sleep(Duration::from_millis(20)).await;
    common::produce(&admin, &tp, 1, now_ms()).await;
    common::produce(&admin, &tp, 1, now_ms()).await;
    let lookup = |spec| {
        let admin = admin.clone();
        let tp = tp.clone();
        async move {
            let mut found = admin.list_offsets([(tp.clone(), spec)]).await;
            found.remove(&tp).unwrap()
        }
    };
    let Some(earliest) = supported("ListOffsets", lookup(OffsetSpec::Earliest).await) else {
        return;
    };
    assert_eq!(earliest.offset, Some(0));
    let latest = lookup(OffsetSpec::Latest).await.unwrap();
    assert_eq!(latest.offset, Some(3));
    let by_time = lookup(OffsetSpec::Timestamp(between)).await;
    if let Some(by_time) = supported("ListOffsets by timestamp", by_time) {
        assert_eq!(by_time.offset, Some(1), "{by_time:?}");
    }
}
