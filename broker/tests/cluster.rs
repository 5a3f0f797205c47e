//! The in-process multi-broker cluster: placement, the nodes' enforcement
//! of it, its controls, and real clients living through them.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{batch, records_of, TestClient};
use durian_broker::testing::Cluster;
use durian_producer::{Producer, StringSerializer};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FindCoordinatorRequest, GroupId, HeartbeatRequest, ListOffsetsRequest,
    MetadataRequest, OffsetFetchRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

const NOT_LEADER: i16 = 6;
const NOT_COORDINATOR: i16 = 16;

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

fn produce_request(topic: &str, partition: i32, records: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])])
}

fn fetch_request(topic: &str, partition: i32, offset: i64, epoch: i32) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(epoch)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])])
}

fn list_offsets_request(topic: &str, partition: i32, epoch: i32) -> ListOffsetsRequest {
    ListOffsetsRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_current_leader_epoch(epoch)
                .with_timestamp(-1)])])
}

async fn connect(cluster: &Cluster, node: i32) -> TestClient {
    TestClient::connect(cluster.address(node).expect("node exists")).await
}

async fn produce_code(
    client: &mut TestClient,
    topic: &str,
    partition: i32,
    values: &[&str],
) -> i16 {
    let response = client
        .call(&produce_request(topic, partition, batch(values)), 9)
        .await;
    response.responses[0].partition_responses[0].error_code
}

/// Every record of `topic`-`partition`, read from its current leader.
async fn read_all(cluster: &Cluster, topic: &str, partition: i32) -> Vec<String> {
    let leader = cluster.leader(topic, partition).expect("partition exists");
    let mut client = connect(cluster, leader).await;
    let mut values = Vec::new();
    let mut offset = 0;
    loop {
        let response = client
            .call(&fetch_request(topic, partition, offset, -1), 12)
            .await;
        let data = &response.responses[0].partitions[0];
        assert_eq!(data.error_code, 0, "fetch from the leader");
        let records = records_of(data.records.as_ref().expect("records"));
        for record in &records {
            let value = record.value.as_ref().expect("value");
            values.push(String::from_utf8_lossy(value).into_owned());
            offset = record.offset + 1;
        }
        if offset >= data.high_watermark {
            return values;
        }
    }
}

