//! Topic names that differ only by `.` versus `_` collide, as in Kafka.

#![allow(clippy::unwrap_used)]

mod common;

use common::{start_broker, TestClient};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{CreateTopicsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

const INVALID_TOPIC_EXCEPTION: i16 = 17;

async fn create(client: &mut TestClient, topic: &str) -> (i16, Option<String>) {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_num_partitions(1)
            .with_replication_factor(-1)]);
    let response = client.call(&request, 7).await;
    let topic = &response.topics[0];
    (
        topic.error_code,
        topic.error_message.as_ref().map(|m| m.to_string()),
    )
}

#[tokio::test]
async fn a_topic_colliding_with_an_existing_one_by_dot_and_underscore_is_refused() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    assert_eq!(create(&mut client, "a_b").await.0, 0);
    let (code, message) = create(&mut client, "a.b").await;
    assert_eq!(code, INVALID_TOPIC_EXCEPTION);
    let message = message.unwrap_or_default();
    assert!(
        message.contains("collides with existing topics: a_b"),
        "{message}"
    );
    // Names without the clash are fine, and so is the same shape elsewhere.
    assert_eq!(create(&mut client, "a-b").await.0, 0);
    assert_eq!(create(&mut client, "x.y").await.0, 0);
    broker.shutdown().await.unwrap();
}
