//! One module per Kafka API. Each module states the versions it serves in a
//! `VERSIONS` constant and exposes `handle(context, request, ctx)`, where
//! `context` is a narrow view of the broker state holding only what that
//! API uses: [`DataContext`] (produce, fetch, offsets, delete records),
//! [`TopicAdminContext`] (topic and config changes), [`ClusterInfoContext`]
//! (metadata, cluster, coordinators), [`GroupContext`] (group APIs),
//! [`ProducerIdContext`] (InitProducerId), [`TxnContext`] (the other
//! transaction APIs) or [`AclContext`] (the ACL APIs). Every context hands out an `Access`, the authorizer bound to the
//! request's principal and peer, for the checks Kafka makes per API.
//! ApiVersions needs no state and takes `(request, version)`.
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

pub use acl_context::AclContext;
pub use cluster_info_context::ClusterInfoContext;
pub use data_context::{DataContext, DataLimits};
pub use error::{EncodeError, HandlerError};
pub use group_context::GroupContext;
pub use producer_id_context::ProducerIdContext;
pub use scram_context::ScramContext;
pub use topic_admin_context::TopicAdminContext;
pub use txn_context::TxnContext;

use crate::server::decode_guard::decode_guarded;
use crate::state::BrokerState;

mod acl_context;
pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod alter_configs;
pub mod alter_user_scram_credentials;
pub mod api_versions;
mod cluster_info_context;
pub mod consumer_group_describe;
pub mod consumer_group_heartbeat;
pub mod create_acls;
pub mod create_partitions;
pub mod create_topics;
mod data_context;
pub mod delete_acls;
pub mod delete_groups;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_acls;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_groups;
pub mod describe_producers;
pub mod describe_transactions;
pub mod describe_user_scram_credentials;
pub mod end_txn;
mod error;
pub mod error_reply;
pub mod fetch;
mod fetch_encode;
mod fetch_trace;
pub mod find_coordinator;
mod group_context;
pub mod heartbeat;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod join_group;
pub mod leave_group;
pub mod list_groups;
pub mod list_offsets;
pub mod list_transactions;
pub mod metadata;
pub mod offset_commit;
pub mod offset_delete;
pub mod offset_fetch;
pub mod offset_for_leader_epoch;
pub mod produce;
mod produce_validate;
mod producer_id_context;
pub mod sasl_authenticate;
pub mod sasl_handshake;
mod scram_context;
pub mod sync_group;
mod topic_admin_context;
mod txn_context;
pub mod txn_offset_commit;
pub mod write_txn_markers;

/// What a handler produced.
#[derive(Debug)]
pub enum Reply {
    /// An encoded response body (without the response header).
    Body(Bytes),
    /// An encoded response body in pieces, sent in order without being
    /// joined (Fetch: the structure around the record bytes, and the
    /// record bytes as read from the segments or the segment file ranges
    /// holding them).
    Parts(Vec<crate::server::frame::Piece>),
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
    /// Who sent it: the principal the connection authenticated as
    /// (`User:ANONYMOUS` without authentication).
    pub principal: crate::security::Principal,
    /// The listener the request came in on (`None` on the nodes of an
    /// in-process test cluster, which have one unnamed listener each).
    pub listener: Option<Arc<crate::security::listener::ListenerInfo>>,
    /// Whether the connection writes to a plain TCP socket (no TLS): a
    /// Fetch may then answer with ranges of the segment files, which the
    /// connection sends with `sendfile`, instead of reading the records.
    pub file_records: bool,
}

impl RequestContext {
    /// How clients of this request's listener reach `broker`: the
    /// receiving node is announced at the address of the listener the
    /// client connected on (Kafka's per-listener advertising).
    pub fn advertised(
        &self,
        broker: crate::topology::BrokerAddress,
    ) -> crate::topology::BrokerAddress {
        match &self.listener {
            Some(listener) if broker.node_id == self.node_id => crate::topology::BrokerAddress {
                node_id: broker.node_id,
                host: listener.host.clone(),
                port: listener.port,
            },
            _ => broker,
        }
    }
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
    encode_bytes(response, version).map(Reply::Body)
}

/// Encodes a response body at `version` into one buffer.
pub fn encode_bytes<T: Encodable>(response: &T, version: i16) -> Result<Bytes, HandlerError> {
    let mut buf = BytesMut::new();
    response
        .encode(&mut buf, version)
        .map_err(|e| EncodeError {
            version,
            source: e.into(),
        })?;
    Ok(buf.freeze())
}

