//! One module per Kafka API. Each module states the versions it serves in a
//! `VERSIONS` constant and exposes `handle(state, request, version or ctx)`;
//! the group APIs get a [`GroupContext`] (the coordinator and who
//! coordinates which group) instead of the whole broker state.
//!
//! [`registry`] is the single list of served APIs: dispatch routes by it
//! and ApiVersions advertises exactly what it contains, so a handler
//! cannot be reachable without being advertised or the other way round.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock};

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{self, ApiKey, TopicName};
use kafka_protocol::protocol::{Encodable, StrBytes, VersionRange};

pub use error::{EncodeError, HandlerError};
pub use group_context::GroupContext;

use crate::server::decode_guard::decode_guarded;
use crate::state::BrokerState;

pub mod alter_configs;
pub mod api_versions;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
mod error;
pub mod error_reply;
pub mod fetch;
pub mod find_coordinator;
mod group_context;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
mod produce_validate;
pub mod sync_group;

/// What a handler produced.
#[derive(Debug)]
pub enum Reply {
    /// An encoded response body (without the response header).
    Body(Bytes),
    /// Nothing is sent back (Produce with acks=0).
    Nothing,
}

/// The future a handler returns: the reply, or a reason to close the connection.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<Reply, HandlerError>> + Send>>;

/// Who sent a request and how; handed to every handler run.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request's API version.
    pub version: i16,
    /// The `client_id` of the request header.
    pub client_id: Option<String>,
    /// The client's address.
    pub peer: std::net::SocketAddr,
    /// The node that received the request (handlers check leadership and
    /// coordination against it).
    pub node_id: i32,
}

/// A served API: key, versions and the function that runs it.
pub struct ApiHandler {
    /// The API key.
    pub key: ApiKey,
    /// Versions served (inclusive).
    pub versions: VersionRange,
    /// Versions listed in ApiVersions; the same as `versions` except where
    /// a client needs to see older versions to enable a feature (see
    /// `produce::ADVERTISED`). Requests at advertised but unserved versions
    /// close the connection with a reason.
    pub advertised: VersionRange,
    /// Versions kafka-protocol can decode for this request; `versions` must lie inside.
    #[cfg(test)]
    pub decodable: VersionRange,
    /// Decodes the body at the given version, runs the handler, encodes the reply.
    pub run: fn(Arc<BrokerState>, RequestContext, Bytes) -> HandlerFuture,
}

impl std::fmt::Debug for ApiHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} v{}", self.key, self.versions)
    }
}

/// A version range from a `(min, max)` pair.
pub const fn versions(min: i16, max: i16) -> VersionRange {
    VersionRange { min, max }
}

/// Encodes a response body at `version`.
pub fn encode_body<T: Encodable>(response: &T, version: i16) -> Result<Reply, HandlerError> {
    let mut buf = BytesMut::new();
    response
        .encode(&mut buf, version)
        .map_err(|e| EncodeError {
            version,
            source: e.into(),
        })?;
    Ok(Reply::Body(buf.freeze()))
}

/// Builds an [`ApiHandler`] for a module whose `handle` returns a response.
macro_rules! api {
    ($key:ident, $module:ident, $request:ty) => {
        ApiHandler {
            key: ApiKey::$key,
            versions: $module::VERSIONS,
            advertised: $module::VERSIONS,
            #[cfg(test)]
            decodable: <$request as kafka_protocol::protocol::Message>::VERSIONS,
            run: |state, ctx, body| {
                Box::pin(async move {
                    let version = ctx.version;
                    let request: $request = decode_guarded(&body, version)?;
                    let response = $module::handle(&state, request, version).await;
                    encode_body(&response, version)
                })
            },
        }
    };
}

/// Builds an [`ApiHandler`] for a module whose `handle` also needs the
/// [`RequestContext`] (the receiving node, the client).
macro_rules! api_ctx {
    ($key:ident, $module:ident, $request:ty) => {
        ApiHandler {
            key: ApiKey::$key,
            versions: $module::VERSIONS,
            advertised: $module::VERSIONS,
            #[cfg(test)]
            decodable: <$request as kafka_protocol::protocol::Message>::VERSIONS,
            run: |state, ctx, body| {
                Box::pin(async move {
                    let request: $request = decode_guarded(&body, ctx.version)?;
                    let response = $module::handle(&state, request, &ctx).await;
                    encode_body(&response, ctx.version)
                })
            },
        }
    };
}

/// Builds an [`ApiHandler`] for a group API, whose `handle` sees only the
/// [`GroupContext`] (and the [`RequestContext`]).
macro_rules! api_group {
    ($key:ident, $module:ident, $request:ty) => {
        ApiHandler {
            key: ApiKey::$key,
            versions: $module::VERSIONS,
            advertised: $module::VERSIONS,
            #[cfg(test)]
            decodable: <$request as kafka_protocol::protocol::Message>::VERSIONS,
            run: |state, ctx, body| {
                Box::pin(async move {
                    let request: $request = decode_guarded(&body, ctx.version)?;
                    let groups = GroupContext::of(&state);
                    let response = $module::handle(&groups, request, &ctx).await;
                    encode_body(&response, ctx.version)
                })
            },
        }
    };
}

