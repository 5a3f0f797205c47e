//! Encoding requests and decoding responses, without any I/O.
//!
//! This is the boundary to kafka-protocol: its `anyhow` errors become
//! [`Error::Protocol`] here, so nothing above this module sees them.
//!
//! ```text
//! request ──encode_body──▶ body ──(actor adds header + size)──▶ socket
//! socket ──(actor strips size + header)──▶ body ──decode_body──▶ response
//! ```

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::error::{Error, Result};

/// Encodes a request body (without header) at `version`.
pub fn encode_body<R: Encodable>(api: ApiKey, request: &R, version: i16) -> Result<Bytes> {
    // Sized up front: growing by doubling would copy a large Produce body
    // several times (and touch fresh pages each time).
    let size = request.compute_size(version).unwrap_or(0);
    let mut buf = BytesMut::with_capacity(size);
    request
        .encode(&mut buf, version)
        .map_err(|e| Error::protocol(format_args!("encoding {api:?} v{version}"), e))?;
    Ok(buf.freeze())
}

/// Decodes a response body (header already removed) at `version`.
pub fn decode_body<R: Decodable>(api: ApiKey, mut body: Bytes, version: i16) -> Result<R> {
    // kafka-protocol sizes arrays from wire counts; walk the body first so a
    // hostile count is an error, not an abort. A response type without a
    // schema is one this client asked for, so it is decoded as before.
    match crate::wire_guard::check_response(api as i16, version, &body) {
        Ok(()) | Err(crate::wire_guard::GuardError::NoSchema { .. }) => {}
        Err(e) => {
            return Err(Error::protocol(
                format_args!("checking {api:?} v{version} response"),
                e,
            ))
        }
    }
    R::decode(&mut body, version)
        .map_err(|e| Error::protocol(format_args!("decoding {api:?} v{version} response"), e))
}

/// Encodes the request header for `api` at `version`.
pub fn encode_request_header(
    api: ApiKey,
    version: i16,
    correlation_id: i32,
    client_id: Option<&StrBytes>,
) -> Result<Bytes> {
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(client_id.cloned());
    encode_body(api, &header, api.request_header_version(version))
}

/// Reads the correlation id at the front of a response frame.
pub fn peek_correlation_id(frame: &[u8]) -> Result<i32> {
    match frame.get(..4) {
        Some(&[a, b, c, d]) => Ok(i32::from_be_bytes([a, b, c, d])),
        _ => Err(Error::Protocol(format!(
            "response frame of {} bytes is too short for a header",
            frame.len()
        ))),
    }
}

/// Removes the response header (version `header_version`) from `frame`,
/// leaving the body.
pub fn strip_response_header(mut frame: Bytes, header_version: i16) -> Result<Bytes> {
    ResponseHeader::decode(&mut frame, header_version)
        .map_err(|e| Error::protocol("decoding response header", e))?;
    Ok(frame)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kafka_protocol::messages::MetadataResponse;
    use kafka_protocol::protocol::Message;

    #[test]
    fn request_header_carries_key_version_and_correlation() {
        let id = StrBytes::from_static_str("me");
        let header = encode_request_header(ApiKey::Metadata, 12, 77, Some(&id)).unwrap();
        assert_eq!(&header[..8], &[0, 3, 0, 12, 0, 0, 0, 77]);
    }

    #[test]
    fn body_round_trip_and_decode_errors_are_protocol_errors() {
        let response = MetadataResponse::default();
        let body = encode_body(ApiKey::Metadata, &response, 9).unwrap();
        let back: MetadataResponse = decode_body(ApiKey::Metadata, body, 9).unwrap();
        assert_eq!(back, response);
        let err = decode_body::<MetadataResponse>(
            ApiKey::Metadata,
            Bytes::from_static(&[0, 0]),
            MetadataResponse::VERSIONS.max,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Protocol(_)), "{err}");
    }

    #[test]
    fn header_stripping_handles_both_versions() {
        let v0 = Bytes::from_static(&[0, 0, 0, 5, 0xAA]);
        assert_eq!(strip_response_header(v0, 0).unwrap().as_ref(), &[0xAA]);
        // Version 1 adds an (empty) tagged-field section.
        let v1 = Bytes::from_static(&[0, 0, 0, 5, 0, 0xBB]);
        assert_eq!(strip_response_header(v1, 1).unwrap().as_ref(), &[0xBB]);
        assert_eq!(peek_correlation_id(&[0, 0, 1, 0]).unwrap(), 256);
        assert!(peek_correlation_id(&[0, 0]).is_err());
    }
}
