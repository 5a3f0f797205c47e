//! P1, P2, P5: the idempotent producer against durian's in-process
//! fault-injection cluster (`durian_broker::testing::Cluster`).
//!
//! P1 a random node's connections killed every 0.5–1.5 s during a produce;
//! P2 responses dropped after the append (the classic duplicate maker) with
//! 1..=5 requests in flight; P5 a partition's only broker down for longer
//! than delivery.timeout.ms: its records fail within the timeout + 1 s,
//! the other partitions' records are acknowledged in order.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{fault_tolerant_producer, producer_with, seed, sized};
use durian_broker::testing::Cluster;
use durian_producer::{ProducerError, ProducerRecord};
use durian_reliability::readback::read_all;
use durian_reliability::{check, produce, Expectations, Outcome, SendLedger, SentRecord, Workload};
use kafka_protocol::messages::ApiKey;
use rand::{Rng, SeedableRng};

const IDEMPOTENT: Expectations = Expectations { idempotent: true };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p1_connections_killed_every_second_lose_and_duplicate_nothing() {
    let seed = seed();
    eprintln!("P1 seed {seed} (DURIAN_SEED reruns it)");
    let cluster = Arc::new(
        Cluster::builder()
            .nodes(3)
            .seed(seed)
            .start()
            .await
            .unwrap(),
    );
    let partitions = 6;
    cluster.create_topic("p1", partitions).await.unwrap();
    let bootstrap = cluster.bootstrap();
    let producer = fault_tolerant_producer(&bootstrap);
    let mut workload = Workload::new("p1", partitions, sized("DURIAN_P1_RECORDS", 200_000));
    // Short, frequent pauses spread the run over ~10 s while keeping
    // requests in flight most of the time, so kills interrupt them.
    workload.pause_every = 100;
    workload.pause = Duration::from_millis(4);

    let kills = Arc::new(AtomicU32::new(0));
    let killer = tokio::spawn({
        let cluster = cluster.clone();
        let kills = kills.clone();
        let producer = producer.clone();
        async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            loop {
                tokio::time::sleep(Duration::from_millis(rng.random_range(500..1_500))).await;
                // Strike while requests are in flight (up to 100 ms later),
                // so kills interrupt requests rather than idle connections.
                for _ in 0..100 {
                    if producer.metrics().in_flight_requests > 0 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                // Every node's connections at once: the request in flight
                // may be to any of them, and a kill of one node without it
                // would interrupt nothing.
                let mut killed = false;
                for node in 0..3 {
                    killed |= cluster.kill_connections(node).is_ok();
                }
                if killed {
                    kills.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let watchdog = tokio::spawn({
        let producer = producer.clone();
        let sent = sent.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let m = producer.metrics();
                eprintln!(
                    "P1 progress: {} sent, {} acked, {} retries, {} in flight, {} bytes buffered",
                    sent.load(Ordering::Relaxed),
                    m.records_sent,
                    m.retries,
                    m.in_flight_requests,
                    m.buffer_in_use
                );
            }
        }
    });
    let started = Instant::now();
    let ledger = produce(&producer, &workload, |n| sent.store(n, Ordering::Relaxed)).await;
    let elapsed = started.elapsed();
    killer.abort();
    watchdog.abort();
    let kills = kills.load(Ordering::Relaxed);
    let metrics = producer.metrics();
    producer.close(Duration::from_secs(10)).await.unwrap();
    let read = read_all(&bootstrap, "p1", partitions, Duration::from_secs(60))
        .await
        .unwrap();
    let report = check(workload.run_id, &ledger, &read, IDEMPOTENT);
    eprintln!(
        "P1: {} records in {elapsed:?}, {kills} connection kills, {} retries, {} epoch bumps; {report}",
        workload.records, metrics.retries, metrics.epoch_bumps
    );
    assert!(
        kills >= 5,
        "only {kills} kills; the run was too short to test anything"
    );
    assert!(
        metrics.retries > 0,
        "no kill interrupted a request; nothing was tested"
    );
    assert!(report.is_clean(), "seed {seed}: {report}");
    assert_eq!(
        (report.acked, report.read),
        (report.sent, report.sent),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_dropped_responses_with_one_to_five_in_flight_are_deduplicated() {
    let seed = seed();
    eprintln!("P2 seed {seed} (DURIAN_SEED reruns it)");
    // For stress runs: one in-flight setting only, another drop rate.
    let only: Option<usize> = std::env::var("DURIAN_P2_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok());
    let drop_rate: f64 = std::env::var("DURIAN_P2_DROP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.1);
    for in_flight in (1..=5usize).filter(|n| only.is_none_or(|o| o == *n)) {
        let started = Instant::now();
        let cluster = Cluster::builder()
            .nodes(3)
            .seed(seed)
            .start()
            .await
            .unwrap();
        let topic = format!("p2-{in_flight}");
        cluster.create_topic(&topic, 3).await.unwrap();
        let bootstrap = cluster.bootstrap();
        // Applied, then the connection closes without an answer: the
        // producer must retry, and the broker must recognise the retry.
        let rule = cluster
            .faults()
            .any_node()
            .api(ApiKey::Produce)
            .drop_responses_randomly(drop_rate);
        // Small batches: many requests, so many chances to drop one.
        let producer = producer_with(&bootstrap, |c| {
            c.max_in_flight = in_flight;
            c.batch_size = 4096;
        });
        let mut workload = Workload::new(topic.clone(), 3, sized("DURIAN_P2_RECORDS", 10_000));
        workload.pause_every = 200;
        workload.pause = Duration::from_millis(5);
        let ledger = produce(&producer, &workload, |_| {}).await;
        let dropped = cluster.faults().fired(rule);
        cluster.faults().remove(rule);
        producer.close(Duration::from_secs(10)).await.unwrap();
        let read = read_all(&bootstrap, &topic, 3, Duration::from_secs(60))
            .await
            .unwrap();
        let report = check(workload.run_id, &ledger, &read, IDEMPOTENT);
        let metrics = producer.metrics();
        eprintln!(
            "P2 in flight {in_flight}: {dropped} responses dropped, {} requests, {} retries, \
             {} epoch bumps, {:.1} s; {report}",
            metrics.requests_sent,
            metrics.retries,
            metrics.epoch_bumps,
            started.elapsed().as_secs_f64()
        );
        assert!(dropped > 0, "no response was dropped; nothing was tested");
        assert!(
            report.is_clean(),
            "seed {seed}, in flight {in_flight}: {report}"
        );
        assert_eq!(
            (report.acked, report.read),
            (report.sent, report.sent),
            "{report}"
        );
        cluster.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p5_a_partition_unreachable_past_the_delivery_timeout_fails_in_time_and_the_rest_keep_order(
) {
    let seed = seed();
    eprintln!("P5 seed {seed} (DURIAN_SEED reruns it)");
    // One replica per partition, so stopping a node takes its partitions
    // offline instead of moving their leadership.
    let cluster = Cluster::builder()
        .nodes(3)
        .replication_factor(1)
        .seed(seed)
        .start()
        .await
        .unwrap();
    let partitions = 6;
    cluster.create_topic("p5", partitions).await.unwrap();
    let bootstrap = cluster.bootstrap();
    let delivery_timeout = Duration::from_secs(3);
    let producer = producer_with(&bootstrap, |c| {
        c.delivery_timeout = delivery_timeout;
        c.client.request_timeout = Duration::from_secs(2);
        c.linger = Duration::from_millis(5);
    });
    let victim = cluster.leader("p5", 0).unwrap();
    let affected: BTreeSet<i32> = (0..partitions)
        .filter(|p| cluster.leader("p5", *p) == Some(victim))
        .collect();
    assert!(
        affected.len() < partitions as usize,
        "every partition on one node"
    );
    // Warm up: metadata and producer id in place before the outage.
    producer
        .send_and_wait(
            ProducerRecord::new("p5", bytes::Bytes::from_static(b"warm")).with_partition(1),
        )
        .await
        .unwrap();
    cluster.stop_broker(victim).await.unwrap();

    let workload = Workload::new("p5", partitions, 3_000);
    let mut ledger = SendLedger::new();
    let mut waiting = Vec::new();
    for n in 0..workload.records {
        let id = workload.id(n);
        let partition = (n % partitions as u64) as i32;
        ledger.push(SentRecord {
            id,
            partition,
            outcome: Outcome::Pending,
        });
        let record = ProducerRecord::<bytes::Bytes, bytes::Bytes>::new("p5", id.encode(32))
            .with_key(id.kafka_key())
            .with_partition(partition);
        let sent_at = Instant::now();
        let delivery = producer.send(record).await.unwrap();
        waiting.push(tokio::spawn(async move {
            let result = delivery.await;
            (n, partition, sent_at.elapsed(), result)
        }));
        if n % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mut late = Vec::new();
    let mut timed_out = 0;
    for handle in waiting {
        let (n, partition, took, result) = handle.await.unwrap();
        if affected.contains(&partition) {
            match &result {
                Err(ProducerError::DeliveryTimeout { .. }) => timed_out += 1,
                other => panic!("record {n} to offline partition {partition}: {other:?}"),
            }
            if took > delivery_timeout + Duration::from_secs(1) {
                late.push((n, took));
            }
        } else {
            assert!(
                result.is_ok(),
                "record {n} to live partition {partition}: {result:?}"
            );
        }
        ledger.resolve(n, Outcome::from_delivery(&result));
    }
    assert!(
        late.is_empty(),
        "{} records failed later than timeout + 1 s, e.g. {:?}",
        late.len(),
        late.first()
    );
    cluster.start_broker(victim).await.unwrap();
    producer.close(Duration::from_secs(10)).await.unwrap();
    let read: Vec<_> = read_all(&bootstrap, "p5", partitions, Duration::from_secs(60))
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.value.as_ref() != b"warm")
        .collect();
    let report = check(workload.run_id, &ledger, &read, IDEMPOTENT);
    eprintln!(
        "P5: node {victim} down (partitions {affected:?}); {timed_out} records timed out, none late; {report}"
    );
    assert!(timed_out > 0);
    assert!(report.is_clean(), "seed {seed}: {report}");
    assert_eq!(report.acked + report.failed + report.unknown, report.sent);
    cluster.shutdown().await.unwrap();
}

/// P2's finding, made deterministic: a batch whose response was dropped
/// after the append is waiting for its retry when another batch fails for
/// good and the producer bumps its epoch. Resent under the new epoch (its
/// sequence renumbered from 0) the broker could not recognise it and would
/// append it twice; the producer must fail it as "may or may not have been
/// written" instead, and go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p2_an_unanswered_batch_is_not_resent_under_a_new_epoch() {
    let cluster = Cluster::builder().nodes(1).seed(11).start().await.unwrap();
    cluster.create_topic("p2-bump", 2).await.unwrap();
    let bootstrap = cluster.bootstrap();
    // A long backoff keeps the unanswered batch waiting while the other
    // partition's failure, the bump and InitProducerId (a few local round
    // trips) happen; jitter makes it at least 8 s.
    let producer = producer_with(&bootstrap, |c| {
        c.delivery_timeout = Duration::from_secs(60);
        c.client.retry_backoff = Duration::from_secs(10);
        c.client.retry_backoff_max = Duration::from_secs(10);
    });
    let workload = Workload::new("p2-bump", 2, 0);
    let mut ledger = SendLedger::new();
    let mut record = |n: u64, partition: i32| {
        let id = workload.id(n);
        ledger.push(SentRecord {
            id,
            partition,
            outcome: Outcome::Pending,
        });
        ProducerRecord::<bytes::Bytes, bytes::Bytes>::new("p2-bump", id.encode(16))
            .with_key(id.kafka_key())
            .with_partition(partition)
    };
    let send = |record| async { producer.send(record).await.unwrap().await };
    let mut results = Vec::new();
    // Warm-up: producer id and metadata in place, offset 0 in both.
    for partition in [0, 1] {
        let warm = send(record(partition as u64, partition)).await.unwrap();
        assert_eq!(warm.offset, 0);
        results.push(Ok(warm));
    }
    let faults = cluster.faults();
    let dropped = faults.any_node().api(ApiKey::Produce).drop_response_next(1);
    let unanswered = producer.send(record(2, 0)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while faults.fired(dropped) == 0 {
        assert!(
            Instant::now() < deadline,
            "the record never reached the broker"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Appended at offset 1 of partition 0, answer lost. Now partition 1's
    // next batch is refused as out of order at the head: it fails, and the
    // producer bumps its epoch.
    faults
        .any_node()
        .api(ApiKey::Produce)
        .fail_next(1, kafka_protocol::ResponseError::OutOfOrderSequenceNumber);
    let refused = send(record(3, 1)).await;
    assert!(
        matches!(
            refused,
            Err(ProducerError::OutOfOrderSequence { partition: 1, .. })
        ),
        "{refused:?}"
    );
    let unanswered = unanswered.await;
    assert!(
        matches!(
            unanswered,
            Err(ProducerError::UnresolvedAtEpochBump { partition: 0, .. })
        ),
        "the unanswered batch must fail at the bump, not be resent: {unanswered:?}"
    );
    // The producer goes on under the new epoch, right behind the copy
    // written by the unanswered attempt.
    let follow_up = send(record(4, 0)).await.unwrap();
    assert_eq!(follow_up.offset, 2, "nothing appended between");
    let metrics = producer.metrics();
    assert_eq!(metrics.epoch_bumps, 1);
    results.extend([unanswered, refused, Ok(follow_up)]);
    for (n, result) in results.iter().enumerate() {
        ledger.resolve(n as u64, Outcome::from_delivery(result));
    }
    producer.close(Duration::from_secs(5)).await.unwrap();
    let read = read_all(&bootstrap, "p2-bump", 2, Duration::from_secs(20))
        .await
        .unwrap();
    let report = check(workload.run_id, &ledger, &read, IDEMPOTENT);
    eprintln!("P2 at an epoch bump: {report}");
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        report.unknown_read, 1,
        "the unanswered record is in the log once: {report}"
    );
    cluster.shutdown().await.unwrap();
}
