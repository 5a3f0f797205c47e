//! durian's own clients against durian's own broker, secured: a SASL_SSL
//! listener with SCRAM-SHA-512 users and the ACL authorizer (a listener
//! that authenticates refuses what no ACL allows), and an mTLS listener
//! whose principal is the certificate's subject. Certificates are made at
//! test time (testkit's `TestPki`).
//!
//! The admin client, logged in as the super user, creates the topic and
//! the ACLs; alice's producer and group consumer then carry records; bob,
//! without ACLs, gets typed authorization errors from his producer's send
//! and his consumer's poll within seconds, and a wrong password a typed
//! SASL error.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use durian::admin::{
    AccessControlEntry, AclBinding, AclOperation, AclPermissionType, Admin, NewTopic, PatternType,
    ResourcePattern, ResourceType,
};
use durian::broker::{Broker, BrokerHandle, ClientAuth, Principal, SecurityProtocol};
use durian::consumer::{Consumer, ConsumerError};
use durian::core::security::scram::ScramMechanism;
use durian::core::{Error, KafkaCode};
use durian::producer::{Producer, ProducerError, ProducerRecord};
use durian_testkit::kafka::pki::TestPki;

const TOPIC: &str = "orders";
const GROUP: &str = "order-readers";
const RECORDS: usize = 10;
/// How long a refusal may take to surface: the point is that nothing
/// retries until `max.block.ms` or a poll timeout.
const FAIL_FAST: Duration = Duration::from_secs(15);

type Props = Vec<(String, String)>;

fn props(pairs: &[(&str, &str)]) -> Props {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The SASL_SSL broker with admin (super user), alice and bob.
async fn sasl_ssl_broker(dir: &std::path::Path, pki: &TestPki) -> BrokerHandle {
    Broker::builder()
        .data_dir(dir.join("data"))
        .add_listener(SecurityProtocol::SaslSsl, "127.0.0.1:0")
        .tls(&pki.server.cert_file, &pki.server.key_file)
        .sasl_scram_user(ScramMechanism::Sha512, "admin", "admin-secret")
        .sasl_scram_user(ScramMechanism::Sha512, "alice", "alice-secret")
        .sasl_scram_user(ScramMechanism::Sha512, "bob", "bob-secret")
        .super_users([Principal::user("admin")])
        .start()
        .await
        .unwrap()
}

fn scram_props(broker: &BrokerHandle, pki: &TestPki, user: &str, password: &str) -> Props {
    let bootstrap = broker.listener_addr("SASL_SSL").unwrap().to_string();
    let ca = pki.ca.cert_file.display().to_string();
    props(&[
        ("bootstrap.servers", &bootstrap),
        ("security.protocol", "SASL_SSL"),
        ("ssl.ca.location", &ca),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.username", user),
        ("sasl.password", password),
    ])
}

fn allow(principal: &str, kind: ResourceType, name: &str, operation: AclOperation) -> AclBinding {
    AclBinding::new(
        ResourcePattern::new(kind, name, PatternType::Literal),
        AccessControlEntry::new(principal, "*", operation, AclPermissionType::Allow),
    )
}

/// As `properties`' principal (a super user): creates the topic and the ACLs.
async fn set_up(properties: &Props, acls: Vec<AclBinding>) {
    let admin = Admin::from_properties(properties.clone()).unwrap();
    let mut created = admin.create_topics([NewTopic::new(TOPIC, 1)]).await;
    created.remove(TOPIC).unwrap().unwrap();
    for (acl, result) in admin.create_acls(acls).await.unwrap() {
        result.unwrap_or_else(|e| panic!("{acl:?}: {e}"));
    }
}

async fn produce(tag: &str, properties: &Props) {
    let producer = Producer::from_properties(properties.clone()).unwrap();
    for n in 0..RECORDS {
        producer
            .send_and_wait(ProducerRecord::new(
                TOPIC,
                Bytes::from(format!("{tag}-{n}")),
            ))
            .await
            .unwrap_or_else(|e| panic!("{tag}: produce #{n}: {e}"));
    }
    producer.close(Duration::from_secs(10)).await.unwrap();
}

/// Reads the `tag` records back in a consumer group.
async fn consume(tag: &str, properties: &Props) {
    let mut consumer_props = properties.clone();
    consumer_props.extend(props(&[
        ("group.id", GROUP),
        ("auto.offset.reset", "earliest"),
    ]));
    let mut consumer = Consumer::from_properties(consumer_props).unwrap();
    consumer.subscribe([TOPIC]).unwrap();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen < RECORDS {
        assert!(Instant::now() < deadline, "{tag}: read {seen} of {RECORDS}");
        let batch = consumer
            .poll(Duration::from_secs(1))
            .await
            .unwrap_or_else(|e| panic!("{tag}: poll: {e}"));
        assert!(batch.errors.is_empty(), "{tag}: {:?}", batch.errors);
        for record in batch {
            assert_eq!(
                record.value.unwrap(),
                Bytes::from(format!("{tag}-{seen}")),
                "{tag}: order"
            );
            seen += 1;
        }
    }
    consumer.close().await.unwrap();
}

/// The producer's send fails within `FAIL_FAST`; its error.
async fn refused_send(case: &str, properties: &Props) -> ProducerError {
    let producer = Producer::from_properties(properties.clone()).unwrap();
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        FAIL_FAST,
        producer.send_and_wait(ProducerRecord::new(TOPIC, Bytes::from_static(b"x"))),
    )
    .await
    .unwrap_or_else(|_| panic!("{case}: the send did not fail within {FAIL_FAST:?}"));
    let error = outcome.expect_err(&format!("{case}: the send succeeded"));
    assert!(
        started.elapsed() < FAIL_FAST,
        "{case}: {:?}",
        started.elapsed()
    );
    let _ = producer.close(Duration::from_secs(1)).await;
    error
}

