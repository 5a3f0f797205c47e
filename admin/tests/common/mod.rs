//! Helpers shared by the admin integration tests: an embedded durian
//! broker, an admin client for it, and raw Produce / OffsetCommit requests
//! through the core client (the admin crate must not depend on the
//! producer or consumer).

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::time::Duration;

use durian_admin::{Admin, TopicPartition};
use durian_broker::{Broker, BrokerHandle};
use durian_core::record::{BatchWriter, NO_HEADERS};
use durian_core::{Client, ClientConfig, KafkaError, Target};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{GroupId, OffsetCommitRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

/// A client config with short backoffs, so retries in tests are quick.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    ClientConfig::builder()
        .bootstrap_servers([bootstrap])
        .client_id("durian-admin-test")
        .request_timeout(Duration::from_secs(10))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .expect("valid test config")
}

/// An embedded broker in a temporary directory, and an admin client for it.
pub async fn start() -> (BrokerHandle, Admin) {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await
        .expect("embedded broker starts");
    let admin = Admin::builder()
        .client_config(client_config(&broker.bootstrap()))
        .default_api_timeout(Duration::from_secs(15))
        .connect()
        .await
        .expect("admin connects");
    (broker, admin)
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

/// Appends `count` records with timestamp `timestamp_ms` to one partition
/// as a single batch, through its leader.
pub async fn produce(admin: &Admin, tp: &TopicPartition, count: usize, timestamp_ms: i64) {
    let mut writer = BatchWriter::builder().build();
    for i in 0..count {
        let value = format!("record {i} at {timestamp_ms}");
        writer
            .try_append(timestamp_ms, None, Some(value.as_bytes()), NO_HEADERS)
            .expect("record fits");
    }
    let data = PartitionProduceData::default()
        .with_index(tp.partition)
        .with_records(Some(writer.finish().expect("batch encodes")));
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(&tp.topic))
            .with_partition_data(vec![data])]);
    let client = admin.client();
    client.add_topics([tp.topic().to_owned()]);
    let metadata = client
        .refresh_metadata("test produce")
        .await
        .expect("metadata");
    let leader = metadata
        .partition_leader(&tp.topic, tp.partition)
        .expect("partition has a leader")
        .node_id;
    let response = client
        .send(Target::Broker(leader), request)
        .await
        .expect("produce answered");
    for topic in response.responses {
        for partition in topic.partition_responses {
            KafkaError::check(partition.error_code, None).expect("produce accepted");
        }
    }
}

/// Commits offsets for `group` with a simple commit (generation -1, no
/// member), which creates the group on the coordinator.
pub async fn simple_commit(client: &Client, group: &str, offsets: &[(TopicPartition, i64)]) {
    let topics = offsets
        .iter()
        .map(|(tp, offset)| {
            OffsetCommitRequestTopic::default()
                .with_name(topic_name(&tp.topic))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(tp.partition)
                    .with_committed_offset(*offset)])
        })
        .collect();
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(group.to_owned())))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(topics);
    let target = Target::Coordinator {
        kind: durian_core::CoordinatorKind::Group,
        key: group.to_owned(),
    };
    let response = client.send(target, request).await.expect("commit answered");
    for topic in response.topics {
        for partition in topic.partitions {
            KafkaError::check(partition.error_code, None).expect("commit accepted");
        }
    }
}
