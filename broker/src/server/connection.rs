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
//! wait for memory instead of exhausting it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use super::dispatch::{dispatch, Outcome};
use super::endpoint::Endpoint;
use super::frame::{read_frame_body, read_frame_length, FrameError};
use super::shutdown::Shutdown;
use crate::state::BrokerState;

/// Frames read ahead of the one being processed.
pub const PIPELINE_DEPTH: usize = 16;

/// Serves `socket` until the client leaves, misbehaves, idles out or the broker shuts down.
pub async fn serve(
    state: Arc<BrokerState>,
    endpoint: Arc<Endpoint>,
    socket: TcpStream,
    peer: SocketAddr,
    limits: ReadLimits,
    shutdown: Shutdown,
) {
    if let Err(e) = socket.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
    }
    let (reader, mut writer) = socket.into_split();
    let (frames_tx, mut frames) = mpsc::channel(PIPELINE_DEPTH);

    // A client that stops reading must not pin a response (and this task)
    // forever: writes get the same patience as reads.
    let write_timeout = limits.idle;
    // Aborted on drop too, so a killed connection releases its read half at once.
    let _reader = AbortOnDrop(tokio::spawn(read_loop(
        reader, frames_tx, peer, limits, shutdown,
    )));
    while let Some(frame) = frames.recv().await {
        match dispatch(state.clone(), &endpoint, frame.bytes.clone(), peer).await {
            Outcome::Respond(response) => {
                match tokio::time::timeout(write_timeout, writer.write_all(&response)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::debug!(%peer, error = %e, "write failed; closing connection");
                        break;
                    }
                    Err(_) => {
                        tracing::info!(%peer, "client stopped reading responses; closing connection");
                        break;
                    }
                }
            }
            Outcome::Silent => {}
            Outcome::Close(reason) => {
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
    _memory: OwnedSemaphorePermit,
}

/// Why the reader stopped.
enum ReadEnd {
    Closed,
    Idle,
    Shutdown,
    Failed(FrameError),
}

async fn read_loop(
    mut reader: OwnedReadHalf,
    frames: mpsc::Sender<QueuedFrame>,
    peer: SocketAddr,
    limits: ReadLimits,
    mut shutdown: Shutdown,
) {
    loop {
        let end = tokio::select! {
            _ = shutdown.wait() => ReadEnd::Shutdown,
            next = read_one(&mut reader, &limits) => match next {
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
            ReadEnd::Failed(e) => tracing::warn!(%peer, error = %e, "closing connection"),
        }
        return;
    }
}

/// Reads one frame: the length (within the idle timeout), then memory for
/// it from the broker-wide pool (waiting applies backpressure), then the
/// body (within the idle timeout again, so a client cannot trickle bytes
/// forever while holding memory).
async fn read_one(reader: &mut OwnedReadHalf, limits: &ReadLimits) -> Result<QueuedFrame, ReadEnd> {
    let size = match tokio::time::timeout(limits.idle, read_frame_length(reader, limits.max_bytes))
        .await
    {
        Err(_) => return Err(ReadEnd::Idle),
        Ok(Ok(None)) => return Err(ReadEnd::Closed),
        Ok(Ok(Some(size))) => size,
        Ok(Err(e)) => return Err(ReadEnd::Failed(e)),
    };
    // `size` is at most max_bytes, which the pool always covers.
    let permits = u32::try_from(size).unwrap_or(u32::MAX);
    let memory = limits
        .pool
        .clone()
        .acquire_many_owned(permits)
        .await
        .map_err(|_| ReadEnd::Shutdown)?;
    match tokio::time::timeout(limits.idle, read_frame_body(reader, size)).await {
        Err(_) => Err(ReadEnd::Idle),
        Ok(Err(e)) => Err(ReadEnd::Failed(e)),
        Ok(Ok(bytes)) => Ok(QueuedFrame {
            bytes,
            _memory: memory,
        }),
    }
}

/// What a connection's reader needs to know.
#[derive(Debug, Clone)]
pub struct ReadLimits {
    /// `socket.request.max.bytes`.
    pub max_bytes: usize,
    /// `connections.max.idle.ms`.
    pub idle: Duration,
    /// Broker-wide budget for request bytes read but not yet processed.
    pub pool: Arc<Semaphore>,
}
