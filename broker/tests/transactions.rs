//! The transaction coordinator over the wire: a transactional producer's
//! requests one by one (InitProducerId, AddPartitionsToTxn, transactional
//! Produce, AddOffsetsToTxn, TxnOffsetCommit, EndTxn commit and abort),
//! fencing by a second instance, the timeout abort, and a restart between
//! PrepareCommit and the markers.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::TestClient;
use durian_broker::testing::Cluster;
use durian_broker::{Broker, TxnConfig};
use durian_core::record::{BatchWriter, NO_HEADERS};
use durian_testkit::wait::eventually;
use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, CreateTopicsRequest,
    DescribeTransactionsRequest, EndTxnRequest, FetchRequest, FindCoordinatorRequest, GroupId,
    InitProducerIdRequest, ListTransactionsRequest, OffsetFetchRequest, ProduceRequest, ProducerId,
    TopicName, TransactionalId, TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

const WAIT: Duration = Duration::from_secs(15);

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

fn name(topic: &str) -> TopicName {
    TopicName(text(topic))
}

fn tid(id: &str) -> TransactionalId {
    TransactionalId(text(id))
}

/// A producer's id and epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Producer {
    id: i64,
    epoch: i16,
}

async fn create_topic(client: &mut TestClient, topic: &str, partitions: i32) {
    let created = client
        .call(
            &CreateTopicsRequest::default()
                .with_timeout_ms(1000)
                .with_topics(vec![CreatableTopic::default()
                    .with_name(name(topic))
                    .with_num_partitions(partitions)
                    .with_replication_factor(1)]),
            7,
        )
        .await;
    assert_eq!(created.topics[0].error_code, 0);
}

async fn init(client: &mut TestClient, id: &str, timeout_ms: i32) -> Result<Producer, i16> {
    let answer = client
        .call(
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(tid(id)))
                .with_transaction_timeout_ms(timeout_ms),
            4,
        )
        .await;
    match answer.error_code {
        0 => Ok(Producer {
            id: answer.producer_id.0,
            epoch: answer.producer_epoch,
        }),
        code => Err(code),
    }
}

/// InitProducerId, retried while an abort of the previous instance's
/// transaction completes (CONCURRENT_TRANSACTIONS).
async fn init_eventually(client: &mut TestClient, id: &str) -> Producer {
    eventually(WAIT, "InitProducerId to succeed", async || {
        match init(client, id, 60_000).await {
            Ok(producer) => Some(producer),
            Err(code) if code == ResponseError::ConcurrentTransactions.code() => None,
            Err(code) => panic!("InitProducerId failed with {code}"),
        }
    })
    .await
}

async fn add_partitions(
    client: &mut TestClient,
    id: &str,
    p: Producer,
    topic: &str,
    partitions: &[i32],
) -> Vec<i16> {
    let answer = client
        .call(
            &AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(tid(id))
                .with_v3_and_below_producer_id(ProducerId(p.id))
                .with_v3_and_below_producer_epoch(p.epoch)
                .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                    .with_name(name(topic))
                    .with_partitions(partitions.to_vec())]),
            3,
        )
        .await;
    answer.results_by_topic_v3_and_below[0]
        .results_by_partition
        .iter()
        .map(|r| r.partition_error_code)
        .collect()
}

fn txn_batch(p: Producer, sequence: i32, values: &[&str]) -> Bytes {
    let mut writer = BatchWriter::builder()
        .producer(p.id, p.epoch, sequence)
        .transactional(true)
        .build();
    for (i, value) in values.iter().enumerate() {
        writer
            .try_append(
                common::BASE_TIMESTAMP.to_owned() + i as i64,
                None,
                Some(value.as_bytes()),
                NO_HEADERS,
            )
            .unwrap();
    }
    writer.finish().unwrap()
}

async fn produce(
    client: &mut TestClient,
    id: &str,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> i16 {
    let answer = client
        .call(
            &ProduceRequest::default()
                .with_transactional_id(Some(tid(id)))
                .with_acks(-1)
                .with_timeout_ms(1000)
                .with_topic_data(vec![TopicProduceData::default()
                    .with_name(name(topic))
                    .with_partition_data(vec![PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(records))])]),
            9,
        )
        .await;
    answer.responses[0].partition_responses[0].error_code
}

async fn end(client: &mut TestClient, id: &str, p: Producer, commit: bool, version: i16) -> i16 {
    client
        .call(
            &EndTxnRequest::default()
                .with_transactional_id(tid(id))
                .with_producer_id(ProducerId(p.id))
                .with_producer_epoch(p.epoch)
                .with_committed(commit),
            version,
        )
        .await
        .error_code
}

