//! A structural check of Kafka message bodies, run before kafka-protocol
//! decodes them.
//!
//! kafka-protocol 0.18 sizes every array with `Vec::with_capacity(count)`
//! using the count straight off the wire, before decoding one element. A
//! ten-byte frame that claims two billion structs makes the allocator fail,
//! and that aborts the process: no panic to catch, no error to return. The
//! guard walks the same bytes first, by a schema of each message, and
//! refuses any count, length or tagged-field size that cannot fit in the
//! bytes that are really there. Only bodies that pass are handed to the
//! decoder, which then never sees a count larger than the frame.
//!
//! ```text
//! frame ──check_request_header──▶ header length
//!       └─body─▶ check_request(api, version, body) ──Ok──▶ kafka-protocol decode
//!                                                  └─Err──▶ refuse / close connection
//! ```
//!
//! The walk allocates nothing, stops at the first problem, and takes time
//! proportional to the frame length (every element and every tagged field
//! consumes at least one byte). Coverage and the way to add a message are
//! described in `docs/WIRE_GUARD.md`.

mod error;
mod messages;
mod schema;
mod walker;

#[cfg(test)]
mod tests;

pub use error::{Direction, GuardError, Location, Problem};

use kafka_protocol::messages::ApiKey;

use schema::{MessageDef, StructDef, ALL, INT16, INT32, STRING};
use walker::Walker;

/// Checks a request body (the bytes after the request header) of `api_key`
/// at `version`.
///
/// `Ok(())` means kafka-protocol can decode `body` without allocating for
/// counts that are not backed by bytes. [`GuardError::NoSchema`] means the
/// guard does not know this (api, version); a broker should refuse it.
///
/// Bytes after the last field are accepted: they cannot make the decoder
/// allocate, Kafka and kafka-protocol ignore them, and real clients send
/// them (librdkafka 2.x pads Metadata v12 requests).
///
/// ```
/// use durian_core::wire_guard::{check_request, GuardError};
///
/// // A Metadata v1 request claiming i32::MAX topics in four bytes.
/// let body = i32::MAX.to_be_bytes();
/// assert!(matches!(check_request(3, 1, &body), Err(GuardError::Malformed { .. })));
/// ```
pub fn check_request(api_key: i16, version: i16, body: &[u8]) -> Result<(), GuardError> {
    allow_trailing(check(Direction::Request, api_key, version, body))
}

/// [`check_request`], also refusing a body with more than `max_elements`
/// array elements in total (all arrays, nested ones included), with
/// [`Problem::TooManyElements`].
///
/// The plain check bounds each count by the bytes present, but a
/// one-byte element (a compact empty string) still decodes to a value of
/// tens of bytes, so a receiver caps the count itself to bound what the
/// decoded message occupies.
///
/// ```
/// use durian_core::wire_guard::check_request_limited;
///
/// // Metadata v1 with three topics "a", "b", "c".
/// let mut body = 3i32.to_be_bytes().to_vec();
/// for name in [b'a', b'b', b'c'] {
///     body.extend_from_slice(&[0, 1, name]);
/// }
/// assert!(check_request_limited(3, 1, &body, 3).is_ok());
/// assert!(check_request_limited(3, 1, &body, 2).is_err());
/// ```
pub fn check_request_limited(
    api_key: i16,
    version: i16,
    body: &[u8],
    max_elements: u64,
) -> Result<(), GuardError> {
    allow_trailing(check_capped(
        Direction::Request,
        api_key,
        version,
        body,
        max_elements,
    ))
}

/// Checks a response body (the bytes after the response header) of
/// `api_key` at `version`; the response counterpart of [`check_request`].
pub fn check_response(api_key: i16, version: i16, body: &[u8]) -> Result<(), GuardError> {
    allow_trailing(check(Direction::Response, api_key, version, body))
}

/// Turns "bytes left after the last field" into success; see
/// [`check_request`]. Everything before them was fully checked.
fn allow_trailing(result: Result<(), GuardError>) -> Result<(), GuardError> {
    match result {
        Err(GuardError::Malformed {
            problem: Problem::TrailingBytes(_),
            ..
        }) => Ok(()),
        other => other,
    }
}

