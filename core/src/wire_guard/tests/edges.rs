//! Hand-made frames at the edges: counts exactly at the limit, the frame
//! that aborts an unguarded decoder, tagged fields that lie about their
//! size, and what the errors say.

use super::synth::write_varint;
use crate::wire_guard::{check_request, check_response, Direction, GuardError, Location, Problem};

/// OffsetFetch v1 request: group "", one topic "", then `count` partition
/// indexes backed by `present` int32s.
fn offset_fetch_v1(count: i32, present: usize) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0i16.to_be_bytes()); // group_id ""
    body.extend_from_slice(&1i32.to_be_bytes()); // one topic
    body.extend_from_slice(&0i16.to_be_bytes()); // name ""
    body.extend_from_slice(&count.to_be_bytes()); // partition_indexes
    for i in 0..present {
        body.extend_from_slice(&(i as i32).to_be_bytes());
    }
    body
}

#[test]
fn wire_guard_accepts_a_count_exactly_at_the_boundary() {
    // 1000 int32s in exactly 4000 bytes: the count is as large as it can be.
    assert_eq!(check_request(9, 1, &offset_fetch_v1(1000, 1000)), Ok(()));
    // One more element than the bytes allow is refused before any walking,
    // and the error names the element size used for the bound.
    let err = check_request(9, 1, &offset_fetch_v1(1001, 1000));
    assert_eq!(
        err,
        Err(GuardError::Malformed {
            at: Location {
                message: "OffsetFetchRequest",
                version: 1,
                structure: "OffsetFetchRequestTopic",
                field: "partition_indexes",
                offset: 8,
            },
            problem: Problem::CountTooLarge {
                count: 1001,
                min_element_size: 4,
                remaining: 4000,
            },
        })
    );
}

#[test]
fn wire_guard_accepts_one_byte_elements_up_to_the_last_byte() {
    // DeleteGroups v2 (flexible): n empty compact strings take one byte
    // each, then the one-byte tagged section. n + 1 elements would also
    // fit the count bound but then the tagged section is missing.
    let n = 300u32;
    let mut body = Vec::new();
    write_varint(&mut body, n + 1);
    body.extend(std::iter::repeat_n(1u8, n as usize)); // "" as compact strings
    body.push(0); // no tagged fields
    assert_eq!(check_request(42, 2, &body), Ok(()));

    let mut over = Vec::new();
    write_varint(&mut over, n + 2);
    over.extend(std::iter::repeat_n(1u8, n as usize));
    over.push(0);
    assert!(check_request(42, 2, &over).is_err());
}

#[test]
fn wire_guard_refuses_the_frame_that_aborts_kafka_protocol() {
    // Metadata v1: a topics array claiming i32::MAX structs, nothing else.
    let err = check_request(3, 1, &i32::MAX.to_be_bytes());
    assert!(matches!(
        err,
        Err(GuardError::Malformed {
            problem: Problem::CountTooLarge {
                count: 2147483647,
                ..
            },
            ..
        })
    ));
    // The same in a flexible version: compact count u32::MAX.
    let mut body = Vec::new();
    write_varint(&mut body, u32::MAX);
    assert!(check_request(3, 12, &body).is_err());
    // And in a response: 2^31 - 1 brokers in a Metadata v1 response.
    assert!(check_response(3, 1, &i32::MAX.to_be_bytes()).is_err());
}

#[test]
fn wire_guard_says_which_field_failed_and_why() {
    // Metadata v0 request: topics may not be null before v1.
    let err = check_request(3, 0, &(-1i32).to_be_bytes());
    assert_eq!(
        err,
        Err(GuardError::Malformed {
            at: Location {
                message: "MetadataRequest",
                version: 0,
                structure: "MetadataRequest",
                field: "topics",
                offset: 0,
            },
            problem: Problem::UnexpectedNull,
        })
    );
    let text = err.map_err(|e| e.to_string()).err().unwrap_or_default();
    assert!(
        text.contains("MetadataRequest v0: MetadataRequest.topics at byte 0"),
        "{text}"
    );
    // ...but null is fine from v1 on ("all topics"); v4 adds a bool.
    let mut v4 = (-1i32).to_be_bytes().to_vec();
    v4.push(1);
    assert_eq!(check_request(3, 4, &v4), Ok(()));
}

#[test]
fn wire_guard_refuses_tagged_fields_that_lie_about_their_size() {
    // ApiVersions v3 response: error 0, no api keys, throttle 0, then tag 1
    // (finalized_features_epoch, an int64) with a wrong size. kafka-protocol
    // reads 8 bytes whatever the size says, so any other size desyncs it.
    let prefix = [0u8, 0, 1, 0, 0, 0, 0];
    let with_tag = |size: u8, content: &[u8]| {
        let mut body = prefix.to_vec();
        body.extend_from_slice(&[1, 1, size]);
        body.extend_from_slice(content);
        body
    };
    assert_eq!(check_response(18, 3, &with_tag(8, &[0; 8])), Ok(()));
    let short = check_response(18, 3, &with_tag(4, &[0; 4]));
    assert!(
        matches!(
            short,
            Err(GuardError::Malformed {
                problem: Problem::Truncated { .. },
                ..
            })
        ),
        "{short:?}"
    );
    let long = check_response(18, 3, &with_tag(10, &[0; 10]));
    assert!(
        matches!(
            long,
            Err(GuardError::Malformed {
                problem: Problem::TaggedSizeMismatch {
                    declared: 10,
                    consumed: 8
                },
                ..
            })
        ),
        "{long:?}"
    );
    // An unknown tag is skipped by its size, whatever it holds.
    let mut unknown = prefix.to_vec();
    unknown.extend_from_slice(&[1, 40, 3, 0xff, 0xff, 0xff]);
    assert_eq!(check_response(18, 3, &unknown), Ok(()));
    // A tagged-field count that cannot fit (each needs two bytes).
    let mut many = prefix.to_vec();
    write_varint(&mut many, 1 << 30);
    assert!(check_response(18, 3, &many).is_err());
}

#[test]
fn wire_guard_refuses_strings_that_are_not_utf8() {
    // SaslHandshake v1 request: mechanism of two invalid bytes.
    let body = [0u8, 2, 0xc3, 0x28];
    assert!(matches!(
        check_request(17, 1, &body),
        Err(GuardError::Malformed {
            problem: Problem::InvalidUtf8,
            ..
        })
    ));
    assert_eq!(
        check_request(17, 1, &[0, 5, b'P', b'L', b'A', b'I', b'N']),
        Ok(())
    );
}

#[test]
fn wire_guard_reports_no_schema_for_unknown_api_or_version() {
    let no_schema = |api_key, version, direction| GuardError::NoSchema {
        api_key,
        version,
        direction,
    };
    assert_eq!(
        check_request(3, 14, &[]),
        Err(no_schema(3, 14, Direction::Request))
    );
    assert_eq!(
        check_request(1, 3, &[]),
        Err(no_schema(1, 3, Direction::Request))
    );
    assert_eq!(
        check_response(999, 0, &[]),
        Err(no_schema(999, 0, Direction::Response))
    );
    assert_eq!(
        check_request(-1, 0, &[]),
        Err(no_schema(-1, 0, Direction::Request))
    );
}
