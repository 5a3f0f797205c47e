//! The pieces must concatenate to exactly kafka-protocol's encoding, at
//! every version served, whatever the response carries.

#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, EpochEndOffset, FetchableTopicResponse, LeaderIdAndEpoch, NodeEndpoint,
    PartitionData, SnapshotId,
};
use kafka_protocol::messages::{BrokerId, FetchResponse, ProducerId, TopicName};
use kafka_protocol::protocol::{Encodable, StrBytes};
use uuid::Uuid;

use super::*;
use crate::handlers::error_reply::fetch_partition as error_partition;
use crate::handlers::fetch;
use crate::server::frame::response_frame;

/// Record bytes of `len` that are not all alike, so a misplaced cut shows.
fn records(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

fn partition(index: i32, records: Option<Bytes>) -> PartitionData {
    PartitionData::default()
        .with_partition_index(index)
        .with_high_watermark(1_000 + i64::from(index))
        .with_last_stable_offset(900)
        .with_log_start_offset(3)
        .with_aborted_transactions(Some(Vec::new()))
        .with_records(records)
}

/// A response with what a fetch can carry at `version`: large records
/// (several needing multi-byte varint lengths), small, empty and null
/// records, errors, aborted transactions (listed, empty and null), and
/// from v12 tagged fields, known and unknown, on every level.
fn rich_response(version: i16) -> FetchResponse {
    let flexible = version >= 12;
    let mut first = vec![
        partition(0, Some(records(70_000, 1))).with_aborted_transactions(Some(vec![
            AbortedTransaction::default()
                .with_producer_id(ProducerId(7))
                .with_first_offset(12),
            AbortedTransaction::default()
                .with_producer_id(ProducerId(9))
                .with_first_offset(40),
        ])),
        partition(1, Some(records(INLINE_RECORDS_BYTES - 1, 2))),
        partition(2, Some(Bytes::new())).with_aborted_transactions(None),
        partition(3, None),
        error_partition(4, 6),
        partition(5, Some(records(INLINE_RECORDS_BYTES, 3))),
        partition(6, Some(records(127, 4))),
    ];
    if version >= 11 {
        first[1] = first[1].clone().with_preferred_read_replica(BrokerId(2));
    }
    if flexible {
        first[0] = first[0]
            .clone()
            .with_diverging_epoch(EpochEndOffset::default().with_epoch(3).with_end_offset(50))
            .with_unknown_tagged_field(9, Bytes::from_static(b"\x00\x01\x02"));
        first[4] = first[4].clone().with_current_leader(
            LeaderIdAndEpoch::default()
                .with_leader_id(BrokerId(2))
                .with_leader_epoch(5),
        );
        first[5] = first[5]
            .clone()
            .with_snapshot_id(SnapshotId::default().with_epoch(1).with_end_offset(2));
    }
    let second = vec![partition(0, Some(records(2_000_000, 5)))];
    let topic = |name: &str, id: u128, partitions| {
        let topic = FetchableTopicResponse::default().with_partitions(partitions);
        let topic = if version >= 13 {
            topic.with_topic_id(Uuid::from_u128(id))
        } else {
            topic.with_topic(TopicName(StrBytes::from_string(name.to_string())))
        };
        if flexible {
            topic.with_unknown_tagged_field(4, Bytes::from_static(b"tag"))
        } else {
            topic
        }
    };
    let mut response = FetchResponse::default()
        .with_throttle_time_ms(5)
        .with_responses(vec![
            topic("events", 1, first),
            topic("empty-topic", 2, Vec::new()),
            topic("logs", 3, second),
        ]);
    if version >= 7 {
        response = response.with_session_id(77);
    }
    if version >= 16 {
        response = response.with_node_endpoints(vec![NodeEndpoint::default()
            .with_node_id(BrokerId(2))
            .with_host(StrBytes::from_static_str("broker-2"))
            .with_port(9092)
            .with_rack(Some(StrBytes::from_static_str("r1")))]);
    }
    if flexible {
        response = response.with_unknown_tagged_field(7, Bytes::from_static(b"x"));
    }
    response
}

/// kafka-protocol's encoding, the way every response was sent before.
fn whole(response: &FetchResponse, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    response.encode(&mut buf, version).unwrap();
    buf.freeze()
}

fn pieces(response: FetchResponse, version: i16) -> Vec<Bytes> {
    match encode_parts(response.into(), version).unwrap() {
        Reply::Parts(parts) => parts
            .into_iter()
            .map(|part| match part {
                Piece::Bytes(bytes) => bytes,
                Piece::File(_) => panic!("no file ranges were given"),
            })
            .collect(),
        Reply::Body(body) => vec![body],
        Reply::Nothing => panic!("a fetch response is never nothing"),
    }
}

fn joined(parts: &[Bytes]) -> Vec<u8> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

#[test]
fn pieces_join_to_kafka_protocols_encoding_at_every_version() {
    for version in fetch::VERSIONS.min..=fetch::VERSIONS.max {
        let response = rich_response(version);
        let expected = whole(&response, version);
        let parts = pieces(response, version);
        assert_eq!(
            joined(&parts),
            &expected[..],
            "Fetch v{version}: pieces differ from kafka-protocol's encoding"
        );
    }
}

#[test]
fn large_records_are_sent_by_reference_and_small_ones_inline() {
    for version in [4, 11, 12, 13, 17] {
        let response = rich_response(version);
        let large: Vec<Bytes> = response
            .responses
            .iter()
            .flat_map(|t| &t.partitions)
            .filter_map(|p| p.records.clone())
            .filter(|r| r.len() >= INLINE_RECORDS_BYTES)
            .collect();
        assert_eq!(large.len(), 3);
        let parts = pieces(response, version);
        // Structure, records, structure, records, structure, records, structure.
        assert_eq!(parts.len(), 2 * large.len() + 1, "v{version}");
        for (records, part) in large.iter().zip(parts.iter().skip(1).step_by(2)) {
            assert_eq!(
                part.as_ptr(),
                records.as_ptr(),
                "v{version}: records were copied, not referenced"
            );
            assert_eq!(part.len(), records.len());
        }
        let structure: usize = parts.iter().step_by(2).map(Bytes::len).sum();
        assert!(
            structure < 2_000,
            "v{version}: structure of {structure} bytes"
        );
    }
}

#[test]
fn responses_without_large_records_stay_one_buffer() {
    for version in [4, 12, 13] {
        let response =
            FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
                .with_topic(TopicName(StrBytes::from_static_str("t")))
                .with_topic_id(Uuid::from_u128(5))
                .with_partitions(vec![
                    partition(0, Some(records(100, 1))),
                    partition(1, None),
                    error_partition(2, 3),
                ])]);
        let expected = whole(&response, version);
        let Reply::Body(body) = encode_parts(response.into(), version).unwrap() else {
            panic!("v{version}: small records were split out");
        };
        assert_eq!(body, expected);
    }
    // A session error: no partitions at all.
    let response = FetchResponse::default().with_error_code(70);
    assert_eq!(pieces(response.clone(), 12), vec![whole(&response, 12)]);
}

