//! Request building and response reading of the transaction operations,
//! without a broker.

use std::time::Duration;

use durian_core::KafkaCode;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState as WireProducer, TopicResponse,
};
use kafka_protocol::messages::describe_transactions_response::{
    TopicData, TransactionState as WireDescribed,
};
use kafka_protocol::messages::list_transactions_response::TransactionState as WireListed;
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};

use super::*;

fn txn_id(id: &str) -> TransactionalId {
    TransactionalId(StrBytes::from_string(id.to_owned()))
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

#[test]
fn list_request_carries_filters_and_refuses_what_the_version_lacks() {
    let all = list_transactions_request(&TransactionFilter::new(), 0).unwrap();
    assert!(all.state_filters.is_empty() && all.producer_id_filters.is_empty());
    assert_eq!(all.duration_filter, -1);

    let filter = TransactionFilter::new()
        .state(TransactionState::Ongoing)
        .producer_id(42)
        .running_longer_than(Duration::from_secs(90));
    let request = list_transactions_request(&filter, 1).unwrap();
    assert_eq!(request.state_filters, [text("Ongoing")]);
    assert_eq!(request.producer_id_filters, [ProducerId(42)]);
    assert_eq!(request.duration_filter, 90_000);
    let error = list_transactions_request(&filter, 0).unwrap_err();
    assert!(error.to_string().contains("needs v1"), "{error}");

    let pattern = TransactionFilter::new().transactional_id_pattern("app-.*");
    assert!(list_transactions_request(&pattern, 1).is_err());
    let request = list_transactions_request(&pattern, 2).unwrap();
    assert_eq!(request.transactional_id_pattern, Some(text("app-.*")));
}

#[test]
fn list_response_tags_the_coordinator_and_fails_on_a_broker_error() {
    let response =
        ListTransactionsResponse::default().with_transaction_states(vec![WireListed::default()
            .with_transactional_id(txn_id("a"))
            .with_producer_id(ProducerId(5))
            .with_transaction_state(text("Ongoing"))]);
    let listed = parse_list_transactions(&response, 2).unwrap();
    assert_eq!(
        listed,
        [TransactionListing {
            transactional_id: "a".into(),
            producer_id: 5,
            state: TransactionState::Ongoing,
            coordinator: 2,
        }]
    );
    let loading = ListTransactionsResponse::default().with_error_code(14);
    let error = parse_list_transactions(&loading, 2).unwrap_err();
    assert_eq!(
        error.kafka_code(),
        Some(KafkaCode::COORDINATOR_LOAD_IN_PROGRESS)
    );
    assert!(error.is_retriable());
}

#[test]
fn describe_maps_each_id_with_its_own_error() {
    let request = describe_transactions_request(&["a".into(), "b".into()]);
    assert_eq!(request.transactional_ids, [txn_id("a"), txn_id("b")]);
    let response = DescribeTransactionsResponse::default().with_transaction_states(vec![
        WireDescribed::default()
            .with_transactional_id(txn_id("a"))
            .with_transaction_state(text("Ongoing"))
            .with_transaction_timeout_ms(60_000)
            .with_transaction_start_time_ms(1_700_000_000_000)
            .with_producer_id(ProducerId(9))
            .with_producer_epoch(3)
            .with_topics(vec![TopicData::default()
                .with_topic(topic_name("t"))
                .with_partitions(vec![2, 0])]),
        WireDescribed::default()
            .with_transactional_id(txn_id("b"))
            .with_error_code(105),
        WireDescribed::default()
            .with_transactional_id(txn_id("c"))
            .with_error_code(16),
    ]);
    let asked = ["a".to_owned(), "b".into(), "c".into(), "d".into()];
    let results = parse_describe_transactions(&response, &asked, 7);
    let a = results[0].1.as_ref().unwrap();
    assert_eq!(a.coordinator, 7);
    assert_eq!(a.state, TransactionState::Ongoing);
    assert_eq!((a.producer_id, a.producer_epoch), (9, 3));
    assert_eq!(a.transaction_timeout_ms, 60_000);
    assert_eq!(a.transaction_start_time_ms, Some(1_700_000_000_000));
    assert_eq!(
        a.partitions,
        [TopicPartition::new("t", 0), TopicPartition::new("t", 2)]
    );
    let code = |i: usize| results[i].1.as_ref().unwrap_err().kafka_code();
    assert_eq!(code(1), Some(KafkaCode::TRANSACTIONAL_ID_NOT_FOUND));
    assert!(!crate::routing::item_is_retriable(
        results[1].1.as_ref().unwrap_err()
    ));
    // A moved coordinator is retried (after forgetting the cached one).
    assert_eq!(code(2), Some(KafkaCode::NOT_COORDINATOR));
    assert!(crate::routing::item_is_retriable(
        results[2].1.as_ref().unwrap_err()
    ));
    assert!(matches!(results[3].1, Err(Error::Protocol(_))));
}

#[test]
fn an_idle_description_has_no_start_time() {
    let response = DescribeTransactionsResponse::default().with_transaction_states(vec![
        WireDescribed::default()
            .with_transactional_id(txn_id("a"))
            .with_transaction_state(text("CompleteAbort"))
            .with_transaction_start_time_ms(-1),
    ]);
    let results = parse_describe_transactions(&response, &["a".into()], 1);
    let a = results[0].1.as_ref().unwrap();
    assert_eq!(a.state, TransactionState::CompleteAbort);
    assert_eq!(a.transaction_start_time_ms, None);
    assert!(a.partitions.is_empty());
}

#[test]
fn describe_producers_groups_by_topic_and_reads_open_transactions() {
    let asked = [
        TopicPartition::new("t", 0),
        TopicPartition::new("u", 1),
        TopicPartition::new("t", 1),
    ];
    let request = describe_producers_request(&asked);
    let topics: Vec<(&str, &[i32])> = request
        .topics
        .iter()
        .map(|t| (t.name.0.as_str(), t.partition_indexes.as_slice()))
        .collect();
    assert_eq!(topics, [("t", &[0, 1][..]), ("u", &[1][..])]);

    let response = DescribeProducersResponse::default().with_topics(vec![TopicResponse::default()
        .with_name(topic_name("t"))
        .with_partitions(vec![
            PartitionResponse::default()
                .with_partition_index(0)
                .with_active_producers(vec![
                    WireProducer::default()
                        .with_producer_id(ProducerId(9))
                        .with_producer_epoch(3)
                        .with_last_sequence(4)
                        .with_last_timestamp(1000)
                        .with_coordinator_epoch(-1)
                        .with_current_txn_start_offset(12),
                    WireProducer::default()
                        .with_producer_id(ProducerId(10))
                        .with_coordinator_epoch(2)
                        .with_current_txn_start_offset(-1),
                ]),
            PartitionResponse::default()
                .with_partition_index(1)
                .with_error_code(6),
        ])]);
    let results = parse_describe_producers(&response, &asked);
    let producers = results[0].1.as_ref().unwrap();
    assert_eq!(producers.len(), 2);
    assert_eq!(
        producers[0],
        ProducerState {
            producer_id: 9,
            producer_epoch: 3,
            last_sequence: 4,
            last_timestamp: 1000,
            coordinator_epoch: None,
            current_txn_start_offset: Some(12),
        }
    );
    assert_eq!(producers[1].coordinator_epoch, Some(2));
    assert_eq!(producers[1].current_txn_start_offset, None);
    assert!(matches!(results[1].1, Err(Error::Protocol(_))));
    assert_eq!(
        results[2].1.as_ref().unwrap_err().kafka_code(),
        Some(KafkaCode::NOT_LEADER_OR_FOLLOWER)
    );
}

fn marker_response(
    producer_id: i64,
    topic: &str,
    partition: i32,
    code: i16,
) -> WriteTxnMarkersResponse {
    WriteTxnMarkersResponse::default().with_markers(vec![WritableTxnMarkerResult::default()
        .with_producer_id(ProducerId(producer_id))
        .with_topics(vec![WritableTxnMarkerTopicResult::default()
            .with_name(topic_name(topic))
            .with_partitions(vec![WritableTxnMarkerPartitionResult::default()
                .with_partition_index(partition)
                .with_error_code(code)])])])
}

#[test]
fn abort_writes_one_abort_marker_and_reads_only_its_own_answer() {
    let spec = AbortTransactionSpec::new(TopicPartition::new("t", 2), 9, 3, 5);
    let request = abort_marker_request(&spec);
    let marker = &request.markers[0];
    assert_eq!(request.markers.len(), 1);
    assert_eq!(
        (marker.producer_id, marker.producer_epoch),
        (ProducerId(9), 3)
    );
    assert_eq!(marker.coordinator_epoch, 5);
    assert!(!marker.transaction_result, "the marker must abort");
    assert_eq!(marker.topics[0].name, topic_name("t"));
    assert_eq!(marker.topics[0].partition_indexes, [2]);

    parse_abort_marker(&marker_response(9, "t", 2, 0), &spec).unwrap();
    let fenced = parse_abort_marker(&marker_response(9, "t", 2, 52), &spec).unwrap_err();
    assert_eq!(
        fenced.kafka_code(),
        Some(KafkaCode::TRANSACTION_COORDINATOR_FENCED)
    );
    let epoch = parse_abort_marker(&marker_response(9, "t", 2, 47), &spec).unwrap_err();
    assert_eq!(epoch.kafka_code(), Some(KafkaCode::INVALID_PRODUCER_EPOCH));
    for stray in [
        marker_response(8, "t", 2, 0),
        marker_response(9, "u", 2, 0),
        marker_response(9, "t", 1, 0),
    ] {
        assert!(matches!(
            parse_abort_marker(&stray, &spec),
            Err(Error::Protocol(_))
        ));
    }
}
