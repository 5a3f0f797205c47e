//! The narrow views handlers get of the state: each context borrows just
//! the parts its APIs use, so a handler cannot reach past its concern (a
//! Fetch cannot touch groups, a group API cannot touch logs).

use super::BrokerState;
use crate::handlers::{
    AclContext, ClusterInfoContext, DataContext, DataLimits, GroupContext, ProducerIdContext,
    ScramContext, TopicAdminContext, TxnContext,
};

impl BrokerState {
    /// For Produce, Fetch, ListOffsets, DeleteRecords and OffsetForLeaderEpoch.
    pub fn data_context(&self) -> DataContext<'_> {
        DataContext::new(
            &self.authorizer,
            &self.catalog,
            &self.logs,
            &self.topology,
            &self.appends,
            &self.fetch_sessions,
            &self.shutdown,
            &self.transactions,
            self.topics(),
            DataLimits {
                max_decompressed_batch_bytes: self.config.max_decompressed_batch_bytes,
                decompression_wait: self.config.decompression_wait,
                resources: &self.resources,
            },
        )
    }

    /// For CreateTopics, DeleteTopics, CreatePartitions and the config APIs.
    pub fn topic_admin_context(&self) -> TopicAdminContext<'_> {
        TopicAdminContext::new(
            &self.authorizer,
            &self.config,
            self.topics(),
            &self.catalog,
            &self.topology,
        )
    }

    /// For Metadata, DescribeCluster and FindCoordinator.
    pub fn cluster_info_context(&self) -> ClusterInfoContext<'_> {
        ClusterInfoContext::new(
            &self.authorizer,
            &self.node.cluster_id,
            &self.catalog,
            &self.topology,
            self.topics(),
        )
    }

    /// For the group APIs.
    pub fn group_context(&self) -> GroupContext<'_> {
        GroupContext::new(
            &self.authorizer,
            &self.groups,
            &self.topology,
            &self.catalog,
        )
    }

    /// For InitProducerId.
    pub fn producer_id_context(&self) -> ProducerIdContext<'_> {
        ProducerIdContext::new(
            &self.authorizer,
            &self.producer_ids,
            &self.transactions,
            &self.topology,
        )
    }

    /// For the transaction APIs other than InitProducerId.
    pub fn txn_context(&self) -> TxnContext<'_> {
        TxnContext::new(
            &self.authorizer,
            &self.transactions,
            &self.catalog,
            &self.topology,
        )
    }

    /// For CreateAcls, DescribeAcls and DeleteAcls.
    pub fn acl_context(&self) -> AclContext<'_> {
        AclContext::new(&self.authorizer)
    }

    /// For DescribeUserScramCredentials and AlterUserScramCredentials.
    pub fn scram_context(&self) -> ScramContext<'_> {
        ScramContext::new(&self.authorizer, &self.scram)
    }
}