#[tokio::test]
async fn leaders_spread_over_three_nodes_and_each_node_enforces_them() {
    let cluster = Cluster::builder().nodes(3).seed(1).start().await.unwrap();
    cluster.create_topic("spread", 6).await.unwrap();

    let mut client = connect(&cluster, 1).await;
    let metadata = client
        .call(&MetadataRequest::default().with_topics(None), 12)
        .await;
    let mut brokers: Vec<i32> = metadata.brokers.iter().map(|b| b.node_id.0).collect();
    brokers.sort();
    assert_eq!(brokers, vec![0, 1, 2]);
    assert_eq!(metadata.controller_id.0, 0);
    let topic = &metadata.topics[0];
    let mut led = [0; 3];
    for p in &topic.partitions {
        assert_eq!(p.replica_nodes.len(), 3);
        assert_eq!(p.isr_nodes.len(), 3);
        assert_eq!(p.leader_epoch, 0);
        assert_eq!(
            Some(p.leader_id.0),
            cluster.leader("spread", p.partition_index)
        );
        led[p.leader_id.0 as usize] += 1;
    }
    assert_eq!(led, [2, 2, 2], "6 partitions over 3 nodes");

    let leader = cluster.leader("spread", 0).unwrap();
    for node in cluster.node_ids() {
        let mut client = connect(&cluster, node).await;
        let code = produce_code(&mut client, "spread", 0, &["x"]).await;
        let expected = if node == leader { 0 } else { NOT_LEADER };
        assert_eq!(code, expected, "produce to node {node}, leader {leader}");
        let fetch = client.call(&fetch_request("spread", 0, 0, -1), 12).await;
        assert_eq!(fetch.responses[0].partitions[0].error_code, expected);
    }

    // Epochs after a move: the new leader fences the old epoch and does
    // not know a future one; the old leader says it is not the leader.
    let to = (leader + 1) % 3;
    assert_eq!(cluster.move_leader("spread", 0, to).unwrap(), 1);
    let mut new_leader = connect(&cluster, to).await;
    let code =
        |r: kafka_protocol::messages::ListOffsetsResponse| r.topics[0].partitions[0].error_code;
    let stale = new_leader
        .call(&list_offsets_request("spread", 0, 0), 9)
        .await;
    assert_eq!(code(stale), ResponseError::FencedLeaderEpoch.code());
    let future = new_leader
        .call(&list_offsets_request("spread", 0, 2), 9)
        .await;
    assert_eq!(code(future), ResponseError::UnknownLeaderEpoch.code());
    let current = new_leader
        .call(&list_offsets_request("spread", 0, 1), 9)
        .await;
    assert_eq!(current.topics[0].partitions[0].leader_epoch, 1);
    assert_eq!(
        current.topics[0].partitions[0].offset, 1,
        "the record written before the move"
    );
    let fenced = new_leader.call(&fetch_request("spread", 0, 0, 0), 12).await;
    assert_eq!(
        fenced.responses[0].partitions[0].error_code,
        ResponseError::FencedLeaderEpoch.code()
    );
    let mut old_leader = connect(&cluster, leader).await;
    let old = old_leader
        .call(&list_offsets_request("spread", 0, 1), 9)
        .await;
    assert_eq!(code(old), NOT_LEADER);
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stopped_broker_refuses_connections_and_hands_over_its_partitions() {
    let cluster = Cluster::builder().nodes(3).seed(2).start().await.unwrap();
    cluster.create_topic("handover", 3).await.unwrap();
    let victim = cluster.leader("handover", 0).unwrap();
    let address = cluster.address(victim).unwrap();
    let mut open = connect(&cluster, victim).await;
    assert_eq!(produce_code(&mut open, "handover", 0, &["before"]).await, 0);

    cluster.stop_broker(victim).await.unwrap();
    assert!(
        open.is_closed_by_broker().await,
        "open connections are dropped"
    );
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "new ones refused"
    );
    let placement = cluster.placement("handover", 0).unwrap();
    assert_ne!(placement.leader, victim);
    assert_eq!(placement.leader_epoch, 1);
    assert_eq!(placement.offline, vec![victim]);
    let survivor = placement.leader;
    let mut client = connect(&cluster, survivor).await;
    let metadata = client
        .call(&MetadataRequest::default().with_topics(None), 12)
        .await;
    assert_eq!(metadata.brokers.len(), 2);
    assert!(metadata.brokers.iter().all(|b| b.node_id.0 != victim));
    assert_eq!(
        produce_code(&mut client, "handover", 0, &["after"]).await,
        0
    );

    cluster.start_broker(victim).await.unwrap();
    assert!(cluster.is_running(victim).await);
    let mut back = TestClient::connect(address).await;
    assert_eq!(
        produce_code(&mut back, "handover", 0, &["not the leader"]).await,
        NOT_LEADER,
        "leadership does not move back by itself"
    );
    cluster.move_leader("handover", 0, victim).unwrap();
    assert_eq!(produce_code(&mut back, "handover", 0, &["again"]).await, 0);
    assert_eq!(
        read_all(&cluster, "handover", 0).await,
        ["before", "after", "again"]
    );

    cluster.kill_connections(victim).unwrap();
    assert!(back.is_closed_by_broker().await);
    let mut fresh = TestClient::connect(address).await;
    assert_eq!(produce_code(&mut fresh, "handover", 0, &["last"]).await, 0);
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn fail_next_answers_with_the_code_and_the_hook_sees_requests() {
    let cluster = Cluster::builder().nodes(2).seed(3).start().await.unwrap();
    cluster.create_topic("faulty", 1).await.unwrap();
    let leader = cluster.leader("faulty", 0).unwrap();
    let seen = cluster.faults().record();
    let rule = cluster
        .faults()
        .on(leader)
        .api(ApiKey::Produce)
        .fail_next(2, ResponseError::NotEnoughReplicas);

    let mut client = connect(&cluster, leader).await;
    let code = ResponseError::NotEnoughReplicas.code();
    assert_eq!(produce_code(&mut client, "faulty", 0, &["a"]).await, code);
    assert_eq!(produce_code(&mut client, "faulty", 0, &["b"]).await, code);
    assert_eq!(produce_code(&mut client, "faulty", 0, &["c"]).await, 0);
    assert_eq!(cluster.faults().fired(rule), 2);
    assert_eq!(
        read_all(&cluster, "faulty", 0).await,
        ["c"],
        "failed requests are not applied"
    );
    cluster
        .faults()
        .on(leader)
        .api(ApiKey::Produce)
        .fail_after_apply_next(1, ResponseError::NotEnoughReplicasAfterAppend);
    assert_eq!(
        produce_code(&mut client, "faulty", 0, &["d"]).await,
        ResponseError::NotEnoughReplicasAfterAppend.code()
    );
    assert_eq!(
        read_all(&cluster, "faulty", 0).await,
        ["c", "d"],
        "fail-after-apply writes the data"
    );

    cluster
        .faults()
        .any_node()
        .api(ApiKey::Metadata)
        .fail_next(1, ResponseError::LeaderNotAvailable);
    let request = MetadataRequest::default().with_topics(None);
    let failed = client.call(&request, 12).await;
    assert_eq!(failed.topics.len(), 1);
    assert_eq!(
        failed.topics[0].error_code,
        ResponseError::LeaderNotAvailable.code()
    );
    assert_eq!(client.call(&request, 12).await.topics[0].error_code, 0);

    let produces: Vec<_> = seen
        .entries()
        .into_iter()
        .filter(|r| r.api_key == ApiKey::Produce)
        .collect();
    assert_eq!(produces.len(), 4);
    assert!(produces
        .iter()
        .all(|r| r.node_id == leader && r.api_version == 9));
    let correlations: Vec<i32> = produces.iter().map(|r| r.correlation_id).collect();
    assert_eq!(correlations, vec![1, 2, 3, 4]);
    assert_eq!(seen.count(Some(ApiKey::Metadata), Some(leader)), 2);
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn group_apis_answer_not_coordinator_away_from_the_coordinator() {
    let cluster = Cluster::builder().nodes(3).seed(4).start().await.unwrap();
    let coordinator = cluster.coordinator("g1").unwrap();
    let mut client = connect(&cluster, (coordinator + 1) % 3).await;
    let found = client
        .call(
            &FindCoordinatorRequest::default()
                .with_key_type(0)
                .with_coordinator_keys(vec![StrBytes::from_static_str("g1")]),
            4,
        )
        .await;
    assert_eq!(found.coordinators[0].node_id.0, coordinator);
    let heartbeat = HeartbeatRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g1")))
        .with_member_id(StrBytes::from_static_str("m"));
    let answer = client.call(&heartbeat, 4).await;
    assert_eq!(answer.error_code, NOT_COORDINATOR);
    let offsets = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g1")))
        .with_topics(None);
    assert_eq!(client.call(&offsets, 7).await.error_code, NOT_COORDINATOR);

    let target = (coordinator + 1) % 3;
    cluster.move_coordinator("g1", target).unwrap();
    assert_eq!(cluster.coordinator("g1"), Some(target));
    assert_eq!(client.call(&offsets, 7).await.error_code, 0);
    cluster.shutdown().await.unwrap();
}

fn producer(cluster: &Cluster) -> Producer<String, String> {
    Producer::builder()
        .bootstrap_servers(cluster.bootstrap().split(','))
        .serializers(StringSerializer, StringSerializer)
        .configure(|c| {
            c.linger = Duration::from_millis(2);
            c.client.retry_backoff = Duration::from_millis(20);
            c.client.retry_backoff_max = Duration::from_millis(200);
            c.client.request_timeout = Duration::from_secs(5);
        })
        .build()
        .expect("producer builds")
}

#[tokio::test]
async fn acknowledged_records_survive_leader_moves_and_broker_restarts_exactly_once() {
    let cluster = Arc::new(Cluster::builder().nodes(3).seed(5).start().await.unwrap());
    cluster.create_topic("moving", 3).await.unwrap();
    let producer = producer(&cluster);

    // A fixed script: every partition's leader moves twice and each node
    // is stopped and restarted once, while records keep flowing.
    let chaos = {
        let cluster = cluster.clone();
        tokio::spawn(async move {
            for round in 0..9 {
                tokio::time::sleep(Duration::from_millis(80)).await;
                let partition = round % 3;
                let leader = cluster.leader("moving", partition).unwrap();
                if round % 3 == 2 {
                    cluster.stop_broker(leader).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    cluster.start_broker(leader).await.unwrap();
                } else {
                    cluster
                        .move_leader("moving", partition, (leader + 1) % 3)
                        .unwrap();
                }
            }
        })
    };

    let mut deliveries = Vec::new();
    let mut i = 0;
    while !chaos.is_finished() || i < 300 {
        let partition = i % 3;
        let value = format!("{partition}-{i}");
        let record =
            durian_producer::ProducerRecord::new("moving", value.clone()).with_partition(partition);
        deliveries.push((partition, value, producer.send(record).await.unwrap()));
        i += 1;
        if i % 30 == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    chaos.await.unwrap();
    let mut acknowledged: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for (partition, value, delivery) in deliveries {
        let written = delivery.await.expect("every record is acknowledged");
        assert_eq!(written.partition, partition);
        acknowledged.entry(partition).or_default().push(value);
    }
    assert!(
        producer.metrics().retries > 0,
        "the moves and stops must have hit the producer"
    );
    producer.close(Duration::from_secs(5)).await.unwrap();

    for (partition, sent) in acknowledged {
        let read = read_all(&cluster, "moving", partition).await;
        assert_eq!(
            read, sent,
            "partition {partition}: every record once, in order"
        );
    }
    Arc::try_unwrap(cluster).unwrap().shutdown().await.unwrap();
}

#[tokio::test]
async fn a_dropped_response_is_retried_and_deduplicated_by_the_idempotent_producer() {
    let cluster = Cluster::builder().nodes(3).seed(6).start().await.unwrap();
    cluster.create_topic("dropped", 1).await.unwrap();
    let leader = cluster.leader("dropped", 0).unwrap();
    let rule = cluster
        .faults()
        .on(leader)
        .api(ApiKey::Produce)
        .drop_response_next(1);
    let producer = producer(&cluster);
    let record = durian_producer::ProducerRecord::new("dropped", "only once".to_string());
    let written = producer.send_and_wait(record).await.unwrap();
    assert_eq!(
        cluster.faults().fired(rule),
        1,
        "the first attempt lost its response"
    );
    assert_eq!(written.partition, 0);
    assert!(producer.metrics().retries >= 1);
    producer.close(Duration::from_secs(5)).await.unwrap();
    assert_eq!(read_all(&cluster, "dropped", 0).await, ["only once"]);
    cluster.shutdown().await.unwrap();
}

async fn poll_until(consumer: &mut durian_consumer::Consumer, wanted: usize) -> Vec<String> {
    let mut values = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while values.len() < wanted {
        assert!(
            tokio::time::Instant::now() < deadline,
            "got {} of {wanted}",
            values.len()
        );
        let batch = consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll");
        for record in batch {
            let value = record.value.expect("value");
            values.push(String::from_utf8_lossy(&value).into_owned());
        }
    }
    values
}

#[tokio::test]
async fn a_moved_coordinator_is_found_again_and_keeps_the_commits() {
    let cluster = Cluster::builder()
        .nodes(3)
        .seed(7)
        .group_config(durian_broker::GroupConfig {
            initial_rebalance_delay: Duration::ZERO,
            ..Default::default()
        })
        .start()
        .await
        .unwrap();
    cluster.create_topic("grouped", 3).await.unwrap();
    let producer = producer(&cluster);
    let send = |range: std::ops::Range<i32>| {
        let producer = producer.clone();
        async move {
            for i in range {
                let record = durian_producer::ProducerRecord::new("grouped", format!("v{i}"))
                    .with_partition(i % 3);
                producer.send_and_wait(record).await.unwrap();
            }
        }
    };
    send(0..30).await;
    let mut consumer = durian_consumer::Consumer::builder()
        .bootstrap_servers(cluster.bootstrap().split(','))
        .group_id("movers")
        .auto_offset_reset(durian_consumer::OffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    consumer.subscribe(["grouped"]).unwrap();
    assert_eq!(poll_until(&mut consumer, 30).await.len(), 30);
    consumer.commit().await.unwrap();

    let old = cluster.coordinator("movers").unwrap();
    let new = (old + 1) % 3;
    let seen = cluster.faults().record();
    cluster.move_coordinator("movers", new).unwrap();
    send(30..60).await;
    let mut later = poll_until(&mut consumer, 30).await;
    later.sort();
    let mut expected: Vec<String> = (30..60).map(|i| format!("v{i}")).collect();
    expected.sort();
    assert_eq!(later, expected, "nothing re-read, nothing lost");
    consumer.commit().await.unwrap();
    assert!(
        seen.count(Some(ApiKey::OffsetCommit), Some(new)) >= 1,
        "the commit reached the new coordinator"
    );
    assert!(
        seen.count(Some(ApiKey::FindCoordinator), None) >= 1,
        "the consumer looked the coordinator up again"
    );
    assert_eq!(seen.count(Some(ApiKey::JoinGroup), None), 0, "no rebalance");

    let partitions = (0..3)
        .map(|p| durian_consumer::TopicPartition::new("grouped", p))
        .collect();
    let committed = consumer.committed(&partitions).await.unwrap();
    let offsets: Vec<Option<i64>> = committed
        .values()
        .map(|o| o.as_ref().map(|o| o.offset))
        .collect();
    assert_eq!(offsets, vec![Some(20), Some(20), Some(20)]);
    consumer.close().await.unwrap();
    producer.close(Duration::from_secs(5)).await.unwrap();
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn delay_holds_a_request_and_close_connection_drops_it_unapplied() {
    let cluster = Cluster::builder().nodes(2).seed(8).start().await.unwrap();
    cluster.create_topic("slow", 1).await.unwrap();
    let leader = cluster.leader("slow", 0).unwrap();
    let answered = Arc::new(std::sync::Mutex::new(Vec::new()));
    let hook = {
        let answered = answered.clone();
        cluster
            .faults()
            .answer_hook(move |r| answered.lock().unwrap().push((r.api_key, r.correlation_id)))
    };
    let delay = Duration::from_millis(300);
    cluster
        .faults()
        .on(leader)
        .api(ApiKey::Produce)
        .delay_next(1, delay);
    let mut client = connect(&cluster, leader).await;
    let started = tokio::time::Instant::now();
    assert_eq!(produce_code(&mut client, "slow", 0, &["late"]).await, 0);
    assert!(started.elapsed() >= delay, "served only after the delay");

    cluster
        .faults()
        .on(leader)
        .api(ApiKey::Produce)
        .close_connection_next(1);
    client
        .send(&produce_request("slow", 0, batch(&["never"])), 9)
        .await;
    assert!(client.is_closed_by_broker().await);
    let produces: Vec<i32> = answered
        .lock()
        .unwrap()
        .iter()
        .filter(|(api, _)| *api == ApiKey::Produce)
        .map(|(_, correlation)| *correlation)
        .collect();
    assert_eq!(produces, vec![1], "the closed request was never answered");
    cluster.faults().remove_hook(hook);
    assert_eq!(read_all(&cluster, "slow", 0).await, ["late"]);
    cluster.shutdown().await.unwrap();
}
