//! Confluent's schema-registry framing for consumed keys and values.
//!
//! [`SchemaRegistryDeserializer`] checks the five-byte frame (magic byte 0,
//! schema id), resolves the id through a [`SchemaRegistry`] and hands the
//! payload to an inner deserializer (Avro, Protobuf, JSON... decoded by
//! the application's own library, which gets the writer's schema along).
//!
//! Ids are resolved in [`Deserializer::prepare`], which
//! [`TypedConsumer`](crate::TypedConsumer) awaits before decoding each
//! partition's records, and cached for the deserializer's life; decoding
//! itself stays synchronous. Used on its own, call
//! [`resolve`](SchemaRegistryDeserializer::resolve) (or `prepare`) first.
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::sync::Arc;
//! use durian_core::schema_registry::{encode_frame, InMemorySchemaRegistry, Schema, SchemaKind, SchemaRegistry};
//! use durian_consumer::deserializer::{Deserializer, StringDeserializer};
//! use durian_consumer::schema_registry::SchemaRegistryDeserializer;
//! let registry = Arc::new(InMemorySchemaRegistry::new());
//! let id = registry.register("greetings-value", &Schema::new(SchemaKind::Avro, r#""string""#)).await.unwrap();
//! let values = SchemaRegistryDeserializer::new(registry, StringDeserializer);
//! let framed = encode_frame(id, b"hi");
//! values.prepare("greetings", &[&framed[..]]).await;
//! let decoded = values.deserialize("greetings", Some(&framed)).unwrap().unwrap();
//! assert_eq!((decoded.schema_id, decoded.value.as_str()), (id, "hi"));
//! assert!(values.deserialize("greetings", Some(&encode_frame(id + 1, b"?"))).is_err());
//! # });
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use durian_core::schema_registry::{decode_frame, Schema, SchemaRegistry, SchemaRegistryError};
use futures::future::BoxFuture;

use crate::deserializer::{DeserializeError, Deserializer};

/// A value decoded from a framed payload, with the schema it was written with.
#[derive(Clone, Debug, PartialEq)]
pub struct WithSchema<T> {
    /// The id in the frame.
    pub schema_id: u32,
    /// The writer's schema, as the registry has it.
    pub schema: Arc<Schema>,
    /// What the inner deserializer made of the payload.
    pub value: T,
}

type Cache = HashMap<u32, Result<Arc<Schema>, SchemaRegistryError>>;

/// Reads framed keys or values: checks the frame, finds the schema by its
/// id, decodes the payload with `D`. Nulls stay nulls (tombstones are not
/// framed).
pub struct SchemaRegistryDeserializer<D> {
    registry: Arc<dyn SchemaRegistry>,
    inner: D,
    /// Answers per id: schemas for good, failures until the next lookup.
    cache: Mutex<Cache>,
}

impl<D: std::fmt::Debug> std::fmt::Debug for SchemaRegistryDeserializer<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaRegistryDeserializer")
            .field("inner", &self.inner)
            .field("cached_ids", &self.cache().len())
            .finish_non_exhaustive()
    }
}

impl<D> SchemaRegistryDeserializer<D> {
    /// Resolves ids through `registry` and decodes payloads with `inner`.
    pub fn new(registry: Arc<dyn SchemaRegistry>, inner: D) -> Self {
        SchemaRegistryDeserializer {
            registry,
            inner,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        // Entries are inserted whole; nothing can be left half-written.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The schema with `id`, from the cache or the registry. Found schemas
    /// are kept; a failure is kept only until the next lookup of the id,
    /// so an unreachable registry is asked again later.
    pub async fn resolve(&self, id: u32) -> Result<Arc<Schema>, SchemaRegistryError> {
        if let Some(Ok(schema)) = self.cache().get(&id) {
            return Ok(schema.clone());
        }
        let found = self.registry.schema_by_id(id).await.map(Arc::new);
        self.cache().insert(id, found.clone());
        found
    }
}

impl<D: Deserializer + Sync> Deserializer for SchemaRegistryDeserializer<D> {
    type Output = WithSchema<D::Output>;

    fn deserialize(
        &self,
        topic: &str,
        data: Option<&[u8]>,
    ) -> Result<Option<Self::Output>, DeserializeError> {
        let Some(data) = data else {
            return Ok(None);
        };
        let (schema_id, payload) = decode_frame(data)
            .map_err(|e| DeserializeError::with_source("not schema-registry framed", e))?;
        let schema = match self.cache().get(&schema_id) {
            Some(Ok(schema)) => schema.clone(),
            Some(Err(error)) => {
                return Err(DeserializeError::with_source(
                    format!("cannot resolve schema id {schema_id}"),
                    error.clone(),
                ))
            }
            None => {
                return Err(DeserializeError::new(format!(
                    "schema id {schema_id} was not resolved before decoding \
                     (TypedConsumer does that; otherwise call resolve or prepare first)"
                )))
            }
        };
        let Some(value) = self.inner.deserialize(topic, Some(payload))? else {
            return Err(DeserializeError::new(
                "the inner deserializer returned null for a framed payload",
            ));
        };
        Ok(Some(WithSchema {
            schema_id,
            schema,
            value,
        }))
    }

    fn prepare<'a>(&'a self, _topic: &'a str, data: &'a [&'a [u8]]) -> BoxFuture<'a, ()> {
        let mut ids: Vec<u32> = {
            let cache = self.cache();
            data.iter()
                .filter_map(|d| decode_frame(d).ok().map(|(id, _)| id))
                .filter(|id| !matches!(cache.get(id), Some(Ok(_))))
                .collect()
        };
        ids.sort_unstable();
        ids.dedup();
        Box::pin(async move {
            for id in ids {
                // The outcome is cached; deserialize reports a failure
                // for the records carrying this id.
                let _ = self.resolve(id).await;
            }
        })
    }
}
