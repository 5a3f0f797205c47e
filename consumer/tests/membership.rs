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

/// What the listener below saw when partitions were assigned.
#[derive(Debug, Default)]
struct Seen {
    committed: Option<Option<i64>>,
    position_after_seek: Option<i64>,
}

/// Seeks every assigned partition to its end, after reading the group's
/// committed offsets: `&self` and `&mut self` methods awaited inside the
/// listener, which requires `Consumer` to be `Sync`.
struct SeekToEndListener {
    seen: std::sync::Arc<std::sync::Mutex<Seen>>,
}

#[async_trait::async_trait]
impl durian_consumer::RebalanceListener for SeekToEndListener {
    async fn on_partitions_assigned(
        &mut self,
        consumer: &mut durian_consumer::Consumer,
        partitions: &[TopicPartition],
    ) {
        let wanted: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
        let committed = consumer.committed(&wanted).await.unwrap();
        let tp = TopicPartition::new("listen", 0);
        consumer.seek_to_end(partitions).await.unwrap();
        let position = consumer.position(&tp).await.unwrap();
        let mut seen = self.seen.lock().unwrap();
        seen.committed = Some(committed.get(&tp).cloned().flatten().map(|o| o.offset));
        seen.position_after_seek = Some(position);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebalance_listener_can_await_committed_and_seek_to_end() {
    init_tracing();
    let broker = start_broker().await;
    let admin = admin(&broker.bootstrap()).await;
    create_topic(&admin, "listen", 1).await;
    produce_all(&admin, "listen", 1, 10).await;
    let tp = TopicPartition::new("listen", 0);

    // A first member commits offset 4 and leaves.
    let mut first = consumer(&broker.bootstrap(), Some("listen"))
        .enable_auto_commit(false)
        .build()
        .unwrap();
    first.subscribe(["listen"]).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while first.assignment().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never assigned");
        first.poll(Duration::from_millis(100)).await.unwrap();
    }
    let offsets = [(tp.clone(), durian_consumer::OffsetAndMetadata::new(4))].into();
    first.commit_offsets(offsets).await.unwrap();
    first.close().await.unwrap();

    // The next member's listener sees that commit and skips to the end.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    let mut member = consumer(&broker.bootstrap(), Some("listen"))
        .enable_auto_commit(false)
        .build()
        .unwrap();
    member.set_rebalance_listener(SeekToEndListener { seen: seen.clone() });
    member.subscribe(["listen"]).unwrap();
    let mut records = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut produced = false;
    while records.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no record after the seek"
        );
        let batch = member.poll(Duration::from_millis(100)).await.unwrap();
        records.extend(batch.records.into_values().flatten());
        if !produced && seen.lock().unwrap().position_after_seek.is_some() {
            produce(&admin, "listen", 0, 10, 1, 1).await;
            produced = true;
        }
    }
    member.close().await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.committed, Some(Some(4)), "{seen:?}");
    assert_eq!(seen.position_after_seek, Some(10), "{seen:?}");
    assert_eq!(
        records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        [10],
        "only the record produced after the seek"
    );
}

/// The Apache Kafka run's static membership case (kafka_groups.rs),
/// here: the restarted member keeps its partitions and the generation,
/// and resumes from the commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_static_member_keeps_its_partitions_and_generation() {
    init_tracing();
    let broker = start_broker().await;
    common::scenarios::groups::a_restarted_static_member_keeps_its_partitions(
        &broker.bootstrap(),
        "durian",
    )
    .await;
    broker.shutdown().await.unwrap();
}
