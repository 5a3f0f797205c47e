//! ACLs over TCP: with `allow.everyone.if.no.acl.found=false` a principal
//! without ACLs is refused by every API family with Kafka's error code;
//! LITERAL and PREFIXED allows let it through, DENY beats ALLOW, super
//! users pass, and ACLs survive a restart and are shared by cluster nodes.
//!
//! Connections are anonymous (no SASL yet); the broker's `testing` hook
//! `principal_for_client_id` maps the client id `admin` to the super user
//! `User:admin` and `alice` to `User:alice`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{batch, TestClient};
use durian_broker::testing::Cluster;
use durian_broker::{Broker, BrokerBuilder, BrokerHandle, Principal};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    CreateAclsRequest, CreatePartitionsRequest, CreateTopicsRequest, DeleteAclsRequest,
    DeleteGroupsRequest, DeleteRecordsRequest, DeleteTopicsRequest, DescribeAclsRequest,
    DescribeClusterRequest, DescribeConfigsRequest, DescribeGroupsRequest, FetchRequest,
    FindCoordinatorRequest, GroupId, HeartbeatRequest, IncrementalAlterConfigsRequest,
    InitProducerIdRequest, JoinGroupRequest, ListGroupsRequest, ListOffsetsRequest,
    MetadataRequest, OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest,
    OffsetForLeaderEpochRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use tempfile::TempDir;

const TOPIC_DENIED: i16 = 29;
const GROUP_DENIED: i16 = 30;
const CLUSTER_DENIED: i16 = 31;

// Kafka's ACL codes.
const TOPIC: i8 = 2;
const GROUP: i8 = 3;
const CLUSTER: i8 = 4;
const ANY: i8 = 1;
const LITERAL: i8 = 3;
const PREFIXED: i8 = 4;
const ALL: i8 = 2;
const READ: i8 = 3;
const WRITE: i8 = 4;
const DESCRIBE: i8 = 8;
const DENY: i8 = 2;
const ALLOW: i8 = 3;

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

fn name(topic: &str) -> TopicName {
    TopicName(text(topic))
}

/// A broker builder closed to everyone but `User:admin`, with the test
/// principals mapped.
fn strict(builder: BrokerBuilder) -> BrokerBuilder {
    builder
        .listen("127.0.0.1:0")
        .allow_everyone_if_no_acl_found(false)
        .super_users([Principal::user("admin")])
        .principal_for_client_id("admin", Principal::user("admin"))
        .principal_for_client_id("alice", Principal::user("alice"))
}

async fn start(dir: &Path) -> BrokerHandle {
    strict(Broker::builder().data_dir(dir))
        .start()
        .await
        .unwrap()
}

/// A strict broker in a fresh data directory (deleted when the returned
/// `TempDir` drops), with a client acting as the super user `User:admin`
/// and one acting as `User:alice`.
async fn strict_broker() -> (TempDir, BrokerHandle, TestClient, TestClient) {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let admin = TestClient::connect_as(broker.local_addr(), "admin").await;
    let alice = TestClient::connect_as(broker.local_addr(), "alice").await;
    (dir, broker, admin, alice)
}

/// A DescribeAcls request for every ACL.
fn describe_all_acls() -> DescribeAclsRequest {
    DescribeAclsRequest::default()
        .with_resource_name_filter(None)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_resource_type_filter(ANY)
        .with_pattern_type_filter(ANY)
        .with_operation(ANY)
        .with_permission_type(ANY)
}

/// The authorized-operations bitfield of `ops` (bit `1 << code` each).
fn bits(ops: &[i8]) -> i32 {
    ops.iter().fold(0, |b, op| b | (1 << op))
}

fn acl(kind: i8, resource: &str, pattern: i8, op: i8, permission: i8) -> AclCreation {
    AclCreation::default()
        .with_resource_type(kind)
        .with_resource_name(text(resource))
        .with_resource_pattern_type(pattern)
        .with_principal(text("User:alice"))
        .with_host(text("*"))
        .with_operation(op)
        .with_permission_type(permission)
}

