//! durian-core against Tansu, an independent Kafka-protocol broker.
//!
//! The broker binary comes from `DURIAN_TANSU_BIN`, else
//! `<repo>/.peers/bin/tansu` (installed by scripts/install-peers.sh). When it
//! is missing the tests are skipped with a message, unless
//! `DURIAN_REQUIRE_PEERS=1`, in which case they fail.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

use durian_testkit::Tansu;
use std::time::Duration;

use durian_core::backoff::Backoff;
use durian_core::retry::{retry, AttemptError};
use durian_core::{Client, ClientConfig, Error, KafkaError, Target, TrafficClass};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, CreateTopicsRequest, MetadataRequest, TopicName,
};
use kafka_protocol::protocol::{Message, StrBytes};
use tokio::time::Instant;

fn client_for(tansu: &Tansu) -> Client {
    let config = ClientConfig::builder()
        .bootstrap_servers([tansu.bootstrap()])
        .request_timeout(Duration::from_secs(10))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    Client::new(config).unwrap()
}

async fn create_topic(client: &Client, name: &str, partitions: i32) {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.to_owned())))
            .with_num_partitions(partitions)
            .with_replication_factor(1)]);
    let response = client.send(Target::Controller, request).await.unwrap();
    assert_eq!(response.topics.len(), 1);
    let topic = &response.topics[0];
    KafkaError::check(topic.error_code, topic.error_message.as_deref()).unwrap();
}

/// Refreshes until every partition of `topic` has a leader, or 20 s pass.
async fn wait_for_leaders(client: &Client, topic: &str, partitions: i32) {
    client.add_topics([topic]);
    let mut backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(500));
    let deadline = Instant::now() + Duration::from_secs(20);
    retry(deadline, &mut backoff, || async {
        let metadata = client.refresh_metadata("waiting for leaders").await?;
        let leaders = (0..partitions)
            .filter(|p| metadata.partition_leader(topic, *p).is_some())
            .count();
        if leaders == partitions as usize {
            Ok(())
        } else {
            Err(AttemptError::from(Error::Kafka(KafkaError {
                code: durian_core::KafkaCode::LEADER_NOT_AVAILABLE,
                message: Some(format!(
                    "{leaders} of {partitions} partitions have a leader"
                )),
            })))
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn api_versions_are_negotiated() {
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let client = client_for(&tansu);
    let connection = client
        .connection_for(&Target::Any, TrafficClass::Admin)
        .await
        .unwrap();
    assert!(!connection.versions().is_empty());
    let metadata_version = connection
        .versions()
        .negotiate(ApiKey::Metadata, MetadataRequest::VERSIONS)
        .unwrap();
    let broker_range = connection
        .versions()
        .broker_range(ApiKey::Metadata)
        .unwrap();
    assert_eq!(
        metadata_version,
        broker_range.max.min(MetadataRequest::VERSIONS.max)
    );
    let response = client
        .send(Target::Any, ApiVersionsRequest::default())
        .await
        .unwrap();
    assert_eq!(response.error_code, 0);
    assert!(response
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::Produce as i16));
}

#[tokio::test]
async fn create_topics_then_metadata_shows_leaders() {
    let Some(tansu) = Tansu::start().await else {
        return;
    };
    let client = client_for(&tansu);
    let metadata = client.refresh_metadata("test start").await.unwrap();
    assert_eq!(metadata.brokers.len(), 1);
    create_topic(&client, "durian-core-leaders", 3).await;
    wait_for_leaders(&client, "durian-core-leaders", 3).await;
    let leader = client.partition_leader("durian-core-leaders", 2).unwrap();
    assert_eq!(leader.address(), tansu.bootstrap());
    // Sending to that broker by id reaches it.
    let by_id = client
        .send(
            Target::Broker(leader.node_id),
            MetadataRequest::default().with_topics(Some(vec![])),
        )
        .await
        .unwrap();
    assert_eq!(by_id.brokers.len(), 1);
}

#[tokio::test]
async fn the_same_client_recovers_after_a_broker_restart() {
    let Some(mut tansu) = Tansu::start().await else {
        return;
    };
    let client = client_for(&tansu);
    create_topic(&client, "before-restart", 1).await;
    wait_for_leaders(&client, "before-restart", 1).await;

    tansu.stop();
    let err = client
        .send(
            Target::Any,
            MetadataRequest::default().with_topics(Some(vec![])),
        )
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "{err}");
    tansu.launch().await;

    // Memory storage forgets topics on restart; create one on the new broker
    // through the same client and see its leader.
    let mut backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(500));
    let deadline = Instant::now() + Duration::from_secs(20);
    retry(deadline, &mut backoff, || async {
        client.refresh_metadata("after restart").await?;
        Ok(())
    })
    .await
    .unwrap();
    create_topic(&client, "after-restart", 2).await;
    wait_for_leaders(&client, "after-restart", 2).await;
}
