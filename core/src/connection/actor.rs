//! The connection actor: two tasks own the two halves of one socket.
//!
//! ```text
//!  callers ──Command──▶ mpsc ──▶ writer task ──frames──▶ socket
//!     ▲                              │ registers Pending(correlation id)
//!     │                              ▼
//!     └──── oneshot ◀── reader task ◀──frames── socket
//! ```
//!
//! Callers never touch the socket. Dropping a caller's future only drops its
//! oneshot receiver, so a frame is either not started or written in full.
//! Reading and writing run in separate tasks because a broker that is busy
//! writing a large response may stop reading requests: a single task
//! blocked in a large write would then never read that response.
//!
//! Any I/O or framing error, and any request outliving its deadline,
//! poisons the connection: all pending requests fail with one shared error
//! and later requests fail fast until the owner replaces the connection.
//! A timeout poisons too, because Kafka answers a connection's requests in
//! order: every later response is stuck behind the missing one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::StrBytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;

use super::frame::{write_frame, FrameReader};
use super::telemetry::RequestLabels;
use crate::error::{Error, Result};
use crate::protocol::{encode_request_header, peek_correlation_id, strip_response_header};

/// How many requests may wait for the writer task before callers wait too.
const COMMAND_QUEUE: usize = 256;

/// Extra time a caller waits past its deadline for the reader task to report
/// the timeout before giving up on its own.
const QUEUE_GRACE: Duration = Duration::from_millis(500);

/// Settings of one connection.
#[derive(Clone, Debug)]
pub struct ConnectionSettings {
    /// The broker's address, used in error messages.
    pub broker: String,
    /// The `client_id` put in every request header.
    pub client_id: Option<String>,
    /// The largest response frame accepted (`receive.message.max.bytes`).
    pub max_frame_bytes: usize,
}

/// One encoded request handed to the actor.
#[derive(Clone, Debug)]
pub struct RawRequest {
    /// The API of the request.
    pub api: ApiKey,
    /// The version the body was encoded with.
    pub version: i16,
    /// The encoded body, without header.
    pub body: Bytes,
    /// More body bytes, written after `body` as they are, without copying
    /// them into one buffer (a Produce request's record batches). Usually
    /// empty.
    pub body_tail: Vec<Bytes>,
    /// `false` for requests the broker does not answer (Produce with acks=0).
    pub expect_response: bool,
    /// How long to wait for the response before poisoning the connection.
    pub timeout: Duration,
}

struct Command {
    request: RawRequest,
    deadline: Instant,
    reply: oneshot::Sender<Result<Bytes>>,
}

struct Pending {
    reply: oneshot::Sender<Result<Bytes>>,
    api: ApiKey,
    response_header_version: i16,
    deadline: Instant,
    timeout: Duration,
}

#[derive(Default)]
struct State {
    pending: HashMap<i32, Pending>,
    poison: Option<Arc<Error>>,
}

struct Shared {
    broker: String,
    /// Labels of this connection's request metrics.
    labels: RequestLabels,
    state: Mutex<State>,
    poisoned: watch::Sender<bool>,
    deadlines_changed: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (each critical section is a single insert/remove), so recover it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks the connection failed and fails every pending request with a
    /// clone of one shared error. Idempotent: the first cause wins.
    fn poison(&self, cause: Error) -> Arc<Error> {
        let (cause, pending) = {
            let mut state = self.lock();
            if let Some(existing) = &state.poison {
                return existing.clone();
            }
            let cause = Arc::new(cause);
            state.poison = Some(cause.clone());
            (cause, std::mem::take(&mut state.pending))
        };
        tracing::debug!(broker = %self.broker, error = %cause, "connection poisoned");
        for (_, pending) in pending {
            let _ = pending.reply.send(Err(Error::Poisoned(cause.clone())));
        }
        self.poisoned.send_replace(true);
        cause
    }

    fn poison_cause(&self) -> Option<Arc<Error>> {
        self.lock().poison.clone()
    }
}

/// A handle to one broker connection; cheap to clone.
///
/// When the last handle is dropped the actor closes the socket.
#[derive(Clone)]
pub struct Link {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("broker", &self.shared.broker)
            .field("poisoned", &self.is_poisoned())
            .finish()
    }
}

