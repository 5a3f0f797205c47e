//! Group scenarios on any broker: a group of three under one assignor
//! with a member joining late and one leaving, and a static member's
//! restart.

use std::sync::Arc;
use std::time::Duration;

use durian_consumer::assignor::RebalanceProtocol;
use durian_consumer::Assignor;

use crate::common::members::{
    assert_disjoint_and_covering, close_all, partitions_of, wait_for, wait_for_commits_at_end,
    wait_for_reads, Ending, Log, Member, SharedLog,
};
use crate::common::{admin, consumer, create_topic, produce_round};

/// Partitions of every topic here: 6 split 2/2/2 among three members
/// and 2/2/1/1 among four under every built-in assignor.
const PARTITIONS: i32 = 6;
/// Records per partition in each produced round.
const ROUND: usize = 60;
/// How long any one step (a rebalance, a round read) may take.
const STEP: Duration = Duration::from_secs(90);

/// Whether every member in `members` owns something, nobody else owns
/// anything, and their assignments add up to the whole topic.
fn settled(log: &Log, members: &[&str]) -> bool {
    log.settled(members, PARTITIONS)
}

/// Three members under `assignor` (`name` keeps topic and group apart
/// from the other runs on the same broker) share six partitions and
/// commit after every poll; a fourth joins late, then the first leaves
/// (`close`). After each rebalance the assignments are disjoint and
/// cover the topic, and across all of it every record is read exactly
/// once and the group's commits end at the end offsets. No member sees
/// an error, except that a cooperative member's commit may be refused
/// while it rejoins (see `Log::refused_commits`).
pub async fn group_of_three_with_a_late_join_and_a_leave(
    bootstrap: &str,
    assignor: Arc<dyn Assignor>,
    name: &str,
) {
    let topic = &format!("{name}-three");
    let admin = admin(bootstrap).await;
    create_topic(&admin, topic, PARTITIONS).await;
    produce_round(&admin, topic, PARTITIONS, 0, ROUND).await;

    let log = SharedLog::default();
    let start = |member: &str| {
        let builder = consumer(bootstrap, Some(topic))
            .client_id(member)
            .max_poll_records(25)
            .assignors(vec![assignor.clone()]);
        Member::start(member, builder, topic, log.clone(), true)
    };
    let mut members: Vec<Member> = ["m1", "m2", "m3"].iter().map(|m| start(m)).collect();
    let mut read = PARTITIONS as usize * ROUND;
    wait_for(&log, STEP, &format!("{name}: round 0 read by three"), |l| {
        settled(l, &["m1", "m2", "m3"]) && l.counts().len() >= read
    })
    .await;
    {
        let log = log.lock().unwrap();
        assert_disjoint_and_covering(&log, topic, PARTITIONS);
        assert!(
            log.assignment.values().all(|s| s.len() == 2),
            "{name}: two partitions each: {:?}",
            log.assignment
        );
    }

    members.push(start("m4"));
    wait_for(&log, STEP, &format!("{name}: m4 owning partitions"), |l| {
        settled(l, &["m1", "m2", "m3", "m4"])
    })
    .await;
    assert_disjoint_and_covering(&log.lock().unwrap(), topic, PARTITIONS);
    produce_round(&admin, topic, PARTITIONS, ROUND, ROUND).await;
    read += PARTITIONS as usize * ROUND;
    wait_for_reads(&log, STEP, &format!("{name}: round 1 read by four"), read).await;
    assert!(
        log.lock()
            .unwrap()
            .deliveries
            .iter()
            .any(|(m, ..)| m == "m4"),
        "{name}: m4 read nothing of round 1"
    );

    members.remove(0).stop(Ending::Close).await;
    wait_for(
        &log,
        STEP,
        &format!("{name}: the survivors owning all"),
        |l| settled(l, &["m2", "m3", "m4"]),
    )
    .await;
    assert_disjoint_and_covering(&log.lock().unwrap(), topic, PARTITIONS);
    produce_round(&admin, topic, PARTITIONS, 2 * ROUND, ROUND).await;
    read += PARTITIONS as usize * ROUND;
    wait_for_reads(&log, STEP, &format!("{name}: round 2 read by three"), read).await;
    let observer = consumer(bootstrap, Some(topic)).build().unwrap();
    let all = partitions_of(topic, PARTITIONS);
    wait_for_commits_at_end(&observer, &all, STEP).await;
    // Closed members deliver nothing more: the log is final, so a record
    // delivered twice at any time in their lives shows up now.
    close_all(members).await;
    let log = log.lock().unwrap();
    // Eager members revoke everything (committing it) before they rejoin,
    // so none of their commits can meet a rebalance; a cooperative one
    // may see a commit refused while it rejoins (the next commit covers
    // the same positions: the checks below prove nothing was lost to it).
    let refused: usize = log.refused_commits.values().sum();
    match assignor.protocol() {
        RebalanceProtocol::Eager => {
            assert!(log.errors.is_empty(), "{name}: {:?}", log.errors);
        }
        RebalanceProtocol::Cooperative => assert_eq!(
            log.errors.len(),
            refused,
            "{name}: errors other than commits refused in a rebalance: {:?}",
            log.errors
        ),
    }
    log.assert_exactly_once(read, name);
}

