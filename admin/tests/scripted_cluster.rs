//! Routing against a scripted two-broker cluster: partitions split by
//! leader into one request per broker, answers merged, and items retried
//! after NOT_CONTROLLER / NOT_LEADER_OR_FOLLOWER with fresh metadata.
//!
//! Two of testkit's scripted fake brokers answer ApiVersions, Metadata,
//! CreateTopics and ListOffsets from one shared, scripted cluster state and
//! record every request they receive, with its partitions. The scripted
//! brokers, not `durian_broker::testing::Cluster`, because these tests
//! check what each request carried (which partitions went to which node)
//! and move the controller between two attempts, neither of which the
//! in-process cluster exposes: its hooks see request headers only, and its
//! controller is always the lowest running node.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use durian_admin::{Admin, NewTopic, OffsetSpec, TopicPartition};
use durian_testkit::scripted::{api_versions, FakeBroker, Reply, Request};
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, CreateTopicsResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

const TOPIC: &str = "split";
const PARTITIONS: i32 = 4;

/// One request as a scripted broker saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Metadata { node: i32 },
    CreateTopics { node: i32 },
    ListOffsets { node: i32, partitions: Vec<i32> },
}

/// The scripted cluster both brokers answer from.
#[derive(Debug)]
struct Script {
    ports: Vec<(i32, u16)>,
    controller: i32,
    leaders: Vec<i32>,
    /// Answer the next CreateTopics at this node with NOT_CONTROLLER and
    /// hand the controller role to the other node.
    not_controller_at: Option<i32>,
    /// Answer the next ListOffsets for this partition with
    /// NOT_LEADER_OR_FOLLOWER and move its leadership to the other node.
    not_leader_for: Option<i32>,
    seen: Vec<Seen>,
}

type Shared = Arc<Mutex<Script>>;

fn other(node: i32) -> i32 {
    1 - node
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn metadata(script: &Script) -> MetadataResponse {
    let brokers = script
        .ports
        .iter()
        .map(|&(node, port)| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(node))
                .with_host(text("127.0.0.1"))
                .with_port(i32::from(port))
        })
        .collect();
    let partitions = script
        .leaders
        .iter()
        .enumerate()
        .map(|(index, &leader)| {
            MetadataResponsePartition::default()
                .with_partition_index(index as i32)
                .with_leader_id(BrokerId(leader))
                .with_replica_nodes(vec![BrokerId(leader)])
                .with_isr_nodes(vec![BrokerId(leader)])
        })
        .collect();
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_controller_id(BrokerId(script.controller))
        .with_cluster_id(Some(text("scripted")))
        .with_topics(vec![MetadataResponseTopic::default()
            .with_name(Some(TopicName(text(TOPIC))))
            .with_partitions(partitions)])
}

fn create_topics(
    script: &mut Script,
    node: i32,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    script.seen.push(Seen::CreateTopics { node });
    let code = if script.not_controller_at == Some(node) {
        script.not_controller_at = None;
        script.controller = other(node);
        41
    } else if script.controller == node {
        0
    } else {
        41
    };
    CreateTopicsResponse::default().with_topics(
        request
            .topics
            .into_iter()
            .map(|t| {
                CreatableTopicResult::default()
                    .with_name(t.name)
                    .with_error_code(code)
            })
            .collect(),
    )
}

fn list_offsets(
    script: &mut Script,
    node: i32,
    request: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let mut seen = Vec::new();
    let mut topics = Vec::new();
    for topic in request.topics {
        let mut partitions = Vec::new();
        for p in topic.partitions {
            let index = p.partition_index;
            seen.push(index);
            let leads = script.leaders.get(index as usize) == Some(&node);
            let answer = ListOffsetsPartitionResponse::default().with_partition_index(index);
            let answer = if script.not_leader_for == Some(index) {
                script.not_leader_for = None;
                if let Some(leader) = script.leaders.get_mut(index as usize) {
                    *leader = other(node);
                }
                answer.with_error_code(6)
            } else if leads {
                // The answer names the broker, so the test sees who answered.
                answer.with_offset(i64::from(index) * 100 + i64::from(node))
            } else {
                answer.with_error_code(6)
            };
            partitions.push(answer);
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(topic.name)
                .with_partitions(partitions),
        );
    }
    script.seen.push(Seen::ListOffsets {
        node,
        partitions: seen,
    });
    ListOffsetsResponse::default().with_topics(topics)
}

/// Answers one request as broker `node` of the scripted cluster.
fn handle(shared: &Shared, node: i32, request: Request) -> Reply {
    let mut script = shared.lock().unwrap();
    match request.api {
        ApiKey::ApiVersions => request.reply(&api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 1, 12),
            (ApiKey::CreateTopics, 2, 7),
            (ApiKey::ListOffsets, 1, 9),
        ])),
        ApiKey::Metadata => {
            script.seen.push(Seen::Metadata { node });
            request.reply(&metadata(&script))
        }
        ApiKey::CreateTopics => {
            let answer = create_topics(&mut script, node, request.decode());
            request.reply(&answer)
        }
        ApiKey::ListOffsets => {
            let answer = list_offsets(&mut script, node, request.decode());
            request.reply(&answer)
        }
        other => {
            // Release the script first: a poisoned lock would hide this
            // message behind the test's next `lock().unwrap()`.
            drop(script);
            // Ends the connection, which the client sees as a broken one.
            panic!("the scripted cluster does not serve {other:?}")
        }
    }
}

