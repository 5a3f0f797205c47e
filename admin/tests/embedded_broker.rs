//! Every admin operation against durian's embedded broker.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use durian_admin::{
    AlterConfigOp, ConfigResource, ConfigSource, NewTopic, OffsetResetTarget, OffsetSpec,
    TopicPartition,
};
use durian_core::KafkaCode;

use common::{produce, simple_commit, start};

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

fn code<T: std::fmt::Debug>(result: &durian_core::Result<T>) -> Option<KafkaCode> {
    result.as_ref().err().and_then(|e| e.kafka_code())
}

#[tokio::test]
async fn topics_are_created_listed_described_and_deleted_per_item() {
    let (broker, admin) = start().await;
    let created = admin
        .create_topics([
            NewTopic::new("orders", 3).config("retention.ms", "600000"),
            NewTopic::new("bad/name", 1),
        ])
        .await;
    assert_eq!(created.len(), 2);
    let orders = created["orders"].as_ref().unwrap();
    assert!(!orders.topic_id.is_nil(), "CreateTopics v7 returns the id");
    assert_eq!(
        code(&created["bad/name"]),
        Some(KafkaCode::INVALID_TOPIC_EXCEPTION)
    );

    let again = admin.create_topics([NewTopic::new("orders", 3)]).await;
    assert_eq!(
        code(&again["orders"]),
        Some(KafkaCode::TOPIC_ALREADY_EXISTS)
    );

    let listed = admin.list_topics().await.unwrap();
    let listing = listed.iter().find(|t| t.name == "orders").unwrap();
    assert_eq!(listing.topic_id, orders.topic_id);
    assert!(!listed.iter().any(|t| t.name == "bad/name"));

    let described = admin.describe_topics(["orders", "nowhere"]).await;
    let description = described["orders"].as_ref().unwrap();
    assert_eq!(description.topic_id, orders.topic_id);
    let node = broker.node().node_id;
    assert_eq!(description.partitions.len(), 3);
    for (index, partition) in description.partitions.iter().enumerate() {
        assert_eq!(partition.partition, index as i32);
        assert_eq!(partition.leader, Some(node));
        assert_eq!(partition.replicas, [node]);
        assert_eq!(partition.isr, [node]);
    }
    assert_eq!(
        code(&described["nowhere"]),
        Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION)
    );

    let deleted = admin.delete_topics(["orders", "nowhere"]).await;
    assert!(deleted["orders"].is_ok(), "{:?}", deleted["orders"]);
    assert_eq!(
        code(&deleted["nowhere"]),
        Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    let listed = admin.list_topics().await.unwrap();
    assert!(!listed.iter().any(|t| t.name == "orders"));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn partitions_can_be_added_but_not_removed() {
    let (broker, admin) = start().await;
    admin.create_topics([NewTopic::new("grow", 1)]).await["grow"]
        .as_ref()
        .unwrap();
    let grown = admin
        .create_partitions([("grow".to_owned(), 4), ("absent".to_owned(), 2)])
        .await;
    assert!(grown["grow"].is_ok(), "{:?}", grown["grow"]);
    assert_eq!(
        code(&grown["absent"]),
        Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    let described = admin.describe_topics(["grow"]).await;
    assert_eq!(described["grow"].as_ref().unwrap().partitions.len(), 4);
    let shrunk = admin.create_partitions([("grow".to_owned(), 2)]).await;
    assert_eq!(code(&shrunk["grow"]), Some(KafkaCode::INVALID_PARTITIONS));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn altered_configs_show_their_new_value_and_source() {
    let (broker, admin) = start().await;
    admin.create_topics([NewTopic::new("conf", 1)]).await["conf"]
        .as_ref()
        .unwrap();
    let topic = ConfigResource::topic("conf");
    let this_broker = ConfigResource::broker(broker.node().node_id);

    let before = admin.describe_configs([topic.clone()]).await;
    let retention = |entries: &[durian_admin::ConfigEntry]| {
        entries
            .iter()
            .find(|e| e.name == "retention.ms")
            .cloned()
            .unwrap()
    };
    let default = retention(before[&topic].as_ref().unwrap());
    assert_eq!(default.source, ConfigSource::Default);

    let altered = admin
        .incremental_alter_configs([
            (
                topic.clone(),
                vec![AlterConfigOp::Set("retention.ms".into(), "123456".into())],
            ),
            (
                this_broker.clone(),
                vec![AlterConfigOp::Set("log.retention.ms".into(), "1".into())],
            ),
        ])
        .await;
    assert!(altered[&topic].is_ok(), "{:?}", altered[&topic]);
    assert!(altered[&this_broker].is_err(), "broker settings are static");

    let after = admin
        .describe_configs([topic.clone(), this_broker.clone()])
        .await;
    let set = retention(after[&topic].as_ref().unwrap());
    assert_eq!(set.value.as_deref(), Some("123456"));
    assert_eq!(set.source, ConfigSource::TopicOverride);
    let broker_entries = after[&this_broker].as_ref().unwrap();
    assert!(!broker_entries.is_empty());

    let reverted = admin
        .incremental_alter_configs([(
            topic.clone(),
            vec![AlterConfigOp::Delete("retention.ms".into())],
        )])
        .await;
    assert!(reverted[&topic].is_ok());
    let again = admin.describe_configs([topic.clone()]).await;
    assert_eq!(retention(again[&topic].as_ref().unwrap()), default);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn cluster_description_names_the_broker_and_controller() {
    let (broker, admin) = start().await;
    let cluster = admin.describe_cluster().await.unwrap();
    let node = broker.node().node_id;
    assert_eq!(cluster.controller_id, Some(node));
    assert_eq!(cluster.brokers.len(), 1);
    assert_eq!(cluster.brokers[0].node_id, node);
    assert_eq!(
        cluster.brokers[0].port,
        i32::from(broker.local_addr().port())
    );
    assert!(cluster.cluster_id.is_some_and(|id| !id.is_empty()));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn offsets_are_listed_by_spec_and_records_deleted() {
    let (broker, admin) = start().await;
    admin.create_topics([NewTopic::new("log", 2)]).await["log"]
        .as_ref()
        .unwrap();
    let p0 = tp("log", 0);
    for timestamp in [1_000, 2_000, 3_000] {
        produce(&admin, &p0, 5, timestamp).await;
    }
    let found = admin
        .list_offsets([
            (p0.clone(), OffsetSpec::Earliest),
            (tp("log", 1), OffsetSpec::Latest),
            (tp("log", 7), OffsetSpec::Latest),
        ])
        .await;
    assert_eq!(found[&p0].as_ref().unwrap().offset, Some(0));
    assert_eq!(found[&tp("log", 1)].as_ref().unwrap().offset, Some(0));
    assert_eq!(
        code(&found[&tp("log", 7)]),
        Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    let lookup = |spec| {
        let admin = admin.clone();
        let p0 = p0.clone();
        async move {
            let mut found = admin.list_offsets([(p0.clone(), spec)]).await;
            found.remove(&p0).unwrap().unwrap()
        }
    };
    assert_eq!(lookup(OffsetSpec::Latest).await.offset, Some(15));
    let by_time = lookup(OffsetSpec::Timestamp(1_500)).await;
    assert_eq!(by_time.offset, Some(5));
    assert_eq!(by_time.timestamp, 2_000);
    assert_eq!(lookup(OffsetSpec::Timestamp(9_999)).await.offset, None);
    assert_eq!(lookup(OffsetSpec::MaxTimestamp).await.timestamp, 3_000);

    let deleted = admin
        .delete_records([(p0.clone(), 5), (tp("nope", 0), 1)])
        .await;
    assert_eq!(deleted[&p0].as_ref().unwrap().low_watermark, 5);
    assert_eq!(
        code(&deleted[&tp("nope", 0)]),
        Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION)
    );
    assert_eq!(lookup(OffsetSpec::Earliest).await.offset, Some(5));
    assert_eq!(lookup(OffsetSpec::Latest).await.offset, Some(15));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn groups_offsets_lag_resets_and_deletion() {
    let (broker, admin) = start().await;
    admin.create_topics([NewTopic::new("events", 2)]).await["events"]
        .as_ref()
        .unwrap();
    let (p0, p1) = (tp("events", 0), tp("events", 1));
    produce(&admin, &p0, 6, 1_000).await;
    produce(&admin, &p0, 4, 2_000).await;
    produce(&admin, &p1, 4, 1_000).await;
    simple_commit(
        admin.client(),
        "readers",
        &[(p0.clone(), 3), (p1.clone(), 4)],
    )
    .await;

    let groups = admin.list_groups().await.unwrap();
    assert!(groups.iter().any(|g| g.group_id == "readers"), "{groups:?}");
    let described = admin.describe_groups(["readers"]).await;
    let readers = described["readers"].as_ref().unwrap();
    assert_eq!(readers.state, "Empty");
    assert!(readers.members.is_empty());
    assert_eq!(readers.coordinator, broker.node().node_id);

    let lags = |admin: durian_admin::Admin| async move {
        let offsets = admin.list_group_offsets("readers", None).await.unwrap();
        offsets
            .into_iter()
            .map(|(tp, lag)| {
                let lag = lag.unwrap();
                (tp.partition, lag.committed, lag.end_offset, lag.lag)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        lags(admin.clone()).await,
        [
            (0, Some(3), Some(10), Some(7)),
            (1, Some(4), Some(4), Some(0))
        ]
    );
    let asked = admin
        .list_group_offsets("readers", Some(vec![p0.clone(), tp("events", 1)]))
        .await
        .unwrap();
    assert_eq!(asked[&p0].as_ref().unwrap().lag, Some(7));

    let reset = |to| {
        let admin = admin.clone();
        async move {
            let results = admin
                .reset_group_offsets("readers", None, to)
                .await
                .unwrap();
            results
                .into_iter()
                .map(|(tp, offset)| (tp.partition, offset.unwrap()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(reset(OffsetResetTarget::Earliest).await, [(0, 0), (1, 0)]);
    assert_eq!(lags(admin.clone()).await[0].3, Some(10));
    assert_eq!(reset(OffsetResetTarget::Latest).await, [(0, 10), (1, 4)]);
    assert_eq!(
        reset(OffsetResetTarget::Timestamp(1_500)).await,
        [(0, 6), (1, 4)]
    );
    assert_eq!(reset(OffsetResetTarget::Offset(2)).await, [(0, 2), (1, 2)]);
    let explicit = admin
        .alter_group_offsets("readers", [(p0.clone(), 9), (p1.clone(), 1)])
        .await;
    assert!(explicit.values().all(Result::is_ok), "{explicit:?}");
    assert_eq!(
        lags(admin.clone()).await,
        [
            (0, Some(9), Some(10), Some(1)),
            (1, Some(1), Some(4), Some(3))
        ]
    );

    let deleted = admin.delete_groups(["readers"]).await;
    assert!(deleted["readers"].is_ok(), "{deleted:?}");
    let groups = admin.list_groups().await.unwrap();
    assert!(!groups.iter().any(|g| g.group_id == "readers"));
    let gone = admin.list_group_offsets("readers", None).await.unwrap();
    assert!(gone.is_empty(), "{gone:?}");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn elect_leaders_is_refused_clearly_by_durians_broker() {
    // durian's broker has one replica per partition and does not serve
    // ElectLeaders: the call fails as a whole, naming the request.
    let (broker, admin) = start().await;
    let error = admin
        .elect_leaders(
            durian_admin::ElectionType::Preferred,
            Some(vec![tp("anything", 0)]),
        )
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("ElectLeaders") && message.contains("does not offer this API"),
        "{message}"
    );
    broker.shutdown().await.unwrap();
}
