//! A scripted fake Kafka broker on a real TCP port.
//!
//! Tests that need a broker to misbehave on demand (an error code a real
//! broker rarely gives, a Fetch that stays parked, a connection that drops)
//! start a [`FakeBroker`] with a [`Handler`]: the harness accepts
//! connections, reads size-prefixed request frames, decodes the request
//! header and writes whatever the handler answers back under a response
//! header with the request's correlation id. The handler only decides what
//! to answer; framing, correlation and connection bookkeeping live here so
//! every fake broker gets them right the same way.
//!
//! The API speaks `kafka-protocol`, `bytes` and `tokio` types only, never
//! durian's own: `durian-core` dev-depends on this crate, and a durian type
//! crossing this boundary would come from a second copy of `durian-core`
//! and not match the one under test.
//!
//! ```no_run
//! use durian_testkit::scripted::{api_versions, metadata, FakeBroker, Reply, Request};
//! use kafka_protocol::messages::{ApiKey, HeartbeatResponse, MetadataRequest};
//!
//! # async fn example() {
//! let broker = FakeBroker::start(|request: Request| match request.api {
//!     ApiKey::ApiVersions => request.reply(&api_versions(&[
//!         (ApiKey::ApiVersions, 0, 3),
//!         (ApiKey::Metadata, 1, 12),
//!         (ApiKey::Heartbeat, 0, 4),
//!     ])),
//!     ApiKey::Metadata => {
//!         let asked: MetadataRequest = request.decode();
//!         request.reply(&metadata(request.port, &asked))
//!     }
//!     ApiKey::Heartbeat => request.reply(&HeartbeatResponse::default()),
//!     other => panic!("this fake broker does not serve {other:?}"),
//! })
//! .await;
//! println!("bootstrap with {}", broker.bootstrap());
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, MetadataRequest, MetadataResponse, RequestHeader,
    ResponseHeader,
};
use kafka_protocol::protocol::{decode_request_header_from_buffer, Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Mutex};

/// The node id the fake broker gives itself in the answers built here.
pub const NODE_ID: i32 = 1;

/// One request as the fake broker read it.
#[derive(Debug)]
pub struct Request {
    /// The decoded request header (api key, version, correlation id,
    /// client id).
    pub header: RequestHeader,
    /// The API the request is for.
    pub api: ApiKey,
    /// The API version the client chose; replies are encoded with it.
    pub version: i16,
    /// The request body, after the header, still encoded.
    pub body: Bytes,
    /// The port the fake broker listens on, so answers that name the
    /// broker (Metadata, FindCoordinator) can point clients back at it.
    pub port: u16,
}

impl Request {
    /// Decodes the body as `M` at the request's version.
    ///
    /// Panics when the body does not decode: a fake broker that cannot
    /// read what the client sent means the test itself is wrong.
    pub fn decode<M: Decodable>(&self) -> M {
        M::decode(&mut self.body.clone(), self.version)
            .unwrap_or_else(|e| panic!("{:?} v{} body: {e}", self.api, self.version))
    }

    /// An immediate answer: `message` encoded at the request's version.
    pub fn reply<M: Encodable>(&self, message: &M) -> Reply {
        Reply::Now(encode(message, self.version))
    }
}

/// How the handler answers one request.
pub enum Reply {
    /// Answer with this encoded response body before reading the next
    /// request of the connection.
    Now(Bytes),
    /// Answer with the body this future yields, whenever it yields it.
    /// The connection goes on reading (and answering) other requests
    /// meanwhile, like a broker holding a long-poll Fetch: that is what
    /// lets tests see whether a client keeps one slow request from holding
    /// back the others.
    Later(Pin<Box<dyn Future<Output = Bytes> + Send>>),
}

impl Reply {
    /// A [`Reply::Later`] from any sendable future.
    pub fn later(body: impl Future<Output = Bytes> + Send + 'static) -> Reply {
        Reply::Later(Box::pin(body))
    }
}

/// What a fake broker does with each request.
///
/// Called on the connection's task, one request at a time per connection
/// and in arrival order, so a handler that records what it saw records it
/// in the order the client sent it. Any `Fn(Request) -> Reply` closure is a
/// handler. A handler may panic (on an API it does not serve, say): that
/// ends the connection, which the client sees as a broken connection.
pub trait Handler: Send + Sync + 'static {
    /// The answer to `request`.
    fn handle(&self, request: Request) -> Reply;
}

impl<F> Handler for F
where
    F: Fn(Request) -> Reply + Send + Sync + 'static,
{
    fn handle(&self, request: Request) -> Reply {
        self(request)
    }
}

/// A fake broker listening on `127.0.0.1` on a free port.
///
/// It serves until the test's runtime shuts down, also after this handle
/// is dropped, as a real broker would outlive one client.
#[derive(Clone, Debug)]
pub struct FakeBroker {
    port: u16,
    connections: Arc<AtomicUsize>,
    /// Bumping the value ends every open connection.
    drop_connections: watch::Sender<u64>,
}

