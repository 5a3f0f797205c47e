//! Reading the records of one batch, zero-copy where possible.
//!
//! ```text
//! batch Bytes ─▶ RecordIter::new ─┬─ uncompressed: records slice of the batch
//!                                 └─ compressed: decompress (bounded) once
//!              ─▶ next() ─▶ Record { key, value, headers } as Bytes slices
//! ```
//!
//! Every length and count comes off the wire, so each is checked against the
//! bytes that remain before it is used, and no vector is pre-sized from a
//! count beyond what the remaining bytes could hold.

use std::str::Utf8Error;

use bytes::Bytes;

use super::validate::{parse_exact, MIN_RECORD_LEN};
use super::varint::{get_varint, get_varlong, VarintError};
use super::writer::HeaderView;
use super::{BatchError, BatchHeader, TimestampType, BATCH_HEADER_LEN};
use crate::compression::{self, Compression};

/// Default bound on the decompressed records section of one batch.
pub const DEFAULT_MAX_DECOMPRESSED: usize = 64 << 20;

/// Smallest encoded header: key length and value length, one byte each.
const MIN_HEADER_LEN: usize = 2;

/// One record header: a key and an optional value, as on the wire.
///
/// The one header type of durian: the producer writes it, the decoder
/// returns it, and the consumer hands it to the application. Keys are
/// UTF-8 by Kafka's convention, but the wire format allows any bytes and
/// other clients do write binary keys, so the key is kept as bytes (never
/// lost or replaced) and [`key_str`](Self::key_str) checks it when text is
/// wanted. Decoding never copies: key and value are slices of the batch.
///
/// ```
/// use bytes::Bytes;
/// use durian_core::record::RecordHeader;
/// let trace = RecordHeader::text("trace", "abc");
/// assert_eq!(trace.key_str(), Ok("trace"));
/// let binary = RecordHeader::new(Bytes::from_static(&[0xff, 0x00]), None);
/// assert!(binary.key_str().is_err());
/// assert_eq!(&binary.key[..], &[0xff, 0x00]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordHeader {
    /// The header key, any bytes (UTF-8 by convention).
    pub key: Bytes,
    /// The header value, `None` when null on the wire.
    pub value: Option<Bytes>,
}

impl RecordHeader {
    /// A header from a key of any bytes and an optional value.
    ///
    /// `String`, `Vec<u8>`, `Bytes` and `&'static str` keys move in
    /// without a copy; for a borrowed `&str` use [`text`](Self::text).
    pub fn new(key: impl Into<Bytes>, value: Option<Bytes>) -> Self {
        RecordHeader {
            key: key.into(),
            value,
        }
    }

    /// A header with a text key and a (non-null) value. The key may be a
    /// `&str` of any lifetime (it is copied) or a `String` (moved).
    pub fn text(key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        RecordHeader {
            key: Bytes::from(key.into()),
            value: Some(value.into()),
        }
    }

    /// A header with a text key and a null value.
    pub fn null(key: impl Into<String>) -> Self {
        RecordHeader {
            key: Bytes::from(key.into()),
            value: None,
        }
    }

    /// The key as text, or an error when it is not UTF-8.
    pub fn key_str(&self) -> Result<&str, Utf8Error> {
        std::str::from_utf8(&self.key)
    }
}

impl HeaderView for RecordHeader {
    fn header_key(&self) -> &[u8] {
        &self.key
    }
    fn header_value(&self) -> Option<&[u8]> {
        self.value.as_deref()
    }
}

/// One decoded record with absolute offset and timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset: base offset + offset delta.
    pub offset: i64,
    /// Create time, or the batch's maxTimestamp for LogAppendTime batches.
    pub timestamp: i64,
    /// The key, `None` when null.
    pub key: Option<Bytes>,
    /// The value, `None` when null (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers in wire order; repeated keys are all kept.
    pub headers: Vec<RecordHeader>,
}

/// Decodes every record of one batch. See [`RecordIter`].
pub fn decode_records(batch: &Bytes) -> Result<Vec<Record>, BatchError> {
    RecordIter::new(batch)?.collect()
}

/// Iterator over the records of one batch.
///
/// Yields an error at most once (then stops): for a malformed record, for a
/// records section that ends before the announced count, or for bytes left
/// over after it.
#[derive(Debug, Clone)]
pub struct RecordIter {
    header: BatchHeader,
    records: Bytes,
    pos: usize,
    index: usize,
    count: usize,
    done: bool,
}

impl RecordIter {
    /// Starts decoding `batch` (exactly one batch), decompressing up to
    /// [`DEFAULT_MAX_DECOMPRESSED`] bytes. The CRC is not checked here;
    /// call [`verify_crc`](super::verify_crc) first where corruption matters.
    pub fn new(batch: &Bytes) -> Result<Self, BatchError> {
        Self::with_max_decompressed(batch, DEFAULT_MAX_DECOMPRESSED)
    }

    /// Like [`new`](Self::new) with an explicit decompression limit.
    pub fn with_max_decompressed(
        batch: &Bytes,
        max_decompressed: usize,
    ) -> Result<Self, BatchError> {
        let header = parse_exact(batch)?;
        let count =
            usize::try_from(header.record_count).map_err(|_| BatchError::InvalidRecordCount {
                count: header.record_count,
                reason: "negative",
            })?;
        let section = batch.slice(BATCH_HEADER_LEN.min(batch.len())..);
        let records = match header.compression() {
            Compression::None => section,
            codec => Bytes::from(compression::decompress(codec, &section, max_decompressed)?),
        };
        if count > records.len() / MIN_RECORD_LEN {
            return Err(BatchError::InvalidRecordCount {
                count: header.record_count,
                reason: "more records than the records section has room for",
            });
        }
        Ok(RecordIter {
            header,
            records,
            pos: 0,
            index: 0,
            count,
            done: false,
        })
    }

