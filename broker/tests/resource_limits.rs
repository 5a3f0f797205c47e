//! Resource limits: a hostile or careless client gets a clear error or a
//! closed connection, and never makes the broker reserve memory, files or
//! time without bound. Memory claims are checked on the broker's own
//! accounting ([`durian_broker::BrokerHandle::resource_usage`]), never by
//! timing.

#![allow(clippy::unwrap_used)]

mod common;

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{CreateTopicsRequest, IncrementalAlterConfigsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use durian_broker::{Broker, BrokerHandle};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, FetchRequest, ProduceRequest, RequestHeader,
};
use kafka_protocol::protocol::{Encodable, Request};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;

use common::wait::eventually;
use common::{start_broker, TestClient};

const WITHIN: Duration = Duration::from_secs(10);

async fn start(builder: durian_broker::BrokerBuilder) -> BrokerHandle {
    builder
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await
        .expect("broker starts")
}

/// `request` at `version` as a length-prefixed frame.
fn frame<R: Request>(request: &R, version: i16, correlation_id: i32) -> Vec<u8> {
    let api = ApiKey::try_from(R::KEY).unwrap();
    let mut body = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .encode(&mut body, api.request_header_version(version))
        .unwrap();
    request.encode(&mut body, version).unwrap();
    let mut out = Vec::with_capacity(body.len() + 4);
    out.put_i32(body.len() as i32);
    out.extend_from_slice(&body);
    out
}

