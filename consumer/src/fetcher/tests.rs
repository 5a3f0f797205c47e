//! Fetch response processing and cursor bookkeeping, without sockets.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use durian_core::record::{set_base_offset, BatchWriter, NO_HEADERS};
use durian_core::{ClientConfig, KafkaCode};
use kafka_protocol::messages::fetch_response::{AbortedTransaction, PartitionData};
use kafka_protocol::messages::{FetchResponse, ProducerId};

use super::lanes::Lanes;
use super::plan::plan_fetches;
use super::response::FetchedData;
use super::*;
use crate::config::IsolationLevel;

/// A batch at `base` with one record per value.
pub(super) fn batch(base: i64, values: &[&str]) -> Bytes {
    batch_with(BatchWriter::builder(), base, values)
}

fn batch_with(
    builder: durian_core::record::BatchWriterBuilder,
    base: i64,
    values: &[&str],
) -> Bytes {
    let mut writer = builder.build();
    for value in values {
        writer
            .try_append(1_000, None, Some(value.as_bytes()), NO_HEADERS)
            .unwrap();
    }
    let mut bytes = BytesMut::from(&writer.finish().unwrap()[..]);
    set_base_offset(&mut bytes, base).unwrap();
    bytes.freeze()
}

/// A control batch with an abort (0) or commit (1) marker for `producer`.
fn marker(base: i64, producer: i64, kind: i16) -> Bytes {
    let mut writer = BatchWriter::builder()
        .producer(producer, 0, -1)
        .transactional(true)
        .control(true)
        .build();
    let mut key = Vec::new();
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&kind.to_be_bytes());
    writer
        .try_append(1_000, Some(&key), Some(&[0, 0, 0, 0, 0, 0]), NO_HEADERS)
        .unwrap();
    let mut bytes = BytesMut::from(&writer.finish().unwrap()[..]);
    set_base_offset(&mut bytes, base).unwrap();
    bytes.freeze()
}

fn concat(parts: &[Bytes]) -> Bytes {
    let mut all = BytesMut::new();
    for part in parts {
        all.extend_from_slice(part);
    }
    all.freeze()
}

pub(super) fn data(records: Bytes) -> PartitionData {
    PartitionData::default()
        .with_partition_index(2)
        .with_high_watermark(100)
        .with_records(Some(records))
}

fn fetched(outcome: PartitionFetch) -> FetchedData {
    match outcome {
        PartitionFetch::Data(data) => data,
        other => panic!("expected data, got {other:?}"),
    }
}

/// The records of `data` as partition 2 of "t" hands them out.
fn records(data: &FetchedData) -> Vec<ConsumerRecord> {
    let mut buffer = super::buffer::RecordBuffer::default();
    buffer.extend(data.batches.clone());
    assert_eq!(buffer.len(), data.records, "the count matches the records");
    let mut out = Vec::new();
    buffer
        .drain_into(&TopicPartition::new(topic(), 2), usize::MAX, &mut out)
        .unwrap();
    assert!(buffer.is_empty());
    out
}

fn offsets(data: &FetchedData) -> Vec<i64> {
    records(data).iter().map(|r| r.offset).collect()
}

pub(super) fn topic() -> Arc<str> {
    Arc::from("t")
}

#[test]
fn truncated_last_batch_is_left_for_the_next_fetch() {
    let whole = concat(&[batch(0, &["a", "b"]), batch(2, &["c"])]);
    let cut = whole.slice(..whole.len() - 5);
    let out = fetched(process_partition(
        0,
        &data(cut),
        IsolationLevel::ReadUncommitted,
    ));
    assert_eq!(offsets(&out), [0, 1]);
    assert_eq!(out.next_offset, 2, "the cut batch is fetched again");
    assert!(records(&out)
        .iter()
        .all(|r| r.partition == 2 && &*r.topic == "t"));
}

