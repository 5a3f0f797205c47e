//! The record format every scenario sends.
//!
//! A test record's value identifies it completely, so the checker needs
//! nothing but the bytes read back:
//!
//! ```text
//! magic "DRL1" | run id u64 | key u32 | sequence u64 | send index u64 | payload len u32 | payload | crc32c u32
//! ```
//!
//! All integers are big-endian. The CRC-32C covers everything before it,
//! so a record damaged anywhere between producer and consumer is caught
//! even if the batch CRC was (wrongly) recomputed over damaged bytes. The
//! *sequence* counts the records of one key; the *send index* counts every
//! record of the run in the order `send` was called, which is what the
//! checker compares per partition. The Kafka key is `k<key>` so keyed
//! partitioning spreads the keys like real traffic.

use bytes::{BufMut, Bytes, BytesMut};

const MAGIC: &[u8; 4] = b"DRL1";
const HEADER_LEN: usize = 4 + 8 + 4 + 8 + 8 + 4;
const CRC_LEN: usize = 4;

/// The identity of one test record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId {
    /// The run that sent it (tells stale data of another run apart).
    pub run_id: u64,
    /// Which key (0..keys of the workload).
    pub key: u32,
    /// Position among the records of this key, from 0.
    pub sequence: u64,
    /// Position among all records of the run, in `send` order, from 0.
    pub send_index: u64,
}

impl RecordId {
    /// The Kafka record key this id is sent with.
    pub fn kafka_key(&self) -> Bytes {
        Bytes::from(format!("k{}", self.key))
    }

    /// Encodes the record value: this id, `payload_len` filler bytes
    /// derived from the id, and the checksum.
    pub fn encode(&self, payload_len: usize) -> Bytes {
        let payload_len = u32::try_from(payload_len).unwrap_or(u32::MAX) as usize;
        let mut out = BytesMut::with_capacity(HEADER_LEN + payload_len + CRC_LEN);
        out.put_slice(MAGIC);
        out.put_u64(self.run_id);
        out.put_u32(self.key);
        out.put_u64(self.sequence);
        out.put_u64(self.send_index);
        out.put_u32(payload_len as u32);
        // Filler that differs per record, so a batch mixed up with another
        // one cannot pass the checksum by accident.
        let seed = self.send_index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        out.extend((0..payload_len).map(|i| (seed >> ((i % 8) * 8)) as u8 ^ i as u8));
        let crc = crc32c::crc32c(&out);
        out.put_u32(crc);
        out.freeze()
    }
}

/// Why a value read back is not a valid test record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the fixed fields.
    TooShort(usize),
    /// Does not start with the magic bytes: not a test record at all.
    BadMagic,
    /// The payload length disagrees with the value's length.
    BadLength {
        /// The length the header declares.
        declared: u32,
        /// The value's actual length.
        actual: usize,
    },
    /// The CRC-32C does not match: the bytes were damaged.
    BadChecksum {
        /// The CRC stored in the record.
        stored: u32,
        /// The CRC of the bytes read.
        computed: u32,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::TooShort(len) => write!(f, "value of {len} bytes is too short"),
            DecodeError::BadMagic => write!(f, "value does not start with the DRL1 magic"),
            DecodeError::BadLength { declared, actual } => {
                write!(
                    f,
                    "payload length {declared} does not fit a value of {actual} bytes"
                )
            }
            DecodeError::BadChecksum { stored, computed } => {
                write!(
                    f,
                    "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decodes and verifies a value written by [`RecordId::encode`].
pub fn decode(value: &[u8]) -> Result<RecordId, DecodeError> {
    if value.len() < HEADER_LEN + CRC_LEN {
        return Err(DecodeError::TooShort(value.len()));
    }
    if &value[..4] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let field = |at: usize, len: usize| -> u64 {
        value[at..at + len]
            .iter()
            .fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte))
    };
    let declared = field(32, 4) as u32;
    let expected_len = HEADER_LEN as u64 + u64::from(declared) + CRC_LEN as u64;
    if expected_len != value.len() as u64 {
        return Err(DecodeError::BadLength {
            declared,
            actual: value.len(),
        });
    }
    let body_len = value.len() - CRC_LEN;
    let stored = field(body_len, 4) as u32;
    let computed = crc32c::crc32c(&value[..body_len]);
    if stored != computed {
        return Err(DecodeError::BadChecksum { stored, computed });
    }
    Ok(RecordId {
        run_id: field(4, 8),
        key: field(12, 4) as u32,
        sequence: field(16, 8),
        send_index: field(24, 8),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> RecordId {
        RecordId {
            run_id: 0xABCD,
            key: 7,
            sequence: 42,
            send_index: 1000,
        }
    }

    #[test]
    fn a_record_round_trips() {
        for payload in [0, 1, 100] {
            let value = id().encode(payload);
            assert_eq!(value.len(), HEADER_LEN + payload + CRC_LEN);
            assert_eq!(decode(&value), Ok(id()));
        }
        assert_eq!(id().kafka_key(), Bytes::from_static(b"k7"));
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let value = id().encode(16);
        for at in 0..value.len() {
            let mut damaged = value.to_vec();
            damaged[at] ^= 0x01;
            assert!(
                decode(&damaged).is_err(),
                "flip at byte {at} went unnoticed"
            );
        }
    }

    #[test]
    fn short_foreign_and_cut_values_are_refused() {
        assert_eq!(decode(b"abc"), Err(DecodeError::TooShort(3)));
        let mut foreign = id().encode(4).to_vec();
        foreign[0] = b'X';
        assert_eq!(decode(&foreign), Err(DecodeError::BadMagic));
        let value = id().encode(8);
        assert!(matches!(
            decode(&value[..value.len() - 1]),
            Err(DecodeError::BadLength { .. })
        ));
    }
}
