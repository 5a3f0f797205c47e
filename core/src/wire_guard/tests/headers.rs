//! Request and response headers, encoded by kafka-protocol for every
//! covered API and version.

use bytes::BytesMut;
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Encodable, StrBytes};

use super::codecs::{covered, versions};
use crate::wire_guard::{
    check_request_header, check_response_header, Direction, GuardError, Problem,
};

fn request_header(key: i16, version: i16, client_id: Option<&'static str>) -> (Vec<u8>, i16) {
    let api = ApiKey::try_from(key).unwrap_or(ApiKey::Metadata);
    let header_version = api.request_header_version(version);
    let mut header = RequestHeader::default()
        .with_request_api_key(key)
        .with_request_api_version(version)
        .with_correlation_id(0x0102_0304)
        .with_client_id(client_id.map(StrBytes::from_static_str));
    if header_version >= 2 {
        header
            .unknown_tagged_fields
            .insert(7, bytes::Bytes::from_static(b"xyz"));
    }
    let mut out = BytesMut::new();
    header
        .encode(&mut out, header_version)
        .expect("kafka-protocol encodes the header");
    (out.to_vec(), header_version)
}

#[test]
fn wire_guard_measures_every_request_header() {
    for codec in covered()
        .iter()
        .filter(|c| c.direction == Direction::Request)
    {
        for version in versions(codec.versions) {
            for client_id in [Some("durian-client"), None] {
                let (header, header_version) = request_header(codec.api_key, version, client_id);
                let mut frame = header.clone();
                frame.extend_from_slice(b"body");
                assert_eq!(
                    check_request_header(codec.api_key, version, &frame),
                    Ok(header.len()),
                    "api {} v{version} (header v{header_version}) client_id {client_id:?}",
                    codec.api_key
                );
                for cut in 0..header.len() {
                    assert!(
                        check_request_header(codec.api_key, version, &header[..cut]).is_err(),
                        "api {} v{version}: accepted a header cut at {cut}",
                        codec.api_key
                    );
                }
            }
        }
    }
}

#[test]
fn wire_guard_refuses_a_header_for_another_api_or_version() {
    let (header, _) = request_header(3, 12, Some("c"));
    let err = check_request_header(3, 11, &header);
    assert!(matches!(
        err,
        Err(GuardError::Malformed {
            problem: Problem::HeaderMismatch {
                api_key: 3,
                version: 12
            },
            ..
        })
    ));
    assert!(check_request_header(0, 12, &header).is_err());
}

#[test]
fn wire_guard_refuses_bad_client_id_lengths() {
    let (header, _) = request_header(3, 1, Some("abc"));
    // The client id length sits after key (2), version (2), correlation id (4).
    for bad in [i16::MAX, -2, i16::MIN] {
        let mut frame = header.clone();
        frame[8..10].copy_from_slice(&bad.to_be_bytes());
        assert!(
            check_request_header(3, 1, &frame).is_err(),
            "client id length {bad} accepted"
        );
    }
}

#[test]
fn wire_guard_has_no_header_layout_for_unknown_api_keys() {
    let frame = [0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0xff, 0xff];
    assert_eq!(
        check_request_header(999, 0, &frame),
        Err(GuardError::NoSchema {
            api_key: 999,
            version: 0,
            direction: Direction::Request
        })
    );
}

#[test]
fn wire_guard_measures_response_headers() {
    for codec in covered()
        .iter()
        .filter(|c| c.direction == Direction::Response)
    {
        let Ok(api) = ApiKey::try_from(codec.api_key) else {
            panic!("unknown api key {}", codec.api_key);
        };
        for version in versions(codec.versions) {
            let header_version = api.response_header_version(version);
            let mut header = ResponseHeader::default().with_correlation_id(77);
            if header_version >= 1 {
                header
                    .unknown_tagged_fields
                    .insert(3, bytes::Bytes::from_static(b"ab"));
            }
            let mut out = BytesMut::new();
            let encoded = header.encode(&mut out, header_version);
            assert!(encoded.is_ok(), "{encoded:?}");
            let mut frame = out.to_vec();
            let len = frame.len();
            frame.extend_from_slice(b"body");
            assert_eq!(
                check_response_header(codec.api_key, version, &frame),
                Ok(len)
            );
            assert!(check_response_header(codec.api_key, version, &frame[..len - 1]).is_err());
        }
    }
}
