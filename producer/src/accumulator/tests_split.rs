//! Compression outside the lock, and splitting batches the broker found
//! too large (and failing whole those larger than a segment), with a
//! paused clock.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use durian_core::record::{decode_records, BatchHeader};
use durian_core::{KafkaCode, KafkaError};
use tokio::time::Instant;

use super::buffer_pool::MemoryBudget;
use super::drain::TakenBody;
use super::tests::*;
use super::*;

fn too_large(message: Option<&str>) -> BatchOutcome {
    BatchOutcome::Failed(durian_core::Error::Kafka(KafkaError {
        code: KafkaCode::MESSAGE_TOO_LARGE,
        message: message.map(str::to_owned),
    }))
}

fn values(batch: &DrainedBatch) -> Vec<Bytes> {
    decode_records(&batch.payload.to_bytes())
        .unwrap()
        .into_iter()
        .map(|r| r.value.unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn batches_are_compressed_outside_the_lock_and_kept_for_retries() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(AccumulatorSettings {
        compression: Compression::Gzip,
        ..settings()
    });
    let meta = metadata(&[1, 1]);
    let first: Vec<_> = (0..3).map(|n| append(&mut acc, &budget, 0, n)).collect();
    tokio::time::advance(Duration::from_millis(5)).await;
    let (taken, _) = acc.take_ready(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert_eq!(taken.len(), 1);
    assert!(
        matches!(taken[0].body, TakenBody::Unsealed { .. }),
        "the lock holder does not compress"
    );
    // While the sender compresses, sends go on, to the same partition too
    // (into a new batch: the taken one takes no more records).
    let later = append(&mut acc, &budget, 0, 3);
    let other = append(&mut acc, &budget, 1, 0);
    let (sent, effects) = acc.store_sealed(seal(taken));
    assert!(effects.is_nothing(), "{effects:?}");
    let header = BatchHeader::parse(sent[0].payload.head()).unwrap();
    assert_eq!(header.compression(), Compression::Gzip);
    assert_eq!((header.producer_id, header.base_sequence), (42, 0));
    assert_eq!(values(&sent[0]), [value(0), value(1), value(2)]);

    let now = Instant::now();
    acc.complete(
        TOPIC,
        0,
        sent[0].batch_id,
        BatchOutcome::Retry(not_leader()),
        now,
    );
    tokio::time::advance(Duration::from_millis(200)).await;
    let (retry, _) = acc.take_ready(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    let retry_batch = retry.iter().find(|b| b.partition == 0).unwrap();
    match &retry_batch.body {
        TakenBody::Finished(bytes) => assert_eq!(bytes, &sent[0].payload, "same bytes resent"),
        other => panic!("a retry is compressed again: {other:?}"),
    }
    let (retry, _) = acc.store_sealed(seal(retry));
    for batch in &retry {
        acc.complete(
            TOPIC,
            batch.partition,
            batch.batch_id,
            ack(0),
            Instant::now(),
        );
    }
    for (n, future) in first.into_iter().enumerate() {
        assert_eq!(future.await.unwrap().offset, n as i64);
    }
    assert_eq!(other.await.unwrap().offset, 0);
    let (last, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert_eq!(base_sequence(&last[0]), 3);
    acc.complete(TOPIC, 0, last[0].batch_id, ack(3), Instant::now());
    assert_eq!(later.await.unwrap().offset, 3);
    assert_eq!(budget.in_use(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_too_large_batch_is_split_in_halves_that_keep_its_sequences() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let meta = metadata(&[1, 1]);
    acknowledge_a_first_batch(&mut acc, &budget, &meta, 99).await;
    let big: Vec<_> = (0..5).map(|n| append(&mut acc, &budget, 0, n)).collect();
    tokio::time::advance(Duration::from_millis(5)).await;
    let (first, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    let behind = append(&mut acc, &budget, 0, 5);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (second, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert_eq!(
        (base_sequence(&first[0]), base_sequence(&second[0])),
        (1, 6)
    );

    let now = Instant::now();
    let effects = acc.complete(TOPIC, 0, first[0].batch_id, too_large(None), now);
    assert_eq!(effects.split_batches, 1);
    assert!(!effects.bump, "the halves take over the sequences: no gap");
    // The broker rejects the batch behind it: not the next expected sequence.
    let out_of_order = BatchOutcome::Sequence {
        error: durian_core::Error::Kafka(KafkaError {
            code: KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            message: None,
        }),
        log_start_offset: 0,
    };
    let effects = acc.complete(TOPIC, 0, second[0].batch_id, out_of_order, now);
    assert_eq!((effects.retried_batches, effects.bump), (1, false));

    // Halves first, one request at a time, then the batch behind them.
    tokio::time::advance(Duration::from_millis(200)).await;
    let mut sent = Vec::new();
    let mut offset = 100;
    for _ in 0..3 {
        let (batch, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
        assert_eq!(batch.len(), 1, "one batch of the partition per request");
        let header = BatchHeader::parse(batch[0].payload.head()).unwrap();
        sent.push((header.base_sequence, values(&batch[0])));
        acc.complete(TOPIC, 0, batch[0].batch_id, ack(offset), Instant::now());
        offset += i64::from(header.record_count);
    }
    assert_eq!(
        sent,
        [
            (1, vec![value(0), value(1)]),
            (3, vec![value(2), value(3), value(4)]),
            (6, vec![value(5)]),
        ]
    );
    for (n, future) in big.into_iter().enumerate() {
        assert_eq!(future.await.unwrap().offset, 100 + n as i64);
    }
    assert_eq!(behind.await.unwrap().offset, 105);
    assert!(acc.is_empty());
    assert_eq!(
        budget.in_use(),
        0,
        "the halves gave the batch's memory back"
    );
}

#[tokio::test(start_paused = true)]
async fn a_single_record_too_large_fails_alone_naming_the_limit() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let meta = metadata(&[1, 1]);
    let lone = append(&mut acc, &budget, 0, 0);
    let neighbour = append(&mut acc, &budget, 1, 0);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (sent, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert_eq!(sent.len(), 2);
    let limit = "record batch of 80 bytes exceeds max.message.bytes = 50";
    let now = Instant::now();
    let effects = acc.complete(TOPIC, 0, sent[0].batch_id, too_large(Some(limit)), now);
    assert_eq!((effects.failed_batches, effects.split_batches), (1, 0));
    assert!(effects.bump, "its sequence range is now a gap");
    acc.complete(TOPIC, 1, sent[1].batch_id, ack(9), now);
    let error = lone.await.unwrap_err();
    assert!(
        matches!(error, ProducerError::TooLargeForTopic { records: 1, .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("max.message.bytes = 50"), "{text}");
    assert_eq!(neighbour.await.unwrap().offset, 9);
}

/// RECORD_LIST_TOO_LARGE (the batch is larger than the topic's
/// `segment.bytes`) is not retriable and, as in the Java client, does not
/// split: the batch of several records fails whole, with an error naming
/// the topic, the batch's size and the settings to change.
#[tokio::test(start_paused = true)]
async fn a_batch_larger_than_a_segment_fails_whole_naming_the_settings() {
    let budget = MemoryBudget::new(1 << 20);
    let mut acc = Accumulator::new(settings());
    let meta = metadata(&[1, 1]);
    let records: Vec<_> = (0..4).map(|n| append(&mut acc, &budget, 0, n)).collect();
    let neighbour = append(&mut acc, &budget, 1, 0);
    tokio::time::advance(Duration::from_millis(5)).await;
    let (sent, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert_eq!(sent.len(), 2);
    let bytes = sent[0].payload.len();
    let refused = BatchOutcome::Failed(durian_core::Error::Kafka(KafkaError {
        code: KafkaCode::RECORD_LIST_TOO_LARGE,
        message: Some("exceeds segment.bytes = 64".to_owned()),
    }));
    let now = Instant::now();
    let effects = acc.complete(TOPIC, 0, sent[0].batch_id, refused, now);
    assert_eq!((effects.failed_batches, effects.split_batches), (1, 0));
    assert!(effects.bump, "its sequence range is now a gap");
    acc.complete(TOPIC, 1, sent[1].batch_id, ack(9), now);
    for record in records {
        let error = record.await.unwrap_err();
        assert!(
            matches!(
                &error,
                ProducerError::BatchLargerThanSegment { partition: 0, records: 4, batch_bytes, .. }
                    if *batch_bytes == bytes
            ),
            "{error:?}"
        );
        let text = error.to_string();
        for part in [
            &format!("{TOPIC}-0"),
            &format!("{bytes} bytes"),
            "segment.bytes = 64",
            "lower the producer's batch.size",
            "raise segment.bytes",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
    }
    assert_eq!(neighbour.await.unwrap().offset, 9);
    tokio::time::advance(Duration::from_secs(1)).await;
    let (again, _) = acc.drain(1, &meta, &rules(Instant::now()), 1 << 20, Some(identity()));
    assert!(again.is_empty(), "not retried: {again:?}");
    assert!(acc.is_empty());
}
