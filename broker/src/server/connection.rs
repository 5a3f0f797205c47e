//! One client connection: a reader that pulls frames off the socket ahead
//! of time, and a processor that runs them one at a time and writes the
//! responses in request order.
//!
//! Requests of one connection are processed sequentially, like Kafka does:
//! an idempotent producer pipelines several Produce requests on one
//! connection and relies on them being appended in the order sent. The
//! reader still runs ahead (up to [`PIPELINE_DEPTH`] frames), so a client's
//! pipelined requests wait in memory rather than in the socket.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::dispatch::{dispatch, Outcome};
use super::frame::read_frame;
use super::shutdown::Shutdown;
use crate::state::BrokerState;

/// Frames read ahead of the one being processed.
pub const PIPELINE_DEPTH: usize = 16;

/// Serves `socket` until the client leaves, misbehaves, idles out or the broker shuts down.
pub async fn serve(
    state: Arc<BrokerState>,
    socket: TcpStream,
    peer: SocketAddr,
    shutdown: Shutdown,
) {
    if let Err(e) = socket.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
    }
    let (reader, mut writer) = socket.into_split();
    let (frames_tx, mut frames) = mpsc::channel(PIPELINE_DEPTH);
    let max_bytes = state.config.socket_request_max_bytes;
    let idle = state.config.connections_max_idle;
    let reader_task = tokio::spawn(read_loop(
        reader, frames_tx, peer, max_bytes, idle, shutdown,
    ));
    while let Some(frame) = frames.recv().await {
        match dispatch(state.clone(), frame, peer).await {
            Outcome::Respond(response) => {
                if let Err(e) = writer.write_all(&response).await {
                    tracing::debug!(%peer, error = %e, "write failed; closing connection");
                    break;
                }
            }
            Outcome::Silent => {}
            Outcome::Close(reason) => {
                tracing::warn!(%peer, %reason, "closing connection");
                break;
            }
        }
    }
    reader_task.abort();
    let _ = writer.shutdown().await;
}

async fn read_loop(
    mut reader: OwnedReadHalf,
    frames: mpsc::Sender<Bytes>,
    peer: SocketAddr,
    max_bytes: usize,
    idle: Duration,
    mut shutdown: Shutdown,
) {
    loop {
        let next = tokio::select! {
            _ = shutdown.wait() => return,
            read = tokio::time::timeout(idle, read_frame(&mut reader, max_bytes)) => read,
        };
        match next {
            Err(_) => {
                tracing::info!(%peer, idle_ms = idle.as_millis() as u64, "closing idle connection");
                return;
            }
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                tracing::warn!(%peer, error = %e, "closing connection");
                return;
            }
            Ok(Ok(Some(frame))) => {
                if frames.send(frame).await.is_err() {
                    return;
                }
            }
        }
    }
}
