//! Membership details against durian's broker: max.poll.interval.ms,
//! static membership and pattern subscriptions.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::members::{wait_for, Ending, Member, SharedLog};
use common::*;
use durian_consumer::{ConsumerError, TopicPartition};
use durian_core::ClientConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_application_leaves_and_rejoins_on_its_next_poll() {
    init_tracing();
    let broker = start_broker().await;
    let admin = admin(&broker.bootstrap()).await;
    create_topic(&admin, "stall", 1).await;
    produce_all(&admin, "stall", 1, 100).await;
    let mut consumer = consumer(&broker.bootstrap(), Some("stall"))
        .enable_auto_commit(false)
        .max_poll_records(10)
        .max_poll_interval(Duration::from_millis(1_500))
        .heartbeat_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    consumer.subscribe(["stall"]).unwrap();
    let mut first = Vec::new();
    while first.is_empty() {
        first.extend(consumer.poll(Duration::from_secs(1)).await.unwrap());
    }
    assert_eq!(first.len(), 10);
    consumer.commit().await.unwrap();

    tokio::time::sleep(Duration::from_secs(3)).await;
    match consumer.poll(Duration::from_secs(1)).await {
        Err(ConsumerError::PollIntervalExceeded) => {}
        other => panic!("expected PollIntervalExceeded, got {other:?}"),
    }
    assert!(
        consumer.assignment().is_empty(),
        "the partitions were given up"
    );

    // The next polls rejoin and continue from the committed offset.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut again = Vec::new();
    while again.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never rejoined");
        again.extend(consumer.poll(Duration::from_secs(1)).await.unwrap());
    }
    assert_eq!(again[0].offset, 10);
    consumer.close().await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_static_member_gets_its_partitions_back_without_a_rebalance() {
    init_tracing();
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    let admin = admin(&bootstrap).await;
    create_topic(&admin, "static", 4).await;
    let log = SharedLog::default();
    let builder = |instance: &str| consumer(&bootstrap, Some("static")).group_instance_id(instance);
    let a = Member::start("a", builder("a"), "static", log.clone(), false);
    let b = Member::start("b", builder("b"), "static", log.clone(), false);
    wait_for(&log, Duration::from_secs(60), "two partitions each", |l| {
        ["a", "b"]
            .iter()
            .all(|m| l.assignment.get(*m).is_some_and(|s| s.len() == 2))
    })
    .await;
    let before = log.lock().unwrap().assignment.clone();
    a.stop(Ending::Close).await;
    let again = Member::start("a-again", builder("a"), "static", log.clone(), false);
    wait_for(
        &log,
        Duration::from_secs(60),
        "the restarted member's partitions",
        |l| l.assignment.get("a-again").is_some_and(|s| !s.is_empty()),
    )
    .await;
    {
        let log = log.lock().unwrap();
        assert_eq!(
            log.assignment["a-again"], before["a"],
            "same partitions as before the restart"
        );
        assert!(
            log.revoked.get("b").is_none_or(Vec::is_empty),
            "b was not disturbed: {:?}",
            log.revoked
        );
    }
    again.stop(Ending::Close).await;
    b.stop(Ending::Close).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pattern_subscription_follows_new_topics() {
    init_tracing();
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    let admin = admin(&bootstrap).await;
    for topic in ["logs-a", "other"] {
        create_topic(&admin, topic, 1).await;
        produce_all(&admin, topic, 1, 10).await;
    }
    let client = ClientConfig::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .metadata_max_age(Duration::from_millis(300))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    let mut consumer = consumer(&bootstrap, Some("pattern"))
        .client_config(client)
        .build()
        .unwrap();
    consumer.subscribe_pattern("logs-.*").unwrap();
    let mut topics = BTreeSet::new();
    let mut count = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while count < 10 {
        assert!(tokio::time::Instant::now() < deadline);
        for record in consumer.poll(Duration::from_millis(500)).await.unwrap() {
            topics.insert(record.topic.to_string());
            count += 1;
        }
    }
    create_topic(&admin, "logs-b", 1).await;
    produce_all(&admin, "logs-b", 1, 10).await;
    while count < 20 {
        assert!(
            tokio::time::Instant::now() < deadline + Duration::from_secs(30),
            "logs-b never picked up"
        );
        for record in consumer.poll(Duration::from_millis(500)).await.unwrap() {
            topics.insert(record.topic.to_string());
            count += 1;
        }
    }
    assert_eq!(
        topics,
        BTreeSet::from(["logs-a".to_string(), "logs-b".to_string()])
    );
    assert!(consumer
        .assignment()
        .contains(&TopicPartition::new("logs-b", 0)));
    consumer.close().await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribe_commits_leaves_and_allows_assign() {
    init_tracing();
    let broker = start_broker().await;
    let admin = admin(&broker.bootstrap()).await;
    create_topic(&admin, "quit", 2).await;
    produce_all(&admin, "quit", 2, 20).await;
    let mut consumer = consumer(&broker.bootstrap(), Some("quit")).build().unwrap();
    consumer.subscribe(["quit"]).unwrap();
    let mut seen = 0;
    while seen < 40 {
        seen += consumer.poll(Duration::from_secs(1)).await.unwrap().len();
    }
    consumer.unsubscribe().await.unwrap();
    assert!(consumer.assignment().is_empty());
    let all: BTreeSet<TopicPartition> = (0..2).map(|p| TopicPartition::new("quit", p)).collect();
    let committed = consumer.committed(&all).await.unwrap();
    assert!(
        committed
            .values()
            .all(|c| c.as_ref().map(|o| o.offset) == Some(20)),
        "{committed:?}"
    );
    consumer.assign(all.iter().cloned()).unwrap();
    assert_eq!(
        consumer
            .position(&TopicPartition::new("quit", 1))
            .await
            .unwrap(),
        20
    );
    consumer.close().await.unwrap();
    broker.shutdown().await.unwrap();
}
