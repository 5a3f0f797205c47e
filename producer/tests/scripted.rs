//! The producer against a scripted broker that answers Produce with the
//! errors a real broker rarely gives on demand: out-of-order sequences,
//! unknown producer ids, fencing. Checks the KIP-360 handling end to end.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::scripted_broker::ScriptedBroker;
use durian_core::KafkaCode;
use durian_producer::{ProducerError, ProducerRecord};

fn record(n: u32) -> ProducerRecord {
    ProducerRecord::new("scripted", format!("r{n}")).with_partition(0)
}

#[tokio::test]
async fn out_of_order_on_the_first_batch_fails_it_then_the_epoch_is_bumped() {
    let broker =
        ScriptedBroker::start(vec![(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1, 0)]).await;
    let producer = broker.producer();
    let failed = producer.send_and_wait(record(0)).await.unwrap_err();
    assert!(
        matches!(
            failed,
            ProducerError::OutOfOrderSequence { partition: 0, .. }
        ),
        "{failed}"
    );
    let written = producer.send_and_wait(record(1)).await.unwrap();
    assert_eq!(written.offset, 0);
    assert_eq!(
        broker.init_calls(),
        [(-1, -1), (1000, 0)],
        "a fresh id, then a bump"
    );
    let seen = broker.seen();
    let last = seen.last().unwrap();
    assert_eq!(
        (last.producer_id, last.epoch, last.base_sequence),
        (1000, 1, 0)
    );
    assert_eq!(producer.metrics().epoch_bumps, 1);
    producer.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn unknown_producer_id_after_retention_bumps_and_retries_the_batch() {
    // First batch acknowledged at offset 0; the second is answered with
    // UNKNOWN_PRODUCER_ID and a log start of 5, past everything acknowledged.
    let broker = ScriptedBroker::start(vec![
        (KafkaCode(0), 0, 0),
        (KafkaCode::UNKNOWN_PRODUCER_ID, -1, 5),
    ])
    .await;
    let producer = broker.producer();
    assert_eq!(producer.send_and_wait(record(0)).await.unwrap().offset, 0);
    // The scripted broker continues its own offsets from 0 for accepted batches.
    let retried = producer.send_and_wait(record(1)).await.unwrap();
    assert!(retried.offset >= 0);
    let seen = broker.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!((seen[1].epoch, seen[1].base_sequence), (0, 1));
    assert_eq!(
        (seen[2].epoch, seen[2].base_sequence),
        (1, 0),
        "same batch, new epoch, sequence 0"
    );
    producer.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn unknown_producer_id_with_acknowledged_data_still_in_the_log_is_fatal() {
    let broker = ScriptedBroker::start(vec![
        (KafkaCode(0), 0, 0),
        (KafkaCode::UNKNOWN_PRODUCER_ID, -1, 0),
    ])
    .await;
    let producer = broker.producer();
    producer.send_and_wait(record(0)).await.unwrap();
    let error = producer.send_and_wait(record(1)).await.unwrap_err();
    assert!(error.is_fatal(), "{error}");
    assert!(error.to_string().contains("UNKNOWN_PRODUCER_ID"), "{error}");
    // Every later send reports the same fatal error at once.
    let later = producer.send(record(2)).await.unwrap_err();
    assert!(later.is_fatal(), "{later}");
    assert!(producer.flush().await.unwrap_err().is_fatal());
}

#[tokio::test]
async fn a_fenced_epoch_is_fatal_for_every_later_send() {
    let broker = ScriptedBroker::start(vec![(KafkaCode::INVALID_PRODUCER_EPOCH, -1, 0)]).await;
    let producer = broker.producer();
    let error = producer.send_and_wait(record(0)).await.unwrap_err();
    assert!(error.is_fatal(), "{error}");
    for n in 1..4 {
        let later = producer.send(record(n)).await.unwrap_err();
        assert!(later.is_fatal(), "{later}");
    }
    assert_eq!(
        broker.seen().len(),
        1,
        "nothing is sent after the fatal error"
    );
}

#[tokio::test]
async fn a_duplicate_sequence_counts_as_delivered() {
    let broker = ScriptedBroker::start(vec![(KafkaCode::DUPLICATE_SEQUENCE_NUMBER, -1, 0)]).await;
    let producer = broker.producer();
    let written = producer.send_and_wait(record(0)).await.unwrap();
    assert_eq!(
        written.offset, -1,
        "the broker did not say where the original went"
    );
    assert_eq!(producer.metrics().errors, 0);
    producer.close(Duration::from_secs(5)).await.unwrap();
}
