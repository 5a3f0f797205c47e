//! SASL on a client connection against the scripted fake broker: the
//! PLAIN exchange, its typed failures, and KIP-368 renewal on the same
//! connection with nothing sent in the middle of the exchange. Apache
//! Kafka itself is in tests/kafka_security.rs; this runs without peers.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use durian_core::connection::{Connection, ConnectionSettings, Transport};
use durian_core::security::SecurityContext;
use durian_core::{Client, ClientConfig, Error};
use durian_testkit::scripted::{self, FakeBroker, Reply, Request};
use kafka_protocol::messages::{
    ApiKey, MetadataRequest, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

/// A broker enabling PLAIN for alice/secret with sessions of `lifetime_ms`,
/// logging every API it is asked for, in order.
async fn broker(lifetime_ms: i64) -> (FakeBroker, Arc<Mutex<Vec<ApiKey>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    let broker = FakeBroker::start(move |request: Request| {
        seen.lock().unwrap().push(request.api);
        answer(request, lifetime_ms)
    })
    .await;
    (broker, log)
}

fn answer(request: Request, lifetime_ms: i64) -> Reply {
    match request.api {
        ApiKey::ApiVersions => request.reply(&scripted::api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 1, 12),
            (ApiKey::SaslHandshake, 0, 1),
            (ApiKey::SaslAuthenticate, 0, 2),
        ])),
        ApiKey::SaslHandshake => {
            let asked: SaslHandshakeRequest = request.decode();
            let enabled = vec![StrBytes::from_static_str("PLAIN")];
            let code = if asked.mechanism.as_str() == "PLAIN" {
                0
            } else {
                33
            };
            request.reply(
                &SaslHandshakeResponse::default()
                    .with_error_code(code)
                    .with_mechanisms(enabled),
            )
        }
        ApiKey::SaslAuthenticate => {
            let asked: SaslAuthenticateRequest = request.decode();
            let response = if asked.auth_bytes.as_ref() == b"\0alice\0secret" {
                SaslAuthenticateResponse::default().with_session_lifetime_ms(lifetime_ms)
            } else {
                SaslAuthenticateResponse::default()
                    .with_error_code(58)
                    .with_error_message(Some(StrBytes::from_static_str(
                        "Invalid username or password",
                    )))
            };
            request.reply(&response)
        }
        ApiKey::Metadata => {
            let asked: MetadataRequest = request.decode();
            request.reply(&scripted::metadata(request.port, &asked))
        }
        other => panic!("this fake broker does not serve {other:?}"),
    }
}

fn config(bootstrap: &str, mechanism: &str, password: &str) -> ClientConfig {
    ClientConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", mechanism),
        ("sasl.username", "alice"),
        ("sasl.password", password),
        ("reconnect.backoff.ms", "10"),
        ("reconnect.backoff.max.ms", "10"),
    ])
    .unwrap()
}

fn root(error: &Error) -> &Error {
    match error {
        Error::Poisoned(cause) => root(cause),
        Error::Bootstrap { last_error, .. } => root(last_error),
        other => other,
    }
}

#[tokio::test]
async fn plain_authenticates_after_api_versions() {
    let (broker, log) = broker(0).await;
    let client = Client::connect(config(&broker.bootstrap(), "PLAIN", "secret"))
        .await
        .unwrap();
    assert!(client.metadata().broker(scripted::NODE_ID).is_some());
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log[..3],
        [
            ApiKey::ApiVersions,
            ApiKey::SaslHandshake,
            ApiKey::SaslAuthenticate
        ]
    );
}

#[tokio::test]
async fn a_wrong_password_fails_at_once_and_is_not_retried() {
    let (broker, log) = broker(0).await;
    let error = Client::connect(config(&broker.bootstrap(), "PLAIN", "guess"))
        .await
        .unwrap_err();
    assert!(
        matches!(root(&error), Error::SaslAuthentication { mechanism: "PLAIN", reason, .. }
            if reason.contains("Invalid username")),
        "{error}"
    );
    assert!(!error.is_retriable() && error.is_auth_failure(), "{error}");
    assert!(error.to_string().contains("sasl.password"), "{error}");
    let attempts = log
        .lock()
        .unwrap()
        .iter()
        .filter(|api| **api == ApiKey::SaslAuthenticate)
        .count();
    assert_eq!(attempts, 1, "one attempt, no retry storm");
}

#[tokio::test]
async fn a_mechanism_the_broker_does_not_enable_names_the_enabled_ones() {
    let (broker, _log) = broker(0).await;
    let error = Client::connect(config(&broker.bootstrap(), "SCRAM-SHA-512", "secret"))
        .await
        .unwrap_err();
    let Error::UnsupportedSaslMechanism {
        mechanism, enabled, ..
    } = root(&error)
    else {
        panic!("expected UnsupportedSaslMechanism, got {error}");
    };
    assert_eq!(*mechanism, "SCRAM-SHA-512");
    assert_eq!(enabled.as_ref(), ["PLAIN".to_owned()]);
    assert!(error.to_string().contains("sasl.mechanism"), "{error}");
    assert!(!error.is_retriable());
}

/// With 400 ms sessions, four tasks sending Metadata requests on one
/// connection see it renewed in place several times, and the broker never
/// gets another request between a SaslHandshake and its SaslAuthenticate.
#[tokio::test]
async fn sessions_are_renewed_in_place_with_nothing_in_between() {
    let (broker, log) = broker(400).await;
    let config = config(&broker.bootstrap(), "PLAIN", "secret");
    let context = SecurityContext::new(&config.security).unwrap();
    let address = broker.bootstrap();
    let timeout = Duration::from_secs(10);
    let transport = Transport::connect(&address, &context, timeout)
        .await
        .unwrap();
    let settings = ConnectionSettings {
        broker: address.clone(),
        client_id: None,
        max_frame_bytes: 1 << 20,
    };
    let connection =
        Connection::establish_authenticated(transport, settings, timeout, context.sasl().cloned())
            .await
            .unwrap();
    let renewal = connection.session_renewal_at().unwrap();
    assert!(renewal <= Instant::now() + Duration::from_millis(340));

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let connection = connection.clone();
        tasks.push(tokio::spawn(async move {
            while connection.reauthentications() < 3 {
                assert!(Instant::now() < deadline, "sessions were not renewed");
                connection
                    .send(&MetadataRequest::default(), Duration::from_secs(10))
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(broker.connections(), 1, "one connection throughout");
    let log = log.lock().unwrap().clone();
    let handshakes: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, api)| **api == ApiKey::SaslHandshake)
        .map(|(at, _)| at)
        .collect();
    assert!(handshakes.len() >= 4, "{} handshakes", handshakes.len());
    for at in handshakes {
        let around = &log[at.saturating_sub(2)..(at + 4).min(log.len())];
        assert_eq!(
            log.get(at + 1),
            Some(&ApiKey::SaslAuthenticate),
            "request {at} of {}: {around:?}",
            log.len()
        );
    }
    connection.close();
}
