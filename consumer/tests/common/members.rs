//! Group members running in their own tasks, recording every delivery
//! and every rebalance callback in a shared log.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use durian_consumer::{
    Consumer, ConsumerBuilder, ConsumerError, RebalanceListener, TopicPartition,
};
use durian_testkit::wait::POLL_INTERVAL;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Everything the members saw.
#[derive(Default, Debug)]
pub struct Log {
    /// (member, partition, offset) in delivery order.
    pub deliveries: Vec<(String, TopicPartition, i64)>,
    /// Current assignment per member, as told by the listener.
    pub assignment: BTreeMap<String, BTreeSet<TopicPartition>>,
    /// Every partition revoked from each member.
    pub revoked: BTreeMap<String, Vec<TopicPartition>>,
    /// Every partition lost by each member.
    pub lost: BTreeMap<String, Vec<TopicPartition>>,
    /// Errors returned by poll.
    pub errors: Vec<(String, String)>,
    /// Commits among `errors` that the coordinator refused because the
    /// group was rebalancing (`ConsumerError::CommitFailed`), per member:
    /// a cooperative member keeps polling and committing while it
    /// rejoins, and a commit that still carries the generation being
    /// replaced is refused (Kafka's Java consumer fails a commit made
    /// while it rebalances too, with RebalanceInProgressException).
    pub refused_commits: BTreeMap<String, usize>,
    /// Each member's group generation after its latest poll (-1 before
    /// its first join): a rebalance shows as a new generation.
    pub generations: BTreeMap<String, i32>,
}

impl Log {
    /// Deliveries per partition and offset.
    pub fn counts(&self) -> BTreeMap<(TopicPartition, i64), usize> {
        let mut counts = BTreeMap::new();
        for (_, tp, offset) in &self.deliveries {
            *counts.entry((tp.clone(), *offset)).or_insert(0) += 1;
        }
        counts
    }

    /// Whether every member in `members` owns something, nobody else owns
    /// anything, and their assignments add up to `partitions`.
    pub fn settled(&self, members: &[&str], partitions: i32) -> bool {
        let others_empty = self
            .assignment
            .iter()
            .filter(|(m, _)| !members.contains(&m.as_str()))
            .all(|(_, set)| set.is_empty());
        let owned: usize = members
            .iter()
            .map(|m| self.assignment.get(*m).map_or(0, |s| s.len()))
            .sum();
        others_empty
            && owned == partitions as usize
            && members
                .iter()
                .all(|m| self.assignment.get(*m).is_some_and(|s| !s.is_empty()))
    }

    /// Asserts that `read` distinct records were delivered, each once
    /// (`name` tells the scenario apart in the failure).
    pub fn assert_exactly_once(&self, read: usize, name: &str) {
        let counts = self.counts();
        let twice: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).take(5).collect();
        assert!(twice.is_empty(), "{name}: read more than once: {twice:?}");
        assert_eq!(counts.len(), read, "{name}: records lost");
    }
}

pub type SharedLog = Arc<Mutex<Log>>;

struct Recorder {
    name: String,
    log: SharedLog,
}

#[async_trait]
impl RebalanceListener for Recorder {
    async fn on_partitions_revoked(&mut self, _: &mut Consumer, partitions: &[TopicPartition]) {
        let mut log = self.log.lock().unwrap();
        log.revoked
            .entry(self.name.clone())
            .or_default()
            .extend(partitions.iter().cloned());
        let set = log.assignment.entry(self.name.clone()).or_default();
        for tp in partitions {
            set.remove(tp);
        }
    }

    async fn on_partitions_assigned(&mut self, _: &mut Consumer, partitions: &[TopicPartition]) {
        let mut log = self.log.lock().unwrap();
        log.assignment
            .entry(self.name.clone())
            .or_default()
            .extend(partitions.iter().cloned());
    }

    async fn on_partitions_lost(&mut self, _: &mut Consumer, partitions: &[TopicPartition]) {
        let mut log = self.log.lock().unwrap();
        log.lost
            .entry(self.name.clone())
            .or_default()
            .extend(partitions.iter().cloned());
        let set = log.assignment.entry(self.name.clone()).or_default();
        for tp in partitions {
            set.remove(tp);
        }
    }
}

/// How a member ends.
pub enum Ending {
    /// `close()`: commit, revoke, LeaveGroup.
    Close,
    /// Dropped without a word, as if the process died.
    Crash,
}

/// A running member.
pub struct Member {
    pub name: String,
    stop: Option<oneshot::Sender<Ending>>,
    task: JoinHandle<()>,
}

