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
//! NOT_ENOUGH_REPLICAS_AFTER_APPEND and REQUEST_TIMED_OUT are injected as
//! Kafka produces them, after the batch was appended (`FailAfterApply`):
//! the retries must be recognised as duplicates. UNKNOWN_PRODUCER_ID is
//! injected twice: with acknowledged records still in the log (fatal), and
//! after DeleteRecords moved the log start past them (KIP-360: epoch bump,
//! no loss), where the error reply carries the partition's real log start
//! offset as Kafka's does. A last case deletes a producer's records with
//! no fault at all and keeps producing.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::producer_with;
use durian_admin::{Admin, OffsetSpec, TopicPartition};
use durian_broker::testing::{Cluster, Fault, Faults, Times};
use durian_producer::{Producer, ProducerError, ProducerRecord, RecordMetadata};
use durian_reliability::readback::read_all;
use durian_reliability::{check, Expectations, Outcome, Report, SendLedger, SentRecord, Workload};
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

    /// Records that DeleteRecords removed every acknowledged record below
    /// `log_start`: they are no longer expected, and reading one back would
    /// be a violation (the checker counts it as failed but read).
    fn removed_below(&mut self, log_start: i64) -> usize {
        let gone: Vec<u64> = self
            .ledger
            .records()
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Acked { offset, .. } if offset < log_start))
            .map(|r| r.id.send_index)
            .collect();
        for index in &gone {
            self.ledger.resolve(
                *index,
                Outcome::Failed {
                    reason: format!("removed by DeleteRecords below offset {log_start}"),
                },
            );
        }
        gone.len()
    }
}

/// One case's cluster, producer and ledger, from the warm-up to the check.
struct Run {
    name: String,
    cluster: Cluster,
    bootstrap: String,
    producer: Producer,
    case: Case,
}

impl Run {
    /// A fresh one-node cluster with topic `p3` (one partition) and a
    /// warm-up record acknowledged at offset 0: producer id and metadata
    /// are in place before any rule is added.
    async fn start(name: &str) -> Run {
        let cluster = Cluster::builder().nodes(1).seed(7).start().await.unwrap();
        cluster.create_topic("p3", 1).await.unwrap();
        let bootstrap = cluster.bootstrap();
        let producer = producer_with(&bootstrap, |c| {
            c.delivery_timeout = Duration::from_secs(20);
            c.client.request_timeout = Duration::from_secs(3);
        });
        let mut case = Case::new("p3");
        let warm_up = case
            .send_one(&producer)
            .await
            .unwrap_or_else(|e| panic!("{name}: warm-up failed: {e}"));
        assert_eq!(warm_up.offset, 0, "{name}: warm-up offset");
        Run {
            name: name.to_string(),
            cluster,
            bootstrap,
            producer,
            case,
        }
    }

    /// Sends one record; it must be acknowledged.
    async fn send_acked(&mut self) -> RecordMetadata {
        let result = self.case.send_one(&self.producer).await;
        result.unwrap_or_else(|e| panic!("{}: send failed: {e}", self.name))
    }

    /// Closes the producer, reads the partition back and checks it: clean,
    /// and nothing but acknowledged records in the log (no duplicate
    /// written by a retry, no failed record).
    async fn finish(self) -> Report {
        let name = &self.name;
        let _ = self.producer.close(Duration::from_secs(5)).await;
        let read = read_all(&self.bootstrap, "p3", 1, Duration::from_secs(20))
            .await
            .unwrap();
        let report = check(
            self.case.workload.run_id,
            &self.case.ledger,
            &read,
            Expectations { idempotent: true },
        );
        eprintln!("P3 {name}: {report}");
        assert!(report.is_clean(), "{name}: {report}");
        assert_eq!(report.read, report.acked, "{name}: {report}");
        self.cluster.shutdown().await.unwrap();
        report
    }
}

fn admin(bootstrap: &str) -> Admin {
    Admin::builder()
        .bootstrap_servers(bootstrap.split(','))
        .build()
        .unwrap()
}

fn p3_partition() -> TopicPartition {
    TopicPartition::new("p3", 0)
}

/// The partition's end offset, asked with ListOffsets (which no rule here
/// touches).
async fn end_offset(admin: &Admin) -> i64 {
    let mut found = admin
        .list_offsets([(p3_partition(), OffsetSpec::Latest)])
        .await;
    let listed = found.remove(&p3_partition()).unwrap().unwrap();
    listed.offset.unwrap()
}

/// Moves the log start offset to `before` with DeleteRecords.
async fn delete_records(admin: &Admin, before: i64) {
    let mut deleted = admin.delete_records([(p3_partition(), before)]).await;
    let deleted = deleted.remove(&p3_partition()).unwrap().unwrap();
    assert_eq!(deleted.low_watermark, before, "DeleteRecords low watermark");
}

