//! Positions on any broker, in assign() mode: seeks, offset lookups,
//! pause and resume, and manual commits read back by a new consumer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use durian_consumer::{OffsetAndMetadata, TopicPartition};

use crate::common::{admin, consumer, create_topic, produce_by_name, produce_round};

/// assign() mode on two partitions of 100 records: seek to an offset
/// and to the end, a paused partition returns nothing while the other
/// flows (seek_to_beginning on both), resume; offsets_for_times and a
/// seek to the offset it found; end and beginning offsets.
pub async fn seek_pause_and_offset_lookups(bootstrap: &str, topic: &str) {
    let admin = admin(bootstrap).await;
    create_topic(&admin, topic, 2).await;
    produce_round(&admin, topic, 2, 0, 100).await;
    let tp0 = TopicPartition::new(topic, 0);
    let tp1 = TopicPartition::new(topic, 1);

    let mut consumer = consumer(bootstrap, None).build().unwrap();
    consumer.assign([tp0.clone(), tp1.clone()]).unwrap();
    consumer.seek(&tp0, 95).unwrap();
    consumer
        .seek_to_end(std::slice::from_ref(&tp1))
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 5 {
        got.extend(consumer.poll(Duration::from_secs(5)).await.unwrap());
    }
    assert_eq!(
        got.iter()
            .map(|r| (r.partition, r.offset))
            .collect::<Vec<_>>(),
        [(0, 95), (0, 96), (0, 97), (0, 98), (0, 99)]
    );

    consumer.pause(std::slice::from_ref(&tp0));
    consumer
        .seek_to_beginning(&[tp0.clone(), tp1.clone()])
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 100 {
        got.extend(consumer.poll(Duration::from_secs(5)).await.unwrap());
    }
    assert!(
        got.iter().all(|r| r.partition == 1),
        "a paused partition returned records"
    );
    assert_eq!(consumer.paused(), BTreeSet::from([tp0.clone()]));
    consumer.resume(std::slice::from_ref(&tp0));
    let batch = consumer.poll(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        batch.iter().next().map(|r| (r.partition, r.offset)),
        Some((0, 0))
    );

    // produce() stamps record i with 1_700_000_000_000 + i.
    let times = BTreeMap::from([
        (tp0.clone(), 1_700_000_000_040),
        (tp1.clone(), 1_800_000_000_000),
    ]);
    let found = consumer.offsets_for_times(&times).await.unwrap();
    assert_eq!(found[&tp0], Some((40, 1_700_000_000_040)));
    assert_eq!(found[&tp1], None, "no record that late");
    // Seeking to a time: to the offset the lookup found. Partition 1 is
    // read to its end, so the next record comes from partition 0.
    consumer.seek(&tp0, 40).unwrap();
    let mut at_time = Vec::new();
    while at_time.is_empty() {
        at_time.extend(consumer.poll(Duration::from_secs(5)).await.unwrap());
    }
    assert_eq!(
        (
            at_time[0].partition,
            at_time[0].offset,
            at_time[0].timestamp
        ),
        (0, 40, 1_700_000_000_040)
    );
    assert_eq!(
        consumer
            .end_offsets(std::slice::from_ref(&tp1))
            .await
            .unwrap()[&tp1],
        100
    );
    assert_eq!(
        consumer
            .beginning_offsets(std::slice::from_ref(&tp1))
            .await
            .unwrap()[&tp1],
        0
    );
}

