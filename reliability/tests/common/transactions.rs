//! durian's transactional producer scenarios, run against any broker by
//! bootstrap (`tests/kafka_transactions.rs`: Apache Kafka, V2 and V1;
//! `tests/transactions.rs`: durian's own broker), each under one protocol
//! (`v2`: `ProducerConfig::transaction_v2`, which falls back to V1 on a
//! broker that does not finalize `transaction.version` 2):
//!
//! - commit: a read_committed durian consumer sees every record;
//! - abort: read_committed sees none of the aborted records (only a later
//!   committed transaction's), read_uncommitted sees both; a record still
//!   waiting for linger.ms at the abort fails with `TransactionAborted`;
//! - fencing: a second producer with the same transactional.id fences the
//!   first, whose next calls fail with `ProducerFenced`;
//! - send_offsets_to_transaction: the group's committed offset appears
//!   only when the transaction commits (KIP-447 group metadata);
//! - consume-transform-produce: 300 records copied exactly once, with one
//!   aborted round in the middle re-read from the committed offsets.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use durian_consumer::{Consumer, IsolationLevel, OffsetReset, TopicPartition};
use durian_core::ClientConfig;
use durian_producer::{
    ConsumerGroupMetadata, Producer, ProducerError, ProducerRecord, StringSerializer,
    TransactionState,
};
use durian_reliability::readback::create_topic;
use tokio::time::Instant;

/// How long any one wait of these scenarios may take before it fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// Runs every scenario against `bootstrap` under one protocol, one after
/// the other (they share the broker; names differ per protocol).
pub async fn all_scenarios(bootstrap: &str, v2: bool) {
    commit_is_visible_to_read_committed(bootstrap, v2).await;
    abort_is_hidden_from_read_committed(bootstrap, v2).await;
    a_newer_producer_fences_the_older(bootstrap, v2).await;
    offsets_commit_with_the_transaction(bootstrap, v2).await;
    consume_transform_produce_exactly_once(bootstrap, v2).await;
}

/// `base` for one protocol: each scenario runs under V1 and V2 with its
/// own topics, transactional ids and groups.
fn named(base: &str, v2: bool) -> String {
    format!("{base}-v{}", if v2 { 2 } else { 1 })
}

fn transactional(bootstrap: &str, id: &str, v2: bool) -> Producer<String, String> {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .transactional_id(named(id, v2))
        .configure(|c| c.transaction_v2 = v2)
        .serializers(StringSerializer, StringSerializer)
        .build()
        .unwrap()
}

fn record(topic: &str, value: String) -> ProducerRecord<String, String> {
    let key = format!("k{}", value.len() % 7);
    ProducerRecord::new(topic, value).with_key(key)
}

/// Reads `topic` (partitions `0..partitions`) from the start with an
/// assigned consumer at `isolation` until `enough` holds for the values
/// read so far; fails after [`PATIENCE`].
async fn read_until(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    isolation: IsolationLevel,
    enough: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let mut consumer = Consumer::builder()
        .bootstrap_servers([bootstrap])
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .isolation_level(isolation)
        .build()
        .unwrap();
    consumer
        .assign((0..partitions).map(|p| TopicPartition::new(topic, p)))
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let mut values = Vec::new();
    while !enough(&values) {
        assert!(
            Instant::now() < deadline,
            "{topic} ({isolation:?}): gave up after {PATIENCE:?} with {values:?}"
        );
        let batch = consumer.poll(Duration::from_millis(300)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        for record in batch.iter() {
            let value = record.value.clone().unwrap_or_default();
            values.push(String::from_utf8(value.to_vec()).unwrap());
        }
    }
    let _ = consumer.close().await;
    values
}

/// One scenario of the module docs.
pub async fn commit_is_visible_to_read_committed(bootstrap: &str, v2: bool) {
    let topic = &named("txn-commit", v2);
    create_topic(bootstrap, topic, 3).await.unwrap();
    let producer = transactional(bootstrap, "txn-commit-producer", v2);
    // Misuse is refused before init, and without a transaction.
    let early = producer
        .send(record(topic, "early".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(early, ProducerError::InvalidTransactionState { .. }),
        "{early}"
    );
    producer.init_transactions().await.unwrap();
    assert_eq!(producer.transaction_state(), Some(TransactionState::Ready));
    producer.begin_transaction().unwrap();
    let mut deliveries = Vec::new();
    for n in 0..30 {
        deliveries.push(producer.send(record(topic, format!("c{n}"))).await.unwrap());
    }
    producer.commit_transaction().await.unwrap();
    for delivery in deliveries {
        delivery.await.unwrap();
    }
    assert_eq!(producer.transaction_state(), Some(TransactionState::Ready));
    let seen = read_until(bootstrap, topic, 3, IsolationLevel::ReadCommitted, |v| {
        v.len() >= 30
    })
    .await;
    let expected: BTreeSet<String> = (0..30).map(|n| format!("c{n}")).collect();
    assert_eq!(seen.len(), 30, "{seen:?}");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), expected);
    producer.close(Duration::from_secs(10)).await.unwrap();
}

