//! DescribeCluster (key 60), versions 0–2.
//!
//! Reports the cluster id, the controller and the running brokers (on a
//! single broker: this node).
//! No broker is fenced. Authorization: DESCRIBE on the cluster, else
//! CLUSTER_AUTHORIZATION_FAILED; the cluster's authorized-operations
//! bitfield is filled when asked for.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{text, versions, ClusterInfoContext, RequestContext};

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 2);

/// Answers DescribeCluster.
pub async fn handle(
    cluster: &ClusterInfoContext<'_>,
    request: DescribeClusterRequest,
    ctx: &RequestContext,
) -> DescribeClusterResponse {
    let access = cluster.access(ctx);
    if !access.cluster(AclOperation::Describe) {
        return DescribeClusterResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code())
            .with_error_message(Some(text("DESCRIBE on the cluster is required")));
    }
    let brokers = cluster
        .live_brokers()
        .into_iter()
        .map(|b| ctx.advertised(b))
        .map(|b| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(b.node_id))
                .with_host(text(b.host))
                .with_port(b.port)
        })
        .collect();
    let response = DescribeClusterResponse::default()
        .with_error_message(None)
        .with_cluster_id(text(cluster.cluster_id()))
        .with_controller_id(BrokerId(cluster.controller()))
        .with_brokers(brokers);
    let response = if request.include_cluster_authorized_operations {
        response.with_cluster_authorized_operations(access.cluster_operations())
    } else {
        response
    };
    if ctx.version >= 1 {
        response.with_endpoint_type(request.endpoint_type)
    } else {
        response
    }
}