/// State name, producer id and epoch of `id`, per DescribeTransactions.
async fn describe(client: &mut TestClient, id: &str) -> (String, Producer) {
    let answer = client
        .call(
            &DescribeTransactionsRequest::default().with_transactional_ids(vec![tid(id)]),
            0,
        )
        .await;
    let state = &answer.transaction_states[0];
    assert_eq!(state.error_code, 0, "DescribeTransactions of {id}");
    (
        state.transaction_state.to_string(),
        Producer {
            id: state.producer_id.0,
            epoch: state.producer_epoch,
        },
    )
}

async fn wait_for_state(client: &mut TestClient, id: &str, wanted: &str) -> Producer {
    eventually(WAIT, &format!("{id} to reach {wanted}"), async || {
        let (state, producer) = describe(client, id).await;
        (state == wanted).then_some(producer)
    })
    .await
}

async fn add_offsets(client: &mut TestClient, id: &str, p: Producer, group: &str) -> i16 {
    client
        .call(
            &AddOffsetsToTxnRequest::default()
                .with_transactional_id(tid(id))
                .with_producer_id(ProducerId(p.id))
                .with_producer_epoch(p.epoch)
                .with_group_id(GroupId(text(group))),
            3,
        )
        .await
        .error_code
}

async fn txn_offset_commit(
    client: &mut TestClient,
    id: &str,
    p: Producer,
    group: &str,
    topic: &str,
    offset: i64,
) -> i16 {
    let answer = client
        .call(
            &TxnOffsetCommitRequest::default()
                .with_transactional_id(tid(id))
                .with_group_id(GroupId(text(group)))
                .with_producer_id(ProducerId(p.id))
                .with_producer_epoch(p.epoch)
                .with_generation_id(-1)
                .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                    .with_name(name(topic))
                    .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(offset)
                        .with_committed_leader_epoch(-1)])]),
            3,
        )
        .await;
    answer.topics[0].partitions[0].error_code
}

/// (error code, committed offset) of `topic`-0 for `group`, asking for
/// stable offsets.
async fn stable_offset(client: &mut TestClient, group: &str, topic: &str) -> (i16, i64) {
    let answer = client
        .call(
            &OffsetFetchRequest::default()
                .with_group_id(GroupId(text(group)))
                .with_require_stable(true)
                .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                    .with_name(name(topic))
                    .with_partition_indexes(vec![0])])),
            7,
        )
        .await;
    let p = &answer.topics[0].partitions[0];
    (p.error_code, p.committed_offset)
}

/// (high watermark, last stable offset) of `topic`-`partition`.
async fn offsets_of(client: &mut TestClient, topic: &str, partition: i32) -> (i64, i64) {
    let answer = client
        .call(
            &FetchRequest::default()
                .with_max_wait_ms(0)
                .with_session_epoch(-1)
                .with_max_bytes(1 << 20)
                .with_topics(vec![FetchTopic::default()
                    .with_topic(name(topic))
                    .with_partitions(vec![FetchPartition::default()
                        .with_partition(partition)
                        .with_partition_max_bytes(1 << 20)])]),
            12,
        )
        .await;
    let p = &answer.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    (p.high_watermark, p.last_stable_offset)
}

