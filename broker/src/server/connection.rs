//! One client connection: a reader that pulls frames off the socket ahead
//! of time, and a processor that runs them one at a time and writes the
//! responses in request order.
//!
//! Requests of one connection are processed sequentially, like Kafka does:
//! an idempotent producer pipelines several Produce requests on one
//! connection and relies on them being appended in the order sent. The
//! reader still runs ahead (up to [`PIPELINE_DEPTH`] frames), so a client's
//! pipelined requests wait in memory rather than in the socket. Memory for
//! every frame read ahead comes from one broker-wide pool
//! (`queued.max.request.bytes`), so many clients flooding large requests
//! wait for memory instead of exhausting it; memory is charged as bytes
//! arrive, and a started request must complete within the body timeout.
//! Responses count against a broker-wide response budget until written,
//! and are written within the write timeout, piece by piece as the
//! handler left them (a Fetch's record bytes are never copied into one
//! response buffer).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use super::authenticate::{gate, Gate};
use super::dispatch::{dispatch, Caller, Outcome};
use super::endpoint::Endpoint;
use super::frame::{frame_size, FrameError};
use super::resources::Resources;
use super::response_write::ResponseWriter;
use super::shutdown::Shutdown;
use crate::config::BrokerConfig;
use crate::security::listener::ListenerInfo;
use crate::security::sasl::SaslSession;
use crate::security::Principal;
use crate::state::BrokerState;

/// Frames read ahead of the one being processed.
pub const PIPELINE_DEPTH: usize = 16;

/// Responses up to this size are written without waiting for the
/// response budget (`queued.max.response.bytes`).
pub const SMALL_RESPONSE_BYTES: usize = 64 * 1024;

/// Largest frame a SASL connection may send before it has authenticated
/// (Kafka's `sasl.server.max.receive.size`): strangers cannot make the
/// broker buffer `socket.request.max.bytes` per connection.
pub const SASL_MAX_RECEIVE_BYTES: usize = 512 * 1024;

/// Who a connection is and how it must authenticate.
#[derive(Debug)]
pub struct ConnectionSecurity {
    /// The principal established so far: a client certificate's subject,
    /// or `User:ANONYMOUS`.
    pub principal: Principal,
    /// The SASL session, on SASL listeners.
    pub sasl: Option<SaslSession>,
    /// The listener the connection came in on (`None`: the single
    /// default listener of a test cluster node).
    pub listener: Option<Arc<ListenerInfo>>,
}

