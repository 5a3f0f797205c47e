//! Topic creation and produce over a [`TestClient`], for the tests that
//! drive the broker request by request.

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{CreateTopicsRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::{batch, TestClient};

/// `topic` as the protocol's topic name.
pub fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

/// Creates `topic` with `partitions` (CreateTopics v7) and returns its id.
pub async fn create_topic(client: &mut TestClient, topic: &str, partitions: i32) -> Uuid {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(partitions)
            .with_replication_factor(-1)]);
    let response = client.call(&request, 7).await;
    assert_eq!(
        response.topics[0].error_code, 0,
        "{:?}",
        response.topics[0].error_message
    );
    response.topics[0].topic_id
}

/// Produces one batch of `values` to `topic`-`partition` with acks=all
/// (Produce v9) and checks it was appended.
pub async fn produce(client: &mut TestClient, topic: &str, partition: i32, values: &[&str]) {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(batch(values)))])]);
    let response = client.call(&request, 9).await;
    assert_eq!(response.responses[0].partition_responses[0].error_code, 0);
}
