//! read_committed against real transactions (durian's transactional
//! producer), on any broker that runs them.

use std::time::Duration;

use durian_consumer::{Consumer, IsolationLevel, TopicPartition};
use durian_producer::{Producer, ProducerRecord, StringSerializer};

use crate::common::{admin, consumer, create_topic};

/// How long reading up to an expected record may take.
const PATIENCE: Duration = Duration::from_secs(30);

fn producer(bootstrap: &str, transactional_id: Option<&str>) -> Producer<String, String> {
    let mut builder = Producer::builder().bootstrap_servers([bootstrap]);
    if let Some(id) = transactional_id {
        builder = builder.transactional_id(id);
    }
    builder
        .serializers(StringSerializer, StringSerializer)
        .build()
        .unwrap()
}

/// Sends `values` to partition 0 of `topic` and waits until each is
/// written; returns the offset of the first.
async fn send_all(producer: &Producer<String, String>, topic: &str, values: &[&str]) -> i64 {
    let mut first = None;
    for value in values {
        let record = ProducerRecord::new(topic, (*value).to_owned()).with_partition(0);
        let written = producer.send(record).await.unwrap().await.unwrap();
        first.get_or_insert(written.offset);
    }
    first.expect("at least one value")
}

/// Polls until `count` more values arrived (failing after [`PATIENCE`]).
async fn read(consumer: &mut Consumer, count: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut values = Vec::new();
    while values.len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {values:?} of {count}"
        );
        let batch = consumer.poll(Duration::from_millis(500)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        for record in batch {
            let value = record.value.clone().unwrap_or_default();
            values.push(String::from_utf8(value.to_vec()).unwrap());
        }
    }
    values
}

/// One partition holds, in order: plain records, an aborted transaction,
/// a committed one, an open one and plain records after it. A
/// read_committed consumer skips the aborted records and stops at the
/// last stable offset (where the open transaction begins; its end offset
/// says so too) while read_uncommitted reads everything written; once
/// the open transaction commits, the read_committed consumer continues
/// with it and the records after it.
pub async fn read_committed_skips_aborts_and_stops_at_the_lso(bootstrap: &str, name: &str) {
    let topic: &str = &format!("{name}-lso");
    let admin = admin(bootstrap).await;
    create_topic(&admin, topic, 1).await;
    let tp = TopicPartition::new(topic, 0);
    let plain = producer(bootstrap, None);
    let txn = producer(bootstrap, Some(&format!("{name}-lso-txn")));
    txn.init_transactions().await.unwrap();

    send_all(&plain, topic, &["p0", "p1"]).await;
    txn.begin_transaction().unwrap();
    send_all(&txn, topic, &["a0", "a1", "a2"]).await;
    txn.abort_transaction().await.unwrap();
    txn.begin_transaction().unwrap();
    send_all(&txn, topic, &["c0", "c1"]).await;
    txn.commit_transaction().await.unwrap();
    txn.begin_transaction().unwrap();
    let open_at = send_all(&txn, topic, &["o0", "o1"]).await;
    send_all(&plain, topic, &["late0", "late1"]).await;

    let reader = |isolation| {
        consumer(bootstrap, None)
            .isolation_level(isolation)
            .build()
            .unwrap()
    };
    let mut uncommitted = reader(IsolationLevel::ReadUncommitted);
    uncommitted.assign([tp.clone()]).unwrap();
    assert_eq!(
        read(&mut uncommitted, 11).await,
        ["p0", "p1", "a0", "a1", "a2", "c0", "c1", "o0", "o1", "late0", "late1"],
        "read_uncommitted reads every record written"
    );

    let mut committed = reader(IsolationLevel::ReadCommitted);
    committed.assign([tp.clone()]).unwrap();
    assert_eq!(
        read(&mut committed, 4).await,
        ["p0", "p1", "c0", "c1"],
        "read_committed skips the aborted records"
    );
    let ends = committed
        .end_offsets(std::slice::from_ref(&tp))
        .await
        .unwrap();
    assert_eq!(
        ends[&tp], open_at,
        "the end under read_committed is the LSO"
    );
    // A bounded wait for something that must not come: every record up
    // to the LSO is read, and nothing past it may be returned while the
    // transaction is open.
    let blocked = committed.poll(Duration::from_secs(1)).await.unwrap();
    assert!(blocked.is_empty(), "read past the LSO: {blocked:?}");

    txn.commit_transaction().await.unwrap();
    assert_eq!(
        read(&mut committed, 4).await,
        ["o0", "o1", "late0", "late1"],
        "the committed transaction and what follows it"
    );
    committed.close().await.unwrap();
    uncommitted.close().await.unwrap();
    txn.close(Duration::from_secs(10)).await.unwrap();
    plain.close(Duration::from_secs(10)).await.unwrap();
}