/// Serves a connection, given as its read and write halves, until the
/// client leaves, misbehaves, idles out, fails to authenticate in time or
/// the broker shuts down.
pub async fn serve<R, W>(
    state: Arc<BrokerState>,
    endpoint: Arc<Endpoint>,
    (reader, mut writer): (R, W),
    peer: SocketAddr,
    limits: ConnectionLimits,
    shutdown: Shutdown,
    mut security: ConnectionSecurity,
) where
    R: AsyncRead + Send + Unpin + 'static,
    W: ResponseWriter,
{
    // Fetch answers with file ranges only where `sendfile` can send them.
    let file_records = writer.plain_socket().is_some();
    // Shared with the reader, which caps frames until authentication.
    let authenticated = Arc::new(AtomicBool::new(security.sasl.is_none()));
    let (frames_tx, mut frames) = mpsc::channel(PIPELINE_DEPTH);
    let write_timeout = limits.write_timeout;
    let resources = limits.resources.clone();
    // Aborted on drop too, so a killed connection releases its read half at once.
    let _reader = AbortOnDrop(tokio::spawn(read_loop(
        reader,
        frames_tx,
        peer,
        limits,
        shutdown,
        authenticated.clone(),
    )));
    let auth_deadline = security
        .sasl
        .as_ref()
        .map(|sasl| sasl.handshake_deadline(Instant::now()));
    loop {
        let unauthenticated = security
            .sasl
            .as_ref()
            .is_some_and(|sasl| sasl.principal().is_none());
        let frame = match auth_deadline.filter(|_| unauthenticated) {
            Some(deadline) => tokio::select! {
                frame = frames.recv() => frame,
                _ = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(%peer, "SASL authentication not completed in time; closing connection");
                    break;
                }
            },
            None => frames.recv().await,
        };
        let Some(frame) = frame else { break };
        let mut close_after = None;
        // Set for frames handed to `dispatch`: the API to time them under.
        let mut timed = None;
        let outcome = match security
            .sasl
            .as_mut()
            .map(|s| gate(s, &frame.bytes, Instant::now(), state.metrics()))
        {
            None | Some(Gate::Dispatch) => {
                let principal = security
                    .sasl
                    .as_ref()
                    .and_then(|s| s.principal().cloned())
                    .unwrap_or_else(|| security.principal.clone());
                timed = api_of(&frame.bytes);
                if let Some(api) = timed {
                    state
                        .metrics()
                        .record_queue_time(api, frame.read_at.elapsed());
                }
                dispatch(
                    state.clone(),
                    &endpoint,
                    frame.bytes.clone(),
                    Caller {
                        peer,
                        principal: &principal,
                        listener: security.listener.as_ref(),
                        file_records,
                    },
                )
                .await
            }
            Some(Gate::Respond(response)) => {
                if security
                    .sasl
                    .as_ref()
                    .is_some_and(|s| s.principal().is_some())
                {
                    authenticated.store(true, Ordering::Release);
                }
                Outcome::Respond(response)
            }
            Some(Gate::RespondThenClose(response, why)) => {
                close_after = Some(why);
                Outcome::Respond(response)
            }
            Some(Gate::Close(why)) => Outcome::Close(why),
        };
        match outcome {
            Outcome::Respond(response) => {
                // A large response counts against the response budget until
                // it is written, so clients that stop reading pin at most
                // that budget; one that cannot get budget within the write
                // timeout is not served further. A small one is not held
                // back: the budget's waiters queue in order, and a client
                // whose answers are small (Metadata, Produce acks) must not
                // wait behind readers that stopped reading. Each connection
                // writes one response at a time, so the small ones add at
                // most max.connections x SMALL_RESPONSE_BYTES.
                let _memory = if response.wire_len() <= SMALL_RESPONSE_BYTES {
                    None
                } else {
                    let Some(memory) = resources
                        .responses
                        .acquire_within(response.wire_len(), write_timeout)
                        .await
                    else {
                        tracing::warn!(%peer, bytes = response.wire_len(),
                            "response memory budget exhausted; closing connection");
                        break;
                    };
                    Some(memory)
                };
                match tokio::time::timeout(write_timeout, response.write_to(&mut writer)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "write failed; closing connection");
                        break;
                    }
                    Err(_) => {
                        let timeout_ms = write_timeout.as_millis() as u64;
                        tracing::info!(%peer, timeout_ms,
                            "client did not read its response in time; closing connection");
                        break;
                    }
                }
                if let Some(api) = timed {
                    state.metrics().record_latency(api, frame.read_at.elapsed());
                }
                if let Some(reason) = close_after {
                    let _ = writer.flush().await;
                    tracing::warn!(%peer, %reason, "closing connection");
                    break;
                }
            }
            Outcome::Silent => {
                if let Some(api) = timed {
                    state.metrics().record_latency(api, frame.read_at.elapsed());
                }
            }
            Outcome::Close(reason) => {
                state.metrics().count_refused();
                tracing::warn!(%peer, %reason, "closing connection");
                break;
            }
            #[cfg(feature = "testing")]
            Outcome::Injected(reason) => {
                tracing::debug!(%peer, %reason, "closing connection (injected fault)");
                break;
            }
        }
    }
    let _ = writer.shutdown().await;
}

