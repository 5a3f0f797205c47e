//! The group chaos member's commit retry, made to run on purpose.
//!
//! A member of the chaos runs (reliability/tests/common/group_member.rs,
//! driven by group_chaos.rs) whose commit failed commits those offsets
//! again after its next poll, for the partitions it still owns and still
//! stands at. Kills seldom leave a survivor in that state, so the chaos
//! runs hardly ever take that path; here a fault rule (docs/CLUSTER.md)
//! fails the first OffsetCommit of a lone member that has read the whole
//! topic, so its next poll brings nothing new and only the retry can
//! commit its records. The journal must show the same offsets committed
//! again after the failure, and the chaos runs' judge must accept it.
//!
//! Two failures: REBALANCE_IN_PROGRESS before the commit is applied (the
//! member sees the fence, `ConsumerError::CommitFailed`), and
//! UNKNOWN_SERVER_ERROR after it is applied (the member cannot know it
//! was; the judge holds it in doubt until the retry settles it).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::group_journal::{journal, judge, Event, SharedJournal};
use common::group_member::{short_sessions, spawn_member, Variant, TOPIC};
use common::{fault_tolerant_producer, seed};
use durian_broker::testing::Cluster;
use durian_producer::ProducerRecord;
use durian_testkit::wait::eventually;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::ResponseError;

const PARTITIONS: i32 = 3;
/// Records per partition: few enough that one fetch brings a partition's
/// all, so the poll after the failed commit has nothing new for it.
const PER_PARTITION: i64 = 5;
const WITHIN: Duration = Duration::from_secs(30);

/// How the first OffsetCommit fails.
#[derive(Clone, Copy)]
struct Failure {
    error: ResponseError,
    /// Applied before the error is answered.
    after_apply: bool,
    /// Whether the member reads the error as the rebalance fence.
    fenced: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_refused_by_the_fence_is_retried_where_the_member_still_stands() {
    let variant = Variant {
        name: "retry after fence",
        group: "retry-fenced-group",
        cooperative: true,
        static_members: true,
    };
    let failure = Failure {
        error: ResponseError::RebalanceInProgress,
        after_apply: false,
        fenced: true,
    };
    failed_commit_is_retried(variant, failure).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_applied_but_answered_with_an_error_is_retried_where_the_member_still_stands() {
    let variant = Variant {
        name: "retry after unknown outcome",
        group: "retry-unknown-group",
        cooperative: true,
        static_members: true,
    };
    let failure = Failure {
        error: ResponseError::UnknownServerError,
        after_apply: true,
        fenced: false,
    };
    failed_commit_is_retried(variant, failure).await;
}

/// One member reads a written topic whose first commit fails as `failure`
/// says; the member's retry must commit every partition to its end.
async fn failed_commit_is_retried(variant: Variant, failure: Failure) {
    let name = variant.name;
    let seed = seed();
    eprintln!("{name}: seed {seed} (DURIAN_SEED reruns it)");
    let cluster = short_sessions(Cluster::builder().nodes(1).seed(seed))
        .start()
        .await
        .unwrap();
    cluster.create_topic(TOPIC, PARTITIONS).await.unwrap();
    let bootstrap = cluster.bootstrap();

    let producer = fault_tolerant_producer(&bootstrap);
    for p in 0..PARTITIONS {
        for n in 0..PER_PARTITION {
            let record =
                ProducerRecord::<Bytes, Bytes>::new(TOPIC, Bytes::from(format!("{p}-{n}")))
                    .with_partition(p);
            producer.send(record).await.unwrap().await.unwrap();
        }
    }
    producer.close(Duration::from_secs(10)).await.unwrap();
    let end: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, PER_PARTITION)).collect();

    let target = cluster.faults().any_node().api(ApiKey::OffsetCommit);
    let rule = if failure.after_apply {
        target.fail_after_apply_next(1, failure.error)
    } else {
        target.fail_next(1, failure.error)
    };

    let shared: SharedJournal = Arc::default();
    let drained = Arc::new(AtomicBool::new(false));
    let instance = Some(format!("{}-member-0", variant.group));
    let member = spawn_member(0, instance, variant, &bootstrap, seed, &shared, &drained);
    eventually(WITHIN, "every partition committed to its end", async || {
        let committed = journal(&shared).committed.clone();
        (committed == end).then_some(())
    })
    .await;
    drained.store(true, Ordering::Release);
    tokio::time::timeout(WITHIN, member.task)
        .await
        .unwrap_or_else(|_| panic!("{name}: the member did not close"))
        .unwrap()
        .unwrap();
    assert_eq!(
        cluster.faults().fired(rule),
        1,
        "{name}: the rule failed one commit"
    );

    let journal = std::mem::take(&mut *journal(&shared));
    assert!(
        journal.problems.is_empty(),
        "{name}: {:?}",
        journal.problems
    );
    let events = journal.events;
    let failed: BTreeSet<(i32, i64)> = events
        .iter()
        .filter_map(|e| match *e {
            Event::CommitFailed {
                partition,
                offset,
                fenced,
                ..
            } => {
                assert_eq!(fenced, failure.fenced, "{name}: how the failure was read");
                Some((partition, offset))
            }
            _ => None,
        })
        .collect();
    assert!(!failed.is_empty(), "{name}: no commit failed: {events:?}");
    // Each failed commit is sent again with the same offset and succeeds,
    // with no read of its partition in between: the retry, not a commit
    // of newer records.
    for &(p, o) in &failed {
        let after: Vec<&Event> = events
            .iter()
            .skip_while(|e| !matches!(**e, Event::CommitFailed { partition, .. } if partition == p))
            .skip(1)
            .filter(|e| match **e {
                Event::Read { partition, .. }
                | Event::CommitSent { partition, .. }
                | Event::Committed { partition, .. } => partition == p,
                _ => false,
            })
            .take(2)
            .collect();
        assert!(
            matches!(
                after[..],
                [
                    Event::CommitSent { partition: p1, offset: o1, .. },
                    Event::Committed { partition: p2, offset: o2, .. },
                ] if (*p1, *o1) == (p, o) && (*p2, *o2) == (p, o)
            ),
            "{name}: the failed commit of {p}@{o} was not retried; next events there: {after:?}"
        );
    }
    let verdict = judge(&events, &end, seed);
    assert_eq!(
        (verdict.failed_commits, verdict.reads),
        (
            failed.len(),
            (PARTITIONS as usize) * (PER_PARTITION as usize)
        ),
        "{name}: one failed commit, each record read once"
    );
    eprintln!("{name}: {verdict:?}");
    cluster.shutdown().await.unwrap();
}