/// Two static members (`group.instance.id` a and b) share four
/// partitions and commit after every poll. `a` is closed (a static
/// member sends no LeaveGroup) and restarted with the same id well within
/// the session timeout: it gets the same partitions in the same
/// generation, b sees no rebalance, and the new `a` resumes from the old
/// one's commits (every record read once).
pub async fn a_restarted_static_member_keeps_its_partitions(bootstrap: &str, name: &str) {
    let topic = &format!("{name}-static");
    let partitions = 4;
    let admin = admin(bootstrap).await;
    create_topic(&admin, topic, partitions).await;
    let log = SharedLog::default();
    let start = |member: &str, instance: &str| {
        let builder = consumer(bootstrap, Some(topic))
            .group_instance_id(instance)
            .session_timeout(Duration::from_secs(30));
        Member::start(member, builder, topic, log.clone(), true)
    };
    let a = start("a", "a");
    let b = start("b", "b");
    wait_for(&log, STEP, "two partitions each", |l| {
        ["a", "b"]
            .iter()
            .all(|m| l.assignment.get(*m).is_some_and(|s| s.len() == 2))
            && l.generations.get("a") == l.generations.get("b")
    })
    .await;
    produce_round(&admin, topic, partitions, 0, ROUND).await;
    let first = partitions as usize * ROUND;
    wait_for_reads(&log, STEP, "round 0", first).await;
    // Whichever joined first revoked everything when the other joined:
    // b's revocations up to here are the group forming, not the restart.
    let (before, generation, b_revoked) = {
        let log = log.lock().unwrap();
        let b_revoked = log.revoked.get("b").cloned().unwrap_or_default();
        (log.assignment.clone(), log.generations["b"], b_revoked)
    };
    assert!(generation > 0, "b joined: generation {generation}");

    a.stop(Ending::Close).await;
    let again = start("a-again", "a");
    wait_for(&log, STEP, "the restarted member's partitions", |l| {
        l.assignment.get("a-again").is_some_and(|s| !s.is_empty())
            && l.generations.contains_key("a-again")
    })
    .await;
    produce_round(&admin, topic, partitions, ROUND, ROUND).await;
    let total = first + partitions as usize * ROUND;
    wait_for_reads(&log, STEP, "round 1", total).await;
    {
        // Checked before closing: closing revokes everything.
        let log = log.lock().unwrap();
        assert_eq!(
            log.assignment["a-again"], before["a"],
            "same partitions as before the restart"
        );
        assert_eq!(
            log.generations["a-again"], generation,
            "the restart rejoined without a new generation"
        );
        assert_eq!(log.generations["b"], generation, "b saw no rebalance");
        assert_eq!(
            log.revoked.get("b").cloned().unwrap_or_default(),
            b_revoked,
            "b was not disturbed by the restart"
        );
    }
    close_all([again, b]).await;
    let log = log.lock().unwrap();
    assert!(log.errors.is_empty(), "{:?}", log.errors);
    let counts = log.counts();
    assert_eq!(counts.len(), total, "records lost");
    assert!(
        counts.values().all(|n| *n == 1),
        "the restarted member resumes from the commits: nothing read twice"
    );
}
