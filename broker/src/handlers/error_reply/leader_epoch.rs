//! Error response of OffsetForLeaderEpoch.

use kafka_protocol::messages::offset_for_leader_epoch_response::EpochEndOffset;

/// One partition's error answer: `code`, epoch and end offset undefined.
pub fn failed_partition(partition: i32, code: i16) -> EpochEndOffset {
    EpochEndOffset::default()
        .with_partition(partition)
        .with_error_code(code)
        .with_leader_epoch(-1)
        .with_end_offset(-1)
}
