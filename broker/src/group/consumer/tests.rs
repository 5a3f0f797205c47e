//! Unit tests of the assignors and the reconciliation state machine, driven through
//! `ConsumerGroup::heartbeat` with explicit instants.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use tokio::time::Instant;
use uuid::Uuid;

use super::assignor::{Assignment, Assignor, AssignorMember, TopicInfo, TopicsMeta};
use super::heartbeat::{validate, HeartbeatParams, HeartbeatReply};
use super::reconcile::MemberState;
use super::ConsumerGroup;
use crate::group::config::GroupConfig;
use crate::group::member::ClientInfo;

const T1: Uuid = Uuid::from_u128(1);
const T2: Uuid = Uuid::from_u128(2);

fn catalog() -> TopicsMeta {
    let mut topics = TopicsMeta::new();
    topics.insert(
        "orders".into(),
        TopicInfo {
            id: T1,
            partitions: 4,
        },
    );
    topics.insert(
        "payments".into(),
        TopicInfo {
            id: T2,
            partitions: 2,
        },
    );
    topics
}

fn parts(topic: Uuid, partitions: &[i32]) -> Assignment {
    let mut a = Assignment::new();
    if !partitions.is_empty() {
        a.insert(topic, partitions.iter().copied().collect());
    }
    a
}

fn count(a: &Assignment) -> usize {
    a.values().map(BTreeSet::len).sum()
}

fn group() -> ConsumerGroup {
    ConsumerGroup::new(Arc::new(GroupConfig::default()))
}

fn join_params(member: &str, topics: &[&str]) -> HeartbeatParams {
    HeartbeatParams {
        member_id: member.to_owned(),
        member_epoch: 0,
        instance_id: None,
        rack_id: None,
        rebalance_timeout_ms: 10_000,
        subscribed_topic_names: Some(topics.iter().map(|t| (*t).to_owned()).collect()),
        subscribed_topic_regex: None,
        server_assignor: None,
        owned: Some(Assignment::new()),
        client: ClientInfo::default(),
    }
}

fn beat_params(member: &str, epoch: i32, owned: Option<Assignment>) -> HeartbeatParams {
    HeartbeatParams {
        member_id: member.to_owned(),
        member_epoch: epoch,
        instance_id: None,
        rack_id: None,
        rebalance_timeout_ms: -1,
        subscribed_topic_names: None,
        subscribed_topic_regex: None,
        server_assignor: None,
        owned,
        client: ClientInfo::default(),
    }
}

fn beat(group: &mut ConsumerGroup, p: HeartbeatParams, now: Instant) -> HeartbeatReply {
    validate(&p, 1).expect("valid request");
    group
        .heartbeat(p, &catalog(), now, || "generated".to_owned())
        .expect("heartbeat accepted")
}

fn refused(group: &mut ConsumerGroup, p: HeartbeatParams, now: Instant) -> ResponseError {
    group
        .heartbeat(p, &catalog(), now, || "generated".to_owned())
        .expect_err("heartbeat refused")
        .error
}

#[test]
fn uniform_balances_and_keeps_partitions_where_they_were() {
    let topics = catalog();
    let both: BTreeSet<String> = ["orders".to_owned(), "payments".to_owned()].into();
    let alone = [AssignorMember {
        id: "a",
        topics: &both,
        previous: None,
    }];
    let first = Assignor::Uniform.assign(&alone, &topics);
    assert_eq!(count(&first["a"]), 6);
    let members = [
        AssignorMember {
            id: "a",
            topics: &both,
            previous: first.get("a"),
        },
        AssignorMember {
            id: "b",
            topics: &both,
            previous: None,
        },
        AssignorMember {
            id: "c",
            topics: &both,
            previous: None,
        },
    ];
    let second = Assignor::Uniform.assign(&members, &topics);
    for id in ["a", "b", "c"] {
        assert_eq!(count(&second[id]), 2, "{id}: {second:?}");
    }
    // a keeps two of its own partitions instead of receiving new ones.
    assert!(second["a"].iter().all(|(t, p)| p.is_subset(&first["a"][t])));
    // Every partition exactly once.
    let mut seen = BTreeSet::new();
    for assignment in second.values() {
        for (t, ps) in assignment {
            for p in ps {
                assert!(seen.insert((*t, *p)), "assigned twice: {t} {p}");
            }
        }
    }
    assert_eq!(seen.len(), 6);
}

#[test]
fn uniform_respects_heterogeneous_subscriptions() {
    let topics = catalog();
    let orders: BTreeSet<String> = ["orders".to_owned()].into();
    let both: BTreeSet<String> = ["orders".to_owned(), "payments".to_owned()].into();
    let members = [
        AssignorMember {
            id: "a",
            topics: &orders,
            previous: None,
        },
        AssignorMember {
            id: "b",
            topics: &both,
            previous: None,
        },
    ];
    let result = Assignor::Uniform.assign(&members, &topics);
    assert!(
        !result["a"].contains_key(&T2),
        "a does not subscribe to payments"
    );
    assert_eq!(result["b"].get(&T2).map(BTreeSet::len), Some(2));
    assert_eq!(count(&result["a"]), 3);
    assert_eq!(count(&result["b"]), 3);
}