async fn served(client: &mut TestClient) {
    let response = client.call(&ApiVersionsRequest::default(), 3).await;
    assert_eq!(response.error_code, 0);
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

async fn create_topic(
    client: &mut TestClient,
    name: &str,
    configs: &[(&str, &str)],
) -> (i16, String) {
    let topic = CreatableTopic::default()
        .with_name(TopicName(text(name)))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(text(k))
                        .with_value(Some(text(v)))
                })
                .collect(),
        );
    let request = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(1000);
    let response = client.call(&request, 5).await;
    let topic = &response.topics[0];
    (
        topic.error_code,
        topic
            .error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn max_message_bytes_is_bounded_by_the_request_limit() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let (code, message) =
        create_topic(&mut client, "huge", &[("max.message.bytes", "2147483647")]).await;
    assert_eq!(code, ResponseError::InvalidConfig.code(), "{message}");
    assert!(
        message.contains("socket.request.max.bytes=104857600"),
        "{message}"
    );

    let (code, message) = create_topic(&mut client, "fine", &[]).await;
    assert_eq!(code, 0, "{message}");
    let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(text("fine"))
            .with_configs(vec![AlterableConfig::default()
                .with_name(text("max.message.bytes"))
                .with_config_operation(0)
                .with_value(Some(text("2147483647")))]),
    ]);
    let response = client.call(&request, 1).await;
    let answer = &response.responses[0];
    let message = answer
        .error_message
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default();
    assert_eq!(
        answer.error_code,
        ResponseError::InvalidConfig.code(),
        "{message}"
    );
    assert!(message.contains("socket.request.max.bytes"), "{message}");
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_trickled_request_holds_what_it_sent_and_is_cut_off() {
    let broker = start(Broker::builder().request_body_timeout(Duration::from_millis(300))).await;
    let mut witness = TestClient::connect(broker.local_addr()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    // Announces 50 MiB (allowed by socket.request.max.bytes), sends 10 bytes.
    let mut start = (50i32 << 20).to_be_bytes().to_vec();
    start.extend_from_slice(&[0, 18, 0, 3, 0, 0, 0, 1, 0, 0]);
    client.send_raw(&start).await;
    let reserved = eventually(WITHIN, "the broker to start reading the body", async || {
        let used = broker.resource_usage().request_bytes;
        (used > 0).then_some(used)
    })
    .await;
    assert!(
        reserved <= 64 * 1024,
        "{reserved} bytes reserved for a request that sent 10"
    );
    assert!(
        client.is_closed_by_broker().await,
        "a request body that stalls must be cut off after request_body_timeout"
    );
    eventually(WITHIN, "the request memory to be released", async || {
        (broker.resource_usage().request_bytes == 0).then_some(())
    })
    .await;
    served(&mut witness).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn connections_per_ip_are_capped() {
    let broker = start(Broker::builder().max_connections_per_ip(2)).await;
    let mut first = TestClient::connect(broker.local_addr()).await;
    served(&mut first).await;
    let mut second = TestClient::connect(broker.local_addr()).await;
    served(&mut second).await;
    let mut third = TestClient::connect(broker.local_addr()).await;
    assert!(
        third.is_closed_by_broker().await,
        "a third connection from one address must be refused"
    );
    drop(first);
    eventually(
        WITHIN,
        "the first connection's slot to be given back",
        async || (broker.resource_usage().connections == 1).then_some(()),
    )
    .await;
    let mut fourth = TestClient::connect(broker.local_addr()).await;
    served(&mut fourth).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_that_stops_reading_is_counted_then_disconnected() {
    let broker = start(Broker::builder().response_write_timeout(Duration::from_secs(2))).await;
    let mut producer = TestClient::connect(broker.local_addr()).await;
    let _reader = stalled_reader(&broker, &mut producer).await;
    // Never read: the response waits, counted, until the write deadline.
    let queued = eventually(WITHIN, "the stalled response to be counted", async || {
        let used = broker.resource_usage().response_bytes;
        (used > 0).then_some(used)
    })
    .await;
    assert!(queued > 7_000_000, "only {queued} response bytes counted");
    eventually(
        WITHIN,
        "the stalled reader to be disconnected",
        async || {
            let usage = broker.resource_usage();
            (usage.connections == 1 && usage.response_bytes == 0).then_some(())
        },
    )
    .await;
    served(&mut producer).await;
    broker.shutdown().await.unwrap();
}

/// Fills topic `big` with 8 MB through `producer`, then opens a connection
/// with a 4 KiB receive buffer that fetches all of it and never reads.
async fn stalled_reader(broker: &BrokerHandle, producer: &mut TestClient) -> tokio::net::TcpStream {
    let (code, message) = create_topic(producer, "big", &[]).await;
    assert_eq!(code, 0, "{message}");
    // 8 batches of ~1 MB: a fetch answer far larger than the socket buffers.
    let value = "v".repeat(1_000_000);
    for _ in 0..8 {
        let request = ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(text("big")))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(common::batch(&[&value])))])]);
        let response = producer.call(&request, 9).await;
        assert_eq!(response.responses[0].partition_responses[0].error_code, 0);
    }
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut reader = socket.connect(broker.local_addr()).await.unwrap();
    let fetch = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(50 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(text("big")))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(50 << 20)])]);
    reader.write_all(&frame(&fetch, 12, 1)).await.unwrap();
    reader
}