#[test]
fn batch_starting_before_the_fetch_offset_yields_only_later_records() {
    let records = concat(&[batch(0, &["a", "b", "c", "d"]), batch(4, &["e"])]);
    let out = fetched(process_partition(
        2,
        &data(records),
        IsolationLevel::ReadUncommitted,
    ));
    assert_eq!(offsets(&out), [2, 3, 4]);
    assert_eq!(out.next_offset, 5);
}

#[test]
fn empty_records_keep_the_offset() {
    let out = fetched(process_partition(
        7,
        &data(Bytes::new()),
        IsolationLevel::ReadUncommitted,
    ));
    assert!(out.batches.is_empty() && out.records == 0);
    assert_eq!((out.next_offset, out.high_watermark), (7, 100));
    let none = PartitionData::default().with_records(None);
    assert_eq!(
        fetched(process_partition(7, &none, IsolationLevel::ReadUncommitted)).next_offset,
        7
    );
}

#[test]
fn next_offset_comes_from_the_batch_header_on_compacted_topics() {
    // A batch whose last record was compacted away: last_offset_delta says 3
    // records were there, only offsets 10 and 11 remain.
    let mut bytes = BytesMut::from(&batch(10, &["a", "b"])[..]);
    // lastOffsetDelta sits at byte 23, inside the CRC (bytes 17..21), which
    // is recomputed as a compacting broker would.
    bytes[23..27].copy_from_slice(&2i32.to_be_bytes());
    let crc = durian_core::record::compute_crc(&bytes).unwrap();
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    let out = fetched(process_partition(
        10,
        &data(bytes.freeze()),
        IsolationLevel::ReadUncommitted,
    ));
    assert_eq!(offsets(&out), [10, 11]);
    assert_eq!(out.next_offset, 13);
}

#[test]
fn a_batch_with_a_bad_crc_is_reported_never_handed_out() {
    let good = batch(0, &["a", "b"]);
    let mut damaged = BytesMut::from(&batch(2, &["c", "d"])[..]);
    let last = damaged.len() - 1;
    damaged[last] ^= 0x01;
    // Alone, the damaged batch is the partition's error.
    let alone = process_partition(
        2,
        &data(damaged.clone().freeze()),
        IsolationLevel::ReadUncommitted,
    );
    assert!(
        matches!(&alone, PartitionFetch::Corrupt(reason) if reason.contains("CRC")),
        "{alone:?}"
    );
    // Behind good records, those are handed out and the fetch stops before
    // it, so the next fetch (from offset 2) reports it.
    let out = fetched(process_partition(
        0,
        &data(concat(&[good, damaged.freeze()])),
        IsolationLevel::ReadUncommitted,
    ));
    assert_eq!((offsets(&out), out.next_offset), (vec![0, 1], 2));
}

#[test]
fn read_committed_drops_aborted_transactions_and_markers() {
    let txn = |base, values: &[&str], producer| {
        batch_with(
            BatchWriter::builder()
                .producer(producer, 0, 0)
                .transactional(true),
            base,
            values,
        )
    };
    let records = concat(&[
        txn(0, &["aborted-1", "aborted-2"], 7),
        txn(2, &["kept"], 8),
        marker(3, 7, 0),
        marker(4, 8, 1),
        batch(5, &["plain"]),
    ]);
    let mut partition = data(records);
    partition.aborted_transactions = Some(vec![AbortedTransaction::default()
        .with_producer_id(ProducerId(7))
        .with_first_offset(0)]);
    let committed = fetched(process_partition(
        0,
        &partition,
        IsolationLevel::ReadCommitted,
    ));
    assert_eq!(offsets(&committed), [2, 5]);
    assert_eq!(committed.next_offset, 6);
    let uncommitted = fetched(process_partition(
        0,
        &partition,
        IsolationLevel::ReadUncommitted,
    ));
    assert_eq!(
        offsets(&uncommitted),
        [0, 1, 2, 5],
        "markers are never records"
    );
}

