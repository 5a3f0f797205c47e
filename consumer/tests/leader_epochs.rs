//! Leader epochs (KIP-320) on a three-node in-process cluster: after a
//! leader moves, the consumer validates its positions with
//! OffsetForLeaderEpoch before fetching from the new leader, retries
//! FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH answers of both Fetch and
//! OffsetForLeaderEpoch, and reads every record exactly once.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{check_record, consumer, produce};
use durian_broker::testing::Cluster;
use durian_consumer::TopicPartition;
use durian_core::{Client, ClientConfig};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;
use tokio::time::Instant;

const PARTITIONS: i32 = 2;
const PER_PARTITION: usize = 4_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_are_validated_after_a_leader_change_and_fenced_answers_retried() {
    let cluster = Cluster::builder().nodes(3).seed(11).start().await.unwrap();
    let topic = "epochs";
    cluster.create_topic(topic, PARTITIONS).await.unwrap();
    let client = Client::connect(
        ClientConfig::builder()
            .bootstrap_servers(cluster.bootstrap().split(',').map(str::to_owned))
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    client.add_topics([topic]);
    client.refresh_metadata("test setup").await.unwrap();
    for partition in 0..PARTITIONS {
        produce(&client, topic, partition, 0, PER_PARTITION, 100).await;
    }
    let seen = cluster.faults().record();
    let first_bootstrap = cluster.bootstrap();
    let first = first_bootstrap.split(',').next().unwrap();
    // Small fetches, so every partition still fetches after the move.
    let mut consumer = consumer(first, None)
        .max_poll_records(100)
        .max_partition_fetch_bytes(4_096)
        .build()
        .unwrap();
    consumer
        .assign((0..PARTITIONS).map(|p| TopicPartition::new(topic, p)))
        .unwrap();

    let total = PARTITIONS as usize * PER_PARTITION;
    let mut next = [0i64; PARTITIONS as usize];
    let mut read = 0usize;
    let mut moved = false;
    let mut rules = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while read < total {
        assert!(
            Instant::now() < deadline,
            "{read} of {total} read: {next:?}"
        );
        let batch = consumer.poll(Duration::from_millis(200)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        for record in batch {
            check_record(&record);
            let p = record.partition as usize;
            assert_eq!(record.offset, next[p], "partition {p}: lost or repeated");
            next[p] += 1;
            read += 1;
        }
        if !moved && read >= total / 4 {
            moved = true;
            for partition in 0..PARTITIONS {
                let from = cluster.leader(topic, partition).unwrap();
                let to = (from + 1) % 3;
                // The new leader first refuses: the consumer must refresh
                // its metadata and ask again, not give up or skip.
                let on = cluster.faults().on(to);
                rules.push(
                    on.api(ApiKey::OffsetForLeaderEpoch)
                        .fail_next(1, ResponseError::FencedLeaderEpoch),
                );
                let on = cluster.faults().on(to);
                rules.push(
                    on.api(ApiKey::OffsetForLeaderEpoch)
                        .fail_next(1, ResponseError::UnknownLeaderEpoch),
                );
                let on = cluster.faults().on(to);
                rules.push(
                    on.api(ApiKey::Fetch)
                        .fail_next(1, ResponseError::FencedLeaderEpoch),
                );
                cluster.move_leader(topic, partition, to).unwrap();
            }
        }
    }
    let extra = consumer.poll(Duration::from_millis(300)).await.unwrap();
    assert!(extra.is_empty(), "records after the end: {}", extra.len());
    assert!(
        seen.count(Some(ApiKey::OffsetForLeaderEpoch), None) >= 3,
        "positions validated after the leader change (and after the refusals): {} requests",
        seen.count(Some(ApiKey::OffsetForLeaderEpoch), None)
    );
    let fired: Vec<u64> = rules.iter().map(|r| cluster.faults().fired(*r)).collect();
    assert_eq!(
        fired,
        vec![1; rules.len()],
        "every injected refusal was met"
    );
    consumer.close().await.unwrap();
    cluster.shutdown().await.unwrap();
}
