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

use durian_core::backoff::Backoff;
use durian_core::retry::retry;
use durian_core::{Client, ClientConfig, CoordinatorKind, Error, KafkaCode, KafkaError, Target};
use durian_testkit::scripted::{self, encode, FakeBroker, Reply, Request};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use tokio::sync::watch;
use tokio::time::Instant;

/// What the fake saw beyond connections (which the harness counts).
#[derive(Default)]
struct Counters {
    find_coordinator: AtomicUsize,
    parked_fetches: AtomicUsize,
}

/// The fake broker and the handles the tests hold on it.
struct Fixture {
    server: FakeBroker,
    counters: Arc<Counters>,
    release_fetches: watch::Sender<bool>,
}

impl Fixture {
    async fn start() -> Fixture {
        let counters = Arc::new(Counters::default());
        let (release_fetches, _) = watch::channel(false);
        let server = FakeBroker::start({
            let counters = counters.clone();
            let release = release_fetches.clone();
            move |request: Request| answer(request, &counters, &release)
        })
        .await;
        Fixture {
            server,
            counters,
            release_fetches,
        }
    }

    fn client(&self) -> Client {
        let config = ClientConfig::builder()
            // A name, so that resolution and the try-every-address loop run.
            .bootstrap_servers([format!("localhost:{}", self.server.port())])
            .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(50))
            .retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
            .build()
            .unwrap();
        Client::new(config).unwrap()
    }
}

fn answer(request: Request, counters: &Counters, release: &watch::Sender<bool>) -> Reply {
    match request.api {
        ApiKey::ApiVersions => request.reply(&scripted::api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 1, 12),
            (ApiKey::Produce, 3, 9),
            (ApiKey::Fetch, 4, 12),
            (ApiKey::FindCoordinator, 0, 4),
            (ApiKey::Heartbeat, 0, 4),
        ])),
        ApiKey::Metadata => request.reply(&scripted::metadata(request.port, &request.decode())),
        ApiKey::FindCoordinator => {
            counters.find_coordinator.fetch_add(1, Ordering::SeqCst);
            request.reply(&find_coordinator(request.port, &request.decode()))
        }
        ApiKey::Heartbeat => request.reply(&HeartbeatResponse::default()),
        ApiKey::Produce => request.reply(&ProduceResponse::default()),
        ApiKey::Fetch => {
            counters.parked_fetches.fetch_add(1, Ordering::SeqCst);
            // Answer later, like a long poll, without blocking this
            // connection's reader.
            let mut release = release.subscribe();
            let version = request.version;
            Reply::later(async move {
                let _ = release.wait_for(|released| *released).await;
                encode(&FetchResponse::default(), version)
            })
        }
        other => panic!("the fake broker does not serve {other:?}"),
    }
}

fn find_coordinator(port: u16, request: &FindCoordinatorRequest) -> FindCoordinatorResponse {
    FindCoordinatorResponse::default().with_coordinators(
        request
            .coordinator_keys
            .iter()
            .map(|key| {
                Coordinator::default()
                    .with_key(key.clone())
                    .with_node_id(BrokerId(scripted::NODE_ID))
                    .with_host(StrBytes::from_static_str("127.0.0.1"))
                    .with_port(i32::from(port))
            })
            .collect(),
    )
}

#[tokio::test]
async fn metadata_and_partition_leaders_through_a_resolved_bootstrap_name() {
    let broker = Fixture::start().await;
    let client = broker.client();
    client.add_topics(["events"]);
    let metadata = client.refresh_metadata("test").await.unwrap();
    assert_eq!(metadata.controller_id, Some(1));
    let leader = client.partition_leader("events", 0).unwrap();
    assert_eq!(
        leader.address(),
        format!("127.0.0.1:{}", broker.server.port())
    );
}

#[tokio::test]
async fn a_parked_fetch_does_not_hold_back_a_produce() {
    let broker = Fixture::start().await;
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
    assert_eq!(broker.server.connections(), 3);
    broker.release_fetches.send_replace(true);
    fetch.await.unwrap().unwrap();
}

#[tokio::test]
async fn the_client_reconnects_after_its_connections_are_dropped() {
    let broker = Fixture::start().await;
    let client = broker.client();
    client.refresh_metadata("first").await.unwrap();
    let before = broker.server.connections();
    broker.server.drop_connections();
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
    assert!(broker.server.connections() > before);
}

#[tokio::test]
async fn coordinators_are_cached_until_an_error_invalidates_them() {
    let broker = Fixture::start().await;
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