#[test]
fn errors_and_corruption_are_reported_per_partition() {
    let error = PartitionData::default().with_error_code(KafkaCode::OFFSET_OUT_OF_RANGE.0);
    assert!(matches!(
        process_partition(0, &error, IsolationLevel::ReadUncommitted),
        PartitionFetch::Error(KafkaCode::OFFSET_OUT_OF_RANGE)
    ));
    let garbage = Bytes::from(vec![0xff; 80]);
    assert!(matches!(
        process_partition(0, &data(garbage), IsolationLevel::ReadUncommitted),
        PartitionFetch::Corrupt(_)
    ));
}

pub(super) fn fetcher() -> Fetcher {
    let client = Client::new(
        ClientConfig::builder()
            .bootstrap_servers(["127.0.0.1:9"])
            .build()
            .unwrap(),
    )
    .unwrap();
    let config = ConsumerConfig::new(client.config().clone());
    Fetcher::new(client, Arc::new(config))
}

#[tokio::test]
async fn drain_advances_positions_only_past_returned_records() {
    let mut fetcher = fetcher();
    let tp = TopicPartition::new("t", 2);
    fetcher.add([tp.clone()]);
    fetcher.seek(&tp, 0, None);
    let records = concat(&[batch(0, &["a", "b", "c"]), marker(3, 9, 1)]);
    let outcome = process_partition(0, &data(records), IsolationLevel::ReadUncommitted);
    fetcher.apply(&tp, 0, outcome);

    let first = fetcher.drain(2);
    assert_eq!(first.len(), 2);
    assert_eq!(
        fetcher.positions()[&tp].0,
        2,
        "only what was handed out counts"
    );
    let rest = fetcher.drain(10);
    assert_eq!(rest.len(), 1);
    assert_eq!(
        fetcher.positions()[&tp].0,
        4,
        "past the control batch once drained"
    );
}

#[tokio::test]
async fn a_seek_discards_buffered_records_and_stale_responses() {
    let (mut fetcher, tp) = holding(batch(0, &["a", "b"]));
    fetcher.seek(&tp, 1, None);
    assert!(fetcher.drain(10).is_empty());
    assert_eq!(fetcher.positions()[&tp].0, 1);

    // A response for the cursor's old version is ignored.
    let plan = FetchPlan {
        node: 1,
        partitions: vec![Planned {
            tp: tp.clone(),
            version: 0,
            offset: 0,
            leader_epoch: -1,
        }],
        lane: 0,
        session: super::session::SessionUse::none(),
    };
    let response = FetchResponse::default();
    fetcher.handle((plan, Ok(response)));
    assert!(!fetcher.has_ready());
}

#[tokio::test]
async fn paused_partitions_are_neither_drained_nor_fetched() {
    let mut fetcher = fetcher();
    let tp = TopicPartition::new("t", 2);
    fetcher.add([tp.clone()]);
    fetcher.seek(&tp, 0, None);
    fetcher.apply(
        &tp,
        0,
        process_partition(0, &data(batch(0, &["a"])), IsolationLevel::ReadUncommitted),
    );
    fetcher.cursor_mut(&tp).unwrap().paused = true;
    assert!(fetcher.drain(10).is_empty());
    assert!(!fetcher.cursor(&tp).unwrap().fetchable());
    fetcher.cursor_mut(&tp).unwrap().paused = false;
    assert_eq!(fetcher.drain(10).len(), 1);
}

/// Cursors for partitions 0 and 1 of "t", both at offset 10.
fn two_partitions() -> (Fetcher, TopicPartition, TopicPartition) {
    let mut fetcher = fetcher();
    let (p0, p1) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
    fetcher.add([p0.clone(), p1.clone()]);
    fetcher.seek(&p0, 10, None);
    fetcher.seek(&p1, 10, None);
    (fetcher, p0, p1)
}

