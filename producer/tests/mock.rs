//! MockProducer (feature `testing`): what it records, the offsets it hands
//! out, injected failures, held deliveries, and application code written
//! against `ProducerApi` running on it.

#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use durian_producer::{MockProducer, ProducerApi, ProducerError, ProducerRecord};

/// Application code under test: sends one record per line and reports the
/// offsets, giving up at the first failed delivery.
async fn ship_lines(
    producer: &impl ProducerApi<String, String>,
    lines: &[&str],
) -> Result<Vec<i64>, ProducerError> {
    let mut deliveries = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let record = ProducerRecord::new("lines", (*line).to_owned())
            .with_key(format!("line-{n}"))
            .with_header("source", "test");
        deliveries.push(producer.send(record).await?);
    }
    producer.flush().await?;
    let mut offsets = Vec::new();
    for delivery in deliveries {
        offsets.push(delivery.await?.offset);
    }
    Ok(offsets)
}

#[tokio::test]
async fn records_every_send_and_counts_offsets_per_partition() {
    let producer = MockProducer::<String, String>::new();
    assert_eq!(
        ship_lines(&producer, &["a", "b", "c"]).await.unwrap(),
        [0, 1, 2]
    );
    let other = producer
        .send(ProducerRecord::new("lines", "d".to_owned()).with_partition(3))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((other.partition, other.offset), (3, 0));

    let sent = producer.sent();
    assert_eq!(sent.len(), 4);
    assert_eq!(sent[1].topic, "lines");
    assert_eq!(sent[1].partition, Some(0));
    assert_eq!(sent[1].key.as_deref(), Some("line-1"));
    assert_eq!(sent[1].value.as_deref(), Some("b"));
    assert_eq!(sent[1].headers[0].value.as_deref(), Some(&b"test"[..]));
    assert!(sent[1].timestamp.is_some());
    assert_eq!(sent[3].partition, Some(3));
    assert_eq!(producer.flushes(), 1);
}

#[tokio::test]
async fn injected_failures_reach_the_code_under_test() {
    let producer = MockProducer::<String, String>::new();
    producer.fail_next_sends(1, ProducerError::Closed);
    assert!(matches!(
        ship_lines(&producer, &["a"]).await,
        Err(ProducerError::Closed)
    ));
    assert!(producer.sent().is_empty(), "a refused send records nothing");

    producer.fail_next_deliveries(2, ProducerError::Aborted);
    assert!(matches!(
        ship_lines(&producer, &["a", "b", "c"]).await,
        Err(ProducerError::Aborted)
    ));
    assert_eq!(
        producer.sent().len(),
        3,
        "failed deliveries were still sent"
    );
    // The third record was the first to succeed: it got the partition's first offset.
    producer.clear();
    assert_eq!(ship_lines(&producer, &["d"]).await.unwrap(), [1]);
}

#[tokio::test]
async fn held_deliveries_wait_for_the_test() {
    let producer = MockProducer::<String, String>::holding_deliveries();
    let first = producer
        .send(ProducerRecord::new("t", "1".to_owned()))
        .await
        .unwrap();
    let second = producer
        .send(ProducerRecord::new("t", "2".to_owned()))
        .await
        .unwrap();
    let third = producer
        .send(ProducerRecord::new("t", "3".to_owned()))
        .await
        .unwrap();
    assert_eq!(producer.pending(), 3);
    let mut first = first;
    assert!(
        futures::FutureExt::now_or_never(&mut first).is_none(),
        "a held delivery does not resolve on its own"
    );
    assert!(producer.fail_next_pending(ProducerError::Aborted));
    assert!(matches!(first.await, Err(ProducerError::Aborted)));
    assert!(producer.complete_next());
    assert_eq!(second.await.unwrap().offset, 0);
    // close releases the rest, then refuses new records.
    ProducerApi::<String, String>::close(&producer, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(third.await.unwrap().offset, 1);
    assert!(!producer.complete_next());
    assert!(producer.is_closed());
    assert!(matches!(
        producer
            .send(ProducerRecord::new("t", "4".to_owned()))
            .await,
        Err(ProducerError::Closed)
    ));
}

#[tokio::test]
async fn transactions_show_records_at_commit_and_drop_them_at_abort() {
    use std::collections::BTreeMap;

    use durian_producer::{ConsumerGroupMetadata, TopicPartition, TransactionState};

    let mock: MockProducer<String, String> = MockProducer::new();
    assert_eq!(mock.transaction_state(), None);
    mock.init_transactions().await.unwrap();
    let outside = mock
        .send(ProducerRecord::new("t", "outside".to_owned()))
        .await
        .unwrap_err();
    assert!(
        matches!(outside, ProducerError::InvalidTransactionState { .. }),
        "{outside}"
    );

    mock.begin_transaction().unwrap();
    mock.send(ProducerRecord::new("t", "kept".to_owned()))
        .await
        .unwrap();
    let group = ConsumerGroupMetadata::new("g");
    let offsets = BTreeMap::from([(TopicPartition::new("in", 0), 7)]);
    mock.send_offsets_to_transaction(&offsets, &group)
        .await
        .unwrap();
    assert!(mock.sent().is_empty(), "not visible before the commit");
    assert_eq!(mock.uncommitted().len(), 1);
    mock.commit_transaction().await.unwrap();
    assert_eq!(mock.sent()[0].value.as_deref(), Some("kept"));
    assert_eq!(mock.committed_offsets()["g"], offsets);

    mock.begin_transaction().unwrap();
    mock.send(ProducerRecord::new("t", "dropped".to_owned()))
        .await
        .unwrap();
    mock.fail_next_commit(ProducerError::TransactionAbortable {
        reason: "injected".to_owned(),
    });
    let commit = mock.commit_transaction().await.unwrap_err();
    assert!(commit.is_transaction_abortable(), "{commit}");
    assert_eq!(
        mock.transaction_state(),
        Some(TransactionState::AbortableError)
    );
    mock.abort_transaction().await.unwrap();
    assert_eq!(mock.sent().len(), 1, "the aborted record never shows");
    assert!(mock.uncommitted().is_empty());
    assert_eq!(mock.transactions_ended(), (1, 1));
    let twice = mock.commit_transaction().await.unwrap_err();
    assert!(
        matches!(twice, ProducerError::InvalidTransactionState { .. }),
        "{twice}"
    );
}
