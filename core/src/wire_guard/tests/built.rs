//! Messages built with kafka-protocol's own types (Default + setters), as
//! durian's broker and client build them, encoded by kafka-protocol at
//! every version: the guard must accept each and consume exactly its bytes.
//! These cover the messages with the deepest nesting and the tagged fields
//! kafka-protocol decodes itself; `roundtrip.rs` covers every message.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, Message, StrBytes};
use uuid::Uuid;

use crate::wire_guard::{check, Direction, GuardError};

// The exact checks (trailing bytes refused), so a table that stops short
// of the message's end fails here.
fn check_request(api_key: i16, version: i16, body: &[u8]) -> Result<(), GuardError> {
    check(Direction::Request, api_key, version, body)
}

fn check_response(api_key: i16, version: i16, body: &[u8]) -> Result<(), GuardError> {
    check(Direction::Response, api_key, version, body)
}

fn s(text: &'static str) -> StrBytes {
    StrBytes::from_static_str(text)
}

fn topic(text: &'static str) -> TopicName {
    TopicName(s(text))
}

/// `Some(text)` unless the version allows null, in which case `None`
/// (so both encodings appear across a message).
fn maybe(text: &'static str, null_allowed: bool) -> Option<StrBytes> {
    (!null_allowed).then(|| s(text))
}

/// Adds an unknown tagged field in flexible versions, which the guard must
/// skip by size.
fn tag<M: HasTags>(message: M, flexible: bool) -> M {
    if flexible {
        message.with_tag(99, Bytes::from_static(b"unknown"))
    } else {
        message
    }
}

trait HasTags: Sized {
    fn with_tag(self, key: i32, value: Bytes) -> Self;
}

macro_rules! has_tags {
    ($($t:ty),* $(,)?) => {
        $(impl HasTags for $t {
            fn with_tag(self, key: i32, value: Bytes) -> Self {
                self.with_unknown_tagged_field(key, value)
            }
        })*
    };
}

has_tags!(
    MetadataRequest,
    MetadataResponse,
    metadata_response::MetadataResponseTopic,
    ProduceRequest,
    ProduceResponse,
    produce_response::PartitionProduceResponse,
    FetchRequest,
    fetch_request::FetchPartition,
    FetchResponse,
    fetch_response::PartitionData,
    ApiVersionsResponse,
    JoinGroupRequest,
    JoinGroupResponse,
    OffsetCommitRequest,
    CreateTopicsResponse,
    DescribeConfigsResponse,
    OffsetForLeaderEpochRequest,
    offset_for_leader_epoch_request::OffsetForLeaderPartition,
    OffsetForLeaderEpochResponse,
    offset_for_leader_epoch_response::EpochEndOffset,
);

fn metadata_request(v: i16) -> MetadataRequest {
    use metadata_request::MetadataRequestTopic;
    let topics = vec![
        MetadataRequestTopic::default()
            .with_topic_id(Uuid::from_u128(7))
            .with_name(Some(topic("orders"))),
        MetadataRequestTopic::default().with_name((v < 10).then(|| topic("logs"))),
    ];
    let request = MetadataRequest::default()
        .with_topics(Some(topics))
        .with_allow_auto_topic_creation(v < 4 || v % 2 == 0)
        .with_include_cluster_authorized_operations((8..=10).contains(&v))
        .with_include_topic_authorized_operations(v >= 8);
    tag(request, v >= 9)
}

