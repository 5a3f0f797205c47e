//! The consumer's side of fetch sessions: what each request names.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use durian_core::{ClientConfig, Error as CoreError};
use kafka_protocol::messages::{FetchRequest, FetchResponse};

use super::session::Sessions;
use super::{fetch_request, FetchTarget};

fn target(partition: i32, offset: i64) -> FetchTarget {
    FetchTarget {
        topic: Arc::from("t"),
        topic_id: uuid::Uuid::from_u128(9),
        partition,
        fetch_offset: offset,
        current_leader_epoch: 1,
        last_fetched_epoch: 1,
    }
}

fn request(targets: &[FetchTarget]) -> FetchRequest {
    let config = crate::ConsumerConfig::new(
        ClientConfig::builder()
            .bootstrap_servers(["h:1"])
            .build()
            .unwrap(),
    );
    fetch_request(&config, targets)
}

/// (partition, offset) of every partition a request names.
fn named(request: &FetchRequest) -> Vec<(i32, i64)> {
    request
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (p.partition, p.fetch_offset)))
        .collect()
}

fn forgotten(request: &FetchRequest) -> Vec<i32> {
    request
        .forgotten_topics_data
        .iter()
        .flat_map(|t| t.partitions.clone())
        .collect()
}

/// Prepares a fetch of `targets` to node 1 and answers it with `answer`;
/// returns the request sent.
fn round(
    sessions: &mut Sessions,
    targets: &[FetchTarget],
    answer: Result<FetchResponse, CoreError>,
) -> FetchRequest {
    let (sent, mut used) = sessions.prepare(1, 0, targets, request(targets));
    sessions.answered(1, 0, &mut used, &answer);
    sent
}

fn granted(id: i32) -> Result<FetchResponse, CoreError> {
    Ok(FetchResponse::default().with_session_id(id))
}

#[test]
fn after_a_full_first_fetch_only_changes_are_named() {
    let mut sessions = Sessions::new(true);
    let all = [target(0, 5), target(1, 0), target(2, 0)];
    let first = round(&mut sessions, &all, granted(77));
    assert_eq!((first.session_id, first.session_epoch), (0, 0));
    assert_eq!(named(&first).len(), 3);

    // Nothing changed: nothing named.
    let quiet = round(&mut sessions, &all, granted(77));
    assert_eq!((quiet.session_id, quiet.session_epoch), (77, 1));
    assert!(named(&quiet).is_empty() && forgotten(&quiet).is_empty());

    // Partition 0 advanced, 2 has records buffered (not fetched), 3 added.
    let next = [target(0, 9), target(1, 0), target(3, 0)];
    let changed = round(&mut sessions, &next, granted(77));
    assert_eq!(changed.session_epoch, 2);
    assert_eq!(named(&changed), vec![(0, 9), (3, 0)]);
    assert_eq!(forgotten(&changed), vec![2]);
    assert_eq!(
        changed.forgotten_topics_data[0].topic_id,
        uuid::Uuid::from_u128(9)
    );

    // A new leader epoch is a change too.
    let mut moved = next.clone();
    moved[1].current_leader_epoch = 2;
    let epoch = round(&mut sessions, &moved, granted(77));
    assert_eq!(named(&epoch), vec![(1, 0)]);
}

#[test]
fn session_errors_start_over_and_other_failures_reopen() {
    let mut sessions = Sessions::new(true);
    let all = [target(0, 0)];
    round(&mut sessions, &all, granted(5));
    // Any other failure: close session 5 and open a new one, in full.
    let failed = round(
        &mut sessions,
        &all,
        Err(CoreError::Protocol("connection lost".into())),
    );
    assert_eq!((failed.session_id, failed.session_epoch), (5, 1));
    let reopened = round(&mut sessions, &all, granted(6));
    assert_eq!((reopened.session_id, reopened.session_epoch), (5, 0));
    assert_eq!(named(&reopened).len(), 1, "a full fetch");
    // A session error: a new session from scratch.
    let refused = round(
        &mut sessions,
        &all,
        Ok(FetchResponse::default().with_error_code(70)),
    );
    assert_eq!((refused.session_id, refused.session_epoch), (6, 1));
    let fresh = round(&mut sessions, &all, granted(0));
    assert_eq!((fresh.session_id, fresh.session_epoch), (0, 0));
    // No session granted: full fetches keep asking for one.
    let again = round(&mut sessions, &all, granted(0));
    assert_eq!((again.session_id, again.session_epoch), (0, 0));
    assert_eq!(named(&again).len(), 1);
}

#[test]
fn a_recreated_topic_restarts_the_session() {
    let mut sessions = Sessions::new(true);
    round(&mut sessions, &[target(0, 0)], granted(3));
    let mut recreated = target(0, 0);
    recreated.topic_id = uuid::Uuid::from_u128(10);
    let sent = round(&mut sessions, &[recreated], granted(4));
    assert_eq!((sent.session_id, sent.session_epoch), (3, 0));
    assert_eq!(named(&sent).len(), 1);
}

#[test]
fn disabled_sessions_fetch_in_full_without_one() {
    let mut sessions = Sessions::new(false);
    for _ in 0..2 {
        let sent = round(&mut sessions, &[target(0, 0)], granted(8));
        assert_eq!((sent.session_id, sent.session_epoch), (0, -1));
        assert_eq!(named(&sent).len(), 1);
    }
}