/// Counts the error codes of `response`, an answer of `api`, on the
/// metrics page, then encodes it at `version`: the one place a handler's
/// typed response passes before it becomes bytes.
pub fn answer<T: Encodable + crate::metrics::response_codes::ErrorCodes>(
    state: &BrokerState,
    api: ApiKey,
    response: &T,
    version: i16,
) -> Result<Reply, HandlerError> {
    state.metrics().count_response_errors(api, response);
    encode_body(response, version)
}

/// Builds an [`ApiHandler`] for a module whose `handle` needs no broker
/// state, only the request and its version.
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
                    let response = $module::handle(request, version).await;
                    answer(&state, ApiKey::$key, &response, version)
                })
            },
        }
    };
}

/// Builds an [`ApiHandler`] for a module whose `handle` sees only the
/// context `BrokerState::$context` builds (and the [`RequestContext`]).
macro_rules! api_in {
    ($key:ident, $module:ident, $request:ty, $context:ident) => {
        ApiHandler {
            key: ApiKey::$key,
            versions: $module::VERSIONS,
            advertised: $module::VERSIONS,
            #[cfg(test)]
            decodable: <$request as kafka_protocol::protocol::Message>::VERSIONS,
            run: |state, ctx, body| {
                Box::pin(async move {
                    let request: $request = decode_guarded(&body, ctx.version)?;
                    let context = state.$context();
                    let response = $module::handle(&context, request, &ctx).await;
                    answer(&state, ApiKey::$key, &response, ctx.version)
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
                    match produce::handle(&state.data_context(), request, &ctx).await {
                        produce::ProduceReply::Respond(response) => {
                            answer(&state, ApiKey::Produce, &response, version)
                        }
                        produce::ProduceReply::Silent => Ok(Reply::Nothing),
                        produce::ProduceReply::Close(reason) => Err(reason),
                    }
                })
            },
        },
        ApiHandler {
            key: ApiKey::Fetch,
            versions: fetch::VERSIONS,
            advertised: fetch::VERSIONS,
            #[cfg(test)]
            decodable: <messages::FetchRequest as kafka_protocol::protocol::Message>::VERSIONS,
            run: |state, ctx, body| {
                Box::pin(async move {
                    let request: messages::FetchRequest = decode_guarded(&body, ctx.version)?;
                    let answer = fetch::handle(&state.data_context(), request, &ctx).await;
                    // Counted as `answer` counts every other API's errors.
                    state
                        .metrics()
                        .count_response_errors(ApiKey::Fetch, &answer.response);
                    // The records go out by reference, not through the encoder.
                    fetch_encode::encode_parts(answer, ctx.version)
                })
            },
        },
        api_in!(
            ListOffsets,
            list_offsets,
            messages::ListOffsetsRequest,
            data_context
        ),
        api_in!(
            Metadata,
            metadata,
            messages::MetadataRequest,
            cluster_info_context
        ),
        api_in!(
            OffsetCommit,
            offset_commit,
            messages::OffsetCommitRequest,
            group_context
        ),
        api_in!(
            OffsetFetch,
            offset_fetch,
            messages::OffsetFetchRequest,
            group_context
        ),
        api_in!(
            FindCoordinator,
            find_coordinator,
            messages::FindCoordinatorRequest,
            cluster_info_context
        ),
        api_in!(
            JoinGroup,
            join_group,
            messages::JoinGroupRequest,
            group_context
        ),
        api_in!(
            Heartbeat,
            heartbeat,
            messages::HeartbeatRequest,
            group_context
        ),
        api_in!(
            LeaveGroup,
            leave_group,
            messages::LeaveGroupRequest,
            group_context
        ),
        api_in!(
            SyncGroup,
            sync_group,
            messages::SyncGroupRequest,
            group_context
        ),
        api_in!(
            DescribeGroups,
            describe_groups,
            messages::DescribeGroupsRequest,
            group_context
        ),
        api_in!(
            ListGroups,
            list_groups,
            messages::ListGroupsRequest,
            group_context
        ),
        api!(
            SaslHandshake,
            sasl_handshake,
            messages::SaslHandshakeRequest
        ),
        ApiHandler {
            key: ApiKey::ApiVersions,
            versions: api_versions::VERSIONS,
            advertised: api_versions::VERSIONS,
            #[cfg(test)]
            decodable:
                <messages::ApiVersionsRequest as kafka_protocol::protocol::Message>::VERSIONS,
            run: |state, ctx, body| {
                Box::pin(async move {
                    let version = ctx.version;
                    let request: messages::ApiVersionsRequest = decode_guarded(&body, version)?;
                    let consumer = state.groups().consumer_protocol_enabled();
                    let response = api_versions::handle(request, version, consumer).await;
                    answer(&state, ApiKey::ApiVersions, &response, version)
                })
            },
        },
        api_in!(
            CreateTopics,
            create_topics,
            messages::CreateTopicsRequest,
            topic_admin_context
        ),
        api_in!(
            DeleteTopics,
            delete_topics,
            messages::DeleteTopicsRequest,
            topic_admin_context
        ),
        api_in!(
            DeleteRecords,
            delete_records,
            messages::DeleteRecordsRequest,
            data_context
        ),
        api_in!(
            InitProducerId,
            init_producer_id,
            messages::InitProducerIdRequest,
            producer_id_context
        ),
        api_in!(
            OffsetForLeaderEpoch,
            offset_for_leader_epoch,
            messages::OffsetForLeaderEpochRequest,
            data_context
        ),
        api_in!(
            AddPartitionsToTxn,
            add_partitions_to_txn,
            messages::AddPartitionsToTxnRequest,
            txn_context
        ),
        api_in!(
            AddOffsetsToTxn,
            add_offsets_to_txn,
            messages::AddOffsetsToTxnRequest,
            txn_context
        ),
        api_in!(EndTxn, end_txn, messages::EndTxnRequest, txn_context),
        api_in!(
            WriteTxnMarkers,
            write_txn_markers,
            messages::WriteTxnMarkersRequest,
            txn_context
        ),
        api_in!(
            TxnOffsetCommit,
            txn_offset_commit,
            messages::TxnOffsetCommitRequest,
            txn_context
        ),
        api_in!(
            DescribeAcls,
            describe_acls,
            messages::DescribeAclsRequest,
            acl_context
        ),
        api_in!(
            CreateAcls,
            create_acls,
            messages::CreateAclsRequest,
            acl_context
        ),
        api_in!(
            DeleteAcls,
            delete_acls,
            messages::DeleteAclsRequest,
            acl_context
        ),
        api_in!(
            DescribeConfigs,
            describe_configs,
            messages::DescribeConfigsRequest,
            topic_admin_context
        ),
        api_in!(
            AlterConfigs,
            alter_configs,
            messages::AlterConfigsRequest,
            topic_admin_context
        ),
        api!(
            SaslAuthenticate,
            sasl_authenticate,
            messages::SaslAuthenticateRequest
        ),
        api_in!(
            CreatePartitions,
            create_partitions,
            messages::CreatePartitionsRequest,
            topic_admin_context
        ),
        api_in!(
            DeleteGroups,
            delete_groups,
            messages::DeleteGroupsRequest,
            group_context
        ),
        api_in!(
            IncrementalAlterConfigs,
            incremental_alter_configs,
            messages::IncrementalAlterConfigsRequest,
            topic_admin_context
        ),
        api_in!(
            OffsetDelete,
            offset_delete,
            messages::OffsetDeleteRequest,
            group_context
        ),
        api_in!(
            DescribeUserScramCredentials,
            describe_user_scram_credentials,
            messages::DescribeUserScramCredentialsRequest,
            scram_context
        ),
        api_in!(
            AlterUserScramCredentials,
            alter_user_scram_credentials,
            messages::AlterUserScramCredentialsRequest,
            scram_context
        ),
        api_in!(
            DescribeCluster,
            describe_cluster,
            messages::DescribeClusterRequest,
            cluster_info_context
        ),
        api_in!(
            DescribeProducers,
            describe_producers,
            messages::DescribeProducersRequest,
            data_context
        ),
        api_in!(
            DescribeTransactions,
            describe_transactions,
            messages::DescribeTransactionsRequest,
            txn_context
        ),
        api_in!(
            ListTransactions,
            list_transactions,
            messages::ListTransactionsRequest,
            txn_context
        ),
        api_in!(
            ConsumerGroupHeartbeat,
            consumer_group_heartbeat,
            messages::ConsumerGroupHeartbeatRequest,
            group_context
        ),
        api_in!(
            ConsumerGroupDescribe,
            consumer_group_describe,
            messages::ConsumerGroupDescribeRequest,
            group_context
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
        assert!(lookup(ApiKey::Vote).is_none());
    }
}
