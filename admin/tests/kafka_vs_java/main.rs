//! durian's Admin against Kafka's Java Admin, fact by fact (issue 14).
//!
//! One Apache Kafka node (with StandardAuthorizer) is put into a known
//! state (topics with configs, ACLs,
//! records with chosen timestamps, a group with a live static member and
//! committed offsets, an offsets-only group, an open transaction, SCRAM
//! users). Then interop/java's `admin-report` prints what Kafka's Java
//! `Admin` says about it, one fact per line, and the same facts are
//! written from durian's Admin results (report.rs); the two lists must be
//! equal. docs/ADMIN.md ("Compared with the Java Admin") lists what is
//! compared.
//!
//! Needs Kafka's jars (as admin/tests/kafka.rs) and the interop programs'
//! jar: `DURIAN_JAVA_INTEROP_JAR`, else `<repo>/.peers/java/durian-interop.jar`
//! (both built by scripts/install-peers.sh). Skipped without them, failed
//! under `DURIAN_REQUIRE_PEERS=1`.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

#[path = "../common/mod.rs"]
mod common;
mod java;
mod report;
mod setup;

use std::time::Duration;

use durian_admin::{
    AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, AclPermissionType, Admin,
    NewTopic, PatternType, ResourcePattern, ResourceType, ScramMechanism, TopicPartition,
    UserScramCredentialAlteration,
};
use durian_testkit::KafkaCluster;
use tokio::sync::Mutex;

use report::{durian_report, Scope};
use setup::Commit;

/// Timestamps of the records: fixed, so the reports can be read.
const BASE_TIMESTAMP: i64 = 1_700_000_000_000;

async fn admin_for(kafka: &KafkaCluster) -> Admin {
    Admin::builder()
        .client_config(common::client_config(&kafka.bootstrap()))
        .default_api_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap()
}

/// Kafka's authorizer, so that ACLs are compared: the plaintext clients
/// are `User:ANONYMOUS`, a super user, so nothing else is refused.
const AUTHORIZER: &[(&str, &str)] = &[
    (
        "authorizer.class.name",
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    ),
    ("super.users", "User:ANONYMOUS"),
];

/// ACLs of three resource kinds and both pattern types.
fn acls() -> Vec<AclBinding> {
    let entry = |principal: &str, host: &str, op, permission| {
        AccessControlEntry::new(principal, host, op, permission)
    };
    vec![
        AclBinding::new(
            ResourcePattern::new(ResourceType::Topic, "cmp-orders", PatternType::Literal),
            entry(
                "User:cmp-alice",
                "*",
                AclOperation::Read,
                AclPermissionType::Allow,
            ),
        ),
        AclBinding::new(
            ResourcePattern::new(ResourceType::Group, "cmp-", PatternType::Prefixed),
            entry(
                "User:cmp-bob",
                "10.0.0.1",
                AclOperation::Describe,
                AclPermissionType::Deny,
            ),
        ),
        AclBinding::new(
            ResourcePattern::cluster(),
            entry(
                "User:cmp-alice",
                "*",
                AclOperation::DescribeConfigs,
                AclPermissionType::Allow,
            ),
        ),
    ]
}

/// Sets the cluster up as the module docs describe.
async fn prepare(admin: &Admin) {
    let created = admin
        .create_topics([
            NewTopic::new("cmp-orders", 3)
                .replication_factor(1)
                .config("retention.ms", "3600000")
                .config("max.message.bytes", "200000"),
            NewTopic::new("cmp-audit", 1)
                .replication_factor(1)
                .config("cleanup.policy", "delete")
                .config("segment.ms", "600000"),
        ])
        .await;
    for (name, result) in created {
        result.unwrap_or_else(|e| panic!("create {name}: {e}"));
    }
    // Per partition: a later batch first, then an earlier one, so the
    // max-timestamp offset is not the last record.
    for partition in 0..3 {
        let tp = TopicPartition::new("cmp-orders", partition);
        let late = BASE_TIMESTAMP + 60_000 + i64::from(partition) * 1000;
        setup::produce(admin, &tp, 2 + partition as usize, late).await;
        setup::produce(admin, &tp, 3, BASE_TIMESTAMP).await;
    }
    let audit = TopicPartition::new("cmp-audit", 0);
    setup::produce(admin, &audit, 4, BASE_TIMESTAMP + 5_000).await;

    setup::commit(
        admin,
        "cmp-idle",
        ("", None, -1),
        &[
            Commit {
                tp: TopicPartition::new("cmp-orders", 0),
                offset: 2,
                leader_epoch: 0,
                metadata: "idle checkpoint",
            },
            Commit {
                tp: TopicPartition::new("cmp-orders", 2),
                offset: 5,
                leader_epoch: -1,
                metadata: "",
            },
        ],
    )
    .await;
    let member = setup::join_group(admin, "cmp-live", "cmp-instance", "cmp-orders", &[0, 2]).await;
    setup::commit(
        admin,
        "cmp-live",
        (&member.member_id, Some("cmp-instance"), member.generation),
        &[Commit {
            tp: TopicPartition::new("cmp-orders", 1),
            offset: 3,
            leader_epoch: 0,
            metadata: "live",
        }],
    )
    .await;

    setup::open_transaction(admin, "cmp-txn", &audit, 2, BASE_TIMESTAMP + 9_000).await;

    let created = admin.create_acls(acls()).await.unwrap();
    for (acl, result) in created {
        result.unwrap_or_else(|e| panic!("create acl {acl}: {e}"));
    }
    // The broker's authorizer learns new ACLs from the metadata log a
    // moment after the controller commits them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while admin
        .describe_acls(&AclBindingFilter::any())
        .await
        .unwrap()
        .len()
        < acls().len()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ACLs never showed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // One alteration per user and request: Kafka refuses a user twice in one.
    for alteration in [
        UserScramCredentialAlteration::upsert("cmp-alice", ScramMechanism::Sha256, 4096, "a"),
        UserScramCredentialAlteration::upsert("cmp-alice", ScramMechanism::Sha512, 8192, "b"),
        UserScramCredentialAlteration::upsert("cmp-bob", ScramMechanism::Sha512, 4096, "c"),
    ] {
        let altered = admin
            .alter_user_scram_credentials(&[alteration])
            .await
            .unwrap();
        for (user, result) in altered {
            result.unwrap_or_else(|e| panic!("scram {user}: {e}"));
        }
    }
}

