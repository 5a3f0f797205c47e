//! The metadata refresh task with a scripted metadata source.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use durian_core::metadata::refresh::{MetadataManager, MetadataSource, RefreshTiming};
use durian_core::{Error, KafkaCode, KafkaError, Result};
use futures::future::BoxFuture;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::Semaphore;

/// Counts fetches; each fetch needs a permit, so a test can hold one open.
struct ScriptedSource {
    fetches: AtomicU32,
    gate: Semaphore,
    failures_left: AtomicUsize,
    seen_topics: Mutex<Vec<BTreeSet<String>>>,
    leader_epoch: AtomicU32,
}

impl ScriptedSource {
    fn new(open: bool) -> Arc<Self> {
        Arc::new(ScriptedSource {
            fetches: AtomicU32::new(0),
            gate: Semaphore::new(if open { Semaphore::MAX_PERMITS } else { 0 }),
            failures_left: AtomicUsize::new(0),
            seen_topics: Mutex::new(Vec::new()),
            leader_epoch: AtomicU32::new(1),
        })
    }

    fn response(&self, topics: &BTreeSet<String>) -> MetadataResponse {
        let epoch = self.leader_epoch.load(Ordering::SeqCst) as i32;
        MetadataResponse::default()
            .with_controller_id(BrokerId(1))
            .with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(StrBytes::from_static_str("localhost"))
                .with_port(9092)])
            .with_topics(
                topics
                    .iter()
                    .map(|name| {
                        MetadataResponseTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(name.clone()))))
                            .with_partitions(vec![MetadataResponsePartition::default()
                                .with_partition_index(0)
                                .with_leader_id(BrokerId(epoch))
                                .with_leader_epoch(epoch)])
                    })
                    .collect(),
            )
    }
}

impl MetadataSource for ScriptedSource {
    fn fetch(&self, topics: BTreeSet<String>) -> BoxFuture<'_, Result<MetadataResponse>> {
        Box::pin(async move {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            self.seen_topics.lock().unwrap().push(topics.clone());
            self.gate
                .acquire()
                .await
                .map_err(|_| Error::Shutdown)?
                .forget();
            if self
                .failures_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Err(Error::Kafka(KafkaError {
                    code: KafkaCode::LEADER_NOT_AVAILABLE,
                    message: None,
                }));
            }
            Ok(self.response(&topics))
        })
    }
}

fn timing() -> RefreshTiming {
    RefreshTiming {
        min_interval: Duration::from_millis(100),
        max_age: Duration::from_secs(300),
        retry_backoff: (Duration::from_millis(100), Duration::from_millis(1000)),
    }
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_triggers_costs_one_fetch_after_the_one_in_flight() {
    let source = ScriptedSource::new(false);
    let manager = Arc::new(MetadataManager::start(source.clone(), timing()));
    let first = tokio::spawn({
        let manager = manager.clone();
        async move { manager.refresh("first").await }
    });
    while source.fetches.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    // While the first fetch hangs, fire a burst of triggers and one waiter.
    for i in 0..20 {
        manager.request_refresh(format!("burst {i}"));
    }
    let waiter = tokio::spawn({
        let manager = manager.clone();
        async move { manager.refresh("waiter").await }
    });
    tokio::task::yield_now().await;
    source.gate.add_permits(100);
    let first = first.await.unwrap().unwrap();
    let second = waiter.await.unwrap().unwrap();
    assert_eq!(first.generation, 1);
    // The waiter asked while fetch 1 was running, so it needed fetch 2.
    assert_eq!(second.generation, 2);
    // Settle: no further fetch may follow from the burst.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn the_generation_follows_every_published_snapshot() {
    let source = ScriptedSource::new(true);
    let manager = MetadataManager::start(source.clone(), timing());
    assert_eq!(manager.generation(), manager.snapshot().generation);
    assert_eq!(manager.generation(), 0);
    for expected in 1..=3 {
        let fetched = manager.refresh(format!("fetch {expected}")).await.unwrap();
        assert_eq!(fetched.generation, expected);
        // By the time a waiter has the snapshot, the counter names it.
        assert_eq!(manager.generation(), expected);
        assert_eq!(manager.snapshot().generation, expected);
    }
    // A failed fetch publishes nothing, so the generation stays.
    source.failures_left.store(1, Ordering::SeqCst);
    manager.refresh("will fail").await.unwrap_err();
    assert_eq!(manager.generation(), 3);
}

#[tokio::test(start_paused = true)]
async fn fetches_are_at_least_the_minimum_interval_apart() {
    let source = ScriptedSource::new(true);
    let manager = MetadataManager::start(source.clone(), timing());
    let start = tokio::time::Instant::now();
    manager.refresh("one").await.unwrap();
    manager.refresh("two").await.unwrap();
    manager.refresh("three").await.unwrap();
    assert_eq!(source.fetches.load(Ordering::SeqCst), 3);
    // Paused time only advances through the task's own sleeps.
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn failures_reach_the_waiter_and_are_retried_in_the_background() {
    let source = ScriptedSource::new(true);
    source.failures_left.store(1, Ordering::SeqCst);
    let manager = MetadataManager::start(source.clone(), timing());
    let err = manager.refresh("will fail").await.unwrap_err();
    assert_eq!(err.kafka_code(), Some(KafkaCode::LEADER_NOT_AVAILABLE));
    let mut updates = manager.subscribe();
    updates.wait_for(|m| m.generation >= 1).await.unwrap();
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn metadata_is_refreshed_when_it_reaches_max_age() {
    let source = ScriptedSource::new(true);
    let manager = MetadataManager::start(source.clone(), timing());
    manager.refresh("initial").await.unwrap();
    tokio::time::sleep(Duration::from_secs(301)).await;
    assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
    assert_eq!(manager.snapshot().generation, 2);
}

#[tokio::test(start_paused = true)]
async fn topics_of_interest_are_requested_and_epochs_never_regress() {
    let source = ScriptedSource::new(true);
    let manager = MetadataManager::start(source.clone(), timing());
    assert!(manager.add_topics(["orders"]));
    assert!(!manager.add_topics(["orders"]));
    let snapshot = manager.refresh("after add").await.unwrap();
    let seen = source.seen_topics.lock().unwrap().last().cloned().unwrap();
    assert!(seen.contains("orders"));
    assert_eq!(snapshot.partition("orders", 0).unwrap().leader_epoch, 1);

    source.leader_epoch.store(5, Ordering::SeqCst);
    let newer = manager.refresh("epoch 5").await.unwrap();
    assert_eq!(newer.partition("orders", 0).unwrap().leader, Some(5));
    // A lagging broker answers with epoch 3: the cache keeps epoch 5.
    source.leader_epoch.store(3, Ordering::SeqCst);
    let lagging = manager.refresh("epoch 3").await.unwrap();
    assert_eq!(lagging.partition("orders", 0).unwrap().leader_epoch, 5);
    assert_eq!(lagging.partition("orders", 0).unwrap().leader, Some(5));
}
