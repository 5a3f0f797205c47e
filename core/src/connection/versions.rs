//! API version negotiation.
//!
//! Every connection starts with ApiVersions. durian asks with v3 (which
//! carries the client's software name and version); a broker that does not
//! know v3 answers in the v0 format with `UNSUPPORTED_VERSION` and the
//! versions it does know, and durian asks again with the best of those.
//! The answer becomes an [`ApiVersionTable`], from which each request picks
//! the highest version both sides speak.

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::{Decodable, Message, Request, StrBytes, VersionRange};

use crate::error::{Error, KafkaCode, KafkaError, Result};

/// The ApiVersions version durian asks with first.
pub const PREFERRED_API_VERSIONS_VERSION: i16 = 3;

/// The version ranges a broker announced, by API key.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApiVersionTable {
    ranges: HashMap<i16, VersionRange>,
}

impl ApiVersionTable {
    /// A table from `(api key, min, max)` triples.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (i16, i16, i16)>) -> Self {
        ApiVersionTable {
            ranges: ranges
                .into_iter()
                .map(|(key, min, max)| (key, VersionRange { min, max }))
                .collect(),
        }
    }

    /// The range the broker announced for `api`, if any.
    pub fn broker_range(&self, api: ApiKey) -> Option<VersionRange> {
        self.ranges.get(&(api as i16)).copied()
    }

    /// The highest version of `api` within both `ours` and the broker's range.
    pub fn negotiate(&self, api: ApiKey, ours: VersionRange) -> Result<i16> {
        let broker_range = self.broker_range(api);
        let unsupported = || Error::UnsupportedVersion {
            api,
            client_range: ours,
            broker_range,
        };
        let common = ours.intersect(&broker_range.ok_or_else(unsupported)?);
        if common.is_empty() {
            return Err(unsupported());
        }
        Ok(common.max)
    }

    /// [`negotiate`](Self::negotiate) over every version kafka-protocol can encode for `R`.
    pub fn negotiate_for<R: Request>(&self) -> Result<i16> {
        let api = api_key_of::<R>()?;
        self.negotiate(api, R::VERSIONS)
    }

    /// Checks that the broker accepts `version` of `R`.
    pub fn check<R: Request>(&self, version: i16) -> Result<()> {
        let api = api_key_of::<R>()?;
        self.negotiate(
            api,
            VersionRange {
                min: version,
                max: version,
            },
        )
        .map(|_| ())
    }

    /// Number of APIs the broker announced.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the broker announced no API at all.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// The [`ApiKey`] of a request type.
pub fn api_key_of<R: Request>() -> Result<ApiKey> {
    ApiKey::try_from(R::KEY)
        .map_err(|_| Error::Protocol(format!("API key {} is not known to kafka-protocol", R::KEY)))
}

/// The ApiVersions request durian sends at `version`.
pub fn api_versions_request() -> ApiVersionsRequest {
    ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("durian"))
        .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")))
}

/// What an ApiVersions response tells the client to do next.
#[derive(Clone, Debug, PartialEq)]
pub enum Handshake {
    /// The broker's version table.
    Done(ApiVersionTable),
    /// Ask again with this (lower) ApiVersions version.
    Retry(i16),
}

