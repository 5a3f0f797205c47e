//! Describing the cluster: id, controller and brokers.
//!
//! DescribeCluster (KIP-700) is asked first; a broker that does not offer
//! it is asked for a Metadata response without topics, which carries the
//! same facts.

use durian_core::{Error, Result, Target};
use kafka_protocol::messages::{
    DescribeClusterRequest, DescribeClusterResponse, MetadataRequest, MetadataResponse,
};

use crate::routing::{check, send_versioned};
use crate::types::{BrokerNode, ClusterDescription};
use crate::Admin;

/// The cluster description in a DescribeCluster response.
pub(crate) fn parse_describe_cluster(
    response: &DescribeClusterResponse,
) -> Result<ClusterDescription> {
    check(response.error_code, response.error_message.as_ref())?;
    let mut brokers: Vec<BrokerNode> = response
        .brokers
        .iter()
        .map(|b| BrokerNode {
            node_id: b.broker_id.0,
            host: b.host.to_string(),
            port: b.port,
            rack: b.rack.as_ref().map(|r| r.to_string()),
        })
        .collect();
    brokers.sort_by_key(|b| b.node_id);
    Ok(ClusterDescription {
        cluster_id: Some(response.cluster_id.to_string()),
        controller_id: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
        brokers,
    })
}

/// The cluster description in a Metadata response.
pub(crate) fn cluster_from_metadata(response: &MetadataResponse) -> ClusterDescription {
    let mut brokers: Vec<BrokerNode> = response
        .brokers
        .iter()
        .map(|b| BrokerNode {
            node_id: b.node_id.0,
            host: b.host.to_string(),
            port: b.port,
            rack: b.rack.as_ref().map(|r| r.to_string()),
        })
        .collect();
    brokers.sort_by_key(|b| b.node_id);
    ClusterDescription {
        cluster_id: response.cluster_id.as_ref().map(|c| c.to_string()),
        controller_id: (response.controller_id.0 >= 0).then_some(response.controller_id.0),
        brokers,
    }
}

impl Admin {
    /// Describes the cluster: its id, the controller and every broker.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "describe_cluster"))]
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        self.retrying(|| self.describe_cluster_once()).await
    }

    async fn describe_cluster_once(&self) -> Result<ClusterDescription> {
        let sent = send_versioned(&self.client, &Target::Any, |_| {
            Ok(DescribeClusterRequest::default())
        })
        .await;
        match sent {
            Ok((_, response)) => parse_describe_cluster(&response),
            Err(Error::UnsupportedVersion { .. }) => {
                let request = MetadataRequest::default().with_topics(Some(Vec::new()));
                let (_, response) =
                    send_versioned(&self.client, &Target::Any, |_| Ok(request)).await?;
                Ok(cluster_from_metadata(&response))
            }
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use durian_core::KafkaCode;
    use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
    use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
    use kafka_protocol::messages::BrokerId;
    use kafka_protocol::protocol::StrBytes;

    #[test]
    fn describe_cluster_sorts_brokers_and_reports_errors() {
        let response = DescribeClusterResponse::default()
            .with_cluster_id(StrBytes::from_static_str("c1"))
            .with_controller_id(BrokerId(2))
            .with_brokers(vec![
                DescribeClusterBroker::default()
                    .with_broker_id(BrokerId(2))
                    .with_host(StrBytes::from_static_str("h2")),
                DescribeClusterBroker::default()
                    .with_broker_id(BrokerId(1))
                    .with_host(StrBytes::from_static_str("h1"))
                    .with_port(9092),
            ]);
        let cluster = parse_describe_cluster(&response).unwrap();
        assert_eq!(cluster.cluster_id.as_deref(), Some("c1"));
        assert_eq!(cluster.controller_id, Some(2));
        assert_eq!(cluster.brokers[0].host, "h1");
        let failed = DescribeClusterResponse::default().with_error_code(31);
        let err = parse_describe_cluster(&failed).unwrap_err();
        assert_eq!(
            err.kafka_code(),
            Some(KafkaCode::CLUSTER_AUTHORIZATION_FAILED)
        );
    }

    #[test]
    fn metadata_fallback_without_controller() {
        let response = MetadataResponse::default()
            .with_controller_id(BrokerId(-1))
            .with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(BrokerId(7))
                .with_host(StrBytes::from_static_str("h"))]);
        let cluster = cluster_from_metadata(&response);
        assert_eq!(cluster.controller_id, None);
        assert_eq!(cluster.brokers[0].node_id, 7);
        assert_eq!(cluster.cluster_id, None);
    }
}
