//! The client against a small in-process fake broker on a real TCP port.
//!
//! The fake answers ApiVersions, Metadata, FindCoordinator, Heartbeat and
//! Produce, and parks Fetch requests until released, which is enough to
//! observe routing, traffic classes and reconnection without a real broker.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use durian_core::backoff::Backoff;
use durian_core::retry::retry;
use durian_core::{Client, ClientConfig, CoordinatorKind, Error, KafkaCode, KafkaError, Target};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{decode_request_header_from_buffer, Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Default)]
struct Counters {
    connections: AtomicUsize,
    find_coordinator: AtomicUsize,
    parked_fetches: AtomicUsize,
}

struct FakeBroker {
    port: u16,
    counters: Arc<Counters>,
    release_fetches: watch::Sender<bool>,
    /// Bumping the value drops every open connection.
    drop_connections: watch::Sender<u64>,
}

impl FakeBroker {
    async fn start() -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let counters = Arc::new(Counters::default());
        let (release_fetches, _) = watch::channel(false);
        let (drop_connections, _) = watch::channel(0);
        let broker = FakeBroker {
            port,
            counters: counters.clone(),
            release_fetches: release_fetches.clone(),
            drop_connections: drop_connections.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                counters.connections.fetch_add(1, Ordering::SeqCst);
                let mut dropped = drop_connections.subscribe();
                let session = serve(stream, port, counters.clone(), release_fetches.subscribe());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = session => {}
                        _ = dropped.changed() => {}
                    }
                });
            }
        });
        broker
    }

    fn client(&self) -> Client {
        let config = ClientConfig::builder()
            // A name, so that resolution and the try-every-address loop run.
            .bootstrap_servers([format!("localhost:{}", self.port)])
            .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(50))
            .retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
            .build()
            .unwrap();
        Client::new(config).unwrap()
    }
}

fn encode<M: Encodable>(message: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    message.encode(&mut buf, version).unwrap();
    buf.freeze()
}

async fn serve(
    stream: TcpStream,
    port: u16,
    counters: Arc<Counters>,
    release: watch::Receiver<bool>,
) {
    let (mut reader, writer) = stream.into_split();
    let writer = Arc::new(tokio::sync::Mutex::new(writer));
    let mut parked = Vec::new();
    loop {
        let Ok(size) = reader.read_i32().await else {
            return;
        };
        let mut frame = vec![0u8; size as usize];
        if reader.read_exact(&mut frame).await.is_err() {
            return;
        }
        let mut frame = Bytes::from(frame);
        let header = decode_request_header_from_buffer(&mut frame).unwrap();
        let api = ApiKey::try_from(header.request_api_key).unwrap();
        let version = header.request_api_version;
        let body = match api {
            ApiKey::ApiVersions => encode(&api_versions(), version),
            ApiKey::Metadata => {
                let request = MetadataRequest::decode(&mut frame, version).unwrap();
                encode(&metadata(port, &request), version)
            }
            ApiKey::FindCoordinator => {
                counters.find_coordinator.fetch_add(1, Ordering::SeqCst);
                let request = FindCoordinatorRequest::decode(&mut frame, version).unwrap();
                encode(&find_coordinator(port, &request), version)
            }
            ApiKey::Heartbeat => encode(&HeartbeatResponse::default(), version),
            ApiKey::Produce => encode(&ProduceResponse::default(), version),
            ApiKey::Fetch => {
                counters.parked_fetches.fetch_add(1, Ordering::SeqCst);
                // Answer later, like a long poll, without blocking this
                // connection's reader.
                let writer = writer.clone();
                let mut release = release.clone();
                parked.push(tokio::spawn(async move {
                    let _ = release.wait_for(|released| *released).await;
                    let body = encode(&FetchResponse::default(), version);
                    respond(&mut *writer.lock().await, &header, api, version, &body).await;
                }));
                continue;
            }
            other => panic!("the fake broker does not serve {other:?}"),
        };
        respond(&mut *writer.lock().await, &header, api, version, &body).await;
    }
}

async fn respond<W: AsyncWriteExt + Unpin>(
    writer: &mut W,
    header: &RequestHeader,
    api: ApiKey,
    version: i16,
    body: &[u8],
) {
    let response_header = ResponseHeader::default().with_correlation_id(header.correlation_id);
    let header_bytes = encode(&response_header, api.response_header_version(version));
    let size = (header_bytes.len() + body.len()) as i32;
    let _ = writer.write_all(&size.to_be_bytes()).await;
    let _ = writer.write_all(&header_bytes).await;
    let _ = writer.write_all(body).await;
}

fn api_versions() -> ApiVersionsResponse {
    let range = |key: ApiKey, min, max| {
        ApiVersion::default()
            .with_api_key(key as i16)
            .with_min_version(min)
            .with_max_version(max)
    };
    ApiVersionsResponse::default().with_api_keys(vec![
        range(ApiKey::ApiVersions, 0, 3),
        range(ApiKey::Metadata, 1, 12),
        range(ApiKey::Produce, 3, 9),
        range(ApiKey::Fetch, 4, 12),
        range(ApiKey::FindCoordinator, 0, 4),
        range(ApiKey::Heartbeat, 0, 4),
    ])
}

