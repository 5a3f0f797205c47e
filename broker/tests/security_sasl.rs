//! SASL on the broker: PLAIN, SCRAM and OAUTHBEARER exchanges through raw
//! protocol frames, refusals, the pre-authentication gate, the handshake
//! deadline, session expiry and SCRAM credentials that survive a restart.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::sasl::{authenticate, handshake, plain, scram};
use common::TestClient;
use durian_broker::{
    unsecured_jwt, Broker, BrokerError, BrokerHandle, ScramMechanism, SecurityProtocol,
    UnsecuredJwtValidator,
};
use kafka_protocol::messages::alter_user_scram_credentials_request::ScramCredentialUpsertion;
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, ApiVersionsRequest, DescribeUserScramCredentialsRequest,
    MetadataRequest, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::StrBytes;

const SASL_AUTHENTICATION_FAILED: i16 = 58;
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const ILLEGAL_SASL_STATE: i16 = 34;

async fn sasl_broker() -> BrokerHandle {
    Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .sasl_plain_user("alice", "alice-secret")
        .sasl_scram_user(ScramMechanism::Sha512, "bob", "bob-secret")
        .sasl_oauthbearer(Arc::new(UnsecuredJwtValidator::default()))
        .start()
        .await
        .unwrap()
}

async fn served(client: &mut TestClient) {
    let metadata = client
        .call(&MetadataRequest::default().with_topics(None), 12)
        .await;
    assert_eq!(metadata.brokers.len(), 1);
}

