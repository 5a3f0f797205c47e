//! Exactly-once consume-transform-produce under chaos (E1 on durian's
//! broker, E2 on Apache Kafka): the member loop, the killer and the
//! verdict, shared by reliability/tests/eos_chaos.rs and
//! reliability/tests/kafka_eos.rs.
//!
//! An input topic is written for the whole run by an idempotent producer
//! (the suite's test records). A group of three members copies it to an
//! output topic: each poll's records are sent, the next offsets added with
//! `send_offsets_to_transaction` and the transaction committed, so output
//! records and the group's offsets move together or not at all. Each
//! member slot has its own `transactional.id`; a killed member's
//! replacement takes it over, which fences the dead incarnation and aborts
//! its open transaction, as a restarted process does. A member whose
//! transaction fails aborts it and ends; its slot restarts from the
//! group's committed offsets. The output keeps each record's partition
//! and bytes, so the suite's checker judges it against the input's
//! acknowledgements: a read_committed reader must find every record
//! exactly once, in order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use durian_consumer::{Consumer, IsolationLevel, OffsetReset, TopicPartition};
use durian_core::ClientConfig;
use durian_producer::{Producer, ProducerRecord};
use durian_reliability::readback::{read_all_with, ReadError};
use durian_reliability::{
    check, Expectations, Outcome, ReadRecord, Report, SendLedger, SentRecord,
};
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;

/// The group the members form.
pub const GROUP: &str = "eos";

/// Counters of what the members did, for the report and the checks that
/// the chaos happened.
#[derive(Debug, Default)]
pub struct Tally {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Transactions that failed and were aborted (or died with their member).
    pub failures: AtomicU64,
    /// Member incarnations started.
    pub incarnations: AtomicU64,
}

/// A member between transactions (polling, committing).
const BETWEEN: u8 = 0;
/// A member whose open transaction holds records it has written (flushed).
const MID_TRANSACTION: u8 = 1;

/// One incarnation of a member slot; abort the task to crash it.
pub struct Member {
    /// The slot (its transactional id is `eos-<run>-<slot>`).
    pub slot: usize,
    /// [`BETWEEN`] or [`MID_TRANSACTION`], for the killer to pick its moment.
    state: Arc<AtomicU8>,
    /// The task owning the consumer and the producer.
    pub task: JoinHandle<()>,
}

/// What a run copies, and where.
#[derive(Clone, Debug)]
pub struct Copy {
    /// Bootstrap servers.
    pub bootstrap: String,
    /// The topic read.
    pub input: String,
    /// The topic written, with as many partitions as the input.
    pub output: String,
    /// Partitions of each.
    pub partitions: i32,
    /// Distinguishes the transactional ids of runs sharing a broker.
    pub run: u64,
    /// Session timeout of the members (the broker's minimum or more).
    pub session_timeout: Duration,
}

/// Starts an incarnation of `slot` that copies until `stop`.
pub fn spawn_member(
    slot: usize,
    copy: &Copy,
    seed: u64,
    tally: &Arc<Tally>,
    stop: &Arc<AtomicBool>,
) -> Member {
    let incarnation = tally.incarnations.fetch_add(1, Ordering::Relaxed);
    let state = Arc::new(AtomicU8::new(BETWEEN));
    let task = tokio::spawn(run_member(
        slot,
        copy.clone(),
        seed ^ (incarnation << 20),
        tally.clone(),
        state.clone(),
        stop.clone(),
    ));
    Member { slot, state, task }
}

