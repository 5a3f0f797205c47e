//! Leader epochs in the fetcher: stale answers, diverging epochs and
//! validation outcomes, without sockets.
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use durian_core::record::{set_base_offset, set_partition_leader_epoch, BatchWriter, NO_HEADERS};
use durian_core::ClientConfig;
use kafka_protocol::messages::fetch_response::{
    EpochEndOffset, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;

use super::*;
use crate::config::OffsetReset;
use kafka_protocol::messages::FetchResponse;

/// A batch of `count` records at `base`, written under leader `epoch`.
fn batch(base: i64, epoch: i32, count: usize) -> Bytes {
    let mut writer = BatchWriter::builder().build();
    for _ in 0..count {
        writer
            .try_append(1_000, None, Some(b"v".as_slice()), NO_HEADERS)
            .unwrap();
    }
    let mut bytes = BytesMut::from(&writer.finish().unwrap()[..]);
    set_base_offset(&mut bytes, base).unwrap();
    set_partition_leader_epoch(&mut bytes, epoch).unwrap();
    bytes.freeze()
}

fn fetcher(policy: OffsetReset) -> (Fetcher, TopicPartition) {
    let client = Client::new(
        ClientConfig::builder()
            .bootstrap_servers(["127.0.0.1:9"])
            .build()
            .unwrap(),
    )
    .unwrap();
    let mut config = ConsumerConfig::new(client.config().clone());
    config.auto_offset_reset = policy;
    let mut fetcher = Fetcher::new(client, Arc::new(config));
    let tp = TopicPartition::new("t", 0);
    fetcher.add([tp.clone()]);
    (fetcher, tp)
}

/// A fetch answer for partition 0 of "t".
fn answer(data: PartitionData) -> FetchResponse {
    FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_static_str("t")))
        .with_partitions(vec![data.with_partition_index(0)])])
}

/// The plan of a fetch sent for the cursor as it is now, under `epoch`.
fn plan(fetcher: &Fetcher, tp: &TopicPartition, epoch: i32) -> FetchPlan {
    let cursor = fetcher.cursor(tp).unwrap();
    FetchPlan {
        node: 1,
        partitions: vec![Planned {
            tp: tp.clone(),
            version: cursor.version,
            offset: cursor.position.unwrap(),
            leader_epoch: epoch,
        }],
        lane: 0,
        session: super::session::SessionUse::none(),
    }
}

fn diverged(epoch: i32, end_offset: i64) -> PartitionData {
    PartitionData::default().with_diverging_epoch(
        EpochEndOffset::default()
            .with_epoch(epoch)
            .with_end_offset(end_offset),
    )
}

#[tokio::test]
async fn records_carry_the_epoch_into_the_next_fetch() {
    let (mut fetcher, tp) = fetcher(OffsetReset::Earliest);
    fetcher.seek(&tp, 0, None);
    let data = PartitionData::default()
        .with_high_watermark(5)
        .with_records(Some(batch(0, 3, 5)));
    let request_plan = plan(&fetcher, &tp, 3);
    fetcher.handle((request_plan, Ok(answer(data))));
    assert_eq!(fetcher.drain(10).len(), 5);
    assert_eq!(fetcher.positions()[&tp], (5, Some(3)));
}

#[tokio::test]
async fn an_answer_from_an_older_leader_epoch_is_dropped() {
    let (mut fetcher, tp) = fetcher(OffsetReset::Earliest);
    fetcher.seek(&tp, 0, None);
    fetcher.cursor_mut(&tp).unwrap().see_leader_epoch(4);
    let stale = plan(&fetcher, &tp, 3);
    let data = PartitionData::default()
        .with_high_watermark(5)
        .with_records(Some(batch(0, 3, 5)));
    fetcher.handle((stale, Ok(answer(data.clone()))));
    assert!(!fetcher.has_ready(), "records of epoch 3's answer dropped");
    let stale = plan(&fetcher, &tp, 3);
    fetcher.handle((stale, Ok(answer(diverged(2, 0)))));
    assert_eq!(fetcher.positions()[&tp].0, 0, "nor its divergence acted on");

    let current = plan(&fetcher, &tp, 4);
    fetcher.handle((current, Ok(answer(data))));
    assert_eq!(
        fetcher.drain(10).len(),
        5,
        "the current epoch's answer is used"
    );
}

#[tokio::test]
async fn a_diverging_epoch_resumes_at_the_first_diverging_offset() {
    let (mut fetcher, tp) = fetcher(OffsetReset::Earliest);
    fetcher.seek(&tp, 100, Some(2));
    fetcher.cursor_mut(&tp).unwrap().see_leader_epoch(5);
    fetcher.cursor_mut(&tp).unwrap().needs_validation = false;
    let request_plan = plan(&fetcher, &tp, 5);
    fetcher.handle((request_plan, Ok(answer(diverged(2, 80)))));
    assert_eq!(fetcher.positions()[&tp], (80, Some(2)));
    let cursor = fetcher.cursor(&tp).unwrap();
    assert!(cursor.fetchable(), "no reset, no validation: fetch on");
    assert!(cursor.pending_error.is_none());
}

