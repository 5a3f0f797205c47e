//! Malformed and hostile input: the broker answers with an error or closes
//! that one connection, never panics or stops serving others.

#![allow(clippy::unwrap_used)]

mod common;

use common::wait::{eventually, Served};
use common::{start_broker, TestClient};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, MetadataRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

/// The second client must still get answers.
async fn still_serving(client: &mut TestClient) {
    let response = client.call(&ApiVersionsRequest::default(), 3).await;
    assert_eq!(response.error_code, 0);
    let metadata = client
        .call(&MetadataRequest::default().with_topics(None), 12)
        .await;
    assert_eq!(metadata.brokers.len(), 1);
}

#[tokio::test]
async fn bad_frames_close_only_their_connection() {
    let broker = start_broker().await;
    let mut witness = TestClient::connect(broker.local_addr()).await;
    still_serving(&mut witness).await;

    let hostile: Vec<Vec<u8>> = vec![
        (-1i32).to_be_bytes().to_vec(),
        0i32.to_be_bytes().to_vec(),
        i32::MAX.to_be_bytes().to_vec(),
        // A frame shorter than a request header.
        [&3i32.to_be_bytes()[..], &[0, 1, 2]].concat(),
        // Unknown API key.
        [&8i32.to_be_bytes()[..], &[0x7f, 0x7f, 0, 0, 0, 0, 0, 1]].concat(),
        // Produce v2: advertised (for librdkafka's feature checks) but not served.
        [&8i32.to_be_bytes()[..], &[0, 0, 0, 2, 0, 0, 0, 1]].concat(),
        // Produce v99.
        [&8i32.to_be_bytes()[..], &[0, 0, 0, 99, 0, 0, 0, 1]].concat(),
        // Metadata v1 whose topic count claims 2^31-1 entries.
        [
            &14i32.to_be_bytes()[..],
            &[0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff],
            &i32::MAX.to_be_bytes()[..],
        ]
        .concat(),
        // Metadata v9 (flexible) whose compact topic count is 2^32-2.
        [
            &16i32.to_be_bytes()[..],
            &[0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff, 0],
            &[0xff, 0xff, 0xff, 0xff, 0x0f],
        ]
        .concat(),
    ];
    for bytes in hostile {
        let mut client = TestClient::connect(broker.local_addr()).await;
        client.send_raw(&bytes).await;
        assert!(
            client.is_closed_by_broker().await,
            "input {bytes:?} must close the connection"
        );
        still_serving(&mut witness).await;
    }

    // A truncated frame followed by the client hanging up.
    let mut client = TestClient::connect(broker.local_addr()).await;
    client.send_raw(&[0, 0, 1, 0, 0, 18, 0]).await;
    drop(client);
    still_serving(&mut witness).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn random_bytes_never_take_the_broker_down() {
    let broker = start_broker().await;
    let mut witness = TestClient::connect(broker.local_addr()).await;
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..40i32 {
        let mut client = TestClient::connect(broker.local_addr()).await;
        let len = 8 + (next() % 200) as usize;
        // A plausible header (a real API key and version) followed by noise
        // exercises the body decoders, not just the frame checks.
        let api_key = [0i16, 1, 2, 3, 8, 9, 10, 11, 19, 32][(next() % 10) as usize];
        let mut payload = Vec::with_capacity(len);
        payload.extend_from_slice(&api_key.to_be_bytes());
        payload.extend_from_slice(&((next() % 10) as i16).to_be_bytes());
        payload.extend_from_slice(&round.to_be_bytes());
        while payload.len() < len {
            payload.push(next() as u8);
        }
        client.send_raw_frame(&payload).await;
        // Either an error response or a closed connection; both are fine.
        let _ = client.read_frame().await;
        still_serving(&mut witness).await;
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn corrupt_batch_gets_an_error_answer() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let mut corrupt = common::batch(&["payload"]).to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("crc")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(corrupt.into()))])]);
    let response = client.call(&request, 9).await;
    let partition = &response.responses[0].partition_responses[0];
    assert_eq!(partition.error_code, 2, "CORRUPT_MESSAGE");
    assert!(partition.error_message.is_some());
    // Garbage that is not even a batch header.
    let garbage = request
        .clone()
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("crc")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(bytes::Bytes::from_static(&[1, 2, 3])))])]);
    let response = client.call(&garbage, 9).await;
    assert_ne!(response.responses[0].partition_responses[0].error_code, 0);
    still_serving(&mut client).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn connections_over_the_limit_are_closed() {
    let broker = durian_broker::Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .max_connections(2)
        .start()
        .await
        .unwrap();
    let mut first = TestClient::connect(broker.local_addr()).await;
    let mut second = TestClient::connect(broker.local_addr()).await;
    still_serving(&mut first).await;
    still_serving(&mut second).await;
    let mut third = TestClient::connect(broker.local_addr()).await;
    assert!(
        third.is_closed_by_broker().await,
        "a connection over the limit is closed"
    );
    still_serving(&mut first).await;
    still_serving(&mut second).await;
    // A slot frees up once a client leaves, as soon as the broker's task
    // for it has ended, which nothing outside the broker can see: keep
    // trying new connections until one is served.
    drop(first);
    eventually(
        std::time::Duration::from_secs(10),
        "the freed slot to be reused",
        async || {
            let mut next = TestClient::connect(broker.local_addr()).await;
            next.send(&ApiVersionsRequest::default(), 3).await;
            next.read_frame().await.map(|_| ())
        },
    )
    .await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let broker = durian_broker::Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .connections_max_idle(std::time::Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let mut silent = TestClient::connect(broker.local_addr()).await;
    still_serving(&mut silent).await;
    assert!(
        silent.is_closed_by_broker().await,
        "closed after 200 ms without requests"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_answers_a_waiting_fetch_promptly() {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    client
        .call(
            &MetadataRequest::default().with_topics(Some(vec![
                kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_static_str("idle")))),
            ])),
            12,
        )
        .await;
    let fetch = kafka_protocol::messages::FetchRequest::default()
        .with_max_wait_ms(30_000)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str("idle")))
            .with_partitions(vec![
                FetchPartition::default().with_partition_max_bytes(1 << 20)
            ])]);
    let fetches = Served::watch(ApiKey::Fetch, &mut client).await;
    client.send(&fetch, 12).await;
    // Shut down only once the fetch is parked: earlier, it could be
    // answered at once (shutdown already signalled) or never read.
    fetches.wait(std::time::Duration::from_secs(10)).await;
    broker.shutdown().await.unwrap();
    // Had shutdown not woken the 30 s long poll, the grace period would have
    // expired and the connection would be cut without a response.
    assert!(
        client.read_frame().await.is_some(),
        "the waiting fetch is answered"
    );
}

