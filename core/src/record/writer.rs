//! Building a v2 batch directly in its wire format.
//!
//! ```text
//! builder ─▶ BatchWriter ─try_append()*─▶ finish() ─▶ Bytes (one whole batch)
//!            [61 reserved bytes | record | record | …]
//!                                  └─ compressed here when a codec is set
//! ```
//!
//! Records are encoded straight into one growing buffer: their sizes are
//! computed first so the record length varint can be written before the
//! record, and no per-record allocation happens. The header is filled in
//! and the CRC computed once, in [`BatchWriter::finish`].
//!
//! Uncompressed batches can reference large values instead of copying them
//! ([`BatchWriterBuilder::reference_values_from`],
//! [`BatchWriter::try_append_shared`]): the buffer then holds everything
//! but those values, and [`BatchWriter::finish_rope`] returns the batch as
//! pieces ([`BatchRope`]) with the values' own `Bytes` between them.

use bytes::{BufMut, Bytes};

use super::header::{
    ATTRIBUTES_POS, ATTR_CONTROL, ATTR_TIMESTAMP_TYPE, ATTR_TRANSACTIONAL, BATCH_LENGTH_OVERHEAD,
    CRC_POS,
};
use super::rope::BatchRope;
use super::validate::store_crc;
use super::varint::{put_varint, put_varlong, varint_len, varlong_len};
use super::{BatchError, TimestampType, BATCH_HEADER_LEN, MAGIC_V2};
use crate::compression::{self, Compression};

/// Kafka's default `batch.size`.
pub const DEFAULT_BATCH_SIZE: usize = 16 * 1024;

/// A header as the writer takes it: a key and an optional value.
///
/// Implemented for `(&str, &[u8])`, `(&str, Option<&[u8]>)`,
/// [`RecordHeader`](super::RecordHeader) and references to these, so callers
/// can pass whatever header type they keep.
pub trait HeaderView {
    /// The header key (UTF-8 by Kafka's convention).
    fn header_key(&self) -> &[u8];
    /// The header value; `None` encodes as a null value.
    fn header_value(&self) -> Option<&[u8]>;
}

impl HeaderView for (&str, &[u8]) {
    fn header_key(&self) -> &[u8] {
        self.0.as_bytes()
    }
    fn header_value(&self) -> Option<&[u8]> {
        Some(self.1)
    }
}

impl HeaderView for (&str, Option<&[u8]>) {
    fn header_key(&self) -> &[u8] {
        self.0.as_bytes()
    }
    fn header_value(&self) -> Option<&[u8]> {
        self.1
    }
}

impl<T: HeaderView> HeaderView for &T {
    fn header_key(&self) -> &[u8] {
        (*self).header_key()
    }
    fn header_value(&self) -> Option<&[u8]> {
        (*self).header_value()
    }
}

/// An empty header list, for records without headers.
pub const NO_HEADERS: &[(&str, &[u8])] = &[];

/// Settings of a batch, fixed before the first record. See [`BatchWriter::builder`].
#[derive(Debug, Clone)]
pub struct BatchWriterBuilder {
    base_offset: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
    timestamp_type: TimestampType,
    compression: Compression,
    size_limit: usize,
    /// Values at least this long are referenced, not copied (uncompressed
    /// batches only); `usize::MAX`: never.
    reference_from: usize,
}

impl Default for BatchWriterBuilder {
    fn default() -> Self {
        BatchWriterBuilder {
            base_offset: 0,
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            control: false,
            timestamp_type: TimestampType::CreateTime,
            compression: Compression::None,
            size_limit: DEFAULT_BATCH_SIZE,
            reference_from: usize::MAX,
        }
    }
}

impl BatchWriterBuilder {
    /// Base offset written in the header (default 0; the broker rewrites it).
    pub fn base_offset(mut self, offset: i64) -> Self {
        self.base_offset = offset;
        self
    }

    /// Idempotent producer state (default -1, -1, -1: none).
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch as part of a transaction (default false).
    pub fn transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    /// Marks the batch as holding control records (default false).
    pub fn control(mut self, control: bool) -> Self {
        self.control = control;
        self
    }