async fn create_acls(client: &mut TestClient, acls: Vec<AclCreation>) {
    let count = acls.len();
    let response = client
        .call(&CreateAclsRequest::default().with_creations(acls), 3)
        .await;
    assert_eq!(response.results.len(), count);
    for result in response.results {
        assert_eq!(result.error_code, 0, "{:?}", result.error_message);
    }
}

async fn create_topic(client: &mut TestClient, topic: &str) -> i16 {
    let request = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(name(topic))
        .with_num_partitions(1)
        .with_replication_factor(1)]);
    client.call(&request, 7).await.topics[0].error_code
}

async fn produce(client: &mut TestClient, topic: &str) -> i16 {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch(&["v"])))])]);
    client.call(&request, 9).await.responses[0].partition_responses[0].error_code
}

async fn fetch(client: &mut TestClient, topic: &str) -> i16 {
    let request = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_session_epoch(-1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_partition_max_bytes(1 << 20)])]);
    client.call(&request, 12).await.responses[0].partitions[0].error_code
}

async fn metadata(client: &mut TestClient, topics: Option<&[&str]>) -> Vec<(String, i16, i32)> {
    let request = MetadataRequest::default()
        .with_topics(topics.map(|list| {
            list.iter()
                .map(|t| MetadataRequestTopic::default().with_name(Some(name(t))))
                .collect()
        }))
        .with_allow_auto_topic_creation(false)
        .with_include_topic_authorized_operations(true);
    let mut topics: Vec<_> = client
        .call(&request, 12)
        .await
        .topics
        .into_iter()
        .map(|t| {
            let topic = t.name.map(|n| n.0.to_string()).unwrap_or_default();
            (topic, t.error_code, t.topic_authorized_operations)
        })
        .collect();
    topics.sort();
    topics
}

async fn commit(client: &mut TestClient, group: &str, topic: &str) -> i16 {
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(text(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(0)])]);
    client.call(&request, 8).await.topics[0].partitions[0].error_code
}

async fn init_producer_id(client: &mut TestClient) -> i16 {
    let request = InitProducerIdRequest::default()
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(kafka_protocol::messages::ProducerId(-1))
        .with_producer_epoch(-1)
        .with_transactional_id(None);
    client.call(&request, 4).await.error_code
}