#[tokio::test]
async fn oversized_non_produce_requests_are_refused() {
    let broker = start_broker().await;
    let mut witness = TestClient::connect(broker.local_addr()).await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    // A Metadata v1 request padded past the 8 MiB non-Produce limit.
    let mut payload = vec![0, 3, 0, 1, 0, 0, 0, 9, 0xff, 0xff, 0, 0, 0, 0];
    payload.resize(9 * 1024 * 1024, 0);
    client.send_raw_frame(&payload).await;
    assert!(client.is_closed_by_broker().await);
    still_serving(&mut witness).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn failed_fire_and_forget_produce_closes_the_connection() {
    let broker = durian_broker::Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .auto_create_topics(false)
        .start()
        .await
        .unwrap();
    let mut client = TestClient::connect(broker.local_addr()).await;
    let request =
        ProduceRequest::default()
            .with_acks(0)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("nowhere")))
                .with_partition_data(vec![
                    PartitionProduceData::default().with_records(Some(common::batch(&["x"])))
                ])]);
    client.send(&request, 9).await;
    assert!(
        client.is_closed_by_broker().await,
        "acks=0 errors close the connection"
    );
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn pipelined_requests_through_a_tiny_memory_pool_are_all_answered_in_order() {
    // The request memory pool is raised to one maximal frame (64 KiB), so
    // of these pipelined ~40 KiB produce requests only one fits at a time:
    // the reader must wait for memory, and nothing may be lost or reordered.
    let broker = durian_broker::Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .socket_request_max_bytes(64 * 1024)
        .queued_max_request_bytes(1)
        .start()
        .await
        .unwrap();
    let mut client = TestClient::connect(broker.local_addr()).await;
    let big = "x".repeat(40 * 1024);
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("pool")))
            .with_partition_data(vec![
                PartitionProduceData::default().with_records(Some(common::batch(&[&big])))
            ])]);
    let mut sent = Vec::new();
    for _ in 0..10 {
        sent.push(client.send(&request, 9).await);
    }
    for (expected_offset, correlation) in sent.into_iter().enumerate() {
        let response = client.receive::<ProduceRequest>(correlation, 9).await;
        let partition = &response.responses[0].partition_responses[0];
        assert_eq!(
            (partition.error_code, partition.base_offset),
            (0, expected_offset as i64)
        );
    }
    broker.shutdown().await.unwrap();
}