/// Copies records in transactions until `stop`; returns after the first
/// failed transaction (aborted) so that its slot restarts clean.
async fn run_member(
    slot: usize,
    copy: Copy,
    seed: u64,
    tally: Arc<Tally>,
    state: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let client = ClientConfig::builder()
        .bootstrap_servers(copy.bootstrap.split(','))
        .client_id(format!("eos-member-{slot}"))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(250))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(250))
        .build()
        .unwrap();
    let mut consumer = Consumer::builder()
        .client_config(client)
        .group_id(GROUP)
        .isolation_level(IsolationLevel::ReadCommitted)
        .auto_offset_reset(OffsetReset::Earliest)
        .enable_auto_commit(false)
        .max_poll_records(50)
        .session_timeout(copy.session_timeout)
        .heartbeat_interval(Duration::from_millis(500))
        .max_poll_interval(Duration::from_secs(30))
        .fetch_max_wait(Duration::from_millis(200))
        .build()
        .unwrap();
    let producer: Producer = Producer::builder()
        .bootstrap_servers(copy.bootstrap.split(','))
        .transactional_id(format!("eos-{}-{slot}", copy.run))
        .transaction_timeout(Duration::from_secs(20))
        .delivery_timeout(Duration::from_secs(60))
        .configure(|c| {
            c.client.retry_backoff = Duration::from_millis(20);
            c.client.retry_backoff_max = Duration::from_millis(250);
            c.client.reconnect_backoff = Duration::from_millis(20);
            c.client.reconnect_backoff_max = Duration::from_millis(250);
        })
        .build()
        .unwrap();
    // Fences the slot's previous incarnation and ends its transaction.
    while let Err(error) = producer.init_transactions().await {
        if stop.load(Ordering::Acquire) {
            return;
        }
        tracing::info!(slot, %error, "init_transactions failed; retrying");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    consumer.subscribe([copy.input.as_str()]).unwrap();
    while !stop.load(Ordering::Acquire) {
        let batch = match consumer.poll(Duration::from_millis(200)).await {
            Ok(batch) if batch.is_empty() => continue,
            Ok(batch) => batch,
            Err(error) => {
                tracing::info!(slot, %error, "poll failed");
                continue;
            }
        };
        let outcome = async {
            producer.begin_transaction().map_err(|e| e.to_string())?;
            let mut next: BTreeMap<TopicPartition, i64> = BTreeMap::new();
            for record in batch.iter() {
                let mut copied = ProducerRecord::new(
                    copy.output.clone(),
                    record.value.clone().unwrap_or_default(),
                )
                .with_partition(record.partition);
                if let Some(key) = &record.key {
                    copied = copied.with_key(key.clone());
                }
                producer.send(copied).await.map_err(|e| e.to_string())?;
                next.insert(
                    TopicPartition::new(copy.input.as_str(), record.partition),
                    record.offset + 1,
                );
            }
            // The records are in the log, uncommitted: a kill now leaves
            // them to be aborted. "Processing" holds the window open.
            producer.flush().await.map_err(|e| e.to_string())?;
            state.store(MID_TRANSACTION, Ordering::Release);
            tokio::time::sleep(Duration::from_millis(rng.random_range(20..80))).await;
            state.store(BETWEEN, Ordering::Release);
            let group = consumer.group_metadata().map_err(|e| e.to_string())?;
            producer
                .send_offsets_to_transaction(&next, &group)
                .await
                .map_err(|e| e.to_string())?;
            producer
                .commit_transaction()
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        match outcome {
            Ok(()) => {
                tally.commits.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                // Fenced by a rebalance, a broker that went away, ...:
                // abort and let the slot start over from the committed
                // offsets (its position is past the aborted records).
                tally.failures.fetch_add(1, Ordering::Relaxed);
                tracing::info!(slot, %error, "transaction failed; aborting");
                let _ = producer.abort_transaction().await;
                let _ = producer.close(Duration::from_secs(5)).await;
                return;
            }
        }
    }
    let _ = consumer.close().await;
    let _ = producer.close(Duration::from_secs(10)).await;
}

/// Keeps three members running until `stop`: a member that ended (after a
/// failed transaction) is replaced at once; every 2–4 s (seeded) a random
/// one is killed (its task aborted) and replaced. A kill waits up to 2 s
/// for its victim to hold written records in an open transaction, so
/// kills leave transactions to abort rather than only idle members. Returns
/// the number of kills once `stop` is set and the members are closed.
pub async fn run_group(
    copy: Copy,
    seed: u64,
    tally: Arc<Tally>,
    stop_killing: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> u32 {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut members: Vec<Member> = (0..3)
        .map(|slot| spawn_member(slot, &copy, rng.random(), &tally, &stop))
        .collect();
    let mut kills = 0;
    let mut next_kill =
        tokio::time::Instant::now() + Duration::from_millis(rng.random_range(2_000..4_000));
    while !stop.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        for member in &mut members {
            if member.task.is_finished() && !stop.load(Ordering::Acquire) {
                *member = spawn_member(member.slot, &copy, rng.random(), &tally, &stop);
            }
        }
        if !stop_killing.load(Ordering::Acquire) && tokio::time::Instant::now() >= next_kill {
            let victim = rng.random_range(0..members.len());
            let chance = tokio::time::Instant::now() + Duration::from_secs(2);
            while members[victim].state.load(Ordering::Acquire) != MID_TRANSACTION
                && tokio::time::Instant::now() < chance
                && !members[victim].task.is_finished()
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            members[victim].task.abort();
            kills += 1;
            let slot = members[victim].slot;
            members[victim] = spawn_member(slot, &copy, rng.random(), &tally, &stop);
            next_kill =
                tokio::time::Instant::now() + Duration::from_millis(rng.random_range(2_000..4_000));
        }
    }
    for member in members {
        let _ = member.task.await;
    }
    kills
}

/// The input's ledger as the output should match it: the same records
/// acknowledged in the same partitions, at offsets the checker does not
/// compare (-1), because the output's offsets also count transaction
/// markers and aborted records.
fn as_copied(input: &SendLedger) -> SendLedger {
    let mut copied = SendLedger::new();
    for record in input.records() {
        let outcome = match &record.outcome {
            Outcome::Acked { partition, .. } => Outcome::Acked {
                partition: *partition,
                offset: -1,
            },
            other => other.clone(),
        };
        copied.push(SentRecord {
            outcome,
            ..record.clone()
        });
    }
    copied
}

/// What a finished copy shows.
pub struct Verdict {
    /// The checker's report on the read_committed read of the output.
    pub report: Report,
    /// Records a read_committed reader found in the output.
    pub committed: usize,
    /// Records a read_uncommitted reader found (aborted ones included).
    pub everything: usize,
    /// Members killed by [`run_group`].
    pub member_kills: u32,
}

impl Verdict {
    /// The checks both scenarios make: every acknowledged input record in
    /// the output exactly once and in order, enough kills, and aborted
    /// records present (the chaos struck mid-transaction).
    pub fn assert_exactly_once(&self, seed: u64) {
        let report = &self.report;
        assert!(report.is_clean(), "seed {seed}: {report}");
        assert_eq!(report.acked, report.read, "seed {seed}: {report}");
        assert!(
            self.member_kills >= 4,
            "seed {seed}: only {} member kills",
            self.member_kills
        );
        assert!(
            self.everything > self.committed,
            "seed {seed}: no aborted record in the output: the chaos never struck mid-transaction"
        );
    }
}

/// Reads the whole output at `isolation`.
async fn read_output(copy: &Copy, isolation: IsolationLevel) -> Result<Vec<ReadRecord>, ReadError> {
    read_all_with(
        &copy.bootstrap,
        &copy.output,
        copy.partitions,
        Duration::from_secs(60),
        isolation,
    )
    .await
}

/// Once the input is written and the faults are over: lets the group
/// finish the copy (until read_committed finds as many records as were
/// acknowledged, or 180 s passed, after which the checker says what is
/// missing), stops it, reads the output both ways and judges it.
pub async fn finish(
    copy: &Copy,
    run_id: u64,
    ledger: &SendLedger,
    stop: &AtomicBool,
    group: JoinHandle<u32>,
) -> Result<Verdict, ReadError> {
    let acked = ledger.count(|o| matches!(o, Outcome::Acked { .. }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let read = read_output(copy, IsolationLevel::ReadCommitted).await;
        if read.as_ref().is_ok_and(|r| r.len() >= acked) || tokio::time::Instant::now() >= deadline
        {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    stop.store(true, Ordering::Release);
    let member_kills = group.await.unwrap();
    let committed = read_output(copy, IsolationLevel::ReadCommitted).await?;
    let everything = read_output(copy, IsolationLevel::ReadUncommitted).await?;
    let report = check(
        run_id,
        &as_copied(ledger),
        &committed,
        Expectations { idempotent: true },
    );
    Ok(Verdict {
        report,
        committed: committed.len(),
        everything: everything.len(),
        member_kills,
    })
}

/// One line for the test's output: the run's figures.
pub fn summary(name: &str, records: u64, verdict: &Verdict, faults: &str, tally: &Tally) -> String {
    format!(
        "{name}: {records} input records, {} member kills, {faults}, {} incarnations, \
         {} transactions committed, {} failed; output read_committed {} / read_uncommitted {}; {}",
        verdict.member_kills,
        tally.incarnations.load(Ordering::Relaxed),
        tally.commits.load(Ordering::Relaxed),
        tally.failures.load(Ordering::Relaxed),
        verdict.committed,
        verdict.everything,
        verdict.report,
    )
}