/// The lines only one side has, marked `java` or `durian`.
fn differences(java: &[String], durian: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for line in java {
        if !durian.contains(line) {
            out.push(format!("java   only: {line}"));
        }
    }
    for line in durian {
        if !java.contains(line) {
            out.push(format!("durian only: {line}"));
        }
    }
    out
}

/// Held by each test for its whole run: one Kafka cluster and one report
/// JVM at a time on a shared machine.
static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// The Java report and durian's for `scope` must be equal, apart from the
/// lines `ignored` says to leave out (of both). Returns the Java report.
async fn assert_same_report(
    runner: &java::Runner,
    kafka: &KafkaCluster,
    admin: &Admin,
    scope: &Scope<'_>,
    words: &[&str],
    ignored: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut java = runner.admin_report(&kafka.bootstrap(), scope).await;
    let mut durian = durian_report(admin, scope).await;
    java.retain(|l| !ignored(l));
    durian.retain(|l| !ignored(l));
    // A report that printed nothing would agree with anything.
    for word in words {
        assert!(
            java.iter().any(|l| l.starts_with(&format!("{word} "))),
            "the Java report has no {word} line:\n{}",
            java.join("\n")
        );
    }
    // Both are sorted: equal lists, duplicates included.
    assert!(
        java == durian,
        "durian's Admin and the Java Admin disagree ({} Java lines, {} durian lines):\n{}",
        java.len(),
        durian.len(),
        differences(&java, &durian).join("\n")
    );
    java
}

#[tokio::test]
async fn admin_reports_what_the_java_admin_reports() {
    let _serial = ONE_CLUSTER_AT_A_TIME.lock().await;
    let Some(runner) = java::Runner::find() else {
        return;
    };
    let Some(kafka) = KafkaCluster::start(1, AUTHORIZER).await else {
        return;
    };
    let admin = admin_for(&kafka).await;
    prepare(&admin).await;

    let scope = Scope {
        topics: &["cmp-orders", "cmp-audit"],
        groups: &["cmp-idle", "cmp-live"],
        txns: &["cmp-txn"],
        users: &["cmp-alice", "cmp-bob"],
        broker: kafka.node_ids()[0],
    };
    let words = [
        "node",
        "partition",
        "config",
        "offset",
        "group",
        "member",
        "group-offset",
        "acl",
        "txn-listed",
        "txn",
        "producer",
        "scram",
    ];
    let java = assert_same_report(&runner, &kafka, &admin, &scope, &words, |_| false).await;
    eprintln!("{} facts agree", java.len());
}

/// Replicas and ISR (in the broker's order), leaders and leader epochs on
/// three nodes. The controller is left out: a KRaft broker answers
/// DescribeCluster with a random live broker as the controller (clients do
/// not reach the quorum), so two askers need not agree.
#[tokio::test]
async fn replicas_and_isr_agree_on_three_nodes() {
    let _serial = ONE_CLUSTER_AT_A_TIME.lock().await;
    let Some(runner) = java::Runner::find() else {
        return;
    };
    // A rack, so that a node's rack is compared as more than null.
    let Some(kafka) = KafkaCluster::start(3, &[("broker.rack", "cmp-rack")]).await else {
        return;
    };
    let admin = admin_for(&kafka).await;
    let created = admin
        .create_topics([NewTopic::new("cmp-replicated", 6)
            .replication_factor(3)
            .config("min.insync.replicas", "2")])
        .await;
    for (name, result) in created {
        result.unwrap_or_else(|e| panic!("create {name}: {e}"));
    }
    // Partition 5 stays empty: no record has the max timestamp there.
    for partition in 0..5 {
        let tp = TopicPartition::new("cmp-replicated", partition);
        setup::produce(&admin, &tp, 1 + partition as usize, BASE_TIMESTAMP).await;
    }
    let scope = Scope {
        topics: &["cmp-replicated"],
        groups: &[],
        txns: &[],
        users: &[],
        broker: kafka.node_ids()[1],
    };
    // No authorizer here: both sides say so ("acls disabled").
    let words = ["node", "topic", "partition", "config", "offset", "acls"];
    let controller = |line: &str| line.starts_with("cluster controller ");
    let java = assert_same_report(&runner, &kafka, &admin, &scope, &words, controller).await;
    let rack = java
        .iter()
        .filter(|l| l.starts_with("node ") && l.ends_with(" cmp-rack"))
        .count();
    assert_eq!(rack, 3, "every node has its rack:\n{}", java.join("\n"));
    let empty = "offset cmp-replicated 5 max-timestamp offset -1 timestamp -1";
    assert!(
        java.iter().any(|l| l.starts_with(empty)),
        "the empty partition has no max-timestamp record:\n{}",
        java.join("\n")
    );
}