    /// Timestamp type (default [`TimestampType::CreateTime`]).
    pub fn timestamp_type(mut self, timestamp_type: TimestampType) -> Self {
        self.timestamp_type = timestamp_type;
        self
    }

    /// Codec applied to the records section in `finish` (default none).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Size limit in bytes (Kafka's `batch.size`, default 16 KiB).
    ///
    /// The limit applies to the uncompressed batch, so a compressed batch
    /// always ends up smaller than it. A first record is accepted even if it
    /// alone exceeds the limit, as Kafka's producer does.
    pub fn size_limit(mut self, bytes: usize) -> Self {
        self.size_limit = bytes;
        self
    }

    /// Values of at least `min_len` bytes appended with
    /// [`BatchWriter::try_append_shared`] are referenced rather than copied
    /// into the buffer (default: never). Applies to uncompressed batches
    /// only: a codec needs the records contiguous. The batch then holds
    /// those values alive until it is dropped, and
    /// [`BatchWriter::finish_rope`] returns it in pieces.
    pub fn reference_values_from(mut self, min_len: usize) -> Self {
        self.reference_from = min_len.max(1);
        self
    }

    /// How many bytes of `value` a writer with these settings would
    /// reference rather than copy: its length or 0.
    pub fn referenced_len(&self, value: Option<&Bytes>) -> usize {
        value
            .filter(|v| v.len() >= self.reference_from && self.compression == Compression::None)
            .map_or(0, Bytes::len)
    }

    /// Starts an empty batch with these settings.
    pub fn build(self) -> BatchWriter {
        self.build_with_capacity(0)
    }

    /// Starts an empty batch whose buffer has room for `capacity` bytes of
    /// records (for example `size_limit` when batches are usually filled).
    pub fn build_with_capacity(self, capacity: usize) -> BatchWriter {
        let mut buf = Vec::with_capacity(BATCH_HEADER_LEN.saturating_add(capacity));
        buf.resize(BATCH_HEADER_LEN, 0);
        BatchWriter {
            settings: self,
            buf,
            shared: Vec::new(),
            shared_len: 0,
            record_count: 0,
            base_timestamp: 0,
            max_timestamp: 0,
        }
    }
}

/// Appends records to one batch in final wire format. See the module docs.
///
/// ```
/// use durian_core::compression::Compression;
/// use durian_core::record::{decode_records, BatchWriter, NO_HEADERS};
///
/// let mut writer = BatchWriter::builder().compression(Compression::Gzip).build();
/// assert!(writer.try_append(1_700_000_000_000, Some(b"k"), Some(b"v"), NO_HEADERS).unwrap());
/// writer.try_append(1_700_000_000_001, None, None, &[("trace", &b"1"[..])]).unwrap();
/// let batch = writer.finish().unwrap();
/// let records = decode_records(&batch).unwrap();
/// assert_eq!(records.len(), 2);
/// assert_eq!(records[1].headers[0].key, "trace");
/// ```
#[derive(Debug, Clone)]
pub struct BatchWriter {
    settings: BatchWriterBuilder,
    buf: Vec<u8>,
    /// Referenced values, each with the position in `buf` it goes before.
    shared: Vec<(usize, Bytes)>,
    /// Bytes of the referenced values together.
    shared_len: usize,
    record_count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
}

/// Where a record's fields go, computed before it is written.
struct RecordLayout {
    base_timestamp: i64,
    timestamp_delta: i64,
    offset_delta: i32,
    header_count: i32,
    /// The record's length without its own length varint.
    body_len: i32,
    /// The whole record's length, length varint included.
    record_len: usize,
}

/// Encoded size of a nullable length-prefixed field.
fn nullable_len(field: Option<&[u8]>) -> Result<usize, BatchError> {
    match field {
        None => Ok(varint_len(-1)),
        Some(bytes) => {
            let len = i32::try_from(bytes.len()).map_err(|_| {
                BatchError::Encode("a key, value or header is longer than i32::MAX")
            })?;
            Ok(varint_len(len) + bytes.len())
        }
    }
}

/// Writes a nullable length-prefixed field (length already validated).
fn put_nullable(buf: &mut Vec<u8>, field: Option<&[u8]>) {
    match field {
        None => put_varint(buf, -1),
        Some(bytes) => {
            put_varint(buf, bytes.len() as i32);
            buf.extend_from_slice(bytes);
        }
    }
}