fn metadata_response(v: i16) -> MetadataResponse {
    use metadata_response::*;
    let partition = |i| {
        MetadataResponsePartition::default()
            .with_partition_index(i)
            .with_leader_id(BrokerId(1))
            .with_leader_epoch(5)
            .with_replica_nodes(vec![BrokerId(1), BrokerId(2), BrokerId(3)])
            .with_isr_nodes(vec![BrokerId(1), BrokerId(2)])
            .with_offline_replicas(vec![BrokerId(3)])
    };
    let topics = vec![
        tag(
            MetadataResponseTopic::default()
                .with_name(Some(topic("orders")))
                .with_topic_id(Uuid::from_u128(9))
                .with_is_internal(true)
                .with_partitions(vec![partition(0), partition(1)])
                .with_topic_authorized_operations(if v >= 8 { 0x0f } else { i32::MIN }),
            v >= 9,
        ),
        MetadataResponseTopic::default()
            .with_error_code(3)
            .with_name((v < 12).then(|| topic("gone"))),
    ];
    let brokers = vec![
        MetadataResponseBroker::default()
            .with_node_id(BrokerId(1))
            .with_host(s("a.example"))
            .with_port(9092)
            .with_rack(Some(s("rack-a"))),
        MetadataResponseBroker::default()
            .with_node_id(BrokerId(2))
            .with_host(s("b.example"))
            .with_port(9093)
            .with_rack(None),
    ];
    let response = MetadataResponse::default()
        .with_throttle_time_ms(4)
        .with_brokers(brokers)
        .with_cluster_id(maybe("cluster", v >= 2 && v % 2 == 0))
        .with_controller_id(BrokerId(1))
        .with_topics(topics)
        .with_cluster_authorized_operations(if (8..=10).contains(&v) { 7 } else { i32::MIN })
        .with_error_code(if v >= 13 { 2 } else { 0 });
    tag(response, v >= 9)
}

fn produce_request(v: i16) -> ProduceRequest {
    use produce_request::*;
    let partitions = vec![
        PartitionProduceData::default()
            .with_index(0)
            .with_records(Some(Bytes::from_static(b"a record batch, opaque here"))),
        PartitionProduceData::default()
            .with_index(1)
            .with_records(None),
    ];
    let topic_data = vec![TopicProduceData::default()
        .with_name(topic("orders"))
        .with_topic_id(Uuid::from_u128(3))
        .with_partition_data(partitions)];
    let request = ProduceRequest::default()
        .with_transactional_id(None)
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(topic_data);
    tag(request, v >= 9)
}

fn produce_response(v: i16) -> ProduceResponse {
    use produce_response::*;
    let errors = vec![
        BatchIndexAndErrorMessage::default()
            .with_batch_index(if v >= 8 { 2 } else { 0 })
            .with_batch_index_error_message(maybe("bad record", false)),
        BatchIndexAndErrorMessage::default().with_batch_index_error_message(None),
    ];
    let leader = if v >= 10 {
        LeaderIdAndEpoch::default()
            .with_leader_id(BrokerId(2))
            .with_leader_epoch(8)
    } else {
        LeaderIdAndEpoch::default()
    };
    let partition = tag(
        PartitionProduceResponse::default()
            .with_index(0)
            .with_base_offset(100)
            .with_log_append_time_ms(-1)
            .with_log_start_offset(0)
            .with_record_errors(errors)
            .with_error_message(Some(s("partial")))
            .with_current_leader(leader),
        v >= 9,
    );
    let endpoints = if v >= 10 {
        vec![
            NodeEndpoint::default()
                .with_node_id(BrokerId(2))
                .with_host(s("b.example"))
                .with_port(9093)
                .with_rack(None),
            NodeEndpoint::default()
                .with_node_id(BrokerId(3))
                .with_host(s("c.example"))
                .with_port(9094)
                .with_rack(Some(s("rack-c"))),
        ]
    } else {
        Vec::new()
    };
    let responses = vec![TopicProduceResponse::default()
        .with_name(topic("orders"))
        .with_topic_id(Uuid::from_u128(3))
        .with_partition_responses(vec![partition.clone(), partition.with_index(1)])];
    let response = ProduceResponse::default()
        .with_responses(responses)
        .with_throttle_time_ms(0)
        .with_node_endpoints(endpoints);
    tag(response, v >= 9)
}

