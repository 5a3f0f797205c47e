//! TLS listeners: SSL with and without client certificates, SASL_SSL with
//! SCRAM, and clients that speak plaintext or garbage to a TLS port.

#![allow(clippy::unwrap_used)]

mod common;

use common::certs::TestPki;
use common::sasl::scram;
use common::TestClient;
use durian_broker::{Broker, BrokerError, ClientAuth, ScramMechanism, SecurityProtocol};
use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};

async fn served(client: &mut TestClient) {
    let metadata = client
        .call(&MetadataRequest::default().with_topics(None), 12)
        .await;
    assert_eq!(metadata.brokers.len(), 1);
}

#[tokio::test]
async fn ssl_serves_kafka_over_tls_and_survives_non_tls_clients() {
    let pki = TestPki::new();
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .tls(&pki.server_cert, &pki.server_key)
        .start()
        .await
        .unwrap();
    let stream = pki.connect(broker.local_addr(), None).await.unwrap();
    let mut client = TestClient::over(stream);
    served(&mut client).await;

    // Plaintext Kafka and garbage on the TLS port: closed, nothing else.
    let mut plaintext = TestClient::connect(broker.local_addr()).await;
    plaintext.send(&ApiVersionsRequest::default(), 3).await;
    assert!(plaintext.is_closed_after_anything().await);
    let mut garbage = TestClient::connect(broker.local_addr()).await;
    garbage.send_raw(&[0xde; 64]).await;
    assert!(garbage.is_closed_after_anything().await);
    served(&mut client).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn mtls_requires_a_certificate_from_the_ca() {
    let pki = TestPki::new();
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .tls(&pki.server_cert, &pki.server_key)
        .ssl_client_auth(ClientAuth::Required, &pki.ca_file)
        .start()
        .await
        .unwrap();
    let alice = pki.client("alice");
    let stream = pki
        .connect(broker.local_addr(), Some(&alice))
        .await
        .unwrap();
    let mut client = TestClient::over(stream);
    served(&mut client).await;

    // Without a certificate the handshake fails (TLS 1.3 reports it on
    // the first read, so a request may still be written).
    match pki.connect(broker.local_addr(), None).await {
        Err(_) => {}
        Ok(stream) => {
            let mut anonymous = TestClient::over(stream);
            anonymous.send_raw(&[0, 0, 0, 0]).await;
            assert!(anonymous.is_closed_after_anything().await);
        }
    }
    // A certificate from another CA is refused too.
    let other = TestPki::new();
    let mallory = other.client("mallory");
    match pki.connect(broker.local_addr(), Some(&mallory)).await {
        Err(_) => {}
        Ok(stream) => {
            let mut stranger = TestClient::over(stream);
            stranger.send_raw(&[0, 0, 0, 0]).await;
            assert!(stranger.is_closed_after_anything().await);
        }
    }
    served(&mut client).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn sasl_ssl_with_scram_and_a_plaintext_listener_side_by_side() {
    let pki = TestPki::new();
    let broker = Broker::builder()
        .temporary()
        .add_listener(SecurityProtocol::Plaintext, "127.0.0.1:0")
        .add_listener(SecurityProtocol::SaslSsl, "127.0.0.1:0")
        .tls(&pki.server_cert, &pki.server_key)
        .sasl_scram_user(ScramMechanism::Sha512, "bob", "bob-secret")
        .start()
        .await
        .unwrap();
    let secure = broker.listener_addr("SASL_SSL").unwrap();
    let stream = pki.connect(secure, None).await.unwrap();
    let mut client = TestClient::over(stream);
    assert_eq!(
        scram(&mut client, ScramMechanism::Sha512, "bob", "bob-secret").await,
        0
    );
    // Metadata on each listener advertises that listener's own address.
    let metadata = client
        .call(&MetadataRequest::default().with_topics(None), 12)
        .await;
    assert_eq!(metadata.brokers[0].port, i32::from(secure.port()));
    let plain = broker.listener_addr("PLAINTEXT").unwrap();
    assert_eq!(
        broker.local_addr(),
        plain,
        "the first listener is the primary"
    );
    let mut client = TestClient::connect(plain).await;
    let metadata = client
        .call(&MetadataRequest::default().with_topics(None), 12)
        .await;
    assert_eq!(metadata.brokers[0].port, i32::from(plain.port()));

    let stream = pki.connect(secure, None).await.unwrap();
    let mut client = TestClient::over(stream);
    assert_eq!(
        scram(&mut client, ScramMechanism::Sha512, "bob", "wrong").await,
        58
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn tls_settings_that_cannot_work_fail_the_start() {
    let pki = TestPki::new();
    // SSL listener without a certificate.
    let missing = Broker::builder()
        .temporary()
        .add_listener(SecurityProtocol::Ssl, "127.0.0.1:0")
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, BrokerError::Config(why) if why.contains("no TLS certificate")),
        "{missing}"
    );
    // A key file that is not a key.
    let broken = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .tls(&pki.server_cert, &pki.ca_file)
        .start()
        .await
        .unwrap_err();
    assert!(matches!(broken, BrokerError::Config(_)), "{broken}");
    // Requested client auth without a CA file is not possible through
    // ssl_client_auth; a missing CA path is reported by the start.
    let no_ca = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .tls(&pki.server_cert, &pki.server_key)
        .ssl_client_auth(ClientAuth::Requested, pki.dir().join("missing.pem"))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(no_ca, BrokerError::Config(_)), "{no_ca}");
}
