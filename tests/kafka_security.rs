//! durian's clients over every security protocol against Apache Kafka 4.x
//! (one KRaft node, started once, with a listener per case), with
//! certificates made at test time (testkit's `TestPki`).
//!
//! | listener | protocol | what it checks |
//! | --- | --- | --- |
//! | SECURE | SASL_SSL, SCRAM-SHA-512 + PLAIN | produce/consume with both; wrong password; mechanism not enabled; untrusted CA |
//! | MTLS | SSL, ssl.client.auth=required | produce/consume with a client certificate; none given |
//! | SASLPLAIN | SASL_PLAINTEXT, PLAIN (3 s sessions) + OAUTHBEARER | produce/consume with PLAIN and an unsecured JWT; KIP-368 renewal on one connection |
//! | WRONGHOST | SSL, certificate for another host | hostname mismatch, and `ssl.endpoint.identification.algorithm=none` |
//! | EXPIRED | SSL, expired certificate | expired certificate |
//!
//! Every failure must come back as its typed error within seconds, from
//! the producer's send, the consumer's poll and the admin-level client
//! alike. Skipped with a message without the Kafka jars, failing instead
//! under `DURIAN_REQUIRE_PEERS=1` (see testkit's `KafkaCluster`).

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use durian::consumer::{Consumer, ConsumerError, TopicPartition};
use durian::core::connection::{Connection, ConnectionSettings, Transport};
use durian::core::error::TlsFailure;
use durian::core::security::SecurityContext;
use durian::core::{Client, ClientConfig, Error, KafkaError, Target};
use durian::producer::{Producer, ProducerError, ProducerRecord};
use durian_testkit::kafka::pki::TestPki;
use durian_testkit::{KafkaCluster, KafkaOptions, Listener};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{CreateTopicsRequest, MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

const TOPIC: &str = "secured";
const RECORDS: usize = 20;
/// How long a refused connection may take to surface as its error: the
/// point is that nothing retries until a timeout.
const FAIL_FAST: Duration = Duration::from_secs(15);

fn broker_options(pki: &TestPki) -> KafkaOptions {
    let keystore =
        |issued: &durian_testkit::kafka::pki::Issued| issued.keystore_file.display().to_string();
    let mut extra: Vec<(String, String)> = Vec::new();
    let mut set = |key: &str, value: String| extra.push((key.to_owned(), value));
    for (listener, keys) in [
        ("secure", keystore(&pki.server)),
        ("mtls", keystore(&pki.server)),
        ("wronghost", keystore(&pki.wrong_host_server)),
        ("expired", keystore(&pki.expired_server)),
    ] {
        set(
            &format!("listener.name.{listener}.ssl.keystore.type"),
            "PEM".into(),
        );
        set(
            &format!("listener.name.{listener}.ssl.keystore.location"),
            keys,
        );
    }
    set("listener.name.mtls.ssl.truststore.type", "PEM".into());
    set(
        "listener.name.mtls.ssl.truststore.location",
        pki.ca.cert_file.display().to_string(),
    );
    set("listener.name.mtls.ssl.client.auth", "required".into());
    let plain_users = "org.apache.kafka.common.security.plain.PlainLoginModule required \
                       user_alice=\"alice-secret\" user_bob=\"bob-secret\";";
    set(
        "listener.name.secure.sasl.enabled.mechanisms",
        "SCRAM-SHA-512,PLAIN".into(),
    );
    set(
        "listener.name.secure.scram-sha-512.sasl.jaas.config",
        "org.apache.kafka.common.security.scram.ScramLoginModule required;".into(),
    );
    set(
        "listener.name.secure.plain.sasl.jaas.config",
        plain_users.into(),
    );
    set(
        "listener.name.saslplain.sasl.enabled.mechanisms",
        "PLAIN,OAUTHBEARER".into(),
    );
    set(
        "listener.name.saslplain.plain.sasl.jaas.config",
        plain_users.into(),
    );
    set(
        "listener.name.saslplain.oauthbearer.sasl.jaas.config",
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
         unsecuredLoginStringClaim_sub=\"broker\";"
            .into(),
    );
    set(
        "listener.name.saslplain.oauthbearer.sasl.server.callback.handler.class",
        "org.apache.kafka.common.security.oauthbearer.internals.unsecured.\
         OAuthBearerUnsecuredValidatorCallbackHandler"
            .into(),
    );
    // Sessions end after ten minutes (KIP-368): the broker then tells each
    // client its session lifetime. PLAIN sessions on SASLPLAIN last three
    // seconds, so a test can watch them being renewed.
    set("connections.max.reauth.ms", "600000".into());
    set(
        "listener.name.saslplain.plain.connections.max.reauth.ms",
        "3000".into(),
    );
    KafkaOptions {
        extra,
        listeners: vec![
            Listener::new("SECURE", "SASL_SSL"),
            Listener::new("MTLS", "SSL"),
            Listener::new("SASLPLAIN", "SASL_PLAINTEXT"),
            Listener::new("WRONGHOST", "SSL"),
            Listener::new("EXPIRED", "SSL"),
        ],
        scram_users: vec!["SCRAM-SHA-512=[name=alice,password=alice-secret]".to_owned()],
    }
}

type Props = Vec<(String, String)>;

fn props(bootstrap: &str, pairs: &[(&str, &str)]) -> Props {
    let mut all = vec![("bootstrap.servers".to_owned(), bootstrap.to_owned())];
    all.extend(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    all
}

async fn create_topic(bootstrap: &str) {
    let client = Client::connect(
        ClientConfig::builder()
            .bootstrap_servers([bootstrap])
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_num_partitions(1)
            .with_replication_factor(1)]);
    let response = client.send(Target::Controller, request).await.unwrap();
    KafkaError::check(response.topics[0].error_code, None).unwrap();
}

/// Produces `RECORDS` records tagged `tag` with `properties` and reads them
/// back with a consumer of the same properties.
async fn round_trip(tag: &str, properties: &Props) {
    let producer = Producer::from_properties(properties.clone())
        .unwrap_or_else(|e| panic!("{tag}: producer config: {e}"));
    for n in 0..RECORDS {
        let value = Bytes::from(format!("{tag}-{n}"));
        producer
            .send_and_wait(ProducerRecord::new(TOPIC, value).with_partition(0))
            .await
            .unwrap_or_else(|e| panic!("{tag}: produce #{n}: {e}"));
    }
    producer.close(Duration::from_secs(10)).await.unwrap();

    let mut consumer_props = properties.clone();
    consumer_props.push(("auto.offset.reset".into(), "earliest".into()));
    let mut consumer = Consumer::from_properties(consumer_props)
        .unwrap_or_else(|e| panic!("{tag}: consumer config: {e}"));
    consumer.assign([TopicPartition::new(TOPIC, 0)]).unwrap();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen < RECORDS {
        assert!(Instant::now() < deadline, "{tag}: read {seen} of {RECORDS}");
        let batch = consumer
            .poll(Duration::from_secs(2))
            .await
            .unwrap_or_else(|e| panic!("{tag}: poll: {e}"));
        for record in batch {
            let value = record.value.unwrap();
            if value.starts_with(format!("{tag}-").as_bytes()) {
                assert_eq!(value, Bytes::from(format!("{tag}-{seen}")), "{tag}: order");
                seen += 1;
            }
        }
    }
    consumer.close().await.unwrap();
}

/// The core error inside a producer error, if any.
fn producer_cause(error: &ProducerError) -> Option<&Error> {
    match error {
        ProducerError::Config(e)
        | ProducerError::Authentication(e)
        | ProducerError::RequestFailed { error: e, .. }
        | ProducerError::Rejected { error: e, .. } => Some(e),
        ProducerError::TopicNotFound { cause, .. } => cause.as_ref(),
        ProducerError::DeliveryTimeout { last_error, .. } => last_error.as_ref(),
        ProducerError::RetriesExhausted { last_error, .. } => Some(last_error),
        _ => None,
    }
}

/// Unwraps `Poisoned` and `Bootstrap` down to the error that caused them.
fn root(error: &Error) -> &Error {
    match error {
        Error::Poisoned(cause) => root(cause),
        Error::Bootstrap { last_error, .. } => root(last_error),
        other => other,
    }
}

/// Checks that a client with `properties` fails quickly, with an error
/// `expected` accepts, in the admin-level client, the producer and the
/// consumer.
async fn fails_fast(case: &str, properties: &Props, expected: impl Fn(&Error) -> bool) {
    let config = ClientConfig::from_properties(properties.clone())
        .unwrap_or_else(|e| panic!("{case}: config: {e}"));

    let started = Instant::now();
    let error = match Client::connect(config).await {
        Ok(client) => client
            .refresh_metadata("test")
            .await
            .expect_err(&format!("{case}: the client connected")),
        Err(error) => error,
    };
    assert!(expected(root(&error)), "{case}: client got {error}");
    assert!(!error.is_retriable(), "{case}: {error} must not be retried");
    assert!(
        started.elapsed() < FAIL_FAST,
        "{case}: took {:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let producer = Producer::from_properties(properties.clone()).unwrap();
    let outcome = tokio::time::timeout(FAIL_FAST, async {
        producer
            .send_and_wait(ProducerRecord::new(TOPIC, Bytes::from_static(b"x")))
            .await
    })
    .await
    .unwrap_or_else(|_| panic!("{case}: the producer did not fail within {FAIL_FAST:?}"));
    let error = outcome.expect_err(&format!("{case}: the producer sent"));
    let cause = producer_cause(&error).unwrap_or_else(|| panic!("{case}: producer got {error}"));
    assert!(expected(root(cause)), "{case}: producer got {error}");
    assert!(
        started.elapsed() < FAIL_FAST,
        "{case}: took {:?}",
        started.elapsed()
    );
    let _ = producer.close(Duration::from_secs(1)).await;

    let mut consumer = Consumer::from_properties(properties.clone()).unwrap();
    consumer.assign([TopicPartition::new(TOPIC, 0)]).unwrap();
    let started = Instant::now();
    let outcome: Result<(), ConsumerError> = tokio::time::timeout(FAIL_FAST, async {
        loop {
            match consumer.poll(Duration::from_secs(1)).await {
                Ok(batch) if batch.errors.is_empty() => continue,
                Ok(batch) => break Err(batch.errors[0].1.clone()),
                Err(error) => break Err(error),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{case}: the consumer did not fail within {FAIL_FAST:?}"));
    let error: ConsumerError = outcome.unwrap_err();
    let ConsumerError::Client(cause) = &error else {
        panic!("{case}: consumer got {error}");
    };
    assert!(expected(root(cause)), "{case}: consumer got {error}");
    assert!(
        started.elapsed() < FAIL_FAST,
        "{case}: took {:?}",
        started.elapsed()
    );
}

/// A connection to the first broker of `bootstrap`, secured and
/// authenticated as `properties` say.
async fn authenticated_connection(bootstrap: &str, properties: &Props) -> Connection {
    let security = ClientConfig::from_properties(properties.clone())
        .unwrap()
        .security;
    let context = SecurityContext::new(&security).unwrap();
    let address = bootstrap.split(',').next().unwrap();
    let timeout = Duration::from_secs(10);
    let transport = Transport::connect(address, &context, timeout)
        .await
        .unwrap();
    let settings = ConnectionSettings {
        broker: address.to_owned(),
        client_id: None,
        max_frame_bytes: 1 << 20,
    };
    Connection::establish_authenticated(transport, settings, timeout, context.sasl().cloned())
        .await
        .unwrap()
}

/// KIP-368 on one connection: with three-second sessions, requests sent
/// for longer than two sessions all succeed on that same socket, because
/// it re-authenticates between them (Kafka would close it at the first
/// request after the session expired).
async fn sessions_are_renewed_in_place(bootstrap: &str, properties: &Props) {
    let connection = authenticated_connection(bootstrap, properties).await;
    let first_renewal = connection.session_renewal_at().expect("a session lifetime");
    let lifetime_share = first_renewal - tokio::time::Instant::now();
    assert!(
        lifetime_share <= Duration::from_millis(2_550),
        "{lifetime_share:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    // Requests at a steady pace (not waiting for anything): each must be
    // answered on this connection, across the renewals.
    let mut pace = tokio::time::interval(Duration::from_millis(50));
    while connection.reauthentications() < 2 {
        assert!(
            Instant::now() < deadline,
            "{} renewals in 30 s of 3 s sessions",
            connection.reauthentications()
        );
        pace.tick().await;
        connection
            .send(&MetadataRequest::default(), Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "request after {} renewals failed: {e}",
                    connection.reauthentications()
                )
            });
    }
    assert!(!connection.is_poisoned());
    connection.close();
}

fn tls_failure(kind: TlsFailure) -> impl Fn(&Error) -> bool {
    move |error| matches!(error, Error::Tls { failure, .. } if *failure == kind)
}

#[tokio::test]
async fn every_security_protocol_against_kafka() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let Some(kafka) = KafkaCluster::start_with(1, broker_options(&pki)).await else {
        return;
    };
    create_topic(&kafka.bootstrap()).await;
    let ca = pki.ca.cert_file.display().to_string();
    let secure = kafka.listener_bootstrap("SECURE");
    let mtls = kafka.listener_bootstrap("MTLS");
    let sasl_plain = kafka.listener_bootstrap("SASLPLAIN");

    // Each protocol carries records both ways.
    let scram = props(
        &secure,
        &[
            ("security.protocol", "SASL_SSL"),
            ("ssl.ca.location", &ca),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
        ],
    );
    round_trip("scram", &scram).await;
    let plain_jaas = props(
        &secure,
        &[
            ("security.protocol", "SASL_SSL"),
            ("ssl.ca.pem", &pki.ca.cert_pem),
            ("sasl.mechanisms", "PLAIN"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required \
                 username=\"bob\" password=\"bob-secret\";",
            ),
        ],
    );
    round_trip("plain", &plain_jaas).await;
    let client_cert = pki.client.cert_file.display().to_string();
    let client_key = pki.client.key_file.display().to_string();
    let mutual = props(
        &mtls,
        &[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", &ca),
            ("ssl.certificate.location", &client_cert),
            ("ssl.key.location", &client_key),
        ],
    );
    round_trip("mtls", &mutual).await;
    let plain_over_tcp = props(
        &sasl_plain,
        &[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
            ("sasl.username", "alice"),
            ("sasl.password", "alice-secret"),
        ],
    );
    round_trip("sasl-plaintext", &plain_over_tcp).await;
    let oauth = props(
        &sasl_plain,
        &[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "OAUTHBEARER"),
            (
                "sasl.oauthbearer.config",
                "principal=alice lifeSeconds=3600",
            ),
        ],
    );
    round_trip("oauthbearer", &oauth).await;
    let no_name_check = props(
        &kafka.listener_bootstrap("WRONGHOST"),
        &[
            ("security.protocol", "SSL"),
            ("ssl.ca.location", &ca),
            ("ssl.endpoint.identification.algorithm", "none"),
        ],
    );
    round_trip("no-name-check", &no_name_check).await;

    // The broker grants sessions of connections.max.reauth.ms; durian
    // renews them at 85% of that.
    let connection = authenticated_connection(&secure, &scram).await;
    let before = tokio::time::Instant::now();
    let planned = connection.session_renewal_at().expect("a session lifetime");
    assert!(
        planned > before + Duration::from_secs(400) && planned <= before + Duration::from_secs(510),
        "renewal planned {:?} from now",
        planned - before
    );
    connection.close();
    sessions_are_renewed_in_place(&sasl_plain, &plain_over_tcp).await;

    // Each misconfiguration fails at once with its own typed error.
    let mut wrong_password = scram.clone();
    wrong_password.retain(|(k, _)| k != "sasl.password");
    wrong_password.push(("sasl.password".into(), "guess".into()));
    fails_fast("wrong SCRAM password", &wrong_password, |e| {
        matches!(e, Error::SaslAuthentication { mechanism, .. } if *mechanism == "SCRAM-SHA-512")
    })
    .await;
    let wrong_plain = props(
        &sasl_plain,
        &[
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.username", "alice"),
            ("sasl.password", "guess"),
        ],
    );
    fails_fast(
        "wrong PLAIN password",
        &wrong_plain,
        |e| matches!(e, Error::SaslAuthentication { mechanism, .. } if *mechanism == "PLAIN"),
    )
    .await;
    let mut not_enabled = scram.clone();
    not_enabled.retain(|(k, _)| k != "sasl.mechanism");
    not_enabled.push(("sasl.mechanism".into(), "SCRAM-SHA-256".into()));
    fails_fast("mechanism not enabled", &not_enabled, |e| {
        matches!(e, Error::UnsupportedSaslMechanism { enabled, .. }
            if enabled.iter().any(|m| m == "SCRAM-SHA-512") && enabled.iter().any(|m| m == "PLAIN"))
    })
    .await;
    let other_ca = pki.other_ca.cert_file.display().to_string();
    let mut untrusted = scram.clone();
    untrusted.retain(|(k, _)| k != "ssl.ca.location");
    untrusted.push(("ssl.ca.location".into(), other_ca));
    fails_fast(
        "untrusted certificate",
        &untrusted,
        tls_failure(TlsFailure::UntrustedCertificate),
    )
    .await;
    let wrong_host = props(
        &kafka.listener_bootstrap("WRONGHOST"),
        &[("security.protocol", "SSL"), ("ssl.ca.location", &ca)],
    );
    fails_fast(
        "hostname mismatch",
        &wrong_host,
        tls_failure(TlsFailure::HostnameMismatch),
    )
    .await;
    let expired = props(
        &kafka.listener_bootstrap("EXPIRED"),
        &[("security.protocol", "SSL"), ("ssl.ca.location", &ca)],
    );
    fails_fast(
        "expired certificate",
        &expired,
        tls_failure(TlsFailure::CertificateExpired),
    )
    .await;
    let no_client_cert = props(
        &mtls,
        &[("security.protocol", "SSL"), ("ssl.ca.location", &ca)],
    );
    fails_fast(
        "no client certificate",
        &no_client_cert,
        tls_failure(TlsFailure::ClientCertificateRejected),
    )
    .await;
}
