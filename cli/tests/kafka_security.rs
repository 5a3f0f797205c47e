//! `durian user scram` and `durian acl` against Apache Kafka 4.x with
//! `StandardAuthorizer` (the plaintext test client is `User:ANONYMOUS`, a
//! super user). durian's own broker gets SCRAM credentials with its SASL
//! listeners; until then Kafka is the broker these commands are checked
//! against. Skipped without the Kafka jars, failed instead when
//! `DURIAN_REQUIRE_PEERS=1`.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::durian;
use durian_testkit::KafkaCluster;

const AUTHORIZER: &[(&str, &str)] = &[
    (
        "authorizer.class.name",
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    ),
    ("super.users", "User:ANONYMOUS"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_credentials_and_acls_are_managed_on_kafka() {
    let Some(kafka) = KafkaCluster::start(1, AUTHORIZER).await else {
        return;
    };
    let b = kafka.bootstrap();
    let set = durian(
        &b,
        &[
            "user",
            "scram",
            "set",
            "alice",
            "-m",
            "SCRAM-SHA-512",
            "-i",
            "4096",
        ],
        b"s3cret\n",
    )
    .await;
    set.assert_ok();
    assert!(set.text().contains("SCRAM-SHA-512"), "{}", set.text());

    // Kafka applies the change through its metadata log.
    durian_testkit::wait::eventually(Duration::from_secs(20), "alice listed", async || {
        let listed = durian(&b, &["user", "scram", "list", "alice"], b"").await;
        let text = listed.text();
        listed.status.success().then_some(())?;
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["alice", "SCRAM-SHA-512", "4096"])
            .then_some(())
    })
    .await;

    durian(&b, &["user", "scram", "set", "bob", "-i", "10"], b"pw\n")
        .await
        .assert_failed_with("4096");

    durian(
        &b,
        &["user", "scram", "delete", "alice", "-m", "SCRAM-SHA-512"],
        b"",
    )
    .await
    .assert_ok();
    durian_testkit::wait::eventually(Duration::from_secs(20), "alice gone", async || {
        let listed = durian(&b, &["user", "scram", "list", "alice"], b"").await;
        (!listed.status.success()).then_some(())
    })
    .await;

    durian(
        &b,
        &[
            "acl",
            "add",
            "--topic",
            "orders",
            "--principal",
            "User:alice",
            "-o",
            "read",
        ],
        b"",
    )
    .await
    .assert_ok();
    durian_testkit::wait::eventually(Duration::from_secs(20), "the ACL listed", async || {
        let listed = durian(&b, &["acl", "list", "--topic", "orders"], b"").await;
        listed.text().contains("User:alice").then_some(())
    })
    .await;
}
