//! Kafka record batches, format v2 (magic 2): parse, scan, check, rewrite.
//!
//! ```text
//!  producer                      broker                         consumer
//!  BatchWriter ──finish()──▶ bytes ──validate_batch()──▶ segment ──▶ fetch
//!  (records in wire format)        set_base_offset()    BatchScanner   BatchScanner
//!                                  set_partition_leader_epoch()        RecordIter
//! ```
//!
//! `BatchWriter::finish_rope` gives the batch as pieces ([`BatchRope`]),
//! referencing large values instead of copying them (uncompressed only).
//!
//! The batch layout is documented on [`header`]; records inside use the
//! zigzag varints of [`varint`]. Nothing here allocates from a length or
//! count read off the wire before checking it against the bytes present.

mod control;
mod decode;
mod error;
pub mod header;
mod rewrite;
mod rope;
mod scanner;
mod validate;
pub mod varint;
mod writer;

#[cfg(test)]
mod tests;

pub use control::{
    encode_control_key, encode_end_txn_marker_value, end_txn_marker_batch, parse_control_key,
    parse_end_txn_marker_value, ControlRecordType, CONTROL_KEY_LEN, CONTROL_RECORD_VERSION,
    END_TXN_MARKER_VALUE_LEN,
};
pub use decode::{decode_records, Record, RecordHeader, RecordIter, DEFAULT_MAX_DECOMPRESSED};
pub use error::BatchError;
pub use header::{BatchHeader, TimestampType, BATCH_HEADER_LEN, MAGIC_V2};
pub use rewrite::{
    set_base_offset, set_log_append_time, set_partition_leader_epoch, set_producer_state,
};
pub use rope::BatchRope;
pub use scanner::{BatchScanner, BytesBatchScanner, ScannedBatch};
pub use validate::{compute_crc, validate_batch, validate_records, verify_crc, MIN_RECORD_LEN};
pub use writer::{BatchWriter, BatchWriterBuilder, HeaderView, DEFAULT_BATCH_SIZE, NO_HEADERS};