#[test]
fn the_framed_response_is_the_old_frame_byte_for_byte() {
    for (version, header_version) in [(4, 0), (11, 0), (12, 1), (13, 1), (17, 1)] {
        let response = rich_response(version);
        let body = whole(&response, version);
        // The frame as built before: length, correlation id, header tags, body.
        let mut old = Vec::new();
        let header_len = if header_version >= 1 { 5 } else { 4 };
        old.extend_from_slice(&((header_len + body.len()) as i32).to_be_bytes());
        old.extend_from_slice(&42i32.to_be_bytes());
        if header_version >= 1 {
            old.push(0);
        }
        old.extend_from_slice(&body);
        let body = pieces(response, version)
            .into_iter()
            .map(Piece::Bytes)
            .collect();
        let frame = response_frame(42, header_version, body).unwrap();
        assert_eq!(frame.wire_len(), old.len(), "v{version}");
        assert_eq!(&frame.to_bytes()[..], &old[..], "v{version}");
    }
}

#[test]
fn encodings_that_differ_elsewhere_are_not_spliced() {
    let records = Piece::Bytes(records(1_000, 1));
    // Same length, but a difference that is no records field.
    let with_null = [0u8, 0xff, 0xff, 0xff, 0xff, 9];
    let with_empty = Bytes::from_static(&[0u8, 0, 0, 0, 0, 8]);
    assert!(splice(&with_null, &with_empty, &[&records], false).is_none());
    // One records field, two records to place.
    let with_empty = Bytes::from_static(&[0u8, 0, 0, 0, 0, 9]);
    assert!(splice(&with_null, &with_empty, &[&records, &records], false).is_none());
    assert!(splice(&with_null, &with_empty, &[&records], false).is_some());
    // A flexible field written as the non-flexible one would be.
    assert!(splice(&with_null, &with_empty, &[&records], true).is_none());
    // Lengths differ.
    assert!(splice(&with_null[..5], &with_empty, &[&records], false).is_none());
}