    /// The header of the batch being decoded.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// Whether this is a control batch (transaction markers, not user data).
    pub fn is_control(&self) -> bool {
        self.header.is_control()
    }

    /// Bytes of the records section being decoded (decompressed, for a
    /// compressed batch): what holding this iterator keeps in memory.
    pub fn records_len(&self) -> usize {
        self.records.len()
    }

    /// Records not yet yielded, as announced by the header.
    pub fn remaining_count(&self) -> usize {
        self.count.saturating_sub(self.index)
    }

    /// Decodes the record at `self.pos`.
    fn decode_next(&mut self) -> Result<Record, BatchError> {
        let index = self.index;
        let malformed = |reason| BatchError::MalformedRecord { index, reason };
        let mut cursor = Cursor {
            data: &self.records,
            pos: self.pos,
            end: self.records.len(),
        };
        let body_len = cursor.length(index, "record length beyond the bytes present")?;
        let body_len = body_len.ok_or(malformed("negative record length"))?;
        let end = cursor.pos + body_len;
        let mut body = Cursor { end, ..cursor };

        body.byte(index)?; // record attributes: unused in v2
        let timestamp_delta = body.varlong(index)?;
        let offset_delta = body.varint(index)?;
        let key = body.nullable(index, "key length beyond the end of the record")?;
        let value = body.nullable(index, "value length beyond the end of the record")?;
        let header_count = body.varint(index)?;
        let header_count =
            usize::try_from(header_count).map_err(|_| malformed("negative header count"))?;
        if header_count > body.remaining() / MIN_HEADER_LEN {
            return Err(malformed("more headers than the record has room for"));
        }
        let mut headers = Vec::with_capacity(header_count);
        for _ in 0..header_count {
            let key = body
                .nullable(index, "header key length beyond the end of the record")?
                .ok_or(malformed("null header key"))?;
            let value = body.nullable(index, "header value length beyond the end of the record")?;
            headers.push(RecordHeader { key, value });
        }
        if body.pos != end {
            return Err(malformed("record length does not match its fields"));
        }
        self.pos = end;

        let timestamp = match self.header.timestamp_type() {
            TimestampType::LogAppendTime => self.header.max_timestamp,
            TimestampType::CreateTime => self.header.base_timestamp.saturating_add(timestamp_delta),
        };
        Ok(Record {
            offset: self
                .header
                .base_offset
                .saturating_add(i64::from(offset_delta)),
            timestamp,
            key,
            value,
            headers,
        })
    }
}

impl Iterator for RecordIter {
    type Item = Result<Record, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.index == self.count {
            self.done = true;
            let left = self.records.len().saturating_sub(self.pos);
            return (left > 0).then_some(Err(BatchError::TrailingBytes(left)));
        }
        let result = self.decode_next();
        self.index += 1;
        if result.is_err() {
            self.done = true;
        }
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining_count() + 1))
    }
}

impl std::iter::FusedIterator for RecordIter {}

/// A read position within `data[..end]`, handing out zero-copy slices.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    data: &'a Bytes,
    pos: usize,
    end: usize,
}

impl Cursor<'_> {
    fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    fn rest(&self) -> &[u8] {
        self.data.get(self.pos..self.end).unwrap_or_default()
    }

    fn varint_error(index: usize, err: VarintError) -> BatchError {
        let reason = match err {
            VarintError::Truncated => "field cut short by the end of the record",
            VarintError::Overlong => "varint longer than its type allows",
        };
        BatchError::MalformedRecord { index, reason }
    }

    fn byte(&mut self, index: usize) -> Result<u8, BatchError> {
        let byte = *self.rest().first().ok_or(BatchError::MalformedRecord {
            index,
            reason: "record cut short",
        })?;
        self.pos += 1;
        Ok(byte)
    }

    fn varint(&mut self, index: usize) -> Result<i32, BatchError> {
        let mut rest = self.rest();
        let before = rest.len();
        let value = get_varint(&mut rest).map_err(|err| Self::varint_error(index, err))?;
        self.pos += before - rest.len();
        Ok(value)
    }

    fn varlong(&mut self, index: usize) -> Result<i64, BatchError> {
        let mut rest = self.rest();
        let before = rest.len();
        let value = get_varlong(&mut rest).map_err(|err| Self::varint_error(index, err))?;
        self.pos += before - rest.len();
        Ok(value)
    }

    /// Reads a varint length: `None` for -1, an error below -1 or beyond
    /// the bytes remaining (reported as `too_long`).
    fn length(
        &mut self,
        index: usize,
        too_long: &'static str,
    ) -> Result<Option<usize>, BatchError> {
        let len = self.varint(index)?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| BatchError::MalformedRecord {
            index,
            reason: "length below -1",
        })?;
        if len > self.remaining() {
            return Err(BatchError::MalformedRecord {
                index,
                reason: too_long,
            });
        }
        Ok(Some(len))
    }

    /// Reads a nullable length-prefixed field as a slice of `data`.
    fn nullable(
        &mut self,
        index: usize,
        too_long: &'static str,
    ) -> Result<Option<Bytes>, BatchError> {
        let Some(len) = self.length(index, too_long)? else {
            return Ok(None);
        };
        let field = self.data.slice(self.pos..self.pos + len);
        self.pos += len;
        Ok(Some(field))
    }
}
