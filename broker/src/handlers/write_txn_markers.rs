//! WriteTxnMarkers (key 27), version 1.
//!
//! Writes COMMIT or ABORT markers straight to partitions this node leads.
//! In Kafka the coordinator sends it to partition leaders; durian's
//! coordinator writes its markers in-process, so the request comes from
//! an admin aborting a hanging transaction (KIP-664, `kafka-transactions
//! abort`). Each partition answers on its own: UNKNOWN_TOPIC_OR_PARTITION,
//! NOT_LEADER_OR_FOLLOWER, or the storage engine's refusal of the marker
//! (for example a stale producer epoch or coordinator epoch).
//!
//! Checks, as Kafka: CLUSTER_ACTION on the cluster, else every partition
//! gets CLUSTER_AUTHORIZATION_FAILED.

use std::sync::Arc;

use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{versions, RequestContext, TxnContext};
use crate::txn::TxnMarker;

/// Versions served.
pub const VERSIONS: VersionRange = versions(1, 1);

/// One partition's marker to write, or the error it already has.
struct Planned {
    topic: String,
    partition: i32,
    marker: TxnMarker,
    error: Option<i16>,
}

/// Answers WriteTxnMarkers.
pub async fn handle(
    txn: &TxnContext<'_>,
    request: WriteTxnMarkersRequest,
    ctx: &RequestContext,
) -> WriteTxnMarkersResponse {
    let allowed = txn.access(ctx).cluster(AclOperation::ClusterAction);
    let mut planned = Vec::new();
    for m in &request.markers {
        let marker = TxnMarker {
            producer_id: m.producer_id.0,
            producer_epoch: m.producer_epoch,
            commit: m.transaction_result,
            coordinator_epoch: m.coordinator_epoch,
        };
        for topic in &m.topics {
            let name = topic.name.0.to_string();
            for &partition in &topic.partition_indexes {
                let error = if !allowed {
                    Some(ResponseError::ClusterAuthorizationFailed.code())
                } else if !txn.partition_exists(&name, partition) {
                    Some(ResponseError::UnknownTopicOrPartition.code())
                } else {
                    txn.check_leader(&name, partition, ctx.node_id)
                        .err()
                        .map(|e| e.code())
                };
                planned.push(Planned {
                    topic: name.clone(),
                    partition,
                    marker,
                    error,
                });
            }
        }
    }
    // Marker appends may wait on the disk: off the runtime's workers.
    let coordinator = Arc::clone(txn.transactions);
    let codes: Vec<i16> = tokio::task::spawn_blocking(move || {
        planned
            .into_iter()
            .map(|p| match p.error {
                Some(code) => code,
                None => match coordinator.write_marker(&p.topic, p.partition, p.marker) {
                    Ok(()) => 0,
                    Err(e) => {
                        tracing::debug!(error = %e, "WriteTxnMarkers refused");
                        e.code
                    }
                },
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    let mut codes = codes.into_iter();
    let markers =
        request
            .markers
            .iter()
            .map(|m| {
                let topics =
                    m.topics
                        .iter()
                        .map(|t| {
                            let partitions =
                                t.partition_indexes
                                    .iter()
                                    .map(|&p| {
                                        WritableTxnMarkerPartitionResult::default()
                                            .with_partition_index(p)
                                            .with_error_code(codes.next().unwrap_or(
                                                ResponseError::UnknownServerError.code(),
                                            ))
                                    })
                                    .collect();
                            WritableTxnMarkerTopicResult::default()
                                .with_name(t.name.clone())
                                .with_partitions(partitions)
                        })
                        .collect();
                WritableTxnMarkerResult::default()
                    .with_producer_id(m.producer_id)
                    .with_topics(topics)
            })
            .collect();
    WriteTxnMarkersResponse::default().with_markers(markers)
}