#[tokio::test]
async fn a_diverging_epoch_without_a_reset_policy_is_a_typed_error() {
    let (mut fetcher, tp) = fetcher(OffsetReset::None);
    fetcher.seek(&tp, 100, Some(2));
    let request_plan = plan(&fetcher, &tp, -1);
    fetcher.handle((request_plan, Ok(answer(diverged(2, 80)))));
    let errors = fetcher.take_errors();
    assert!(
        matches!(
            &errors[..],
            [(
                _,
                ConsumerError::LogTruncation {
                    offset: 100,
                    divergent_offset: Some(80),
                    ..
                }
            )]
        ),
        "{errors:?}"
    );
    assert_eq!(
        fetcher.positions()[&tp].0,
        100,
        "the position stays for the application"
    );
}

#[tokio::test]
async fn a_new_leader_epoch_holds_fetching_until_validated() {
    let (mut fetcher, tp) = fetcher(OffsetReset::Earliest);
    fetcher.seek(&tp, 50, Some(1));
    fetcher.cursor_mut(&tp).unwrap().see_leader_epoch(1);
    let asked = fetcher.awaiting_validation()[&tp];
    assert_eq!(
        asked,
        ToValidate {
            current_leader_epoch: 1,
            last_epoch: 1,
            position: 50
        }
    );
    assert!(!fetcher.cursor(&tp).unwrap().fetchable());
    fetcher.validated(
        &tp,
        asked,
        EpochEnd {
            epoch: 1,
            end_offset: 70,
        },
    );
    assert!(fetcher.cursor(&tp).unwrap().fetchable());
    assert!(fetcher.awaiting_validation().is_empty());

    // The same epoch again needs nothing; a newer one does.
    fetcher.cursor_mut(&tp).unwrap().see_leader_epoch(1);
    assert!(fetcher.awaiting_validation().is_empty());
    fetcher.cursor_mut(&tp).unwrap().see_leader_epoch(2);
    let asked = fetcher.awaiting_validation()[&tp];
    fetcher.validated(
        &tp,
        asked,
        EpochEnd {
            epoch: 1,
            end_offset: 45,
        },
    );
    assert_eq!(
        fetcher.positions()[&tp],
        (45, Some(1)),
        "truncated: back to the divergence"
    );
    assert!(
        fetcher.cursor(&tp).unwrap().fetchable(),
        "and not validated again"
    );

    // An epoch the leader does not know: reset by policy.
    fetcher.cursor_mut(&tp).unwrap().see_leader_epoch(3);
    let asked = fetcher.awaiting_validation()[&tp];
    fetcher.validated(
        &tp,
        asked,
        EpochEnd {
            epoch: -1,
            end_offset: -1,
        },
    );
    assert_eq!(fetcher.out_of_range(), vec![tp.clone()]);
}

#[tokio::test]
async fn a_position_without_an_epoch_needs_no_validation() {
    let (mut fetcher, tp) = fetcher(OffsetReset::Earliest);
    fetcher.seek(&tp, 50, None);
    fetcher.cursor_mut(&tp).unwrap().see_leader_epoch(7);
    assert!(fetcher.awaiting_validation().is_empty());
    assert!(fetcher.cursor(&tp).unwrap().fetchable());
}

#[tokio::test]
async fn skipping_past_batches_takes_their_epoch() {
    // Batches wholly skipped (no visible record) still move the epoch, so
    // the next fetch's last fetched epoch matches the log at its offset
    // and the leader sees no divergence.
    let (mut fetcher, tp) = fetcher(OffsetReset::Earliest);
    fetcher.seek(&tp, 0, Some(1));
    fetcher.cursor_mut(&tp).unwrap().needs_validation = false;
    let marker = {
        let mut writer = BatchWriter::builder()
            .producer(9, 0, -1)
            .transactional(true)
            .control(true)
            .build();
        writer
            .try_append(
                1_000,
                Some(&[0, 0, 0, 1]),
                Some(&[0, 0, 0, 0, 0, 0]),
                NO_HEADERS,
            )
            .unwrap();
        let mut bytes = BytesMut::from(&writer.finish().unwrap()[..]);
        set_partition_leader_epoch(&mut bytes, 6).unwrap();
        bytes.freeze()
    };
    let request_plan = plan(&fetcher, &tp, -1);
    let data = PartitionData::default()
        .with_high_watermark(1)
        .with_records(Some(marker));
    fetcher.handle((request_plan, Ok(answer(data))));
    assert_eq!(fetcher.positions()[&tp], (1, Some(6)));
}