impl FakeBroker {
    /// Binds a free port and serves every connection with `handler`.
    pub async fn start(handler: impl Handler) -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake broker binds a port");
        let port = listener
            .local_addr()
            .expect("bound socket has an address")
            .port();
        let (drop_connections, _) = watch::channel(0);
        let broker = FakeBroker {
            port,
            connections: Arc::new(AtomicUsize::new(0)),
            drop_connections,
        };
        let handler = Arc::new(handler);
        // The accept loop owns its own clone of the sender: while any
        // sender lives, `changed()` only fires on a real bump, so dropping
        // the test's handle does not end the connections.
        let accepting = broker.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepting.connections.fetch_add(1, Ordering::SeqCst);
                let mut dropped = accepting.drop_connections.subscribe();
                let session = serve(stream, port, handler.clone());
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

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, to bootstrap clients with.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// How many connections it has accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Ends every connection open now, as a broker restart or a network
    /// cut would; later connections are served as usual. Answers still
    /// pending as [`Reply::Later`] are not cancelled.
    pub fn drop_connections(&self) {
        self.drop_connections.send_modify(|n| *n += 1);
    }
}

/// Reads requests off one connection until it closes, answering each.
async fn serve<H: Handler>(stream: TcpStream, port: u16, handler: Arc<H>) {
    let (mut reader, writer) = stream.into_split();
    // Shared with the tasks of `Reply::Later` answers, which write out of
    // turn; the lock keeps each response frame whole.
    let writer = Arc::new(Mutex::new(writer));
    loop {
        let Ok(size) = reader.read_i32().await else {
            return;
        };
        let Ok(size) = usize::try_from(size) else {
            return;
        };
        let mut frame = vec![0u8; size];
        if reader.read_exact(&mut frame).await.is_err() {
            return;
        }
        let mut body = Bytes::from(frame);
        let header = decode_request_header_from_buffer(&mut body).expect("request header");
        let api = ApiKey::try_from(header.request_api_key).expect("known api key");
        let version = header.request_api_version;
        let correlation_id = header.correlation_id;
        let request = Request {
            header,
            api,
            version,
            body,
            port,
        };
        match handler.handle(request) {
            Reply::Now(body) => {
                let mut writer = writer.lock().await;
                if respond(&mut writer, correlation_id, api, version, &body)
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Reply::Later(body) => {
                let writer = writer.clone();
                tokio::spawn(async move {
                    let body = body.await;
                    let mut writer = writer.lock().await;
                    // The client may be gone by now; nobody to tell.
                    let _ = respond(&mut writer, correlation_id, api, version, &body).await;
                });
            }
        }
    }
}

/// Writes one response frame: size, response header, body.
async fn respond(
    writer: &mut OwnedWriteHalf,
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    body: &[u8],
) -> std::io::Result<()> {
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    // The header version depends on the API and its version (flexible
    // versions carry tagged fields), exactly as the client will expect.
    let header = encode(&header, api.response_header_version(version));
    let size = i32::try_from(header.len() + body.len()).expect("response under 2 GiB");
    // One write per frame, so a frame is never interleaved with another.
    let mut frame = BytesMut::with_capacity(4 + header.len() + body.len());
    frame.extend_from_slice(&size.to_be_bytes());
    frame.extend_from_slice(&header);
    frame.extend_from_slice(body);
    writer.write_all(&frame).await
}

/// `message` encoded at `version`.
///
/// Panics when it does not encode at that version (a field the version
/// lacks): the test built a response the client could never get.
pub fn encode<M: Encodable>(message: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    message
        .encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("encoding at v{version}: {e}"));
    buf.freeze()
}

/// An ApiVersions answer offering each `(api, min, max)` version range.
///
/// Clients pick request versions from this, so a fake broker lists exactly
/// the APIs its handler serves, with ranges its encoders cover.
pub fn api_versions(ranges: &[(ApiKey, i16, i16)]) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        ranges
            .iter()
            .map(|&(api, min, max)| {
                ApiVersion::default()
                    .with_api_key(api as i16)
                    .with_min_version(min)
                    .with_max_version(max)
            })
            .collect(),
    )
}

/// A Metadata answer for a one-broker cluster: the broker is node
/// [`NODE_ID`] at `127.0.0.1:port` and the controller, and every topic the
/// request names exists with one partition, 0, led by it (leader epoch 0).
///
/// A request for all topics (`topics: None`) gets no topics: the fake
/// broker keeps no topic list, tests name the topics they use.
pub fn metadata(port: u16, request: &MetadataRequest) -> MetadataResponse {
    let topics = request.topics.clone().unwrap_or_default();
    MetadataResponse::default()
        .with_controller_id(BrokerId(NODE_ID))
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(NODE_ID))
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
                            .with_leader_id(BrokerId(NODE_ID))
                            .with_leader_epoch(0)])
                })
                .collect(),
        )
}
