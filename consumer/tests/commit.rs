//! Background commits against durian's broker: `commit_async` stores the
//! positions of the records `poll` returned, as `commit` does.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use durian_consumer::{ConsumerError, TopicPartition};

const TOPIC: &str = "async-commits";

/// Bound on waiting for one background commit.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn commit_async_stores_the_returned_positions() {
    let broker = start_broker().await;
    let admin = admin(&broker.bootstrap()).await;
    create_topic(&admin, TOPIC, 1).await;
    produce_all(&admin, TOPIC, 1, 50).await;
    let tp = TopicPartition::new(TOPIC, 0);
    let partitions = BTreeSet::from([tp.clone()]);

    let mut committer = consumer(&broker.bootstrap(), Some("async-committer"))
        .enable_auto_commit(false)
        .max_poll_records(20)
        .build()
        .unwrap();
    committer.assign([tp.clone()]).unwrap();
    assert_eq!(
        committer.committed(&partitions).await.unwrap()[&tp],
        None,
        "nothing is committed before the test commits"
    );

    let mut returned = 0;
    for round in 1..=2 {
        let batch = committer.poll(Duration::from_secs(5)).await.unwrap();
        assert!(!batch.is_empty(), "round {round}: poll returned nothing");
        for record in batch.iter() {
            check_record(record);
        }
        returned += batch.len() as i64;

        let handle = committer.commit_async().unwrap();
        tokio::time::timeout(COMMIT_TIMEOUT, handle)
            .await
            .expect("the background commit finishes")
            .expect("the commit task does not panic")
            .expect("the broker accepts the commit");
        let committed = committer.committed(&partitions).await.unwrap();
        assert_eq!(
            committed[&tp].as_ref().map(|o| o.offset),
            Some(returned),
            "round {round}: the commit covers exactly the returned records"
        );
    }
    committer.close().await.unwrap();

    // Another member of the group resumes where the background commit left off.
    let mut next = consumer(&broker.bootstrap(), Some("async-committer"))
        .enable_auto_commit(false)
        .build()
        .unwrap();
    next.assign([tp.clone()]).unwrap();
    assert_eq!(next.position(&tp).await.unwrap(), returned);
    next.close().await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn commit_async_without_a_group_fails_at_once() {
    let broker = start_broker().await;
    let admin = admin(&broker.bootstrap()).await;
    create_topic(&admin, TOPIC, 1).await;
    let mut committer = consumer(&broker.bootstrap(), None)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    committer.assign([TopicPartition::new(TOPIC, 0)]).unwrap();
    let error = committer.commit_async().unwrap_err();
    assert!(matches!(error, ConsumerError::Usage(_)), "{error}");
    broker.shutdown().await.unwrap();
}