/// The API key of a request frame (its first two bytes), when known.
fn api_of(frame: &[u8]) -> Option<kafka_protocol::messages::ApiKey> {
    let key = i16::from_be_bytes([*frame.first()?, *frame.get(1)?]);
    kafka_protocol::messages::ApiKey::try_from(key).ok()
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A request frame waiting to be processed, with its share of the
/// broker-wide request memory (released when the frame is dropped).
pub struct QueuedFrame {
    /// The frame (without its length prefix).
    pub bytes: Bytes,
    /// When the whole frame had been read: request latency and queue time
    /// are measured from here.
    pub read_at: Instant,
    _memory: OwnedSemaphorePermit,
}

/// Why the reader stopped.
enum ReadEnd {
    Closed,
    Idle,
    SlowBody,
    Shutdown,
    Failed(FrameError),
}

async fn read_loop<R: AsyncRead + Unpin>(
    mut reader: R,
    frames: mpsc::Sender<QueuedFrame>,
    peer: SocketAddr,
    limits: ConnectionLimits,
    mut shutdown: Shutdown,
    authenticated: Arc<AtomicBool>,
) {
    loop {
        let end = tokio::select! {
            _ = shutdown.wait() => ReadEnd::Shutdown,
            next = read_one(&mut reader, &limits, &authenticated) => match next {
                Ok(frame) => {
                    if frames.send(frame).await.is_err() {
                        return;
                    }
                    continue;
                }
                Err(end) => end,
            },
        };
        match end {
            ReadEnd::Closed | ReadEnd::Shutdown => {}
            ReadEnd::Idle => {
                let idle_ms = limits.idle.as_millis() as u64;
                tracing::info!(%peer, idle_ms, "closing idle connection");
            }
            ReadEnd::SlowBody => {
                let timeout_ms = limits.body_timeout.as_millis() as u64;
                tracing::warn!(%peer, timeout_ms,
                    "request not complete in time after its first byte; closing connection");
            }
            ReadEnd::Failed(e) => tracing::warn!(%peer, error = %e, "closing connection"),
        }
        return;
    }
}

/// The first claim on the request pool for a frame being read; later
/// claims double it (up to the announced size), so memory follows the
/// bytes that actually arrived.
const FIRST_CHUNK: usize = 64 * 1024;

/// Reads one frame.
///
/// The first byte may take up to the idle timeout; from then on the rest
/// of the length prefix and the body must arrive within the body timeout,
/// waits for pool memory included. Memory is charged to the broker-wide pool as the
/// body grows, a chunk ahead of the bytes received, never for the
/// announced size up front: a client announcing 100 MiB and trickling
/// bytes holds what it sent, not what it promised.
async fn read_one<R: AsyncRead + Unpin>(
    reader: &mut R,
    limits: &ConnectionLimits,
    authenticated: &AtomicBool,
) -> Result<QueuedFrame, ReadEnd> {
    let mut prefix = [0u8; 4];
    match tokio::time::timeout(limits.idle, reader.read(&mut prefix[..1])).await {
        Err(_) => return Err(ReadEnd::Idle),
        Ok(Ok(0)) => return Err(ReadEnd::Closed),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(ReadEnd::Failed(FrameError::Io(e))),
    }
    let clock = BodyClock::new(limits.body_timeout);
    clock
        .run(async {
            reader
                .read_exact(&mut prefix[1..])
                .await
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::UnexpectedEof => FrameError::Truncated,
                    _ => FrameError::Io(e),
                })
        })
        .await?
        .map_err(ReadEnd::Failed)?;
    // Read once the prefix is in: the flag is set before the response
    // that completes authentication is written, so a client that waited
    // for that response is measured as authenticated.
    let max_bytes = if authenticated.load(Ordering::Acquire) {
        limits.max_bytes
    } else {
        limits.max_bytes.min(SASL_MAX_RECEIVE_BYTES)
    };
    let size = frame_size(prefix, max_bytes).map_err(ReadEnd::Failed)?;

    let pool = &limits.resources.requests;
    let bodies = &limits.resources.bodies;
    let mut memory: Option<OwnedSemaphorePermit> = None;
    let mut charged = 0usize;
    // A recycled buffer, when one holds the whole body, is already in
    // memory: no page faults as the body arrives (see `body_buffers`).
    let mut body = bodies.take(size, FIRST_CHUNK.min(size));
    while body.len() < size {
        if body.len() == charged {
            let chunk = charged.max(FIRST_CHUNK).min(size - charged);
            // Waiting for memory counts against the body timeout too:
            // readers holding part of a frame while they wait for more
            // could otherwise wait on each other forever.
            let more = clock
                .run(pool.acquire(chunk))
                .await?
                .ok_or(ReadEnd::Shutdown)?;
            match memory.as_mut() {
                Some(held) => held.merge(more),
                None => memory = Some(more),
            }
            charged += chunk;
            body.reserve(charged - body.len());
        }
        // `take` keeps a read from running into the next frame, and from
        // filling the buffer past what was charged.
        let wanted = (charged - body.len()) as u64;
        let read = clock
            .run(async { (&mut *reader).take(wanted).read_buf(&mut body).await })
            .await?
            .map_err(|e| ReadEnd::Failed(FrameError::Io(e)))?;
        if read == 0 {
            return Err(ReadEnd::Failed(FrameError::Truncated));
        }
    }
    let memory = memory.ok_or(ReadEnd::Failed(FrameError::TooShort(0)))?;
    Ok(QueuedFrame {
        bytes: bodies.freeze(body),
        read_at: Instant::now(),
        _memory: memory,
    })
}

/// The deadline of a request whose first byte has arrived.
struct BodyClock {
    deadline: Instant,
}

impl BodyClock {
    fn new(budget: Duration) -> BodyClock {
        BodyClock {
            deadline: Instant::now() + budget,
        }
    }

    /// Runs one wait (a socket read, a pool claim) against the deadline.
    async fn run<T>(&self, wait: impl std::future::Future<Output = T>) -> Result<T, ReadEnd> {
        tokio::time::timeout_at(self.deadline, wait)
            .await
            .map_err(|_| ReadEnd::SlowBody)
    }
}

/// What a connection needs to know about the broker's limits.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// `socket.request.max.bytes`.
    pub max_bytes: usize,
    /// `connections.max.idle.ms`: the wait for a request's first byte.
    pub idle: Duration,
    /// The wait for the rest of a request once its first byte arrived.
    pub body_timeout: Duration,
    /// The wait for a response to be written.
    pub write_timeout: Duration,
    /// Broker-wide request and response memory.
    pub resources: Arc<Resources>,
}

impl ConnectionLimits {
    /// The limits `config` sets, drawing memory from `resources`.
    pub fn from_config(config: &BrokerConfig, resources: Arc<Resources>) -> ConnectionLimits {
        ConnectionLimits {
            max_bytes: config.socket_request_max_bytes,
            idle: config.connections_max_idle,
            body_timeout: config.request_body_timeout,
            write_timeout: config.response_write_timeout,
            resources,
        }
    }
}
