//! MockConsumer (feature `testing`): records fed per partition, positions
//! and commits, a rebalance through a listener written for any
//! `ConsumerApi`, injected errors, and a poll that waits for the test.

#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use durian_consumer::deserializer::{I64Deserializer, StringDeserializer};
use durian_consumer::{
    ConsumerApi, ConsumerError, MockConsumer, OffsetAndMetadata, RebalanceListener, TopicPartition,
    TypedConsumer,
};

fn tp(partition: i32) -> TopicPartition {
    TopicPartition::new("events", partition)
}

/// A listener as an application would write it: commits on revocation,
/// for the real consumer and the mock alike. Logs what it saw.
struct CommitOnRevoke {
    log: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl<C: ConsumerApi> RebalanceListener<C> for CommitOnRevoke {
    async fn on_partitions_revoked(&mut self, consumer: &mut C, partitions: &[TopicPartition]) {
        consumer.commit().await.unwrap();
        self.log
            .lock()
            .unwrap()
            .push(format!("revoked {partitions:?}"));
    }

    async fn on_partitions_assigned(&mut self, consumer: &mut C, partitions: &[TopicPartition]) {
        let owned = consumer.assignment();
        assert!(
            partitions.iter().all(|p| owned.contains(p)),
            "assigned first"
        );
        self.log
            .lock()
            .unwrap()
            .push(format!("assigned {partitions:?}"));
    }

    async fn on_partitions_lost(&mut self, _: &mut C, partitions: &[TopicPartition]) {
        self.log
            .lock()
            .unwrap()
            .push(format!("lost {partitions:?}"));
    }
}

#[tokio::test]
async fn feeds_records_from_positions_and_tracks_commits() {
    let mut consumer = MockConsumer::new().with_max_poll_records(3);
    let feed = consumer.handle();
    consumer.assign([tp(0), tp(1)]).unwrap();
    for n in 0..4 {
        assert_eq!(feed.add_record(&tp(0), Some("k"), Some(format!("v{n}"))), n);
    }
    feed.add_record(&tp(1), None::<Bytes>, Some("other"));

    let first = consumer.poll(Duration::ZERO).await.unwrap();
    assert_eq!(first.len(), 3, "max_poll_records");
    let offsets: Vec<i64> = first.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [0, 1, 2]);
    let second = consumer.poll(Duration::ZERO).await.unwrap();
    let seen: Vec<(i32, i64)> = second.iter().map(|r| (r.partition, r.offset)).collect();
    assert_eq!(seen, [(0, 3), (1, 0)]);
    assert!(consumer.poll(Duration::ZERO).await.unwrap().is_empty());

    assert_eq!(consumer.position(&tp(0)).await.unwrap(), 4);
    consumer.commit().await.unwrap();
    assert_eq!(feed.committed()[&tp(0)], OffsetAndMetadata::new(4));
    assert_eq!(feed.committed()[&tp(1)], OffsetAndMetadata::new(1));
    assert_eq!(feed.commits(), 1);

    consumer.seek(&tp(0), 2).unwrap();
    let replay = consumer.poll(Duration::ZERO).await.unwrap();
    assert_eq!(replay.iter().map(|r| r.offset).collect::<Vec<_>>(), [2, 3]);
    assert!(consumer.seek(&tp(7), 0).is_err(), "not assigned");
    assert!(
        consumer.subscribe(["events"]).is_err(),
        "assign and subscribe do not mix"
    );
}