/// Interprets the body of an ApiVersions response to a request sent at `version`.
///
/// Brokers refuse an ApiVersions version they do not know in layouts of
/// their own: Apache Kafka answers in the v0 layout, librdkafka's mock
/// cluster in a mix of v0 and the flexible layout. So, as the Java client
/// and librdkafka do, the body is read at `version` first and in the v0
/// layout only when that fails. A refusal (`UNSUPPORTED_VERSION`) asks for
/// a retry at the broker's highest ApiVersions version if the answer
/// carried one, else at v0.
pub fn parse_api_versions(body: Bytes, version: i16) -> Result<Handshake> {
    let response = match decode_at(&body, version) {
        Ok(response) => response,
        Err(at_version) if version == 0 => {
            return Err(Error::protocol(
                "malformed ApiVersions response",
                format_args!("as v0: {at_version}"),
            ));
        }
        Err(at_version) => decode_at(&body, 0).map_err(|as_v0| {
            Error::protocol(
                "malformed ApiVersions response",
                format_args!("as v{version}: {at_version}; as v0: {as_v0}"),
            )
        })?,
    };
    if response.error_code != KafkaCode::UNSUPPORTED_VERSION.0 {
        KafkaError::check(response.error_code, None)?;
        return Ok(Handshake::Done(table_of(&response)));
    }
    let offered = table_of(&response).broker_range(ApiKey::ApiVersions);
    // Never the version just refused: a broker that announces it anyway
    // must not keep the handshake going round.
    let next = offered
        .map(|range| {
            range
                .intersect(&ApiVersionsRequest::VERSIONS)
                .max
                .min(version - 1)
        })
        .unwrap_or(0)
        .max(0);
    if next >= version {
        return Err(Error::UnsupportedVersion {
            api: ApiKey::ApiVersions,
            client_range: ApiVersionsRequest::VERSIONS,
            broker_range: offered,
        });
    }
    Ok(Handshake::Retry(next))
}

/// Decodes `body` as an ApiVersions response of `version`, or says why not.
///
/// The wire guard runs first because kafka-protocol sizes arrays from
/// wire counts (see wire_guard): a garbage count must be refused before
/// anything is allocated for it. Bytes after the last field are allowed,
/// as Java and librdkafka allow them.
fn decode_at(body: &Bytes, version: i16) -> std::result::Result<ApiVersionsResponse, String> {
    crate::wire_guard::check_response(ApiKey::ApiVersions as i16, version, body)
        .map_err(|e| e.to_string())?;
    ApiVersionsResponse::decode(&mut body.clone(), version).map_err(|e| e.to_string())
}