/// assign() mode with `group` but no membership: `commit` covers exactly
/// the returned records, `commit_offsets` stores an offset with metadata,
/// and a new consumer of the group starts from it.
pub async fn manual_commits_without_a_group_membership(bootstrap: &str, topic: &str, group: &str) {
    let admin = admin(bootstrap).await;
    create_topic(&admin, topic, 1).await;
    produce_round(&admin, topic, 1, 0, 50).await;
    let tp = TopicPartition::new(topic, 0);

    let mut member = consumer(bootstrap, Some(group))
        .enable_auto_commit(false)
        .max_poll_records(20)
        .build()
        .unwrap();
    member.assign([tp.clone()]).unwrap();
    let first = member.poll(Duration::from_secs(5)).await.unwrap();
    let returned = first.len() as i64;
    assert!(returned > 0 && returned <= 20);
    member.commit().await.unwrap();
    let committed = member
        .committed(&BTreeSet::from([tp.clone()]))
        .await
        .unwrap();
    assert_eq!(
        committed[&tp].as_ref().map(|o| o.offset),
        Some(returned),
        "the commit covers exactly the returned records"
    );

    let mut explicit = BTreeMap::new();
    explicit.insert(
        tp.clone(),
        OffsetAndMetadata {
            offset: 42,
            metadata: Some("checkpoint".into()),
            leader_epoch: None,
        },
    );
    member.commit_offsets(explicit).await.unwrap();
    member.close().await.unwrap();

    // A new consumer of the group starts at the committed offset.
    let mut next = consumer(bootstrap, Some(group))
        .enable_auto_commit(false)
        .build()
        .unwrap();
    next.assign([tp.clone()]).unwrap();
    assert_eq!(next.position(&tp).await.unwrap(), 42);
    let committed = next.committed(&BTreeSet::from([tp.clone()])).await.unwrap();
    assert_eq!(
        committed[&tp]
            .as_ref()
            .and_then(|o| o.metadata.clone())
            .as_deref(),
        Some("checkpoint")
    );
}

/// assign() mode on two partitions of 100 records, 10 records a poll:
/// partition 0 is paused part way; while paused it returns nothing
/// (neither records already fetched nor 10 produced meanwhile) though
/// partition 1 is read to its end; once resumed it continues at the
/// offset after the last one returned, up to its new end, with no gap
/// and no repeat.
pub async fn pause_then_resume_continues_where_it_was(bootstrap: &str, topic: &str) {
    let topic: &str = &format!("{topic}-pause");
    let admin = admin(bootstrap).await;
    create_topic(&admin, topic, 2).await;
    produce_round(&admin, topic, 2, 0, 100).await;
    let tp0 = TopicPartition::new(topic, 0);
    let tp1 = TopicPartition::new(topic, 1);
    let mut consumer = consumer(bootstrap, None)
        .max_poll_records(10)
        .build()
        .unwrap();
    consumer.assign([tp0.clone(), tp1.clone()]).unwrap();
    // next[p]: the offset partition p must return next.
    let mut next = [0i64, 0];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let take = |batch: durian_consumer::PollBatch, next: &mut [i64; 2]| {
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        let mut partitions = Vec::new();
        for record in batch {
            let slot = &mut next[record.partition as usize];
            assert_eq!(
                record.offset, *slot,
                "gap or repeat in {}",
                record.partition
            );
            *slot += 1;
            partitions.push(record.partition);
        }
        partitions
    };
    while next[0] == 0 {
        assert!(tokio::time::Instant::now() < deadline, "nothing from 0");
        take(
            consumer.poll(Duration::from_secs(2)).await.unwrap(),
            &mut next,
        );
    }
    consumer.pause(std::slice::from_ref(&tp0));
    assert_eq!(consumer.paused(), BTreeSet::from([tp0.clone()]));
    let paused_at = next[0];
    assert!(paused_at < 100, "partition 0 read whole before the pause");
    produce_by_name(&admin, topic, 0, 100, 10, 10).await;
    while next[1] < 100 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "1 stalled: {next:?}"
        );
        let partitions = take(
            consumer.poll(Duration::from_secs(2)).await.unwrap(),
            &mut next,
        );
        assert!(
            partitions.iter().all(|p| *p == 1),
            "a paused partition returned records"
        );
    }
    assert_eq!(next[0], paused_at);
    consumer.resume(std::slice::from_ref(&tp0));
    assert!(consumer.paused().is_empty());
    while next[0] < 110 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "0 stalled: {next:?}"
        );
        take(
            consumer.poll(Duration::from_secs(2)).await.unwrap(),
            &mut next,
        );
    }
    assert_eq!(next, [110, 100]);
    assert_eq!(consumer.position(&tp0).await.unwrap(), 110);
}
