//! The broker's request decoding path, as `server::dispatch` runs it on
//! every frame: prefix, API lookup and version range, header decode, then
//! the wire-guarded body decode of that API. The input is one frame
//! without its 4-byte size. Nothing may panic or allocate without bound.

#![no_main]

use bytes::Bytes;
use durian_broker::fuzzing::{decode_guarded, decode_header, served_versions, RequestPrefix};
use kafka_protocol::messages::{self, ApiKey};
use libfuzzer_sys::fuzz_target;

/// Decodes `body` as the request type of `api`; the result is dropped
/// (errors are the expected outcome for most inputs).
fn decode_body(api: ApiKey, body: &Bytes, version: i16) {
    macro_rules! decode {
        ($($key:ident => $request:ty),* $(,)?) => {
            match api {
                $(ApiKey::$key => { let _ = decode_guarded::<$request>(body, version); })*
                _ => {}
            }
        };
    }
    decode!(
        Produce => messages::ProduceRequest,
        Fetch => messages::FetchRequest,
        ListOffsets => messages::ListOffsetsRequest,
        Metadata => messages::MetadataRequest,
        OffsetCommit => messages::OffsetCommitRequest,
        OffsetFetch => messages::OffsetFetchRequest,
        FindCoordinator => messages::FindCoordinatorRequest,
        JoinGroup => messages::JoinGroupRequest,
        Heartbeat => messages::HeartbeatRequest,
        LeaveGroup => messages::LeaveGroupRequest,
        SyncGroup => messages::SyncGroupRequest,
        DescribeGroups => messages::DescribeGroupsRequest,
        ListGroups => messages::ListGroupsRequest,
        ApiVersions => messages::ApiVersionsRequest,
        CreateTopics => messages::CreateTopicsRequest,
        DeleteTopics => messages::DeleteTopicsRequest,
        DeleteRecords => messages::DeleteRecordsRequest,
        InitProducerId => messages::InitProducerIdRequest,
        OffsetForLeaderEpoch => messages::OffsetForLeaderEpochRequest,
        DescribeConfigs => messages::DescribeConfigsRequest,
        AlterConfigs => messages::AlterConfigsRequest,
        CreatePartitions => messages::CreatePartitionsRequest,
        DeleteGroups => messages::DeleteGroupsRequest,
        IncrementalAlterConfigs => messages::IncrementalAlterConfigsRequest,
        OffsetDelete => messages::OffsetDeleteRequest,
        DescribeCluster => messages::DescribeClusterRequest,
    );
}

fuzz_target!(|data: &[u8]| {
    let frame = Bytes::copy_from_slice(data);
    let Some(prefix) = RequestPrefix::parse(&frame) else {
        return;
    };
    let Ok(api) = ApiKey::try_from(prefix.api_key) else {
        return;
    };
    let Some((min, max)) = served_versions(api) else {
        return;
    };
    let version = prefix.api_version;
    if version < min || version > max {
        return;
    }
    let Ok((_header, body)) = decode_header(api, prefix, &frame) else {
        return;
    };
    decode_body(api, &body, version);
});
