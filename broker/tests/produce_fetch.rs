//! Topics, produce, fetch, list offsets and delete records over TCP.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::topics::{create_topic, name};
use common::wait::{eventually, Served};
use common::{batch, records_of, start_broker, TestClient};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, DeleteRecordsRequest, FetchRequest, FetchResponse,
    ListOffsetsRequest, ProduceRequest, ProduceResponse,
};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

fn produce_request(
    topic: &str,
    partition: i32,
    records: bytes::Bytes,
    acks: i16,
) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])])
}

fn fetch_request(topic: &str, topic_id: Uuid, offset: i64, max_wait_ms: i32) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_topic_id(topic_id)
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])])
}

fn only_partition(response: &ProduceResponse) -> (i16, i64) {
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

#[tokio::test]
async fn produce_then_fetch_round_trip_with_contiguous_offsets() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let topic_id = create_topic(&mut client, "rt", 1).await;

    let first = client
        .call(&produce_request("rt", 0, batch(&["a", "b", "c"]), -1), 9)
        .await;
    assert_eq!(only_partition(&first), (0, 0));
    let second = client
        .call(&produce_request("rt", 0, batch(&["d", "e"]), 1), 3)
        .await;
    assert_eq!(only_partition(&second), (0, 3));

    for version in [4i16, 11, 12, 13, 16] {
        let response: FetchResponse = client
            .call(&fetch_request("rt", topic_id, 0, 100), version)
            .await;
        let part = &response.responses[0].partitions[0];
        assert_eq!(part.error_code, 0, "fetch v{version}");
        assert_eq!(part.high_watermark, 5);
        let records = records_of(part.records.as_ref().expect("records are never null"));
        let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![0, 1, 2, 3, 4], "fetch v{version}");
        let values: Vec<&[u8]> = records
            .iter()
            .map(|r| r.value.as_deref().unwrap_or_default())
            .collect();
        assert_eq!(values, vec![&b"a"[..], b"b", b"c", b"d", b"e"]);
    }

    // Fetching at the end of the log is empty, not an error, and not null.
    let at_end: FetchResponse = client.call(&fetch_request("rt", topic_id, 5, 0), 12).await;
    let part = &at_end.responses[0].partitions[0];
    assert_eq!(
        (part.error_code, part.records.as_ref().map(|r| r.len())),
        (0, Some(0))
    );

    // Past the end is OFFSET_OUT_OF_RANGE with the log bounds.
    let beyond: FetchResponse = client.call(&fetch_request("rt", topic_id, 99, 0), 12).await;
    let part = &beyond.responses[0].partitions[0];
    assert_eq!(
        (part.error_code, part.high_watermark, part.log_start_offset),
        (1, 5, 0)
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn acks_zero_gets_no_response_but_is_appended() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let topic_id = create_topic(&mut client, "fire", 1).await;
    client
        .send(&produce_request("fire", 0, batch(&["x"]), 0), 7)
        .await;
    // The next response must belong to the fetch, proving no produce response was sent.
    let response: FetchResponse = client
        .call(&fetch_request("fire", topic_id, 0, 1000), 11)
        .await;
    assert_eq!(
        records_of(
            response.responses[0].partitions[0]
                .records
                .as_ref()
                .unwrap()
        )
        .len(),
        1
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn long_poll_fetch_wakes_on_produce() {
    let broker = start_broker().await;
    let mut consumer = TestClient::connect(broker.local_addr()).await;
    let topic_id = create_topic(&mut consumer, "poll", 1).await;
    let mut producer = TestClient::connect(broker.local_addr()).await;
    let fetches = Served::watch(ApiKey::Fetch, &mut consumer).await;
    // Waits up to 30 s for data; a produce must end the wait.
    let correlation = consumer
        .send(&fetch_request("poll", topic_id, 0, 30_000), 12)
        .await;
    // Produce only once the fetch is parked, so it is the produce that
    // wakes it (data already there would answer it at once).
    fetches.wait(Duration::from_secs(10)).await;
    let produced = producer
        .call(&produce_request("poll", 0, batch(&["wake"]), 1), 9)
        .await;
    assert_eq!(only_partition(&produced), (0, 0));
    let response: FetchResponse = tokio::time::timeout(
        Duration::from_secs(20),
        consumer.receive::<FetchRequest>(correlation, 12),
    )
    .await
    .expect("the fetch returns long before its 30 s wait once data arrives");
    let records = records_of(
        response.responses[0].partitions[0]
            .records
            .as_ref()
            .unwrap(),
    );
    assert_eq!(records.len(), 1);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn list_offsets_and_delete_records() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client, "lo", 1).await;
    for _ in 0..3 {
        let r = client
            .call(&produce_request("lo", 0, batch(&["1", "2"]), 1), 9)
            .await;
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    }
    let list = |timestamp: i64| {
        ListOffsetsRequest::default()
            .with_replica_id(kafka_protocol::messages::BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(name("lo"))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(timestamp)])])
    };
    let offset_of = |response: kafka_protocol::messages::ListOffsetsResponse| {
        let p = &response.topics[0].partitions[0];
        (p.error_code, p.offset)
    };
    assert_eq!(offset_of(client.call(&list(-2), 7).await), (0, 0));
    assert_eq!(offset_of(client.call(&list(-1), 7).await), (0, 6));
    assert_eq!(offset_of(client.call(&list(-1), 1).await), (0, 6));
    // Record i of a test batch is stamped BASE_TIMESTAMP + i.
    assert_eq!(
        offset_of(client.call(&list(*common::BASE_TIMESTAMP + 1), 7).await),
        (0, 1)
    );
    let (code, max_offset) = offset_of(client.call(&list(-3), 7).await);
    assert_eq!(code, 0);
    assert!(
        (0..6).contains(&max_offset),
        "max timestamp offset {max_offset}"
    );

    let delete = DeleteRecordsRequest::default()
        .with_timeout_ms(1000)
        .with_topics(vec![DeleteRecordsTopic::default()
            .with_name(name("lo"))
            .with_partitions(vec![DeleteRecordsPartition::default()
                .with_partition_index(0)
                .with_offset(4)])]);
    let deleted = client.call(&delete, 2).await;
    let p = &deleted.topics[0].partitions[0];
    assert_eq!((p.error_code, p.low_watermark), (0, 4));
    assert_eq!(offset_of(client.call(&list(-2), 7).await), (0, 4));

    let unknown = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
        .with_name(name("missing"))
        .with_partitions(vec![ListOffsetsPartition::default().with_timestamp(-1)])]);
    assert_eq!(offset_of(client.call(&unknown, 7).await).0, 3);
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn background_retention_removes_expired_segments() {
    let broker = durian_broker::Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .retention_check_interval(Duration::from_millis(50))
        .log_config(common::tiny_segments())
        .start()
        .await
        .unwrap();
    let mut client = TestClient::connect(broker.local_addr()).await;
    let request = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(name("old"))
        .with_num_partitions(1)
        .with_replication_factor(1)]);
    assert_eq!(client.call(&request, 7).await.topics[0].error_code, 0);
    // Below Kafka's minimum over the wire: INVALID_CONFIG naming it.
    let too_small = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(name("tiny"))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(vec![CreatableTopicConfig::default()
            .with_name(StrBytes::from_static_str("segment.bytes"))
            .with_value(Some(StrBytes::from_static_str("128")))])]);
    let refused = client.call(&too_small, 7).await;
    assert_eq!(refused.topics[0].error_code, 40, "INVALID_CONFIG");
    let message = refused.topics[0]
        .error_message
        .as_deref()
        .unwrap_or_default();
    assert!(message.contains("1048576"), "{message}");
    // Records from 2020 are far past the default 7-day retention, so every
    // sealed segment is deleted; the active one always stays.
    let ancient = 1_580_000_000_000;
    for _ in 0..3 {
        let r = client
            .call(
                &produce_request("old", 0, common::batch_at(ancient, &["x"]), 1),
                9,
            )
            .await;
        assert_eq!(only_partition(&r).0, 0);
    }
    let earliest = ListOffsetsRequest::default().with_topics(vec![ListOffsetsTopic::default()
        .with_name(name("old"))
        .with_partitions(vec![ListOffsetsPartition::default().with_timestamp(-2)])]);
    // Retention runs in the background (also between the appends): wait
    // until it has moved the log start, then check it went exactly there.
    let log_start = eventually(
        Duration::from_secs(10),
        "retention to delete the closed segments",
        async || {
            let offset = client.call(&earliest, 7).await.topics[0].partitions[0].offset;
            (offset >= 2).then_some(offset)
        },
    )
    .await;
    assert_eq!(
        log_start, 2,
        "the two closed segments are deleted, the active one stays"
    );
    broker.shutdown().await.unwrap();
}

