//! Adding partitions to existing topics (CreatePartitions, sent to the
//! controller). Partitions can only be added, never removed; records keep
//! their partition, so keyed data spreads differently afterwards.

use std::collections::BTreeMap;

use durian_core::{Result, Target};
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use crate::routing::{check, fail_all, per_item, send_versioned};
use crate::topics::topic_name;
use crate::types::{missing, ItemResults};
use crate::Admin;

/// A CreatePartitions request raising each topic to its new total count.
pub(crate) fn create_partitions_request(
    totals: &[(String, i32)],
    timeout_ms: i32,
    validate_only: bool,
) -> CreatePartitionsRequest {
    let topics = totals
        .iter()
        .map(|(name, count)| {
            CreatePartitionsTopic::default()
                .with_name(topic_name(name))
                .with_count(*count)
                .with_assignments(None)
        })
        .collect();
    CreatePartitionsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(timeout_ms)
        .with_validate_only(validate_only)
}

/// One result per asked-for topic from a CreatePartitions response.
pub(crate) fn parse_create_partitions(
    response: &CreatePartitionsResponse,
    names: &[String],
) -> Vec<(String, Result<()>)> {
    names
        .iter()
        .map(|name| {
            let found = response.results.iter().find(|r| r.name.0.as_str() == name);
            let result = match found {
                None => Err(missing(format_args!("topic `{name}`"))),
                Some(topic) => check(topic.error_code, topic.error_message.as_ref()),
            };
            (name.clone(), result)
        })
        .collect()
}

impl Admin {
    /// Raises each topic's partition count to the given total; one result
    /// per topic (`INVALID_PARTITIONS` when the total is not larger).
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "create_partitions"))]
    pub async fn create_partitions(
        &self,
        new_totals: impl IntoIterator<Item = (String, i32)>,
    ) -> ItemResults<String, ()> {
        let totals: BTreeMap<String, i32> = new_totals.into_iter().collect();
        let names: Vec<String> = totals.keys().cloned().collect();
        let timeout = self.broker_timeout_ms();
        per_item(&self.client, &self.retry_settings(), names, |names| {
            let pending: Vec<(String, i32)> = names
                .iter()
                .filter_map(|n| totals.get(n).map(|count| (n.clone(), *count)))
                .collect();
            let request = create_partitions_request(&pending, timeout, false);
            async move {
                let sent = send_versioned(&self.client, &Target::Controller, |_| Ok(request)).await;
                match sent {
                    Ok((_, response)) => parse_create_partitions(&response, &names),
                    Err(error) => fail_all(&names, &error),
                }
            }
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use durian_core::KafkaCode;
    use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;

    #[test]
    fn request_and_response_map_topics_one_to_one() {
        let request = create_partitions_request(&[("a".into(), 4), ("b".into(), 2)], 50, false);
        assert_eq!(request.topics[0].count, 4);
        assert!(request.topics[1].assignments.is_none());
        let response = CreatePartitionsResponse::default().with_results(vec![
            CreatePartitionsTopicResult::default().with_name(topic_name("a")),
            CreatePartitionsTopicResult::default()
                .with_name(topic_name("b"))
                .with_error_code(37),
        ]);
        let results = parse_create_partitions(&response, &["a".into(), "b".into()]);
        assert!(results[0].1.is_ok());
        assert_eq!(
            results[1].1.as_ref().unwrap_err().kafka_code(),
            Some(KafkaCode::INVALID_PARTITIONS)
        );
    }
}
