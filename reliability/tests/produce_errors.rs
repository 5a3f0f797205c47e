//! P3: every Produce error of issue 7's list, injected by the cluster's
//! fault rules, gives the outcome docs/PRODUCER.md's error table promises.
//!
//! Each case runs on a fresh one-node cluster: a warm-up record is
//! acknowledged (producer id and metadata in place), the rule is added,
//! the probe record(s) are sent, then a follow-up record; what the
//! producer reports is compared with the table, and the partition is read
//! back through the checker (failed records must not be there, acknowledged
//! ones exactly once, in order).
//!
//! A fail rule answers without appending, so NOT_ENOUGH_REPLICAS_AFTER_APPEND
//! here tests the retry, not a real "appended, then failed" (P2's dropped
//! responses cover written-but-unanswered batches).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::producer_with;
use durian_broker::testing::{Cluster, Faults};
use durian_producer::{Producer, ProducerError, ProducerRecord, RecordMetadata};
use durian_reliability::readback::read_all;
use durian_reliability::{check, Expectations, Outcome, SendLedger, SentRecord, Workload};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;

/// What the table promises for the probe record.
#[derive(Debug, Clone, Copy)]
enum Promise {
    /// Retried until acknowledged; no epoch bump.
    Retried,
    /// The probe fails with this kind of error, the producer bumps its
    /// epoch, and the follow-up record is acknowledged.
    FailsThenBump(fn(&ProducerError) -> bool),
    /// The producer becomes fatal: the probe and every later send fail.
    Fatal,
}

struct Case {
    run: u64,
    workload: Workload,
    ledger: SendLedger,
}

impl Case {
    fn new(topic: &str) -> Case {
        Case {
            run: 0,
            workload: Workload::new(topic, 1, 0),
            ledger: SendLedger::new(),
        }
    }

    fn record(&mut self) -> ProducerRecord<Bytes, Bytes> {
        let id = self.workload.id(self.run);
        self.run += 1;
        self.ledger.push(SentRecord {
            id,
            partition: 0,
            outcome: Outcome::Pending,
        });
        ProducerRecord::new(self.workload.topic.clone(), id.encode(16))
            .with_key(id.kafka_key())
            .with_partition(0)
    }

    fn resolve(&mut self, index: u64, result: &Result<RecordMetadata, ProducerError>) {
        self.ledger.resolve(index, Outcome::from_delivery(result));
    }

    /// Sends one record and waits for its outcome.
    async fn send_one(&mut self, producer: &Producer) -> Result<RecordMetadata, ProducerError> {
        let index = self.run;
        let record = self.record();
        let result = match producer.send(record).await {
            Ok(delivery) => delivery.await,
            Err(error) => Err(error),
        };
        self.resolve(index, &result);
        result
    }
}