impl Link {
    /// Starts the reader and writer tasks on `io`.
    pub fn spawn<IO>(io: IO, settings: ConnectionSettings) -> Link
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read_half, write_half) = tokio::io::split(io);
        let (commands, receiver) = mpsc::channel(COMMAND_QUEUE);
        let shared = Arc::new(Shared {
            broker: settings.broker.clone(),
            labels: RequestLabels::new(settings.client_id.as_deref(), &settings.broker),
            state: Mutex::new(State::default()),
            poisoned: watch::channel(false).0,
            deadlines_changed: Notify::new(),
        });
        let frames = FrameReader::new(read_half, settings.max_frame_bytes, &settings.broker);
        tokio::spawn(read_loop(frames, shared.clone()));
        let client_id = settings.client_id.map(StrBytes::from_string);
        tokio::spawn(write_loop(write_half, receiver, client_id, shared.clone()));
        Link { commands, shared }
    }

    /// The broker's address.
    pub fn broker(&self) -> &str {
        &self.shared.broker
    }

    /// Whether the connection has failed and must be replaced.
    pub fn is_poisoned(&self) -> bool {
        self.shared.lock().poison.is_some()
    }

    /// Sends one encoded request and waits for the response body.
    ///
    /// Cancellation-safe: dropping the returned future abandons the
    /// response but never a half-written request.
    pub async fn send(&self, request: RawRequest) -> Result<Bytes> {
        if let Some(cause) = self.shared.poison_cause() {
            return Err(Error::Poisoned(cause));
        }
        let api = request.api;
        let started = Instant::now();
        let result = self.exchange(request).await;
        self.shared
            .labels
            .record(api, started.elapsed(), result.is_ok());
        result
    }

    /// Queues `request` and waits for its answer.
    async fn exchange(&self, request: RawRequest) -> Result<Bytes> {
        let (reply, response) = oneshot::channel();
        let timeout = request.timeout;
        let deadline = Instant::now() + timeout;
        let command = Command {
            request,
            deadline,
            reply,
        };
        if self.commands.send(command).await.is_err() {
            return Err(self.closed_error());
        }
        // The reader task enforces the deadline of registered requests. This
        // outer limit covers a request stuck in the queue behind a write that
        // never completes, which the reader cannot see.
        match tokio::time::timeout_at(deadline + QUEUE_GRACE, response).await {
            Ok(Ok(result)) => result,
            // The actor dropped the request without answering: it was still
            // queued when the connection was poisoned.
            Ok(Err(_)) => Err(self.closed_error()),
            Err(_) => {
                let cause = self.shared.poison(Error::Timeout {
                    operation: format!("request queued for {}", self.shared.broker),
                    timeout,
                });
                Err(Error::Poisoned(cause))
            }
        }
    }

    /// Fails all pending requests and closes the connection.
    pub fn close(&self) {
        self.shared.poison(Error::Shutdown);
    }

    /// Fails all pending requests with `cause` and closes the connection.
    pub(crate) fn poison(&self, cause: Error) {
        self.shared.poison(cause);
    }

    fn closed_error(&self) -> Error {
        match self.shared.poison_cause() {
            Some(cause) => Error::Poisoned(cause),
            None => Error::Poisoned(Arc::new(Error::ConnectionClosed {
                broker: self.shared.broker.clone(),
            })),
        }
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut commands: mpsc::Receiver<Command>,
    client_id: Option<StrBytes>,
    shared: Arc<Shared>,
) {
    let mut poisoned = shared.poisoned.subscribe();
    let mut next_correlation_id: i32 = 0;
    loop {
        let command = tokio::select! {
            biased;
            _ = poisoned.wait_for(|p| *p) => break,
            command = commands.recv() => match command {
                Some(command) => command,
                None => {
                    // Every handle is gone; nobody can be waiting for a reply.
                    shared.poison(Error::Shutdown);
                    break;
                }
            },
        };
        // The caller gave up before its request reached the socket: skip it.
        if command.reply.is_closed() {
            continue;
        }
        let correlation_id = next_correlation_id;
        next_correlation_id = next_correlation_id.wrapping_add(1);
        let request = &command.request;
        let header = match encode_request_header(
            request.api,
            request.version,
            correlation_id,
            client_id.as_ref(),
        ) {
            Ok(header) => header,
            Err(error) => {
                let _ = command.reply.send(Err(error));
                continue;
            }
        };
        let Command {
            request,
            deadline,
            reply,
        } = command;
        let reply = if request.expect_response {
            let mut state = shared.lock();
            if let Some(cause) = &state.poison {
                let _ = reply.send(Err(Error::Poisoned(cause.clone())));
                break;
            }
            state.pending.insert(
                correlation_id,
                Pending {
                    reply,
                    api: request.api,
                    response_header_version: request.api.response_header_version(request.version),
                    deadline,
                    timeout: request.timeout,
                },
            );
            drop(state);
            shared.deadlines_changed.notify_one();
            None
        } else {
            Some(reply)
        };
        // Only a poisoned connection may abandon a frame half-written; it is
        // never used again, so the torn frame cannot confuse the broker.
        let mut parts: Vec<&[u8]> = Vec::with_capacity(2 + request.body_tail.len());
        parts.push(&header);
        parts.push(&request.body);
        parts.extend(request.body_tail.iter().map(|part| &part[..]));
        let written = tokio::select! {
            biased;
            _ = poisoned.wait_for(|p| *p) => break,
            written = write_frame(&mut writer, &parts) => written,
        };
        match written {
            Ok(()) => {
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(Bytes::new()));
                }
            }
            Err(error) => {
                let cause = shared.poison(Error::io(&shared.broker, error));
                if let Some(reply) = reply {
                    let _ = reply.send(Err(Error::Poisoned(cause)));
                }
                break;
            }
        }
    }
    // Fail what is still queued rather than leave it to the receiver's
    // drop: a `send` that took its slot just before the drop pushes its
    // command after the drop has emptied the queue, and that command would
    // sit there, unanswered, until its caller's own outer timeout (request
    // timeout + QUEUE_GRACE). After `close`, `recv` also waits for slots
    // taken but not yet filled, and then returns `None`.
    commands.close();
    let cause = shared.poison(Error::Shutdown);
    while let Some(command) = commands.recv().await {
        let _ = command.reply.send(Err(Error::Poisoned(cause.clone())));
    }
}

