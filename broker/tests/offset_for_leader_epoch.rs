//! OffsetForLeaderEpoch (key 23) over the wire: a single broker (one
//! epoch, ending at the log end offset, also after a restart) and a
//! 3-node `Cluster` whose leader moves (one epoch per leader, each ending
//! where the next began), with the leader and epoch checks.

#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use common::{batch, start_broker_in, TestClient};
use durian_broker::testing::Cluster;
use durian_core::record::BatchScanner;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, BrokerId, FetchRequest, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

const VERSIONS: [i16; 3] = [2, 3, 4];

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

fn request(
    topic: &str,
    partition: i32,
    current_leader_epoch: i32,
    leader_epoch: i32,
) -> OffsetForLeaderEpochRequest {
    OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![OffsetForLeaderPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(current_leader_epoch)
                .with_leader_epoch(leader_epoch)])])
}

/// `(error code, leader epoch, end offset)` of the only partition asked for.
fn answer(response: &OffsetForLeaderEpochResponse) -> (i16, i32, i64) {
    assert_eq!(response.topics.len(), 1);
    assert_eq!(response.topics[0].partitions.len(), 1);
    let p = &response.topics[0].partitions[0];
    (p.error_code, p.leader_epoch, p.end_offset)
}

/// Asks `client` at `version` where `leader_epoch` of `topic`-`partition` ended.
async fn ask(
    client: &mut TestClient,
    version: i16,
    topic: &str,
    partition: i32,
    current_leader_epoch: i32,
    leader_epoch: i32,
) -> (i16, i32, i64) {
    let response = client
        .call(
            &request(topic, partition, current_leader_epoch, leader_epoch),
            version,
        )
        .await;
    assert_eq!(
        &*response.topics[0].topic.0, topic,
        "the topic is echoed at v{version}"
    );
    assert_eq!(response.topics[0].partitions[0].partition, partition);
    answer(&response)
}

/// Produces one batch of `values`; returns its base offset.
async fn produce(client: &mut TestClient, topic: &str, values: &[&str]) -> i64 {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch(values)))])]);
    let response = client.call(&request, 9).await;
    let p = &response.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 0, "produce to {topic}");
    p.base_offset
}

/// `(base offset, next offset, partition leader epoch)` of every batch of
/// `topic`-0, fetched from `client` (the leader).
async fn batches(client: &mut TestClient, topic: &str) -> Vec<(i64, i64, i32)> {
    let fetch = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_current_leader_epoch(-1)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let response = client.call(&fetch, 12).await;
    let data = &response.responses[0].partitions[0];
    assert_eq!(data.error_code, 0);
    let records: &Bytes = data.records.as_ref().unwrap();
    BatchScanner::new(records)
        .map(|b| {
            let h = b.unwrap().header;
            (h.base_offset, h.next_offset(), h.partition_leader_epoch)
        })
        .collect()
}