fn fetch_request(v: i16) -> FetchRequest {
    use fetch_request::*;
    let partition = |p| {
        let partition = FetchPartition::default()
            .with_partition(p)
            .with_current_leader_epoch(3)
            .with_fetch_offset(42)
            .with_last_fetched_epoch(if v >= 12 { 2 } else { -1 })
            .with_log_start_offset(0)
            .with_partition_max_bytes(1 << 20)
            .with_replica_directory_id(if v >= 17 {
                Uuid::from_u128(5)
            } else {
                Uuid::nil()
            })
            .with_high_watermark(if v >= 18 { 77 } else { i64::MAX });
        tag(partition, v >= 12)
    };
    let topics = vec![FetchTopic::default()
        .with_topic(topic("orders"))
        .with_topic_id(Uuid::from_u128(3))
        .with_partitions(vec![partition(0), partition(1)])];
    let forgotten = vec![ForgottenTopic::default()
        .with_topic(topic("old"))
        .with_topic_id(Uuid::from_u128(4))
        .with_partitions(vec![0, 1, 2])];
    let replica_state = if v >= 15 {
        ReplicaState::default()
            .with_replica_id(BrokerId(-1))
            .with_replica_epoch(3)
    } else {
        ReplicaState::default()
    };
    let request = FetchRequest::default()
        .with_cluster_id(if v >= 12 { Some(s("cluster")) } else { None })
        .with_replica_id(BrokerId(-1))
        .with_replica_state(replica_state)
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(1 << 24)
        .with_isolation_level(1)
        .with_session_id(if v >= 7 { 9 } else { 0 })
        .with_session_epoch(if v >= 7 { 1 } else { -1 })
        .with_topics(topics)
        .with_forgotten_topics_data(if v >= 7 { forgotten } else { Vec::new() })
        .with_rack_id(s("rack-a"));
    tag(request, v >= 12)
}

fn fetch_response(v: i16) -> FetchResponse {
    use fetch_response::*;
    let partition = |p, aborted: Option<Vec<AbortedTransaction>>| {
        let mut data = PartitionData::default()
            .with_partition_index(p)
            .with_high_watermark(100)
            .with_last_stable_offset(90)
            .with_log_start_offset(0)
            .with_aborted_transactions(aborted)
            .with_preferred_read_replica(BrokerId(if v >= 11 { 2 } else { -1 }))
            .with_records(Some(Bytes::from_static(b"batches")));
        if v >= 12 {
            data = data
                .with_diverging_epoch(EpochEndOffset::default().with_epoch(3).with_end_offset(50))
                .with_current_leader(
                    LeaderIdAndEpoch::default()
                        .with_leader_id(BrokerId(1))
                        .with_leader_epoch(4),
                )
                .with_snapshot_id(SnapshotId::default().with_end_offset(10).with_epoch(1));
        }
        tag(data, v >= 12)
    };
    let aborted = vec![
        AbortedTransaction::default()
            .with_producer_id(ProducerId(7))
            .with_first_offset(3),
        AbortedTransaction::default()
            .with_producer_id(ProducerId(8))
            .with_first_offset(5),
    ];
    let responses = vec![FetchableTopicResponse::default()
        .with_topic(topic("orders"))
        .with_topic_id(Uuid::from_u128(3))
        .with_partitions(vec![partition(0, Some(aborted)), partition(1, None)])];
    let endpoints = if v >= 16 {
        vec![NodeEndpoint::default()
            .with_node_id(BrokerId(1))
            .with_host(s("a.example"))
            .with_port(9092)
            .with_rack(None)]
    } else {
        Vec::new()
    };
    let response = FetchResponse::default()
        .with_throttle_time_ms(1)
        .with_error_code(0)
        .with_session_id(if v >= 7 { 9 } else { 0 })
        .with_responses(responses)
        .with_node_endpoints(endpoints);
    tag(response, v >= 12)
}

fn api_versions_response(v: i16) -> ApiVersionsResponse {
    use api_versions_response::*;
    let keys = vec![
        ApiVersion::default()
            .with_api_key(0)
            .with_min_version(3)
            .with_max_version(13),
        ApiVersion::default()
            .with_api_key(1)
            .with_min_version(4)
            .with_max_version(18),
    ];
    let mut response = ApiVersionsResponse::default()
        .with_error_code(0)
        .with_api_keys(keys)
        .with_throttle_time_ms(0);
    if v >= 3 {
        response = response
            .with_supported_features(vec![SupportedFeatureKey::default()
                .with_name(s("metadata.version"))
                .with_min_version(1)
                .with_max_version(20)])
            .with_finalized_features_epoch(12)
            .with_finalized_features(vec![FinalizedFeatureKey::default()
                .with_name(s("metadata.version"))
                .with_max_version_level(20)
                .with_min_version_level(20)])
            .with_zk_migration_ready(true);
    }
    tag(response, v >= 3)
}

