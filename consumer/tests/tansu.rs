//! The consumer against Tansu, an independent Kafka-protocol broker.
//!
//! Tansu answers the first JoinGroup of a new group only after about 23 s,
//! so the group test has generous limits and there is only one of it.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::members::{assert_disjoint_and_covering, wait_for, Ending, Member, SharedLog};
use common::tansu::Tansu;
use common::*;
use durian_consumer::TopicPartition;

#[tokio::test]
async fn assigned_partitions_are_read_in_order() {
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let admin = admin(&tansu.bootstrap()).await;
    create_topic(&admin, "interop", 2).await;
    produce(&admin, "interop", 0, 0, 300, 40).await;
    produce(&admin, "interop", 1, 0, 200, 200).await;

    let mut consumer = consumer(&tansu.bootstrap(), None).build().unwrap();
    consumer
        .assign([
            TopicPartition::new("interop", 0),
            TopicPartition::new("interop", 1),
        ])
        .unwrap();
    read_in_order_to(&mut consumer, &[300, 200], |_| {}).await;
    // The high watermark comes with every fetch response. (Tansu's own
    // ListOffsets answer for "latest" is not the high watermark, so
    // end_offsets is not checked here.)
    assert_eq!(consumer.lag(&TopicPartition::new("interop", 1)), Some(0));
    assert_eq!(
        consumer
            .position(&TopicPartition::new("interop", 0))
            .await
            .unwrap(),
        300
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_share_a_topic_and_commit() {
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let bootstrap = tansu.bootstrap();
    let admin = admin(&bootstrap).await;
    create_topic(&admin, "shared", 4).await;
    produce_all(&admin, "shared", 4, 250).await;

    let log = SharedLog::default();
    let builder =
        || consumer(&bootstrap, Some("interop-group")).max_poll_interval(Duration::from_secs(90));
    let m1 = Member::start("m1", builder(), "shared", log.clone(), true);
    let m2 = Member::start("m2", builder(), "shared", log.clone(), true);
    wait_for(&log, Duration::from_secs(180), "every record", |l| {
        l.counts().len() >= 1_000
    })
    .await;
    wait_for(
        &log,
        Duration::from_secs(180),
        "both members assigned",
        |l| {
            ["m1", "m2"]
                .iter()
                .all(|m| l.assignment.get(*m).is_some_and(|s| !s.is_empty()))
        },
    )
    .await;
    {
        let log = log.lock().unwrap();
        assert_disjoint_and_covering(&log, "shared", 4);
        assert!(
            log.counts().values().all(|n| *n == 1),
            "repeats: {:?}",
            log.errors
        );
    }
    m1.stop(Ending::Close).await;
    m2.stop(Ending::Close).await;

    // The commits are visible to a later reader of the group.
    let reader = consumer(&bootstrap, Some("interop-group")).build().unwrap();
    let all = (0..4).map(|p| TopicPartition::new("shared", p)).collect();
    let committed = reader.committed(&all).await.unwrap();
    assert!(
        committed
            .values()
            .all(|c| c.as_ref().map(|o| o.offset) == Some(250)),
        "{committed:?}"
    );
}