#[tokio::test]
async fn rebalances_run_the_listener_and_commit_before_revoking() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut consumer = MockConsumer::new();
    consumer.set_rebalance_listener(CommitOnRevoke { log: log.clone() });
    let feed = consumer.handle();
    consumer.subscribe(["events"]).unwrap();
    assert_eq!(consumer.subscription().unwrap().len(), 1);
    feed.add_record(&tp(0), Some("k"), Some("a"));
    feed.add_record(&tp(1), Some("k"), Some("b"));
    assert!(
        consumer.poll(Duration::ZERO).await.unwrap().is_empty(),
        "nothing is assigned before the group says so"
    );

    feed.schedule_rebalance([tp(0), tp(1)]);
    assert_eq!(consumer.poll(Duration::ZERO).await.unwrap().len(), 2);
    feed.schedule_rebalance([tp(1), tp(2)]);
    feed.add_record(&tp(2), Some("k"), Some("c"));
    let after = consumer.poll(Duration::ZERO).await.unwrap();
    assert_eq!(after.iter().map(|r| r.partition).collect::<Vec<_>>(), [2]);

    assert_eq!(
        *log.lock().unwrap(),
        [
            format!("assigned {:?}", [tp(0), tp(1)]),
            format!("revoked {:?}", [tp(0)]),
            format!("assigned {:?}", [tp(2)]),
        ]
    );
    // The revocation's commit covered what had been read of partition 0.
    assert_eq!(feed.committed()[&tp(0)].offset, 1);
    assert_eq!(feed.assignment(), [tp(1), tp(2)].into_iter().collect());
    assert!(!feed.positions().contains_key(&tp(0)));

    // A loss: no revocation, so no commit of what was read of partition 2.
    feed.schedule_partitions_lost([tp(2), tp(9)]);
    assert!(consumer.poll(Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(
        log.lock().unwrap().last().unwrap(),
        &format!("lost {:?}", [tp(2)])
    );
    assert_eq!(feed.assignment(), [tp(1)].into_iter().collect());
    assert!(!feed.committed().contains_key(&tp(2)));
    assert_eq!(feed.commits(), 1);
}

#[tokio::test]
async fn injected_errors_fail_one_call_each() {
    let mut consumer = MockConsumer::new();
    let feed = consumer.handle();
    consumer.assign([tp(0)]).unwrap();
    feed.add_record(&tp(0), Some("k"), Some("a"));
    feed.schedule_poll_error(ConsumerError::PollIntervalExceeded);
    assert!(matches!(
        consumer.poll(Duration::ZERO).await,
        Err(ConsumerError::PollIntervalExceeded)
    ));
    assert_eq!(consumer.poll(Duration::ZERO).await.unwrap().len(), 1);

    feed.fail_next_commit(ConsumerError::Usage("no coordinator".into()));
    assert!(consumer.commit().await.is_err());
    assert!(feed.committed().is_empty());
    consumer.commit().await.unwrap();
    assert_eq!(feed.committed()[&tp(0)].offset, 1);

    consumer.close();
    assert!(matches!(
        consumer.poll(Duration::ZERO).await,
        Err(ConsumerError::Closed)
    ));
}

#[tokio::test]
async fn poll_waits_for_records_the_test_adds() {
    let mut consumer = MockConsumer::new();
    let feed = consumer.handle();
    consumer.assign([tp(0)]).unwrap();
    let polling = tokio::spawn(async move {
        let batch = consumer.poll(Duration::from_secs(30)).await.unwrap();
        batch.iter().map(|r| r.offset).collect::<Vec<_>>()
    });
    feed.add_record(&tp(0), Some("k"), Some("late"));
    let offsets = tokio::time::timeout(Duration::from_secs(30), polling)
        .await
        .expect("poll returns once a record arrives")
        .unwrap();
    assert_eq!(offsets, [0]);
}

#[tokio::test]
async fn typed_consumers_run_on_the_mock() {
    let mut mock = MockConsumer::new();
    let feed = mock.handle();
    mock.assign([tp(0)]).unwrap();
    feed.add_record(&tp(0), Some("a"), Some(7_i64.to_be_bytes().to_vec()));
    feed.add_record(&tp(0), Some("b"), Some(b"bad".to_vec()));
    let mut typed = TypedConsumer::new(mock, StringDeserializer, I64Deserializer);
    let results: Vec<_> = typed
        .poll(Duration::ZERO)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(results[0].as_ref().unwrap().value, Some(7));
    let bad = results[1].as_ref().unwrap_err();
    assert_eq!((bad.offset, bad.what), (1, "value"));
    let error: ConsumerError = bad.clone().into();
    assert!(matches!(
        error,
        ConsumerError::Deserialize { offset: 1, .. }
    ));
}