#[tokio::test]
async fn a_long_poll_waits_while_another_partition_drains() {
    let (mut fetcher, p0, p1) = two_partitions();
    fetcher.cursor_mut(&p0).unwrap().readable_end = Some(10);
    fetcher.apply(
        &p1,
        10,
        process_partition(
            10,
            &data(batch(10, &["a", "b"])),
            IsolationLevel::ReadUncommitted,
        ),
    );
    let plan = |fetcher: &Fetcher| plan_fetches(&fetcher.cursors, &Lanes::new(1), 0, |_| Some(1));
    assert!(
        plan(&fetcher).fetches.is_empty(),
        "p0 alone would be a long poll holding p1's next fetch back"
    );

    // Once p1 is drained, both go in one fetch, answered at once for p1.
    assert_eq!(fetcher.drain(10).len(), 2);
    assert_eq!(
        FetchKind::of(fetcher.cursor(&p1).unwrap()),
        FetchKind::Reading
    );
    assert_eq!(
        plan(&fetcher).fetches,
        BTreeMap::from([(1, vec![p0.clone(), p1.clone()])])
    );

    // A paused partition drains nothing and holds nothing back.
    fetcher.apply(
        &p1,
        12,
        process_partition(
            12,
            &data(batch(12, &["c"])),
            IsolationLevel::ReadUncommitted,
        ),
    );
    fetcher.cursor_mut(&p1).unwrap().paused = true;
    assert_eq!(
        plan(&fetcher).fetches,
        BTreeMap::from([(1, vec![p0.clone()])])
    );

    // Nor does a partition of another broker.
    fetcher.cursor_mut(&p1).unwrap().paused = false;
    let planning = plan_fetches(&fetcher.cursors, &Lanes::new(1), 0, |tp| Some(tp.partition));
    assert_eq!(planning.fetches, BTreeMap::from([(0, vec![p0])]));
}

#[tokio::test]
async fn a_busy_broker_gets_no_second_fetch() {
    let (fetcher, p0, p1) = two_partitions();
    let mut busy = Lanes::new(1);
    busy.take(1, FetchKind::Reading);
    let planning = plan_fetches(&fetcher.cursors, &busy, 0, |tp| {
        (tp.partition == 1).then_some(1)
    });
    assert!(planning.fetches.is_empty());
    assert!(planning.leaderless, "p0 has no leader");
    let planning = plan_fetches(&fetcher.cursors, &Lanes::new(1), 0, |_| Some(1));
    assert_eq!(
        planning.fetches,
        BTreeMap::from([(1, vec![p0, p1])]),
        "an unknown log end may have records"
    );
}

#[tokio::test]
async fn a_response_moves_a_drained_partition_to_the_long_poll() {
    let (mut fetcher, p0, _) = two_partitions();
    let records = batch(10, &["a", "b"]);
    let mut partition = data(records);
    partition.high_watermark = 12;
    fetcher.apply(
        &p0,
        10,
        process_partition(10, &partition, IsolationLevel::ReadUncommitted),
    );
    assert_eq!(fetcher.cursor(&p0).unwrap().readable_end, Some(12));
    assert_eq!(fetcher.drain(1).len(), 1);
    assert_eq!(
        FetchKind::of(fetcher.cursor(&p0).unwrap()),
        FetchKind::Reading
    );
    assert_eq!(fetcher.drain(1).len(), 1);
    assert_eq!(
        FetchKind::of(fetcher.cursor(&p0).unwrap()),
        FetchKind::LongPoll
    );
}

#[tokio::test]
async fn buffered_bytes_are_the_batches_held() {
    let first = batch(0, &["aa", "bbb", "cccc"]);
    let second = batch(3, &["d"]);
    // A batch holds its records section: the batch less its 61-byte header.
    let held = first.len() - 61 + second.len() - 61;
    let (mut fetcher, _) = holding(concat(&[first.clone(), second]));
    assert_eq!(fetcher.buffered(), (4, held, 0));
    assert_eq!(fetcher.drain(2).len(), 2);
    assert_eq!(
        fetcher.buffered(),
        (2, held, 0),
        "a batch is held until its last record is out"
    );
    assert_eq!(fetcher.drain(1).len(), 1);
    assert_eq!(fetcher.buffered(), (1, held - (first.len() - 61), 0));
    assert_eq!(fetcher.drain(10).len(), 1);
    assert_eq!(fetcher.buffered(), (0, 0, 0));
}