fn join_group_request(v: i16) -> JoinGroupRequest {
    use join_group_request::JoinGroupRequestProtocol;
    let protocols = vec![
        JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(Bytes::from_static(b"\0\x03subscription")),
        JoinGroupRequestProtocol::default()
            .with_name(s("cooperative-sticky"))
            .with_metadata(Bytes::new()),
    ];
    let request = JoinGroupRequest::default()
        .with_group_id(GroupId(s("group")))
        .with_session_timeout_ms(45_000)
        .with_rebalance_timeout_ms(300_000)
        .with_member_id(s(""))
        .with_group_instance_id(None)
        .with_protocol_type(s("consumer"))
        .with_protocols(protocols)
        .with_reason(maybe("joining", v >= 8 && v % 2 == 0));
    tag(request, v >= 6)
}

fn join_group_response(v: i16) -> JoinGroupResponse {
    use join_group_response::JoinGroupResponseMember;
    let members = vec![
        JoinGroupResponseMember::default()
            .with_member_id(s("m-1"))
            .with_group_instance_id(maybe("static-1", false))
            .with_metadata(Bytes::from_static(b"meta")),
        JoinGroupResponseMember::default()
            .with_member_id(s("m-2"))
            .with_group_instance_id(None)
            .with_metadata(Bytes::new()),
    ];
    let response = JoinGroupResponse::default()
        .with_throttle_time_ms(0)
        .with_generation_id(3)
        .with_protocol_type(maybe("consumer", v >= 7 && v % 2 == 1))
        .with_protocol_name(Some(s("range")))
        .with_leader(s("m-1"))
        .with_skip_assignment(v >= 9)
        .with_member_id(s("m-1"))
        .with_members(members);
    tag(response, v >= 6)
}

fn offset_commit_request(v: i16) -> OffsetCommitRequest {
    use offset_commit_request::*;
    let partitions = vec![
        OffsetCommitRequestPartition::default()
            .with_partition_index(0)
            .with_committed_offset(10)
            .with_committed_leader_epoch(2)
            .with_committed_metadata(Some(s("note"))),
        OffsetCommitRequestPartition::default()
            .with_partition_index(1)
            .with_committed_offset(20)
            .with_committed_metadata(None),
    ];
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("group")))
        .with_generation_id_or_member_epoch(3)
        .with_member_id(s("m-1"))
        .with_group_instance_id(None)
        .with_retention_time_ms(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic("orders"))
            .with_partitions(partitions)]);
    tag(request, v >= 8)
}

fn offset_for_leader_epoch_request(v: i16) -> OffsetForLeaderEpochRequest {
    use offset_for_leader_epoch_request::*;
    let flexible = v >= 4;
    let partitions = vec![
        tag(
            OffsetForLeaderPartition::default()
                .with_partition(0)
                .with_current_leader_epoch(3)
                .with_leader_epoch(2),
            flexible,
        ),
        OffsetForLeaderPartition::default()
            .with_partition(1)
            .with_current_leader_epoch(-1)
            .with_leader_epoch(0),
    ];
    let request = OffsetForLeaderEpochRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![
            OffsetForLeaderTopic::default()
                .with_topic(topic("orders"))
                .with_partitions(partitions),
            OffsetForLeaderTopic::default().with_topic(topic("empty")),
        ]);
    tag(request, flexible)
}

fn offset_for_leader_epoch_response(v: i16) -> OffsetForLeaderEpochResponse {
    use offset_for_leader_epoch_response::*;
    let flexible = v >= 4;
    let partitions = vec![
        tag(
            EpochEndOffset::default()
                .with_partition(0)
                .with_leader_epoch(2)
                .with_end_offset(40),
            flexible,
        ),
        EpochEndOffset::default()
            .with_partition(1)
            .with_error_code(74)
            .with_leader_epoch(-1)
            .with_end_offset(-1),
    ];
    let response = OffsetForLeaderEpochResponse::default()
        .with_throttle_time_ms(5)
        .with_topics(vec![OffsetForLeaderTopicResult::default()
            .with_topic(topic("orders"))
            .with_partitions(partitions)]);
    tag(response, flexible)
}