#[tokio::test]
async fn a_principal_without_acls_is_refused_by_every_api_family() {
    let (_dir, broker, mut admin, mut alice) = strict_broker().await;
    assert_eq!(create_topic(&mut admin, "orders").await, 0, "super user");
    assert_eq!(produce(&mut admin, "orders").await, 0, "super user");

    // Data.
    assert_eq!(produce(&mut alice, "orders").await, TOPIC_DENIED);
    assert_eq!(fetch(&mut alice, "orders").await, TOPIC_DENIED);
    let list_offsets = ListOffsetsRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name("orders"))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)])]);
    let offsets = alice.call(&list_offsets, 7).await;
    assert_eq!(offsets.topics[0].partitions[0].error_code, TOPIC_DENIED);

    // Metadata: the topic is hidden from "all topics" and refused by name.
    assert_eq!(metadata(&mut alice, None).await, vec![]);
    let named = metadata(&mut alice, Some(&["orders"])).await;
    assert_eq!(named[0].1, TOPIC_DENIED);

    // Topic administration and configs.
    assert_eq!(create_topic(&mut alice, "new").await, TOPIC_DENIED);
    let delete = DeleteTopicsRequest::default().with_topic_names(vec![name("orders")]);
    assert_eq!(
        alice.call(&delete, 5).await.responses[0].error_code,
        TOPIC_DENIED
    );
    let configs = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(text("orders")),
        DescribeConfigsResource::default()
            .with_resource_type(4)
            .with_resource_name(text("")),
    ]);
    let described = alice.call(&configs, 4).await;
    assert_eq!(described.results[0].error_code, TOPIC_DENIED);
    assert_eq!(described.results[1].error_code, CLUSTER_DENIED);

    // Groups.
    let join = JoinGroupRequest::default()
        .with_group_id(GroupId(text("g")))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_protocol_type(text("consumer"));
    assert_eq!(alice.call(&join, 5).await.error_code, GROUP_DENIED);
    assert_eq!(commit(&mut alice, "g", "orders").await, GROUP_DENIED);
    let offsets = OffsetFetchRequest::default()
        .with_group_id(GroupId(text("g")))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(name("orders"))
            .with_partition_indexes(vec![0])]));
    assert_eq!(alice.call(&offsets, 7).await.error_code, GROUP_DENIED);
    let find = FindCoordinatorRequest::default().with_key(text("g"));
    assert_eq!(alice.call(&find, 3).await.error_code, GROUP_DENIED);
    let describe = DescribeGroupsRequest::default().with_groups(vec![GroupId(text("g"))]);
    assert_eq!(
        alice.call(&describe, 5).await.groups[0].error_code,
        GROUP_DENIED
    );
    let delete = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(text("g"))]);
    assert_eq!(
        alice.call(&delete, 2).await.results[0].error_code,
        GROUP_DENIED
    );

    // Cluster.
    assert_eq!(init_producer_id(&mut alice).await, CLUSTER_DENIED);
    let cluster = DescribeClusterRequest::default();
    assert_eq!(alice.call(&cluster, 1).await.error_code, CLUSTER_DENIED);
    let creations = CreateAclsRequest::default()
        .with_creations(vec![acl(TOPIC, "orders", LITERAL, ALL, ALLOW)]);
    let created = alice.call(&creations, 3).await;
    assert_eq!(created.results[0].error_code, CLUSTER_DENIED);
    let describe_acls = describe_all_acls();
    assert_eq!(
        alice.call(&describe_acls, 3).await.error_code,
        CLUSTER_DENIED
    );
    assert!(
        admin.call(&describe_acls, 3).await.resources.is_empty(),
        "alice's attempt created nothing"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn literal_and_prefixed_allows_pass_and_deny_wins() {
    let (_dir, broker, mut admin, mut alice) = strict_broker().await;
    for topic in ["orders", "logs-app", "logs-secret", "other"] {
        assert_eq!(create_topic(&mut admin, topic).await, 0);
    }
    create_acls(
        &mut admin,
        vec![
            acl(TOPIC, "orders", LITERAL, READ, ALLOW),
            acl(TOPIC, "orders", LITERAL, WRITE, ALLOW),
            acl(TOPIC, "logs-", PREFIXED, WRITE, ALLOW),
            acl(TOPIC, "logs-secret", LITERAL, WRITE, DENY),
            acl(GROUP, "team-", PREFIXED, READ, ALLOW),
        ],
    )
    .await;

    assert_eq!(produce(&mut alice, "orders").await, 0, "LITERAL allow");
    assert_eq!(fetch(&mut alice, "orders").await, 0);
    assert_eq!(produce(&mut alice, "logs-app").await, 0, "PREFIXED allow");
    assert_eq!(
        fetch(&mut alice, "logs-app").await,
        TOPIC_DENIED,
        "only WRITE"
    );
    assert_eq!(
        produce(&mut alice, "logs-secret").await,
        TOPIC_DENIED,
        "DENY wins"
    );
    assert_eq!(produce(&mut alice, "other").await, TOPIC_DENIED);
    assert_eq!(init_producer_id(&mut alice).await, 0, "WRITE on some topic");

    // WRITE and READ imply DESCRIBE; a DENY of WRITE leaves DESCRIBE alone.
    assert_eq!(
        metadata(&mut alice, None).await,
        vec![
            ("logs-app".to_string(), 0, bits(&[WRITE, DESCRIBE])),
            ("logs-secret".to_string(), 0, bits(&[DESCRIBE])),
            ("orders".to_string(), 0, bits(&[READ, WRITE, DESCRIBE])),
        ]
    );

    // Groups: READ on the group and on the topic.
    assert_eq!(commit(&mut alice, "team-a", "orders").await, 0);
    assert_eq!(commit(&mut alice, "team-a", "logs-app").await, TOPIC_DENIED);
    assert_eq!(
        commit(&mut alice, "other-group", "orders").await,
        GROUP_DENIED
    );

    // Removing the DENY opens the topic to the PREFIXED allow.
    let remove = DeleteAclsRequest::default().with_filters(vec![DeleteAclsFilter::default()
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_resource_type_filter(TOPIC)
        .with_resource_name_filter(Some(text("logs-secret")))
        .with_pattern_type_filter(LITERAL)
        .with_operation(ANY)
        .with_permission_type(DENY)]);
    let removed = admin.call(&remove, 3).await;
    assert_eq!(removed.filter_results[0].error_code, 0);
    assert_eq!(removed.filter_results[0].matching_acls.len(), 1);
    assert_eq!(produce(&mut alice, "logs-secret").await, 0);

    // MATCH lists every pattern applying to a name.
    let matching = DescribeAclsRequest::default()
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_resource_type_filter(TOPIC)
        .with_resource_name_filter(Some(text("logs-app")))
        .with_pattern_type_filter(2)
        .with_operation(ANY)
        .with_permission_type(ANY);
    let found = admin.call(&matching, 3).await;
    assert_eq!(found.error_code, 0);
    assert_eq!(found.resources.len(), 1);
    assert_eq!(&*found.resources[0].resource_name, "logs-");
    assert_eq!(found.resources[0].pattern_type, PREFIXED);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn acls_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut admin = TestClient::connect_as(broker.local_addr(), "admin").await;
    assert_eq!(create_topic(&mut admin, "kept").await, 0);
    create_acls(&mut admin, vec![acl(TOPIC, "kept", LITERAL, WRITE, ALLOW)]).await;
    // An invalid ACL is refused on its own: the cluster is named kafka-cluster.
    let bad = CreateAclsRequest::default()
        .with_creations(vec![acl(CLUSTER, "other", LITERAL, ALL, ALLOW)]);
    assert_eq!(admin.call(&bad, 3).await.results[0].error_code, 42);
    drop(admin);
    broker.shutdown().await.unwrap();

    let broker = start(dir.path()).await;
    let mut alice = TestClient::connect_as(broker.local_addr(), "alice").await;
    assert_eq!(produce(&mut alice, "kept").await, 0);
    let mut admin = TestClient::connect_as(broker.local_addr(), "admin").await;
    let all = describe_all_acls();
    let listed = admin.call(&all, 2).await;
    assert_eq!(listed.resources.len(), 1);
    assert_eq!(&*listed.resources[0].acls[0].principal, "User:alice");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_node_of_a_cluster_sees_the_same_acls() {
    let cluster = Cluster::builder()
        .nodes(2)
        .seed(7)
        .broker(strict)
        .start()
        .await
        .unwrap();
    cluster.create_topic("shared", 1).await.unwrap();
    let ids = cluster.node_ids();
    let mut admin = TestClient::connect_as(cluster.address(ids[0]).unwrap(), "admin").await;
    create_acls(
        &mut admin,
        vec![acl(TOPIC, "shared", LITERAL, WRITE, ALLOW)],
    )
    .await;
    let leader = cluster.leader("shared", 0).unwrap();
    let mut alice = TestClient::connect_as(cluster.address(leader).unwrap(), "alice").await;
    assert_eq!(produce(&mut alice, "shared").await, 0);
    for id in ids {
        let mut alice = TestClient::connect_as(cluster.address(id).unwrap(), "alice").await;
        let seen = metadata(&mut alice, None).await;
        assert_eq!(
            seen.len(),
            1,
            "node {id} lists the topic alice may describe"
        );
    }
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_other_apis_are_refused_too_and_super_users_see_every_operation() {
    let (_dir, broker, mut admin, mut alice) = strict_broker().await;
    assert_eq!(create_topic(&mut admin, "t").await, 0);
    assert_eq!(commit(&mut admin, "g", "t").await, 0);

    let delete_records =
        DeleteRecordsRequest::default().with_topics(vec![DeleteRecordsTopic::default()
            .with_name(name("t"))
            .with_partitions(vec![DeleteRecordsPartition::default()
                .with_partition_index(0)
                .with_offset(0)])]);
    let deleted = alice.call(&delete_records, 2).await;
    assert_eq!(deleted.topics[0].partitions[0].error_code, TOPIC_DENIED);

    let grow =
        CreatePartitionsRequest::default().with_topics(vec![CreatePartitionsTopic::default()
            .with_name(name("t"))
            .with_count(2)]);
    assert_eq!(
        alice.call(&grow, 3).await.results[0].error_code,
        TOPIC_DENIED
    );

    let alter = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(text("t"))
            .with_configs(vec![AlterableConfig::default()
                .with_name(text("retention.ms"))
                .with_value(Some(text("1000")))]),
        AlterConfigsResource::default()
            .with_resource_type(4)
            .with_resource_name(text("0")),
    ]);
    let altered = alice.call(&alter, 1).await;
    assert_eq!(altered.responses[0].error_code, TOPIC_DENIED);
    assert_eq!(altered.responses[1].error_code, CLUSTER_DENIED);

    let epochs = OffsetForLeaderEpochRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(name("t"))
            .with_partitions(vec![OffsetForLeaderPartition::default()
                .with_partition(0)
                .with_current_leader_epoch(-1)
                .with_leader_epoch(0)])]);
    let answered = alice.call(&epochs, 4).await;
    assert_eq!(answered.topics[0].partitions[0].error_code, TOPIC_DENIED);

    let offset_delete = OffsetDeleteRequest::default()
        .with_group_id(GroupId(text("g")))
        .with_topics(vec![OffsetDeleteRequestTopic::default()
            .with_name(name("t"))
            .with_partitions(vec![
                OffsetDeleteRequestPartition::default().with_partition_index(0)
            ])]);
    assert_eq!(alice.call(&offset_delete, 0).await.error_code, GROUP_DENIED);
    let heartbeat = HeartbeatRequest::default()
        .with_group_id(GroupId(text("g")))
        .with_member_id(text("m"));
    assert_eq!(alice.call(&heartbeat, 4).await.error_code, GROUP_DENIED);

    // ListGroups: without DESCRIBE on the cluster only describable groups.
    let groups = |r: kafka_protocol::messages::ListGroupsResponse| {
        r.groups
            .into_iter()
            .map(|g| g.group_id.0.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        groups(alice.call(&ListGroupsRequest::default(), 4).await),
        Vec::<String>::new()
    );
    assert_eq!(
        groups(admin.call(&ListGroupsRequest::default(), 4).await),
        vec!["g"]
    );
    create_acls(&mut admin, vec![acl(GROUP, "g", LITERAL, DESCRIBE, ALLOW)]).await;
    assert_eq!(
        groups(alice.call(&ListGroupsRequest::default(), 4).await),
        vec!["g"]
    );

    // DescribeGroups and DescribeCluster report the principal's operations.
    let describe = DescribeGroupsRequest::default()
        .with_groups(vec![GroupId(text("g"))])
        .with_include_authorized_operations(true);
    let seen = alice.call(&describe, 5).await.groups.remove(0);
    assert_eq!(
        (seen.error_code, seen.authorized_operations),
        (0, bits(&[DESCRIBE]))
    );
    let seen = admin.call(&describe, 5).await.groups.remove(0);
    assert_eq!(seen.authorized_operations, bits(&[READ, DESCRIBE, 6]));
    let cluster =
        DescribeClusterRequest::default().with_include_cluster_authorized_operations(true);
    let described = admin.call(&cluster, 1).await;
    // CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
    assert_eq!(
        described.cluster_authorized_operations,
        bits(&[5, 7, 8, 9, 10, 11, 12])
    );
    broker.shutdown().await.unwrap();
}
