//! Control records: the transaction markers a broker writes into a
//! partition when a transaction ends.
//!
//! ```text
//! control batch (attributes: control | transactional, base sequence -1)
//!   └─ one record
//!        key   = version i16 (0) | type i16 (0 abort, 1 commit)
//!        value = version i16 (0) | coordinator epoch i32
//! ```
//!
//! The writer (the broker) and the readers (consumers skipping markers,
//! the broker replaying its log) share these functions so they agree on
//! the layout.

use bytes::Bytes;

use super::writer::{BatchWriter, NO_HEADERS};
use super::BatchError;

/// Version of the control record key and of the marker value written.
pub const CONTROL_RECORD_VERSION: i16 = 0;

/// Bytes of an encoded control record key.
pub const CONTROL_KEY_LEN: usize = 4;

/// Bytes of an encoded transaction marker value.
pub const END_TXN_MARKER_VALUE_LEN: usize = 6;

/// The kind of a control record (the `type` field of its key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlRecordType {
    /// The transaction was aborted.
    Abort,
    /// The transaction was committed.
    Commit,
    /// A type this client does not know; skip it.
    Unknown(i16),
}

impl ControlRecordType {
    /// The wire value of the type.
    pub fn code(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
            ControlRecordType::Unknown(code) => code,
        }
    }
}

/// Reads the key of a control record: version i16, then type i16.
pub fn parse_control_key(key: &[u8]) -> Result<ControlRecordType, BatchError> {
    let malformed = BatchError::MalformedRecord {
        index: 0,
        reason: "control record key shorter than 4 bytes",
    };
    let (version, rest) = key.split_first_chunk::<2>().ok_or(malformed.clone())?;
    let (kind, _) = rest.split_first_chunk::<2>().ok_or(malformed)?;
    // Later key versions only append fields, so any version is read.
    let _version = i16::from_be_bytes(*version);
    Ok(match i16::from_be_bytes(*kind) {
        0 => ControlRecordType::Abort,
        1 => ControlRecordType::Commit,
        other => ControlRecordType::Unknown(other),
    })
}

/// Encodes the key of a control record of type `kind`, version 0.
pub fn encode_control_key(kind: ControlRecordType) -> [u8; CONTROL_KEY_LEN] {
    let mut key = [0; CONTROL_KEY_LEN];
    key[..2].copy_from_slice(&CONTROL_RECORD_VERSION.to_be_bytes());
    key[2..].copy_from_slice(&kind.code().to_be_bytes());
    key
}

/// Encodes the value of a transaction marker: version 0, then the epoch of
/// the transaction coordinator that wrote it.
pub fn encode_end_txn_marker_value(coordinator_epoch: i32) -> [u8; END_TXN_MARKER_VALUE_LEN] {
    let mut value = [0; END_TXN_MARKER_VALUE_LEN];
    value[..2].copy_from_slice(&CONTROL_RECORD_VERSION.to_be_bytes());
    value[2..].copy_from_slice(&coordinator_epoch.to_be_bytes());
    value
}

/// Reads the coordinator epoch from a transaction marker value.
pub fn parse_end_txn_marker_value(value: &[u8]) -> Result<i32, BatchError> {
    let malformed = BatchError::MalformedRecord {
        index: 0,
        reason: "transaction marker value shorter than 6 bytes",
    };
    let (_version, rest) = value.split_first_chunk::<2>().ok_or(malformed.clone())?;
    let (epoch, _) = rest.split_first_chunk::<4>().ok_or(malformed)?;
    Ok(i32::from_be_bytes(*epoch))
}

/// Builds the control batch that ends a transaction of `producer_id` at
/// `producer_epoch`: one marker record of type `kind` (abort or commit)
/// stamped `timestamp_ms`, base offset 0 and base sequence -1 (the broker
/// assigns the offset and leader epoch when it appends it).
///
/// Fails with [`BatchError::Encode`] for [`ControlRecordType::Unknown`]:
/// only abort and commit markers end a transaction.
pub fn end_txn_marker_batch(
    producer_id: i64,
    producer_epoch: i16,
    kind: ControlRecordType,
    coordinator_epoch: i32,
    timestamp_ms: i64,
) -> Result<Bytes, BatchError> {
    if let ControlRecordType::Unknown(_) = kind {
        return Err(BatchError::Encode(
            "a transaction marker is an abort or a commit",
        ));
    }
    let mut writer = BatchWriter::builder()
        .producer(producer_id, producer_epoch, -1)
        .transactional(true)
        .control(true)
        .build_with_capacity(32);
    let key = encode_control_key(kind);
    let value = encode_end_txn_marker_value(coordinator_epoch);
    writer.try_append(timestamp_ms, Some(&key), Some(&value), NO_HEADERS)?;
    writer.finish()
}