#[tokio::test]
async fn a_single_broker_has_one_epoch_ending_at_the_log_end_and_keeps_it_over_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker_in(dir.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;

    // Advertised at exactly the served versions.
    let versions = client.call(&ApiVersionsRequest::default(), 2).await;
    let advertised = versions
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::OffsetForLeaderEpoch as i16)
        .map(|k| (k.min_version, k.max_version));
    assert_eq!(advertised, Some((2, 4)));

    assert_eq!(produce(&mut client, "solo", &["a", "b", "c"]).await, 0);
    assert_eq!(produce(&mut client, "solo", &["d", "e"]).await, 3);
    for v in VERSIONS {
        assert_eq!(
            ask(&mut client, v, "solo", 0, -1, 0).await,
            (0, 0, 5),
            "v{v}"
        );
        assert_eq!(
            ask(&mut client, v, "solo", 0, 0, 0).await,
            (0, 0, 5),
            "v{v}"
        );
        // An epoch this broker never had: undefined, without an error.
        assert_eq!(
            ask(&mut client, v, "solo", 0, -1, 1).await,
            (0, -1, -1),
            "v{v}"
        );
        assert_eq!(
            ask(&mut client, v, "solo", 0, -1, -1).await,
            (0, -1, -1),
            "v{v}"
        );
        // The client knows of a later epoch than the broker's 0.
        let unknown = ResponseError::UnknownLeaderEpoch.code();
        assert_eq!(
            ask(&mut client, v, "solo", 0, 1, 0).await,
            (unknown, -1, -1),
            "v{v}"
        );
        let missing = ResponseError::UnknownTopicOrPartition.code();
        assert_eq!(
            ask(&mut client, v, "solo", 1, -1, 0).await,
            (missing, -1, -1),
            "v{v}"
        );
        assert_eq!(
            ask(&mut client, v, "nope", 0, -1, 0).await,
            (missing, -1, -1),
            "v{v}"
        );
    }
    // Asking does not create topics.
    assert_eq!(
        ask(&mut client, 4, "nope", 0, -1, 0).await.0,
        ResponseError::UnknownTopicOrPartition.code()
    );
    drop(client);
    broker.shutdown().await.unwrap();

    // After a restart the single epoch still ends at the log end offset.
    let broker = start_broker_in(dir.path()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    assert_eq!(ask(&mut client, 4, "solo", 0, 0, 0).await, (0, 0, 5));
    assert_eq!(produce(&mut client, "solo", &["f"]).await, 5);
    assert_eq!(ask(&mut client, 3, "solo", 0, 0, 0).await, (0, 0, 6));
    drop(client);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn each_cluster_epoch_ends_where_the_next_leader_began() {
    let cluster = Cluster::builder().nodes(3).seed(5).start().await.unwrap();
    cluster.create_topic("moves", 1).await.unwrap();
    let first = cluster.leader("moves", 0).unwrap();
    let second = (first + 1) % 3;
    let third = (first + 2) % 3;
    let connect = |node: i32| TestClient::connect(cluster.address(node).unwrap());

    // Epoch 0 on the first leader: offsets 0..2.
    let mut client = connect(first).await;
    assert_eq!(produce(&mut client, "moves", &["a", "b"]).await, 0);
    assert_eq!(ask(&mut client, 4, "moves", 0, 0, 0).await, (0, 0, 2));

    // Epoch 1 on the second: offsets 2..5.
    assert_eq!(cluster.move_leader("moves", 0, second).unwrap(), 1);
    let mut client = connect(second).await;
    assert_eq!(produce(&mut client, "moves", &["c", "d", "e"]).await, 2);

    // Epoch 2 on the third: offsets 5..6.
    assert_eq!(cluster.move_leader("moves", 0, third).unwrap(), 2);
    let mut leader = connect(third).await;
    assert_eq!(produce(&mut leader, "moves", &["f"]).await, 5);

    // The log's batches carry the epochs the history names.
    assert_eq!(
        batches(&mut leader, "moves").await,
        vec![(0, 2, 0), (2, 5, 1), (5, 6, 2)]
    );

    for v in VERSIONS {
        assert_eq!(
            ask(&mut leader, v, "moves", 0, 2, 0).await,
            (0, 0, 2),
            "v{v}"
        );
        assert_eq!(
            ask(&mut leader, v, "moves", 0, 2, 1).await,
            (0, 1, 5),
            "v{v}"
        );
        assert_eq!(
            ask(&mut leader, v, "moves", 0, -1, 2).await,
            (0, 2, 6),
            "v{v}"
        );
        assert_eq!(
            ask(&mut leader, v, "moves", 0, 2, 3).await,
            (0, -1, -1),
            "v{v}"
        );

        // Fencing: the leader is at epoch 2.
        let fenced = ResponseError::FencedLeaderEpoch.code();
        assert_eq!(
            ask(&mut leader, v, "moves", 0, 1, 1).await,
            (fenced, -1, -1),
            "v{v}"
        );
        assert_eq!(
            ask(&mut leader, v, "moves", 0, 0, 0).await,
            (fenced, -1, -1),
            "v{v}"
        );
        let unknown = ResponseError::UnknownLeaderEpoch.code();
        assert_eq!(
            ask(&mut leader, v, "moves", 0, 3, 1).await,
            (unknown, -1, -1),
            "v{v}"
        );

        // Former leaders are followers now.
        let not_leader = ResponseError::NotLeaderOrFollower.code();
        for node in [first, second] {
            let mut follower = connect(node).await;
            assert_eq!(
                ask(&mut follower, v, "moves", 0, -1, 1).await,
                (not_leader, -1, -1),
                "v{v} on node {node}"
            );
            assert_eq!(
                ask(&mut follower, v, "moves", 0, 2, 1).await,
                (not_leader, -1, -1),
                "v{v} on node {node}"
            );
        }
    }

    // The third leader stops: epoch 3 starts at 6 on a new leader, which
    // still knows where epoch 2 ended.
    cluster.stop_broker(third).await.unwrap();
    let fourth = cluster.leader("moves", 0).unwrap();
    assert!(fourth == first || fourth == second, "elected {fourth}");
    assert_eq!(cluster.placement("moves", 0).unwrap().leader_epoch, 3);
    let mut leader = connect(fourth).await;
    assert_eq!(ask(&mut leader, 2, "moves", 0, 3, 2).await, (0, 2, 6));
    assert_eq!(ask(&mut leader, 3, "moves", 0, 3, 3).await, (0, 3, 6));

    // Nothing is written in epoch 3 before the next move: like Kafka's
    // cache, epoch 3 leaves no entry and is answered with epoch 2's end.
    let fifth = if fourth == first { second } else { first };
    assert_eq!(cluster.move_leader("moves", 0, fifth).unwrap(), 4);
    let mut leader = connect(fifth).await;
    assert_eq!(produce(&mut leader, "moves", &["g", "h"]).await, 6);
    assert_eq!(ask(&mut leader, 4, "moves", 0, 4, 3).await, (0, 2, 6));
    assert_eq!(ask(&mut leader, 4, "moves", 0, 4, 2).await, (0, 2, 6));
    assert_eq!(ask(&mut leader, 4, "moves", 0, 4, 1).await, (0, 1, 5));
    assert_eq!(ask(&mut leader, 4, "moves", 0, 4, 4).await, (0, 4, 8));
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_fail_rule_answers_offset_for_leader_epoch_with_its_code() {
    let cluster = Cluster::builder().nodes(3).seed(6).start().await.unwrap();
    cluster.create_topic("faulty", 1).await.unwrap();
    let leader = cluster.leader("faulty", 0).unwrap();
    let rule = cluster
        .faults()
        .on(leader)
        .api(ApiKey::OffsetForLeaderEpoch)
        .fail_next(1, ResponseError::KafkaStorageError);
    let mut client = TestClient::connect(cluster.address(leader).unwrap()).await;
    for v in VERSIONS {
        let expected = if v == VERSIONS[0] {
            (ResponseError::KafkaStorageError.code(), -1, -1)
        } else {
            (0, 0, 0)
        };
        assert_eq!(
            ask(&mut client, v, "faulty", 0, 0, 0).await,
            expected,
            "v{v}"
        );
    }
    assert_eq!(cluster.faults().fired(rule), 1);
    cluster.shutdown().await.unwrap();
}