/// Runs one case: `inject` adds the rules before the probe; `probes`
/// records are sent back to back (two for the "not at head" case).
async fn run_case(name: &str, probes: u64, inject: impl FnOnce(&Faults), promise: Promise) {
    let cluster = Cluster::builder().nodes(1).seed(7).start().await.unwrap();
    cluster.create_topic("p3", 1).await.unwrap();
    let bootstrap = cluster.bootstrap();
    let producer = producer_with(&bootstrap, |c| {
        c.delivery_timeout = Duration::from_secs(20);
        c.client.request_timeout = Duration::from_secs(3);
    });
    let mut case = Case::new("p3");
    case.send_one(&producer)
        .await
        .unwrap_or_else(|e| panic!("{name}: warm-up failed: {e}"));
    let bumps_before = producer.metrics().epoch_bumps;

    let seen = cluster.faults().record();
    inject(cluster.faults());
    let mut deliveries = Vec::new();
    for n in 0..probes {
        let index = case.run;
        let record = case.record();
        deliveries.push((index, producer.send(record).await));
        if n + 1 < probes {
            // The next probe must travel in a request of its own while this
            // one is unanswered: wait until the broker has seen this one.
            let deadline = Instant::now() + Duration::from_secs(10);
            while seen.count(Some(ApiKey::Produce), None) <= n as usize {
                assert!(
                    Instant::now() < deadline,
                    "{name}: probe {n} never reached the broker"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    let mut results = Vec::new();
    for (index, sent) in deliveries {
        let result = match sent {
            Ok(delivery) => delivery.await,
            Err(error) => Err(error),
        };
        case.resolve(index, &result);
        results.push(result);
    }
    let follow_up = case.send_one(&producer).await;
    let metrics = producer.metrics();
    let bumps = metrics.epoch_bumps - bumps_before;
    eprintln!(
        "P3 {name}: probes {:?}; follow-up {:?}; {} retries, {bumps} epoch bumps",
        results
            .iter()
            .map(|r| r.as_ref().map(|m| m.offset).map_err(|e| e.to_string()))
            .collect::<Vec<_>>(),
        follow_up
            .as_ref()
            .map(|m| m.offset)
            .map_err(|e| e.to_string()),
        metrics.retries
    );
    match promise {
        Promise::Retried => {
            for result in &results {
                assert!(
                    result.is_ok(),
                    "{name}: the table says retried until acknowledged: {result:?}"
                );
            }
            assert!(metrics.retries > 0, "{name}: no retry happened");
            assert_eq!(
                bumps, 0,
                "{name}: a retriable error must not bump the epoch"
            );
            assert!(follow_up.is_ok(), "{name}: {follow_up:?}");
        }
        Promise::FailsThenBump(expected) => {
            for result in &results {
                let error = result.as_ref().expect_err("the probe must fail");
                assert!(expected(error), "{name}: wrong error {error:?}");
            }
            assert!(bumps >= 1, "{name}: the table promises an epoch bump");
            assert!(
                follow_up.is_ok(),
                "{name}: after the bump records go through: {follow_up:?}"
            );
        }
        Promise::Fatal => {
            for result in &results {
                assert!(
                    matches!(result, Err(ProducerError::Fatal(_))),
                    "{name}: the table says fatal: {result:?}"
                );
            }
            assert!(
                matches!(follow_up, Err(ProducerError::Fatal(_))),
                "{name}: every later send fails: {follow_up:?}"
            );
        }
    }
    let _ = producer.close(Duration::from_secs(5)).await;
    let read = read_all(&bootstrap, "p3", 1, Duration::from_secs(20))
        .await
        .unwrap();
    let report = check(
        case.workload.run_id,
        &case.ledger,
        &read,
        Expectations { idempotent: true },
    );
    eprintln!("P3 {name}: {report}");
    assert!(report.is_clean(), "{name}: {report}");
    // A fail rule never appends, so nothing but acknowledged records is in the log.
    assert_eq!(report.read, report.acked, "{name}: {report}");
    cluster.shutdown().await.unwrap();
}

fn fail_produce(error: ResponseError, times: u64) -> impl FnOnce(&Faults) {
    move |faults| {
        faults
            .any_node()
            .api(ApiKey::Produce)
            .fail_next(times, error);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_retriable_produce_errors_are_retried_until_acknowledged() {
    for (name, error) in [
        ("NOT_LEADER_OR_FOLLOWER", ResponseError::NotLeaderOrFollower),
        ("NOT_ENOUGH_REPLICAS", ResponseError::NotEnoughReplicas),
        (
            "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
            ResponseError::NotEnoughReplicasAfterAppend,
        ),
        ("REQUEST_TIMED_OUT", ResponseError::RequestTimedOut),
        ("KAFKA_STORAGE_ERROR", ResponseError::KafkaStorageError),
        // Retriable in Kafka's error table (CorruptRecordException).
        ("CORRUPT_MESSAGE", ResponseError::CorruptMessage),
    ] {
        run_case(name, 1, fail_produce(error, 3), Promise::Retried).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_out_of_order_sequence_at_the_head_fails_the_batch_and_bumps_the_epoch() {
    run_case(
        "OUT_OF_ORDER_SEQUENCE_NUMBER at head",
        1,
        fail_produce(ResponseError::OutOfOrderSequenceNumber, 1),
        Promise::FailsThenBump(|e| matches!(e, ProducerError::OutOfOrderSequence { .. })),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_out_of_order_sequence_behind_an_unresolved_batch_is_retried() {
    // The first probe's request is held and then refused as retriable; the
    // second, sent meanwhile, is refused as out of order — as a broker that
    // never saw the first would. The first's fate decides: both retried.
    run_case(
        "OUT_OF_ORDER_SEQUENCE_NUMBER not at head",
        2,
        |faults| {
            let produce = || faults.any_node().api(ApiKey::Produce);
            produce().delay_next(1, Duration::from_millis(300));
            produce().fail_next(1, ResponseError::NotLeaderOrFollower);
            produce().fail_next(1, ResponseError::OutOfOrderSequenceNumber);
        },
        Promise::Retried,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_unknown_producer_id_with_acknowledged_records_in_the_log_is_fatal() {
    run_case(
        "UNKNOWN_PRODUCER_ID",
        1,
        fail_produce(ResponseError::UnknownProducerId, 1),
        Promise::Fatal,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_invalid_producer_epoch_is_fatal() {
    run_case(
        "INVALID_PRODUCER_EPOCH",
        1,
        fail_produce(ResponseError::InvalidProducerEpoch, 1),
        Promise::Fatal,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_message_too_large_fails_the_batch_and_bumps_the_epoch() {
    run_case(
        "MESSAGE_TOO_LARGE",
        1,
        fail_produce(ResponseError::MessageTooLarge, 1),
        Promise::FailsThenBump(|e| {
            matches!(
                e,
                ProducerError::Rejected { .. } | ProducerError::TooLargeForTopic { .. }
            )
        }),
    )
    .await;
}