fn table_of(response: &ApiVersionsResponse) -> ApiVersionTable {
    ApiVersionTable::from_ranges(
        response
            .api_keys
            .iter()
            .map(|api| (api.api_key, api.min_version, api.max_version)),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::{FetchRequest, MetadataRequest};
    use kafka_protocol::protocol::Encodable;

    fn encoded(response: &ApiVersionsResponse, version: i16) -> Bytes {
        let mut buf = BytesMut::new();
        response.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    fn response(error_code: i16, keys: &[(i16, i16, i16)]) -> ApiVersionsResponse {
        ApiVersionsResponse::default()
            .with_error_code(error_code)
            .with_api_keys(
                keys.iter()
                    .map(|&(k, min, max)| {
                        ApiVersion::default()
                            .with_api_key(k)
                            .with_min_version(min)
                            .with_max_version(max)
                    })
                    .collect(),
            )
    }

    #[test]
    fn negotiation_picks_the_highest_common_version() {
        let table = ApiVersionTable::from_ranges([(3, 0, 9), (1, 0, 4)]);
        assert_eq!(table.negotiate_for::<MetadataRequest>().unwrap(), 9);
        let err = table
            .negotiate(ApiKey::Fetch, VersionRange { min: 5, max: 17 })
            .unwrap_err();
        assert!(matches!(
            err,
            Error::UnsupportedVersion { api: ApiKey::Fetch, broker_range: Some(r), .. } if r.max == 4
        ));
        let err = ApiVersionTable::default()
            .negotiate_for::<FetchRequest>()
            .unwrap_err();
        assert!(matches!(
            err,
            Error::UnsupportedVersion {
                broker_range: None,
                ..
            }
        ));
        assert!(table.check::<MetadataRequest>(4).is_ok());
        assert!(table.check::<MetadataRequest>(10).is_err());
    }

    #[test]
    fn a_v3_answer_is_accepted() {
        let body = encoded(&response(0, &[(18, 0, 3), (0, 3, 9)]), 3);
        let Handshake::Done(table) = parse_api_versions(body, 3).unwrap() else {
            panic!("expected a table");
        };
        assert_eq!(table.len(), 2);
        assert_eq!(
            table.broker_range(ApiKey::Produce),
            Some(VersionRange { min: 3, max: 9 })
        );
    }

    #[test]
    fn unsupported_version_leads_to_a_lower_retry() {
        let body = encoded(&response(35, &[(18, 0, 2)]), 0);
        assert_eq!(parse_api_versions(body, 3).unwrap(), Handshake::Retry(2));
        let body = encoded(&response(35, &[]), 0);
        assert_eq!(parse_api_versions(body, 3).unwrap(), Handshake::Retry(0));
        let body = encoded(&response(35, &[]), 0);
        assert!(parse_api_versions(body, 0).is_err());
    }

    /// The bytes librdkafka 2.0.2's mock cluster sends back to an
    /// ApiVersions v3 request (captured from it): error 35, a one-byte
    /// entry count of 1 followed by a v0-style entry (18: 0..=2) without
    /// tags, then a throttle time. Neither the v0 nor the v3 layout: read at
    /// v3 it is an error with no entries and trailing bytes, as Java and
    /// librdkafka read it, so the retry is v0.
    #[test]
    fn the_librdkafka_mock_refusal_of_v3_leads_to_a_v0_retry() {
        let body = Bytes::from_static(&[
            0x00, 0x23, 0x01, 0x00, 0x12, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
        ]);
        assert_eq!(parse_api_versions(body, 3).unwrap(), Handshake::Retry(0));
    }

    /// Apache Kafka's refusal: the v0 layout, with the api_keys array
    /// holding the broker's ApiVersions range (since 2.4) or empty (before).
    #[test]
    fn a_v0_layout_refusal_of_v3_is_read_as_v0() {
        let with_keys = encoded(&response(35, &[(18, 0, 2), (3, 0, 9)]), 0);
        assert_eq!(
            parse_api_versions(with_keys, 3).unwrap(),
            Handshake::Retry(2)
        );
        let without_keys = encoded(&response(35, &[]), 0);
        assert_eq!(
            parse_api_versions(without_keys, 3).unwrap(),
            Handshake::Retry(0)
        );
        // A broker announcing more than was asked for cannot make durian
        // ask again at the same version.
        let too_high = encoded(&response(35, &[(18, 0, 9)]), 0);
        assert_eq!(
            parse_api_versions(too_high, 3).unwrap(),
            Handshake::Retry(2)
        );
    }

    /// A successful answer in the v0 layout to a v3 request (some brokers
    /// answer every version so) is accepted as the table.
    #[test]
    fn a_v0_layout_success_to_a_v3_request_is_accepted() {
        let body = encoded(&response(0, &[(18, 0, 2), (0, 3, 7)]), 0);
        let Handshake::Done(table) = parse_api_versions(body, 3).unwrap() else {
            panic!("expected a table");
        };
        assert_eq!(
            table.broker_range(ApiKey::Produce),
            Some(VersionRange { min: 3, max: 7 })
        );
    }

    /// Bytes that fit no layout give one clear error naming both attempts,
    /// never a panic or an allocation sized by a garbage count.
    #[test]
    fn garbage_is_a_clear_error() {
        let cases: [&[u8]; 6] = [
            &[],
            &[0x00],
            &[0x00, 0x00, 0x7f, 0xff, 0xff, 0xff],
            &[0x00, 0x23, 0xff, 0xff, 0xff, 0xff, 0x0f],
            &[0xff; 64],
            &[0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00],
        ];
        for bytes in cases {
            for version in [0, 1, 2, 3] {
                let err = parse_api_versions(Bytes::from_static(bytes), version).unwrap_err();
                let text = err.to_string();
                assert!(
                    text.contains("malformed ApiVersions response"),
                    "{bytes:02x?} at v{version}: {text}"
                );
                if version > 0 {
                    assert!(text.contains(&format!("v{version}")), "{text}");
                    assert!(text.contains("v0"), "{text}");
                }
            }
        }
    }

    #[test]
    fn other_errors_are_reported() {
        let body = encoded(&response(58, &[]), 3);
        let err = parse_api_versions(body, 3).unwrap_err();
        assert_eq!(
            err.kafka_code(),
            Some(KafkaCode::SASL_AUTHENTICATION_FAILED)
        );
    }
}
