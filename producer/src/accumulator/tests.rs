//! Accumulator behaviour with a paused clock: linger, size, memory,
//! retries, leader changes, expiry and sequence numbers.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use durian_core::{ClusterMetadata, KafkaCode, KafkaError, PartitionMetadata, TopicMetadata};
use tokio::time::Instant;

use super::buffer_pool::MemoryBudget;
use super::*;
use crate::idempotence::ProducerIdentity;

pub(super) const TOPIC: &str = "t";

pub(super) fn settings() -> AccumulatorSettings {
    AccumulatorSettings {
        batch_size: 1024,
        compression: Compression::None,
        delivery_timeout: Duration::from_secs(10),
        retries: u32::MAX,
        retry_backoff: (Duration::from_millis(100), Duration::from_millis(100)),
        adaptive: true,
        sticky_turn: Duration::from_millis(5),
        transactional: false,
        reference_values_from: REFERENCE_VALUES_FROM,
    }
}

pub(super) fn partitions(count: i32) -> TopicPartitions {
    TopicPartitions {
        count,
        available: (0..count).collect(),
    }
}

/// Metadata where partition `p` is led by `leaders[p]`.
pub(super) fn metadata(leaders: &[i32]) -> ClusterMetadata {
    let partitions = leaders
        .iter()
        .enumerate()
        .map(|(p, leader)| {
            (
                p as i32,
                PartitionMetadata {
                    partition: p as i32,
                    leader: Some(*leader),
                    leader_epoch: 0,
                    replicas: vec![*leader],
                    isr: vec![*leader],
                    offline_replicas: vec![],
                    error: None,
                },
            )
        })
        .collect();
    let mut meta = ClusterMetadata::default();
    meta.topics.insert(
        TOPIC.to_owned(),
        TopicMetadata {
            name: TOPIC.to_owned(),
            topic_id: Default::default(),
            is_internal: false,
            error: None,
            partitions,
        },
    );
    meta
}

pub(super) fn rules(now: Instant) -> DrainRules {
    DrainRules {
        now,
        linger: Duration::from_millis(5),
        hurry: false,
        max_in_flight: 5,
    }
}

pub(super) fn value(n: usize) -> Bytes {
    Bytes::from(format!("value-{n:04}").into_bytes())
}

/// Appends one record, reserving memory from `budget` when asked.
pub(super) fn append(
    acc: &mut Accumulator,
    budget: &MemoryBudget,
    partition: i32,
    n: usize,
) -> DeliveryFuture {
    let value = value(n);
    let record = RecordParts {
        timestamp: 1_000 + n as i64,
        key: None,
        value: Some(&value),
        headers: &[],
    };
    let now = Instant::now();
    let parts = partitions(2);
    match acc
        .append(TOPIC, &parts, Some(partition), &record, now, None)
        .unwrap()
    {
        Append::Done { future, .. } => future,
        Append::NeedsMemory { bytes, .. } => {
            let reservation = budget.try_reserve(bytes).expect("budget has room");
            match acc
                .append(
                    TOPIC,
                    &parts,
                    Some(partition),
                    &record,
                    now,
                    Some(reservation),
                )
                .unwrap()
            {
                Append::Done { future, .. } => future,
                other => panic!("append with a reservation gave {other:?}"),
            }
        }
    }
}

