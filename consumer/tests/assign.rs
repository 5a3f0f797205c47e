//! assign()-mode consumption against durian's broker: no group involved.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use durian_consumer::TopicPartition;
use durian_testkit::wait::eventually;

const TOPIC: &str = "assigned";
/// Short, so an auto-commit is due at every poll once it has passed.
const AUTO_COMMIT_INTERVAL: Duration = Duration::from_millis(1);

#[tokio::test]
async fn reads_every_record_in_order_then_waits() {
    let broker = start_broker().await;
    let admin = admin(&broker.bootstrap()).await;
    create_topic(&admin, TOPIC, 2).await;
    produce(&admin, TOPIC, 0, 0, 2_000, 100).await;
    produce(&admin, TOPIC, 1, 0, 1_500, 7).await;

    let mut consumer = consumer(&broker.bootstrap(), None)
        .max_poll_records(300)
        .build()
        .unwrap();
    consumer
        .assign([TopicPartition::new(TOPIC, 0), TopicPartition::new(TOPIC, 1)])
        .unwrap();
    let mut next = [0i64, 0];
    while next != [2_000, 1_500] {
        let batch = consumer.poll(Duration::from_secs(5)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        assert!(!batch.is_empty(), "stalled at {next:?}");
        assert!(batch.len() <= 300);
        for record in batch {
            check_record(&record);
            let slot = &mut next[record.partition as usize];
            assert_eq!(
                record.offset, *slot,
                "gap or duplicate in partition {}",
                record.partition
            );
            *slot += 1;
        }
    }
    let tp0 = TopicPartition::new(TOPIC, 0);
    assert_eq!(consumer.position(&tp0).await.unwrap(), 2_000);
    assert_eq!(consumer.lag(&tp0), Some(0));
    // Nothing more: an empty poll after the timeout, not an error.
    assert!(consumer
        .poll(Duration::from_millis(300))
        .await
        .unwrap()
        .is_empty());

    // Records produced now arrive through the long-polling fetch.
    produce(&admin, TOPIC, 1, 1_500, 10, 10).await;
    let mut late = Vec::new();
    while late.len() < 10 {
        late.extend(consumer.poll(Duration::from_secs(5)).await.unwrap());
    }
    assert_eq!(late.first().map(|r| r.offset), Some(1_500));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn seek_pause_and_offset_lookups() {
    let broker = start_broker().await;
    scenarios::positions::seek_pause_and_offset_lookups(&broker.bootstrap(), TOPIC).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn pause_then_resume_continues_where_it_was() {
    let broker = start_broker().await;
    scenarios::positions::pause_then_resume_continues_where_it_was(&broker.bootstrap(), TOPIC)
        .await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn manual_commits_without_a_group_membership() {
    let broker = start_broker().await;
    scenarios::positions::manual_commits_without_a_group_membership(
        &broker.bootstrap(),
        TOPIC,
        "standalone",
    )
    .await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn reset_none_reports_missing_offsets() {
    init_tracing();
    let broker = start_broker().await;
    let admin = admin(&broker.bootstrap()).await;
    create_topic(&admin, TOPIC, 1).await;
    let tp = TopicPartition::new(TOPIC, 0);
    let mut consumer = consumer(&broker.bootstrap(), Some("strict"))
        .auto_offset_reset(durian_consumer::OffsetReset::None)
        .build()
        .unwrap();
    consumer.assign([tp.clone()]).unwrap();
    let batch = consumer.poll(Duration::from_secs(5)).await.unwrap();
    assert!(
        matches!(batch.errors.as_slice(), [(p, durian_consumer::ConsumerError::NoOffset(_))] if p == &tp),
        "{:?}",
        batch.errors
    );
    consumer.seek(&tp, 0).unwrap();
    assert!(consumer
        .poll(Duration::from_millis(300))
        .await
        .unwrap()
        .errors
        .is_empty());
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn auto_commit_covers_only_records_already_returned() {
    let broker = start_broker().await;
    let admin = admin(&broker.bootstrap()).await;
    create_topic(&admin, TOPIC, 1).await;
    produce_all(&admin, TOPIC, 1, 100).await;
    let tp = TopicPartition::new(TOPIC, 0);
    let all = BTreeSet::from([tp.clone()]);

    let mut consumer = consumer(&broker.bootstrap(), Some("auto"))
        .auto_commit_interval(AUTO_COMMIT_INTERVAL)
        .max_poll_records(10)
        .build()
        .unwrap();
    consumer.assign([tp.clone()]).unwrap();
    let mut returned = 0;
    while returned == 0 {
        returned = consumer.poll(Duration::from_secs(5)).await.unwrap().len();
    }
    assert_eq!(returned, 10);
    // Not a wait for something else to happen: the event this waits on is
    // the interval itself passing. The consumer last checked it inside the
    // poll that just returned, so once a sleep of one interval is over the
    // next poll is certain to find an auto-commit due, however slow the
    // machine.
    tokio::time::sleep(AUTO_COMMIT_INTERVAL).await;
    // This poll starts an auto-commit of the 10 records returned so far,
    // though 90 more are already fetched and buffered.
    assert_eq!(
        consumer.poll(Duration::from_secs(5)).await.unwrap().len(),
        10
    );
    // The auto-commit runs in the background: wait until the group shows
    // a commit, then check it covers exactly the returned records.
    let committed = eventually(
        Duration::from_secs(10),
        "the background auto-commit",
        async || {
            consumer.committed(&all).await.unwrap()[&tp]
                .as_ref()
                .map(|o| o.offset)
        },
    )
    .await;
    assert_eq!(committed, 10, "only returned records are committed");
    // close() commits what the second poll returned.
    consumer.close().await.unwrap();
    let reader = common::consumer(&broker.bootstrap(), Some("auto"))
        .build()
        .unwrap();
    assert_eq!(
        reader.committed(&all).await.unwrap()[&tp]
            .as_ref()
            .map(|o| o.offset),
        Some(20)
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn read_committed_skips_aborts_and_stops_at_the_lso() {
    init_tracing();
    let broker = start_broker().await;
    scenarios::read_committed::read_committed_skips_aborts_and_stops_at_the_lso(
        &broker.bootstrap(),
        "durian",
    )
    .await;
    broker.shutdown().await.unwrap();
}

/// A fresh consumer knows no leader for the partitions it was just
/// assigned; its first position lookup asks for metadata. The records
/// must follow as soon as the metadata is in, not at `poll`'s next
/// wake-up (here the whole poll, with a minute-long backoff ceiling).
#[tokio::test]
async fn the_first_records_follow_the_metadata_not_a_backoff() {
    let broker = start_broker().await;
    let admin = admin(&broker.bootstrap()).await;
    create_topic(&admin, "fresh", 1).await;
    produce(&admin, "fresh", 0, 0, 10, 100).await;
    let client = durian_core::ClientConfig::builder()
        .bootstrap_servers([broker.bootstrap()])
        .retry_backoff(Duration::from_millis(20), Duration::from_secs(60))
        .build()
        .unwrap();
    let mut consumer = durian_consumer::Consumer::builder()
        .client_config(client)
        .auto_offset_reset(durian_consumer::OffsetReset::Earliest)
        .build()
        .unwrap();
    consumer.assign([TopicPartition::new("fresh", 0)]).unwrap();
    let batch = consumer.poll(Duration::from_secs(20)).await.unwrap();
    assert_eq!(batch.len(), 10, "poll waited out its timeout instead");
    consumer.close().await.unwrap();
}
