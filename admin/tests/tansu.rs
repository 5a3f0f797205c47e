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

use durian_testkit::Tansu;
use std::time::Duration;

use durian_admin::{Admin, NewTopic, OffsetSpec, TopicPartition};
use durian_core::{Error, KafkaCode};

/// An admin client for `tansu`.
async fn admin_for(tansu: &Tansu) -> Admin {
    Admin::builder()
        .client_config(common::client_config(&tansu.bootstrap()))
        .default_api_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap()
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
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let admin = admin_for(&tansu).await;
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
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let admin = admin_for(&tansu).await;
    let Some(cluster) = supported("describe cluster", admin.describe_cluster().await) else {
        return;
    };
    assert_eq!(cluster.brokers.len(), 1, "{cluster:?}");
    let broker = &cluster.brokers[0];
    assert_eq!(
        format!("{}:{}", broker.host, broker.port),
        tansu.bootstrap()
    );
}

#[tokio::test]
async fn offsets_are_listed_after_producing() {
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let admin = admin_for(&tansu).await;
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
    // Not waiting for anything to happen: the wall clock itself must move
    // on, so that `between` lies strictly after the first records'
    // millisecond timestamps and before the next ones'.
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