/// One scenario of the module docs.
pub async fn abort_is_hidden_from_read_committed(bootstrap: &str, v2: bool) {
    let topic = &named("txn-abort", v2);
    create_topic(bootstrap, topic, 2).await.unwrap();
    let producer = transactional(bootstrap, "txn-abort-producer", v2);
    producer.init_transactions().await.unwrap();

    // Written, then aborted.
    producer.begin_transaction().unwrap();
    for n in 0..20 {
        let delivery = producer.send(record(topic, format!("a{n}"))).await.unwrap();
        delivery.await.unwrap();
    }
    producer.abort_transaction().await.unwrap();

    // Not sent yet at the abort (linger.ms holds it back): never written.
    let lingering = Producer::builder()
        .bootstrap_servers([bootstrap])
        .transactional_id(named("txn-abort-lingering", v2))
        .configure(|c| c.transaction_v2 = v2)
        .linger(Duration::from_secs(60))
        .delivery_timeout(Duration::from_secs(120))
        .serializers(StringSerializer, StringSerializer)
        .build()
        .unwrap();
    lingering.init_transactions().await.unwrap();
    lingering.begin_transaction().unwrap();
    let held = lingering.send(record(topic, "held".into())).await.unwrap();
    lingering.abort_transaction().await.unwrap();
    let held = held.await.unwrap_err();
    assert!(matches!(held, ProducerError::TransactionAborted), "{held}");
    lingering.close(Duration::from_secs(10)).await.unwrap();

    // A later committed transaction marks where reading may stop.
    producer.begin_transaction().unwrap();
    for n in 0..10 {
        producer.send(record(topic, format!("b{n}"))).await.unwrap();
    }
    producer.commit_transaction().await.unwrap();

    let committed = read_until(bootstrap, topic, 2, IsolationLevel::ReadCommitted, |v| {
        v.len() >= 10
    })
    .await;
    assert!(
        committed.iter().all(|v| v.starts_with('b')),
        "read_committed saw aborted records: {committed:?}"
    );
    assert_eq!(committed.len(), 10, "{committed:?}");
    let everything = read_until(bootstrap, topic, 2, IsolationLevel::ReadUncommitted, |v| {
        v.len() >= 30
    })
    .await;
    let aborted = everything.iter().filter(|v| v.starts_with('a')).count();
    assert_eq!(aborted, 20, "read_uncommitted sees the aborted records");
    assert!(!everything.iter().any(|v| v == "held"), "{everything:?}");
    producer.close(Duration::from_secs(10)).await.unwrap();
}

