//! Resource limits: a hostile or careless client gets a clear error or a
//! closed connection, and never makes the broker reserve memory, files or
//! time without bound. Memory claims are checked on the broker's own
//! accounting ([`durian_broker::BrokerHandle::resource_usage`]), never by
//! timing.

#![allow(clippy::unwrap_used)]

mod common;

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{CreateTopicsRequest, IncrementalAlterConfigsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use common::{start_broker, TestClient};

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

async fn create_topic(
    client: &mut TestClient,
    name: &str,
    configs: &[(&str, &str)],
) -> (i16, String) {
    let topic = CreatableTopic::default()
        .with_name(TopicName(text(name)))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(text(k))
                        .with_value(Some(text(v)))
                })
                .collect(),
        );
    let request = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(1000);
    let response = client.call(&request, 5).await;
    let topic = &response.topics[0];
    (
        topic.error_code,
        topic
            .error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn max_message_bytes_is_bounded_by_the_request_limit() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let (code, message) =
        create_topic(&mut client, "huge", &[("max.message.bytes", "2147483647")]).await;
    assert_eq!(code, ResponseError::InvalidConfig.code(), "{message}");
    assert!(
        message.contains("socket.request.max.bytes=104857600"),
        "{message}"
    );

    let (code, message) = create_topic(&mut client, "fine", &[]).await;
    assert_eq!(code, 0, "{message}");
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(text("fine"))
            .with_configs(vec![AlterableConfig::default()
                .with_name(text("max.message.bytes"))
                .with_config_operation(0)
                .with_value(Some(text("2147483647")))]),
    ]);
    let response = client.call(&request, 1).await;
    let answer = &response.responses[0];
    let message = answer
        .error_message
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default();
    assert_eq!(
        answer.error_code,
        ResponseError::InvalidConfig.code(),
        "{message}"
    );
    assert!(message.contains("socket.request.max.bytes"), "{message}");
    broker.shutdown().await.unwrap();
}