/// Produce requests of 64 KiB or more are read into buffers the broker
/// recycles once a request is done with: each stored record must still be
/// the one its own request carried, and the buffers go back on the shelf.
#[tokio::test]
async fn large_requests_read_into_recycled_buffers_keep_every_record_intact() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let topic_id = create_topic(&mut client, "big", 1).await;
    let values: Vec<String> = (b'a'..=b'd')
        .map(|c| String::from(c as char).repeat(200_000))
        .collect();
    let mut shelved = Vec::new();
    for (offset, value) in values.iter().enumerate() {
        let response = client
            .call(&produce_request("big", 0, batch(&[value]), -1), 9)
            .await;
        assert_eq!(only_partition(&response), (0, offset as i64));
        // The request's buffer is shelved once its last slice is dropped.
        shelved.push(
            eventually(
                Duration::from_secs(10),
                "the request body buffer back on the shelf",
                async || {
                    let idle = broker.resource_usage().idle_body_bytes;
                    (idle > 0).then_some(idle)
                },
            )
            .await,
        );
    }
    // Each request after the first was read into the first one's buffer:
    // the shelf never grew.
    assert!(
        shelved.iter().all(|idle| *idle == shelved[0]),
        "{shelved:?}"
    );
    assert!(shelved[0] <= durian_broker::IDLE_BODY_BUFFER_LIMIT_BYTES);
    let mut fetched = Vec::new();
    while fetched.len() < values.len() {
        let response: FetchResponse = client
            .call(
                &fetch_request("big", topic_id, fetched.len() as i64, 100),
                12,
            )
            .await;
        let part = &response.responses[0].partitions[0];
        assert_eq!(part.error_code, 0);
        let records = records_of(part.records.as_ref().expect("records"));
        assert!(!records.is_empty(), "a fetch below the end returns records");
        fetched.extend(records);
    }
    for (record, value) in fetched.iter().zip(&values) {
        assert_eq!(record.value.as_deref(), Some(value.as_bytes()));
    }
    // Settled: every produce request is long done, and still one buffer is
    // shelved. Without reuse there would be four here, whatever the checks
    // above happened to see while buffers were coming back.
    assert_eq!(broker.resource_usage().idle_body_bytes, shelved[0]);
    broker.shutdown().await.unwrap();
}