/// Two scripted brokers (nodes 0 and 1) sharing one script; returns the
/// bootstrap address of node 0.
async fn start_cluster(leaders: Vec<i32>, controller: i32) -> (Shared, String) {
    let shared = Arc::new(Mutex::new(Script {
        ports: Vec::new(),
        controller,
        leaders,
        not_controller_at: None,
        not_leader_for: None,
        seen: Vec::new(),
    }));
    let mut ports = Vec::new();
    for node in 0..2 {
        let script = shared.clone();
        let broker =
            FakeBroker::start(move |request: Request| handle(&script, node, request)).await;
        ports.push((node, broker.port()));
    }
    let bootstrap = format!("127.0.0.1:{}", ports[0].1);
    // No client has connected yet, so every Metadata answer names both ports.
    shared.lock().unwrap().ports = ports;
    (shared, bootstrap)
}

async fn admin_for(bootstrap: &str) -> Admin {
    Admin::builder()
        .client_config(common::client_config(bootstrap))
        .default_api_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap()
}

fn seen(shared: &Shared) -> Vec<Seen> {
    let mut script = shared.lock().unwrap();
    std::mem::take(&mut script.seen)
}

fn list_offsets_seen(shared: &Shared) -> Vec<Seen> {
    seen(shared)
        .into_iter()
        .filter(|s| matches!(s, Seen::ListOffsets { .. }))
        .collect()
}

#[tokio::test]
async fn partitions_are_split_by_leader_into_one_request_per_broker() {
    let (shared, bootstrap) = start_cluster(vec![0, 1, 0, 1], 0).await;
    let admin = admin_for(&bootstrap).await;
    let specs = (0..PARTITIONS).map(|p| (TopicPartition::new(TOPIC, p), OffsetSpec::Latest));
    let found = admin.list_offsets(specs).await;
    let offsets: Vec<Option<i64>> = found.values().map(|r| r.as_ref().unwrap().offset).collect();
    // Partition p answered by its leader: p * 100 + leader.
    assert_eq!(offsets, [Some(0), Some(101), Some(200), Some(301)]);
    let mut requests = list_offsets_seen(&shared);
    requests.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(
        requests,
        [
            Seen::ListOffsets {
                node: 0,
                partitions: vec![0, 2]
            },
            Seen::ListOffsets {
                node: 1,
                partitions: vec![1, 3]
            },
        ]
    );
}

#[tokio::test]
async fn a_moved_leader_is_retried_alone_at_its_new_leader() {
    let (shared, bootstrap) = start_cluster(vec![0, 1, 0, 1], 0).await;
    let admin = admin_for(&bootstrap).await;
    shared.lock().unwrap().not_leader_for = Some(3);
    seen(&shared);
    let specs = (0..PARTITIONS).map(|p| (TopicPartition::new(TOPIC, p), OffsetSpec::Earliest));
    let found = admin.list_offsets(specs).await;
    let offsets: Vec<Option<i64>> = found.values().map(|r| r.as_ref().unwrap().offset).collect();
    assert_eq!(offsets, [Some(0), Some(101), Some(200), Some(300)]);
    let requests = list_offsets_seen(&shared);
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_eq!(
        requests.last(),
        Some(&Seen::ListOffsets {
            node: 0,
            partitions: vec![3]
        })
    );
}

#[tokio::test]
async fn not_controller_is_retried_at_the_new_controller_after_a_refresh() {
    let (shared, bootstrap) = start_cluster(vec![0; PARTITIONS as usize], 0).await;
    let admin = admin_for(&bootstrap).await;
    shared.lock().unwrap().not_controller_at = Some(0);
    seen(&shared);
    let created = admin.create_topics([NewTopic::new("fresh", 1)]).await;
    assert!(created["fresh"].is_ok(), "{created:?}");
    let requests = seen(&shared);
    let creates: Vec<&Seen> = requests
        .iter()
        .filter(|s| matches!(s, Seen::CreateTopics { .. }))
        .collect();
    assert_eq!(
        creates,
        [
            &Seen::CreateTopics { node: 0 },
            &Seen::CreateTopics { node: 1 }
        ]
    );
    let first = requests
        .iter()
        .position(|s| *s == Seen::CreateTopics { node: 0 });
    let second = requests
        .iter()
        .position(|s| *s == Seen::CreateTopics { node: 1 });
    let refreshed = requests[first.unwrap()..second.unwrap()]
        .iter()
        .any(|s| matches!(s, Seen::Metadata { .. }));
    assert!(
        refreshed,
        "metadata was not refreshed between attempts: {requests:?}"
    );
}