/// A segment file holding `bytes`, open for reading.
fn file_of(bytes: &[u8]) -> (tempfile::TempDir, std::sync::Arc<std::fs::File>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    std::fs::write(&path, bytes).unwrap();
    let file = std::sync::Arc::new(std::fs::File::open(&path).unwrap());
    (dir, file)
}

/// Placeholders are replaced by the file ranges they name, as pieces of
/// their own, and the frame is the one the records in memory would give.
#[test]
fn placeholders_become_the_file_ranges_they_name() {
    let content = records(20_000, 9);
    let (_dir, file) = file_of(&content);
    let ranges = [(100u64, 5_000usize), (9_000, 600), (12_000, 8_000)];
    let files: Vec<FileRange> = ranges
        .iter()
        .map(|&(at, len)| FileRange::new(file.clone(), at, len))
        .collect();
    let slice = |i: usize| {
        let (at, len) = ranges[i];
        content.slice(at as usize..at as usize + len)
    };
    for version in [4, 11, 12, 13, 17] {
        let build = |records: &dyn Fn(usize) -> Bytes| {
            FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
                .with_topic(TopicName(StrBytes::from_static_str("t")))
                .with_topic_id(Uuid::from_u128(5))
                .with_partitions(vec![
                    partition(0, Some(records(1))),
                    partition(1, Some(records(0))),
                    partition(2, Some(self::records(700, 3))),
                    partition(3, Some(records(2))),
                    error_partition(4, 3),
                ])])
        };
        let in_memory = build(&slice);
        let with_tokens = build(&file_token);
        let answer = fetch::FetchAnswer {
            response: with_tokens,
            files: files.clone(),
        };
        let Reply::Parts(parts) = encode_parts(answer, version).unwrap() else {
            panic!("v{version}: ranges were not split out");
        };
        let file_pieces: Vec<usize> = parts
            .iter()
            .filter_map(|p| match p {
                Piece::File(range) => Some(range.len()),
                Piece::Bytes(_) => None,
            })
            .collect();
        assert_eq!(
            file_pieces,
            vec![600, 5_000, 8_000],
            "v{version}: wire order"
        );
        let frame = response_frame(7, 1, parts).unwrap();
        let expected = response_frame(7, 1, vec![Piece::Bytes(whole(&in_memory, version))])
            .unwrap()
            .to_bytes();
        assert_eq!(frame.to_bytes(), expected, "v{version}");
    }
}

/// A placeholder naming no range is refused, never sent as records.
#[test]
fn a_placeholder_without_its_range_is_an_error() {
    let response = FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_static_str("t")))
        .with_partitions(vec![partition(0, Some(file_token(3)))])]);
    assert!(encode_parts(response.into(), 12).is_err());
    assert_eq!(token_index(&file_token(3)), Some(3));
    assert_eq!(token_index(&records(12, 0)), None);
}