/// `bytes` with its CRC recomputed, as a producer that wrote them would.
fn with_crc(mut bytes: BytesMut) -> Bytes {
    let crc = durian_core::record::compute_crc(&bytes).unwrap();
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    bytes.freeze()
}

/// A fetcher holding `records` for partition 2 of "t", read from offset 0.
pub(super) fn holding(records: Bytes) -> (Fetcher, TopicPartition) {
    let mut fetcher = fetcher();
    let tp = TopicPartition::new("t", 2);
    fetcher.add([tp.clone()]);
    fetcher.seek(&tp, 0, None);
    let outcome = process_partition(0, &data(records), IsolationLevel::ReadUncommitted);
    fetcher.apply(&tp, 0, outcome);
    (fetcher, tp)
}

#[tokio::test]
async fn an_undecodable_record_stops_the_partition_there() {
    // Records 0..3 of one-byte-key-less values "aa", "bb", "cc": record 1
    // starts 9 bytes after the header, its value length 5 bytes further.
    // Claiming 63 value bytes makes it undecodable under a valid CRC.
    let mut bytes = BytesMut::from(&batch(0, &["aa", "bb", "cc"])[..]);
    assert_eq!(bytes[61 + 9 + 5], 0x04, "value length 2, zigzag-encoded");
    bytes[61 + 9 + 5] = 0x7e;
    let (mut fetcher, tp) = holding(with_crc(bytes));
    let version = fetcher.cursor(&tp).unwrap().version;
    let drained = fetcher.drain(10);
    assert_eq!(drained.iter().map(|r| r.offset).collect::<Vec<_>>(), [0]);
    assert_eq!(fetcher.buffered(), (0, 0, 0), "nothing after it is kept");
    let cursor = fetcher.cursor(&tp).unwrap();
    assert_eq!(cursor.position, Some(1));
    assert_eq!(
        cursor.fetch_offset(),
        Some(1),
        "fetched again from the record"
    );
    assert!(
        cursor.version > version,
        "a fetch ahead in flight is dropped"
    );
    let errors = fetcher.take_errors();
    assert!(
        matches!(&errors[..], [(p, ConsumerError::CorruptBatch { offset: 1, .. })] if *p == tp),
        "{errors:?}"
    );
}

#[tokio::test]
async fn bytes_after_a_batchs_last_record_are_reported_after_its_records() {
    let mut bytes = BytesMut::from(&batch(0, &["a", "b"])[..]);
    bytes.extend_from_slice(&[0]);
    let length = i32::from_be_bytes(bytes[8..12].try_into().unwrap()) + 1;
    bytes[8..12].copy_from_slice(&length.to_be_bytes());
    let (mut fetcher, tp) = holding(with_crc(bytes));
    assert_eq!(
        fetcher.drain(10).len(),
        2,
        "the records themselves are sound"
    );
    let errors = fetcher.take_errors();
    assert!(
        matches!(&errors[..], [(p, ConsumerError::CorruptBatch { offset: 2, .. })] if *p == tp),
        "{errors:?}"
    );
}

/// Reads with `fetcher` as `poll` does (fetches started after each drain)
/// until `counts` records arrived in all, and returns each partition's offsets in order of
/// delivery.
pub(super) async fn read_as_poll_does(
    fetcher: &mut Fetcher,
    already: BTreeMap<TopicPartition, Vec<i64>>,
    counts: usize,
) -> BTreeMap<TopicPartition, Vec<i64>> {
    let mut read = already;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while read.values().map(Vec::len).sum::<usize>() < counts {
        assert!(tokio::time::Instant::now() < deadline, "read {read:?}");
        fetcher.handle_ready();
        let drained = fetcher.drain_by_partition(5);
        if drained.is_empty() {
            fetcher.start_fetches();
            if fetcher.fetching() {
                tokio::time::timeout(Duration::from_secs(10), fetcher.wait_and_handle())
                    .await
                    .unwrap();
            }
            continue;
        }
        for (tp, records) in drained {
            read.entry(tp)
                .or_default()
                .extend(records.iter().map(|r| r.offset));
        }
        fetcher.start_fetches();
    }
    read
}
