//! Integrity checks of a single batch: CRC and header plausibility.
//!
//! [`validate_batch`] and [`verify_crc`] look only at the header and the
//! CRC, never at the records, so a broker can check what a producer sent
//! (or what recovery finds on disk) without decompressing anything.
//! [`check_records`] is the deep check a broker runs on produce: it walks
//! the (decompressed, bounded) records in place without building them.

use bytes::Bytes;

use super::header::{ATTRIBUTES_POS, CRC_POS};
use super::varint::{get_varint, get_varlong, VarintError};
use super::{BatchError, BatchHeader, BATCH_HEADER_LEN};
use crate::compression::{self, Compression};

/// Smallest encoded record: length, attributes, timestamp delta, offset
/// delta, key length, value length and header count, one byte each.
pub const MIN_RECORD_LEN: usize = 7;

/// CRC-32C of the CRC-covered region (attributes..end) of `batch`.
///
/// `batch` must start at a batch header; bytes past the header are all
/// taken as part of the batch.
pub fn compute_crc(batch: &[u8]) -> Result<u32, BatchError> {
    let covered = batch.get(ATTRIBUTES_POS..).ok_or(BatchError::Truncated {
        needed: BATCH_HEADER_LEN,
        available: batch.len(),
    })?;
    Ok(crc32c::crc32c(covered))
}

