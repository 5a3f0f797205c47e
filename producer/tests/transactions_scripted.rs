//! The transactional producer against a scripted transaction coordinator
//! (testkit's `FakeBroker`), which answers chosen requests with the errors
//! a real one rarely gives on demand. Each case checks one class of the
//! error table in docs/PRODUCER.md end to end (retried, coordinator
//! looked up again, abortable, fenced, fatal), the order of the requests
//! (a partition's Produce only after AddPartitionsToTxn succeeded) and the
//! transactions V1 versions.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use durian_core::record::BatchHeader;
use durian_core::KafkaCode;
use durian_producer::{
    ConsumerGroupMetadata, FatalError, Producer, ProducerError, ProducerRecord, TopicPartition,
    TransactionState,
};
use durian_testkit::scripted::{self, FakeBroker, Reply, Request};
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

/// One request the coordinator saw, as the tests compare them.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    FindCoordinator(i8),
    InitProducerId {
        producer_id: i64,
        epoch: i16,
    },
    AddPartitions {
        version: i16,
        code: i16,
    },
    Produce {
        version: i16,
        transactional: bool,
        id: Option<String>,
        code: i16,
        epoch: i16,
        sequence: i32,
    },
    AddOffsets {
        code: i16,
    },
    TxnOffsetCommit {
        version: i16,
        generation: i32,
        member: String,
        code: i16,
    },
    EndTxn {
        version: i16,
        commit: bool,
        code: i16,
    },
}

#[derive(Default)]
struct Script {
    /// Finalize `transaction.version` 2 (transactions V2) in ApiVersions.
    v2: bool,
    /// Error codes answered to the first requests of each API, then 0.
    errors: HashMap<ApiKey, VecDeque<KafkaCode>>,
    seen: Vec<Seen>,
    next_offset: i64,
}

impl Script {
    fn code(&mut self, api: ApiKey) -> i16 {
        self.errors
            .get_mut(&api)
            .and_then(VecDeque::pop_front)
            .map_or(0, |code| code.0)
    }
}

struct Coordinator {
    server: FakeBroker,
    script: Arc<Mutex<Script>>,
}

impl Coordinator {
    async fn start(errors: &[(ApiKey, &[KafkaCode])]) -> Coordinator {
        Coordinator::start_with(false, errors).await
    }

    async fn start_with(v2: bool, errors: &[(ApiKey, &[KafkaCode])]) -> Coordinator {
        let script = Arc::new(Mutex::new(Script {
            v2,
            errors: errors
                .iter()
                .map(|(api, codes)| (*api, codes.iter().copied().collect()))
                .collect(),
            ..Script::default()
        }));
        let server = FakeBroker::start({
            let script = script.clone();
            move |request: Request| answer(&script, request)
        })
        .await;
        Coordinator { server, script }
    }

    fn producer(&self) -> Producer {
        Producer::builder()
            .bootstrap_servers([self.server.bootstrap()])
            .transactional_id("scripted-tx")
            .linger(Duration::ZERO)
            .max_block(Duration::from_secs(10))
            .configure(|c| {
                c.client.retry_backoff = Duration::from_millis(5);
                c.client.retry_backoff_max = Duration::from_millis(20);
            })
            .build()
            .unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.script.lock().unwrap().seen.clone()
    }

    /// The requests seen, without the coordinator lookups.
    fn calls(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| !matches!(s, Seen::FindCoordinator(_)))
            .collect()
    }
}