#[tokio::test]
async fn a_client_that_stops_reading_does_not_hold_back_small_answers() {
    // The stalled reader's answer takes the whole (1 MiB) response budget
    // and keeps it for up to a minute.
    let broker = start(
        Broker::builder()
            .queued_max_response_bytes(1 << 20)
            .response_write_timeout(Duration::from_secs(60)),
    )
    .await;
    let mut producer = TestClient::connect(broker.local_addr()).await;
    let _reader = stalled_reader(&broker, &mut producer).await;
    eventually(
        WITHIN,
        "the stalled response to hold the budget",
        async || (broker.resource_usage().response_bytes == 1 << 20).then_some(()),
    )
    .await;
    // A small answer to another client is written all the same.
    let mut witness = TestClient::connect(broker.local_addr()).await;
    tokio::time::timeout(WITHIN, served(&mut witness))
        .await
        .expect("a small answer waited for the budget a stalled reader holds");
    assert_eq!(
        broker.resource_usage().response_bytes,
        1 << 20,
        "the stalled reader still holds the budget"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_request_header_with_a_lying_client_id_closes_the_connection() {
    let broker = start_broker().await;
    let mut witness = TestClient::connect(broker.local_addr()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    // ApiVersions v3 (header v2): client id length 200 with 2 bytes present.
    client
        .send_raw_frame(&[0, 18, 0, 3, 0, 0, 0, 1, 0, 200, b'a', b'b'])
        .await;
    assert!(client.is_closed_by_broker().await);
    served(&mut witness).await;
    broker.shutdown().await.unwrap();
}

/// One zstd batch holding one record of `len` repeated bytes.
fn compressible_batch(len: usize) -> bytes::Bytes {
    use durian_core::compression::Compression;
    use durian_core::record::{BatchWriter, NO_HEADERS};
    let mut writer = BatchWriter::builder()
        .compression(Compression::Zstd)
        .build();
    let value = vec![b'a'; len];
    writer
        .try_append(*common::BASE_TIMESTAMP, None, Some(&value), NO_HEADERS)
        .unwrap();
    writer.finish().unwrap()
}

#[tokio::test]
async fn decompression_is_bounded_by_the_broker_not_the_topic() {
    let broker = start(Broker::builder().max_decompressed_batch_bytes(1 << 20)).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    // The largest max.message.bytes a topic may have: it must not scale
    // the decompression limit.
    let (code, message) =
        create_topic(&mut client, "roomy", &[("max.message.bytes", "104857600")]).await;
    assert_eq!(code, 0, "{message}");
    let produce = |records| {
        ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(text("roomy")))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(records))])])
    };
    let response = client.call(&produce(compressible_batch(2 << 20)), 9).await;
    let answer = &response.responses[0].partition_responses[0];
    let message = answer
        .error_message
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default();
    assert_eq!(
        answer.error_code,
        ResponseError::CorruptMessage.code(),
        "{message}"
    );
    assert!(message.contains("more than 1048576 bytes"), "{message}");
    let response = client
        .call(&produce(compressible_batch(512 << 10)), 9)
        .await;
    assert_eq!(response.responses[0].partition_responses[0].error_code, 0);
    assert_eq!(broker.resource_usage().decompression_bytes, 0);
    broker.shutdown().await.unwrap();
}

async fn metadata_codes(client: &mut TestClient, names: &[&str]) -> Vec<i16> {
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::MetadataRequest;
    let request = MetadataRequest::default()
        .with_allow_auto_topic_creation(true)
        .with_topics(Some(
            names
                .iter()
                .map(|n| MetadataRequestTopic::default().with_name(Some(TopicName(text(n)))))
                .collect(),
        ));
    let response = client.call(&request, 12).await;
    response.topics.iter().map(|t| t.error_code).collect()
}

#[tokio::test]
async fn auto_creation_is_capped_per_request_and_in_total() {
    let broker = start(
        Broker::builder()
            .max_auto_create_topics_per_request(3)
            .max_auto_created_topics(5),
    )
    .await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let unknown = ResponseError::UnknownTopicOrPartition.code();
    let codes = metadata_codes(&mut client, &["a1", "a2", "a3", "a4", "a5"]).await;
    assert_eq!(codes, vec![0, 0, 0, unknown, unknown]);
    // Two more fit under the total of five; the third does not.
    let codes = metadata_codes(&mut client, &["b1", "b2", "b3"]).await;
    assert_eq!(codes, vec![0, 0, unknown]);
    // Existing topics are still described, and CreateTopics is not capped.
    let codes = metadata_codes(&mut client, &["a1", "b2"]).await;
    assert_eq!(codes, vec![0, 0]);
    let (code, message) = create_topic(&mut client, "explicit", &[]).await;
    assert_eq!(code, 0, "{message}");
    broker.shutdown().await.unwrap();
}