impl BatchWriter {
    /// A builder with Kafka's producer defaults.
    pub fn builder() -> BatchWriterBuilder {
        BatchWriterBuilder::default()
    }

    /// Sets the producer id, epoch and base sequence that `finish` writes,
    /// for a producer that assigns sequences only when it sends a batch.
    /// Setting them here rather than rewriting the finished batch
    /// ([`super::set_producer_state`]) computes the CRC once instead of twice.
    pub fn set_producer(&mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) {
        self.settings.producer_id = producer_id;
        self.settings.producer_epoch = producer_epoch;
        self.settings.base_sequence = base_sequence;
    }

    /// Number of records appended so far.
    pub fn record_count(&self) -> i32 {
        self.record_count
    }

    /// Whether no record was appended yet.
    pub fn is_empty(&self) -> bool {
        self.record_count == 0
    }

    /// Current size of the batch, uncompressed: exact for uncompressed
    /// batches, an upper estimate of the compressed size otherwise.
    pub fn estimated_size(&self) -> usize {
        self.buf.len() + self.shared_len
    }

    /// The codec `finish` will apply.
    pub fn compression(&self) -> Compression {
        self.settings.compression
    }

    /// Makes room in the buffer for `additional` more bytes of records, so
    /// that appends up to that size do not reallocate. Grows the buffer
    /// to exactly that, not by doubling: a caller that accounts for the
    /// memory of its batches (a producer's `buffer.memory`) can size the
    /// buffer to what it reserved.
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve_exact(additional);
    }

    /// Bytes the buffer holds before it must reallocate, the batch
    /// header's included, plus the referenced values (compare with
    /// [`estimated_size`](Self::estimated_size)): the memory the batch keeps.
    pub fn capacity(&self) -> usize {
        self.buf.capacity() + self.shared_len
    }

    /// Bytes of values referenced rather than copied so far.
    pub fn referenced_bytes(&self) -> usize {
        self.shared_len
    }

    /// How many bytes of `value` [`try_append_shared`](Self::try_append_shared)
    /// would reference rather than copy: its length or 0. A caller sizing
    /// the buffer to its memory budget leaves those bytes out.
    pub fn referenced_len(&self, value: Option<&Bytes>) -> usize {
        self.settings.referenced_len(value)
    }

    /// Gives back buffer room so that [`capacity`](Self::capacity) is at
    /// most `bytes`, as far as the bytes written allow: referenced values
    /// take memory of their own, so room set aside for copying them is
    /// not needed.
    pub fn fit_within(&mut self, bytes: usize) {
        if self.capacity() > bytes {
            let room = bytes.saturating_sub(self.shared_len).max(self.buf.len());
            self.buf.shrink_to(room);
        }
    }

    /// Whether [`try_append`](Self::try_append) would take this record
    /// now (the first record always fits). Errors as `try_append` does
    /// when the record cannot be encoded at all.
    pub fn would_fit<H: HeaderView>(
        &self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[H],
    ) -> Result<bool, BatchError> {
        if self.is_empty() {
            return Ok(true);
        }
        let layout = self.layout(timestamp_ms, key, value, headers)?;
        Ok(self.estimated_size().saturating_add(layout.record_len) <= self.settings.size_limit)
    }

    /// The encoded layout of a record appended next.
    fn layout<H: HeaderView>(
        &self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[H],
    ) -> Result<RecordLayout, BatchError> {
        let base_timestamp = if self.is_empty() {
            timestamp_ms
        } else {
            self.base_timestamp
        };
        let timestamp_delta = timestamp_ms
            .checked_sub(base_timestamp)
            .ok_or(BatchError::Encode("timestamp delta overflows i64"))?;
        let offset_delta = self.record_count;
        if offset_delta == i32::MAX {
            return Err(BatchError::Encode("a batch holds at most i32::MAX records"));
        }
        let header_count = i32::try_from(headers.len())
            .map_err(|_| BatchError::Encode("more than i32::MAX headers"))?;

        let mut body_len = 1 // attributes
            + varlong_len(timestamp_delta)
            + varint_len(offset_delta)
            + nullable_len(key)?
            + nullable_len(value)?
            + varint_len(header_count);
        for header in headers {
            body_len +=
                nullable_len(Some(header.header_key()))? + nullable_len(header.header_value())?;
        }
        let body_len = i32::try_from(body_len)
            .map_err(|_| BatchError::Encode("record longer than i32::MAX"))?;
        Ok(RecordLayout {
            base_timestamp,
            timestamp_delta,
            offset_delta,
            header_count,
            body_len,
            record_len: varint_len(body_len) + body_len as usize,
        })
    }

    /// Appends one record if it fits the size limit.
    ///
    /// Returns `Ok(false)` without changing the batch when the record would
    /// push the batch past the limit; the first record is always accepted.
    /// Headers are written in the order given, repeated keys included.
    /// Errors only when the record cannot be encoded at all (a field longer
    /// than i32::MAX, more than i32::MAX records, a timestamp delta that
    /// overflows).
    pub fn try_append<H: HeaderView>(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[H],
    ) -> Result<bool, BatchError> {
        self.append(timestamp_ms, key, value, None, headers)
    }

    /// [`try_append`](Self::try_append) for a value held as `Bytes`: when
    /// the batch is uncompressed and the value is at least
    /// [`reference_values_from`](BatchWriterBuilder::reference_values_from)
    /// long, the batch keeps a reference to it instead of a copy.
    pub fn try_append_shared<H: HeaderView>(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&Bytes>,
        headers: &[H],
    ) -> Result<bool, BatchError> {
        let shared = value.filter(|v| self.referenced_len(Some(v)) > 0);
        self.append(timestamp_ms, key, value.map(|v| &v[..]), shared, headers)
    }

    /// Appends a record; `shared` is `value` as `Bytes` when it is to be
    /// referenced.
    fn append<H: HeaderView>(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        shared: Option<&Bytes>,
        headers: &[H],
    ) -> Result<bool, BatchError> {
        let RecordLayout {
            base_timestamp,
            timestamp_delta,
            offset_delta,
            header_count,
            body_len,
            record_len,
        } = self.layout(timestamp_ms, key, value, headers)?;
        let new_size = self.estimated_size().saturating_add(record_len);
        if !self.is_empty() && new_size > self.settings.size_limit {
            return Ok(false);
        }
        if new_size - BATCH_LENGTH_OVERHEAD > i32::MAX as usize {
            return Err(BatchError::Encode("batch longer than i32::MAX"));
        }

        let start = self.estimated_size();
        let copied = record_len - shared.map_or(0, Bytes::len);
        self.buf.reserve(copied);
        put_varint(&mut self.buf, body_len);
        self.buf.push(0); // record attributes: unused in v2
        put_varlong(&mut self.buf, timestamp_delta);
        put_varint(&mut self.buf, offset_delta);
        put_nullable(&mut self.buf, key);
        match shared {
            Some(bytes) => {
                // The length here, the bytes themselves between pieces.
                put_varint(&mut self.buf, bytes.len() as i32);
                self.shared.push((self.buf.len(), bytes.clone()));
                self.shared_len += bytes.len();
            }
            None => put_nullable(&mut self.buf, value),
        }
        put_varint(&mut self.buf, header_count);
        for header in headers {
            put_nullable(&mut self.buf, Some(header.header_key()));
            put_nullable(&mut self.buf, header.header_value());
        }
        debug_assert_eq!(self.estimated_size() - start, record_len);

        self.max_timestamp = if self.is_empty() {
            timestamp_ms
        } else {
            self.max_timestamp.max(timestamp_ms)
        };
        self.base_timestamp = base_timestamp;
        self.record_count += 1;
        Ok(true)
    }

    /// Completes the batch: compresses the records when a codec is set,
    /// fills the header and the CRC, and returns the batch bytes.
    ///
    /// Referenced values are copied in here, so that the result is
    /// contiguous; [`finish_rope`](Self::finish_rope) keeps them apart.
    /// Fails with [`BatchError::Empty`] when no record was appended, since
    /// Kafka rejects empty produced batches.
    pub fn finish(self) -> Result<Bytes, BatchError> {
        if self.shared.is_empty() {
            self.finish_contiguous()
        } else {
            Ok(self.finish_rope()?.to_bytes())
        }
    }

    /// Completes the batch as [`finish`](Self::finish) does, as pieces:
    /// the buffer cut where referenced values go, with the values' own
    /// `Bytes` between the cuts (one piece when nothing was referenced).
    pub fn finish_rope(mut self) -> Result<BatchRope, BatchError> {
        if self.shared.is_empty() {
            return self.finish_contiguous().map(BatchRope::from);
        }
        let total = self.estimated_size();
        let attributes = self.attributes();
        self.fill_header(total, attributes)?;
        // The CRC goes in while the buffer is still one `Vec` of ours.
        // CRC-32C from attributes on, carried across the values.
        let mut crc = 0;
        let mut from = ATTRIBUTES_POS;
        for (at, value) in &self.shared {
            let own = self
                .buf
                .get(from..*at)
                .ok_or(BatchError::Encode("misplaced value"))?;
            crc = crc32c::crc32c_append(crc32c::crc32c_append(crc, own), value);
            from = *at;
        }
        crc = crc32c::crc32c_append(crc, self.buf.get(from..).unwrap_or_default());
        if let Some(slot) = self.buf.get_mut(CRC_POS..CRC_POS + 4) {
            slot.copy_from_slice(&crc.to_be_bytes());
        }
        let mut buf = Bytes::from(std::mem::take(&mut self.buf));
        let mut pieces = Vec::with_capacity(2 * self.shared.len() + 1);
        let mut taken = 0;
        for (at, value) in std::mem::take(&mut self.shared) {
            pieces.push(buf.split_to(at - taken));
            pieces.push(value);
            taken = at;
        }
        pieces.push(buf);
        Ok(BatchRope::from_pieces(pieces))
    }

    /// The batch's attributes as its settings give them.
    fn attributes(&self) -> i16 {
        let settings = &self.settings;
        let mut attributes = settings.compression.attribute_bits();
        if settings.timestamp_type == TimestampType::LogAppendTime {
            attributes |= ATTR_TIMESTAMP_TYPE;
        }
        if settings.transactional {
            attributes |= ATTR_TRANSACTIONAL;
        }
        if settings.control {
            attributes |= ATTR_CONTROL;
        }
        attributes
    }

    /// Writes the header (CRC left 0) into the buffer's first 61 bytes,
    /// for a batch of `total` bytes.
    fn fill_header(&mut self, total: usize, attributes: i16) -> Result<(), BatchError> {
        if self.is_empty() {
            return Err(BatchError::Empty);
        }
        let batch_length = i32::try_from(total - BATCH_LENGTH_OVERHEAD)
            .map_err(|_| BatchError::Encode("batch longer than i32::MAX"))?;
        let settings = &self.settings;
        let mut header = self.buf.get_mut(..BATCH_HEADER_LEN).unwrap_or_default();
        header.put_i64(settings.base_offset);
        header.put_i32(batch_length);
        header.put_i32(-1); // partitionLeaderEpoch: assigned by the broker
        header.put_i8(MAGIC_V2);
        header.put_u32(0); // CRC, stored once the header is complete
        header.put_i16(attributes);
        header.put_i32(self.record_count - 1);
        header.put_i64(self.base_timestamp);
        header.put_i64(self.max_timestamp);
        header.put_i64(settings.producer_id);
        header.put_i16(settings.producer_epoch);
        header.put_i32(settings.base_sequence);
        header.put_i32(self.record_count);
        Ok(())
    }

    /// `finish` for a batch without referenced values.
    fn finish_contiguous(mut self) -> Result<Bytes, BatchError> {
        if self.is_empty() {
            return Err(BatchError::Empty);
        }
        let attributes = self.attributes();
        if self.settings.compression != Compression::None {
            let records = self.buf.get(BATCH_HEADER_LEN..).unwrap_or_default();
            let mut packed = Vec::with_capacity(BATCH_HEADER_LEN + records.len() / 2);
            packed.resize(BATCH_HEADER_LEN, 0);
            compression::compress(self.settings.compression, records, &mut packed)?;
            self.buf = packed;
        }
        let total = self.buf.len();
        self.fill_header(total, attributes)?;
        store_crc(&mut self.buf)?;
        Ok(Bytes::from(self.buf))
    }
}