async fn read_loop<R: AsyncRead + Unpin>(mut frames: FrameReader<R>, shared: Arc<Shared>) {
    let mut poisoned = shared.poisoned.subscribe();
    loop {
        let next_deadline = shared.lock().pending.values().map(|p| p.deadline).min();
        tokio::select! {
            biased;
            _ = poisoned.wait_for(|p| *p) => return,
            // A new request may carry an earlier deadline: recompute.
            _ = shared.deadlines_changed.notified() => continue,
            _ = sleep_until_some(next_deadline) => expire(&shared),
            frame = frames.next_frame() => match frame {
                Ok(Some(frame)) => {
                    if let Err(error) = dispatch(&shared, frame) {
                        shared.poison(error);
                        return;
                    }
                }
                Ok(None) => {
                    shared.poison(Error::ConnectionClosed { broker: shared.broker.clone() });
                    return;
                }
                Err(error) => {
                    shared.poison(error);
                    return;
                }
            },
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Poisons the connection if a pending request has outlived its deadline.
/// The expired requests get the timeout itself; the others get it wrapped.
fn expire(shared: &Shared) {
    let now = Instant::now();
    let expired: Vec<Pending> = {
        let mut state = shared.lock();
        let ids: Vec<i32> = state
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        ids.iter()
            .filter_map(|id| state.pending.remove(id))
            .collect()
    };
    let Some(first) = expired.first() else {
        return;
    };
    let timeout = |p: &Pending| Error::Timeout {
        operation: format!("{:?} request to {}", p.api, shared.broker),
        timeout: p.timeout,
    };
    let cause = timeout(first);
    for pending in expired {
        let error = timeout(&pending);
        let _ = pending.reply.send(Err(error));
    }
    shared.poison(cause);
}

fn dispatch(shared: &Shared, frame: Bytes) -> Result<()> {
    let correlation_id = peek_correlation_id(&frame)?;
    let pending = shared.lock().pending.remove(&correlation_id);
    let Some(pending) = pending else {
        return Err(Error::Protocol(format!(
            "broker {} answered correlation id {correlation_id}, which no request used",
            shared.broker
        )));
    };
    match strip_response_header(frame, pending.response_header_version) {
        Ok(body) => {
            let _ = pending.reply.send(Ok(body));
            Ok(())
        }
        Err(error) => {
            let _ = pending.reply.send(Err(error.clone()));
            Err(error)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use tokio::sync::{mpsc, oneshot};

    /// The tokio behaviour the end of `write_loop` relies on: after
    /// `close`, `recv` still yields a message pushed through a slot taken
    /// before the close, so its reply is answered (here: dropped) at once.
    #[tokio::test]
    async fn closing_then_draining_the_queue_reaches_a_late_command() {
        let (commands, mut queue) = mpsc::channel::<oneshot::Sender<()>>(4);
        let slot = commands.reserve().await.unwrap();
        queue.close();
        let drain = tokio::spawn(async move {
            let mut answered = 0;
            while let Some(reply) = queue.recv().await {
                drop(reply);
                answered += 1;
            }
            answered
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (reply, response) = oneshot::channel();
        slot.send(reply);
        assert_eq!(drain.await.unwrap(), 1);
        let answer = tokio::time::timeout(Duration::from_secs(10), response).await;
        assert!(matches!(answer, Ok(Err(_))), "the caller learns at once");
    }
}