/// Sends one record of partition 0 alone and acknowledges it at `offset`.
/// Until a partition's first sequence is acknowledged only one of its
/// batches is in flight, so tests that pipeline batches start with this;
/// the partition's next batch gets sequence 1.
pub(super) async fn acknowledge_a_first_batch(
    acc: &mut Accumulator,
    budget: &MemoryBudget,
    meta: &ClusterMetadata,
    offset: i64,
) {
    let first = append(acc, budget, 0, 999);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (sent, _) = acc.drain(1, meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert_eq!(sent.len(), 1);
    acc.complete(TOPIC, 0, sent[0].batch_id, ack(offset), Instant::now());
    assert_eq!(first.await.unwrap().offset, offset);
}

pub(super) fn identity() -> ProducerIdentity {
    ProducerIdentity { id: 42, epoch: 0 }
}

pub(super) fn ack(offset: i64) -> BatchOutcome {
    BatchOutcome::Acked(BatchAck {
        base_offset: offset,
        log_append_time: -1,
    })
}

pub(super) fn not_leader() -> durian_core::Error {
    durian_core::Error::Kafka(KafkaError {
        code: KafkaCode::NOT_LEADER_OR_FOLLOWER,
        message: None,
    })
}

pub(super) fn base_sequence(batch: &DrainedBatch) -> i32 {
    durian_core::record::BatchHeader::parse(batch.payload.head())
        .unwrap()
        .base_sequence
}

#[tokio::test(start_paused = true)]
async fn a_batch_waits_for_linger_unless_full_or_hurried() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let meta = metadata(&[1, 1]);
    let _first = append(&mut acc, &budget, 0, 0);
    let start = Instant::now();
    let scan = acc.ready_nodes(&meta, &rules(start));
    assert!(scan.nodes.is_empty());
    assert_eq!(scan.next_wake, Some(start + Duration::from_millis(5)));
    // Just before the deadline the batch still waits.
    tokio::time::advance(Duration::from_micros(4_900)).await;
    assert!(acc
        .ready_nodes(&meta, &rules(Instant::now()))
        .nodes
        .is_empty());
    // A flush does not wait for linger.
    let hurried = DrainRules {
        hurry: true,
        ..rules(start)
    };
    assert!(acc.ready_nodes(&meta, &hurried).nodes.contains(&1));
    // At its linger deadline it is due.
    tokio::time::advance(Duration::from_micros(100)).await;
    assert!(acc
        .ready_nodes(&meta, &rules(Instant::now()))
        .nodes
        .contains(&1));

    // Partition 1: fill past batch.size; the full batch is ready at once.
    let mut n = 0;
    while acc.topics[TOPIC].partitions[1].batches.len() < 2 {
        drop(append(&mut acc, &budget, 1, n));
        n += 1;
    }
    let now = Instant::now();
    let (drained, _) = acc.drain(1, &meta, &rules(now), 1 << 20, None);
    let p1: Vec<_> = drained.iter().filter(|b| b.partition == 1).collect();
    assert_eq!(p1.len(), 1, "only the full batch, not the new open one");
    assert!(p1[0].payload.len() <= 1024);
    assert_eq!(
        durian_core::record::BatchHeader::parse(p1[0].payload.head())
            .unwrap()
            .record_count as usize,
        n - 1
    );
}

