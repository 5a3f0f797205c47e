//! A registry kept in memory: for tests, and for applications whose
//! schemas are fixed at build time.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use futures::future::BoxFuture;

use super::{Schema, SchemaRegistry, SchemaRegistryError};

#[derive(Debug, Default)]
struct State {
    /// Schemas by id; ids are indexes + 1 (the registry's ids start at 1).
    schemas: Vec<Schema>,
    /// Ids registered under each subject, oldest first.
    subjects: HashMap<String, Vec<u32>>,
}

/// A [`SchemaRegistry`] in memory. Ids start at 1 and are shared by all
/// subjects, as in Confluent's registry: the same schema under two
/// subjects has one id.
///
/// ```
/// # futures::executor::block_on(async {
/// use durian_core::schema_registry::*;
/// let registry = InMemorySchemaRegistry::new();
/// let schema = Schema::new(SchemaKind::Json, r#"{"type":"string"}"#);
/// let id = registry.register("clicks-value", &schema).await.unwrap();
/// assert_eq!(registry.lookup("clicks-value", &schema).await, Ok(id));
/// assert_eq!(registry.schema_by_id(id).await, Ok(schema));
/// assert_eq!(registry.schema_by_id(id + 1).await, Err(SchemaRegistryError::UnknownId(id + 1)));
/// # });
/// ```
#[derive(Debug, Default)]
pub struct InMemorySchemaRegistry {
    state: Mutex<State>,
}

impl InMemorySchemaRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update leaves the maps consistent; a panic elsewhere cannot
        // leave half an update behind.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn register_now(&self, subject: &str, schema: &Schema) -> u32 {
        let mut state = self.state();
        let id = match state.schemas.iter().position(|s| s == schema) {
            Some(index) => id_of(index),
            None => {
                state.schemas.push(schema.clone());
                id_of(state.schemas.len() - 1)
            }
        };
        let versions = state.subjects.entry(subject.to_owned()).or_default();
        if !versions.contains(&id) {
            versions.push(id);
        }
        id
    }

    fn lookup_now(&self, subject: &str, schema: &Schema) -> Result<u32, SchemaRegistryError> {
        let state = self.state();
        state
            .subjects
            .get(subject)
            .into_iter()
            .flatten()
            .copied()
            .find(|id| schema_at(&state, *id) == Some(schema))
            .ok_or_else(|| SchemaRegistryError::NotRegistered(subject.to_owned()))
    }
}

fn id_of(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

fn schema_at(state: &State, id: u32) -> Option<&Schema> {
    let index = usize::try_from(id).ok()?.checked_sub(1)?;
    state.schemas.get(index)
}

impl SchemaRegistry for InMemorySchemaRegistry {
    fn register<'a>(
        &'a self,
        subject: &'a str,
        schema: &'a Schema,
    ) -> BoxFuture<'a, Result<u32, SchemaRegistryError>> {
        Box::pin(std::future::ready(Ok(self.register_now(subject, schema))))
    }

    fn lookup<'a>(
        &'a self,
        subject: &'a str,
        schema: &'a Schema,
    ) -> BoxFuture<'a, Result<u32, SchemaRegistryError>> {
        Box::pin(std::future::ready(self.lookup_now(subject, schema)))
    }

    fn schema_by_id(&self, id: u32) -> BoxFuture<'_, Result<Schema, SchemaRegistryError>> {
        let found = schema_at(&self.state(), id)
            .cloned()
            .ok_or(SchemaRegistryError::UnknownId(id));
        Box::pin(std::future::ready(found))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::schema_registry::SchemaKind;

    #[test]
    fn ids_are_shared_across_subjects_and_lookup_is_per_subject() {
        let registry = InMemorySchemaRegistry::new();
        let a = Schema::new(SchemaKind::Avro, "\"string\"");
        let b = Schema::new(SchemaKind::Avro, "\"long\"");
        assert_eq!(registry.register_now("t-value", &a), 1);
        assert_eq!(registry.register_now("t-value", &b), 2);
        assert_eq!(registry.register_now("u-value", &a), 1);
        assert_eq!(registry.register_now("t-value", &a), 1);
        assert_eq!(registry.lookup_now("u-value", &a), Ok(1));
        assert_eq!(
            registry.lookup_now("u-value", &b),
            Err(SchemaRegistryError::NotRegistered("u-value".into()))
        );
        assert!(schema_at(&registry.state(), 0).is_none());
    }
}
