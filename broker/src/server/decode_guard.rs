//! Safe decoding of request bodies with kafka-protocol.
//!
//! kafka-protocol's array decoders call `Vec::with_capacity(count)` with the
//! count read off the wire, before any element is read. A frame of a few
//! bytes claiming 2^31 elements would make the process abort on the failed
//! allocation, which `catch_unwind` cannot stop. So every body is first
//! walked by [`durian_core::wire_guard`], which checks every count, length
//! and tagged field against the bytes actually present without allocating,
//! and only then decoded:
//!
//! ```text
//!  body ──► wire_guard::check_request ──ok──► kafka-protocol decode ──► request
//!                  │ (schema walk, no allocation)   (under catch_unwind)
//!                  └──error──► reject the frame with the field and offset
//! ```
//!
//! After the walk succeeds every allocation of the decode is bounded by the
//! frame length times the element size. The decode still runs under
//! `catch_unwind` so a panic inside the decoder only costs the offending
//! connection.

use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::Bytes;
use durian_core::wire_guard::GuardError;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Request;

/// Why a request body was refused; the connection is closed with it.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// A count, length or tagged field does not fit in the body (found by
    /// the guard's walk, before anything was allocated).
    #[error("malformed request body: {0}")]
    Guard(#[from] GuardError),
    /// kafka-protocol refused the body.
    #[error("malformed request body: {0}")]
    Decode(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The decoder panicked (caught; only this connection pays for it).
    #[error("request body made the decoder panic")]
    Panicked,
}

/// Array elements (over all arrays of the request) a request of most APIs
/// may hold.
pub const MAX_REQUEST_ELEMENTS: u64 = 100_000;

/// Topics one Metadata request may name.
pub const MAX_METADATA_TOPICS: u64 = 10_000;

/// Groups one DescribeGroups or DeleteGroups request may name.
pub const MAX_GROUPS_PER_REQUEST: u64 = 1_000;

/// The element cap of requests with API key `api_key`.
///
/// After the wire guard, every count is backed by bytes, but an element of
/// one byte (a compact empty string) decodes to a value of tens of bytes,
/// and some handlers copy their lists: an 8 MiB frame of one-byte group
/// names would decode to hundreds of MiB. These caps bound the decoded
/// request regardless of how small its elements are encoded.
pub fn element_cap(api_key: i16) -> u64 {
    match ApiKey::try_from(api_key) {
        Ok(ApiKey::Metadata) => MAX_METADATA_TOPICS,
        Ok(ApiKey::DescribeGroups | ApiKey::DeleteGroups) => MAX_GROUPS_PER_REQUEST,
        _ => MAX_REQUEST_ELEMENTS,
    }
}

/// Decodes `body` as `T` at `version`, refusing inputs whose counts or
/// lengths do not fit in the body; never panics or aborts on malformed input.
pub fn decode_guarded<T: Request>(body: &Bytes, version: i16) -> Result<T, DecodeError> {
    // Bytes after the last field are accepted by the guard itself (Kafka
    // ignores them too; librdkafka pads Metadata v12).
    durian_core::wire_guard::check_request_limited(T::KEY, version, body, element_cap(T::KEY))?;
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        let mut plain = body.clone();
        T::decode(&mut plain, version)
    }));
    match decoded {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(DecodeError::Decode(e.into())),
        Err(_) => Err(DecodeError::Panicked),
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
        assert!(matches!(err, DecodeError::Guard(_)), "{err}");
        assert!(err.to_string().contains("malformed"), "{err}");
    }

    #[test]
    fn element_caps_bound_the_decoded_request() {
        let mut request = MetadataRequest::default();
        request.topics = Some(vec![Default::default(); MAX_METADATA_TOPICS as usize]);
        for t in request.topics.iter_mut().flatten() {
            t.name = Some(kafka_protocol::messages::TopicName("a".into()));
        }
        let mut buf = bytes::BytesMut::new();
        request.encode(&mut buf, 9).unwrap();
        decode_guarded::<MetadataRequest>(&buf.freeze(), 9).unwrap();
        request.topics.as_mut().unwrap().push(Default::default());
        let mut buf = bytes::BytesMut::new();
        request.encode(&mut buf, 9).unwrap();
        let Err(err) = decode_guarded::<MetadataRequest>(&buf.freeze(), 9) else {
            panic!("a Metadata request naming 10 001 topics must be refused");
        };
        assert!(
            err.to_string().contains("more than 10000 array elements"),
            "{err}"
        );
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
    fn trailing_bytes_after_the_last_field_are_ignored_as_kafka_does() {
        let request = MetadataRequest::default();
        let mut buf = bytes::BytesMut::new();
        request.encode(&mut buf, 12).unwrap();
        buf.put_slice(&[0, 0, 0]);
        let decoded: MetadataRequest = decode_guarded(&buf.freeze(), 12).unwrap();
        assert_eq!(decoded, request);
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
