//! The partition side of transactions over the wire: transactional
//! batches produced by hand, markers written through the broker's marker
//! path, then read_committed Fetch and ListOffsets, DescribeProducers, and
//! the durian consumer reading committed records only.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{start_broker, TestClient};
use durian_broker::{BrokerHandle, TxnMarker};
use durian_core::record::{BatchScanner, BatchWriter, NO_HEADERS};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, CreateTopicsRequest, DescribeProducersRequest, FetchRequest,
    InitProducerIdRequest, ListOffsetsRequest, ProduceRequest, ProducerId, TopicName,
    TransactionalId,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

const TOPIC: &str = "txn-storage";

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

async fn create_topic(client: &mut TestClient) -> Uuid {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(TOPIC))
            .with_num_partitions(1)
            .with_replication_factor(-1)]);
    let response = client.call(&request, 7).await;
    assert_eq!(response.topics[0].error_code, 0);
    response.topics[0].topic_id
}

/// A producer id and epoch for `transactional_id`, from InitProducerId.
async fn init_producer(client: &mut TestClient, transactional_id: &str) -> (i64, i16) {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(StrBytes::from_string(
            transactional_id.to_string(),
        ))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let response = client.call(&request, 4).await;
    assert_eq!(response.error_code, 0);
    (response.producer_id.0, response.producer_epoch)
}

/// Produces `values` as one batch (transactional when `producer` is set,
/// with its sequence) and returns the base offset.
async fn produce(
    client: &mut TestClient,
    producer: Option<(&str, i64, i16, i32)>,
    values: &[&str],
) -> i64 {
    let mut builder = BatchWriter::builder();
    if let Some((transactional_id, id, epoch, sequence)) = producer {
        builder = builder.producer(id, epoch, sequence).transactional(true);
        // The coordinator refuses transactional batches for partitions not
        // added to the producer's transaction (KIP-890 part 1).
        add_partition(client, transactional_id, id, epoch).await;
    }
    let mut writer = builder.build();
    for value in values {
        writer
            .try_append(1_700_000_000_000, None, Some(value.as_bytes()), NO_HEADERS)
            .unwrap();
    }
    let request = ProduceRequest::default()
        .with_transactional_id(
            producer.map(|(id, ..)| TransactionalId(StrBytes::from_string(id.to_string()))),
        )
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(TOPIC))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(writer.finish().unwrap()))])]);
    let response = client.call(&request, 9).await;
    let partition = &response.responses[0].partition_responses[0];
    assert_eq!(partition.error_code, 0, "{:?}", partition.error_message);
    partition.base_offset
}

/// Adds the test partition to the transaction of `transactional_id`.
async fn add_partition(client: &mut TestClient, transactional_id: &str, id: i64, epoch: i16) {
    let request = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(StrBytes::from_string(
            transactional_id.to_string(),
        )))
        .with_v3_and_below_producer_id(ProducerId(id))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(name(TOPIC))
            .with_partitions(vec![0])]);
    let response = client.call(&request, 3).await;
    let code =
        response.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code;
    assert_eq!(code, 0, "AddPartitionsToTxn");
}

fn marker(producer: (i64, i16), commit: bool) -> TxnMarker {
    TxnMarker {
        producer_id: producer.0,
        producer_epoch: producer.1,
        commit,
        coordinator_epoch: 0,
    }
}

async fn write_marker(broker: &BrokerHandle, producer: (i64, i16), commit: bool) -> i64 {
    broker
        .write_txn_marker(TOPIC, 0, marker(producer, commit))
        .await
        .expect("marker written")
}

fn fetch_request(topic_id: Uuid, offset: i64, isolation: i8, max_wait_ms: i32) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_isolation_level(isolation)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(TOPIC))
            .with_topic_id(topic_id)
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])])
}

async fn fetch(
    client: &mut TestClient,
    topic_id: Uuid,
    offset: i64,
    isolation: i8,
) -> PartitionData {
    let response = client
        .call(&fetch_request(topic_id, offset, isolation, 0), 12)
        .await;
    let partition = response.responses[0].partitions[0].clone();
    assert_eq!(partition.error_code, 0);
    partition
}

/// The values of the data (non-control) records and the base offsets of
/// every batch in `records`.
fn contents(records: &Bytes) -> (Vec<String>, Vec<i64>) {
    let mut values = Vec::new();
    let mut bases = Vec::new();
    for scanned in BatchScanner::new(records) {
        let scanned = scanned.unwrap();
        bases.push(scanned.header.base_offset);
        if scanned.header.is_control() {
            continue;
        }
        let batch = Bytes::copy_from_slice(scanned.bytes);
        for record in durian_core::record::decode_records(&batch).unwrap() {
            values.push(String::from_utf8(record.value.unwrap().to_vec()).unwrap());
        }
    }
    (values, bases)
}

async fn latest(client: &mut TestClient, isolation: i8) -> i64 {
    let request = ListOffsetsRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_isolation_level(isolation)
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name(TOPIC))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)])]);
    let response = client.call(&request, 7).await;
    let partition = &response.topics[0].partitions[0];
    assert_eq!(partition.error_code, 0);
    partition.offset
}

