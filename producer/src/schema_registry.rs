//! Confluent's schema-registry framing for produced keys and values.
//!
//! [`SchemaRegistrySerializer`] wraps a serializer of the payload (Avro,
//! Protobuf, JSON... encoded by the application's own library) and puts
//! the five-byte frame in front: magic byte 0 and the schema's id. The id
//! comes from a [`SchemaRegistry`] once, when the serializer is created,
//! because `Serializer::serialize` is synchronous and must not wait on a
//! registry per record. docs/PRODUCER.md ("Schema registry") has more.
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::sync::Arc;
//! use durian_core::schema_registry::{InMemorySchemaRegistry, Schema, SchemaKind};
//! use durian_producer::schema_registry::SchemaRegistrySerializer;
//! use durian_producer::{Serializer, StringSerializer};
//! let registry = Arc::new(InMemorySchemaRegistry::new());
//! let schema = Schema::new(SchemaKind::Avro, r#""string""#);
//! let values = SchemaRegistrySerializer::register(&*registry, "greetings-value", &schema, StringSerializer)
//!     .await
//!     .unwrap();
//! let bytes = values.serialize("greetings", "hi").unwrap();
//! assert_eq!(&bytes[..], &[0, 0, 0, 0, 1, b'h', b'i']);
//! # });
//! ```

use bytes::Bytes;
use durian_core::schema_registry::{encode_frame, Schema, SchemaRegistry, SchemaRegistryError};

use crate::serializer::{SerializeError, Serializer};

/// Frames what `S` writes with a schema id (magic byte 0, id big-endian).
#[derive(Clone, Copy, Debug)]
pub struct SchemaRegistrySerializer<S> {
    schema_id: u32,
    inner: S,
}

impl<S> SchemaRegistrySerializer<S> {
    /// Frames with a known id (e.g. from configuration), without asking a registry.
    pub fn with_id(schema_id: u32, inner: S) -> Self {
        SchemaRegistrySerializer { schema_id, inner }
    }

    /// Registers `schema` under `subject` (Confluent's
    /// `auto.register.schemas=true`) and frames with its id.
    pub async fn register(
        registry: &dyn SchemaRegistry,
        subject: &str,
        schema: &Schema,
        inner: S,
    ) -> Result<Self, SchemaRegistryError> {
        let schema_id = registry.register(subject, schema).await?;
        Ok(Self::with_id(schema_id, inner))
    }

    /// Frames with the id `schema` already has under `subject`
    /// (`auto.register.schemas=false`); fails if it is not registered.
    pub async fn lookup(
        registry: &dyn SchemaRegistry,
        subject: &str,
        schema: &Schema,
        inner: S,
    ) -> Result<Self, SchemaRegistryError> {
        let schema_id = registry.lookup(subject, schema).await?;
        Ok(Self::with_id(schema_id, inner))
    }

    /// The id written in front of every payload.
    pub fn schema_id(&self) -> u32 {
        self.schema_id
    }
}

impl<T: ?Sized, S: Serializer<T>> Serializer<T> for SchemaRegistrySerializer<S> {
    fn serialize(&self, topic: &str, data: &T) -> Result<Bytes, SerializeError> {
        let payload = self.inner.serialize(topic, data)?;
        Ok(encode_frame(self.schema_id, &payload))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::serializer::IntegerSerializer;

    #[test]
    fn frames_the_inner_bytes() {
        let s = SchemaRegistrySerializer::with_id(258, IntegerSerializer);
        assert_eq!(
            &s.serialize("t", &7_i32).unwrap()[..],
            &[0, 0, 0, 1, 2, 0, 0, 0, 7]
        );
        assert_eq!(s.schema_id(), 258);
    }
}
