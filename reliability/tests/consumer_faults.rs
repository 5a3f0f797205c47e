//! C3: coordinator errors on the group's own requests never surface from
//! `poll` and never reset offsets.
//!
//! A member of a group reads a 3-partition topic on a 3-node cluster,
//! committing after every poll. Midway, the group coordinator answers the
//! next OffsetCommits with COORDINATOR_LOAD_IN_PROGRESS and NOT_COORDINATOR,
//! the next Heartbeats with COORDINATOR_LOAD_IN_PROGRESS and then
//! REBALANCE_IN_PROGRESS (which makes the member rejoin, as a real
//! rebalance would), and the next OffsetFetches with
//! COORDINATOR_LOAD_IN_PROGRESS. The checks: every poll succeeds with no
//! per-partition error, every rule fired, every record is read, a record is
//! read twice only if it lies past the last successful commit before the
//! rejoin (never from an offset reset to the start), and in the end the
//! committed offsets equal the end offsets.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::fault_tolerant_producer;
use durian_broker::testing::{Cluster, RuleId};
use durian_consumer::{Consumer, OffsetReset, TopicPartition};
use durian_producer::ProducerRecord;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;

const TOPIC: &str = "c3";
const GROUP: &str = "c3-group";
const PARTITIONS: i32 = 3;
const RECORDS_PER_PARTITION: i64 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c3_coordinator_errors_never_surface_and_never_reset_offsets() {
    let cluster = Cluster::builder().nodes(3).seed(3).start().await.unwrap();
    cluster.create_topic(TOPIC, PARTITIONS).await.unwrap();
    let bootstrap = cluster.bootstrap();

    let producer = fault_tolerant_producer(&bootstrap);
    let mut deliveries = Vec::new();
    for partition in 0..PARTITIONS {
        for n in 0..RECORDS_PER_PARTITION {
            let value = Bytes::from(format!("{partition}-{n}"));
            let record =
                ProducerRecord::<Bytes, Bytes>::new(TOPIC, value).with_partition(partition);
            deliveries.push(producer.send(record).await.unwrap());
        }
    }
    for delivery in deliveries {
        delivery.await.unwrap();
    }
    producer.close(Duration::from_secs(10)).await.unwrap();

    let mut consumer = Consumer::builder()
        .bootstrap_servers(bootstrap.split(','))
        .group_id(GROUP)
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .max_poll_records(200)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    consumer.subscribe([TOPIC]).unwrap();

    let total = RECORDS_PER_PARTITION * i64::from(PARTITIONS);
    let mut reads: BTreeMap<(i32, i64), u32> = BTreeMap::new();
    let mut committed_before_faults: BTreeMap<i32, i64> = BTreeMap::new();
    let mut rules: Vec<RuleId> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);

    while (reads.len() as i64) < total {
        assert!(
            Instant::now() < deadline,
            "read {} of {total} records within 60 s",
            reads.len()
        );
        let batch = consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("coordinator errors must not surface from poll");
        assert!(
            batch.errors.is_empty(),
            "per-partition errors: {:?}",
            batch.errors
        );
        for record in batch.iter() {
            *reads.entry((record.partition, record.offset)).or_default() += 1;
        }
        if !batch.is_empty() {
            consumer
                .commit()
                .await
                .expect("commit retries coordinator errors");
        }
        if rules.is_empty() && (reads.len() as i64) >= total / 3 {
            // Everything read so far is committed: remember where, then
            // make the coordinator misbehave.
            for partition in 0..PARTITIONS {
                let tp = TopicPartition::new(TOPIC, partition);
                committed_before_faults.insert(partition, consumer.position(&tp).await.unwrap());
            }
            let coordinator = cluster.coordinator(GROUP).unwrap();
            let on = || cluster.faults().on(coordinator);
            let load = ResponseError::CoordinatorLoadInProgress;
            rules.push(on().api(ApiKey::OffsetCommit).fail_next(2, load));
            rules.push(
                on().api(ApiKey::OffsetCommit)
                    .fail_next(1, ResponseError::NotCoordinator),
            );
            rules.push(on().api(ApiKey::OffsetFetch).fail_next(2, load));
            rules.push(on().api(ApiKey::Heartbeat).fail_next(1, load));
            rules.push(
                on().api(ApiKey::Heartbeat)
                    .fail_next(1, ResponseError::RebalanceInProgress),
            );
        }
    }
    for (i, rule) in rules.iter().enumerate() {
        assert!(
            cluster.faults().fired(*rule) > 0,
            "fault rule {i} never fired, so the scenario proved nothing"
        );
    }
    assert_eq!(rules.len(), 5, "the faults were injected");

    // Every record read; repeats only past the commit made before the
    // faults (a rejoin may resume from the last commit, never earlier).
    for partition in 0..PARTITIONS {
        for offset in 0..RECORDS_PER_PARTITION {
            let count = reads.get(&(partition, offset)).copied().unwrap_or(0);
            assert!(count >= 1, "{TOPIC}-{partition}@{offset} never read");
            if count > 1 {
                assert!(
                    offset >= committed_before_faults[&partition],
                    "{TOPIC}-{partition}@{offset} read {count} times though it was committed \
                     (at {}) before the faults: offsets were reset",
                    committed_before_faults[&partition]
                );
            }
        }
    }

    consumer.commit().await.unwrap();
    let partitions: BTreeSet<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect();
    let committed = consumer.committed(&partitions).await.unwrap();
    for tp in &partitions {
        let offset = committed.get(tp).and_then(|c| c.as_ref()).map(|c| c.offset);
        assert_eq!(
            offset,
            Some(RECORDS_PER_PARTITION),
            "committed offset of {tp:?} after the run"
        );
    }
    consumer.close().await.unwrap();
    cluster.shutdown().await.unwrap();
}
