//! Epoch bumps and batches whose attempts went unanswered.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use durian_core::{KafkaCode, KafkaError};
use tokio::time::Instant;

use super::buffer_pool::MemoryBudget;
use super::tests::{
    ack, acknowledge_a_first_batch, append, base_sequence, identity, metadata, not_leader, rules,
    settings, TOPIC,
};
use super::*;
use crate::idempotence::ProducerIdentity;

#[tokio::test(start_paused = true)]
async fn an_unanswered_batch_is_failed_at_an_epoch_bump_and_a_refused_one_renumbered() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let meta = metadata(&[1, 1]);
    // Partition 0: its request is lost with the connection, so the broker
    // may have appended it. Partition 1: refused with NOT_LEADER.
    let unanswered = append(&mut acc, &budget, 0, 0);
    let refused = append(&mut acc, &budget, 1, 1);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (sent, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert_eq!(sent.len(), 2);
    let lost = durian_core::Error::ConnectionClosed {
        broker: "b:1".into(),
    };
    let now = Instant::now();
    let by_partition = |p: i32| sent.iter().find(|b| b.partition == p).unwrap().batch_id;
    let effects = acc.complete(TOPIC, 0, by_partition(0), BatchOutcome::Retry(lost), now);
    assert_eq!(effects.retried_batches, 1);
    let effects = acc.complete(
        TOPIC,
        1,
        by_partition(1),
        BatchOutcome::Retry(not_leader()),
        now,
    );
    assert_eq!(effects.retried_batches, 1);
    // Another batch failing for good forces a bump; at the reset the
    // unanswered batch fails as "may have been written" instead of being
    // sent again under sequence 0 of the new epoch, where the broker
    // could not recognise it as a duplicate.
    let effects = acc.reset_sequences();
    assert_eq!(effects.failed_batches, 1);
    assert!(!effects.bump, "the reset is the bump");
    let error = unanswered.await.unwrap_err();
    assert!(
        matches!(
            error,
            ProducerError::UnresolvedAtEpochBump {
                partition: 0,
                attempts: 1,
                ..
            }
        ),
        "{error}"
    );
    // The refused batch was not written: renumbered and sent again.
    tokio::time::advance(Duration::from_millis(200)).await;
    let bumped = ProducerIdentity { id: 42, epoch: 1 };
    let (again, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(bumped));
    assert_eq!(again.len(), 1);
    let header = durian_core::record::BatchHeader::parse(again[0].payload.head()).unwrap();
    assert_eq!(
        (
            again[0].partition,
            header.producer_epoch,
            header.base_sequence
        ),
        (1, 1, 0)
    );
    acc.complete(TOPIC, 1, again[0].batch_id, ack(3), Instant::now());
    assert_eq!(refused.await.unwrap().offset, 3);
    assert_eq!(budget.in_use(), 0);
}

#[test]
fn only_refusals_before_the_append_count_as_not_written() {
    use crate::idempotence::may_have_appended;
    let code = |code| {
        durian_core::Error::Kafka(KafkaError {
            code,
            message: None,
        })
    };
    assert!(!may_have_appended(&not_leader()));
    assert!(!may_have_appended(&code(KafkaCode::NOT_ENOUGH_REPLICAS)));
    assert!(may_have_appended(&code(
        KafkaCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
    )));
    assert!(may_have_appended(&code(KafkaCode::REQUEST_TIMED_OUT)));
    assert!(may_have_appended(&durian_core::Error::ConnectionClosed {
        broker: "b:1".into()
    }));
    assert!(may_have_appended(&durian_core::Error::Timeout {
        operation: "Produce".into(),
        timeout: Duration::from_secs(1),
    }));
}