#[tokio::test(start_paused = true)]
async fn memory_is_reserved_per_batch_and_returned_on_completion() {
    let budget = MemoryBudget::new(2048);
    let mut acc = Accumulator::new(settings());
    let meta = metadata(&[1, 1]);
    let value = value(0);
    let record = RecordParts {
        timestamp: 0,
        key: None,
        value: Some(&value),
        headers: &[],
    };
    let outcome = acc
        .append(
            TOPIC,
            &partitions(2),
            Some(0),
            &record,
            Instant::now(),
            None,
        )
        .unwrap();
    assert!(matches!(
        outcome,
        Append::NeedsMemory {
            partition: 0,
            bytes: 1024
        }
    ));
    let _a = append(&mut acc, &budget, 0, 0);
    let _b = append(&mut acc, &budget, 1, 1);
    assert_eq!((budget.in_use(), acc.reserved_bytes()), (2048, 2048));
    assert!(budget.try_reserve(1).is_none(), "budget exhausted");
    let hurried = DrainRules {
        hurry: true,
        ..rules(Instant::now())
    };
    let (drained, _) = acc.drain(1, &meta, &hurried, 1 << 20, None);
    assert_eq!(drained.len(), 2);
    for batch in &drained {
        acc.complete(
            TOPIC,
            batch.partition,
            batch.batch_id,
            ack(0),
            Instant::now(),
        );
    }
    assert_eq!(budget.in_use(), 0);
    assert!(acc.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_partially_failed_request_retries_only_the_failed_batch_with_its_sequence() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let meta = metadata(&[1, 1]);
    let p0 = append(&mut acc, &budget, 0, 0);
    let p1 = append(&mut acc, &budget, 1, 0);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (first, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|b| base_sequence(b) == 0));
    // A newer record of partition 1 arrives while the request is out.
    let newer = append(&mut acc, &budget, 1, 1);
    let now = Instant::now();
    let effects = acc.complete(TOPIC, 0, first[0].batch_id, ack(10), now);
    assert_eq!(effects.acked_records, 1);
    let effects = acc.complete(
        TOPIC,
        1,
        first[1].batch_id,
        BatchOutcome::Retry(not_leader()),
        now,
    );
    assert_eq!(effects.retried_batches, 1);
    assert_eq!(p0.await.unwrap().offset, 10);

    // During the backoff nothing of partition 1 goes out, not even the newer batch.
    tokio::time::advance(Duration::from_millis(50)).await;
    let (nothing, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert!(nothing.is_empty());
    tokio::time::advance(Duration::from_millis(100)).await;
    let (retry, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert_eq!(retry.len(), 1);
    assert_eq!(
        retry[0].batch_id, first[1].batch_id,
        "the failed batch goes first"
    );
    assert_eq!(base_sequence(&retry[0]), 0, "and keeps its sequence");
    acc.complete(TOPIC, 1, retry[0].batch_id, ack(0), Instant::now());
    assert_eq!(p1.await.unwrap().offset, 0);

    let (next, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert_eq!(base_sequence(&next[0]), 1, "the newer batch follows");
    acc.complete(TOPIC, 1, next[0].batch_id, ack(1), Instant::now());
    assert_eq!(newer.await.unwrap().offset, 1);
}

#[tokio::test(start_paused = true)]
async fn nothing_goes_to_a_new_leader_while_the_old_one_has_the_partition_in_flight() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let _a = append(&mut acc, &budget, 0, 0);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (sent, _) = acc.drain(1, &metadata(&[1, 1]), &rules(Instant::now()), 1 << 20, None);
    assert_eq!(sent.len(), 1);
    let _b = append(&mut acc, &budget, 0, 1);
    // Leadership moved to broker 2 while broker 1 still owes an answer.
    let moved = metadata(&[2, 2]);
    tokio::time::advance(Duration::from_millis(5)).await;
    let now = Instant::now();
    assert!(acc.ready_nodes(&moved, &rules(now)).nodes.is_empty());
    assert!(acc
        .drain(2, &moved, &rules(now), 1 << 20, None)
        .0
        .is_empty());
    acc.complete(
        TOPIC,
        0,
        sent[0].batch_id,
        BatchOutcome::Retry(not_leader()),
        now,
    );
    tokio::time::advance(Duration::from_millis(200)).await;
    let (rerouted, _) = acc.drain(2, &moved, &rules(Instant::now()), 1 << 20, None);
    assert_eq!(rerouted.len(), 1);
    assert_eq!(
        rerouted[0].batch_id, sent[0].batch_id,
        "the retry, re-routed, before the newer batch"
    );
}

#[tokio::test(start_paused = true)]
async fn queued_batches_expire_with_a_timeout_error() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let record = append(&mut acc, &budget, 0, 0);
    tokio::time::advance(Duration::from_secs(9)).await;
    let effects = acc.expire(Instant::now());
    assert!(effects.is_nothing(), "{effects:?}");
    tokio::time::advance(Duration::from_secs(1)).await;
    let effects = acc.expire(Instant::now());
    assert_eq!(effects.failed_batches, 1);
    assert!(
        !effects.bump,
        "a batch never sent has no sequence to leave a gap"
    );
    let error = record.await.unwrap_err();
    assert!(
        matches!(error, ProducerError::DeliveryTimeout { attempts: 0, .. }),
        "{error}"
    );
    assert_eq!(budget.in_use(), 0);
}

#[tokio::test(start_paused = true)]
async fn expiry_looks_past_batches_in_flight_and_stops_at_the_first_in_time() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let meta = metadata(&[1, 1]);
    let _in_flight = append(&mut acc, &budget, 0, 0);
    let hurried = DrainRules {
        hurry: true,
        ..rules(Instant::now())
    };
    let (sent, _) = acc.drain(1, &meta, &hurried, 1 << 20, None);
    assert_eq!(sent.len(), 1);
    tokio::time::advance(Duration::from_secs(1)).await;
    let queued = append(&mut acc, &budget, 0, 1);
    tokio::time::advance(Duration::from_millis(9_500)).await;
    // Too large to join the queued batch: a batch of its own behind it.
    let large = Bytes::from(vec![b'x'; 1000]);
    let record = RecordParts {
        timestamp: 0,
        key: None,
        value: Some(&large),
        headers: &[],
    };
    let parts = partitions(2);
    let now = Instant::now();
    let newest = match acc
        .append(TOPIC, &parts, Some(0), &record, now, None)
        .unwrap()
    {
        Append::NeedsMemory { bytes, .. } => {
            let reservation = budget.try_reserve(bytes);
            match acc
                .append(TOPIC, &parts, Some(0), &record, now, reservation)
                .unwrap()
            {
                Append::Done { future, new_batch } => {
                    assert!(new_batch);
                    future
                }
                other => panic!("{other:?}"),
            }
        }
        other => panic!("a new batch needs memory, got {other:?}"),
    };
    // The batch in flight is past its deadline, the queued one not yet.
    assert!(acc.expire(Instant::now()).is_nothing());
    tokio::time::advance(Duration::from_millis(500)).await;
    let effects = acc.expire(Instant::now());
    assert_eq!(effects.failed_batches, 1, "{effects:?}");
    assert!(matches!(
        queued.await.unwrap_err(),
        ProducerError::DeliveryTimeout { attempts: 0, .. }
    ));
    // The batch in flight waits for its answer; the newest is in time.
    acc.complete(TOPIC, 0, sent[0].batch_id, ack(3), Instant::now());
    tokio::time::advance(Duration::from_millis(9_000)).await;
    assert!(acc.expire(Instant::now()).is_nothing());
    tokio::time::advance(Duration::from_millis(1_000)).await;
    assert_eq!(acc.expire(Instant::now()).failed_batches, 1);
    assert!(newest.await.is_err());
    assert_eq!(budget.in_use(), 0);
}