impl Member {
    /// Starts a member polling `topic` until stopped; with `commit_each`
    /// it commits synchronously after every non-empty poll.
    pub fn start(
        name: &str,
        builder: ConsumerBuilder,
        topic: &str,
        log: SharedLog,
        commit_each: bool,
    ) -> Member {
        let (stop, mut stopped) = oneshot::channel::<Ending>();
        let recorder = Recorder {
            name: name.to_owned(),
            log: log.clone(),
        };
        let mut consumer = builder.rebalance_listener(recorder).build().unwrap();
        consumer.subscribe([topic]).unwrap();
        let member = name.to_owned();
        let task = tokio::spawn(async move {
            loop {
                let batch = tokio::select! {
                    ending = &mut stopped => {
                        match ending {
                            Ok(Ending::Close) | Err(_) => consumer.close().await.unwrap(),
                            Ok(Ending::Crash) => drop(consumer),
                        }
                        return;
                    }
                    batch = consumer.poll(Duration::from_millis(200)) => batch,
                };
                match batch {
                    Ok(batch) => {
                        let got_some = !batch.is_empty();
                        let generation = consumer.group_metadata().map(|g| g.generation_id);
                        {
                            let mut log = log.lock().unwrap();
                            if let Ok(generation) = generation {
                                log.generations.insert(member.clone(), generation);
                            }
                            for record in batch {
                                super::check_record(&record);
                                log.deliveries.push((
                                    member.clone(),
                                    record.topic_partition(),
                                    record.offset,
                                ));
                            }
                        }
                        if commit_each && got_some {
                            if let Err(error) = consumer.commit().await {
                                let mut log = log.lock().unwrap();
                                if matches!(error, ConsumerError::CommitFailed(_)) {
                                    *log.refused_commits.entry(member.clone()).or_default() += 1;
                                }
                                log.errors.push((member.clone(), error.to_string()));
                            }
                        }
                    }
                    Err(error) => log
                        .lock()
                        .unwrap()
                        .errors
                        .push((member.clone(), error.to_string())),
                }
            }
        });
        Member {
            name: name.to_owned(),
            stop: Some(stop),
            task,
        }
    }

    /// Stops the member and waits until it is gone.
    pub async fn stop(mut self, ending: Ending) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(ending);
        }
        tokio::time::timeout(Duration::from_secs(60), &mut self.task)
            .await
            .expect("member stops")
            .unwrap();
    }
}

/// Waits (up to `limit`) until `read` distinct records were delivered;
/// `what` names the wait in the failure.
pub async fn wait_for_reads(log: &SharedLog, limit: Duration, what: &str, read: usize) {
    wait_for(log, limit, what, |l| l.counts().len() >= read).await;
}

/// Waits until `condition` holds on the log, failing after `limit`.
pub async fn wait_for(
    log: &SharedLog,
    limit: Duration,
    what: &str,
    condition: impl Fn(&Log) -> bool,
) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if condition(&log.lock().unwrap()) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            let log = log.lock().unwrap();
            panic!(
                "timed out waiting for {what}: {} deliveries, assignment {:?}, errors {:?}",
                log.deliveries.len(),
                log.assignment,
                log.errors
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the group's committed offsets of `partitions` equal their
/// end offsets: every record was consumed and the group says so, so a
/// member that takes a partition over now starts at its end. `observer` is
/// a consumer of the group that never joins it (built, not subscribed).
/// Panics after `limit`, naming the partitions still behind.
pub async fn wait_for_commits_at_end(
    observer: &Consumer,
    partitions: &BTreeSet<TopicPartition>,
    limit: Duration,
) {
    let list: Vec<TopicPartition> = partitions.iter().cloned().collect();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let end = observer.end_offsets(&list).await.unwrap();
        let committed = observer.committed(partitions).await.unwrap();
        let behind: Vec<String> = list
            .iter()
            .filter_map(|tp| {
                let at = committed.get(tp).and_then(|c| c.as_ref()).map(|o| o.offset);
                let end = end.get(tp).copied();
                (at != end).then(|| format!("{tp}: committed {at:?}, end {end:?}"))
            })
            .collect();
        if behind.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the group's commits did not reach the end offsets within {limit:?}: {behind:?}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Every partition of `topic`.
pub fn partitions_of(topic: &str, partitions: i32) -> BTreeSet<TopicPartition> {
    (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect()
}

/// Stops every member (`close()`) and waits until all are gone: from then
/// on nobody delivers anything, so the log is final.
pub async fn close_all(members: impl IntoIterator<Item = Member>) {
    for member in members {
        member.stop(Ending::Close).await;
    }
}

/// Asserts the members' assignments are disjoint and cover `partitions`.
pub fn assert_disjoint_and_covering(log: &Log, topic: &str, partitions: i32) {
    let mut seen = BTreeSet::new();
    for (member, set) in &log.assignment {
        for tp in set {
            assert!(
                seen.insert(tp.clone()),
                "{tp} assigned twice (again to {member}): {:?}",
                log.assignment
            );
        }
    }
    let all: BTreeSet<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    assert_eq!(
        seen, all,
        "assignment does not cover the topic: {:?}",
        log.assignment
    );
}
