//! The SCRAM credential APIs under the authorizer: DescribeUserScramCredentials
//! needs DESCRIBE on the cluster and AlterUserScramCredentials ALTER on the
//! cluster (Kafka's rule); without them every result is
//! CLUSTER_AUTHORIZATION_FAILED and nothing is changed or revealed.
//!
//! As in acl.rs, the `testing` hook maps the client id `admin` to the super
//! user `User:admin` and `alice` to `User:alice`.

#![allow(clippy::unwrap_used)]

mod common;

use common::TestClient;
use durian_broker::{Broker, BrokerHandle, Principal};
use durian_core::security::scram::ScramMechanism;
use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, CreateAclsRequest, DescribeUserScramCredentialsRequest,
};
use kafka_protocol::protocol::StrBytes;

const CLUSTER_DENIED: i16 = 31;
// Kafka's ACL codes.
const CLUSTER: i8 = 4;
const LITERAL: i8 = 3;
const ALTER: i8 = 7;
const DESCRIBE: i8 = 8;
const ALLOW: i8 = 3;

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

async fn start(dir: &std::path::Path) -> BrokerHandle {
    Broker::builder()
        .data_dir(dir)
        .listen("127.0.0.1:0")
        .allow_everyone_if_no_acl_found(false)
        .super_users([Principal::user("admin")])
        .principal_for_client_id("admin", Principal::user("admin"))
        .principal_for_client_id("alice", Principal::user("alice"))
        .start()
        .await
        .unwrap()
}

fn upsert(user: &str) -> ScramCredentialUpsertion {
    let mechanism = ScramMechanism::Sha512;
    let salt = b"salt-of-the-test".to_vec();
    let salted = mechanism.salted_password(b"secret", &salt, 4096);
    ScramCredentialUpsertion::default()
        .with_name(text(user))
        .with_mechanism(mechanism.wire_type())
        .with_iterations(4096)
        .with_salt(salt.into())
        .with_salted_password(salted.into())
}

fn delete(user: &str) -> ScramCredentialDeletion {
    ScramCredentialDeletion::default()
        .with_name(text(user))
        .with_mechanism(ScramMechanism::Sha512.wire_type())
}

/// The error code of each result of an AlterUserScramCredentials.
async fn alter(client: &mut TestClient, request: AlterUserScramCredentialsRequest) -> Vec<i16> {
    let reply = client.call(&request, 0).await;
    reply.results.iter().map(|r| r.error_code).collect()
}

/// The top-level code and each user's (name, code, mechanisms stored).
async fn describe(
    client: &mut TestClient,
    users: Option<&[&str]>,
) -> (i16, Vec<(String, i16, usize)>) {
    let request = DescribeUserScramCredentialsRequest::default().with_users(users.map(|u| {
        u.iter()
            .map(|n| UserName::default().with_name(text(n)))
            .collect()
    }));
    let reply = client.call(&request, 0).await;
    let results = reply
        .results
        .iter()
        .map(|r| (r.user.to_string(), r.error_code, r.credential_infos.len()))
        .collect();
    (reply.error_code, results)
}

async fn grant_alice(admin: &mut TestClient, operation: i8) {
    let acl = AclCreation::default()
        .with_resource_type(CLUSTER)
        .with_resource_name(text("kafka-cluster"))
        .with_resource_pattern_type(LITERAL)
        .with_principal(text("User:alice"))
        .with_host(text("*"))
        .with_operation(operation)
        .with_permission_type(ALLOW);
    let reply = admin
        .call(&CreateAclsRequest::default().with_creations(vec![acl]), 3)
        .await;
    assert_eq!(reply.results[0].error_code, 0);
}

#[tokio::test]
async fn scram_credential_apis_need_describe_and_alter_on_the_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut admin = TestClient::connect_as(broker.local_addr(), "admin").await;
    let mut alice = TestClient::connect_as(broker.local_addr(), "alice").await;

    // The super user manages credentials.
    let created = alter(
        &mut admin,
        AlterUserScramCredentialsRequest::default().with_upsertions(vec![upsert("carol")]),
    )
    .await;
    assert_eq!(created, vec![0]);

    // alice without ACLs: every result refused, nothing changed or listed.
    let refused = alter(
        &mut alice,
        AlterUserScramCredentialsRequest::default()
            .with_deletions(vec![delete("carol")])
            .with_upsertions(vec![upsert("mallory")]),
    )
    .await;
    assert_eq!(refused, vec![CLUSTER_DENIED, CLUSTER_DENIED]);
    assert_eq!(
        describe(&mut alice, Some(&["carol"])).await,
        (
            CLUSTER_DENIED,
            vec![("carol".to_string(), CLUSTER_DENIED, 0)]
        )
    );
    assert_eq!(describe(&mut alice, None).await, (CLUSTER_DENIED, vec![]));
    assert_eq!(
        describe(&mut admin, None).await,
        (0, vec![("carol".to_string(), 0, 1)]),
        "alice's refused changes were not applied"
    );

    // DESCRIBE on the cluster lets alice list but not alter.
    grant_alice(&mut admin, DESCRIBE).await;
    assert_eq!(
        describe(&mut alice, Some(&["carol"])).await,
        (0, vec![("carol".to_string(), 0, 1)])
    );
    let refused = alter(
        &mut alice,
        AlterUserScramCredentialsRequest::default().with_upsertions(vec![upsert("mallory")]),
    )
    .await;
    assert_eq!(refused, vec![CLUSTER_DENIED]);

    // ALTER on the cluster lets alice change credentials.
    grant_alice(&mut admin, ALTER).await;
    let changed = alter(
        &mut alice,
        AlterUserScramCredentialsRequest::default()
            .with_deletions(vec![delete("carol")])
            .with_upsertions(vec![upsert("mallory")]),
    )
    .await;
    assert_eq!(changed, vec![0, 0]);
    assert_eq!(
        describe(&mut alice, None).await,
        (0, vec![("mallory".to_string(), 0, 1)])
    );
    broker.shutdown().await.unwrap();
}
