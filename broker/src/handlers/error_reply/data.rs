//! Error responses of the data APIs: Produce, Fetch, ListOffsets,
//! Metadata and DeleteRecords.

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::ResponseError;

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
