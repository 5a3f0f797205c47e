//! The producer on a three-node in-process cluster whose partition leader
//! moves every second during a long produce (issue 7's P4).
//!
//! Every Produce request is held 100 ms by the cluster before it is
//! served, so requests are in flight at the old leader when the leader
//! moves. The producer must not send anything of the partition to the new
//! leader before the old leader has answered all of them; with one
//! partition, that means: a Produce request reaching node B comes at
//! least 100 ms after the last one that reached any other node. The
//! checker then reads the partition back: contiguous offsets, send order,
//! no duplicate.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use durian_broker::testing::{Cluster, Fault, Times};
use durian_core::{ClientConfig, Target};
use durian_producer::{Producer, ProducerRecord};
use futures::future::join_all;
use kafka_protocol::messages::ApiKey;
use tokio::time::Instant;

use common::{high_watermark_from, read_partition_from, value_of};

const TOPIC: &str = "moving";
/// How long the cluster holds every Produce request.
const HOLD: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_reaches_a_new_leader_before_the_old_one_answered() {
    let cluster = Arc::new(Cluster::builder().nodes(3).seed(11).start().await.unwrap());
    cluster.create_topic(TOPIC, 1).await.unwrap();
    let servers: Vec<String> = cluster.bootstrap().split(',').map(str::to_owned).collect();
    let faults = cluster.faults();
    faults
        .any_node()
        .api(ApiKey::Produce)
        .rule(Fault::Delay(HOLD), Times::Always);
    let arrivals: Arc<Mutex<Vec<(Instant, i32)>>> = Arc::default();
    let sink = arrivals.clone();
    faults.hook(move |request| {
        if request.api_key == ApiKey::Produce {
            // Timestamped under the lock, so the list is in time order.
            let mut arrivals = sink.lock().unwrap();
            arrivals.push((Instant::now(), request.node_id));
        }
    });

    let producer = Producer::builder()
        .bootstrap_servers(servers.clone())
        .configure(|c| {
            c.client.retry_backoff = Duration::from_millis(20);
            c.client.retry_backoff_max = Duration::from_millis(200);
            // Frequent refreshes reveal a new leader while requests are
            // still held at the old one, before any of them has failed:
            // only the in-flight rule keeps the producer from switching.
            c.client.metadata_max_age = Duration::from_millis(50);
        })
        .build()
        .unwrap();
    // The leader moves every second, six times, while records keep coming.
    let mover = tokio::spawn({
        let cluster = cluster.clone();
        async move {
            for _ in 0..6 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let from = cluster.leader(TOPIC, 0).unwrap();
                cluster.move_leader(TOPIC, 0, (from + 1) % 3).unwrap();
            }
        }
    });
    let mut deliveries = Vec::new();
    let mut n = 0;
    while !mover.is_finished() {
        for _ in 0..200 {
            let record = ProducerRecord::new(TOPIC, value_of(0, n)).with_partition(0);
            deliveries.push(producer.send(record).await.unwrap());
            n += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    mover.await.unwrap();
    for (index, result) in join_all(deliveries).await.into_iter().enumerate() {
        let written = result.unwrap_or_else(|e| panic!("record {index}: {e}"));
        assert_eq!(written.offset, index as i64, "offsets follow send order");
    }
    let metrics = producer.metrics();
    producer.close(Duration::from_secs(10)).await.unwrap();
    assert!(
        metrics.retries > 0,
        "the moves made the producer retry: {metrics:?}"
    );

    // Ordering at the brokers: whenever the producer changed node, every
    // request it had sent elsewhere had been held and answered first.
    let arrivals = arrivals.lock().unwrap().clone();
    let mut last_at: [Option<Instant>; 3] = [None; 3];
    let mut switches = 0;
    let mut previous = None;
    for (at, node) in &arrivals {
        let node = *node as usize;
        if previous.is_some_and(|p| p != node) {
            switches += 1;
        }
        previous = Some(node);
        for (other, last) in last_at.iter().enumerate() {
            let Some(last) = last.filter(|_| other != node) else {
                continue;
            };
            assert!(
                *at >= last + HOLD,
                "a request reached node {node} {:?} after one reached node {other}, \
                 before that one could be answered",
                at.saturating_duration_since(last)
            );
        }
        last_at[node] = Some(*at);
    }
    assert!(
        switches >= 3,
        "the producer followed the leader: {switches} switches"
    );

    // The checker: the partition holds every record once, in send order.
    let client = durian_core::Client::new(
        ClientConfig::builder()
            .bootstrap_servers(servers)
            .build()
            .unwrap(),
    )
    .unwrap();
    client.add_topics([TOPIC]);
    client.refresh_metadata("reading back").await.unwrap();
    let leader = cluster.leader(TOPIC, 0).unwrap();
    let records = read_partition_from(&client, Target::Broker(leader), TOPIC, 0, n).await;
    assert_eq!(records.len(), n);
    for (index, record) in records.iter().enumerate() {
        assert_eq!(record.offset, index as i64);
        assert_eq!(
            record.value.as_ref().unwrap(),
            &value_of(0, index),
            "#{index}"
        );
    }
    let end = high_watermark_from(&client, Target::Broker(leader), TOPIC, 0).await;
    assert_eq!(end, n as i64, "nothing written twice after the last record");
    match Arc::try_unwrap(cluster) {
        Ok(cluster) => cluster.shutdown().await.unwrap(),
        Err(_) => panic!("the cluster is still shared"),
    }
}
