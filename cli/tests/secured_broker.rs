//! `durian user scram` and `durian acl` with `-F client.properties`
//! against durian's own broker on a SASL_SSL/SCRAM-SHA-512 listener with
//! the ACL authorizer (certificates from testkit's `TestPki`). The super
//! user `admin` creates carol's SCRAM credential and grants her WRITE; carol
//! logs in with that credential, is refused the topic until the grant and
//! the credential APIs throughout.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::durian;
use durian_broker::{Broker, BrokerHandle, Principal, ScramMechanism, SecurityProtocol};
use durian_testkit::kafka::pki::TestPki;

async fn secured_broker(dir: &Path, pki: &TestPki) -> BrokerHandle {
    Broker::builder()
        .data_dir(dir.join("data"))
        .add_listener(SecurityProtocol::SaslSsl, "127.0.0.1:0")
        .tls(&pki.server.cert_file, &pki.server.key_file)
        .sasl_scram_user(ScramMechanism::Sha512, "admin", "admin-secret")
        .super_users([Principal::user("admin")])
        .start()
        .await
        .unwrap()
}

/// A `client.properties` for `user` written into `dir`.
fn properties(dir: &Path, pki: &TestPki, user: &str, password: &str) -> PathBuf {
    let path = dir.join(format!("{user}.properties"));
    let text = format!(
        "security.protocol=SASL_SSL\n\
         ssl.ca.location={}\n\
         sasl.mechanism=SCRAM-SHA-512\n\
         sasl.username={user}\n\
         sasl.password={password}\n",
        pki.ca.cert_file.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scram_users_and_acls_are_managed_with_a_properties_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(&dir.path().join("pki"));
    let broker = secured_broker(dir.path(), &pki).await;
    let b = broker.listener_addr("SASL_SSL").unwrap().to_string();
    let admin = properties(dir.path(), &pki, "admin", "admin-secret");
    let carol = properties(dir.path(), &pki, "carol", "carol-secret");
    let admin = admin.to_str().unwrap();
    let carol = carol.to_str().unwrap();

    let set = durian(
        &b,
        &[
            "-F",
            admin,
            "user",
            "scram",
            "set",
            "carol",
            "-m",
            "SCRAM-SHA-512",
            "-i",
            "4096",
        ],
        b"carol-secret\n",
    )
    .await;
    set.assert_ok();
    let listed = durian(&b, &["-F", admin, "user", "scram", "list", "carol"], b"").await;
    listed.assert_ok();
    assert!(
        listed
            .text()
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["carol", "SCRAM-SHA-512", "4096"]),
        "{}",
        listed.text()
    );
    durian(
        &b,
        &["-F", admin, "topic", "create", "orders", "-p", "1"],
        b"",
    )
    .await
    .assert_ok();

    // carol logs in with the credential just set, but no ACL names her.
    durian(&b, &["-F", carol, "produce", "orders"], b"one\n")
        .await
        .assert_failed_with("TOPIC_AUTHORIZATION_FAILED");
    durian(&b, &["-F", carol, "user", "scram", "list"], b"")
        .await
        .assert_failed_with("CLUSTER_AUTHORIZATION_FAILED");
    durian(
        &b,
        &["-F", carol, "user", "scram", "set", "mallory", "-i", "4096"],
        b"pw\n",
    )
    .await
    .assert_failed_with("CLUSTER_AUTHORIZATION_FAILED");
    durian(
        &b,
        &[
            "-F",
            carol,
            "acl",
            "add",
            "--topic",
            "orders",
            "--principal",
            "User:carol",
            "-o",
            "write",
        ],
        b"",
    )
    .await
    .assert_failed_with("CLUSTER_AUTHORIZATION_FAILED");

    // The super user grants her WRITE (DESCRIBE comes with it).
    durian(
        &b,
        &[
            "-F",
            admin,
            "acl",
            "add",
            "--topic",
            "orders",
            "--principal",
            "User:carol",
            "-o",
            "write",
        ],
        b"",
    )
    .await
    .assert_ok();
    let produced = durian(&b, &["-F", carol, "produce", "orders"], b"one\n").await;
    produced.assert_ok();
    assert!(
        produced.stderr.contains("produced 1 records to `orders`"),
        "{}",
        produced.stderr
    );
    let consumed = durian(
        &b,
        &["-F", admin, "consume", "orders", "--exit-at-end"],
        b"",
    )
    .await;
    consumed.assert_ok();
    assert_eq!(consumed.text().trim(), "one");
    broker.shutdown().await.unwrap();
}
