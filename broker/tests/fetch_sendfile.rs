//! Fetch on a plaintext listener sends records with `sendfile`; on a TLS
//! listener it reads them. Both must put the same bytes on the wire, for
//! slow readers too, and a reader that leaves mid-response must not hurt
//! the broker.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use common::certs::TestPki;
use common::topics::{create_topic, name, produce};
use common::wait::eventually;
use common::TestClient;
use durian_broker::{Broker, BrokerHandle, SecurityProtocol};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::FetchRequest;
use uuid::Uuid;

const TOPIC: &str = "sendfile";
const PARTITIONS: i32 = 3;

/// A broker with a plaintext and a TLS listener, and a topic whose
/// partitions hold about 1.5 MB each in batches of 8 to 40 KB.
async fn broker_with_data(pki: &TestPki) -> (BrokerHandle, Uuid) {
    let broker = Broker::builder()
        .temporary()
        .add_listener(SecurityProtocol::Plaintext, "127.0.0.1:0")
        .add_listener(SecurityProtocol::Ssl, "127.0.0.1:0")
        .tls(&pki.server_cert, &pki.server_key)
        .start()
        .await
        .unwrap();
    let mut client = TestClient::connect(plain(&broker)).await;
    let topic_id = create_topic(&mut client, TOPIC, PARTITIONS).await;
    let values: Vec<String> = (0..100)
        .map(|i| format!("{i:04}-{}", "v".repeat(400)))
        .collect();
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    for round in 0..60 {
        for partition in 0..PARTITIONS {
            // Batches of different sizes, so byte limits cut in varied places.
            let count = 20 + (round * 7 + partition as usize * 13) % 80;
            produce(&mut client, TOPIC, partition, &values[..count]).await;
        }
    }
    (broker, topic_id)
}

fn plain(broker: &BrokerHandle) -> SocketAddr {
    broker.listener_addr("PLAINTEXT").unwrap()
}

async fn tls_client(broker: &BrokerHandle, pki: &TestPki) -> TestClient {
    let stream = pki
        .connect(broker.listener_addr("SSL").unwrap(), None)
        .await
        .unwrap();
    TestClient::over(stream)
}

/// A fetch of every partition from `offset`, at most `partition_max`
/// bytes each.
fn fetch(topic_id: Uuid, offset: i64, partition_max: i32) -> FetchRequest {
    FetchRequest::default()
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(50 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(TOPIC))
            .with_topic_id(topic_id)
            .with_partitions(
                (0..PARTITIONS)
                    .map(|p| {
                        FetchPartition::default()
                            .with_partition(p)
                            .with_fetch_offset(offset + i64::from(p))
                            .with_partition_max_bytes(partition_max)
                    })
                    .collect(),
            )])
}

/// The raw response frame to `request` at `version` (correlation id and
/// all), as `client` receives it.
async fn raw(client: &mut TestClient, request: &FetchRequest, version: i16) -> Bytes {
    client.send(request, version).await;
    client.read_frame().await.expect("a response frame")
}

/// The records a plaintext listener sends with `sendfile` are the bytes
/// a TLS listener reads and sends: whole frames compared, at old and new
/// versions, byte limits that cut between batches and offsets inside them.
#[tokio::test]
async fn plaintext_fetch_frames_equal_the_read_path_frames() {
    let pki = TestPki::new();
    let (broker, topic_id) = broker_with_data(&pki).await;
    let mut plaintext = TestClient::connect(plain(&broker)).await;
    let mut tls = tls_client(&broker, &pki).await;
    let mut compared = 0;
    for version in [4, 11, 12, 13, 17] {
        for (offset, partition_max) in [
            (0, 1 << 20),
            (0, 100_000),
            (57, 30_000),
            (1_000, 1),
            (2_000, 8 << 20),
            (3_000, 200),
        ] {
            let request = fetch(topic_id, offset, partition_max);
            let sent = raw(&mut plaintext, &request, version).await;
            let read = raw(&mut tls, &request, version).await;
            assert!(
                sent.len() > 1_000,
                "v{version} offset {offset}: records expected"
            );
            assert!(
                sent == read,
                "v{version} offset {offset} max {partition_max}: frames differ ({} vs {} bytes)",
                sent.len(),
                read.len()
            );
            compared += sent.len();
        }
    }
    assert!(compared > 20 << 20, "{compared} bytes compared");
    broker.shutdown().await.unwrap();
}

/// A response of several MB to a client with a small receive buffer that
/// reads slowly completes, byte for byte.
#[tokio::test]
async fn a_large_response_reaches_a_slow_reader_whole() {
    let pki = TestPki::new();
    let (broker, topic_id) = broker_with_data(&pki).await;
    let request = fetch(topic_id, 0, 8 << 20);
    let expected = raw(&mut tls_client(&broker, &pki).await, &request, 12).await;
    assert!(expected.len() > 3 << 20, "{} bytes", expected.len());

    // An 8 KiB receive buffer: the broker finds the socket full again
    // and again, and resumes its sendfile each time.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    let stream = socket.connect(plain(&broker)).await.unwrap();
    let mut client = TestClient::over(stream);
    let frame = raw(&mut client, &request, 12).await;
    assert!(frame == expected, "the slow reader's frame differs");
    broker.shutdown().await.unwrap();
}

/// A client that reads a little of a large response and leaves: the
/// broker closes that connection and serves everyone else as before.
#[tokio::test]
async fn a_client_leaving_mid_response_does_not_hurt_the_broker() {
    let pki = TestPki::new();
    let (broker, topic_id) = broker_with_data(&pki).await;
    let request = fetch(topic_id, 0, 8 << 20);
    for _ in 0..3 {
        let mut client = TestClient::connect(plain(&broker)).await;
        client.send(&request, 12).await;
        // The answer has begun (its first 4 KiB arrived); then the
        // client is gone.
        client.read_exact_raw(4096).await;
        drop(client);
    }
    eventually(
        Duration::from_secs(10),
        "the left connections close",
        async || (broker.resource_usage().connections == 0).then_some(()),
    )
    .await;
    let mut client = TestClient::connect(plain(&broker)).await;
    let frame = raw(&mut client, &request, 12).await;
    let expected = raw(&mut tls_client(&broker, &pki).await, &request, 12).await;
    assert!(frame == expected);
    assert_eq!(broker.resource_usage().response_bytes, 0);
    broker.shutdown().await.unwrap();
}