/// Checks that `batch` is exactly one batch and that its CRC matches.
pub fn verify_crc(batch: &[u8]) -> Result<(), BatchError> {
    let header = parse_exact(batch)?;
    let computed = compute_crc(batch)?;
    if computed != header.crc {
        return Err(BatchError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    Ok(())
}

/// Parses the header of `batch` and checks that the buffer is exactly the
/// batch the header describes.
pub(crate) fn parse_exact(batch: &[u8]) -> Result<BatchHeader, BatchError> {
    let header = BatchHeader::parse(batch)?;
    if header.total_len() != batch.len() {
        return Err(BatchError::LengthMismatch {
            declared: header.total_len(),
            actual: batch.len(),
        });
    }
    Ok(header)
}

/// Validates a batch as a broker receives it from a producer.
///
/// Checks, in order: magic 2 and a sane batch length, that `batch` is
/// exactly one batch, that it fits `max_bytes`, that the record count is at
/// least 1 (and, uncompressed, no more than the records section can hold),
/// that lastOffsetDelta = count - 1 (producers number records 0..count), and
/// the CRC. Records themselves are not decoded.
///
/// Batches left by log compaction may legitimately have gaps or no records;
/// use [`verify_crc`] alone for those.
pub fn validate_batch(batch: &[u8], max_bytes: usize) -> Result<BatchHeader, BatchError> {
    let header = parse_exact(batch)?;
    if batch.len() > max_bytes {
        return Err(BatchError::TooLarge {
            size: batch.len(),
            limit: max_bytes,
        });
    }
    check_record_count(&header)?;
    verify_crc(batch)?;
    Ok(header)
}

/// Header-only plausibility of the record count and last offset delta.
fn check_record_count(header: &BatchHeader) -> Result<(), BatchError> {
    let count = header.record_count;
    if count < 1 {
        return Err(BatchError::InvalidRecordCount {
            count,
            reason: "a produced batch holds at least one record",
        });
    }
    if header.compression() == Compression::None
        && count as usize > header.records_len() / MIN_RECORD_LEN
    {
        return Err(BatchError::InvalidRecordCount {
            count,
            reason: "more records than the records section has room for",
        });
    }
    if i64::from(header.last_offset_delta) != i64::from(count) - 1 {
        return Err(BatchError::OffsetDeltaMismatch {
            last_offset_delta: header.last_offset_delta,
            record_count: count,
        });
    }
    Ok(())
}

/// Decodes every record of `batch` and checks that offset deltas run
/// 0, 1, 2, … as a producer numbers them, decompressing at most
/// `max_decompressed` bytes.
///
/// This is the deep half of a broker's produce validation; call
/// [`validate_batch`] first for the cheap header and CRC checks. Same as
/// [`check_records`], kept for callers holding [`Bytes`].
pub fn validate_records(batch: &Bytes, max_decompressed: usize) -> Result<(), BatchError> {
    check_records(batch, max_decompressed)
}

/// Walks every record of `batch` (exactly one batch) without building
/// them, and checks that the records section holds exactly the header's
/// record count of well-formed records with offset deltas 0, 1, 2, ….
///
/// A compressed section is decompressed once into one buffer of at most
/// `max_decompressed` bytes ([`CompressionError::OutputTooLarge`] past
/// it, so a decompression bomb costs at most that much memory); nothing
/// is allocated per record. The CRC is not checked here.
///
/// [`CompressionError::OutputTooLarge`]: crate::compression::CompressionError::OutputTooLarge
fn check_records(batch: &[u8], max_decompressed: usize) -> Result<(), BatchError> {
    let header = parse_exact(batch)?;
    let count =
        usize::try_from(header.record_count).map_err(|_| BatchError::InvalidRecordCount {
            count: header.record_count,
            reason: "negative",
        })?;
    let section = batch.get(BATCH_HEADER_LEN..).unwrap_or_default();
    let decompressed;
    let records: &[u8] = match Compression::from_attributes(header.attributes)? {
        Compression::None => section,
        codec => {
            decompressed = compression::decompress(codec, section, max_decompressed)?;
            &decompressed
        }
    };
    walk_records(records, count)
}

/// Checks that `records` is exactly `count` well-formed records numbered
/// 0..count, reading each field in place.
fn walk_records(mut records: &[u8], count: usize) -> Result<(), BatchError> {
    // The count only bounds the loop: every record consumes at least one
    // byte, so a lying count ends in an error, not a long spin.
    for index in 0..count {
        let malformed = |reason| BatchError::MalformedRecord { index, reason };
        let len = read_len(
            &mut records,
            index,
            "record length beyond the bytes present",
        )?
        .ok_or(malformed("negative record length"))?;
        let (mut body, rest) = records
            .split_at_checked(len)
            .ok_or(malformed("record length beyond the bytes present"))?;
        records = rest;
        let (_attributes, fields) = body.split_first().ok_or(malformed("record cut short"))?;
        body = fields;
        get_varlong(&mut body).map_err(|e| varint_error(index, e))?; // timestamp delta
        let offset_delta = get_varint(&mut body).map_err(|e| varint_error(index, e))?;
        if usize::try_from(offset_delta).ok() != Some(index) {
            return Err(malformed(
                "offset delta out of sequence (a producer numbers records 0, 1, 2, ...)",
            ));
        }
        skip_field(&mut body, index, "key length beyond the end of the record")?;
        skip_field(
            &mut body,
            index,
            "value length beyond the end of the record",
        )?;
        let headers = get_varint(&mut body).map_err(|e| varint_error(index, e))?;
        let headers = usize::try_from(headers).map_err(|_| malformed("negative header count"))?;
        for _ in 0..headers {
            let key = skip_field(
                &mut body,
                index,
                "header key length beyond the end of the record",
            )?;
            if !key {
                return Err(malformed("null header key"));
            }
            skip_field(
                &mut body,
                index,
                "header value length beyond the end of the record",
            )?;
        }
        if !body.is_empty() {
            return Err(malformed("record length does not match its fields"));
        }
    }
    if !records.is_empty() {
        return Err(BatchError::TrailingBytes(records.len()));
    }
    Ok(())
}

/// Reads a varint length (`None` for -1) that must fit in `buf`.
fn read_len(
    buf: &mut &[u8],
    index: usize,
    too_long: &'static str,
) -> Result<Option<usize>, BatchError> {
    let len = get_varint(buf).map_err(|e| varint_error(index, e))?;
    if len == -1 {
        return Ok(None);
    }
    let len = usize::try_from(len).map_err(|_| BatchError::MalformedRecord {
        index,
        reason: "length below -1",
    })?;
    if len > buf.len() {
        return Err(BatchError::MalformedRecord {
            index,
            reason: too_long,
        });
    }
    Ok(Some(len))
}

/// Skips a nullable length-prefixed field; `false` when it was null.
fn skip_field(buf: &mut &[u8], index: usize, too_long: &'static str) -> Result<bool, BatchError> {
    let Some(len) = read_len(buf, index, too_long)? else {
        return Ok(false);
    };
    *buf = buf.get(len..).unwrap_or_default();
    Ok(true)
}

fn varint_error(index: usize, err: VarintError) -> BatchError {
    let reason = match err {
        VarintError::Truncated => "field cut short by the end of the record",
        VarintError::Overlong => "varint longer than its type allows",
    };
    BatchError::MalformedRecord { index, reason }
}

/// Writes the CRC of `batch` into its header (after fields it covers changed).
pub(crate) fn store_crc(batch: &mut [u8]) -> Result<(), BatchError> {
    let crc = compute_crc(batch)?;
    let available = batch.len();
    let slot = batch
        .get_mut(CRC_POS..CRC_POS + 4)
        .ok_or(BatchError::Truncated {
            needed: BATCH_HEADER_LEN,
            available,
        })?;
    slot.copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::{compress, CompressionError};
    use crate::record::{BatchWriter, NO_HEADERS};

    const CODECS: [Compression; 4] = [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// A batch of `codec` whose records section is `section` as given,
    /// with the header's count set to `count` and a valid CRC.
    fn raw_batch(codec: Compression, section: &[u8], count: i32) -> Bytes {
        let mut batch = BatchWriter::builder().build();
        batch
            .try_append(0, None, Some(b"x"), NO_HEADERS)
            .expect("append");
        let template = batch.finish().expect("finish");
        let mut out = template.get(..BATCH_HEADER_LEN).expect("header").to_vec();
        out.extend_from_slice(section);
        let batch_length = (out.len() - 12) as i32;
        out[8..12].copy_from_slice(&batch_length.to_be_bytes());
        out[21..23].copy_from_slice(&codec.attribute_bits().to_be_bytes());
        out[23..27].copy_from_slice(&(count - 1).to_be_bytes());
        out[57..61].copy_from_slice(&count.to_be_bytes());
        store_crc(&mut out).expect("crc");
        Bytes::from(out)
    }

    /// The uncompressed records section of a writer batch of `n` records.
    fn records_section(n: i64) -> Vec<u8> {
        let mut writer = BatchWriter::builder().build();
        for i in 0..n {
            let header = [("h", Some(&b"v"[..]))];
            writer
                .try_append(i, Some(b"key"), Some(b"value"), &header[..])
                .expect("append");
        }
        writer
            .finish()
            .expect("finish")
            .slice(BATCH_HEADER_LEN..)
            .to_vec()
    }

    #[test]
    fn valid_batches_of_every_codec_pass() {
        for codec in CODECS.into_iter().chain([Compression::None]) {
            let mut writer = BatchWriter::builder().compression(codec).build();
            for i in 0..50 {
                writer
                    .try_append(i, Some(b"k"), Some(b"durian durian durian"), NO_HEADERS)
                    .expect("append");
            }
            let batch = writer.finish().expect("finish");
            validate_batch(&batch, usize::MAX).expect("header valid");
            validate_records(&batch, 1 << 20).unwrap_or_else(|e| panic!("{codec}: {e}"));
        }
    }

    #[test]
    fn a_bomb_of_every_codec_stops_at_the_limit() {
        let limit = 1 << 20;
        let zeros = vec![0u8; 4 << 20];
        for codec in CODECS {
            let mut packed = Vec::new();
            compress(codec, &zeros, &mut packed).expect("compress");
            let result = validate_records(&raw_batch(codec, &packed, 1), limit);
            assert!(
                matches!(
                    result,
                    Err(BatchError::Compression(CompressionError::OutputTooLarge { limit: l, .. })) if l == limit
                ),
                "{codec}: {result:?}"
            );
        }
    }

    #[test]
    fn garbage_compressed_sections_are_rejected() {
        let garbage: Vec<u8> = (0..200u32).map(|i| (i * 7919 % 251) as u8).collect();
        for codec in CODECS {
            let result = validate_records(&raw_batch(codec, &garbage, 1), 1 << 20);
            assert!(result.is_err(), "{codec}: garbage accepted");
        }
    }

    #[test]
    fn compressed_zeros_are_not_records() {
        // Decompresses fine but parses as records of length 0.
        for codec in CODECS {
            let mut packed = Vec::new();
            compress(codec, &[0u8; 64], &mut packed).expect("compress");
            let result = validate_records(&raw_batch(codec, &packed, 1), 1 << 20);
            assert!(
                matches!(result, Err(BatchError::MalformedRecord { index: 0, .. })),
                "{codec}: {result:?}"
            );
        }
    }

    #[test]
    fn a_count_that_disagrees_with_the_records_is_rejected() {
        let section = records_section(3);
        for codec in CODECS.into_iter().chain([Compression::None]) {
            let mut packed = Vec::new();
            compress(codec, &section, &mut packed).expect("compress");
            validate_records(&raw_batch(codec, &packed, 3), 1 << 20)
                .unwrap_or_else(|e| panic!("{codec}: exact count refused: {e}"));
            let fewer = validate_records(&raw_batch(codec, &packed, 2), 1 << 20);
            assert!(
                matches!(fewer, Err(BatchError::TrailingBytes(_))),
                "{codec}: {fewer:?}"
            );
            let more = validate_records(&raw_batch(codec, &packed, 4), 1 << 20);
            assert!(
                matches!(more, Err(BatchError::MalformedRecord { index: 3, .. })),
                "{codec}: {more:?}"
            );
        }
    }

    #[test]
    fn an_unassigned_codec_is_rejected() {
        let result = validate_records(
            &raw_batch(Compression::None, &records_section(1), 1),
            1 << 20,
        );
        assert!(result.is_ok(), "{result:?}");
        let mut batch = raw_batch(Compression::None, &records_section(1), 1).to_vec();
        batch[21..23].copy_from_slice(&5i16.to_be_bytes());
        let result = validate_records(&Bytes::from(batch), 1 << 20);
        assert!(
            matches!(
                result,
                Err(BatchError::Compression(CompressionError::UnknownCodec(5)))
            ),
            "{result:?}"
        );
    }
}