/// Checks the request header at the start of `frame` (the bytes after the
/// 4-byte size prefix) and returns its length, so the body starts at
/// `frame[len..]`.
///
/// The header must name `api_key` and `version`; its own layout (header
/// v1: key, version, correlation id, nullable client id; v2 adds tagged
/// fields) follows from them. Unknown API keys give
/// [`GuardError::NoSchema`], because their header layout is unknown.
pub fn check_request_header(api_key: i16, version: i16, frame: &[u8]) -> Result<usize, GuardError> {
    let no_schema = GuardError::NoSchema {
        api_key,
        version,
        direction: Direction::Request,
    };
    let key = ApiKey::try_from(api_key).map_err(|()| no_schema)?;
    let header_version = key.request_header_version(version);
    if !(1..=2).contains(&header_version) {
        return Err(no_schema);
    }
    let mut walker = Walker::new(frame, "RequestHeader", header_version, false);
    // The client id stays a classic (int16-length) string even in the
    // flexible v2 header; only the tagged section is new.
    walker.walk_fields(&REQUEST_HEADER)?;
    let found = (read_i16(frame, 0), read_i16(frame, 2));
    if found != (api_key, version) {
        return Err(GuardError::Malformed {
            at: Location {
                message: "RequestHeader",
                version: header_version,
                structure: "RequestHeader",
                field: "request_api_key",
                offset: 0,
            },
            problem: Problem::HeaderMismatch {
                api_key: found.0,
                version: found.1,
            },
        });
    }
    if header_version >= 2 {
        walker.set_flexible(true);
        walker.walk_tagged(&REQUEST_HEADER)?;
    }
    Ok(walker.position())
}

/// Checks the response header at the start of `frame` and returns its
/// length: a correlation id, plus a tagged section in header v1 (flexible
/// responses other than ApiVersions).
pub fn check_response_header(
    api_key: i16,
    version: i16,
    frame: &[u8],
) -> Result<usize, GuardError> {
    let key = ApiKey::try_from(api_key).map_err(|()| GuardError::NoSchema {
        api_key,
        version,
        direction: Direction::Response,
    })?;
    let header_version = key.response_header_version(version);
    let mut walker = Walker::new(frame, "ResponseHeader", header_version, header_version >= 1);
    walker.walk_struct(&RESPONSE_HEADER)?;
    Ok(walker.position())
}

static REQUEST_HEADER: StructDef = StructDef::new(
    "RequestHeader",
    &[
        schema::field("request_api_key", INT16, ALL),
        schema::field("request_api_version", INT16, ALL),
        schema::field("correlation_id", INT32, ALL),
        schema::field("client_id", STRING, ALL).nullable(ALL),
    ],
);

static RESPONSE_HEADER: StructDef = StructDef::new(
    "ResponseHeader",
    &[schema::field("correlation_id", INT32, ALL)],
);

/// The exact check: like the public ones, but bytes after the last field
/// are an error too. The tests use it to prove each table describes the
/// whole message, byte for byte.
fn check(direction: Direction, api_key: i16, version: i16, body: &[u8]) -> Result<(), GuardError> {
    check_capped(direction, api_key, version, body, u64::MAX)
}

/// [`check`] refusing more than `max_elements` array elements in total.
fn check_capped(
    direction: Direction,
    api_key: i16,
    version: i16,
    body: &[u8],
    max_elements: u64,
) -> Result<(), GuardError> {
    let def = schema_for(direction, api_key, version).ok_or(GuardError::NoSchema {
        api_key,
        version,
        direction,
    })?;
    let mut walker = Walker::new(body, def.name, version, def.flexible.contains(version))
        .with_element_cap(max_elements);
    walker.walk_struct(def.body)?;
    walker.finish(def.body)
}

/// The table for (direction, api_key) if it covers `version`.
fn schema_for(direction: Direction, api_key: i16, version: i16) -> Option<&'static MessageDef> {
    let def = match direction {
        Direction::Request => messages::request(api_key),
        Direction::Response => messages::response(api_key),
    }?;
    def.versions.contains(version).then_some(def)
}

/// Big-endian i16 at `at`, or 0 past the end (callers walked those bytes
/// already).
fn read_i16(frame: &[u8], at: usize) -> i16 {
    match frame.get(at..at + 2) {
        Some(&[hi, lo]) => i16::from_be_bytes([hi, lo]),
        _ => 0,
    }
}
