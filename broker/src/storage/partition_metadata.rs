//! The `partition.metadata` file: which topic id a partition directory
//! belongs to, in Kafka's format.
//!
//! ```text
//! version: 0
//! topic_id: 3q2-7wAAAAAAAAAAAAAAAQ
//! ```
//!
//! The id is written as Kafka prints a `Uuid`: URL-safe base64 of its 16
//! bytes without padding (22 characters).

use std::fs;
use std::path::Path;

use uuid::Uuid;

use super::checkpoint::write_atomically;
use super::layout::PARTITION_METADATA_FILE;
use super::StorageError;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Writes the topic id of the partition stored in `dir`.
pub(crate) fn write(dir: &Path, topic_id: Uuid) -> Result<(), StorageError> {
    let text = format!("version: 0\ntopic_id: {}\n", encode_uuid(topic_id));
    write_atomically(&dir.join(PARTITION_METADATA_FILE), text.as_bytes())
}

/// Reads the topic id of the partition stored in `dir`; `None` when the file
/// is missing or malformed (the caller logs and carries on without an id).
pub(crate) fn read(dir: &Path) -> Result<Option<Uuid>, StorageError> {
    let path = dir.join(PARTITION_METADATA_FILE);
    let text = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io(&path, e)),
    };
    let text = String::from_utf8_lossy(&text);
    let mut lines = text.lines();
    if lines.next().map(str::trim) != Some("version: 0") {
        return Ok(None);
    }
    Ok(lines
        .next()
        .and_then(|l| l.trim().strip_prefix("topic_id:"))
        .and_then(|id| decode_uuid(id.trim())))
}

/// Kafka's string form of a Uuid: URL-safe base64, no padding.
pub fn encode_uuid(id: Uuid) -> String {
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

/// Parses Kafka's string form of a Uuid (22 URL-safe base64 characters).
pub fn decode_uuid(text: &str) -> Option<Uuid> {
    if text.len() != 22 {
        return None;
    }
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::with_capacity(16);
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | value;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    // 22 symbols carry 132 bits: 16 bytes plus 4 bits that must be zero.
    if bits != 0 {
        return None;
    }
    Uuid::from_slice(&out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text_matches_kafka_and_round_trips() {
        // Kafka prints Uuid(0, 1) as "AAAAAAAAAAAAAAAAAAAAAQ".
        let one = Uuid::from_u128(1);
        assert_eq!(encode_uuid(one), "AAAAAAAAAAAAAAAAAAAAAQ");
        let id = Uuid::from_u128(0xdead_beef_0123_4567_89ab_cdef_fedc_ba98);
        assert_eq!(decode_uuid(&encode_uuid(id)), Some(id));
        assert_eq!(decode_uuid("AAAAAAAAAAAAAAAAAAAAAR"), None);
        assert_eq!(decode_uuid("short"), None);
        assert_eq!(decode_uuid("AAAAAAAAAAAAAAAAAAAA*Q"), None);
    }

    #[test]
    fn metadata_file_round_trips() {
        let dir = tempfile::tempdir().expect("temp dir");
        let id = Uuid::from_u128(42);
        write(dir.path(), id).expect("write");
        assert_eq!(read(dir.path()).expect("read"), Some(id));
        fs::write(dir.path().join(PARTITION_METADATA_FILE), b"\xff\xfe junk").expect("junk");
        assert_eq!(read(dir.path()).expect("read junk"), None);
    }
}