#[tokio::test]
async fn transactions_commit_and_abort_over_the_wire() {
    let broker = common::start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client, "orders", 2).await;
    create_topic(&mut client, "input", 1).await;

    let coordinator = client
        .call(
            &FindCoordinatorRequest::default()
                .with_key_type(1)
                .with_key(text("tx")),
            3,
        )
        .await;
    assert_eq!((coordinator.error_code, coordinator.node_id.0), (0, 0));
    assert_eq!(
        init(&mut client, "tx", 900_001).await,
        Err(ResponseError::InvalidTransactionTimeout.code())
    );
    let p = init(&mut client, "tx", 60_000).await.unwrap();
    assert_eq!(p.epoch, 0);

    // KIP-890: a transactional batch for a partition not in the transaction is refused.
    assert_eq!(
        produce(&mut client, "tx", "orders", 0, txn_batch(p, 0, &["early"])).await,
        ResponseError::InvalidTxnState.code()
    );
    // One unknown partition fails the whole request; nothing is added.
    let codes = add_partitions(&mut client, "tx", p, "orders", &[0, 7]).await;
    assert_eq!(
        codes,
        vec![
            ResponseError::OperationNotAttempted.code(),
            ResponseError::UnknownTopicOrPartition.code()
        ]
    );
    assert_eq!(describe(&mut client, "tx").await.0, "Empty");
    assert_eq!(
        add_partitions(&mut client, "tx", p, "orders", &[0, 1]).await,
        vec![0, 0]
    );
    assert_eq!(describe(&mut client, "tx").await.0, "Ongoing");
    assert_eq!(
        produce(&mut client, "tx", "orders", 0, txn_batch(p, 0, &["a", "b"])).await,
        0
    );
    let (high, stable) = offsets_of(&mut client, "orders", 0).await;
    assert_eq!((high, stable), (2, 0), "the open transaction holds the LSO");
    // v4+ (a broker's KIP-890 check): verify_only answers per partition
    // and adds nothing.
    let verified = client
        .call(
            &AddPartitionsToTxnRequest::default().with_transactions(vec![
                AddPartitionsToTxnTransaction::default()
                    .with_transactional_id(tid("tx"))
                    .with_producer_id(ProducerId(p.id))
                    .with_producer_epoch(p.epoch)
                    .with_verify_only(true)
                    .with_topics(vec![AddPartitionsToTxnTopic::default()
                        .with_name(name("input"))
                        .with_partitions(vec![0])]),
                AddPartitionsToTxnTransaction::default()
                    .with_transactional_id(tid("tx"))
                    .with_producer_id(ProducerId(p.id))
                    .with_producer_epoch(p.epoch)
                    .with_verify_only(true)
                    .with_topics(vec![AddPartitionsToTxnTopic::default()
                        .with_name(name("orders"))
                        .with_partitions(vec![1])]),
            ]),
            4,
        )
        .await;
    let verdicts: Vec<i16> = verified
        .results_by_transaction
        .iter()
        .map(|r| r.topic_results[0].results_by_partition[0].partition_error_code)
        .collect();
    assert_eq!(verdicts, vec![ResponseError::InvalidTxnState.code(), 0]);

    assert_eq!(add_offsets(&mut client, "tx", p, "g").await, 0);
    assert_eq!(
        txn_offset_commit(&mut client, "tx", p, "g", "input", 5).await,
        0
    );
    assert_eq!(
        stable_offset(&mut client, "g", "input").await,
        (ResponseError::UnstableOffsetCommit.code(), -1)
    );
    let long_metadata = client
        .call(
            &TxnOffsetCommitRequest::default()
                .with_transactional_id(tid("tx"))
                .with_group_id(GroupId(text("g")))
                .with_producer_id(ProducerId(p.id))
                .with_producer_epoch(p.epoch)
                .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                    .with_name(name("input"))
                    .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                        .with_committed_offset(6)
                        .with_committed_metadata(Some(text(&"m".repeat(5000))))])]),
            2,
        )
        .await;
    assert_eq!(
        long_metadata.topics[0].partitions[0].error_code,
        ResponseError::OffsetMetadataTooLarge.code()
    );

    assert_eq!(end(&mut client, "tx", p, true, 3).await, 0);
    wait_for_state(&mut client, "tx", "CompleteCommit").await;
    assert_eq!(stable_offset(&mut client, "g", "input").await, (0, 5));
    let (high, stable) = offsets_of(&mut client, "orders", 0).await;
    assert_eq!(
        (high, stable),
        (3, 3),
        "data and the commit marker, all stable"
    );
    assert_eq!(
        end(&mut client, "tx", p, false, 3).await,
        ResponseError::InvalidTxnState.code(),
        "nothing open to abort"
    );

    // The next transaction aborts: its offsets never become visible.
    assert_eq!(
        add_partitions(&mut client, "tx", p, "orders", &[1]).await,
        vec![0]
    );
    assert_eq!(
        produce(&mut client, "tx", "orders", 1, txn_batch(p, 0, &["gone"])).await,
        0
    );
    assert_eq!(add_offsets(&mut client, "tx", p, "g").await, 0);
    assert_eq!(
        txn_offset_commit(&mut client, "tx", p, "g", "input", 9).await,
        0
    );
    assert_eq!(end(&mut client, "tx", p, false, 3).await, 0);
    wait_for_state(&mut client, "tx", "CompleteAbort").await;
    assert_eq!(stable_offset(&mut client, "g", "input").await, (0, 5));
    // orders-1: the first transaction's commit marker, "gone", its abort marker.
    let (high, stable) = offsets_of(&mut client, "orders", 1).await;
    assert_eq!((high, stable), (3, 3));

    let listed = client
        .call(
            &ListTransactionsRequest::default()
                .with_state_filters(vec![text("CompleteAbort"), text("Nonsense")]),
            1,
        )
        .await;
    assert_eq!(listed.unknown_state_filters, vec![text("Nonsense")]);
    assert_eq!(listed.transaction_states.len(), 1);
    assert_eq!(listed.transaction_states[0].transactional_id, tid("tx"));
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_second_instance_fences_the_first_and_timeouts_abort() {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .txn_config(TxnConfig {
            abort_check_interval: Duration::from_millis(50),
            ..TxnConfig::default()
        })
        .start()
        .await
        .unwrap();
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client, "t", 1).await;

    let first = init(&mut client, "fx", 60_000).await.unwrap();
    assert_eq!(
        add_partitions(&mut client, "fx", first, "t", &[0]).await,
        vec![0]
    );
    assert_eq!(
        produce(&mut client, "fx", "t", 0, txn_batch(first, 0, &["x"])).await,
        0
    );
    // The second instance aborts the first one's transaction, then gets
    // the epoch after the fencing bump.
    assert_eq!(
        init(&mut client, "fx", 60_000).await,
        Err(ResponseError::ConcurrentTransactions.code())
    );
    let second = init_eventually(&mut client, "fx").await;
    assert_eq!(second.id, first.id);
    assert_eq!(second.epoch, first.epoch + 2);
    assert_eq!(
        produce(&mut client, "fx", "t", 0, txn_batch(first, 1, &["zombie"])).await,
        ResponseError::InvalidProducerEpoch.code()
    );
    assert_eq!(
        end(&mut client, "fx", first, true, 3).await,
        ResponseError::ProducerFenced.code()
    );
    assert_eq!(
        end(&mut client, "fx", first, true, 1).await,
        ResponseError::InvalidProducerEpoch.code(),
        "before v2 a fenced producer hears INVALID_PRODUCER_EPOCH"
    );
    let (high, stable) = offsets_of(&mut client, "t", 0).await;
    assert_eq!(high, stable, "the aborted transaction holds nothing back");

    // A transaction that outlives its timeout is aborted, its producer fenced.
    let slow = init(&mut client, "slow", 200).await.unwrap();
    assert_eq!(
        add_partitions(&mut client, "slow", slow, "t", &[0]).await,
        vec![0]
    );
    let after = wait_for_state(&mut client, "slow", "CompleteAbort").await;
    assert_eq!(after.epoch, slow.epoch + 1);
    assert_eq!(
        end(&mut client, "slow", slow, true, 3).await,
        ResponseError::ProducerFenced.code()
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restart_completes_a_prepared_commit() {
    let dir = tempfile::tempdir().unwrap();
    let start = || Cluster::builder().nodes(1).data_dir(dir.path()).start();
    let cluster = start().await.unwrap();
    cluster.create_topic("t", 1).await.unwrap();
    let node = cluster.node_ids()[0];
    let mut client = TestClient::connect(cluster.address(node).unwrap()).await;
    let p = init(&mut client, "rx", 60_000).await.unwrap();
    assert_eq!(
        add_partitions(&mut client, "rx", p, "t", &[0]).await,
        vec![0]
    );
    assert_eq!(
        produce(&mut client, "rx", "t", 0, txn_batch(p, 0, &["kept"])).await,
        0
    );
    assert_eq!(add_offsets(&mut client, "rx", p, "g").await, 0);
    assert_eq!(
        txn_offset_commit(&mut client, "rx", p, "g", "t", 1).await,
        0
    );
    // The broker "stops" right after writing PrepareCommit.
    cluster.hold_transaction_completions(true);
    assert_eq!(end(&mut client, "rx", p, true, 3).await, 0);
    assert_eq!(describe(&mut client, "rx").await.0, "PrepareCommit");
    assert_eq!(offsets_of(&mut client, "t", 0).await, (1, 0));
    drop(client);
    cluster.shutdown().await.unwrap();

    let cluster = start().await.unwrap();
    let mut client = TestClient::connect(cluster.address(node).unwrap()).await;
    wait_for_state(&mut client, "rx", "CompleteCommit").await;
    assert_eq!(offsets_of(&mut client, "t", 0).await, (2, 2));
    assert_eq!(stable_offset(&mut client, "g", "t").await, (0, 1));
    drop(client);
    cluster.shutdown().await.unwrap();
}
