//! The admin client against Apache Kafka 4.x, the reference broker (one
//! KRaft node run by durian-testkit's `KafkaCluster`). Unlike Tansu, Kafka
//! implements every request the admin client sends, so nothing here is
//! skipped as unsupported: any error fails the test.
//!
//! The jars come from `DURIAN_KAFKA_LIBS`, else `<repo>/.peers/kafka/libs`
//! (fetched by scripts/install-peers.sh). Without them the tests are
//! skipped with a message, or fail when `DURIAN_REQUIRE_PEERS=1`.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use durian_admin::{
    Admin, AlterConfigOp, ConfigResource, ConfigSource, NewTopic, OffsetSpec, TopicPartition,
};
use durian_core::record::{BatchWriter, NO_HEADERS};
use durian_core::{CoordinatorKind, KafkaCode, KafkaError, Target};
use durian_testkit::KafkaCluster;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{GroupId, OffsetCommitRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

/// Produce v12, the last version that names topics: Kafka 4.x also serves
/// v13, which addresses them by topic id only, so the name-only test
/// request built here (not by durian's clients) is sent at v12.
const PRODUCE_BY_NAME: i16 = 12;

async fn admin_for(kafka: &KafkaCluster) -> Admin {
    Admin::builder()
        .client_config(common::client_config(&kafka.bootstrap()))
        .default_api_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap()
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

/// Appends one batch of `count` records stamped `timestamp_ms` to `tp`
/// through its leader, retrying while a new partition's leader is not
/// serving it yet.
async fn produce(admin: &Admin, tp: &TopicPartition, count: usize, timestamp_ms: i64) {
    let mut writer = BatchWriter::builder().build();
    for i in 0..count {
        let value = format!("record {i} at {timestamp_ms}");
        writer
            .try_append(timestamp_ms, None, Some(value.as_bytes()), NO_HEADERS)
            .unwrap();
    }
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(&tp.topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(tp.partition)
                .with_records(Some(writer.finish().unwrap()))])]);
    let client = admin.client();
    client.add_topics([tp.topic.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metadata = client.refresh_metadata("test produce").await.unwrap();
        let leader = metadata
            .partition_leader(&tp.topic, tp.partition)
            .map(|l| l.node_id);
        if let Some(leader) = leader {
            let response = client
                .send_with_version(Target::Broker(leader), request.clone(), PRODUCE_BY_NAME)
                .await
                .unwrap();
            let code = response.responses[0].partition_responses[0].error_code;
            match KafkaError::check(code, None) {
                Ok(()) => return,
                Err(error) if !error.is_retriable() => panic!("produce to {tp}: {error}"),
                Err(_) => {}
            }
        }
        assert!(Instant::now() < deadline, "{tp} has no serving leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Commits `offset` for `tp` in `group` with a simple commit (generation
/// -1, no member): that creates an Empty classic group on the
/// coordinator.
async fn simple_commit(admin: &Admin, group: &str, tp: &TopicPartition, offset: i64) {
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic_name(&tp.topic))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_committed_offset(offset)])]);
    let target = Target::Coordinator {
        kind: CoordinatorKind::Group,
        key: group.to_owned(),
    };
    // The first commit of a cluster finds the offsets topic still being
    // created (COORDINATOR_NOT_AVAILABLE): retriable, as for any client.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = admin.client().send(target.clone(), request.clone()).await;
        let outcome = answer.and_then(|response| {
            KafkaError::check(response.topics[0].partitions[0].error_code, None)
        });
        match outcome {
            Ok(()) => return,
            Err(error) if error.is_retriable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("commit for {group}: {error}"),
        }
    }
}

