//! Transaction routing against a scripted two-broker cluster: the listing
//! asks every broker and is asked again whole while one is loading its
//! coordinator state; descriptions look up all coordinators in one
//! batched FindCoordinator (key type 1), go one request per coordinator,
//! and an id whose coordinator moved (NOT_COORDINATOR) is looked up again
//! and asked alone at its new coordinator, while TRANSACTIONAL_ID_NOT_FOUND
//! is a final answer. Scripted brokers, because what each request carried
//! is the point and Kafka cannot be told to move a coordinator on cue.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use durian_admin::{Admin, TopicPartition, TransactionFilter, TransactionState};
use durian_core::KafkaCode;
use durian_testkit::scripted::{api_versions, FakeBroker, Reply, Request};
use kafka_protocol::messages::describe_transactions_response::{
    TopicData, TransactionState as WireDescribed,
};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::list_transactions_response::TransactionState as WireListed;
use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeTransactionsRequest, DescribeTransactionsResponse,
    FindCoordinatorRequest, FindCoordinatorResponse, ListTransactionsResponse, MetadataResponse,
    ProducerId, TopicName,
};
use kafka_protocol::protocol::StrBytes;

/// One request as a scripted broker saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    FindCoordinator { keys: Vec<String> },
    DescribeTransactions { node: i32, ids: Vec<String> },
    ListTransactions { node: i32 },
}

#[derive(Debug, Default)]
struct Script {
    ports: BTreeMap<i32, u16>,
    /// The coordinator of each transactional id.
    coordinators: BTreeMap<String, i32>,
    /// Answer the next DescribeTransactions for this id with
    /// NOT_COORDINATOR and move it to the other node.
    moves: Option<String>,
    /// Answer the next ListTransactions at this node with
    /// COORDINATOR_LOAD_IN_PROGRESS.
    loading: Option<i32>,
    seen: Vec<Seen>,
}

type Shared = Arc<Mutex<Script>>;

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

fn metadata(script: &Script) -> MetadataResponse {
    MetadataResponse::default()
        .with_brokers(
            script
                .ports
                .iter()
                .map(|(&node, &port)| {
                    MetadataResponseBroker::default()
                        .with_node_id(BrokerId(node))
                        .with_host(text("127.0.0.1"))
                        .with_port(i32::from(port))
                })
                .collect(),
        )
        .with_controller_id(BrokerId(0))
        .with_cluster_id(Some(text("scripted")))
}

fn find_coordinator(
    script: &mut Script,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    assert_eq!(
        request.key_type, 1,
        "transaction coordinators are asked for"
    );
    let keys: Vec<String> = request
        .coordinator_keys
        .iter()
        .map(|k| k.to_string())
        .collect();
    script
        .seen
        .push(Seen::FindCoordinator { keys: keys.clone() });
    let coordinators = keys
        .iter()
        .map(|key| {
            let node = script.coordinators[key];
            Coordinator::default()
                .with_key(text(key))
                .with_node_id(BrokerId(node))
                .with_host(text("127.0.0.1"))
                .with_port(i32::from(script.ports[&node]))
        })
        .collect();
    FindCoordinatorResponse::default().with_coordinators(coordinators)
}

fn describe(
    script: &mut Script,
    node: i32,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let ids: Vec<String> = request
        .transactional_ids
        .iter()
        .map(|id| id.0.to_string())
        .collect();
    script.seen.push(Seen::DescribeTransactions {
        node,
        ids: ids.clone(),
    });
    let states = ids
        .iter()
        .map(|id| {
            let answer = WireDescribed::default()
                .with_transactional_id(kafka_protocol::messages::TransactionalId(text(id)));
            if script.moves.as_deref() == Some(id.as_str()) {
                script.moves = None;
                script.coordinators.insert(id.clone(), 1 - node);
                return answer.with_error_code(16);
            }
            if script.coordinators.get(id) != Some(&node) {
                return answer.with_error_code(16);
            }
            if id == "unknown" {
                return answer.with_error_code(105);
            }
            // The producer id names the node that answered.
            answer
                .with_transaction_state(text("Ongoing"))
                .with_producer_id(ProducerId(100 + i64::from(node)))
                .with_producer_epoch(2)
                .with_transaction_timeout_ms(60_000)
                .with_transaction_start_time_ms(5)
                .with_topics(vec![TopicData::default()
                    .with_topic(TopicName(text("t")))
                    .with_partitions(vec![0])])
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

fn list(script: &mut Script, node: i32) -> ListTransactionsResponse {
    script.seen.push(Seen::ListTransactions { node });
    if script.loading == Some(node) {
        script.loading = None;
        return ListTransactionsResponse::default().with_error_code(14);
    }
    let states = script
        .coordinators
        .iter()
        .filter(|(_, &coordinator)| coordinator == node)
        .map(|(id, _)| {
            WireListed::default()
                .with_transactional_id(kafka_protocol::messages::TransactionalId(text(id)))
                .with_producer_id(ProducerId(100 + i64::from(node)))
                .with_transaction_state(text("Ongoing"))
        })
        .collect();
    ListTransactionsResponse::default().with_transaction_states(states)
}

fn handle(shared: &Shared, node: i32, request: Request) -> Reply {
    let mut script = shared.lock().unwrap();
    match request.api {
        ApiKey::ApiVersions => request.reply(&api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 1, 12),
            (ApiKey::FindCoordinator, 1, 4),
            (ApiKey::DescribeTransactions, 0, 0),
            (ApiKey::ListTransactions, 0, 1),
        ])),
        ApiKey::Metadata => request.reply(&metadata(&script)),
        ApiKey::FindCoordinator => {
            let answer = find_coordinator(&mut script, request.decode());
            request.reply(&answer)
        }
        ApiKey::DescribeTransactions => {
            let answer = describe(&mut script, node, request.decode());
            request.reply(&answer)
        }
        ApiKey::ListTransactions => {
            let answer = list(&mut script, node);
            request.reply(&answer)
        }
        other => {
            drop(script);
            panic!("the scripted cluster does not serve {other:?}")
        }
    }
}