/// Runs one case: `inject` adds the rules before the probe; `probes`
/// records are sent back to back (two for the "not at head" case).
async fn run_case(name: &str, probes: u64, inject: impl FnOnce(&Faults), promise: Promise) {
    let mut run = Run::start(name).await;
    let (producer, case) = (&run.producer, &mut run.case);
    let bumps_before = producer.metrics().epoch_bumps;

    let seen = run.cluster.faults().record();
    inject(run.cluster.faults());
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
    let follow_up = case.send_one(producer).await;
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
    // A fail rule never appends, so nothing but acknowledged records is in
    // the log (finish asserts it).
    run.finish().await;
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
        // NOT_ENOUGH_REPLICAS_AFTER_APPEND and REQUEST_TIMED_OUT are not
        // here: a Kafka broker only sends them after the append, which
        // the next test injects.
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
async fn p3_unknown_producer_id_and_invalid_producer_epoch_are_fatal() {
    for (name, error) in [
        // With acknowledged records in the log (the warm-up's).
        ("UNKNOWN_PRODUCER_ID", ResponseError::UnknownProducerId),
        (
            "INVALID_PRODUCER_EPOCH",
            ResponseError::InvalidProducerEpoch,
        ),
    ] {
        run_case(name, 1, fail_produce(error, 1), Promise::Fatal).await;
    }
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

/// NOT_ENOUGH_REPLICAS_AFTER_APPEND, and REQUEST_TIMED_OUT as acks=all
/// reports slow replication: the batch is in the log, the producer is told
/// it failed. The retries (same producer id, epoch and sequence) must be
/// answered as duplicates: the record acknowledged at the offset of the
/// first append, read once, no epoch bump.
async fn appended_then_refused(name: &str, error: ResponseError) {
    let mut run = Run::start(name).await;
    let admin = admin(&run.bootstrap);
    assert_eq!(end_offset(&admin).await, 1, "{name}: after the warm-up");
    let before = run.producer.metrics();
    let faults = run.cluster.faults();
    // Every attempt is refused until the rule is removed, so the log can be
    // looked at while the producer is still retrying.
    let rule = faults
        .any_node()
        .api(ApiKey::Produce)
        .rule(Fault::FailAfterApply(error), Times::Always);
    let index = run.case.run;
    let record = run.case.record();
    let delivery = run.producer.send(record).await.unwrap();
    // The producer resends a batch only after its previous attempt was
    // answered, and a request is answered after it was applied: once the
    // third attempt has reached the rule, the first two were applied.
    let deadline = Instant::now() + Duration::from_secs(10);
    while faults.fired(rule) < 3 {
        assert!(
            Instant::now() < deadline,
            "{name}: the producer stopped retrying after {} attempts",
            faults.fired(rule)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The first attempt was appended (1 -> 2), the second was a duplicate
    // and appended nothing.
    assert_eq!(
        end_offset(&admin).await,
        2,
        "{name}: appended once while being refused"
    );
    faults.remove(rule);
    let result = delivery.await;
    run.case.resolve(index, &result);
    let probe = result.unwrap_or_else(|e| panic!("{name}: the table says retried: {e}"));
    assert_eq!(
        probe.offset, 1,
        "{name}: acknowledged where the first attempt was appended"
    );
    let follow_up = run.send_acked().await;
    assert_eq!(follow_up.offset, 2, "{name}: no duplicate in between");
    let after = run.producer.metrics();
    eprintln!(
        "P3 {name} after append: probe at {}, follow-up at {}, {} retries, {} epoch bumps",
        probe.offset,
        follow_up.offset,
        after.retries - before.retries,
        after.epoch_bumps - before.epoch_bumps
    );
    assert!(
        after.retries - before.retries >= 3,
        "{name}: every refusal is a retry"
    );
    assert_eq!(
        after.epoch_bumps, before.epoch_bumps,
        "{name}: a retriable error must not bump the epoch"
    );
    let report = run.finish().await;
    assert_eq!(report.acked, 3, "{name}: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_errors_after_the_append_are_retried_as_duplicates() {
    appended_then_refused(
        "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
        ResponseError::NotEnoughReplicasAfterAppend,
    )
    .await;
    appended_then_refused("REQUEST_TIMED_OUT", ResponseError::RequestTimedOut).await;
}

/// KIP-360: DeleteRecords removed every acknowledged record (and with them
/// the broker's state of this producer); the next Produce is answered
/// UNKNOWN_PRODUCER_ID with the partition's log start offset, which is past
/// the last acknowledged offset. The producer bumps its epoch once and
/// retries the batch under the new epoch: nothing lost, nothing surfaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_unknown_producer_id_after_delete_records_bumps_the_epoch_and_retries() {
    let name = "UNKNOWN_PRODUCER_ID after DeleteRecords";
    let mut run = Run::start(name).await;
    for offset in 1..3 {
        assert_eq!(run.send_acked().await.offset, offset, "{name}");
    }
    let admin = admin(&run.bootstrap);
    delete_records(&admin, 3).await;
    assert_eq!(run.case.removed_below(3), 3, "{name}");
    let before = run.producer.metrics();
    let seen = run.cluster.faults().record();
    let rule = run
        .cluster
        .faults()
        .any_node()
        .api(ApiKey::Produce)
        .fail_next(1, ResponseError::UnknownProducerId);

    let probe = run.send_acked().await;
    assert_eq!(
        run.cluster.faults().fired(rule),
        1,
        "{name}: the rule must have fired"
    );
    // The refused attempt appended nothing; the retry is the first record
    // after the new log start.
    assert_eq!(probe.offset, 3, "{name}: probe offset");
    // Later records, several in flight at once, go through under the new epoch.
    let mut later = Vec::new();
    for _ in 0..5 {
        let index = run.case.run;
        let record = run.case.record();
        later.push((index, run.producer.send(record).await.unwrap()));
    }
    for (n, (index, delivery)) in later.into_iter().enumerate() {
        let result = delivery.await;
        run.case.resolve(index, &result);
        let written = result.unwrap_or_else(|e| panic!("{name}: later record {n}: {e}"));
        assert_eq!(written.offset, 4 + n as i64, "{name}: later record {n}");
    }
    let after = run.producer.metrics();
    let bumps = after.epoch_bumps - before.epoch_bumps;
    let init_requests = seen.count(Some(ApiKey::InitProducerId), None);
    eprintln!(
        "P3 {name}: probe at {}, {} retries, {bumps} epoch bumps, {init_requests} InitProducerId",
        probe.offset,
        after.retries - before.retries
    );
    assert_eq!(bumps, 1, "{name}: the table promises one epoch bump");
    assert_eq!(init_requests, 1, "{name}: one InitProducerId for the bump");
    assert_eq!(after.errors, before.errors, "{name}");
    let report = run.finish().await;
    assert_eq!(report.acked, 6, "{name}: {report}");
}

/// No fault: DeleteRecords removes every batch of the producer, so the
/// broker forgets it; like Kafka >= 2.5 it takes the producer's next
/// sequence anyway. No error, no retry, no bump, no duplicate, order kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p3_producer_goes_on_after_delete_records_removed_all_its_batches() {
    let name = "DeleteRecords without a fault";
    let mut run = Run::start(name).await;
    for offset in 1..3 {
        assert_eq!(run.send_acked().await.offset, offset, "{name}");
    }
    let admin = admin(&run.bootstrap);
    delete_records(&admin, 3).await;
    assert_eq!(run.case.removed_below(3), 3, "{name}");
    let before = run.producer.metrics();
    let seen = run.cluster.faults().record();
    // Four rounds of five records, each round sent back to back and
    // awaited before the next: at least four batches, the first carrying
    // sequence 3 to a broker that forgot the producer, the others checked
    // against it in order.
    let mut offset = 3;
    for round in 0..4 {
        let mut sent = Vec::new();
        for _ in 0..5 {
            let index = run.case.run;
            let record = run.case.record();
            sent.push((index, run.producer.send(record).await.unwrap()));
        }
        for (index, delivery) in sent {
            let result = delivery.await;
            run.case.resolve(index, &result);
            let written = result.unwrap_or_else(|e| panic!("{name}: round {round}: {e}"));
            assert_eq!(written.offset, offset, "{name}: round {round}");
            offset += 1;
        }
    }
    let after = run.producer.metrics();
    eprintln!(
        "P3 {name}: {} Produce requests, {} retries, {} epoch bumps",
        seen.count(Some(ApiKey::Produce), None),
        after.retries - before.retries,
        after.epoch_bumps - before.epoch_bumps
    );
    // Counted by the broker's hook, which sees a request before it is
    // answered (the producer's batch counter is updated only after the
    // delivery futures resolve).
    assert!(
        seen.count(Some(ApiKey::Produce), None) >= 4,
        "{name}: one request per round at least"
    );
    assert_eq!(after.retries, before.retries, "{name}: no error answered");
    assert_eq!(after.epoch_bumps, before.epoch_bumps, "{name}: no bump");
    let report = run.finish().await;
    assert_eq!(report.acked, 20, "{name}: {report}");
}