fn create_topics_response(v: i16) -> CreateTopicsResponse {
    use create_topics_response::*;
    let configs = vec![
        CreatableTopicConfigs::default()
            .with_name(s("cleanup.policy"))
            .with_value(Some(s("delete")))
            .with_read_only(v >= 5)
            .with_config_source(5)
            .with_is_sensitive(false),
        CreatableTopicConfigs::default()
            .with_name(s("secret"))
            .with_value(None)
            .with_is_sensitive(v >= 5),
    ];
    let topics = vec![
        CreatableTopicResult::default()
            .with_name(topic("orders"))
            .with_topic_id(Uuid::from_u128(3))
            .with_error_message(None)
            .with_topic_config_error_code(if v >= 5 { 29 } else { 0 })
            .with_num_partitions(3)
            .with_replication_factor(1)
            .with_configs(Some(configs)),
        CreatableTopicResult::default()
            .with_name(topic("taken"))
            .with_error_code(36)
            .with_error_message(Some(s("exists")))
            .with_configs(if v >= 5 { None } else { Some(Vec::new()) }),
    ];
    let response = CreateTopicsResponse::default()
        .with_throttle_time_ms(0)
        .with_topics(topics);
    tag(response, v >= 5)
}

fn describe_configs_response(v: i16) -> DescribeConfigsResponse {
    use describe_configs_response::*;
    let synonyms = vec![
        DescribeConfigsSynonym::default()
            .with_name(s("log.retention.ms"))
            .with_value(Some(s("1000")))
            .with_source(5),
        DescribeConfigsSynonym::default()
            .with_name(s("x"))
            .with_value(None)
            .with_source(4),
    ];
    let configs = vec![
        DescribeConfigsResourceResult::default()
            .with_name(s("retention.ms"))
            .with_value(Some(s("1000")))
            .with_config_source(1)
            .with_synonyms(synonyms)
            .with_config_type(if v >= 3 { 5 } else { 0 })
            .with_documentation(if v >= 3 { Some(s("How long.")) } else { None }),
        DescribeConfigsResourceResult::default()
            .with_name(s("password"))
            .with_value(None)
            .with_is_sensitive(true)
            .with_documentation(None),
    ];
    let results = vec![DescribeConfigsResult::default()
        .with_error_message(None)
        .with_resource_type(2)
        .with_resource_name(s("orders"))
        .with_configs(configs)];
    let response = DescribeConfigsResponse::default()
        .with_throttle_time_ms(0)
        .with_results(results);
    tag(response, v >= 4)
}

/// Encodes `build(v)` at every version of `M` and runs `check` on it.
fn every_version<M: Encodable + Message>(
    api_key: i16,
    build: fn(i16) -> M,
    check: fn(i16, i16, &[u8]) -> Result<(), crate::wire_guard::GuardError>,
    failures: &mut Vec<String>,
) {
    for v in M::VERSIONS.min..=M::VERSIONS.max {
        let mut buf = BytesMut::new();
        if let Err(e) = build(v).encode(&mut buf, v) {
            failures.push(format!(
                "api {api_key} v{v}: kafka-protocol refused to encode: {e}"
            ));
            continue;
        }
        if let Err(e) = check(api_key, v, &buf) {
            failures.push(format!("api {api_key} v{v} ({} bytes): {e}", buf.len()));
        }
    }
}

#[test]
fn wire_guard_accepts_messages_built_with_kafka_protocol() {
    let mut failures = Vec::new();
    every_version(3, metadata_request, check_request, &mut failures);
    every_version(3, metadata_response, check_response, &mut failures);
    every_version(0, produce_request, check_request, &mut failures);
    every_version(0, produce_response, check_response, &mut failures);
    every_version(1, fetch_request, check_request, &mut failures);
    every_version(1, fetch_response, check_response, &mut failures);
    every_version(18, api_versions_response, check_response, &mut failures);
    every_version(11, join_group_request, check_request, &mut failures);
    every_version(11, join_group_response, check_response, &mut failures);
    every_version(8, offset_commit_request, check_request, &mut failures);
    every_version(19, create_topics_response, check_response, &mut failures);
    every_version(32, describe_configs_response, check_response, &mut failures);
    every_version(
        23,
        offset_for_leader_epoch_request,
        check_request,
        &mut failures,
    );
    every_version(
        23,
        offset_for_leader_epoch_response,
        check_response,
        &mut failures,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