fn metadata(port: u16, request: &MetadataRequest) -> MetadataResponse {
    let topics = request.topics.clone().unwrap_or_default();
    MetadataResponse::default()
        .with_controller_id(BrokerId(1))
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(1))
            .with_host(StrBytes::from_static_str("127.0.0.1"))
            .with_port(i32::from(port))])
        .with_topics(
            topics
                .into_iter()
                .map(|topic| {
                    MetadataResponseTopic::default()
                        .with_name(topic.name)
                        .with_partitions(vec![MetadataResponsePartition::default()
                            .with_partition_index(0)
                            .with_leader_id(BrokerId(1))
                            .with_leader_epoch(0)])
                })
                .collect(),
        )
}

fn find_coordinator(port: u16, request: &FindCoordinatorRequest) -> FindCoordinatorResponse {
    FindCoordinatorResponse::default().with_coordinators(
        request
            .coordinator_keys
            .iter()
            .map(|key| {
                Coordinator::default()
                    .with_key(key.clone())
                    .with_node_id(BrokerId(1))
                    .with_host(StrBytes::from_static_str("127.0.0.1"))
                    .with_port(i32::from(port))
            })
            .collect(),
    )
}

#[tokio::test]
async fn metadata_and_partition_leaders_through_a_resolved_bootstrap_name() {
    let broker = FakeBroker::start().await;
    let client = broker.client();
    client.add_topics(["events"]);
    let metadata = client.refresh_metadata("test").await.unwrap();
    assert_eq!(metadata.controller_id, Some(1));
    let leader = client.partition_leader("events", 0).unwrap();
    assert_eq!(leader.address(), format!("127.0.0.1:{}", broker.port));
}

#[tokio::test]
async fn a_parked_fetch_does_not_hold_back_a_produce() {
    let broker = FakeBroker::start().await;
    let client = broker.client();
    client.refresh_metadata("test").await.unwrap();
    let fetch = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .send(Target::Broker(1), FetchRequest::default())
                .await
        }
    });
    // Produce only once the fetch is parked at the broker.
    let deadline = Instant::now() + Duration::from_secs(10);
    while broker.counters.parked_fetches.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the fetch never reached the broker"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let produce = client
        .send(Target::Broker(1), ProduceRequest::default())
        .await
        .unwrap();
    assert!(produce.responses.is_empty());
    assert!(!fetch.is_finished(), "the fetch must still be parked");
    // Metadata (admin, shared with bootstrap), fetch and produce connections.
    assert_eq!(broker.counters.connections.load(Ordering::SeqCst), 3);
    broker.release_fetches.send_replace(true);
    fetch.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_client_reconnects_after_its_connections_are_dropped() {
    let broker = FakeBroker::start().await;
    let client = broker.client();
    client.refresh_metadata("first").await.unwrap();
    let before = broker.counters.connections.load(Ordering::SeqCst);
    broker.drop_connections.send_modify(|n| *n += 1);
    let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(50));
    let deadline = Instant::now() + Duration::from_secs(10);
    retry(deadline, &mut backoff, || async {
        client
            .send(Target::Broker(1), HeartbeatRequest::default())
            .await?;
        Ok(())
    })
    .await
    .unwrap();
    assert!(broker.counters.connections.load(Ordering::SeqCst) > before);
}

#[tokio::test]
async fn coordinators_are_cached_until_an_error_invalidates_them() {
    let broker = FakeBroker::start().await;
    let client = broker.client();
    let target = Target::Coordinator {
        kind: CoordinatorKind::Group,
        key: "group-a".to_owned(),
    };
    client
        .send(target.clone(), HeartbeatRequest::default())
        .await
        .unwrap();
    client
        .send(target.clone(), HeartbeatRequest::default())
        .await
        .unwrap();
    assert_eq!(broker.counters.find_coordinator.load(Ordering::SeqCst), 1);
    // A NOT_COORDINATOR read from a response body forgets the coordinator.
    let moved = Error::Kafka(KafkaError {
        code: KafkaCode::NOT_COORDINATOR,
        message: None,
    });
    client.report_error(&target, &moved);
    client
        .send(target, HeartbeatRequest::default())
        .await
        .unwrap();
    assert_eq!(broker.counters.find_coordinator.load(Ordering::SeqCst), 2);
    // A batched lookup of several keys is a single v4 request.
    let keys = ["g1".to_owned(), "g2".to_owned(), "g3".to_owned()];
    let found = client
        .find_coordinators(CoordinatorKind::Group, &keys)
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    assert!(found
        .iter()
        .all(|(_, result)| result.as_ref().unwrap().node_id == 1));
    assert_eq!(broker.counters.find_coordinator.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn unreachable_bootstrap_servers_are_a_retriable_bootstrap_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = ClientConfig::builder()
        .bootstrap_servers([format!("127.0.0.1:{port}")])
        .build()
        .unwrap();
    let err = Client::connect(config).await.unwrap_err();
    assert!(matches!(err, Error::Bootstrap { .. }), "{err}");
    assert!(err.is_retriable());
}

#[test]
fn client_and_errors_can_cross_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Client>();
    assert_send_sync::<Error>();
    assert_send_sync::<durian_core::connection::Connection>();
}
