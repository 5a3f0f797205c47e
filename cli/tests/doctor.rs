//! `durian doctor` against an embedded broker (every step ok, the write
//! test included), a closed port (FAIL at TCP, with the hint), a broker
//! advertising an address nothing listens on (FAIL at that address) and a
//! SASL_SSL broker (TLS and SASL steps ok; a missing CA and a wrong password
//! each FAIL at their step).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{closed_port, create_topic, durian, start_broker};
use durian_broker::{Broker, ScramMechanism, SecurityProtocol};
use durian_testkit::kafka::pki::TestPki;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_broker_passes_every_step_and_the_write_test() {
    let broker = start_broker().await;
    let b = broker.bootstrap();
    create_topic(&b, "doctor_probe", 1).await;
    let run = durian(&b, &["doctor", "--write-test", "doctor_probe"], b"").await;
    run.assert_ok();
    let text = run.text();
    for step in [
        "[ ok ] client settings",
        &format!("[ ok ] resolve {b}"),
        &format!("[ ok ] tcp connect {b}"),
        &format!("[ ok ] api versions {b}: the broker speaks"),
        &format!("[ ok ] metadata from {b}"),
        &format!("[ ok ] advertised broker 0 {b}: reachable"),
        "[ ok ] produce to doctor_probe: partition 0 offset 0",
        "[ ok ] consume from doctor_probe",
        "all 8 checks passed",
    ] {
        assert!(text.contains(step), "missing {step:?} in:\n{text}");
    }
    assert!(!text.contains("FAIL"), "{text}");
    assert!(
        !text.contains("tls handshake"),
        "no TLS step without TLS: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_fails_at_tcp_connect_with_a_hint() {
    let address = closed_port();
    let run = durian(&address, &["doctor", "--timeout", "2s"], b"").await;
    run.assert_failed_with("1 of 3 checks failed");
    let text = run.text();
    assert!(
        text.contains(&format!("[FAIL] tcp connect {address}")),
        "{text}"
    );
    assert!(
        text.contains("hint: nothing accepts connections there: is the broker running"),
        "{text}"
    );
    assert!(text.contains("[skip] metadata"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_advertised_address_fails_at_that_step() {
    let unreachable = closed_port();
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .advertised_listener(unreachable.clone())
        .start()
        .await
        .unwrap();
    let b = broker.local_addr().to_string();
    let run = durian(&b, &["doctor", "--timeout", "2s"], b"").await;
    run.assert_failed_with("1 of 6 checks failed");
    let text = run.text();
    assert!(
        text.contains(&format!("[ ok ] metadata from {b}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("[FAIL] advertised broker 0 {unreachable}")),
        "{text}"
    );
    assert!(text.contains("--advertised-listener"), "{text}");
}

/// A SASL_SSL/SCRAM-SHA-512 broker (certificates from testkit's `TestPki`)
/// with the user `admin`.
async fn secured_broker(dir: &Path, pki: &TestPki) -> durian_broker::BrokerHandle {
    Broker::builder()
        .data_dir(dir.join("data"))
        .add_listener(SecurityProtocol::SaslSsl, "127.0.0.1:0")
        .tls(&pki.server.cert_file, &pki.server.key_file)
        .sasl_scram_user(ScramMechanism::Sha512, "admin", "admin-secret")
        .start()
        .await
        .unwrap()
}

/// A `client.properties` in `dir`, with the CA when `ca` is set.
fn properties(dir: &Path, pki: &TestPki, name: &str, password: &str, ca: bool) -> PathBuf {
    let path = dir.join(format!("{name}.properties"));
    let mut text = format!(
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n\
         sasl.username=admin\nsasl.password={password}\n"
    );
    if ca {
        text.push_str(&format!("ssl.ca.location={}\n", pki.ca.cert_file.display()));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_sasl_steps_pass_and_explain_a_missing_ca_and_a_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(&dir.path().join("pki"));
    let broker = secured_broker(dir.path(), &pki).await;
    let b = broker.listener_addr("SASL_SSL").unwrap().to_string();

    let good = properties(dir.path(), &pki, "good", "admin-secret", true);
    let run = durian(&b, &["-F", good.to_str().unwrap(), "doctor"], b"").await;
    run.assert_ok();
    let text = run.text();
    for step in [
        &format!("[ ok ] tls handshake {b}: certificate accepted"),
        &format!("[ ok ] sasl SCRAM-SHA-512 {b}: authenticated"),
        &format!("[ ok ] advertised broker 0 {b}: reachable"),
        "all 8 checks passed",
    ] {
        assert!(text.contains(step), "missing {step:?} in:\n{text}");
    }

    let no_ca = properties(dir.path(), &pki, "no_ca", "admin-secret", false);
    let run = durian(&b, &["-F", no_ca.to_str().unwrap(), "doctor"], b"").await;
    run.assert_failed_with("1 of 4 checks failed");
    let text = run.text();
    assert!(
        text.contains(&format!("[FAIL] tls handshake {b}")),
        "{text}"
    );
    assert!(text.contains("hint: set ssl.ca.location"), "{text}");

    let wrong = properties(dir.path(), &pki, "wrong", "not-the-password", true);
    let run = durian(&b, &["-F", wrong.to_str().unwrap(), "doctor"], b"").await;
    run.assert_failed_with("1 of 6 checks failed");
    let text = run.text();
    assert!(
        text.contains(&format!("[FAIL] sasl SCRAM-SHA-512 {b}")),
        "{text}"
    );
    assert!(
        text.contains("hint: check sasl.mechanism, sasl.username"),
        "{text}"
    );
}