#[tokio::test(start_paused = true)]
async fn out_of_order_on_the_first_unacked_batch_fails_it_and_bumps() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let meta = metadata(&[1, 1]);
    acknowledge_a_first_batch(&mut acc, &budget, &meta, 0).await;
    let first = append(&mut acc, &budget, 0, 0);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (a, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    let second = append(&mut acc, &budget, 0, 1);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (b, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert_eq!((base_sequence(&a[0]), base_sequence(&b[0])), (1, 2));
    let out_of_order = || BatchOutcome::Sequence {
        error: durian_core::Error::Kafka(KafkaError {
            code: KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            message: None,
        }),
        log_start_offset: 0,
    };
    let now = Instant::now();
    let effects = acc.complete(TOPIC, 0, a[0].batch_id, out_of_order(), now);
    assert!(effects.bump && effects.failed_batches == 1);
    assert!(matches!(
        first.await,
        Err(ProducerError::OutOfOrderSequence { partition: 0, .. })
    ));
    // The second batch was rejected because of the first: it is retried.
    let effects = acc.complete(TOPIC, 0, b[0].batch_id, out_of_order(), now);
    assert_eq!(effects.retried_batches, 1);
    // After the bump it is renumbered from 0 under the new epoch.
    acc.reset_sequences();
    tokio::time::advance(Duration::from_millis(200)).await;
    let bumped = ProducerIdentity { id: 42, epoch: 1 };
    let (again, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(bumped));
    let header = durian_core::record::BatchHeader::parse(again[0].payload.head()).unwrap();
    assert_eq!((header.producer_epoch, header.base_sequence), (1, 0));
    acc.complete(TOPIC, 0, again[0].batch_id, ack(7), Instant::now());
    assert_eq!(second.await.unwrap().offset, 7);
}

#[tokio::test(start_paused = true)]
async fn sticky_appends_fill_one_partition_before_moving_on() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let parts = partitions(4);
    let mut seen = Vec::new();
    for n in 0..400 {
        let value = value(n);
        let record = RecordParts {
            timestamp: 0,
            key: None,
            value: Some(&value),
            headers: &[],
        };
        let mut reservation = None;
        let future = loop {
            match acc
                .append(
                    TOPIC,
                    &parts,
                    None,
                    &record,
                    Instant::now(),
                    reservation.take(),
                )
                .unwrap()
            {
                Append::Done { future, .. } => break future,
                Append::NeedsMemory { bytes, .. } => reservation = budget.try_reserve(bytes),
            }
        };
        if seen.last() != Some(&future.partition()) {
            seen.push(future.partition());
        }
    }
    // ~110 bytes per record estimate, 1024-byte batches: a switch every
    // ~10 records, never after each record.
    assert!(seen.len() > 10 && seen.len() < 80, "{seen:?}");
}

