//! The client core's response decoding: header strip, wire-guard check and
//! decode (`durian_core::protocol`), for the responses durian's clients
//! read. Input: one byte picks the API, one byte the version (taken modulo
//! the versions kafka-protocol knows), the rest is the frame after the size.

#![no_main]

use bytes::Bytes;
use durian_core::protocol::{decode_body, strip_response_header};
use kafka_protocol::messages::{self, ApiKey};
use kafka_protocol::protocol::{Decodable, Message};
use libfuzzer_sys::fuzz_target;

fn decode<R: Decodable + Message>(api: ApiKey, version_byte: u8, frame: &[u8]) {
    let span = (R::VERSIONS.max - R::VERSIONS.min + 1).max(1) as u8;
    let version = R::VERSIONS.min + i16::from(version_byte % span);
    let frame = Bytes::copy_from_slice(frame);
    let Ok(body) = strip_response_header(frame, api.response_header_version(version)) else {
        return;
    };
    let _ = decode_body::<R>(api, body, version);
}

fuzz_target!(|data: &[u8]| {
    let [api, version, frame @ ..] = data else {
        return;
    };
    match api % 18 {
        0 => decode::<messages::ApiVersionsResponse>(ApiKey::ApiVersions, *version, frame),
        1 => decode::<messages::MetadataResponse>(ApiKey::Metadata, *version, frame),
        2 => decode::<messages::ProduceResponse>(ApiKey::Produce, *version, frame),
        3 => decode::<messages::FetchResponse>(ApiKey::Fetch, *version, frame),
        4 => decode::<messages::ListOffsetsResponse>(ApiKey::ListOffsets, *version, frame),
        5 => decode::<messages::FindCoordinatorResponse>(ApiKey::FindCoordinator, *version, frame),
        6 => decode::<messages::JoinGroupResponse>(ApiKey::JoinGroup, *version, frame),
        7 => decode::<messages::SyncGroupResponse>(ApiKey::SyncGroup, *version, frame),
        8 => decode::<messages::HeartbeatResponse>(ApiKey::Heartbeat, *version, frame),
        9 => decode::<messages::LeaveGroupResponse>(ApiKey::LeaveGroup, *version, frame),
        10 => decode::<messages::OffsetCommitResponse>(ApiKey::OffsetCommit, *version, frame),
        11 => decode::<messages::OffsetFetchResponse>(ApiKey::OffsetFetch, *version, frame),
        12 => decode::<messages::InitProducerIdResponse>(ApiKey::InitProducerId, *version, frame),
        13 => decode::<messages::CreateTopicsResponse>(ApiKey::CreateTopics, *version, frame),
        14 => decode::<messages::DescribeGroupsResponse>(ApiKey::DescribeGroups, *version, frame),
        15 => decode::<messages::DescribeConfigsResponse>(ApiKey::DescribeConfigs, *version, frame),
        16 => decode::<messages::DeleteRecordsResponse>(ApiKey::DeleteRecords, *version, frame),
        _ => decode::<messages::ListGroupsResponse>(ApiKey::ListGroups, *version, frame),
    }
});
