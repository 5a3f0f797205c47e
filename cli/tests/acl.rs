//! `durian acl add|list|remove` against the embedded broker.

#![allow(clippy::unwrap_used)]

mod common;

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
