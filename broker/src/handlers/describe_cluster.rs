//! DescribeCluster (key 60), versions 0–2.
//!
//! Reports the cluster id, this node as controller and the one broker.
//! Authorized operations are not computed (no ACLs); no broker is fenced.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::VersionRange;

use super::{text, versions};
use crate::state::BrokerState;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 2);

/// Answers DescribeCluster.
pub async fn handle(
    state: &BrokerState,
    request: DescribeClusterRequest,
    version: i16,
) -> DescribeClusterResponse {
    let node = &state.node;
    let broker = DescribeClusterBroker::default()
        .with_broker_id(BrokerId(node.node_id))
        .with_host(text(node.host.clone()))
        .with_port(node.port);
    let response = DescribeClusterResponse::default()
        .with_error_message(None)
        .with_cluster_id(text(node.cluster_id.clone()))
        .with_controller_id(BrokerId(node.node_id))
        .with_brokers(vec![broker]);
    if version >= 1 {
        response.with_endpoint_type(request.endpoint_type)
    } else {
        response
    }
}
