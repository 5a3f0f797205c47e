//! Error responses of the data APIs: Produce, Fetch, ListOffsets,
//! Metadata and DeleteRecords.

use bytes::Bytes;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{MetadataResponseBroker, MetadataResponseTopic};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    BrokerId, DeleteRecordsRequest, DeleteRecordsResponse, FetchRequest, FetchResponse,
    ListOffsetsRequest, ListOffsetsResponse, MetadataRequest, MetadataResponse, ProduceRequest,
    ProduceResponse,
};
use kafka_protocol::ResponseError;

use crate::handlers::{text, topic_name};
use crate::state::BrokerState;

/// Produce: `code` for every partition, no offsets.
///
/// From v5 each partition also carries a log start offset, chosen as Kafka's
/// `ReplicaManager` does for a failed append: -1 for the errors it raises
/// before looking at the log (see `produce_error_knows_log_start`), the
/// partition's real log start offset for every other error (sequence and
/// epoch checks, NOT_ENOUGH_REPLICAS, and the after-append errors) when
/// this broker holds the partition. A producer needs the real value to
/// judge UNKNOWN_PRODUCER_ID (KIP-360): retention removed its records, or
/// acknowledged data was lost.
pub fn produce(
    state: &BrokerState,
    request: &ProduceRequest,
    version: i16,
    code: i16,
) -> ProduceResponse {
    let responses = request
        .topic_data
        .iter()
        .map(|topic| {
            let partitions = topic
                .partition_data
                .iter()
                .map(|p| {
                    let response = PartitionProduceResponse::default()
                        .with_index(p.index)
                        .with_error_code(code)
                        .with_base_offset(-1)
                        .with_log_append_time_ms(-1);
                    if version >= 5 {
                        let log_start = if produce_error_knows_log_start(code) {
                            state
                                .with_partition(&topic.name, p.index, |log| log.log_start_offset())
                                .unwrap_or(-1)
                        } else {
                            -1
                        };
                        response.with_log_start_offset(log_start)
                    } else {
                        response
                    }
                })
                .collect();
            TopicProduceResponse::default()
                .with_name(topic.name.clone())
                .with_partition_responses(partitions)
        })
        .collect();
    ProduceResponse::default().with_responses(responses)
}

/// Whether Kafka reports the log start offset with this Produce error:
/// not for the errors its `ReplicaManager.appendToLocalLog` raises before
/// (or instead of) reaching the log, which it answers with -1.
pub fn produce_error_knows_log_start(code: i16) -> bool {
    ![
        ResponseError::UnknownTopicOrPartition,
        ResponseError::NotLeaderOrFollower,
        ResponseError::MessageTooLarge,
        ResponseError::RecordListTooLarge,
        ResponseError::CorruptMessage,
        ResponseError::KafkaStorageError,
    ]
    .iter()
    .any(|e| e.code() == code)
}

/// Fetch: `code` for every partition, empty records.
pub fn fetch(request: &FetchRequest, version: i16, code: i16) -> FetchResponse {
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| fetch_partition(p.partition, code))
                .collect();
            let response = FetchableTopicResponse::default().with_partitions(partitions);
            if version >= 13 {
                response.with_topic_id(topic.topic_id)
            } else {
                response.with_topic(topic.topic.clone())
            }
        })
        .collect();
    FetchResponse::default().with_responses(topics)
}

/// One Fetch partition carrying `code` (records are never null: librdkafka
/// rejects a null record set).
pub fn fetch_partition(partition: i32, code: i16) -> PartitionData {
    PartitionData::default()
        .with_partition_index(partition)
        .with_error_code(code)
        .with_high_watermark(-1)
        .with_last_stable_offset(-1)
        .with_log_start_offset(-1)
        .with_aborted_transactions(Some(Vec::new()))
        .with_records(Some(Bytes::new()))
}

/// ListOffsets: `code` for every partition.
pub fn list_offsets(request: &ListOffsetsRequest, version: i16, code: i16) -> ListOffsetsResponse {
    let _ = version; // every served version has the same per-partition error fields
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                        .with_timestamp(-1)
                        .with_offset(-1)
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// Metadata: the live brokers, and `code` for every topic asked for (every
/// known topic when the request asks for all).
pub fn metadata(
    state: &BrokerState,
    request: &MetadataRequest,
    version: i16,
    code: i16,
) -> MetadataResponse {
    let topic = |name: Option<String>, id: uuid::Uuid| {
        MetadataResponseTopic::default()
            .with_name(name.map(|n| topic_name(&n)))
            .with_topic_id(id)
            .with_error_code(code)
    };
    let topics = match &request.topics {
        Some(list) if !(version == 0 && list.is_empty()) => list
            .iter()
            .map(|t| topic(t.name.as_ref().map(|n| n.0.to_string()), t.topic_id))
            .collect(),
        _ => state
            .catalog
            .list()
            .into_iter()
            .map(|t| topic(Some(t.name), t.id))
            .collect(),
    };
    let brokers = state
        .topology
        .live_brokers()
        .into_iter()
        .map(|b| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.node_id))
                .with_host(text(b.host))
                .with_port(b.port)
        })
        .collect();
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(text(state.node.cluster_id.clone())))
        .with_controller_id(BrokerId(state.topology.controller()))
        .with_topics(topics)
}

/// DeleteRecords: `code` for every partition.
pub fn delete_records(request: &DeleteRecordsRequest, code: i16) -> DeleteRecordsResponse {
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| {
                    DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index)
                        .with_low_watermark(-1)
                        .with_error_code(code)
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(topic.name.clone())
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}
