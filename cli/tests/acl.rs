//! `durian acl add|list|remove` against the embedded broker.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{durian, start_broker};

/// The data rows of an ACL table, cells split on whitespace.
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|line| line.starts_with("User:"))
        .map(|line| line.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_are_added_listed_and_removed() {
    let broker = start_broker().await;
    let b = broker.bootstrap();
    let added = durian(
        &b,
        &[
            "acl",
            "add",
            "--topic",
            "logs-",
            "--prefixed",
            "--principal",
            "User:alice",
            "-o",
            "write",
            "-o",
            "describe",
        ],
        b"",
    )
    .await;
    added.assert_ok();
    assert_eq!(added.text().matches("added").count(), 2, "{}", added.text());
    durian(
        &b,
        &[
            "acl",
            "add",
            "--group",
            "team",
            "--principal",
            "User:bob",
            "-o",
            "read",
            "--deny",
        ],
        b"",
    )
    .await
    .assert_ok();

    let listed = durian(&b, &["acl", "list"], b"").await;
    listed.assert_ok();
    let cells =
        |principal: &str, op: &str, permission: &str, kind: &str, name: &str, pattern: &str| {
            vec![principal, "*", op, permission, kind, name, pattern]
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
    assert_eq!(
        rows(&listed.text()),
        vec![
            cells("User:alice", "WRITE", "ALLOW", "TOPIC", "logs-", "PREFIXED"),
            cells(
                "User:alice",
                "DESCRIBE",
                "ALLOW",
                "TOPIC",
                "logs-",
                "PREFIXED"
            ),
            cells("User:bob", "READ", "DENY", "GROUP", "team", "LITERAL"),
        ]
    );

    // MATCH: the patterns that apply to one topic.
    let matching = durian(
        &b,
        &["acl", "list", "--topic", "logs-app", "--pattern", "match"],
        b"",
    )
    .await;
    matching.assert_ok();
    assert_eq!(rows(&matching.text()).len(), 2);

    let removed = durian(
        &b,
        &[
            "acl",
            "remove",
            "--topic",
            "logs-",
            "--pattern",
            "prefixed",
            "-o",
            "write",
        ],
        b"",
    )
    .await;
    removed.assert_ok();
    assert!(
        removed.text().starts_with("removed 1 ACLs"),
        "{}",
        removed.text()
    );
    let left = durian(&b, &["acl", "list", "--principal", "User:alice"], b"").await;
    assert_eq!(
        rows(&left.text()),
        vec![cells(
            "User:alice",
            "DESCRIBE",
            "ALLOW",
            "TOPIC",
            "logs-",
            "PREFIXED"
        )]
    );

    durian(&b, &["acl", "remove"], b"")
        .await
        .assert_failed_with("name what to remove");
    durian(
        &b,
        &[
            "acl",
            "add",
            "--topic",
            "t",
            "--principal",
            "alice",
            "-o",
            "read",
        ],
        b"",
    )
    .await
    .assert_failed_with("Type:name");
    durian(
        &b,
        &[
            "acl",
            "add",
            "--topic",
            "t",
            "--principal",
            "User:a",
            "-o",
            "fly",
        ],
        b"",
    )
    .await
    .assert_failed_with("fly");
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_started_with_deny_if_no_acl_refuses_anonymous_clients() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_durian"))
        .args(["broker", "--listen", "127.0.0.1:0", "--deny-if-no-acl"])
        .args(["--super-user", "User:admin", "--data-dir"])
        .arg(data.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let address = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    // Every client is User:ANONYMOUS, which no ACL names and is no super user.
    let listed = durian(&address, &["acl", "list"], b"").await;
    let created = durian(&address, &["topic", "create", "t"], b"").await;
    child.kill().unwrap();
    child.wait().unwrap();
    listed.assert_failed_with("CLUSTER_AUTHORIZATION_FAILED");
    created.assert_failed_with("TOPIC_AUTHORIZATION_FAILED");
}
