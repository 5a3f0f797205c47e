//! One member of a group run (reliability/tests/group_chaos.rs,
//! reliability/tests/group_commit_retry.rs): polls, journals what it reads,
//! "processes", commits commitSync-style, and retries a failed commit as
//! an application does. A test drives it; aborting its task is its crash.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use durian_broker::testing::ClusterBuilder;
use durian_broker::GroupConfig;
use durian_consumer::{
    Consumer, ConsumerError, CooperativeStickyAssignor, OffsetAndMetadata, OffsetReset,
    TopicPartition,
};
use durian_core::ClientConfig;
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;

use super::group_journal::{journal, Event, SharedJournal};

/// The topic every member subscribes to.
pub const TOPIC: &str = "c1";

/// Short, so a killed member is evicted within a kill interval.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(3);

/// `builder` with a group coordinator that accepts sessions from 1 s:
/// Kafka's broker refuses sessions under 6 s by default, and a 3 s
/// session ([`SESSION_TIMEOUT`]) lets a dead member go within a kill
/// interval.
pub fn short_sessions(builder: ClusterBuilder) -> ClusterBuilder {
    builder.group_config(GroupConfig {
        min_session_timeout: Duration::from_secs(1),
        ..GroupConfig::default()
    })
}

/// What a member is doing, for the killer to pick its moment.
pub const POLLING: u8 = 0;
/// Holding records it read but has not committed.
pub const PROCESSING: u8 = 1;
/// Its commit is in flight.
pub const COMMITTING: u8 = 2;

/// How the group is run (group_chaos.rs: C1 is the default range assignor
/// with dynamic members, C2 the cooperative-sticky assignor with static
/// members).
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    /// What the test calls the run, in its messages.
    pub name: &'static str,
    /// The group id (one per variant, so the two can run side by side).
    pub group: &'static str,
    /// Use the cooperative-sticky assignor instead of the default.
    pub cooperative: bool,
    /// Give every member slot a `group.instance.id`; a replacement takes
    /// over its victim's.
    pub static_members: bool,
}

/// One incarnation of a group member.
pub struct Member {
    /// The incarnation number (the journal's `member`).
    pub id: u32,
    /// Its `group.instance.id` (static members only).
    pub instance: Option<String>,
    /// [`POLLING`], [`PROCESSING`] or [`COMMITTING`].
    pub state: Arc<AtomicU8>,
    /// The task that owns the consumer: abort it to crash the member.
    pub task: JoinHandle<Result<(), String>>,
}

/// Starts member `id` of `variant`'s group, journaling into `journal`,
/// until `drained` is set (then it closes cleanly).
pub fn spawn_member(
    id: u32,
    instance: Option<String>,
    variant: Variant,
    bootstrap: &str,
    seed: u64,
    journal: &SharedJournal,
    drained: &Arc<AtomicBool>,
) -> Member {
    let state = Arc::new(AtomicU8::new(POLLING));
    let task = tokio::spawn(run_member(
        id,
        instance.clone(),
        variant,
        bootstrap.to_owned(),
        seed,
        journal.clone(),
        state.clone(),
        drained.clone(),
    ));
    Member {
        id,
        instance,
        state,
        task,
    }
}