/// The group consumer's poll fails within `FAIL_FAST`; its error.
async fn refused_poll(case: &str, properties: &Props) -> ConsumerError {
    let mut consumer_props = properties.clone();
    consumer_props.extend(props(&[("group.id", GROUP)]));
    let mut consumer = Consumer::from_properties(consumer_props).unwrap();
    consumer.subscribe([TOPIC]).unwrap();
    tokio::time::timeout(FAIL_FAST, async {
        loop {
            match consumer.poll(Duration::from_millis(500)).await {
                Ok(batch) if batch.errors.is_empty() => {
                    assert!(batch.is_empty(), "{case}: records were read");
                }
                Ok(batch) => break batch.errors[0].1.clone(),
                Err(error) => break error,
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{case}: the poll did not fail within {FAIL_FAST:?}"))
}

#[tokio::test]
async fn scram_over_tls_with_acls_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(&dir.path().join("pki"));
    let broker = sasl_ssl_broker(dir.path(), &pki).await;
    let admin = scram_props(&broker, &pki, "admin", "admin-secret");
    let alice = scram_props(&broker, &pki, "alice", "alice-secret");
    let bob = scram_props(&broker, &pki, "bob", "bob-secret");

    set_up(
        &admin,
        vec![
            allow(
                "User:alice",
                ResourceType::Topic,
                TOPIC,
                AclOperation::Write,
            ),
            allow("User:alice", ResourceType::Topic, TOPIC, AclOperation::Read),
            allow("User:alice", ResourceType::Group, GROUP, AclOperation::Read),
        ],
    )
    .await;
    produce("alice", &alice).await;
    consume("alice", &alice).await;

    // bob authenticates but no ACL names him.
    let error = refused_send("bob's send", &bob).await;
    let ProducerError::TopicAuthorization {
        topic,
        error: cause,
    } = &error
    else {
        panic!("bob's send: {error}");
    };
    assert_eq!(topic, TOPIC);
    assert_eq!(
        cause.kafka_code(),
        Some(KafkaCode::TOPIC_AUTHORIZATION_FAILED)
    );
    let error = refused_poll("bob's poll", &bob).await;
    let ConsumerError::GroupAuthorization {
        group,
        error: cause,
    } = &error
    else {
        panic!("bob's poll: {error}");
    };
    assert_eq!(group, GROUP);
    assert_eq!(
        cause.kafka_code(),
        Some(KafkaCode::GROUP_AUTHORIZATION_FAILED)
    );

    // A wrong password is a typed SASL error, from the send as from the poll.
    let wrong = scram_props(&broker, &pki, "alice", "guess");
    let error = refused_send("wrong password", &wrong).await;
    let ProducerError::Authentication(cause) = &error else {
        panic!("wrong password: {error}");
    };
    assert!(
        matches!(root(cause), Error::SaslAuthentication { mechanism, .. } if *mechanism == "SCRAM-SHA-512"),
        "wrong password: {cause:?}"
    );
    let error = refused_poll("wrong password", &wrong).await;
    let ConsumerError::Client(cause) = &error else {
        panic!("wrong password: {error}");
    };
    assert!(
        matches!(root(cause), Error::SaslAuthentication { .. }),
        "{cause:?}"
    );
    broker.shutdown().await.unwrap();
}

/// Unwraps `Poisoned` and `Bootstrap` down to the error that caused them.
fn root(error: &Error) -> &Error {
    match error {
        Error::Poisoned(cause) => root(cause),
        Error::Bootstrap { last_error, .. } => root(last_error),
        other => other,
    }
}

#[tokio::test]
async fn mtls_principal_is_the_certificate_subject() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(&dir.path().join("pki"));
    let broker = Broker::builder()
        .data_dir(dir.path().join("data"))
        .listen("127.0.0.1:0")
        .tls(&pki.server.cert_file, &pki.server.key_file)
        .ssl_client_auth(ClientAuth::Required, &pki.ca.cert_file)
        .super_users([Principal::parse("User:CN=durian-client").unwrap()])
        .start()
        .await
        .unwrap();
    let bootstrap = broker.local_addr().to_string();
    let ca = pki.ca.cert_file.display().to_string();
    let cert = pki.client.cert_file.display().to_string();
    let key = pki.client.key_file.display().to_string();
    let client = props(&[
        ("bootstrap.servers", &bootstrap),
        ("security.protocol", "SSL"),
        ("ssl.ca.location", &ca),
        ("ssl.certificate.location", &cert),
        ("ssl.key.location", &key),
    ]);
    // Only the super user may create topics and groups here: passing
    // proves the broker saw `User:CN=durian-client`.
    set_up(&client, Vec::new()).await;
    produce("mtls", &client).await;
    consume("mtls", &client).await;
    broker.shutdown().await.unwrap();
}
