//! Confluent Schema Registry's wire format and a registry abstraction.
//!
//! Records written by Confluent's serializers (and read by its
//! deserializers) carry a five-byte frame before the payload:
//!
//! ```text
//!  byte 0      bytes 1..5               bytes 5..
//!  magic (0)   schema id (u32, BE)      payload (Avro / Protobuf / JSON, encoded by the schema)
//! ```
//!
//! This module has the framing ([`encode_frame`], [`decode_frame`]), the
//! [`SchemaRegistry`] trait (register a schema under a subject, look an id
//! up) and [`InMemorySchemaRegistry`]. The producer's
//! `SchemaRegistrySerializer` and the consumer's `SchemaRegistryDeserializer`
//! build on them. Encoding the payload by its schema (Avro, Protobuf,
//! JSON-Schema) is left to the inner serializer: durian frames bytes and
//! resolves ids, it does not interpret schemas. With the
//! `schema-registry-http` feature, `HttpSchemaRegistry` implements the
//! trait over the registry's REST API (Confluent's, also served by
//! Karapace and Redpanda); without it, implement [`SchemaRegistry`] with the
//! HTTP stack the application already uses.
//!
//! ```
//! use durian_core::schema_registry::{decode_frame, encode_frame};
//! let framed = encode_frame(42, b"payload");
//! assert_eq!(&framed[..5], &[0, 0, 0, 0, 42]);
//! assert_eq!(decode_frame(&framed).unwrap(), (42, &b"payload"[..]));
//! ```

#[cfg(feature = "schema-registry-http")]
mod http;
mod memory;

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;

#[cfg(feature = "schema-registry-http")]
pub use http::{HttpSchemaRegistry, HttpSchemaRegistryBuilder, DEFAULT_TIMEOUT};
pub use memory::InMemorySchemaRegistry;

/// The first byte of every framed payload.
pub const MAGIC_BYTE: u8 = 0;

/// Bytes before the payload: the magic byte and the schema id.
pub const FRAME_HEADER_LEN: usize = 5;

/// The schema language of a [`Schema`], as the registry's `schemaType` names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SchemaKind {
    /// Apache Avro (the registry's default).
    Avro,
    /// Protocol Buffers.
    Protobuf,
    /// JSON Schema.
    Json,
    /// Another type a registry plug-in knows.
    Other(String),
}

impl fmt::Display for SchemaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SchemaKind::Avro => "AVRO",
            SchemaKind::Protobuf => "PROTOBUF",
            SchemaKind::Json => "JSON",
            SchemaKind::Other(name) => name,
        })
    }
}

/// A schema as the registry stores it: its language and its text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Schema {
    /// The schema language.
    pub kind: SchemaKind,
    /// The schema's definition, verbatim.
    pub definition: String,
}

impl Schema {
    /// A schema of `kind` with `definition`.
    pub fn new(kind: SchemaKind, definition: impl Into<String>) -> Self {
        Schema {
            kind,
            definition: definition.into(),
        }
    }
}

/// The subject of a topic's keys or values under Confluent's default
/// `TopicNameStrategy`: `<topic>-key` or `<topic>-value`.
///
/// ```
/// assert_eq!(durian_core::schema_registry::topic_subject("clicks", false), "clicks-value");
/// ```
pub fn topic_subject(topic: &str, is_key: bool) -> String {
    format!("{topic}-{}", if is_key { "key" } else { "value" })
}

/// Why a registry call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaRegistryError {
    /// No schema has this id (the registry's error 40403).
    #[error("unknown schema id {0}")]
    UnknownId(u32),
    /// The schema is not registered under the subject (40401 / 40403 on lookup).
    #[error("schema not registered under subject `{0}`")]
    NotRegistered(String),
    /// The registry refused the schema (e.g. 409, incompatible).
    #[error("registry refused the schema under `{subject}`: {reason}")]
    Rejected {
        /// The subject.
        subject: String,
        /// What the registry said.
        reason: String,
    },
    /// The registry could not be reached or answered nonsense.
    #[error("schema registry unavailable: {0}")]
    Unavailable(String),
    /// The registry answered with an error no other variant names
    /// (authentication, authorization, a server error, ...).
    #[error("schema registry error: HTTP {status}, error code {error_code:?}: {message}")]
    Registry {
        /// The HTTP status.
        status: u16,
        /// The registry's `error_code` (e.g. 40101), when its body had one.
        error_code: Option<i64>,
        /// The registry's `message`, or the start of a body that was not JSON.
        message: String,
    },
    /// The registry client's settings are unusable (URL, TLS material).
    #[error("schema registry settings: {0}")]
    Config(String),
}

/// A schema registry: register schemas under subjects, find ids.
///
/// Methods return boxed futures so that `Arc<dyn SchemaRegistry>` works
/// and the trait needs no macro; an implementation writes
/// `Box::pin(async move { ... })`. Serializers call the registry once per
/// schema and deserializers once per id, caching the answers, so a remote
/// implementation need not cache itself.
pub trait SchemaRegistry: Send + Sync {
    /// Registers `schema` under `subject` and returns its id; a schema
    /// already registered (under any subject) keeps its id.
    fn register<'a>(
        &'a self,
        subject: &'a str,
        schema: &'a Schema,
    ) -> BoxFuture<'a, Result<u32, SchemaRegistryError>>;

    /// The id of `schema` if it is registered under `subject`, without
    /// registering it ([`SchemaRegistryError::NotRegistered`] otherwise).
    fn lookup<'a>(
        &'a self,
        subject: &'a str,
        schema: &'a Schema,
    ) -> BoxFuture<'a, Result<u32, SchemaRegistryError>>;

    /// The schema with `id` ([`SchemaRegistryError::UnknownId`] if none).
    fn schema_by_id(&self, id: u32) -> BoxFuture<'_, Result<Schema, SchemaRegistryError>>;
}

/// Why bytes are not a framed payload.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Fewer than [`FRAME_HEADER_LEN`] bytes.
    #[error("{0} bytes are too short for the schema-registry frame (5 bytes)")]
    TooShort(usize),
    /// The first byte is not [`MAGIC_BYTE`].
    #[error("unknown magic byte {0} (schema-registry framing starts with 0)")]
    BadMagic(u8),
}

/// `payload` framed for schema `id`.
pub fn encode_frame(id: u32, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(FRAME_HEADER_LEN + payload.len());
    out.put_u8(MAGIC_BYTE);
    out.put_u32(id);
    out.put_slice(payload);
    out.freeze()
}

/// The schema id and the payload of framed bytes.
pub fn decode_frame(data: &[u8]) -> Result<(u32, &[u8]), FrameError> {
    let Some((header, payload)) = data.split_first_chunk::<FRAME_HEADER_LEN>() else {
        return Err(FrameError::TooShort(data.len()));
    };
    if header[0] != MAGIC_BYTE {
        return Err(FrameError::BadMagic(header[0]));
    }
    let id = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    Ok((id, payload))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_reject_garbage() {
        let framed = encode_frame(0x0102_0304, b"");
        assert_eq!(&framed[..], &[0, 1, 2, 3, 4]);
        assert_eq!(decode_frame(&framed).unwrap(), (0x0102_0304, &b""[..]));
        assert_eq!(decode_frame(&[0, 1]), Err(FrameError::TooShort(2)));
        assert_eq!(
            decode_frame(b"{\"json\":1}"),
            Err(FrameError::BadMagic(b'{'))
        );
    }
}
