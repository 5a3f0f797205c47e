//! Named listeners: Kafka's `listeners` / `advertised.listeners` /
//! `listener.security.protocol.map`, each client told the address of the
//! listener it connected on.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestClient;
use durian_broker::{parse_listeners, Broker};
use kafka_protocol::messages::{FindCoordinatorRequest, MetadataRequest};
use kafka_protocol::protocol::StrBytes;

#[tokio::test]
async fn each_listener_advertises_its_own_address() {
    let listeners = parse_listeners(
        "PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0",
        Some("INTERNAL://broker.internal:19093"),
        Some("INTERNAL:PLAINTEXT"),
    )
    .unwrap();
    let broker = Broker::builder()
        .temporary()
        .listeners(listeners)
        .start()
        .await
        .unwrap();
    assert_eq!(broker.listeners().len(), 2);
    let external = broker.listener_addr("PLAINTEXT").unwrap();
    let internal = broker.listener_addr("INTERNAL").unwrap();
    assert_ne!(external, internal);
    assert_eq!(broker.bootstrap(), external.to_string());

    let mut client = TestClient::connect(external).await;
    let metadata = client
        .call(&MetadataRequest::default().with_topics(None), 12)
        .await;
    assert_eq!(metadata.brokers[0].host.as_str(), "127.0.0.1");
    assert_eq!(metadata.brokers[0].port, i32::from(external.port()));

    let mut client = TestClient::connect(internal).await;
    let metadata = client
        .call(&MetadataRequest::default().with_topics(None), 12)
        .await;
    assert_eq!(metadata.brokers[0].host.as_str(), "broker.internal");
    assert_eq!(metadata.brokers[0].port, 19093);
    let coordinator = client
        .call(
            &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("group")),
            3,
        )
        .await;
    assert_eq!(coordinator.host.as_str(), "broker.internal");
    assert_eq!(coordinator.port, 19093);
    broker.shutdown().await.unwrap();
}
