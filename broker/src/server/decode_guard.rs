//! Safe decoding of request bodies with kafka-protocol.
//!
//! kafka-protocol's array decoders call `Vec::with_capacity(count)` with the
//! count read off the wire, before any element is read. A frame of a few
//! bytes claiming 2^31 elements would make the process abort on the failed
//! allocation, which `catch_unwind` cannot stop. So every body is decoded
//! twice:
//!
//! ```text
//!  frame ──► pass 1: decode through GuardedBuf ──ok──► pass 2: plain decode ──► request
//!                      │ (counts clamped, long            (every count is now known
//!                      │  varints rejected)                to fit in the frame)
//!                      └──error──► reject the frame
//! ```
//!
//! In pass 1, [`GuardedBuf`] replaces every 32-bit integer larger than the
//! bytes left with `left + 1`. Lengths and counts are the only integers
//! that steer decoding, and a count of `left + 1` elements of at least one
//! byte each cannot fit, so pass 1 fails exactly when a real count would
//! exceed the frame; other integer fields only get a different value in a
//! result that is thrown away. Compact (varint) counts are read byte by
//! byte, so pass 1 tracks runs of varint bytes and fails once a run's value
//! must exceed the bytes left and is at least 2^21. After pass 1 succeeds,
//! every allocation of pass 2 is bounded by the frame length times the
//! element size. Both passes run under `catch_unwind` so a panic inside the
//! decoder only costs the offending connection.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::{Buf, Bytes, TryGetError};
use kafka_protocol::protocol::buf::ByteBuf;
use kafka_protocol::protocol::Decodable;

/// Varint runs shorter than this many bytes (values below 2^21) are let
/// through: their worst-case allocation is small, and short runs are also
/// what consecutive negative `int8` fields look like.
const VARINT_GUARD_MIN_BYTES: u32 = 3;

/// Decodes `body` as `T` at `version`, refusing inputs whose counts do not
/// fit in the body; never panics or aborts on malformed input.
pub fn decode_guarded<T: Decodable>(body: &Bytes, version: i16) -> Result<T, String> {
    let probe = catch_unwind(AssertUnwindSafe(|| {
        let mut guarded = GuardedBuf::new(body.clone());
        T::decode(&mut guarded, version).map(|_| ())
    }));
    match probe {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("malformed request body: {e}")),
        Err(_) => return Err("request body made the decoder panic".to_string()),
    }
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        let mut plain = body.clone();
        T::decode(&mut plain, version)
    }));
    match decoded {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("malformed request body: {e}")),
        Err(_) => Err("request body made the decoder panic".to_string()),
    }
}

/// A buffer for the probing pass; see the module docs.
struct GuardedBuf {
    inner: Bytes,
    /// Position just after the last byte read by `try_get_u8`, if the
    /// current varint run is still open.
    run_end: Option<usize>,
    run_len: u32,
    run_value: u64,
    total: usize,
}

impl GuardedBuf {
    fn new(inner: Bytes) -> GuardedBuf {
        let total = inner.len();
        GuardedBuf {
            inner,
            run_end: None,
            run_len: 0,
            run_value: 0,
            total,
        }
    }

    fn position(&self) -> usize {
        self.total - self.inner.len()
    }
}

impl Buf for GuardedBuf {
    fn remaining(&self) -> usize {
        self.inner.remaining()
    }

    fn chunk(&self) -> &[u8] {
        self.inner.chunk()
    }

    fn advance(&mut self, cnt: usize) {
        self.inner.advance(cnt.min(self.inner.len()))
    }

    fn try_get_i32(&mut self) -> Result<i32, TryGetError> {
        let value = self.inner.try_get_i32()?;
        let left = self.inner.len();
        if value > 0 && value as usize > left {
            Ok(i32::try_from(left + 1).unwrap_or(i32::MAX))
        } else {
            Ok(value)
        }
    }

    fn try_get_u8(&mut self) -> Result<u8, TryGetError> {
        let start = self.position();
        let byte = self.inner.try_get_u8()?;
        if self.run_end != Some(start) {
            self.run_len = 0;
            self.run_value = 0;
        }
        if self.run_len < 10 {
            self.run_value |= u64::from(byte & 0x7f) << (7 * self.run_len);
        }
        self.run_len += 1;
        if byte & 0x80 == 0 {
            self.run_end = None;
            return Ok(byte);
        }
        self.run_end = Some(start + 1);
        // The run continues, so its final value is at least the next power.
        let at_least = self.run_value + (1u64 << (7 * self.run_len).min(63));
        let left = self.inner.len() as u64;
        if self.run_len >= VARINT_GUARD_MIN_BYTES && at_least > left + 1 {
            return Err(TryGetError {
                requested: usize::try_from(at_least).unwrap_or(usize::MAX),
                available: self.inner.len(),
            });
        }
        Ok(byte)
    }
}

impl ByteBuf for GuardedBuf {
    fn peek_bytes(&mut self, r: std::ops::Range<usize>) -> Bytes {
        // Only reached through the checked `try_peek_bytes`; stay in bounds anyway.
        let end = r.end.min(self.inner.len());
        let start = r.start.min(end);
        self.inner.slice(start..end)
    }

    fn get_bytes(&mut self, size: usize) -> Bytes {
        let size = size.min(self.inner.len());
        self.run_end = None;
        self.inner.split_to(size)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use kafka_protocol::messages::{MetadataRequest, ProduceRequest};
    use kafka_protocol::protocol::Encodable;

    #[test]
    fn valid_requests_decode_unchanged() {
        let mut request = MetadataRequest::default();
        request.topics = Some(vec![Default::default(); 3]);
        for version in [0i16, 4, 9, 12] {
            let mut buf = bytes::BytesMut::new();
            if version < 10 {
                for t in request.topics.iter_mut().flatten() {
                    t.name = Some(kafka_protocol::messages::TopicName("a".into()));
                }
            }
            request.encode(&mut buf, version).unwrap();
            let decoded: MetadataRequest = decode_guarded(&buf.freeze(), version).unwrap();
            assert_eq!(decoded, request, "version {version}");
        }
    }

    #[test]
    fn huge_array_count_is_rejected_without_allocating() {
        // Produce v3: transactional_id null, acks, timeout, then 2^31-1 topics.
        let mut buf = bytes::BytesMut::new();
        buf.put_i16(-1);
        buf.put_i16(1);
        buf.put_i32(1000);
        buf.put_i32(i32::MAX);
        let err = decode_guarded::<ProduceRequest>(&buf.freeze(), 3).unwrap_err();
        assert!(err.contains("malformed"), "{err}");
    }

    #[test]
    fn huge_compact_count_is_rejected() {
        // Metadata v9 (flexible): topics as a compact array with a 5-byte varint count.
        let mut buf = bytes::BytesMut::new();
        buf.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        buf.put_slice(&[0, 0, 0, 0]);
        assert!(decode_guarded::<MetadataRequest>(&buf.freeze(), 9).is_err());
    }

    #[test]
    fn large_integer_fields_are_not_mistaken_for_counts() {
        let mut request = ProduceRequest::default();
        request.acks = -1;
        request.timeout_ms = i32::MAX;
        let mut buf = bytes::BytesMut::new();
        request.encode(&mut buf, 7).unwrap();
        let decoded: ProduceRequest = decode_guarded(&buf.freeze(), 7).unwrap();
        assert_eq!(decoded.timeout_ms, i32::MAX);
    }
}
