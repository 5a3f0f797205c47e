//! ACL administration against durian's embedded broker: create, describe
//! (every ACL and MATCH), delete by filter, and the refusal of a principal
//! without ALTER on the cluster.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use durian_admin::{
    AccessControlEntry, AclBinding, AclBindingFilter, AclOperation, AclPermissionType, Admin,
    PatternType, ResourcePattern, ResourceType,
};
use durian_broker::Broker;
use durian_core::KafkaCode;

fn acl(name: &str, pattern: PatternType, op: AclOperation) -> AclBinding {
    AclBinding::new(
        ResourcePattern::new(ResourceType::Topic, name, pattern),
        AccessControlEntry::new("User:alice", "*", op, AclPermissionType::Allow),
    )
}

#[tokio::test]
async fn acls_are_created_described_and_deleted() {
    let (broker, admin) = common::start().await;
    let orders = acl("orders", PatternType::Literal, AclOperation::Read);
    let logs = acl("logs-", PatternType::Prefixed, AclOperation::Write);
    let created = admin
        .create_acls(vec![orders.clone(), logs.clone()])
        .await
        .unwrap();
    assert!(created.values().all(Result::is_ok), "{created:?}");

    let mut all = admin.describe_acls(&AclBindingFilter::any()).await.unwrap();
    all.sort();
    let mut expected = vec![orders.clone(), logs.clone()];
    expected.sort();
    assert_eq!(all, expected);

    let mut matching = AclBindingFilter::any();
    matching.pattern.resource_type = ResourceType::Topic;
    matching.pattern.name = Some("logs-app".to_string());
    matching.pattern.pattern_type = PatternType::Match;
    assert_eq!(
        admin.describe_acls(&matching).await.unwrap(),
        vec![logs.clone()]
    );

    let deleted = admin
        .delete_acls(&[AclBindingFilter::exact(&orders)])
        .await
        .unwrap();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].as_ref().unwrap(), &vec![orders]);
    assert_eq!(
        admin.describe_acls(&AclBindingFilter::any()).await.unwrap(),
        vec![logs]
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_principal_without_cluster_alter_is_refused() {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .allow_everyone_if_no_acl_found(false)
        .start()
        .await
        .unwrap();
    let admin = Admin::builder()
        .client_config(common::client_config(&broker.bootstrap()))
        .default_api_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap();
    let wanted = acl("t", PatternType::Literal, AclOperation::Read);
    let created = admin.create_acls(vec![wanted.clone()]).await.unwrap();
    assert_eq!(
        created[&wanted].as_ref().unwrap_err().kafka_code(),
        Some(KafkaCode::CLUSTER_AUTHORIZATION_FAILED)
    );
    let described = admin.describe_acls(&AclBindingFilter::any()).await;
    assert_eq!(
        described.unwrap_err().kafka_code(),
        Some(KafkaCode::CLUSTER_AUTHORIZATION_FAILED)
    );
    let deleted = admin.delete_acls(&[AclBindingFilter::any()]).await.unwrap();
    assert_eq!(
        deleted[0].as_ref().unwrap_err().kafka_code(),
        Some(KafkaCode::CLUSTER_AUTHORIZATION_FAILED)
    );
    broker.shutdown().await.unwrap();
}