#[test]
fn range_gives_contiguous_ranges_in_member_order() {
    let topics = catalog();
    let orders: BTreeSet<String> = ["orders".to_owned()].into();
    let members = [
        AssignorMember {
            id: "m-b",
            topics: &orders,
            previous: None,
        },
        AssignorMember {
            id: "m-a",
            topics: &orders,
            previous: None,
        },
        AssignorMember {
            id: "m-c",
            topics: &orders,
            previous: None,
        },
    ];
    let result: HashMap<String, Assignment> = Assignor::Range.assign(&members, &topics);
    assert_eq!(result["m-a"], parts(T1, &[0, 1]));
    assert_eq!(result["m-b"], parts(T1, &[2]));
    assert_eq!(result["m-c"], parts(T1, &[3]));
}

#[test]
fn partitions_move_only_after_their_owner_revokes_them() {
    let now = Instant::now();
    let mut g = group();
    let a = beat(&mut g, join_params("a", &["orders"]), now);
    assert_eq!(a.member_epoch, 1);
    assert_eq!(a.assignment, Some(parts(T1, &[0, 1, 2, 3])));

    // b joins: the group moves to epoch 2, but every partition is still a's.
    let b = beat(&mut g, join_params("b", &["orders"]), now);
    assert_eq!(g.group_epoch, 2);
    assert_eq!(b.member_epoch, 2);
    assert_eq!(b.assignment, Some(Assignment::new()));
    assert_eq!(
        g.members["b"].reconciliation.state,
        MemberState::UnreleasedPartitions
    );

    // a is asked to revoke two partitions and stays at epoch 1 meanwhile.
    let a = beat(
        &mut g,
        beat_params("a", 1, Some(parts(T1, &[0, 1, 2, 3]))),
        now,
    );
    assert_eq!(a.member_epoch, 1);
    let kept = a.assignment.expect("a's shrunk assignment");
    assert_eq!(count(&kept), 2);
    assert_eq!(
        g.members["a"].reconciliation.state,
        MemberState::UnrevokedPartitions
    );

    // b still gets nothing while a owns them.
    let b = beat(&mut g, beat_params("b", 2, Some(Assignment::new())), now);
    assert_eq!(b.assignment, None);
    assert_eq!(g.state_name(), "Reconciling");

    // a acknowledges (owned list without the revoked ones): epoch 2, stable.
    let a = beat(&mut g, beat_params("a", 1, Some(kept.clone())), now);
    assert_eq!(a.member_epoch, 2);
    assert_eq!(g.members["a"].reconciliation.state, MemberState::Stable);

    // Now b receives the freed partitions.
    let b = beat(&mut g, beat_params("b", 2, Some(Assignment::new())), now);
    let given = b.assignment.expect("b's partitions");
    assert_eq!(count(&given), 2);
    assert!(given[&T1].is_disjoint(&kept[&T1]));
    assert_eq!(g.state_name(), "Stable");
}

#[test]
fn epochs_are_checked_and_a_lost_response_is_forgiven() {
    let now = Instant::now();
    let mut g = group();
    beat(&mut g, join_params("a", &["orders"]), now);
    assert_eq!(
        refused(&mut g, beat_params("a", 7, None), now),
        ResponseError::FencedMemberEpoch
    );
    assert_eq!(
        refused(&mut g, beat_params("nobody", 1, None), now),
        ResponseError::UnknownMemberId
    );
    // A new topic bumps the epoch; a's answer (epoch 2) is "lost".
    let mut bigger = catalog();
    bigger.insert(
        "orders".into(),
        TopicInfo {
            id: T1,
            partitions: 6,
        },
    );
    let reply = g
        .heartbeat(beat_params("a", 1, None), &bigger, now, String::new)
        .expect("accepted");
    assert_eq!(reply.member_epoch, 2);
    // Coming back with the previous epoch and a subset of the assignment is accepted...
    let reply = g
        .heartbeat(
            beat_params("a", 1, Some(parts(T1, &[0, 1]))),
            &bigger,
            now,
            String::new,
        )
        .expect("previous epoch with owned subset");
    assert_eq!(reply.member_epoch, 2);
    // ...but not without the owned partitions.
    let failure = g
        .heartbeat(beat_params("a", 1, None), &bigger, now, String::new)
        .expect_err("previous epoch without owned partitions");
    assert_eq!(failure.error, ResponseError::FencedMemberEpoch);
}

