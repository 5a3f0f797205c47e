//! The connection actor against a scripted fake broker over `tokio::io::duplex`.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use durian_core::connection::{Connection, ConnectionSettings, Link, RawRequest};
use durian_core::Error;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader};
use kafka_protocol::protocol::{decode_request_header_from_buffer, Decodable, Encodable};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::mpsc;

const MAX_FRAME: usize = 1024 * 1024;

fn settings() -> ConnectionSettings {
    ConnectionSettings {
        broker: "fake:9092".to_owned(),
        client_id: Some("test".to_owned()),
        max_frame_bytes: MAX_FRAME,
    }
}

fn request(body: &str, timeout: Duration) -> RawRequest {
    RawRequest {
        api: ApiKey::Metadata,
        version: 1,
        body: Bytes::copy_from_slice(body.as_bytes()),
        body_tail: Vec::new(),
        expect_response: true,
        timeout,
    }
}

/// The broker side: reads whole request frames and writes response frames.
struct FakeBroker {
    stream: DuplexStream,
}

struct Received {
    header: RequestHeader,
    body: Bytes,
}

impl FakeBroker {
    async fn read_request(&mut self) -> Option<Received> {
        let size = self.stream.read_i32().await.ok()?;
        let mut frame = vec![0u8; usize::try_from(size).expect("client sent a negative size")];
        self.stream.read_exact(&mut frame).await.ok()?;
        let mut frame = Bytes::from(frame);
        let header = decode_request_header_from_buffer(&mut frame).expect("torn request header");
        Some(Received {
            header,
            body: frame,
        })
    }

    /// Answers with a v0 response header followed by `body`.
    async fn respond(&mut self, correlation_id: i32, body: &[u8]) {
        let mut frame = BytesMut::new();
        frame.put_i32(4 + body.len() as i32);
        frame.put_i32(correlation_id);
        frame.put_slice(body);
        self.stream.write_all(&frame).await.unwrap();
    }
}

fn start() -> (Link, FakeBroker) {
    let (client, server) = tokio::io::duplex(64 * 1024);
    (
        Link::spawn(client, settings()),
        FakeBroker { stream: server },
    )
}

#[tokio::test]
async fn pipelined_requests_are_matched_by_correlation_id_even_out_of_order() {
    let (link, mut broker) = start();
    let server = tokio::spawn(async move {
        let mut received = Vec::new();
        for _ in 0..5 {
            received.push(broker.read_request().await.unwrap());
        }
        let ids: std::collections::HashSet<_> =
            received.iter().map(|r| r.header.correlation_id).collect();
        assert_eq!(ids.len(), 5, "correlation ids must be distinct");
        // Answer in reverse order, echoing each body.
        for request in received.iter().rev() {
            broker
                .respond(request.header.correlation_id, &request.body)
                .await;
        }
        broker
    });
    let calls = (0..5).map(|i| {
        let link = link.clone();
        async move {
            let body = format!("request-{i}");
            let response = link
                .send(request(&body, Duration::from_secs(30)))
                .await
                .unwrap();
            assert_eq!(response, body.as_bytes());
        }
    });
    futures::future::join_all(calls).await;
    server.await.unwrap();
    assert!(!link.is_poisoned());
}