#[tokio::test]
async fn read_committed_fetch_stops_at_open_transactions_and_lists_aborts() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let topic_id = create_topic(&mut client).await;
    let a = init_producer(&mut client, "tx-a").await;
    let b = init_producer(&mut client, "tx-b").await;

    assert_eq!(
        produce(&mut client, Some(("tx-a", a.0, a.1, 0)), &["a1", "a2"]).await,
        0
    );
    assert_eq!(produce(&mut client, None, &["p1"]).await, 2);
    assert_eq!(
        produce(&mut client, Some(("tx-b", b.0, b.1, 0)), &["b1"]).await,
        3
    );
    assert_eq!(write_marker(&broker, a, false).await, 4);

    // read_committed: everything below B's open transaction, A's abort listed.
    let committed = fetch(&mut client, topic_id, 0, 1).await;
    assert_eq!(
        (committed.high_watermark, committed.last_stable_offset),
        (5, 3)
    );
    let (values, bases) = contents(committed.records.as_ref().unwrap());
    assert_eq!(values, ["a1", "a2", "p1"]);
    assert_eq!(bases, [0, 2]);
    let aborted: Vec<_> = committed
        .aborted_transactions
        .unwrap()
        .iter()
        .map(|t| (t.producer_id.0, t.first_offset))
        .collect();
    assert_eq!(aborted, [(a.0, 0)]);
    // read_uncommitted: everything, the real LSO, no aborted list.
    let uncommitted = fetch(&mut client, topic_id, 0, 0).await;
    assert_eq!(uncommitted.last_stable_offset, 3);
    assert_eq!(
        contents(uncommitted.records.as_ref().unwrap()).1,
        [0, 2, 3, 4]
    );
    assert!(uncommitted.aborted_transactions.is_none());
    // ListOffsets: latest is the LSO for read_committed.
    assert_eq!(latest(&mut client, 1).await, 3);
    assert_eq!(latest(&mut client, 0).await, 5);

    // A read_committed long poll at the LSO is woken by B's commit marker.
    let started = tokio::time::Instant::now();
    let parked = client
        .send(&fetch_request(topic_id, 3, 1, 30_000), 12)
        .await;
    let mut other = TestClient::connect(broker.local_addr()).await;
    assert_eq!(
        fetch(&mut other, topic_id, 3, 1)
            .await
            .records
            .unwrap()
            .len(),
        0
    );
    assert_eq!(write_marker(&broker, b, true).await, 5);
    let woken = client.receive::<FetchRequest>(parked, 12).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the marker woke the fetch"
    );
    let partition = &woken.responses[0].partitions[0];
    assert_eq!(partition.last_stable_offset, 6);
    let (values, bases) = contents(partition.records.as_ref().unwrap());
    assert_eq!(values, ["b1"]);
    assert_eq!(bases, [3, 4, 5]);
    assert_eq!(latest(&mut client, 1).await, 6);

    // A stale producer epoch's marker is refused.
    let refused = broker
        .write_txn_marker(TOPIC, 0, marker((b.0, b.1 - 1), true))
        .await;
    assert_eq!(
        refused,
        Err(kafka_protocol::ResponseError::InvalidProducerEpoch)
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn describe_producers_reports_open_transactions() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client).await;
    let a = init_producer(&mut client, "tx-describe").await;
    produce(&mut client, None, &["plain"]).await;
    assert_eq!(
        produce(&mut client, Some(("tx-describe", a.0, a.1, 0)), &["x", "y"]).await,
        1
    );
    let describe = DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
        .with_name(name(TOPIC))
        .with_partition_indexes(vec![0, 7])]);
    let response = client.call(&describe, 0).await;
    let partitions = &response.topics[0].partitions;
    assert_eq!(partitions[0].error_code, 0);
    let producers = &partitions[0].active_producers;
    assert_eq!(producers.len(), 1);
    let state = &producers[0];
    assert_eq!(
        (
            state.producer_id.0,
            state.producer_epoch,
            state.last_sequence,
            state.current_txn_start_offset,
            state.coordinator_epoch
        ),
        (a.0, i32::from(a.1), 1, 1, -1)
    );
    assert_eq!(state.last_timestamp, 1_700_000_000_000);
    assert_eq!(partitions[1].error_code, 3, "UNKNOWN_TOPIC_OR_PARTITION");

    write_marker(&broker, a, true).await;
    let response = client.call(&describe, 0).await;
    let state = &response.topics[0].partitions[0].active_producers[0];
    assert_eq!(
        (state.current_txn_start_offset, state.coordinator_epoch),
        (-1, 0)
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_consumer_reads_only_committed_records() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client).await;
    let a = init_producer(&mut client, "tx-consumer-a").await;
    let b = init_producer(&mut client, "tx-consumer-b").await;
    produce(
        &mut client,
        Some(("tx-consumer-a", a.0, a.1, 0)),
        &["aborted-1"],
    )
    .await;
    produce(
        &mut client,
        Some(("tx-consumer-b", b.0, b.1, 0)),
        &["committed-1"],
    )
    .await;
    produce(&mut client, None, &["plain"]).await;
    produce(
        &mut client,
        Some(("tx-consumer-a", a.0, a.1, 1)),
        &["aborted-2"],
    )
    .await;
    write_marker(&broker, a, false).await;
    produce(
        &mut client,
        Some(("tx-consumer-b", b.0, b.1, 1)),
        &["committed-2"],
    )
    .await;
    write_marker(&broker, b, true).await;
    produce(&mut client, None, &["last"]).await;

    let mut consumer = durian_consumer::Consumer::builder()
        .bootstrap_servers([broker.bootstrap()])
        .isolation_level(durian_consumer::IsolationLevel::ReadCommitted)
        .auto_offset_reset(durian_consumer::OffsetReset::Earliest)
        .build()
        .unwrap();
    consumer
        .assign([durian_consumer::TopicPartition::new(TOPIC, 0)])
        .unwrap();
    let mut values = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !values.iter().any(|v| v == "last") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only got {values:?}"
        );
        for record in consumer.poll(Duration::from_millis(200)).await.unwrap() {
            values.push(String::from_utf8(record.value.unwrap().to_vec()).unwrap());
        }
    }
    assert_eq!(values, ["committed-1", "plain", "committed-2", "last"]);
    consumer.close().await.unwrap();
    broker.shutdown().await.unwrap();
}