fn answer(script: &Mutex<Script>, request: Request) -> Reply {
    let mut script = script.lock().unwrap();
    let version = request.version;
    match request.api {
        ApiKey::ApiVersions => {
            let mut versions = scripted::api_versions(&[
                (ApiKey::ApiVersions, 0, 3),
                (ApiKey::Metadata, 1, 12),
                (ApiKey::FindCoordinator, 0, 3),
                (ApiKey::InitProducerId, 0, 5),
                (ApiKey::AddPartitionsToTxn, 0, 5),
                (ApiKey::AddOffsetsToTxn, 0, 4),
                (ApiKey::TxnOffsetCommit, 0, 5),
                (ApiKey::EndTxn, 0, 5),
                (ApiKey::Produce, 3, 12),
            ]);
            if script.v2 {
                versions.finalized_features =
                    vec![api_versions_response::FinalizedFeatureKey::default()
                        .with_name(StrBytes::from_static_str("transaction.version"))
                        .with_min_version_level(2)
                        .with_max_version_level(2)];
            }
            request.reply(&versions)
        }
        ApiKey::Metadata => request.reply(&scripted::metadata(request.port, &request.decode())),
        ApiKey::FindCoordinator => {
            let asked: FindCoordinatorRequest = request.decode();
            script.seen.push(Seen::FindCoordinator(asked.key_type));
            request.reply(
                &FindCoordinatorResponse::default()
                    .with_node_id(BrokerId(scripted::NODE_ID))
                    .with_host(StrBytes::from_static_str("127.0.0.1"))
                    .with_port(i32::from(request.port)),
            )
        }
        ApiKey::InitProducerId => {
            let asked: InitProducerIdRequest = request.decode();
            script.seen.push(Seen::InitProducerId {
                producer_id: asked.producer_id.0,
                epoch: asked.producer_epoch,
            });
            let code = script.code(request.api);
            let (id, epoch) = if asked.producer_id.0 >= 0 {
                (asked.producer_id.0, asked.producer_epoch + 1)
            } else {
                (4000, 0)
            };
            request.reply(
                &InitProducerIdResponse::default()
                    .with_error_code(code)
                    .with_producer_id(ProducerId(id))
                    .with_producer_epoch(epoch),
            )
        }
        ApiKey::AddPartitionsToTxn => {
            let asked: AddPartitionsToTxnRequest = request.decode();
            let code = script.code(request.api);
            script.seen.push(Seen::AddPartitions { version, code });
            let results = asked
                .v3_and_below_topics
                .iter()
                .map(|topic| {
                    AddPartitionsToTxnTopicResult::default()
                        .with_name(topic.name.clone())
                        .with_results_by_partition(
                            topic
                                .partitions
                                .iter()
                                .map(|p| {
                                    AddPartitionsToTxnPartitionResult::default()
                                        .with_partition_index(*p)
                                        .with_partition_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect();
            request.reply(
                &AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results),
            )
        }
        ApiKey::Produce => {
            let asked: ProduceRequest = request.decode();
            let code = script.code(request.api);
            let mut topics = Vec::new();
            for topic in asked.topic_data {
                let mut partitions = Vec::new();
                for data in topic.partition_data {
                    let records = data.records.unwrap_or_default();
                    let header = BatchHeader::parse(&records).unwrap();
                    script.seen.push(Seen::Produce {
                        version,
                        transactional: header.is_transactional(),
                        id: asked.transactional_id.as_ref().map(|id| id.0.to_string()),
                        code,
                        epoch: header.producer_epoch,
                        sequence: header.base_sequence,
                    });
                    let base = script.next_offset;
                    if code == 0 {
                        script.next_offset += i64::from(header.record_count);
                    }
                    partitions.push(
                        PartitionProduceResponse::default()
                            .with_index(data.index)
                            .with_error_code(code)
                            .with_base_offset(if code == 0 { base } else { -1 }),
                    );
                }
                topics.push(
                    TopicProduceResponse::default()
                        .with_name(topic.name)
                        .with_partition_responses(partitions),
                );
            }
            request.reply(&ProduceResponse::default().with_responses(topics))
        }
        ApiKey::AddOffsetsToTxn => {
            let code = script.code(request.api);
            script.seen.push(Seen::AddOffsets { code });
            request.reply(&AddOffsetsToTxnResponse::default().with_error_code(code))
        }
        ApiKey::TxnOffsetCommit => {
            let asked: TxnOffsetCommitRequest = request.decode();
            let code = script.code(request.api);
            script.seen.push(Seen::TxnOffsetCommit {
                version,
                generation: asked.generation_id,
                member: asked.member_id.to_string(),
                code,
            });
            let topics = asked
                .topics
                .iter()
                .map(|t| {
                    TxnOffsetCommitResponseTopic::default()
                        .with_name(t.name.clone())
                        .with_partitions(
                            t.partitions
                                .iter()
                                .map(|p| {
                                    TxnOffsetCommitResponsePartition::default()
                                        .with_partition_index(p.partition_index)
                                        .with_error_code(code)
                                })
                                .collect(),
                        )
                })
                .collect();
            request.reply(&TxnOffsetCommitResponse::default().with_topics(topics))
        }
        ApiKey::EndTxn => {
            let asked: EndTxnRequest = request.decode();
            let code = script.code(request.api);
            script.seen.push(Seen::EndTxn {
                version,
                commit: asked.committed,
                code,
            });
            // Transactions V2: the coordinator bumps the epoch and says so.
            let (id, epoch) = if version >= 5 && code == 0 {
                (asked.producer_id.0, asked.producer_epoch + 1)
            } else {
                (-1, -1)
            };
            request.reply(
                &EndTxnResponse::default()
                    .with_error_code(code)
                    .with_producer_id(ProducerId(id))
                    .with_producer_epoch(epoch),
            )
        }
        other => panic!("the scripted coordinator does not serve {other:?}"),
    }
}

fn record(value: &str) -> ProducerRecord {
    ProducerRecord::new("tx-topic", value.to_owned()).with_partition(0)
}

fn produce_v11(code: i16) -> Seen {
    produce(11, code, 0, 0)
}

fn produce(version: i16, code: i16, epoch: i16, sequence: i32) -> Seen {
    Seen::Produce {
        version,
        transactional: true,
        id: Some("scripted-tx".to_owned()),
        code,
        epoch,
        sequence,
    }
}

#[tokio::test]
async fn transient_errors_are_retried_and_a_moved_coordinator_is_found_again() {
    let coordinator = Coordinator::start(&[
        (
            ApiKey::InitProducerId,
            &[KafkaCode::COORDINATOR_LOAD_IN_PROGRESS],
        ),
        (
            ApiKey::AddPartitionsToTxn,
            &[KafkaCode::CONCURRENT_TRANSACTIONS],
        ),
        (ApiKey::EndTxn, &[KafkaCode::NOT_COORDINATOR]),
    ])
    .await;
    let producer = coordinator.producer();
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    let delivery = producer.send(record("one")).await.unwrap();
    producer.commit_transaction().await.unwrap();
    assert_eq!(delivery.await.unwrap().offset, 0);
    assert_eq!(
        coordinator.calls(),
        [
            Seen::InitProducerId {
                producer_id: -1,
                epoch: -1
            },
            Seen::InitProducerId {
                producer_id: -1,
                epoch: -1
            },
            // V1: AddPartitionsToTxn v3, Produce v11, EndTxn v4, and the
            // partition's batch only after the partition was added.
            Seen::AddPartitions {
                version: 3,
                code: KafkaCode::CONCURRENT_TRANSACTIONS.0
            },
            Seen::AddPartitions {
                version: 3,
                code: 0
            },
            produce_v11(0),
            Seen::EndTxn {
                version: 4,
                commit: true,
                code: KafkaCode::NOT_COORDINATOR.0
            },
            Seen::EndTxn {
                version: 4,
                commit: true,
                code: 0
            },
        ]
    );
    let lookups = coordinator
        .seen()
        .iter()
        .filter(|s| **s == Seen::FindCoordinator(1))
        .count();
    assert!(
        lookups >= 2,
        "NOT_COORDINATOR looks the coordinator up again"
    );
    producer.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn a_refused_partition_dooms_the_transaction_until_it_is_aborted() {
    let coordinator = Coordinator::start(&[(
        ApiKey::AddPartitionsToTxn,
        &[KafkaCode::TOPIC_AUTHORIZATION_FAILED],
    )])
    .await;
    let producer = coordinator.producer();
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    let delivery = producer.send(record("refused")).await.unwrap();
    let failed = delivery.await.unwrap_err();
    assert!(failed.is_transaction_abortable(), "{failed}");
    assert_eq!(
        producer.transaction_state(),
        Some(TransactionState::AbortableError)
    );
    let send = producer.send(record("more")).await.unwrap_err();
    assert!(send.is_transaction_abortable(), "{send}");
    let commit = producer.commit_transaction().await.unwrap_err();
    assert!(commit.is_transaction_abortable(), "{commit}");
    assert!(
        commit.to_string().contains("TOPIC_AUTHORIZATION_FAILED"),
        "{commit}"
    );
    producer.abort_transaction().await.unwrap();
    // Nothing was added, so there was nothing to end.
    assert!(
        !coordinator
            .calls()
            .iter()
            .any(|s| matches!(s, Seen::Produce { .. } | Seen::EndTxn { .. })),
        "{:?}",
        coordinator.calls()
    );
    // The next transaction goes through.
    producer.begin_transaction().unwrap();
    producer.send(record("ok")).await.unwrap();
    producer.commit_transaction().await.unwrap();
    let calls = coordinator.calls();
    assert_eq!(
        calls[calls.len() - 2..],
        [
            produce_v11(0),
            Seen::EndTxn {
                version: 4,
                commit: true,
                code: 0
            }
        ]
    );
    producer.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn fencing_at_end_txn_ends_the_producer() {
    let coordinator = Coordinator::start(&[(ApiKey::EndTxn, &[KafkaCode::PRODUCER_FENCED])]).await;
    let producer = coordinator.producer();
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    producer.send(record("x")).await.unwrap();
    let commit = producer.commit_transaction().await.unwrap_err();
    assert!(
        matches!(commit, ProducerError::ProducerFenced { .. }),
        "{commit}"
    );
    assert_eq!(
        producer.transaction_state(),
        Some(TransactionState::FatalError)
    );
    let send = producer.send(record("y")).await.unwrap_err();
    assert!(
        matches!(send, ProducerError::ProducerFenced { .. }),
        "{send}"
    );
    let abort = producer.abort_transaction().await.unwrap_err();
    assert!(abort.is_fatal(), "{abort}");
    let _ = producer.close(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn fencing_on_produce_ends_the_producer() {
    let coordinator =
        Coordinator::start(&[(ApiKey::Produce, &[KafkaCode::INVALID_PRODUCER_EPOCH])]).await;
    let producer = coordinator.producer();
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    let delivery = producer.send(record("x")).await.unwrap();
    let failed = delivery.await.unwrap_err();
    assert!(failed.is_fatal(), "{failed}");
    let commit = producer.commit_transaction().await.unwrap_err();
    assert!(
        matches!(commit, ProducerError::ProducerFenced { .. }),
        "{commit}"
    );
    let _ = producer.close(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_stale_generation_dooms_the_transaction_and_the_abort_ends_it() {
    let coordinator =
        Coordinator::start(&[(ApiKey::TxnOffsetCommit, &[KafkaCode::ILLEGAL_GENERATION])]).await;
    let producer = coordinator.producer();
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    let group = ConsumerGroupMetadata {
        generation_id: 7,
        member_id: "member-1".to_owned(),
        ..ConsumerGroupMetadata::new("g")
    };
    let offsets = BTreeMap::from([(TopicPartition::new("in", 0), 10)]);
    let refused = producer
        .send_offsets_to_transaction(&offsets, &group)
        .await
        .unwrap_err();
    assert!(refused.is_transaction_abortable(), "{refused}");
    producer.abort_transaction().await.unwrap();
    assert_eq!(
        coordinator.calls()[1..],
        [
            Seen::AddOffsets { code: 0 },
            Seen::TxnOffsetCommit {
                version: 4,
                generation: 7,
                member: "member-1".to_owned(),
                code: KafkaCode::ILLEGAL_GENERATION.0
            },
            // The offsets joined the transaction: EndTxn ends it.
            Seen::EndTxn {
                version: 4,
                commit: false,
                code: 0
            },
        ]
    );
    let lookups: Vec<_> = coordinator
        .seen()
        .into_iter()
        .filter(|s| matches!(s, Seen::FindCoordinator(_)))
        .collect();
    assert!(
        lookups.contains(&Seen::FindCoordinator(0)),
        "group coordinator looked up"
    );
    producer.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn an_unauthorized_transactional_id_is_fatal_and_misuse_is_refused() {
    let coordinator = Coordinator::start(&[(
        ApiKey::InitProducerId,
        &[KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
    )])
    .await;
    let producer = coordinator.producer();
    let early = producer.begin_transaction().unwrap_err();
    assert!(
        matches!(
            early,
            ProducerError::InvalidTransactionState {
                state: Some(TransactionState::Uninitialized),
                ..
            }
        ),
        "{early}"
    );
    let init = producer.init_transactions().await.unwrap_err();
    assert!(
        matches!(init, ProducerError::Fatal(FatalError::InitProducerId(_))),
        "{init}"
    );
    assert!(producer.send(record("x")).await.unwrap_err().is_fatal());
    let _ = producer.close(Duration::from_secs(5)).await;

    // Transactional calls on a producer without transactional.id.
    let plain = Producer::builder()
        .bootstrap_servers([coordinator.server.bootstrap()])
        .build()
        .unwrap();
    let error = plain.begin_transaction().unwrap_err();
    assert!(
        matches!(
            error,
            ProducerError::InvalidTransactionState { state: None, .. }
        ),
        "{error}"
    );
    assert_eq!(plain.transaction_state(), None);
    plain.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn transactions_v2_add_partitions_by_produce_and_bump_the_epoch_at_each_end() {
    let coordinator = Coordinator::start_with(true, &[]).await;
    let producer = coordinator.producer();
    producer.init_transactions().await.unwrap();
    producer.begin_transaction().unwrap();
    // Awaited one by one: one batch each.
    producer.send(record("a")).await.unwrap().await.unwrap();
    producer.send(record("b")).await.unwrap().await.unwrap();
    let group = ConsumerGroupMetadata::new("g");
    let offsets = BTreeMap::from([(TopicPartition::new("in", 0), 1)]);
    producer
        .send_offsets_to_transaction(&offsets, &group)
        .await
        .unwrap();
    producer.commit_transaction().await.unwrap();
    producer.begin_transaction().unwrap();
    producer.send(record("c")).await.unwrap().await.unwrap();
    producer.abort_transaction().await.unwrap();
    producer.begin_transaction().unwrap();
    producer.send(record("d")).await.unwrap();
    producer.commit_transaction().await.unwrap();
    let calls = coordinator.calls();
    // No AddPartitionsToTxn or AddOffsetsToTxn; Produce v12, EndTxn v5,
    // TxnOffsetCommit v5; each EndTxn bumps the epoch and the next
    // transaction's sequences start over at 0.
    let mut produced = calls
        .iter()
        .filter(|s| matches!(s, Seen::Produce { .. }))
        .cloned()
        .collect::<Vec<_>>();
    produced.dedup();
    assert_eq!(
        produced,
        [
            produce(12, 0, 0, 0),
            produce(12, 0, 0, 1),
            produce(12, 0, 1, 0),
            produce(12, 0, 2, 0),
        ],
        "{calls:?}"
    );
    let rest: Vec<_> = calls
        .iter()
        .filter(|s| !matches!(s, Seen::Produce { .. }))
        .cloned()
        .collect();
    assert_eq!(
        rest,
        [
            Seen::InitProducerId {
                producer_id: -1,
                epoch: -1
            },
            Seen::TxnOffsetCommit {
                version: 5,
                generation: -1,
                member: String::new(),
                code: 0
            },
            Seen::EndTxn {
                version: 5,
                commit: true,
                code: 0
            },
            Seen::EndTxn {
                version: 5,
                commit: false,
                code: 0
            },
            Seen::EndTxn {
                version: 5,
                commit: true,
                code: 0
            },
        ]
    );
    producer.close(Duration::from_secs(5)).await.unwrap();
}
