//! Reading record batches from a segment file without loading it whole.
//!
//! Everything here uses positional reads (`read_at`), so readers need only
//! `&File` and never disturb each other. Lengths come from the file and are
//! always checked against the bytes the file actually holds before a buffer
//! is sized from them.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use durian_core::compression::{decompress, Compression};
use durian_core::record::varint::{get_varint, get_varlong};
use durian_core::record::{BatchHeader, BATCH_HEADER_LEN};

use super::StorageError;

/// Chunk size for streaming CRC checks of large batches.
const CRC_CHUNK: usize = 64 * 1024;
/// Byte position where the CRC-covered region of a batch starts.
const CRC_COVERED_FROM: u64 = 21;

/// What lies at a position of a segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BatchAt {
    /// A complete batch (its header parses and all its bytes are present).
    Batch(BatchHeader),
    /// The file ends exactly here.
    End,
    /// Fewer bytes remain than the header or the batch needs (a torn write).
    Torn,
    /// The bytes here are not a batch header.
    Invalid(String),
}

/// Reads `buf.len()` bytes at `position`, mapping errors to `path`.
pub(crate) fn read_exact_at(
    file: &File,
    path: &Path,
    buf: &mut [u8],
    position: u64,
) -> Result<(), StorageError> {
    file.read_exact_at(buf, position)
        .map_err(|e| StorageError::io(path, e))
}

/// Reads `len` bytes at `position`; `len` must already be bounded by the
/// file size.
pub(crate) fn read_vec_at(
    file: &File,
    path: &Path,
    position: u64,
    len: usize,
) -> Result<Vec<u8>, StorageError> {
    let mut buf = vec![0u8; len];
    read_exact_at(file, path, &mut buf, position)?;
    Ok(buf)
}

/// Parses the batch header at `position` of a file of `file_len` bytes.
pub(crate) fn batch_at(
    file: &File,
    path: &Path,
    position: u64,
    file_len: u64,
) -> Result<BatchAt, StorageError> {
    let remaining = file_len.saturating_sub(position);
    if remaining == 0 {
        return Ok(BatchAt::End);
    }
    if remaining < BATCH_HEADER_LEN as u64 {
        return Ok(BatchAt::Torn);
    }
    let mut raw = [0u8; BATCH_HEADER_LEN];
    read_exact_at(file, path, &mut raw, position)?;
    let header = match BatchHeader::parse(&raw) {
        Ok(header) => header,
        Err(e) => return Ok(BatchAt::Invalid(e.to_string())),
    };
    if header.total_len() as u64 > remaining {
        return Ok(BatchAt::Torn);
    }
    Ok(BatchAt::Batch(header))
}

/// Checks the CRC of the batch at `position`, streaming it in chunks so a
/// large batch needs no large buffer.
pub(crate) fn crc_matches(
    file: &File,
    path: &Path,
    position: u64,
    header: &BatchHeader,
) -> Result<bool, StorageError> {
    let end = position + header.total_len() as u64;
    let mut at = position + CRC_COVERED_FROM;
    let mut crc = 0u32;
    let mut chunk = vec![0u8; CRC_CHUNK.min(header.total_len())];
    while at < end {
        let n = ((end - at) as usize).min(chunk.len());
        let Some(buf) = chunk.get_mut(..n) else {
            break;
        };
        read_exact_at(file, path, buf, at)?;
        crc = crc32c::crc32c_append(crc, buf);
        at += n as u64;
    }
    Ok(crc == header.crc)
}

/// The records of one batch could not be decoded (corrupt compression).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Undecodable;

/// The first record of `batch` (one whole batch) with an offset `>=
/// min_offset` and a timestamp `>= target`, as (offset, timestamp).
///
/// LogAppendTime batches stamp every record with the batch's maxTimestamp,
/// so their first eligible record answers. Compressed batches are
/// decompressed, bounded by `max_decompressed` bytes.
pub(crate) fn first_record_at_or_after(
    batch: &[u8],
    header: &BatchHeader,
    target: i64,
    min_offset: i64,
    max_decompressed: usize,
) -> Result<Option<(i64, i64)>, Undecodable> {
    if header.timestamp_type() == durian_core::record::TimestampType::LogAppendTime {
        let found = (header.max_timestamp >= target && header.last_offset() >= min_offset)
            .then(|| (header.base_offset.max(min_offset), header.max_timestamp));
        return Ok(found);
    }
    let section = batch.get(BATCH_HEADER_LEN..).ok_or(Undecodable)?;
    let decompressed;
    let mut records: &[u8] = match header.compression() {
        Compression::None => section,
        codec => {
            decompressed = decompress(codec, section, max_decompressed).map_err(|_| Undecodable)?;
            &decompressed
        }
    };
    // The count only bounds the loop; each record is read from the bytes.
    for _ in 0..header.record_count.max(0) {
        let len = get_varint(&mut records).map_err(|_| Undecodable)?;
        let len = usize::try_from(len).map_err(|_| Undecodable)?;
        let body = records.get(..len).ok_or(Undecodable)?;
        records = records.get(len..).ok_or(Undecodable)?;
        let mut fields = body.get(1..).ok_or(Undecodable)?; // skip the attributes byte
        let timestamp_delta = get_varlong(&mut fields).map_err(|_| Undecodable)?;
        let offset_delta = get_varint(&mut fields).map_err(|_| Undecodable)?;
        let timestamp = header.base_timestamp.saturating_add(timestamp_delta);
        let offset = header.base_offset + i64::from(offset_delta);
        if timestamp >= target && offset >= min_offset {
            return Ok(Some((offset, timestamp)));
        }
    }
    Ok(None)
}
