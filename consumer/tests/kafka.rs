//! The consumer against Apache Kafka 4.x, the reference broker (one KRaft
//! node run by durian-testkit's `KafkaCluster`), over the classic group
//! protocol.
//!
//! The jars come from `DURIAN_KAFKA_LIBS`, else `<repo>/.peers/kafka/libs`
//! (fetched by scripts/install-peers.sh). Without them the tests are
//! skipped with a message, or fail when `DURIAN_REQUIRE_PEERS=1`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::members::{assert_disjoint_and_covering, wait_for, Ending, Member, SharedLog};
use common::{admin, consumer, create_topic, produce_by_name as produce, read_in_order_to};
use durian_consumer::TopicPartition;
use durian_testkit::KafkaCluster;

#[tokio::test]
async fn assigned_partitions_are_read_in_order_with_keys_and_end_offsets() {
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    let admin = admin(&kafka.bootstrap()).await;
    create_topic(&admin, "interop", 2).await;
    produce(&admin, "interop", 0, 0, 3_000, 40).await;
    produce(&admin, "interop", 1, 0, 2_000, 500).await;

    let mut consumer = consumer(&kafka.bootstrap(), None).build().unwrap();
    let partitions = [
        TopicPartition::new("interop", 0),
        TopicPartition::new("interop", 1),
    ];
    consumer.assign(partitions.clone()).unwrap();
    read_in_order_to(&mut consumer, &[3_000, 2_000], |record| {
        assert_eq!(
            record.key.as_deref(),
            Some(record.offset.to_string().as_bytes()),
            "key of {}@{}",
            record.partition,
            record.offset
        );
        assert_eq!(record.timestamp, 1_700_000_000_000 + record.offset);
    })
    .await;
    assert_eq!(consumer.lag(&partitions[1]), Some(0));
    assert_eq!(consumer.position(&partitions[0]).await.unwrap(), 3_000);
    let ends = consumer.end_offsets(&partitions).await.unwrap();
    assert_eq!(ends[&partitions[0]], 3_000);
    assert_eq!(ends[&partitions[1]], 2_000);
    let starts = consumer.beginning_offsets(&partitions).await.unwrap();
    assert!(starts.values().all(|o| *o == 0), "{starts:?}");
    // A seek back re-reads from there.
    consumer.seek(&partitions[1], 1_990).unwrap();
    let mut again = Vec::new();
    while again.len() < 10 {
        let batch = consumer.poll(Duration::from_secs(2)).await.unwrap();
        again.extend(batch.into_iter().map(|r| (r.partition, r.offset)));
    }
    assert_eq!(again, (1_990..2_000).map(|o| (1, o)).collect::<Vec<_>>());
}

/// Three members split six partitions two by two and each reads its own;
/// each commits after every poll. One leaves cleanly (commit, LeaveGroup)
/// and the other two take its partitions over from its commit: across the
/// whole run every record is read exactly once, and the group's commits
/// end at the end offsets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_share_partitions_commit_and_one_leaves_cleanly() {
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    let bootstrap = kafka.bootstrap();
    let admin = admin(&bootstrap).await;
    // Round 0 waits in the topic before anyone joins; round 1 comes once
    // the three members own two partitions each (so each reads some);
    // round 2 after m3 has left.
    let (topic, partitions) = ("shared", 6);
    let rounds = [(0, 100), (100, 200), (300, 200)];
    create_topic(&admin, topic, partitions).await;
    let produce_round = |(first, count): (usize, usize)| {
        let admin = admin.clone();
        async move {
            for partition in 0..partitions {
                produce(&admin, topic, partition, first, count, 50).await;
            }
        }
    };
    produce_round(rounds[0]).await;

    let log = SharedLog::default();
    let builder = || consumer(&bootstrap, Some("kafka-group"));
    let m1 = Member::start("m1", builder(), topic, log.clone(), true);
    let m2 = Member::start("m2", builder(), topic, log.clone(), true);
    let m3 = Member::start("m3", builder(), topic, log.clone(), true);
    wait_for(
        &log,
        Duration::from_secs(90),
        "two partitions for each of three",
        |l| {
            ["m1", "m2", "m3"]
                .iter()
                .all(|m| l.assignment.get(*m).is_some_and(|s| s.len() == 2))
        },
    )
    .await;
    produce_round(rounds[1]).await;
    let total = partitions as usize * (rounds[0].1 + rounds[1].1);
    wait_for(
        &log,
        Duration::from_secs(90),
        "every record of rounds 0 and 1",
        |l| l.counts().len() >= total,
    )
    .await;
    {
        let log = log.lock().unwrap();
        assert_disjoint_and_covering(&log, topic, partitions);
        for member in ["m1", "m2", "m3"] {
            assert!(
                log.deliveries.iter().any(|(m, ..)| m == member),
                "{member} read nothing from its partitions: {:?}",
                log.assignment
            );
        }
    }

    m3.stop(Ending::Close).await;
    wait_for(
        &log,
        Duration::from_secs(60),
        "m1 and m2 own everything",
        |l| {
            l.assignment.get("m3").is_none_or(|s| s.is_empty())
                && ["m1", "m2"]
                    .iter()
                    .map(|m| l.assignment.get(*m).map_or(0, |s| s.len()))
                    .sum::<usize>()
                    == partitions as usize
        },
    )
    .await;
    produce_round(rounds[2]).await;
    let end = rounds[2].0 + rounds[2].1;
    let total = partitions as usize * end;
    wait_for(
        &log,
        Duration::from_secs(90),
        "every record of both rounds",
        |l| l.counts().len() >= total,
    )
    .await;
    m1.stop(Ending::Close).await;
    m2.stop(Ending::Close).await;

    {
        let log = log.lock().unwrap();
        assert!(
            log.errors.is_empty(),
            "poll or commit errors: {:?}",
            log.errors
        );
        let repeats: BTreeMap<_, _> = log.counts().into_iter().filter(|(_, n)| *n != 1).collect();
        assert!(
            repeats.is_empty(),
            "records read more than once: {repeats:?}"
        );
        assert_eq!(log.counts().len(), total, "records lost");
    }

    let reader = consumer(&bootstrap, Some("kafka-group")).build().unwrap();
    let all = (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    let committed = reader.committed(&all).await.unwrap();
    assert!(
        committed
            .values()
            .all(|c| c.as_ref().map(|o| o.offset) == Some(end as i64)),
        "{committed:?}"
    );
}
