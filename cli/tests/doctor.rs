//! `durian doctor` against an embedded broker (every step ok, the write
//! test included), a closed port (FAIL at TCP, with the hint) and a broker
//! advertising an address nothing listens on (FAIL at that address).

#![allow(clippy::unwrap_used)]

mod common;

use common::{closed_port, create_topic, durian, start_broker};
use durian_broker::Broker;

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
