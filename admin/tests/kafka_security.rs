//! ACL and SCRAM credential administration against Apache Kafka 4.x (one
//! KRaft node with `StandardAuthorizer`; plaintext clients are
//! `User:ANONYMOUS`, made a super user so they may manage ACLs). Skipped without the Kafka jars
//! (`DURIAN_KAFKA_LIBS` or `<repo>/.peers/kafka/libs`), failed instead
//! when `DURIAN_REQUIRE_PEERS=1`.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use durian_admin::{
    AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, AclPermissionType, Admin,
    PatternType, ResourcePattern, ResourceType, ScramMechanism, UserScramCredentialAlteration,
};
use durian_core::KafkaCode;
use durian_testkit::KafkaCluster;

/// Kafka's authorizer settings: ACLs on, the anonymous test client a super user.
pub const AUTHORIZER: &[(&str, &str)] = &[
    (
        "authorizer.class.name",
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    ),
    ("super.users", "User:ANONYMOUS"),
];

async fn admin_for(kafka: &KafkaCluster) -> Admin {
    Admin::builder()
        .client_config(common::client_config(&kafka.bootstrap()))
        .default_api_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap()
}

fn acl(kind: ResourceType, name: &str, pattern: PatternType, op: AclOperation) -> AclBinding {
    AclBinding::new(
        ResourcePattern::new(kind, name, pattern),
        AccessControlEntry::new("User:alice", "*", op, AclPermissionType::Allow),
    )
}

#[tokio::test]
async fn acls_round_trip_through_kafka() {
    let Some(kafka) = KafkaCluster::start(1, AUTHORIZER).await else {
        return;
    };
    let admin = admin_for(&kafka).await;
    let orders = acl(
        ResourceType::Topic,
        "orders",
        PatternType::Literal,
        AclOperation::Read,
    );
    let group = acl(
        ResourceType::Group,
        "team-",
        PatternType::Prefixed,
        AclOperation::All,
    );
    let created = admin
        .create_acls(vec![orders.clone(), group.clone()])
        .await
        .unwrap();
    assert!(created.values().all(Result::is_ok), "{created:?}");

    // Kafka applies ACL changes through its metadata log: wait until they show.
    let mut listed = durian_testkit::wait::eventually(
        Duration::from_secs(20),
        "both ACLs to be listed",
        async || {
            let listed = admin.describe_acls(&AclBindingFilter::any()).await.ok()?;
            (listed.len() == 2).then_some(listed)
        },
    )
    .await;
    listed.sort();
    let mut expected = vec![orders.clone(), group.clone()];
    expected.sort();
    assert_eq!(listed, expected);

    let mut matching = AclBindingFilter::any();
    matching.pattern.resource_type = ResourceType::Group;
    matching.pattern.name = Some("team-blue".to_string());
    matching.pattern.pattern_type = PatternType::Match;
    assert_eq!(admin.describe_acls(&matching).await.unwrap(), vec![group]);

    // Kafka refuses what durian's broker refuses: the cluster is kafka-cluster.
    let bad = acl(
        ResourceType::Cluster,
        "other",
        PatternType::Literal,
        AclOperation::Alter,
    );
    let refused = admin.create_acls(vec![bad.clone()]).await.unwrap();
    assert_eq!(
        refused[&bad].as_ref().unwrap_err().kafka_code(),
        Some(KafkaCode::INVALID_REQUEST)
    );

    let deleted = admin
        .delete_acls(&[AclBindingFilter::exact(&orders)])
        .await
        .unwrap();
    assert_eq!(deleted[0].as_ref().unwrap(), &vec![orders]);
}

#[tokio::test]
async fn scram_credentials_are_set_described_and_deleted() {
    let Some(kafka) = KafkaCluster::start(1, AUTHORIZER).await else {
        return;
    };
    let admin = admin_for(&kafka).await;
    // Kafka refuses two changes of one user in one request
    // (DUPLICATE_RESOURCE), so alice's two mechanisms go one at a time.
    let twice = admin
        .alter_user_scram_credentials(&[
            UserScramCredentialAlteration::upsert("alice", ScramMechanism::Sha256, 4096, "pw"),
            UserScramCredentialAlteration::upsert("alice", ScramMechanism::Sha512, 8192, "pw"),
        ])
        .await
        .unwrap();
    assert_eq!(
        twice["alice"].as_ref().unwrap_err().kafka_code(),
        Some(KafkaCode::DUPLICATE_RESOURCE)
    );
    for (mechanism, iterations) in [
        (ScramMechanism::Sha256, 4096),
        (ScramMechanism::Sha512, 8192),
    ] {
        let altered = admin
            .alter_user_scram_credentials(&[UserScramCredentialAlteration::upsert(
                "alice", mechanism, iterations, "pw",
            )])
            .await
            .unwrap();
        assert!(altered["alice"].is_ok(), "{altered:?}");
    }

    let mut infos = durian_testkit::wait::eventually(
        Duration::from_secs(20),
        "alice's two credentials",
        async || {
            let described = admin
                .describe_user_scram_credentials(Some(&["alice"]))
                .await
                .ok()?;
            let infos = described.get("alice")?.as_ref().ok()?.clone();
            (infos.len() == 2).then_some(infos)
        },
    )
    .await;
    infos.sort_by_key(|i| i.iterations);
    assert_eq!(
        infos
            .iter()
            .map(|i| (i.mechanism, i.iterations))
            .collect::<Vec<_>>(),
        vec![
            (ScramMechanism::Sha256, 4096),
            (ScramMechanism::Sha512, 8192)
        ]
    );
    let unknown = admin
        .describe_user_scram_credentials(Some(&["nobody"]))
        .await
        .unwrap();
    assert_eq!(
        unknown["nobody"].as_ref().unwrap_err().kafka_code(),
        Some(KafkaCode::RESOURCE_NOT_FOUND)
    );

    let deleted = admin
        .alter_user_scram_credentials(&[UserScramCredentialAlteration::delete(
            "alice",
            ScramMechanism::Sha512,
        )])
        .await
        .unwrap();
    assert!(deleted["alice"].is_ok(), "{deleted:?}");
    durian_testkit::wait::eventually(
        Duration::from_secs(20),
        "alice's SCRAM-SHA-512 credential to go",
        async || {
            let all = admin.describe_user_scram_credentials(None).await.ok()?;
            let infos = all.get("alice")?.as_ref().ok()?;
            (infos.len() == 1 && infos[0].mechanism == ScramMechanism::Sha256).then_some(())
        },
    )
    .await;
}