static REGISTRY: LazyLock<Vec<ApiHandler>> = LazyLock::new(|| {
    vec![
        ApiHandler {
            key: ApiKey::Produce,
            versions: produce::VERSIONS,
            advertised: produce::ADVERTISED,
            #[cfg(test)]
            decodable: <messages::ProduceRequest as kafka_protocol::protocol::Message>::VERSIONS,
            run: |state, ctx, body| {
                Box::pin(async move {
                    let version = ctx.version;
                    let request: messages::ProduceRequest = decode_guarded(&body, version)?;
                    match produce::handle(&state, request, &ctx).await {
                        produce::ProduceReply::Respond(response) => encode_body(&response, version),
                        produce::ProduceReply::Silent => Ok(Reply::Nothing),
                        produce::ProduceReply::Close(reason) => Err(reason),
                    }
                })
            },
        },
        api_ctx!(Fetch, fetch, messages::FetchRequest),
        api_ctx!(ListOffsets, list_offsets, messages::ListOffsetsRequest),
        api_ctx!(Metadata, metadata, messages::MetadataRequest),
        api_group!(OffsetCommit, offset_commit, messages::OffsetCommitRequest),
        api_group!(OffsetFetch, offset_fetch, messages::OffsetFetchRequest),
        api_ctx!(
            FindCoordinator,
            find_coordinator,
            messages::FindCoordinatorRequest
        ),
        api_group!(JoinGroup, join_group, messages::JoinGroupRequest),
        api_group!(Heartbeat, heartbeat, messages::HeartbeatRequest),
        api_group!(LeaveGroup, leave_group, messages::LeaveGroupRequest),
        api_group!(SyncGroup, sync_group, messages::SyncGroupRequest),
        api_group!(
            DescribeGroups,
            describe_groups,
            messages::DescribeGroupsRequest
        ),
        api_group!(ListGroups, list_groups, messages::ListGroupsRequest),
        api!(ApiVersions, api_versions, messages::ApiVersionsRequest),
        api_ctx!(CreateTopics, create_topics, messages::CreateTopicsRequest),
        api!(DeleteTopics, delete_topics, messages::DeleteTopicsRequest),
        api_ctx!(
            DeleteRecords,
            delete_records,
            messages::DeleteRecordsRequest
        ),
        api_ctx!(
            InitProducerId,
            init_producer_id,
            messages::InitProducerIdRequest
        ),
        api_ctx!(
            OffsetForLeaderEpoch,
            offset_for_leader_epoch,
            messages::OffsetForLeaderEpochRequest
        ),
        api_ctx!(
            DescribeConfigs,
            describe_configs,
            messages::DescribeConfigsRequest
        ),
        api!(AlterConfigs, alter_configs, messages::AlterConfigsRequest),
        api_ctx!(
            CreatePartitions,
            create_partitions,
            messages::CreatePartitionsRequest
        ),
        api_group!(DeleteGroups, delete_groups, messages::DeleteGroupsRequest),
        api!(
            IncrementalAlterConfigs,
            incremental_alter_configs,
            messages::IncrementalAlterConfigsRequest
        ),
        api_group!(OffsetDelete, offset_delete, messages::OffsetDeleteRequest),
        api_ctx!(
            DescribeCluster,
            describe_cluster,
            messages::DescribeClusterRequest
        ),
    ]
});

/// Every served API, in API key order.
pub fn registry() -> &'static [ApiHandler] {
    &REGISTRY
}

/// The handler for `key`, if the broker serves it.
pub fn lookup(key: ApiKey) -> Option<&'static ApiHandler> {
    REGISTRY.iter().find(|h| h.key == key)
}

/// A topic name for a response.
pub fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// A protocol string from a Rust one.
pub fn text(value: impl Into<String>) -> StrBytes {
    StrBytes::from_string(value.into())
}

/// The served APIs as a Markdown table (API, key, versions served,
/// versions advertised), generated from [`registry`] for docs/BROKER.md.
#[cfg(feature = "testing")]
pub fn api_table_markdown() -> String {
    let mut handlers: Vec<&ApiHandler> = registry().iter().collect();
    handlers.sort_by_key(|h| h.key as i16);
    let mut out = String::from("| API | Key | Served | Advertised |\n|---|---:|---|---|\n");
    for h in handlers {
        out.push_str(&format!(
            "| {:?} | {} | {}–{} | {}–{} |\n",
            h.key, h.key as i16, h.versions.min, h.versions.max, h.advertised.min, h.advertised.max
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_versions_are_decodable_and_keys_unique() {
        let mut seen = std::collections::HashSet::new();
        for h in registry() {
            assert!(seen.insert(h.key as i16), "{:?} registered twice", h.key);
            assert!(!h.versions.is_empty(), "{h:?} serves no version");
            assert!(
                h.advertised.min <= h.versions.min && h.advertised.max == h.versions.max,
                "{h:?} must advertise every served version and nothing newer"
            );
            assert!(
                h.versions.min >= h.decodable.min && h.versions.max <= h.decodable.max,
                "{h:?} serves versions kafka-protocol cannot decode ({})",
                h.decodable
            );
        }
    }

    #[test]
    fn lookup_finds_every_registered_api() {
        for h in registry() {
            assert_eq!(lookup(h.key).map(|found| found.key), Some(h.key));
        }
        assert!(lookup(ApiKey::SaslHandshake).is_none());
    }
}
