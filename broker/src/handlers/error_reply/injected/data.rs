//! Error responses of the data APIs a fault rule may fail that the
//! handlers never answer whole: Produce, Fetch, ListOffsets, Metadata,
//! DeleteRecords and OffsetForLeaderEpoch.

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::fetch_response::FetchableTopicResponse;
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

use crate::handlers::error_reply::{
    failed_partition, fetch_partition, produce_error_knows_log_start,
};
use crate::handlers::{text, topic_name};
use crate::handlers::{ClusterInfoContext, DataContext};
use kafka_protocol::messages::offset_for_leader_epoch_response::OffsetForLeaderTopicResult;
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

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
    data: &DataContext<'_>,
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
                            data.with_partition(&topic.name, p.index, |log| log.log_start_offset())
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
    cluster: &ClusterInfoContext<'_>,
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
        _ => cluster
            .topics()
            .into_iter()
            .map(|t| topic(Some(t.name), t.id))
            .collect(),
    };
    let brokers = cluster
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
        .with_cluster_id(Some(text(cluster.cluster_id())))
        .with_controller_id(BrokerId(cluster.controller()))
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

/// OffsetForLeaderEpoch: `code` for every partition, epoch and end offset
/// undefined (-1). Every served version (2–4) has the same fields.
pub fn offset_for_leader_epoch(
    request: &OffsetForLeaderEpochRequest,
    code: i16,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| failed_partition(p.partition, code))
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic.clone())
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