/// One scenario of the module docs.
pub async fn a_newer_producer_fences_the_older(bootstrap: &str, v2: bool) {
    let topic = &named("txn-fence", v2);
    create_topic(bootstrap, topic, 1).await.unwrap();
    let old = transactional(bootstrap, "txn-fenced", v2);
    old.init_transactions().await.unwrap();
    old.begin_transaction().unwrap();
    old.send(record(topic, "old".into()))
        .await
        .unwrap()
        .await
        .unwrap();

    let new = transactional(bootstrap, "txn-fenced", v2);
    new.init_transactions().await.unwrap();

    let error = old.commit_transaction().await.unwrap_err();
    assert!(
        matches!(error, ProducerError::ProducerFenced { .. }),
        "{error}"
    );
    assert!(error.is_fatal());
    assert_eq!(old.transaction_state(), Some(TransactionState::FatalError));
    let later = old.send(record(topic, "after".into())).await.unwrap_err();
    assert!(
        matches!(later, ProducerError::ProducerFenced { .. }),
        "{later}"
    );
    let begin = old.begin_transaction().unwrap_err();
    assert!(
        matches!(begin, ProducerError::ProducerFenced { .. }),
        "{begin}"
    );

    new.begin_transaction().unwrap();
    new.send(record(topic, "new".into())).await.unwrap();
    new.commit_transaction().await.unwrap();
    let seen = read_until(bootstrap, topic, 1, IsolationLevel::ReadCommitted, |v| {
        !v.is_empty()
    })
    .await;
    assert_eq!(
        seen,
        vec!["new".to_owned()],
        "the fenced transaction was aborted"
    );
    let _ = old.close(Duration::from_secs(5)).await;
    new.close(Duration::from_secs(10)).await.unwrap();
}

/// One scenario of the module docs.
pub async fn offsets_commit_with_the_transaction(bootstrap: &str, v2: bool) {
    let (input, output, group) = (
        &named("txn-offsets-in", v2),
        &named("txn-offsets-out", v2),
        &named("txn-offsets-group", v2),
    );
    create_topic(bootstrap, input, 1).await.unwrap();
    create_topic(bootstrap, output, 1).await.unwrap();
    let plain = Producer::builder()
        .bootstrap_servers([bootstrap])
        .serializers(StringSerializer, StringSerializer)
        .build()
        .unwrap();
    for n in 0..5 {
        plain.send(record(input, format!("in{n}"))).await.unwrap();
    }
    plain.flush().await.unwrap();

    let mut consumer = group_consumer(bootstrap, group);
    consumer.subscribe([input]).unwrap();
    let mut read = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while read.len() < 5 {
        assert!(Instant::now() < deadline, "read only {read:?}");
        let batch = consumer.poll(Duration::from_millis(300)).await.unwrap();
        read.extend(batch.iter().map(|r| r.offset));
    }
    let metadata = consumer.group_metadata().unwrap();
    assert_eq!(&metadata.group_id, group);
    assert!(metadata.generation_id > 0, "{metadata:?}");
    assert!(!metadata.member_id.is_empty(), "{metadata:?}");

    let producer = transactional(bootstrap, "txn-offsets-producer", v2);
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    producer.send(record(output, "out".into())).await.unwrap();
    let tp = TopicPartition::new(input.as_str(), 0);
    let offsets = BTreeMap::from([(tp.clone(), 5)]);
    producer
        .send_offsets_to_transaction(&offsets, &metadata)
        .await
        .unwrap();
    let partitions = BTreeSet::from([tp.clone()]);
    // Kafka answers UNSTABLE_OFFSET_COMMIT while the offsets wait for
    // their transaction (durian asks for stable offsets, KIP-447), and so
    // does durian's broker; an answer without the offset would do as well.
    // The consumer retries that answer for its request timeout, so this
    // look is taken by a consumer of the group (not a member) with a short
    // one.
    let checker = Consumer::builder()
        .client_config(
            ClientConfig::builder()
                .bootstrap_servers([bootstrap])
                .request_timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
        )
        .group_id(group)
        .build()
        .unwrap();
    match checker.committed(&partitions).await {
        Ok(before) => assert_eq!(
            before.get(&tp).cloned().flatten().map(|o| o.offset),
            None,
            "offsets of an open transaction are not committed"
        ),
        Err(error) => assert!(
            error.to_string().contains("UNSTABLE_OFFSET_COMMIT"),
            "{error}"
        ),
    }
    producer.commit_transaction().await.unwrap();
    let after = consumer.committed(&partitions).await.unwrap();
    assert_eq!(after.get(&tp).cloned().flatten().map(|o| o.offset), Some(5));

    // A stale generation is refused (KIP-447): the transaction is doomed.
    let stale = ConsumerGroupMetadata {
        generation_id: metadata.generation_id + 100,
        ..metadata.clone()
    };
    producer.begin_transaction().unwrap();
    let refused = producer
        .send_offsets_to_transaction(&offsets, &stale)
        .await
        .unwrap_err();
    assert!(refused.is_transaction_abortable(), "{refused}");
    let commit = producer.commit_transaction().await.unwrap_err();
    assert!(commit.is_transaction_abortable(), "{commit}");
    producer.abort_transaction().await.unwrap();
    assert_eq!(producer.transaction_state(), Some(TransactionState::Ready));
    let _ = checker.close().await;
    let _ = consumer.close().await;
    producer.close(Duration::from_secs(10)).await.unwrap();
    plain.close(Duration::from_secs(10)).await.unwrap();
}

