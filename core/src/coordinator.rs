//! Group and transaction coordinator lookup.
//!
//! FindCoordinator v4+ looks up many keys in one request; older versions
//! take one key each. The request builders and the response parser here are
//! pure; [`crate::Client`] sends the requests and keeps the
//! [`CoordinatorCache`], from which entries are removed when a coordinator
//! answers `NOT_COORDINATOR` or `COORDINATOR_NOT_AVAILABLE`.

use std::collections::HashMap;
use std::sync::Mutex;

use kafka_protocol::messages::FindCoordinatorRequest;
use kafka_protocol::messages::FindCoordinatorResponse;
use kafka_protocol::protocol::{StrBytes, VersionRange};

use crate::error::{Error, KafkaError, Result};
use crate::metadata::BrokerInfo;

/// The first FindCoordinator version that batches keys.
pub const BATCHED_FIND_COORDINATOR: i16 = 4;

/// What kind of coordinator a key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CoordinatorKind {
    /// A consumer group (`group.id`).
    Group,
    /// A transactional producer (`transactional.id`).
    Transaction,
}

impl CoordinatorKind {
    /// The `key_type` on the wire.
    pub fn key_type(self) -> i8 {
        match self {
            CoordinatorKind::Group => 0,
            CoordinatorKind::Transaction => 1,
        }
    }

    /// The FindCoordinator versions durian can use for this kind; v0 has no
    /// key type and so only finds group coordinators.
    pub fn versions(self) -> VersionRange {
        let min = match self {
            CoordinatorKind::Group => 0,
            CoordinatorKind::Transaction => 1,
        };
        VersionRange { min, max: 6 }
    }
}

/// A FindCoordinator request for `keys` at `version`; below v4 only the
/// first key is sent (callers send one request per key there).
pub fn find_coordinator_request(
    kind: CoordinatorKind,
    keys: &[String],
    version: i16,
) -> FindCoordinatorRequest {
    let request = FindCoordinatorRequest::default().with_key_type(kind.key_type());
    if version >= BATCHED_FIND_COORDINATOR {
        request.with_coordinator_keys(keys.iter().cloned().map(StrBytes::from_string).collect())
    } else {
        request.with_key(
            keys.first()
                .cloned()
                .map(StrBytes::from_string)
                .unwrap_or_default(),
        )
    }
}

/// The coordinator of each key in a FindCoordinator response.
pub fn parse_find_coordinator(
    response: &FindCoordinatorResponse,
    keys: &[String],
    version: i16,
) -> Vec<(String, Result<BrokerInfo>)> {
    if version < BATCHED_FIND_COORDINATOR {
        let Some(key) = keys.first() else {
            return Vec::new();
        };
        let result = KafkaError::check(
            response.error_code,
            response.error_message.as_ref().map(|m| m.as_str()),
        )
        .map(|()| BrokerInfo {
            node_id: response.node_id.0,
            host: response.host.to_string(),
            port: response.port,
            rack: None,
        });
        return vec![(key.clone(), result)];
    }
    keys.iter()
        .map(|key| {
            let entry = response
                .coordinators
                .iter()
                .find(|c| c.key.as_str() == key.as_str());
            let result = match entry {
                None => Err(Error::Protocol(format!(
                    "FindCoordinator response lacks the key `{key}`"
                ))),
                Some(c) => {
                    KafkaError::check(c.error_code, c.error_message.as_ref().map(|m| m.as_str()))
                        .map(|()| BrokerInfo {
                            node_id: c.node_id.0,
                            host: c.host.to_string(),
                            port: c.port,
                            rack: None,
                        })
                }
            };
            (key.clone(), result)
        })
        .collect()
}

/// Known coordinators by kind and key.
#[derive(Debug, Default)]
pub struct CoordinatorCache {
    entries: Mutex<HashMap<(CoordinatorKind, String), BrokerInfo>>,
}

impl CoordinatorCache {
    /// The cached coordinator of `key`.
    pub fn get(&self, kind: CoordinatorKind, key: &str) -> Option<BrokerInfo> {
        self.lock().get(&(kind, key.to_owned())).cloned()
    }

    /// Remembers the coordinator of `key`.
    pub fn insert(&self, kind: CoordinatorKind, key: String, broker: BrokerInfo) {
        self.lock().insert((kind, key), broker);
    }

    /// Forgets the coordinator of `key`; returns whether one was cached.
    pub fn invalidate(&self, kind: CoordinatorKind, key: &str) -> bool {
        self.lock().remove(&(kind, key.to_owned())).is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(CoordinatorKind, String), BrokerInfo>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::KafkaCode;
    use kafka_protocol::messages::find_coordinator_response::Coordinator;
    use kafka_protocol::messages::BrokerId;

    fn keys() -> Vec<String> {
        vec!["g1".to_owned(), "g2".to_owned()]
    }

    #[test]
    fn batched_requests_carry_all_keys_and_single_ones_the_first() {
        let batched = find_coordinator_request(CoordinatorKind::Group, &keys(), 4);
        assert_eq!(batched.coordinator_keys.len(), 2);
        let single = find_coordinator_request(CoordinatorKind::Transaction, &keys(), 3);
        assert_eq!(single.key.as_str(), "g1");
        assert_eq!(single.key_type, 1);
    }

    #[test]
    fn batched_responses_map_errors_per_key() {
        let response = FindCoordinatorResponse::default().with_coordinators(vec![
            Coordinator::default()
                .with_key(StrBytes::from_static_str("g1"))
                .with_node_id(BrokerId(3))
                .with_host(StrBytes::from_static_str("h3"))
                .with_port(9),
            Coordinator::default()
                .with_key(StrBytes::from_static_str("g2"))
                .with_error_code(15),
        ]);
        let parsed = parse_find_coordinator(&response, &keys(), 4);
        assert_eq!(parsed[0].1.as_ref().unwrap().address(), "h3:9");
        let err = parsed[1].1.as_ref().unwrap_err();
        assert_eq!(err.kafka_code(), Some(KafkaCode::COORDINATOR_NOT_AVAILABLE));
    }

    #[test]
    fn single_responses_use_the_top_level_fields() {
        let response = FindCoordinatorResponse::default()
            .with_node_id(BrokerId(1))
            .with_host(StrBytes::from_static_str("h"))
            .with_port(1);
        let parsed = parse_find_coordinator(&response, &keys()[..1], 2);
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].1.as_ref().unwrap().node_id, 1);
    }

    #[test]
    fn cache_invalidation() {
        let cache = CoordinatorCache::default();
        let broker = BrokerInfo {
            node_id: 1,
            host: "h".into(),
            port: 1,
            rack: None,
        };
        cache.insert(CoordinatorKind::Group, "g".into(), broker.clone());
        assert_eq!(cache.get(CoordinatorKind::Group, "g"), Some(broker));
        assert!(cache.get(CoordinatorKind::Transaction, "g").is_none());
        assert!(cache.invalidate(CoordinatorKind::Group, "g"));
        assert!(!cache.invalidate(CoordinatorKind::Group, "g"));
    }
}