#[tokio::test]
async fn a_cancelled_caller_does_not_disturb_later_requests() {
    let (link, mut broker) = start();
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let server = tokio::spawn(async move {
        let mut pending = Vec::new();
        for _ in 0..3 {
            let request = broker.read_request().await.unwrap();
            seen_tx
                .send(String::from_utf8(request.body.to_vec()).unwrap())
                .unwrap();
            pending.push(request);
        }
        for request in &pending {
            broker
                .respond(request.header.correlation_id, &request.body)
                .await;
        }
        // One more round after the cancellation.
        let request = broker.read_request().await.unwrap();
        broker
            .respond(request.header.correlation_id, &request.body)
            .await;
    });

    let first = tokio::spawn({
        let link = link.clone();
        async move { link.send(request("first", Duration::from_secs(30))).await }
    });
    assert_eq!(seen_rx.recv().await.unwrap(), "first");
    // The second caller is dropped once its frame has reached the broker.
    let second = tokio::spawn({
        let link = link.clone();
        async move { link.send(request("second", Duration::from_secs(30))).await }
    });
    assert_eq!(seen_rx.recv().await.unwrap(), "second");
    second.abort();
    let third = link.send(request("third", Duration::from_secs(30)));
    let (third, _) = tokio::join!(third, async { seen_rx.recv().await });
    assert_eq!(third.unwrap(), "third".as_bytes());
    assert_eq!(first.await.unwrap().unwrap(), "first".as_bytes());
    let fourth = link
        .send(request("fourth", Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(fourth, "fourth".as_bytes());
    server.await.unwrap();
}

#[tokio::test]
async fn a_future_dropped_before_sending_leaves_no_torn_frame() {
    let (link, mut broker) = start();
    // Poll a send once so it is queued, then drop it; the broker must see
    // either nothing or a complete frame, and the next request must work.
    {
        let send = link.send(request("abandoned", Duration::from_secs(30)));
        let _ = tokio::time::timeout(Duration::ZERO, send).await;
    }
    let next = tokio::spawn({
        let link = link.clone();
        async move { link.send(request("next", Duration::from_secs(30))).await }
    });
    loop {
        let request = broker.read_request().await.unwrap();
        if request.body == "next".as_bytes() {
            broker.respond(request.header.correlation_id, b"ok").await;
            break;
        }
        assert_eq!(request.body, "abandoned".as_bytes());
    }
    assert_eq!(next.await.unwrap().unwrap(), "ok".as_bytes());
}

#[tokio::test]
async fn closing_the_socket_fails_every_pending_request_with_one_error() {
    let (link, mut broker) = start();
    let server = tokio::spawn(async move {
        for _ in 0..3 {
            broker.read_request().await.unwrap();
        }
        drop(broker);
    });
    let calls = (0..3).map(|i| {
        let link = link.clone();
        async move {
            link.send(request(&format!("r{i}"), Duration::from_secs(30)))
                .await
        }
    });
    let results = futures::future::join_all(calls).await;
    server.await.unwrap();
    let causes: Vec<Arc<Error>> = results
        .into_iter()
        .map(|result| match result {
            Err(Error::Poisoned(cause)) => cause,
            other => panic!("expected a poisoned error, got {other:?}"),
        })
        .collect();
    assert!(
        matches!(*causes[0], Error::ConnectionClosed { .. }),
        "{}",
        causes[0]
    );
    assert!(causes.iter().all(|c| Arc::ptr_eq(c, &causes[0])));
    // Later requests fail fast with the same cause.
    match link.send(request("late", Duration::from_secs(30))).await {
        Err(Error::Poisoned(cause)) => assert!(Arc::ptr_eq(&cause, &causes[0])),
        other => panic!("expected fail-fast, got {other:?}"),
    }
    assert!(link.is_poisoned());
}

#[tokio::test]
async fn an_unanswered_request_times_out_and_poisons_the_connection() {
    let (link, mut broker) = start();
    let server = tokio::spawn(async move {
        let request = broker.read_request().await.unwrap();
        // Hold the connection open without answering.
        (broker, request)
    });
    let err = link
        .send(request("slow", Duration::from_millis(100)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    let later = link
        .send(request("later", Duration::from_secs(30)))
        .await
        .unwrap_err();
    assert!(
        matches!(&later, Error::Poisoned(cause) if matches!(**cause, Error::Timeout { .. })),
        "{later}"
    );
    let _ = server.await.unwrap();
}

async fn answer_with_raw_bytes(raw: Vec<u8>) -> Error {
    let (link, mut broker) = start();
    let server = tokio::spawn(async move {
        broker.read_request().await.unwrap();
        broker.stream.write_all(&raw).await.unwrap();
        broker.stream.shutdown().await.unwrap();
        broker
    });
    let err = link
        .send(request("x", Duration::from_secs(30)))
        .await
        .unwrap_err();
    server.await.unwrap();
    match err {
        Error::Poisoned(cause) => (*cause).clone(),
        other => panic!("expected a poisoned error, got {other:?}"),
    }
}

#[tokio::test]
async fn oversized_response_frames_poison_the_connection() {
    let cause = answer_with_raw_bytes((1i32 << 30).to_be_bytes().to_vec()).await;
    assert!(
        matches!(cause, Error::FrameTooLarge { size, max } if size == 1 << 30 && max == MAX_FRAME),
        "{cause}"
    );
}

#[tokio::test]
async fn negative_response_frame_sizes_poison_the_connection() {
    let cause = answer_with_raw_bytes((-1i32).to_be_bytes().to_vec()).await;
    assert!(
        matches!(cause, Error::FrameTooLarge { size: -1, .. }),
        "{cause}"
    );
}

#[tokio::test]
async fn a_broker_closing_mid_frame_is_an_io_error() {
    let mut raw = 100i32.to_be_bytes().to_vec();
    raw.extend_from_slice(&[0, 0, 0, 0, 1, 2, 3]);
    let cause = answer_with_raw_bytes(raw).await;
    match cause {
        Error::Connection { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::UnexpectedEof)
        }
        other => panic!("expected an I/O error, got {other}"),
    }
}

#[tokio::test]
async fn an_unknown_correlation_id_is_a_protocol_error() {
    let mut raw = 5i32.to_be_bytes().to_vec();
    raw.extend_from_slice(&[0x7f, 0, 0, 0, 9]);
    let cause = answer_with_raw_bytes(raw).await;
    assert!(matches!(cause, Error::Protocol(_)), "{cause}");
}

fn encode_api_versions(response: &ApiVersionsResponse, version: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    response.encode(&mut buf, version).unwrap();
    buf.to_vec()
}

#[tokio::test]
async fn handshake_downgrades_when_the_broker_rejects_v3() {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let mut broker = FakeBroker { stream: server };
    let server = tokio::spawn(async move {
        let first = broker.read_request().await.unwrap();
        assert_eq!(first.header.request_api_key, ApiKey::ApiVersions as i16);
        assert_eq!(first.header.request_api_version, 3);
        let mut body = first.body.clone();
        let request = ApiVersionsRequest::decode(&mut body, 3).unwrap();
        assert_eq!(request.client_software_name.as_str(), "durian");
        assert_eq!(
            request.client_software_version.as_str(),
            env!("CARGO_PKG_VERSION")
        );
        let refusal = ApiVersionsResponse::default()
            .with_error_code(35)
            .with_api_keys(vec![ApiVersion::default()
                .with_api_key(18)
                .with_min_version(0)
                .with_max_version(2)]);
        broker
            .respond(
                first.header.correlation_id,
                &encode_api_versions(&refusal, 0),
            )
            .await;

        let second = broker.read_request().await.unwrap();
        assert_eq!(second.header.request_api_version, 2);
        let table = ApiVersionsResponse::default().with_api_keys(vec![
            ApiVersion::default()
                .with_api_key(18)
                .with_min_version(0)
                .with_max_version(2),
            ApiVersion::default()
                .with_api_key(3)
                .with_min_version(0)
                .with_max_version(7),
        ]);
        broker
            .respond(
                second.header.correlation_id,
                &encode_api_versions(&table, 2),
            )
            .await;
        broker
    });
    let connection = Connection::establish(client, settings(), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        connection
            .versions()
            .negotiate(
                ApiKey::Metadata,
                kafka_protocol::protocol::VersionRange { min: 0, max: 13 }
            )
            .unwrap(),
        7
    );
    let _broker = server.await.unwrap();
}

#[tokio::test]
async fn requests_without_response_complete_once_written() {
    let (link, mut broker) = start();
    let mut raw = request("fire-and-forget", Duration::from_secs(30));
    raw.expect_response = false;
    assert!(link.send(raw).await.unwrap().is_empty());
    let received = broker.read_request().await.unwrap();
    assert_eq!(received.body, "fire-and-forget".as_bytes());
    // The stream stays in sync: a normal request still round-trips.
    let follow_up = tokio::spawn({
        let link = link.clone();
        async move { link.send(request("after", Duration::from_secs(30))).await }
    });
    let next = broker.read_request().await.unwrap();
    broker.respond(next.header.correlation_id, b"fine").await;
    assert_eq!(follow_up.await.unwrap().unwrap(), "fine".as_bytes());
}