fn group_consumer(bootstrap: &str, group: &str) -> Consumer {
    Consumer::builder()
        .bootstrap_servers([bootstrap])
        .group_id(group)
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .isolation_level(IsolationLevel::ReadCommitted)
        .max_poll_records(40)
        .build()
        .unwrap()
}

/// One scenario of the module docs.
pub async fn consume_transform_produce_exactly_once(bootstrap: &str, v2: bool) {
    let (input, output, group) = (
        &named("txn-ctp-in", v2),
        &named("txn-ctp-out", v2),
        &named("txn-ctp-group", v2),
    );
    const COUNT: usize = 300;
    create_topic(bootstrap, input, 3).await.unwrap();
    create_topic(bootstrap, output, 3).await.unwrap();
    let plain = Producer::builder()
        .bootstrap_servers([bootstrap])
        .serializers(StringSerializer, StringSerializer)
        .build()
        .unwrap();
    for n in 0..COUNT {
        plain.send(record(input, format!("v{n}"))).await.unwrap();
    }
    plain.flush().await.unwrap();

    let mut consumer = group_consumer(bootstrap, group);
    consumer.subscribe([input]).unwrap();
    let producer = transactional(bootstrap, "txn-ctp-producer", v2);
    producer.init_transactions().await.unwrap();
    let mut copied = 0usize;
    let mut rounds = 0usize;
    let mut aborted_once = false;
    let deadline = Instant::now() + PATIENCE * 2;
    while copied < COUNT {
        assert!(Instant::now() < deadline, "copied only {copied} of {COUNT}");
        let batch = consumer.poll(Duration::from_millis(300)).await.unwrap();
        if batch.is_empty() {
            continue;
        }
        rounds += 1;
        producer.begin_transaction().unwrap();
        let mut next: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        let mut first: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        for record_in in batch.iter() {
            let value = String::from_utf8(record_in.value.clone().unwrap().to_vec()).unwrap();
            producer
                .send(record(output, format!("out-{value}")))
                .await
                .unwrap();
            let tp = record_in.topic_partition();
            first.entry(tp.clone()).or_insert(record_in.offset);
            next.insert(tp, record_in.offset + 1);
        }
        producer
            .send_offsets_to_transaction(&next, &consumer.group_metadata().unwrap())
            .await
            .unwrap();
        if rounds == 2 && !aborted_once {
            // Give this round up: its records must never show, and the
            // input is read again from where the round started.
            aborted_once = true;
            producer.abort_transaction().await.unwrap();
            for (tp, offset) in &first {
                consumer.seek(tp, *offset).unwrap();
            }
            continue;
        }
        producer.commit_transaction().await.unwrap();
        copied += batch.len();
    }
    assert!(aborted_once, "the scenario aborted one round");
    let out = read_until(bootstrap, output, 3, IsolationLevel::ReadCommitted, |v| {
        v.len() >= COUNT
    })
    .await;
    assert_eq!(out.len(), COUNT, "exactly once: no duplicates");
    let expected: BTreeSet<String> = (0..COUNT).map(|n| format!("out-v{n}")).collect();
    assert_eq!(out.into_iter().collect::<BTreeSet<_>>(), expected);
    let _ = consumer.close().await;
    producer.close(Duration::from_secs(10)).await.unwrap();
    plain.close(Duration::from_secs(10)).await.unwrap();
}