/// Answers that arrive out of sequence order (a batch's answer lost with its
/// connection, a later batch acknowledged first, then the retry recognised
/// as a duplicate) must not leave the "first unacknowledged" sequence
/// behind: an OUT_OF_ORDER_SEQUENCE_NUMBER for the real first batch would
/// then read as "behind an unresolved batch" and be retried until the
/// delivery timeout (the ~115 s stall P2 once showed under load).
#[tokio::test(start_paused = true)]
async fn out_of_order_acks_do_not_turn_a_first_batch_out_of_order_into_a_retry_loop() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let meta = metadata(&[1, 1]);
    let closed = || {
        BatchOutcome::Retry(durian_core::Error::ConnectionClosed {
            broker: "b:1".into(),
        })
    };
    let drain_one = |acc: &mut Accumulator| {
        let (mut taken, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
        assert!(taken.len() <= 1);
        taken.pop()
    };

    // After a first batch (seq 0): A (seq 1) written, its answer lost;
    // B (seq 2) acknowledged first; A's retry recognised as a duplicate.
    acknowledge_a_first_batch(&mut acc, &budget, &meta, 0).await;
    let _a = append(&mut acc, &budget, 0, 0);
    tokio::time::advance(Duration::from_millis(5)).await;
    let a = drain_one(&mut acc).unwrap();
    let _b = append(&mut acc, &budget, 0, 1);
    tokio::time::advance(Duration::from_millis(5)).await;
    let b = drain_one(&mut acc).unwrap();
    acc.complete(TOPIC, 0, b.batch_id, ack(2), Instant::now());
    acc.complete(TOPIC, 0, a.batch_id, closed(), Instant::now());
    tokio::time::advance(Duration::from_millis(200)).await;
    let retry = drain_one(&mut acc).unwrap();
    assert_eq!(retry.batch_id, a.batch_id);
    acc.complete(TOPIC, 0, a.batch_id, ack(1), Instant::now());

    // C (seq 3) written, its answer lost, then out of the broker's memory
    // of recent batches: its retry is refused as out of order.
    let c_record = append(&mut acc, &budget, 0, 2);
    tokio::time::advance(Duration::from_millis(5)).await;
    let c = drain_one(&mut acc).unwrap();
    assert_eq!(base_sequence(&c), 3);
    acc.complete(TOPIC, 0, c.batch_id, closed(), Instant::now());
    tokio::time::advance(Duration::from_millis(200)).await;
    let retry = drain_one(&mut acc).unwrap();
    assert_eq!(retry.batch_id, c.batch_id);
    let out_of_order = BatchOutcome::Sequence {
        error: durian_core::Error::Kafka(KafkaError {
            code: KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            message: None,
        }),
        log_start_offset: 0,
    };
    let effects = acc.complete(TOPIC, 0, c.batch_id, out_of_order, Instant::now());
    assert!(
        effects.bump && effects.failed_batches == 1,
        "C is the first unacknowledged batch: failed at the first answer, not retried: {effects:?}"
    );
    let error = c_record.await.unwrap_err();
    assert!(
        matches!(
            error,
            ProducerError::OutOfOrderSequence {
                may_be_written: true,
                ..
            }
        ),
        "its first attempt went unanswered, so it may have been written: {error}"
    );
}

/// While a retry of a partition is in flight no new batch of it goes out:
/// written behind the retry, new batches could push the retried one out of
/// the broker's memory of the producer's last 5 batches.
#[tokio::test(start_paused = true)]
async fn no_new_batch_goes_out_while_a_retry_is_in_flight() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let meta = metadata(&[1, 1]);
    let _a = append(&mut acc, &budget, 0, 0);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (a, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    let lost = durian_core::Error::ConnectionClosed {
        broker: "b:1".into(),
    };
    acc.complete(
        TOPIC,
        0,
        a[0].batch_id,
        BatchOutcome::Retry(lost),
        Instant::now(),
    );
    let _b = append(&mut acc, &budget, 0, 1);
    tokio::time::advance(Duration::from_millis(200)).await;
    let (retry, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert_eq!(retry[0].batch_id, a[0].batch_id);
    let (fresh, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert!(fresh.is_empty(), "B waits for the retry's answer");
    acc.complete(TOPIC, 0, a[0].batch_id, ack(0), Instant::now());
    let (fresh, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert_eq!((fresh.len(), base_sequence(&fresh[0])), (1, 1));
}
