//! C1: a group of 3 whose members are killed at random for a minute loses
//! nothing, and reads a record twice only past the last commit of the
//! member that read it first.
//!
//! A producer writes test records (`reliability/src/record.rs`) to a
//! 6-partition topic on a 3-node cluster for the whole run. Three group
//! members read it, each committing the offsets after the records of a
//! poll once it has "processed" them (a short sleep), commitSync-style.
//! A member whose commit failed commits those offsets again after its next
//! poll, for the partitions it still owns and still stands at, as an
//! application does (the member is reliability/tests/common/group_member.rs;
//! group_commit_retry.rs makes that retry run on purpose). Every 2–5 s (seeded) a random member is killed and a
//! new one (a new incarnation) takes its place, so the group stays at three. A kill is a
//! crash, not a close: the task owning the consumer is aborted, which
//! drops the consumer mid-await. Dropping a `Consumer` aborts its group
//! task (`GroupHandle::drop`) without LeaveGroup and closes its
//! connections with its client, so the coordinator only learns of the
//! death when the session times out, as with a killed process. Kills take
//! turns at striking while the victim holds records it has not committed
//! yet, while its commit is in flight, and at any moment (waiting up to
//! 3 s for the moment), so every kind of loss of uncommitted work happens.
//! After the kills, the producer stops, the members drain the topic and,
//! once the group is Stable with its three live members (the last victim
//! evicted), close cleanly.
//!
//! Every member writes what it does into one journal, in order: each
//! record handed to it, each commit it sends and its outcome, and its
//! death. The checks:
//!
//! * nothing lost: every acknowledged record is read (the suite's checker,
//!   on one copy of each record: also nothing misplaced, reordered or
//!   corrupt), every copy of a record is byte-identical, and every record
//!   was committed by a member that had read it (its processing finished);
//! * a member that starts reading a partition (first assignment, or back
//!   after a rebalance) starts exactly at the group's last commit there
//!   (or at a commit whose outcome the journal cannot know: one in flight
//!   when its member was killed, one answered but not yet written down, or
//!   one answered with an error other than the rebalance fence), never
//!   earlier, never later; committed offsets never go backwards; when the
//!   drain stalls short of the end offset (a commit to the end applied
//!   but unanswered, its successor with nothing left to read), the
//!   coordinator's committed offset settles it, and must be such a commit
//!   in doubt;
//! * duplicates only beyond the last commit: a record read again lies at or
//!   past every commit made before the re-read, its earlier reader had not
//!   committed past it, and that reader was either killed since or had a
//!   commit covering it refused (a survivor's commit fenced by a
//!   rebalance); a repeat with neither cause fails;
//! * after the clean closes, the group's committed offsets (read with a
//!   fresh consumer) equal the end offsets, which equal the records
//!   produced and consumed, and the group is empty (LeaveGroup was sent);
//! * the chaos happened: enough kills, and at least one kill made records
//!   be read again, so the duplicate checks were not vacuous.
//!
//! C2 is the same run, shorter (20 s of kills), with the cooperative-sticky
//! assignor and static members: each member slot has a `group.instance.id`
//! and a victim's replacement takes it over, as a restarted process would;
//! static members send no LeaveGroup, so after the closes the group is
//! given their session timeout to empty.
//!
//! `DURIAN_C1_SECONDS` / `DURIAN_C2_SECONDS` change the time of kills,
//! `DURIAN_SEED` reruns a
//! seed (the victims, the gaps, the processing times; the interleaving
//! with the brokers stays the scheduler's).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::group_journal::{event_partition, journal, judge, Event, SharedJournal};
use common::group_member::{
    short_sessions, spawn_member, Member, Variant, COMMITTING, POLLING, PROCESSING,
    SESSION_TIMEOUT, TOPIC,
};
use common::{fault_tolerant_producer, seed, sized};
use durian_admin::Admin;
use durian_broker::testing::Cluster;
use durian_consumer::{Consumer, TopicPartition};
use durian_producer::{DeliveryFuture, Producer, ProducerRecord};
use durian_reliability::{
    check, Expectations, Outcome, ReadRecord, SendLedger, SentRecord, Workload,
};
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

const GROUP: &str = "c1-group";
const PARTITIONS: i32 = 6;
const MEMBERS: usize = 3;

const C1: Variant = Variant {
    name: "C1",
    group: GROUP,
    cooperative: false,
    static_members: false,
};

const C2: Variant = Variant {
    name: "C2",
    group: "c2-group",
    cooperative: true,
    static_members: true,
};