async fn start_cluster(script: Script) -> (Shared, Admin) {
    let shared = Arc::new(Mutex::new(script));
    let mut ports = BTreeMap::new();
    for node in 0..2 {
        let script = shared.clone();
        let broker =
            FakeBroker::start(move |request: Request| handle(&script, node, request)).await;
        ports.insert(node, broker.port());
    }
    let bootstrap = format!("127.0.0.1:{}", ports[&0]);
    shared.lock().unwrap().ports = ports;
    let admin = Admin::builder()
        .client_config(common::client_config(&bootstrap))
        .default_api_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    (shared, admin)
}

fn seen(shared: &Shared) -> Vec<Seen> {
    std::mem::take(&mut shared.lock().unwrap().seen)
}

#[tokio::test]
async fn descriptions_go_per_coordinator_and_a_moved_id_is_found_again() {
    let coordinators = [("a", 0), ("b", 1), ("unknown", 0)]
        .map(|(id, node)| (id.to_owned(), node))
        .into();
    let (shared, admin) = start_cluster(Script {
        coordinators,
        moves: Some("b".into()),
        ..Script::default()
    })
    .await;
    let mut described = admin
        .describe_transactions(["a", "b", "unknown", "a"])
        .await;
    assert_eq!(described.len(), 3, "duplicates merged: {described:?}");

    let a = described.remove("a").unwrap().unwrap();
    assert_eq!((a.coordinator, a.producer_id), (0, 100));
    assert_eq!(a.state, TransactionState::Ongoing);
    assert_eq!(a.partitions, [TopicPartition::new("t", 0)]);
    // "b" moved from node 1 to node 0 and was asked again there.
    let b = described.remove("b").unwrap().unwrap();
    assert_eq!((b.coordinator, b.producer_id), (0, 100));
    let unknown = described.remove("unknown").unwrap().unwrap_err();
    assert_eq!(
        unknown.kafka_code(),
        Some(KafkaCode::TRANSACTIONAL_ID_NOT_FOUND)
    );

    let describe_of = |node: i32, ids: &[&str]| Seen::DescribeTransactions {
        node,
        ids: ids.iter().map(|s| (*s).to_owned()).collect(),
    };
    let mut first_round = seen(&shared);
    let lookups: Vec<Seen> = first_round
        .iter()
        .filter(|s| matches!(s, Seen::FindCoordinator { .. }))
        .cloned()
        .collect();
    assert_eq!(
        lookups,
        [
            Seen::FindCoordinator {
                keys: vec!["a".into(), "b".into(), "unknown".into()]
            },
            Seen::FindCoordinator {
                keys: vec!["b".into()]
            },
        ]
    );
    first_round.retain(|s| matches!(s, Seen::DescribeTransactions { .. }));
    // The first round's two requests run concurrently: compare as a set.
    let (first, retry) = first_round.split_at(2);
    let mut first = first.to_vec();
    first.sort_by_key(|s| format!("{s:?}"));
    assert_eq!(
        first,
        [describe_of(0, &["a", "unknown"]), describe_of(1, &["b"])]
    );
    assert_eq!(retry, [describe_of(0, &["b"])]);
}

#[tokio::test]
async fn listing_asks_every_broker_and_retries_a_loading_one() {
    let coordinators = [("x", 1), ("w", 0), ("y", 0)]
        .map(|(id, node)| (id.to_owned(), node))
        .into();
    let (shared, admin) = start_cluster(Script {
        coordinators,
        loading: Some(0),
        ..Script::default()
    })
    .await;
    let listed = admin
        .list_transactions(&TransactionFilter::new())
        .await
        .unwrap();
    let summary: Vec<(&str, i32, i64)> = listed
        .iter()
        .map(|t| (t.transactional_id.as_str(), t.coordinator, t.producer_id))
        .collect();
    assert_eq!(summary, [("w", 0, 100), ("x", 1, 101), ("y", 0, 100)]);
    let mut asked: Vec<i32> = seen(&shared)
        .into_iter()
        .filter_map(|s| match s {
            Seen::ListTransactions { node } => Some(node),
            _ => None,
        })
        .collect();
    asked.sort();
    // Both brokers asked twice: the loading answer fails the whole round.
    assert_eq!(asked, [0, 0, 1, 1]);
}