/// A member: poll, journal the records, process, commit them, until the
/// test says the topic is drained; then close cleanly. The consumer lives
/// inside this task so that aborting the task is the member's crash.
#[allow(clippy::too_many_arguments)]
async fn run_member(
    id: u32,
    instance: Option<String>,
    variant: Variant,
    bootstrap: String,
    seed: u64,
    shared: SharedJournal,
    state: Arc<AtomicU8>,
    drained: Arc<AtomicBool>,
) -> Result<(), String> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ ((u64::from(id) + 1) << 32));
    let client = ClientConfig::builder()
        .bootstrap_servers(bootstrap.split(','))
        .client_id(format!("c1-member-{id}"))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(250))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(250))
        .build()
        .unwrap();
    let mut builder = Consumer::builder()
        .client_config(client)
        .group_id(variant.group)
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .max_poll_records(100)
        .session_timeout(SESSION_TIMEOUT)
        .heartbeat_interval(Duration::from_millis(300))
        // Also the rebalance timeout; killed members are evicted by the
        // session timeout long before it.
        .max_poll_interval(Duration::from_secs(30))
        .fetch_max_wait(Duration::from_millis(200));
    if let Some(instance) = instance {
        builder = builder.group_instance_id(instance);
    }
    if variant.cooperative {
        builder = builder.assignors(vec![Arc::new(CooperativeStickyAssignor)]);
    }
    let mut consumer = builder.build().unwrap();
    consumer.subscribe([TOPIC]).unwrap();
    let mut assignment = BTreeSet::new();
    // Offsets whose last commit failed. A real application commits them
    // again: a partition the rebalance left with this member (the
    // cooperative assignor keeps it) is not read again, so without the
    // retry its last records would stay uncommitted once the producer
    // stops.
    let mut unsettled: BTreeMap<TopicPartition, OffsetAndMetadata> = BTreeMap::new();
    while !drained.load(Ordering::Acquire) {
        state.store(POLLING, Ordering::Release);
        let batch = match consumer.poll(Duration::from_millis(200)).await {
            Ok(batch) => batch,
            Err(error) => {
                journal(&shared)
                    .problems
                    .push(format!("member {id}: poll failed: {error}"));
                continue;
            }
        };
        let mut offsets = BTreeMap::new();
        {
            let mut journal = journal(&shared);
            let now = consumer.assignment();
            if now != assignment {
                journal.assignment_changes += 1;
                let partitions = now.iter().map(|tp| tp.partition).collect();
                journal.assignments.insert(id, partitions);
                assignment = now;
            }
            for (tp, error) in &batch.errors {
                journal
                    .problems
                    .push(format!("member {id}: {tp} reported {error}"));
            }
            for record in batch.iter() {
                journal.read(
                    id,
                    record.partition,
                    record.offset,
                    record.timestamp,
                    record.value.clone().unwrap_or_default(),
                );
                offsets.insert(
                    record.topic_partition(),
                    OffsetAndMetadata::new(record.offset + 1),
                );
            }
        }
        // Retry a failed commit only where the member still owns the
        // partition and still stands where the commit puts it: after a
        // revocation the next reader starts at the group's commit, and
        // after a reassignment this member's position is reset to it.
        for (tp, offset) in std::mem::take(&mut unsettled) {
            if offsets.contains_key(&tp) || !consumer.assignment().contains(&tp) {
                continue;
            }
            if consumer.position(&tp).await.ok() == Some(offset.offset) {
                offsets.insert(tp, offset);
            }
        }
        if offsets.is_empty() {
            continue;
        }
        // The consumer's own positions must agree with what it handed out.
        for (tp, next) in &offsets {
            match consumer.position(tp).await {
                Ok(position) if position == next.offset => {}
                other => journal(&shared).problems.push(format!(
                    "member {id}: position of {tp} is {other:?} after handing out up to {}",
                    next.offset - 1
                )),
            }
        }
        state.store(PROCESSING, Ordering::Release);
        tokio::time::sleep(Duration::from_millis(rng.random_range(2..25))).await;
        state.store(COMMITTING, Ordering::Release);
        journal(&shared)
            .events
            .extend(offsets.iter().map(|(tp, o)| Event::CommitSent {
                member: id,
                partition: tp.partition,
                offset: o.offset,
            }));
        let result = consumer.commit_offsets(offsets.clone()).await;
        let mut journal = journal(&shared);
        for (tp, o) in &offsets {
            let (member, partition, offset) = (id, tp.partition, o.offset);
            journal.events.push(match &result {
                Ok(()) => Event::Committed {
                    member,
                    partition,
                    offset,
                },
                Err(error) => Event::CommitFailed {
                    member,
                    partition,
                    offset,
                    fenced: matches!(error, ConsumerError::CommitFailed(_)),
                },
            });
            if result.is_ok() {
                let latest = journal.committed.entry(partition).or_insert(0);
                *latest = (*latest).max(offset);
            }
        }
        if let Err(error) = &result {
            *journal.commit_errors.entry(error.to_string()).or_default() += 1;
            unsettled = offsets;
        }
    }
    consumer
        .close()
        .await
        .map_err(|error| format!("member {id}: close failed: {error}"))
}