#[tokio::test]
async fn plain_authenticates_and_refuses_a_wrong_password() {
    let broker = sasl_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    // ApiVersions is served before authentication and lists the SASL APIs.
    let versions = client.call(&ApiVersionsRequest::default(), 3).await;
    assert!(versions.api_keys.iter().any(|k| k.api_key == 17));
    assert!(versions.api_keys.iter().any(|k| k.api_key == 36));
    let reply = plain(&mut client, "alice", "alice-secret").await;
    assert_eq!(reply.error_code, 0, "{:?}", reply.error_message);
    served(&mut client).await;

    let mut intruder = TestClient::connect(broker.local_addr()).await;
    let reply = plain(&mut intruder, "alice", "wrong").await;
    assert_eq!(reply.error_code, SASL_AUTHENTICATION_FAILED);
    assert!(
        intruder.is_closed_by_broker().await,
        "a failed login closes the connection"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn scram_sha_512_authenticates_and_refuses_bad_passwords_and_users() {
    let broker = sasl_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    assert_eq!(
        scram(&mut client, ScramMechanism::Sha512, "bob", "bob-secret").await,
        0
    );
    served(&mut client).await;
    for (user, password) in [("bob", "nope"), ("nobody", "bob-secret")] {
        let mut client = TestClient::connect(broker.local_addr()).await;
        let code = scram(&mut client, ScramMechanism::Sha512, user, password).await;
        assert_eq!(code, SASL_AUTHENTICATION_FAILED, "{user}/{password}");
        assert!(client.is_closed_by_broker().await);
    }
    // bob has no SHA-256 credential.
    let mut client = TestClient::connect(broker.local_addr()).await;
    let code = scram(&mut client, ScramMechanism::Sha256, "bob", "bob-secret").await;
    assert_eq!(code, SASL_AUTHENTICATION_FAILED);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn oauthbearer_accepts_valid_unsecured_tokens_only() {
    let broker = sasl_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    assert_eq!(handshake(&mut client, "OAUTHBEARER").await.error_code, 0);
    let token = unsecured_jwt("carol", Duration::from_secs(60));
    let reply = authenticate(
        &mut client,
        format!("n,,\u{1}auth=Bearer {token}\u{1}\u{1}").as_bytes(),
    )
    .await;
    assert_eq!(reply.error_code, 0, "{:?}", reply.error_message);
    served(&mut client).await;

    let mut client = TestClient::connect(broker.local_addr()).await;
    assert_eq!(handshake(&mut client, "OAUTHBEARER").await.error_code, 0);
    let reply = authenticate(&mut client, b"n,,\x01auth=Bearer not.a.jwt\x01\x01").await;
    assert_eq!(reply.error_code, SASL_AUTHENTICATION_FAILED);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn requests_before_authentication_close_the_connection() {
    let broker = sasl_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    client
        .send(&MetadataRequest::default().with_topics(None), 12)
        .await;
    assert!(client.is_closed_by_broker().await);

    let mut client = TestClient::connect(broker.local_addr()).await;
    let shake = handshake(&mut client, "GSSAPI").await;
    assert_eq!(shake.error_code, UNSUPPORTED_SASL_MECHANISM);
    assert!(shake
        .mechanisms
        .iter()
        .any(|m| m.as_str() == "SCRAM-SHA-512"));
    assert!(client.is_closed_by_broker().await);

    // SaslAuthenticate without a handshake.
    let mut client = TestClient::connect(broker.local_addr()).await;
    let reply = authenticate(&mut client, b"\0alice\0alice-secret").await;
    assert_eq!(reply.error_code, ILLEGAL_SASL_STATE);
    assert!(client.is_closed_by_broker().await);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn large_frames_wait_for_authentication() {
    let broker = sasl_broker().await;
    // Before authentication: at most 512 KiB (sasl.server.max.receive.size).
    let mut stranger = TestClient::connect(broker.local_addr()).await;
    stranger.send_raw(&(1024 * 1024i32).to_be_bytes()).await;
    assert!(stranger.is_closed_by_broker().await);
    // After it, socket.request.max.bytes applies: a Metadata request of
    // about 1 MiB (9,000 names of 100 characters) is answered.
    let mut client = TestClient::connect(broker.local_addr()).await;
    assert_eq!(
        plain(&mut client, "alice", "alice-secret").await.error_code,
        0
    );
    let topics = (0..9_000)
        .map(|i| {
            let name = format!("missing-topic-{i:086}");
            kafka_protocol::messages::metadata_request::MetadataRequestTopic::default().with_name(
                Some(kafka_protocol::messages::TopicName(StrBytes::from_string(
                    name,
                ))),
            )
        })
        .collect::<Vec<_>>();
    let request = MetadataRequest::default()
        .with_topics(Some(topics))
        .with_allow_auto_topic_creation(false);
    let response = client.call(&request, 12).await;
    assert_eq!(response.topics.len(), 9_000);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn v0_handshake_takes_raw_tokens() {
    let broker = sasl_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let request =
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN"));
    assert_eq!(client.call(&request, 0).await.error_code, 0);
    client.send_raw_frame(b"\0alice\0alice-secret").await;
    let reply = client.read_frame().await.expect("raw token reply");
    assert!(reply.is_empty(), "PLAIN answers with an empty token");
    served(&mut client).await;

    let mut client = TestClient::connect(broker.local_addr()).await;
    assert_eq!(client.call(&request, 0).await.error_code, 0);
    client.send_raw_frame(b"\0alice\0wrong").await;
    assert!(
        client.is_closed_by_broker().await,
        "raw failures close without an answer"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn unfinished_authentication_is_closed_at_the_deadline() {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .sasl_plain_user("alice", "alice-secret")
        .handshake_timeout(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let mut client = TestClient::connect(broker.local_addr()).await;
    assert_eq!(handshake(&mut client, "PLAIN").await.error_code, 0);
    // No SaslAuthenticate follows: the broker gives up on its own.
    assert!(client.is_closed_by_broker().await);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_expired_session_must_reauthenticate() {
    let lifetime = Duration::from_millis(300);
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .sasl_plain_user("alice", "alice-secret")
        .connections_max_reauth(lifetime)
        .start()
        .await
        .unwrap();
    // Re-authenticating before the end keeps the connection.
    let mut client = TestClient::connect(broker.local_addr()).await;
    let reply = plain(&mut client, "alice", "alice-secret").await;
    assert_eq!(reply.session_lifetime_ms, 300);
    let reply = plain(&mut client, "alice", "alice-secret").await;
    assert_eq!(reply.error_code, 0, "re-authentication (KIP-368)");
    served(&mut client).await;
    // SaslAuthenticate v0 has no lifetime field; the answer still encodes.
    let mut client = TestClient::connect(broker.local_addr()).await;
    assert_eq!(handshake(&mut client, "PLAIN").await.error_code, 0);
    let v0 = SaslAuthenticateRequest::default()
        .with_auth_bytes(b"\0alice\0alice-secret".to_vec().into());
    assert_eq!(client.call(&v0, 0).await.error_code, 0);
    served(&mut client).await;

    let mut client = TestClient::connect(broker.local_addr()).await;
    let started = tokio::time::Instant::now();
    assert_eq!(
        plain(&mut client, "alice", "alice-secret").await.error_code,
        0
    );
    // The session's end is a point in time: wait for it, then use the connection.
    tokio::time::sleep_until(started + lifetime + Duration::from_millis(50)).await;
    client
        .send(&MetadataRequest::default().with_topics(None), 12)
        .await;
    assert!(
        client.is_closed_by_broker().await,
        "expired sessions are closed"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn scram_credentials_are_managed_by_request_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        Broker::builder()
            .data_dir(dir.path())
            .add_listener(SecurityProtocol::Plaintext, "127.0.0.1:0")
            .add_listener(SecurityProtocol::SaslPlaintext, "127.0.0.1:0")
            // The anonymous PLAINTEXT admin may manage credentials: this
            // test is about the store; acl_scram.rs tests who may.
            .allow_everyone_if_no_acl_found(true)
            .start()
    };
    let broker = start().await.unwrap();
    let mut admin = TestClient::connect(broker.listener_addr("PLAINTEXT").unwrap()).await;
    let mechanism = ScramMechanism::Sha256;
    let salt = b"some-salt".to_vec();
    let salted = mechanism.salted_password(b"dave-secret", &salt, 4096);
    let upsert = ScramCredentialUpsertion::default()
        .with_name(StrBytes::from_static_str("dave"))
        .with_mechanism(mechanism.wire_type())
        .with_iterations(4096)
        .with_salt(salt.into())
        .with_salted_password(salted.into());
    let too_few = upsert
        .clone()
        .with_name(StrBytes::from_static_str("eve"))
        .with_iterations(10);
    let reply = admin
        .call(
            &AlterUserScramCredentialsRequest::default().with_upsertions(vec![upsert, too_few]),
            0,
        )
        .await;
    assert_eq!(reply.results.len(), 2);
    assert_eq!(
        reply.results[0].error_code, 0,
        "{:?}",
        reply.results[0].error_message
    );
    assert_eq!(reply.results[1].error_code, 93, "UNACCEPTABLE_CREDENTIAL");
    broker.shutdown().await.unwrap();

    let broker = start().await.unwrap();
    let mut admin = TestClient::connect(broker.listener_addr("PLAINTEXT").unwrap()).await;
    let described = admin
        .call(
            &DescribeUserScramCredentialsRequest::default().with_users(Some(vec![
                UserName::default().with_name(StrBytes::from_static_str("dave")),
                UserName::default().with_name(StrBytes::from_static_str("eve")),
            ])),
            0,
        )
        .await;
    assert_eq!(described.results[0].error_code, 0);
    assert_eq!(described.results[0].credential_infos[0].iterations, 4096);
    assert_eq!(described.results[1].error_code, 91, "RESOURCE_NOT_FOUND");
    let mut client = TestClient::connect(broker.listener_addr("SASL_PLAINTEXT").unwrap()).await;
    assert_eq!(
        scram(&mut client, mechanism, "dave", "dave-secret").await,
        0
    );
    served(&mut client).await;
    broker.shutdown().await.unwrap();
    // The store keeps keys, never the password.
    let stored = std::fs::read_to_string(dir.path().join("meta/scram_credentials.json")).unwrap();
    assert!(!stored.contains("dave-secret"));
}

#[tokio::test]
async fn unauthenticated_listeners_stay_on_loopback_unless_allowed() {
    let refused = Broker::builder()
        .temporary()
        .listen("0.0.0.0:0")
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, BrokerError::Config(why) if why.contains("allow-insecure-listener")),
        "{refused}"
    );
    let allowed = Broker::builder()
        .temporary()
        .listen("0.0.0.0:0")
        .allow_insecure_listener(true)
        .start()
        .await
        .unwrap();
    allowed.shutdown().await.unwrap();
    let sasl = Broker::builder()
        .temporary()
        .listen("0.0.0.0:0")
        .sasl_plain_user("alice", "alice-secret")
        .start()
        .await
        .unwrap();
    sasl.shutdown().await.unwrap();
}
