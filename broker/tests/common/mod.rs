//! A minimal Kafka client for the broker's integration tests: encodes
//! requests with kafka-protocol, one at a time, over a plain TCP stream.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use durian_broker::{Broker, BrokerHandle};
use durian_core::record::{decode_records, BatchScanner, BatchWriter, Record, NO_HEADERS};
use kafka_protocol::messages::{ApiKey, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

pub mod certs;
pub mod sasl;
pub mod topics;
pub mod wait;

/// Starts a broker in a temporary directory on a free port.
pub async fn start_broker() -> BrokerHandle {
    Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await
        .expect("broker starts")
}

/// Segments that hold one small batch each: every batch after the first
/// rolls a new segment. Topic configs refuse `segment.bytes` below Kafka's
/// 1 MiB minimum; the embedding API's `LogConfig` goes lower (as Kafka's
/// `internal.segment.bytes` does).
pub fn tiny_segments() -> durian_broker::LogConfig {
    durian_broker::LogConfig {
        segment_bytes: 128,
        ..durian_broker::LogConfig::default()
    }
}

/// Starts a broker on a free port keeping its data in `dir`, so that a
/// test can stop it and start another on the same data.
pub async fn start_broker_in(dir: &std::path::Path) -> BrokerHandle {
    Broker::builder()
        .data_dir(dir)
        .listen("127.0.0.1:0")
        .start()
        .await
        .expect("broker starts")
}

/// Any byte stream a test client can talk over (TCP, TLS).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// A test connection.
pub struct TestClient {
    stream: Box<dyn Stream>,
    next_correlation: i32,
    client_id: String,
}

impl TestClient {
    /// A client over an already connected stream (e.g. TLS).
    pub fn over(stream: impl Stream + 'static) -> TestClient {
        Self::over_as(stream, "durian-broker-tests")
    }

    /// A client over `stream` sending `client_id` in every request header.
    pub fn over_as(stream: impl Stream + 'static, client_id: &str) -> TestClient {
        TestClient {
            stream: Box::new(stream),
            next_correlation: 1,
            client_id: client_id.to_string(),
        }
    }

    /// Connects to `addr`.
    pub async fn connect(addr: SocketAddr) -> TestClient {
        Self::connect_as(addr, "durian-broker-tests").await
    }

    /// Connects to `addr`, sending `client_id` in every request header
    /// (which a broker's `principal_for_client_id` test hook maps to a
    /// principal).
    pub async fn connect_as(addr: SocketAddr, client_id: &str) -> TestClient {
        let stream = TcpStream::connect(addr).await.expect("connect");
        TestClient::over_as(stream, client_id)
    }

    /// Sends `request` at `version` and returns the decoded response.
    pub async fn call<R: Request>(&mut self, request: &R, version: i16) -> R::Response {
        let correlation = self.send(request, version).await;
        self.receive::<R>(correlation, version).await
    }

    /// Sends `request` without waiting for the response; returns its correlation id.
    pub async fn send<R: Request>(&mut self, request: &R, version: i16) -> i32 {
        let correlation = self.next_correlation;
        self.next_correlation += 1;
        let api = ApiKey::try_from(R::KEY).expect("known api key");
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(correlation)
            .with_client_id(Some(StrBytes::from_string(self.client_id.clone())));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, api.request_header_version(version))
            .expect("encode header");
        request.encode(&mut body, version).expect("encode request");
        self.send_raw_frame(&body).await;
        correlation
    }

    /// Reads the response to the request with `correlation`.
    pub async fn receive<R: Request>(&mut self, correlation: i32, version: i16) -> R::Response {
        let api = ApiKey::try_from(R::KEY).expect("known api key");
        let mut frame = self.read_frame().await.expect("response frame");
        let got = frame.get_i32();
        assert_eq!(got, correlation, "responses must come in request order");
        if api.response_header_version(version) >= 1 {
            let tagged = frame.get_u8();
            assert_eq!(tagged, 0, "no tagged fields in response header");
        }
        R::Response::decode(&mut frame, version).expect("decode response")
    }

    /// Writes a length-prefixed frame with `payload`.
    pub async fn send_raw_frame(&mut self, payload: &[u8]) {
        let mut out = BytesMut::with_capacity(payload.len() + 4);
        out.put_i32(payload.len() as i32);
        out.put_slice(payload);
        self.stream.write_all(&out).await.expect("write frame");
    }

    /// Reads `len` raw bytes (within 10 s), whatever frame they belong to.
    pub async fn read_exact_raw(&mut self, len: usize) -> Bytes {
        let mut buf = vec![0u8; len];
        tokio::time::timeout(Duration::from_secs(10), self.stream.read_exact(&mut buf))
            .await
            .expect("bytes within 10 s")
            .expect("read");
        Bytes::from(buf)
    }

    /// Writes arbitrary bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        // The broker may already have closed the connection; that is fine here.
        let _ = self.stream.write_all(bytes).await;
    }

    /// Reads one response frame; `None` when the broker closed the connection.
    pub async fn read_frame(&mut self) -> Option<Bytes> {
        let read = async {
            let len = self.stream.read_i32().await.ok()?;
            let mut buf = vec![0u8; usize::try_from(len).ok()?];
            self.stream.read_exact(&mut buf).await.ok()?;
            Some(Bytes::from(buf))
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("the broker answers or closes within 10 s")
    }

    /// Whether the broker closes this connection within 10 s, whatever it
    /// sends first (a TLS alert, say).
    pub async fn is_closed_after_anything(&mut self) -> bool {
        let drain = async {
            let mut buf = [0u8; 512];
            loop {
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return true,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .unwrap_or(false)
    }

    /// Whether the broker closed this connection (reads EOF within 10 s).
    pub async fn is_closed_by_broker(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => true,
            Ok(Ok(_)) => false,
            Err(_) => false,
        }
    }
}

/// Timestamp of the first record of every test batch: recent, so time-based
/// retention never touches the test data.
pub static BASE_TIMESTAMP: std::sync::LazyLock<i64> = std::sync::LazyLock::new(|| {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    now.as_millis() as i64 - 60_000
});

/// One record batch holding `values`, keys `k0, k1, ...`.
pub fn batch(values: &[&str]) -> Bytes {
    batch_at(*BASE_TIMESTAMP, values)
}

/// One record batch holding `values`, record i stamped `timestamp + i`.
pub fn batch_at(timestamp: i64, values: &[&str]) -> Bytes {
    // No size limit: a test asks for every value it names in one batch
    // (the writer's default limit would leave records out past 16 KiB).
    let mut writer = BatchWriter::builder().size_limit(usize::MAX).build();
    for (i, value) in values.iter().enumerate() {
        let key = format!("k{i}");
        let appended = writer
            .try_append(
                timestamp + i as i64,
                Some(key.as_bytes()),
                Some(value.as_bytes()),
                NO_HEADERS,
            )
            .expect("append record");
        assert!(appended, "record {i} left out of the test batch");
    }
    writer.finish().expect("finish batch")
}

/// Decodes every whole batch of a fetch response's records.
pub fn records_of(bytes: &Bytes) -> Vec<Record> {
    let mut out = Vec::new();
    for scanned in BatchScanner::new(bytes) {
        let scanned = scanned.expect("well-formed batch");
        let batch = Bytes::copy_from_slice(scanned.bytes);
        out.extend(decode_records(&batch).expect("decodable batch"));
    }
    out
}