/// Kafka before 4.5 accepts any first sequence from a producer it has no
/// state for (KAFKA-15591): a second batch sent beside a refused first one
/// would be appended ahead of it. So a partition's batches go one at a
/// time until a first sequence is acknowledged, under every new epoch.
#[tokio::test(start_paused = true)]
async fn a_partitions_first_batch_goes_alone_until_acknowledged() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let meta = metadata(&[1, 1]);
    let drain = |acc: &mut Accumulator, identity: Option<ProducerIdentity>| {
        acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, identity)
            .0
    };
    let _a = append(&mut acc, &budget, 0, 0);
    tokio::time::advance(Duration::from_millis(5)).await;
    let a = drain(&mut acc, Some(identity()));
    let _b = append(&mut acc, &budget, 0, 1);
    tokio::time::advance(Duration::from_millis(5)).await;
    assert!(
        drain(&mut acc, Some(identity())).is_empty(),
        "b waits for a's answer"
    );
    acc.complete(TOPIC, 0, a[0].batch_id, ack(0), Instant::now());
    let b = drain(&mut acc, Some(identity()));
    assert_eq!(base_sequence(&b[0]), 1);
    // Acknowledged once: later batches are pipelined again.
    let _c = append(&mut acc, &budget, 0, 2);
    tokio::time::advance(Duration::from_millis(5)).await;
    let c = drain(&mut acc, Some(identity()));
    assert_eq!(base_sequence(&c[0]), 2);
    acc.complete(TOPIC, 0, b[0].batch_id, ack(1), Instant::now());
    acc.complete(TOPIC, 0, c[0].batch_id, ack(2), Instant::now());

    // A new epoch starts the sequences over, and the rule with them.
    acc.reset_sequences();
    let bumped = ProducerIdentity { id: 42, epoch: 1 };
    let _d = append(&mut acc, &budget, 0, 3);
    tokio::time::advance(Duration::from_millis(5)).await;
    let d = drain(&mut acc, Some(bumped));
    assert_eq!(base_sequence(&d[0]), 0);
    let _e = append(&mut acc, &budget, 0, 4);
    tokio::time::advance(Duration::from_millis(5)).await;
    assert!(
        drain(&mut acc, Some(bumped)).is_empty(),
        "e waits for d's answer"
    );

    // Without idempotence there are no sequences, and nothing waits.
    let _x = append(&mut acc, &budget, 1, 5);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (x, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, None);
    let _y = append(&mut acc, &budget, 1, 6);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (y, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, None);
    assert_eq!(
        (x.len(), y.len()),
        (1, 1),
        "both of partition 1's batches are in flight"
    );
}
