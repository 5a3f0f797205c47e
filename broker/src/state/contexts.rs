//! The narrow views handlers get of the state: each context borrows just
//! the parts its APIs use, so a handler cannot reach past its concern (a
//! Fetch cannot touch groups, a group API cannot touch logs).

use super::BrokerState;
use crate::handlers::{
    ClusterInfoContext, DataContext, GroupContext, ProducerIdContext, TopicAdminContext,
};

impl BrokerState {
    /// For Produce, Fetch, ListOffsets, DeleteRecords and OffsetForLeaderEpoch.
    pub fn data_context(&self) -> DataContext<'_> {
        DataContext::new(
            &self.catalog,
            &self.logs,
            &self.topology,
            &self.appends,
            &self.shutdown,
            self.topics(),
        )
    }

    /// For CreateTopics, DeleteTopics, CreatePartitions and the config APIs.
    pub fn topic_admin_context(&self) -> TopicAdminContext<'_> {
        TopicAdminContext::new(&self.config, self.topics(), &self.catalog, &self.topology)
    }

    /// For Metadata, DescribeCluster and FindCoordinator.
    pub fn cluster_info_context(&self) -> ClusterInfoContext<'_> {
        ClusterInfoContext::new(
            &self.node.cluster_id,
            &self.catalog,
            &self.topology,
            self.topics(),
        )
    }

    /// For the group APIs.
    pub fn group_context(&self) -> GroupContext<'_> {
        GroupContext::new(&self.groups, &self.topology)
    }

    /// For InitProducerId.
    pub fn producer_id_context(&self) -> ProducerIdContext<'_> {
        ProducerIdContext::new(&self.producer_ids, &self.topology)
    }
}