#[tokio::test]
async fn topics_are_created_grown_described_and_deleted() {
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    let admin = admin_for(&kafka).await;
    let mut created = admin
        .create_topics([NewTopic::new("admin-kafka", 3)
            .replication_factor(1)
            .config("retention.ms", "3600000")])
        .await;
    let created = created.remove("admin-kafka").unwrap().unwrap();
    assert_eq!(created.partitions, 3, "{created:?}");
    assert_eq!(created.replication_factor, 1, "{created:?}");
    assert!(
        created
            .configs
            .iter()
            .any(|c| c.name == "retention.ms" && c.value.as_deref() == Some("3600000")),
        "{created:?}"
    );

    let mut again = admin
        .create_topics([NewTopic::new("admin-kafka", 3).replication_factor(1)])
        .await;
    let error = again.remove("admin-kafka").unwrap().unwrap_err();
    assert_eq!(
        error.kafka_code(),
        Some(KafkaCode::TOPIC_ALREADY_EXISTS),
        "{error}"
    );

    let listed = admin.list_topics().await.unwrap();
    let listing = listed.iter().find(|t| t.name == "admin-kafka").unwrap();
    assert_eq!(listing.topic_id, created.topic_id);
    assert!(!listing.is_internal);

    let mut grown = admin
        .create_partitions([("admin-kafka".to_owned(), 5)])
        .await;
    grown.remove("admin-kafka").unwrap().unwrap();
    // The controller has the new partitions at once; the broker's metadata
    // follows a moment later.
    let deadline = Instant::now() + Duration::from_secs(20);
    let topic = loop {
        let mut described = admin.describe_topics(["admin-kafka"]).await;
        let topic = described.remove("admin-kafka").unwrap().unwrap();
        if topic.partitions.len() == 5 || Instant::now() > deadline {
            break topic;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(topic.topic_id, created.topic_id);
    assert_eq!(topic.partitions.len(), 5, "{topic:?}");
    for (index, partition) in topic.partitions.iter().enumerate() {
        assert_eq!(partition.partition, index as i32);
        assert_eq!(partition.leader, Some(1), "{partition:?}");
        assert_eq!(partition.replicas, [1]);
        assert_eq!(partition.isr, [1]);
    }

    let mut deleted = admin.delete_topics(["admin-kafka"]).await;
    deleted.remove("admin-kafka").unwrap().unwrap();
    let listed = admin.list_topics().await.unwrap();
    assert!(
        !listed.iter().any(|t| t.name == "admin-kafka"),
        "{listed:?}"
    );
    let mut gone = admin.describe_topics(["admin-kafka"]).await;
    let error = gone.remove("admin-kafka").unwrap().unwrap_err();
    assert_eq!(
        error.kafka_code(),
        Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{error}"
    );
}

#[tokio::test]
async fn cluster_and_configs_are_described_and_altered() {
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    let admin = admin_for(&kafka).await;
    let cluster = admin.describe_cluster().await.unwrap();
    assert_eq!(cluster.brokers.len(), 1, "{cluster:?}");
    let broker = &cluster.brokers[0];
    assert_eq!(broker.node_id, 1);
    assert_eq!(
        format!("{}:{}", broker.host, broker.port),
        kafka.bootstrap()
    );
    assert_eq!(cluster.controller_id, Some(1), "{cluster:?}");
    assert!(
        cluster.cluster_id.as_ref().is_some_and(|id| id.len() == 22),
        "{cluster:?}"
    );

    let mut created = admin
        .create_topics([NewTopic::new("admin-kafka-configs", 1)
            .replication_factor(1)
            .config("retention.ms", "3600000")])
        .await;
    created.remove("admin-kafka-configs").unwrap().unwrap();
    let topic = ConfigResource::topic("admin-kafka-configs");
    let entry = |entries: &[durian_admin::ConfigEntry], name: &str| {
        entries
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("no {name} in {entries:?}"))
            .clone()
    };
    let mut described = admin.describe_configs([topic.clone()]).await;
    let entries = described.remove(&topic).unwrap().unwrap();
    let retention = entry(&entries, "retention.ms");
    assert_eq!(retention.value.as_deref(), Some("3600000"));
    assert_eq!(retention.source, ConfigSource::TopicOverride);
    let cleanup = entry(&entries, "cleanup.policy");
    assert_eq!(cleanup.value.as_deref(), Some("delete"));
    assert_eq!(cleanup.source, ConfigSource::Default);

    let mut altered = admin
        .incremental_alter_configs([(
            topic.clone(),
            vec![
                AlterConfigOp::Set("cleanup.policy".into(), "compact".into()),
                AlterConfigOp::Delete("retention.ms".into()),
            ],
        )])
        .await;
    altered.remove(&topic).unwrap().unwrap();
    // The controller has applied the change when it answers; the broker
    // that describes configs replays it from the metadata log a moment
    // later (the same holds for Kafka's own Admin).
    let deadline = Instant::now() + Duration::from_secs(20);
    let entries = loop {
        let mut described = admin.describe_configs([topic.clone()]).await;
        let entries = described.remove(&topic).unwrap().unwrap();
        let applied = entries
            .iter()
            .any(|e| e.name == "cleanup.policy" && e.value.as_deref() == Some("compact"));
        if applied || Instant::now() > deadline {
            break entries;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let cleanup = entry(&entries, "cleanup.policy");
    assert_eq!(cleanup.value.as_deref(), Some("compact"));
    assert_eq!(cleanup.source, ConfigSource::TopicOverride);
    let retention = entry(&entries, "retention.ms");
    assert_eq!(retention.value.as_deref(), Some("604800000"));
    assert_eq!(retention.source, ConfigSource::Default);

    let broker = ConfigResource::broker(1);
    let mut described = admin.describe_configs([broker.clone()]).await;
    let entries = described.remove(&broker).unwrap().unwrap();
    let delay = entry(&entries, "group.initial.rebalance.delay.ms");
    assert_eq!(delay.value.as_deref(), Some("0"));
    assert_eq!(delay.source, ConfigSource::StaticBroker);
}

#[tokio::test]
async fn offsets_are_listed_deleted_and_groups_managed() {
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    let admin = admin_for(&kafka).await;
    let mut created = admin
        .create_topics([NewTopic::new("admin-kafka-offsets", 1).replication_factor(1)])
        .await;
    created.remove("admin-kafka-offsets").unwrap().unwrap();
    let tp = TopicPartition::new("admin-kafka-offsets", 0);
    // Kafka keeps the producer's timestamps (CreateTime), so batches can
    // carry chosen ones: offsets 0-1 at t0, 2-4 at t0 + 10 s, 5 at t0 + 5 s.
    let t0 = 1_700_000_000_000;
    produce(&admin, &tp, 2, t0).await;
    produce(&admin, &tp, 3, t0 + 10_000).await;
    produce(&admin, &tp, 1, t0 + 5_000).await;
    let lookup = |spec| {
        let admin = admin.clone();
        let tp = tp.clone();
        async move {
            let mut found = admin.list_offsets([(tp.clone(), spec)]).await;
            found.remove(&tp).unwrap().unwrap()
        }
    };
    assert_eq!(lookup(OffsetSpec::Earliest).await.offset, Some(0));
    assert_eq!(lookup(OffsetSpec::Latest).await.offset, Some(6));
    let by_time = lookup(OffsetSpec::Timestamp(t0 + 1)).await;
    assert_eq!(by_time.offset, Some(2), "{by_time:?}");
    assert_eq!(by_time.timestamp, t0 + 10_000, "{by_time:?}");
    let after_all = lookup(OffsetSpec::Timestamp(t0 + 20_000)).await;
    assert_eq!(after_all.offset, None, "{after_all:?}");
    let max = lookup(OffsetSpec::MaxTimestamp).await;
    assert_eq!(max.timestamp, t0 + 10_000, "{max:?}");
    // The first record carrying the largest timestamp (KAFKA-16310).
    assert_eq!(max.offset, Some(2), "{max:?}");

    let mut deleted = admin.delete_records([(tp.clone(), 2)]).await;
    let deleted = deleted.remove(&tp).unwrap().unwrap();
    assert_eq!(deleted.low_watermark, 2);
    assert_eq!(lookup(OffsetSpec::Earliest).await.offset, Some(2));

    // Groups: a simple commit creates an Empty classic group.
    simple_commit(&admin, "admin-kafka-group", &tp, 4).await;
    let groups = admin.list_groups().await.unwrap();
    let listing = groups
        .iter()
        .find(|g| g.group_id == "admin-kafka-group")
        .unwrap_or_else(|| panic!("{groups:?}"));
    assert_eq!(listing.coordinator, 1);
    let mut described = admin.describe_groups(["admin-kafka-group"]).await;
    let group = described.remove("admin-kafka-group").unwrap().unwrap();
    assert_eq!(group.state, "Empty", "{group:?}");
    assert!(group.members.is_empty(), "{group:?}");

    let offsets = admin
        .list_group_offsets("admin-kafka-group", None)
        .await
        .unwrap();
    let lag = offsets[&tp].as_ref().unwrap();
    assert_eq!(lag.committed, Some(4), "{lag:?}");
    assert_eq!(lag.end_offset, Some(6), "{lag:?}");
    assert_eq!(lag.lag, Some(2), "{lag:?}");

    let mut altered = admin
        .alter_group_offsets("admin-kafka-group", [(tp.clone(), 6)])
        .await;
    altered.remove(&tp).unwrap().unwrap();
    let offsets = admin
        .list_group_offsets("admin-kafka-group", Some(vec![tp.clone()]))
        .await
        .unwrap();
    assert_eq!(offsets[&tp].as_ref().unwrap().lag, Some(0));

    let mut removed = admin.delete_groups(["admin-kafka-group"]).await;
    removed.remove("admin-kafka-group").unwrap().unwrap();
    let groups = admin.list_groups().await.unwrap();
    assert!(
        !groups.iter().any(|g| g.group_id == "admin-kafka-group"),
        "{groups:?}"
    );
}