/// Sends the workload's records, paced, until `stop` is set; returns the
/// ledger once every delivery resolved. (`workload::produce` sends a fixed
/// count; this run produces for as long as the kills last.)
async fn produce_until(
    producer: &Producer,
    workload: &Workload,
    stop: &AtomicBool,
    produced: &AtomicU64,
) -> SendLedger {
    let (deliveries_tx, mut deliveries_rx) = mpsc::unbounded_channel::<(u64, DeliveryFuture)>();
    let collector = tokio::spawn(async move {
        let mut outcomes = Vec::new();
        while let Some((n, delivery)) = deliveries_rx.recv().await {
            outcomes.push((n, Outcome::from_delivery(&delivery.await)));
        }
        outcomes
    });
    let mut ledger = SendLedger::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Acquire) {
        let id = workload.id(n);
        let partition = workload.partition_of(&id);
        ledger.push(SentRecord {
            id,
            partition,
            outcome: Outcome::Pending,
        });
        let record = ProducerRecord::<Bytes, Bytes>::new(TOPIC, id.encode(workload.payload))
            .with_key(id.kafka_key())
            .with_partition(partition);
        match producer.send(record).await {
            Ok(delivery) => {
                let _ = deliveries_tx.send((n, delivery));
            }
            Err(error) => {
                ledger.resolve(n, Outcome::from_error(&error));
            }
        }
        n += 1;
        produced.store(n, Ordering::Relaxed);
        if n.is_multiple_of(workload.pause_every) {
            tokio::time::sleep(workload.pause).await;
        }
    }
    drop(deliveries_tx);
    for (n, outcome) in collector.await.unwrap() {
        ledger.resolve(n, outcome);
    }
    ledger
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c1_members_killed_for_a_minute_lose_nothing_and_repeat_only_uncommitted_records() {
    members_killed(C1, Duration::from_secs(sized("DURIAN_C1_SECONDS", 60))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c2_static_cooperative_members_killed_lose_nothing_and_repeat_only_uncommitted_records() {
    members_killed(C2, Duration::from_secs(sized("DURIAN_C2_SECONDS", 20))).await;
}

/// The chaos run of `variant`: kills for `chaos`, then drain, close, check.
async fn members_killed(variant: Variant, chaos: Duration) {
    let name = variant.name;
    // RUST_LOG=durian_consumer=info,... adds the clients' and brokers' logs
    // to a failing run's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let seed = seed();
    eprintln!("{name} seed {seed} (DURIAN_SEED reruns it), {chaos:?} of kills");
    let started = Instant::now();
    let cluster = short_sessions(Cluster::builder().nodes(3).seed(seed))
        .start()
        .await
        .unwrap();
    cluster.create_topic(TOPIC, PARTITIONS).await.unwrap();
    let bootstrap = cluster.bootstrap();

    let shared: SharedJournal = Arc::default();
    let drained = Arc::new(AtomicBool::new(false));
    let mut next_id = 0u32;
    let mut members: Vec<Member> = (0..MEMBERS)
        .map(|slot| {
            next_id += 1;
            let instance = variant
                .static_members
                .then(|| format!("{}-member-{slot}", variant.group));
            spawn_member(
                next_id - 1,
                instance,
                variant,
                &bootstrap,
                seed,
                &shared,
                &drained,
            )
        })
        .collect();

    // At most 500 records/s (about 450 here), live while members are killed.
    let mut workload = Workload::new(TOPIC, PARTITIONS, 0);
    workload.keys = 3 * PARTITIONS as u32;
    workload.pause_every = 10;
    workload.pause = Duration::from_millis(20);
    let producer = fault_tolerant_producer(&bootstrap);
    let stop_producing = Arc::new(AtomicBool::new(false));
    let produced = Arc::new(AtomicU64::new(0));
    let producing = tokio::spawn({
        let (producer, workload) = (producer.clone(), workload.clone());
        let (stop, produced) = (stop_producing.clone(), produced.clone());
        async move { produce_until(&producer, &workload, &stop, &produced).await }
    });

    // The kills.
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let chaos_start = Instant::now();
    let chaos_end = chaos_start + chaos;
    let mut kills = 0u32;
    let mut kills_in_state = [0u32; 3];
    let mut next_progress = Instant::now() + Duration::from_secs(10);
    loop {
        let gap = Duration::from_millis(rng.random_range(2_000..5_000));
        if Instant::now() + gap > chaos_end {
            break;
        }
        tokio::time::sleep(gap).await;
        for member in &members {
            assert!(
                !member.task.is_finished(),
                "seed {seed}: member {} stopped by itself during the kills",
                member.id
            );
        }
        let slot = rng.random_range(0..members.len());
        // Take turns: strike while the victim holds uncommitted records,
        // while its commit is in flight, or whenever.
        let wanted = [Some(PROCESSING), Some(COMMITTING), None][kills as usize % 3];
        if let Some(wanted) = wanted {
            let give_up = Instant::now() + Duration::from_secs(3);
            while members[slot].state.load(Ordering::Acquire) != wanted && Instant::now() < give_up
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let victim = members.swap_remove(slot);
        let state = victim.state.load(Ordering::Acquire);
        victim.task.abort();
        match victim.task.await {
            Err(error) if error.is_cancelled() => {}
            other => panic!(
                "seed {seed}: member {} ended otherwise than by the kill: {other:?}",
                victim.id
            ),
        }
        // The task's future (and the consumer in it) is dropped by now:
        // nothing of the victim can follow this entry.
        {
            let mut journal = journal(&shared);
            journal.events.push(Event::Killed { member: victim.id });
            journal.assignments.remove(&victim.id);
        }
        kills += 1;
        kills_in_state[state as usize] += 1;
        // A static member's replacement takes over its instance id, as a
        // restarted process would.
        members.push(spawn_member(
            next_id,
            victim.instance.clone(),
            variant,
            &bootstrap,
            seed,
            &shared,
            &drained,
        ));
        next_id += 1;
        if Instant::now() >= next_progress {
            next_progress += Duration::from_secs(10);
            let journal = journal(&shared);
            eprintln!(
                "{name} progress at {:.0?}: {} produced, {} distinct records read, {kills} kills",
                started.elapsed(),
                produced.load(Ordering::Relaxed),
                journal.first_copies.len()
            );
        }
    }
    let chaos_took = chaos_start.elapsed();

    stop_producing.store(true, Ordering::Release);
    let ledger = producing.await.unwrap();
    producer.close(Duration::from_secs(10)).await.unwrap();
    let mut end: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 0)).collect();
    for sent in ledger.records() {
        if let Outcome::Acked { partition, offset } = sent.outcome {
            let e = end.get_mut(&partition).unwrap();
            *e = (*e).max(offset + 1);
        }
    }

    // The survivors (and the last replacements) drain the topic.
    // A member killed mid-commit may have had its commit applied without
    // hearing so: when that commit reached the end offset, its successor
    // starts there, reads nothing and commits nothing, and the journal
    // stays short. The coordinator's committed offsets settle such
    // partitions (the judge checks the offset was a commit in doubt).
    let looker = Consumer::builder()
        .bootstrap_servers(bootstrap.split(','))
        .group_id(variant.group)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    let all_partitions: BTreeSet<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect();
    let drain_deadline = Instant::now() + Duration::from_secs(120);
    let mut last_progress = (Instant::now(), BTreeMap::new());
    loop {
        let committed = journal(&shared).committed.clone();
        let short: Vec<i32> = (0..PARTITIONS)
            .filter(|p| committed.get(p).copied().unwrap_or(0) < end[p])
            .collect();
        if short.is_empty() {
            break;
        }
        if committed != last_progress.1 {
            last_progress = (Instant::now(), committed.clone());
        } else if last_progress.0.elapsed() > Duration::from_secs(2) {
            // Stalled: ask the coordinator.
            let at_coordinator = looker.committed(&all_partitions).await.unwrap();
            let mut journal = journal(&shared);
            for p in &short {
                let tp = TopicPartition::new(TOPIC, *p);
                let offset = at_coordinator
                    .get(&tp)
                    .and_then(|c| c.as_ref())
                    .map(|c| c.offset);
                if offset == Some(end[p]) {
                    journal.events.push(Event::Observed {
                        partition: *p,
                        offset: end[p],
                    });
                    journal.committed.insert(*p, end[p]);
                }
            }
        }
        if Instant::now() >= drain_deadline {
            // What each live member is doing and the journal's last words
            // on the partitions that did not drain, then the judge (the
            // journal usually tells why, e.g. records nobody commits).
            let states: Vec<(u32, u8, bool)> = members
                .iter()
                .map(|m| (m.id, m.state.load(Ordering::Acquire), m.task.is_finished()))
                .collect();
            eprintln!(
                "{name}: members (id, state 0 polling/1 processing/2 committing, finished): \
                 {states:?}"
            );
            let (events, assignments, problems) = {
                let journal = journal(&shared);
                let problems: Vec<String> =
                    journal.problems.iter().rev().take(20).cloned().collect();
                (
                    journal.events.clone(),
                    journal.assignments.clone(),
                    problems,
                )
            };
            eprintln!("{name}: assignments after each live member's latest poll: {assignments:?}");
            eprintln!("{name}: latest problems, newest first: {problems:?}");
            for p in (0..PARTITIONS).filter(|p| committed.get(p).copied().unwrap_or(0) < end[p]) {
                let tail: Vec<&Event> = events
                    .iter()
                    .filter(|e| event_partition(e).is_none_or(|q| q == p))
                    .rev()
                    .take(12)
                    .collect();
                eprintln!("{name}: partition {p} undrained; last events, newest first: {tail:?}");
            }
            judge(&events, &end, seed);
            panic!("seed {seed}: not drained within 120 s: committed {committed:?}, end {end:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Close only once the group consists of the live members (the last
    // victim's session has expired), so that the clean closes, not a
    // session timeout, are what empties it.
    let admin = Admin::builder()
        .bootstrap_servers(bootstrap.split(','))
        .connect()
        .await
        .unwrap();
    let settle_deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let described = admin
            .describe_groups([variant.group])
            .await
            .remove(variant.group);
        if let Some(Ok(group)) = &described {
            if group.state == "Stable" && group.members.len() == MEMBERS {
                break;
            }
        }
        assert!(
            Instant::now() < settle_deadline,
            "seed {seed}: the group did not settle to its {MEMBERS} live members: {described:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drained.store(true, Ordering::Release);
    for member in members {
        let closed = tokio::time::timeout(Duration::from_secs(60), member.task)
            .await
            .unwrap_or_else(|_| panic!("seed {seed}: member {} did not close", member.id));
        closed.unwrap().unwrap();
    }
    let elapsed = started.elapsed();

    // What the coordinator says after the clean closes.
    let tps: Vec<TopicPartition> = all_partitions.iter().cloned().collect();
    let committed = looker.committed(&all_partitions).await.unwrap();
    let end_offsets = looker.end_offsets(&tps).await.unwrap();
    looker.close().await.unwrap();
    // Static members send no LeaveGroup on close (Kafka's KIP-345): their
    // group empties when their sessions expire. Dynamic ones left at once.
    let empty_by = Instant::now()
        + if variant.static_members {
            SESSION_TIMEOUT + Duration::from_secs(10)
        } else {
            Duration::ZERO
        };
    let group = loop {
        let group = admin
            .describe_groups([variant.group])
            .await
            .remove(variant.group)
            .unwrap()
            .unwrap();
        if group.state == "Empty" || Instant::now() >= empty_by {
            break group;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let journal = std::mem::take(&mut *journal(&shared));
    let read: Vec<ReadRecord> = journal.first_copies.into_values().collect();
    let report = check(
        workload.run_id,
        &ledger,
        &read,
        Expectations { idempotent: true },
    );
    let verdict = judge(&journal.events, &end, seed);
    eprintln!(
        "{name}: {} records produced ({} acked) over {PARTITIONS} partitions; {} reads, {} duplicates \
         ({} after kills, {} after refused commits); {kills} kills in {:.0?} ({} while holding \
         uncommitted records, {} mid-commit, {} polling), {} members in all; {} starts at the \
         last commit ({} at a commit in doubt, {} settled by the coordinator); {} assignment changes; {} commits, {} failed \
         {:?}; test {:.0?}",
        report.sent,
        report.acked,
        verdict.reads,
        verdict.duplicates,
        verdict.after_kill,
        verdict.after_failed_commit,
        chaos_took,
        kills_in_state[PROCESSING as usize],
        kills_in_state[COMMITTING as usize],
        kills_in_state[POLLING as usize],
        next_id,
        verdict.starts,
        verdict.starts_at_commit_in_doubt,
        verdict.settled_by_coordinator,
        journal.assignment_changes,
        verdict.commits,
        verdict.failed_commits,
        journal.commit_errors,
        elapsed,
    );

    assert!(
        journal.problems.is_empty(),
        "seed {seed}: {:?}",
        journal.problems
    );
    assert!(
        journal.differing_copies.is_empty(),
        "seed {seed}: {:?}",
        journal.differing_copies
    );
    assert!(report.is_clean(), "seed {seed}: {report}");
    assert_eq!(
        (report.acked, report.read),
        (report.sent, report.sent),
        "seed {seed}: every record acknowledged and read: {report}"
    );
    for tp in &tps {
        let produced = end[&tp.partition];
        let committed = committed.get(tp).and_then(|c| c.as_ref()).map(|c| c.offset);
        assert_eq!(
            (committed, end_offsets.get(tp).copied()),
            (Some(produced), Some(produced)),
            "seed {seed}: {tp} committed and end offset after the closes vs records produced"
        );
    }
    assert!(
        group.state == "Empty" && group.members.is_empty(),
        "seed {seed}: after the clean closes the group is {} with {} members",
        group.state,
        group.members.len()
    );
    // A kill comes at most 5 s + 3 s (waiting for its moment) after the last.
    let minimum = (chaos.as_secs() / 8).max(1) as u32;
    assert!(
        kills >= minimum,
        "seed {seed}: only {kills} kills (want {minimum}); nothing was tested"
    );
    assert!(
        verdict.after_kill > 0,
        "seed {seed}: no kill made a record be read again, so the duplicate checks proved nothing"
    );
    cluster.shutdown().await.unwrap();
}
