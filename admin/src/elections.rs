//! Leader elections (ElectLeaders, sent to the controller): moving
//! leadership back to each partition's preferred replica, or electing an
//! out-of-sync replica when no in-sync one is left.

use std::collections::BTreeMap;

use durian_core::{Result, Target, TopicPartition};
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};

use crate::routing::{check, send_versioned};
use crate::topics::topic_name;
use crate::types::{missing, ItemResults};
use crate::Admin;

/// Which leader an election picks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ElectionType {
    /// The preferred replica (the first of the replica list), if it is in
    /// sync; the partition's answer is ELECTION_NOT_NEEDED when it already
    /// leads.
    Preferred,
    /// Any live replica, in sync or not, for a partition without a leader:
    /// records the chosen replica lacks are lost.
    Unclean,
}

impl ElectionType {
    /// The `election_type` value of the request.
    fn code(self) -> i8 {
        match self {
            ElectionType::Preferred => 0,
            ElectionType::Unclean => 1,
        }
    }
}

/// The ElectLeaders request for `partitions` (`None`: every partition).
pub(crate) fn elect_leaders_request(
    election_type: ElectionType,
    partitions: Option<&[TopicPartition]>,
    timeout_ms: i32,
) -> ElectLeadersRequest {
    let topic_partitions = partitions.map(|partitions| {
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in partitions {
            by_topic.entry(tp.topic()).or_default().push(tp.partition);
        }
        by_topic
            .into_iter()
            .map(|(topic, partitions)| {
                TopicPartitions::default()
                    .with_topic(topic_name(topic))
                    .with_partitions(partitions)
            })
            .collect()
    });
    ElectLeadersRequest::default()
        .with_election_type(election_type.code())
        .with_topic_partitions(topic_partitions)
        .with_timeout_ms(timeout_ms)
}

/// One result per partition of the response; with `asked`, exactly those
/// partitions (one the answer leaves out is an error).
pub(crate) fn parse_elect_leaders(
    response: &ElectLeadersResponse,
    asked: Option<&[TopicPartition]>,
) -> Result<ItemResults<TopicPartition, ()>> {
    check(response.error_code, None)?;
    let mut results: ItemResults<TopicPartition, ()> = response
        .replica_election_results
        .iter()
        .flat_map(|topic| {
            topic.partition_result.iter().map(|p| {
                (
                    TopicPartition::new(topic.topic.0.as_str(), p.partition_id),
                    check(p.error_code, p.error_message.as_ref()),
                )
            })
        })
        .collect();
    if let Some(asked) = asked {
        for tp in asked {
            results
                .entry(tp.clone())
                .or_insert_with(|| Err(missing(format_args!("partition {tp}"))));
        }
    }
    Ok(results)
}

impl Admin {
    /// Elects leaders for `partitions` (`None`: every partition of the
    /// cluster) with ElectLeaders, sent to the controller as Kafka's admin
    /// client sends it; one result per partition. A preferred election
    /// where the preferred replica already leads answers that partition
    /// with ELECTION_NOT_NEEDED, as Kafka does. The whole call fails when
    /// the request does (a broker that does not serve ElectLeaders, such
    /// as durian's own, fails it with an unsupported-version error).
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "elect_leaders"))]
    pub async fn elect_leaders(
        &self,
        election_type: ElectionType,
        partitions: Option<Vec<TopicPartition>>,
    ) -> Result<ItemResults<TopicPartition, ()>> {
        let timeout = self.broker_timeout_ms();
        let asked = partitions.as_deref();
        self.retrying(|| async {
            let request = elect_leaders_request(election_type, asked, timeout);
            let (_, response) =
                send_versioned(&self.client, &Target::Controller, |_| Ok(request)).await?;
            parse_elect_leaders(&response, asked)
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use durian_core::KafkaCode;
    use kafka_protocol::messages::elect_leaders_response::{
        PartitionResult, ReplicaElectionResult,
    };

    #[test]
    fn partitions_are_grouped_by_topic_and_none_means_all() {
        let asked = [
            TopicPartition::new("b", 1),
            TopicPartition::new("a", 0),
            TopicPartition::new("b", 0),
        ];
        let request = elect_leaders_request(ElectionType::Unclean, Some(&asked), 50);
        assert_eq!(request.election_type, 1);
        let topics = request.topic_partitions.unwrap();
        assert_eq!(topics.len(), 2);
        assert_eq!(topics[1].topic.0.as_str(), "b");
        assert_eq!(topics[1].partitions, [1, 0]);
        let all = elect_leaders_request(ElectionType::Preferred, None, 50);
        assert_eq!(all.election_type, 0);
        assert!(all.topic_partitions.is_none());
    }

    #[test]
    fn results_are_typed_per_partition_and_missing_ones_are_errors() {
        let response = ElectLeadersResponse::default().with_replica_election_results(vec![
            ReplicaElectionResult::default()
                .with_topic(topic_name("a"))
                .with_partition_result(vec![
                    PartitionResult::default().with_partition_id(0),
                    PartitionResult::default()
                        .with_partition_id(1)
                        .with_error_code(84),
                ]),
        ]);
        let asked = [
            TopicPartition::new("a", 0),
            TopicPartition::new("a", 1),
            TopicPartition::new("a", 2),
        ];
        let results = parse_elect_leaders(&response, Some(&asked)).unwrap();
        assert_eq!(results.len(), 3);
        assert!(results[&asked[0]].is_ok());
        assert_eq!(
            results[&asked[1]].as_ref().unwrap_err().kafka_code(),
            Some(KafkaCode::ELECTION_NOT_NEEDED)
        );
        assert!(results[&asked[2]].is_err());
        let failed = ElectLeadersResponse::default().with_error_code(31);
        assert_eq!(
            parse_elect_leaders(&failed, None).unwrap_err().kafka_code(),
            Some(KafkaCode::CLUSTER_AUTHORIZATION_FAILED)
        );
    }
}