#[test]
fn expired_sessions_and_late_revocations_remove_members() {
    let now = Instant::now();
    let mut g = group();
    beat(&mut g, join_params("a", &["orders"]), now);
    beat(&mut g, join_params("b", &["orders"]), now);
    // a must revoke two partitions within its rebalance timeout (10 s).
    beat(
        &mut g,
        beat_params("a", 1, Some(parts(T1, &[0, 1, 2, 3]))),
        now,
    );
    let deadline = g.members["a"]
        .revocation_deadline
        .expect("revocation deadline");
    assert_eq!(deadline, now + Duration::from_secs(10));
    // b keeps heartbeating; a does not revoke.
    let later = now + Duration::from_secs(11);
    beat(&mut g, beat_params("b", 2, Some(Assignment::new())), later);
    assert_eq!(g.next_deadline(), Some(deadline));
    assert_eq!(g.on_timer("g", later), 1);
    assert!(!g.members.contains_key("a"));
    assert_eq!(g.group_epoch, 3);
    let b = beat(&mut g, beat_params("b", 2, Some(Assignment::new())), later);
    assert_eq!(b.member_epoch, 3);
    assert_eq!(b.assignment, Some(parts(T1, &[0, 1, 2, 3])));
    // b's session (45 s by default) runs out too.
    let much_later = later + Duration::from_secs(46);
    assert_eq!(g.on_timer("g", much_later), 1);
    assert!(g.members.is_empty());
    assert_eq!(g.state_name(), "Empty");
}

#[test]
fn leaving_frees_the_partitions_at_once() {
    let now = Instant::now();
    let mut g = group();
    beat(&mut g, join_params("a", &["orders"]), now);
    let left = beat(&mut g, beat_params("a", -1, None), now);
    assert_eq!(left.member_epoch, -1);
    assert!(g.members.is_empty());
    let b = beat(&mut g, join_params("b", &["orders"]), now);
    assert_eq!(b.assignment, Some(parts(T1, &[0, 1, 2, 3])));
}

#[test]
fn static_members_keep_their_assignment_while_away() {
    let now = Instant::now();
    let mut g = group();
    let mut join = join_params("s1", &["orders"]);
    join.instance_id = Some("instance".into());
    beat(&mut g, join, now);
    let epoch = g.group_epoch;
    let mut away = beat_params("s1", -2, None);
    away.instance_id = Some("instance".into());
    assert_eq!(beat(&mut g, away, now).member_epoch, -2);
    assert_eq!(g.group_epoch, epoch, "a temporary leave does not rebalance");

    // Another process cannot take an instance id still in use.
    let mut other = join_params("x", &["orders"]);
    other.instance_id = Some("other".into());
    beat(&mut g, other, now);
    let mut clash = join_params("s3", &["orders"]);
    clash.instance_id = Some("other".into());
    assert_eq!(
        refused(&mut g, clash, now),
        ResponseError::UnreleasedInstanceId
    );

    // The instance returns under a new member id and gets its partitions back.
    let mut back = join_params("s2", &["orders"]);
    back.instance_id = Some("instance".into());
    let reply = beat(&mut g, back, now);
    assert!(!g.members.contains_key("s1"));
    let assignment = reply.assignment.expect("assignment");
    assert_eq!(count(&assignment), 2);
}

#[test]
fn requests_are_validated_as_kafka_does() {
    let mut p = join_params("a", &["orders"]);
    p.server_assignor = Some("sticky".into());
    assert_eq!(
        validate(&p, 1).expect_err("assignor").error,
        ResponseError::UnsupportedAssignor
    );
    let mut p = join_params("a", &["orders"]);
    p.subscribed_topic_regex = Some("orders(".into());
    assert_eq!(
        validate(&p, 1).expect_err("regex").error,
        ResponseError::InvalidRegularExpression
    );
    let mut p = join_params("a", &[]);
    p.subscribed_topic_names = None;
    assert_eq!(
        validate(&p, 1).expect_err("subscription").error,
        ResponseError::InvalidRequest
    );
    let p = join_params("", &["orders"]);
    assert_eq!(
        validate(&p, 1).expect_err("v1 id").error,
        ResponseError::InvalidRequest
    );
    assert!(
        validate(&p, 0).is_ok(),
        "v0 members let the broker pick the id"
    );
}

#[test]
fn regex_subscriptions_follow_the_catalog_and_the_size_limit_holds() {
    let now = Instant::now();
    let mut g = ConsumerGroup::new(Arc::new(GroupConfig {
        consumer_max_size: 1,
        ..GroupConfig::default()
    }));
    let mut p = join_params("a", &[]);
    p.subscribed_topic_names = None;
    p.subscribed_topic_regex = Some("pay.*".into());
    let reply = beat(&mut g, p, now);
    assert_eq!(reply.assignment, Some(parts(T2, &[0, 1])));
    assert_eq!(
        refused(&mut g, join_params("b", &["orders"]), now),
        ResponseError::GroupMaxSizeReached
    );
}

#[test]
fn a_static_member_away_is_removed_one_session_after_it_left() {
    let now = Instant::now();
    let mut g = group();
    let mut join = join_params("s1", &["orders"]);
    join.instance_id = Some("instance".into());
    beat(&mut g, join, now);
    let left_at = now + Duration::from_secs(30);
    let mut away = beat_params("s1", -2, None);
    away.instance_id = Some("instance".into());
    beat(&mut g, away, left_at);
    let session = GroupConfig::default().consumer_session_timeout;
    assert_eq!(g.next_deadline(), Some(left_at + session));
    assert_eq!(
        g.on_timer("g", left_at + session - Duration::from_millis(1)),
        0
    );
    assert_eq!(g.on_timer("g", left_at + session), 1);
    assert!(g.members.is_empty());
}
