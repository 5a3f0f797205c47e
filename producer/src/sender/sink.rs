//! One sink task per broker: writes produce requests in the order the
//! sender hands them over and reports each response back.
//!
//! ```text
//!  sender ──SinkJob (in order)──▶ sink(node) ──enqueue──▶ connection ──▶ broker
//!     ▲                              │ waits for responses concurrently
//!     └──────── SenderEvent::Reply ◀─┘
//! ```
//!
//! Order matters for idempotence: a request is enqueued on the connection
//! (its first poll) before the next job is even looked at. When the
//! connection cannot be had, the failing job and every job already queued
//! behind it fail together, so nothing later overtakes them on a fresh
//! connection. For the same reason a job is never started on a new
//! connection while requests sent on the previous one are unanswered: when
//! that connection died, their batches may or may not have been written,
//! and batches written behind them could push them out of the broker's
//! memory of the producer's last 5 batches, after which their retries
//! would no longer be recognised as duplicates. Such a job fails before it
//! is sent, and the sender resends it after their outcome is known.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use durian_core::connection::{Connection, RawRequest};
use durian_core::protocol::{decode_body, encode_body};
use durian_core::record::BatchRope;

use super::encode::produce_body_parts;
use super::request::fill_records;
use durian_core::{Client, Error, Target, TrafficClass};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::VersionRange;
use tokio::sync::mpsc;

use super::{span, SenderEvent};
use tracing::Instrument;

/// Produce versions durian speaks: v3 is the first with record batches v2;
/// v13 addresses topics by id only, which the request builder does not fill.
pub(crate) const PRODUCE_VERSIONS: VersionRange = VersionRange { min: 3, max: 12 };

/// The last Produce version before transactions V2 (KIP-890): v12 asks a
/// broker with `transaction.version` 2 to add partitions to the
/// transaction implicitly, which a V1 transactional producer (explicit
/// AddPartitionsToTxn, EndTxn below v5) must not ask for, as in the Java
/// client.
pub(crate) const PRODUCE_TV1_MAX: i16 = 11;

/// One request for the sink to send.
#[derive(Debug)]
pub(crate) struct SinkJob {
    pub(crate) request_id: u64,
    pub(crate) request: ProduceRequest,
    /// Each partition's batch, in the request's order (see
    /// `request::build_request`): written as they are, in pieces.
    pub(crate) batches: Vec<BatchRope>,
    /// `false` for acks=0: the broker sends no response.
    pub(crate) expect_response: bool,
    pub(crate) timeout: Duration,
    /// The highest Produce version to use ([`PRODUCE_TV1_MAX`] for a
    /// transactional producer).
    pub(crate) max_version: i16,
}

/// What became of one job: the response (`None` for acks=0) or the error.
#[derive(Debug)]
pub(crate) struct SinkReply {
    pub(crate) request_id: u64,
    pub(crate) result: Result<Option<ProduceResponse>, Error>,
    /// `false` when the request failed before it was handed to a
    /// connection (no connection, no common version, encoding): the broker
    /// cannot have appended it.
    pub(crate) handed_over: bool,
}

type PendingResponse = Pin<Box<dyn Future<Output = SinkReply> + Send>>;

/// Starts the sink of `node`; it ends when the returned sender is dropped
/// and its last response is in.
pub(crate) fn spawn_sink(
    client: Client,
    node: i32,
    events: mpsc::UnboundedSender<SenderEvent>,
) -> mpsc::UnboundedSender<SinkJob> {
    let (jobs, receiver) = mpsc::unbounded_channel();
    tokio::spawn(run(client, node, receiver, events));
    jobs
}

async fn run(
    client: Client,
    node: i32,
    mut jobs: mpsc::UnboundedReceiver<SinkJob>,
    events: mpsc::UnboundedSender<SenderEvent>,
) {
    let mut pending: FuturesUnordered<PendingResponse> = FuturesUnordered::new();
    // The connection the requests in `pending` went out on.
    let mut current: Option<Connection> = None;
    let mut open = true;
    while open || !pending.is_empty() {
        tokio::select! {
            job = jobs.recv(), if open => match job {
                None => open = false,
                Some(job) => match start(&client, node, job, current.as_ref().filter(|_| !pending.is_empty())).await {
                    Ok((response, connection)) => {
                        pending.push(response);
                        current = Some(connection);
                    }
                    Err(reply) => {
                        let error = match &reply.result {
                            Err(error) => error.clone(),
                            Ok(_) => Error::Shutdown,
                        };
                        let _ = events.send(SenderEvent::Reply(reply));
                        while let Ok(queued) = jobs.try_recv() {
                            let _ = events.send(SenderEvent::Reply(SinkReply {
                                request_id: queued.request_id,
                                result: Err(error.clone()),
                                handed_over: false,
                            }));
                        }
                    }
                },
            },
            Some(reply) = pending.next(), if !pending.is_empty() => {
                let _ = events.send(SenderEvent::Reply(reply));
            }
        }
    }
}

/// Encodes `job` for the broker's version and puts it on the connection;
/// returns the future of its response and the connection used. `unanswered`
/// is the connection of requests still waiting for their answers: the job
/// fails unsent if it would have to go out on another one.
async fn start(
    client: &Client,
    node: i32,
    mut job: SinkJob,
    unanswered: Option<&Connection>,
) -> Result<(PendingResponse, Connection), SinkReply> {
    let fail = |error: Error| SinkReply {
        request_id: job.request_id,
        result: Err(error),
        handed_over: false,
    };
    // Connecting (and waiting out a reconnect backoff) counts against the
    // request's timeout, which the sender caps at the batches' deadline.
    let target = Target::Broker(node);
    let connecting = client.connection_for(&target, TrafficClass::Produce);
    let connection = match tokio::time::timeout(job.timeout, connecting).await {
        Ok(connected) => connected.map_err(fail)?,
        Err(_) => {
            return Err(fail(Error::Timeout {
                operation: format!("connecting to broker {node}"),
                timeout: job.timeout,
            }))
        }
    };
    if let Some(earlier) = unanswered.filter(|earlier| !earlier.is_same(&connection)) {
        let overtaking = std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the connection of earlier produce requests failed before they were answered; \
             this request waits for their outcome",
        );
        return Err(fail(Error::io(earlier.broker(), overtaking)));
    }
    let span = span::produce_span(node, connection.broker(), &job.request);
    let version = connection
        .versions()
        .negotiate(
            ApiKey::Produce,
            VersionRange {
                min: PRODUCE_VERSIONS.min,
                max: PRODUCE_VERSIONS.max.min(job.max_version),
            },
        )
        .map_err(fail)?;
    // The batches are referenced, not copied into the body (see encode.rs).
    let (body, body_tail) = match produce_body_parts(&job.request, &job.batches, version) {
        Some(parts) => parts.map_err(fail)?,
        None => {
            fill_records(&mut job.request, &job.batches);
            (
                encode_body(ApiKey::Produce, &job.request, version).map_err(fail)?,
                Vec::new(),
            )
        }
    };
    // The body holds what it needs; a retry can then reclaim the batches'
    // buffers without copying them.
    drop(job.request);
    drop(job.batches);
    let raw = RawRequest {
        api: ApiKey::Produce,
        version,
        body,
        body_tail,
        expect_response: job.expect_response,
        timeout: job.timeout,
    };
    let request_id = job.request_id;
    let expect_response = job.expect_response;
    let link = connection.clone();
    let mut response: PendingResponse = Box::pin(
        async move {
            let result = match link.send_raw(raw).await {
                Ok(_) if !expect_response => Ok(None),
                Ok(body) => {
                    decode_body::<ProduceResponse>(ApiKey::Produce, body, version).map(Some)
                }
                Err(error) => Err(error),
            };
            SinkReply {
                request_id,
                result,
                handed_over: true,
            }
        }
        .instrument(span),
    );
    // The first poll hands the frame to the connection's writer queue, so
    // requests reach the socket in the order the sender made them.
    match futures::poll!(&mut response) {
        Poll::Ready(reply) => Ok((Box::pin(std::future::ready(reply)), connection)),
        Poll::Pending => Ok((response, connection)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use durian_broker::testing::Cluster;
    use durian_core::ClientConfig;

    use super::*;
    use crate::sender::request::build_request;

    fn job(request_id: u64) -> SinkJob {
        let (request, batches) = build_request(-1, Duration::from_secs(5), None, &mut []);
        SinkJob {
            request_id,
            request,
            batches,
            expect_response: true,
            timeout: Duration::from_secs(5),
            max_version: PRODUCE_VERSIONS.max,
        }
    }

    #[tokio::test]
    async fn a_job_never_overtakes_unanswered_requests_on_a_new_connection() {
        let cluster = Cluster::builder().nodes(1).start().await.unwrap();
        let node = cluster.node_ids()[0];
        let mut config = ClientConfig::default();
        config.bootstrap_servers = cluster.bootstrap().split(',').map(String::from).collect();
        config.reconnect_backoff = Duration::from_millis(1);
        config.reconnect_backoff_max = Duration::from_millis(1);
        let client = Client::connect(config).await.unwrap();
        let target = Target::Broker(node);
        let seen = cluster.faults().record();

        // Requests went out on this connection; then it died unanswered.
        let earlier = client
            .connection_for(&target, TrafficClass::Produce)
            .await
            .unwrap();
        earlier.close();
        let refused = match start(&client, node, job(1), Some(&earlier)).await {
            Ok(_) => panic!("the job went out on a new connection"),
            Err(reply) => reply,
        };
        assert!(!refused.handed_over, "it never reached a connection");
        let error = refused.result.unwrap_err();
        assert!(error.is_retriable(), "the sender resends it: {error}");
        assert_eq!(seen.count(Some(ApiKey::Produce), None), 0);

        // With nothing unanswered (or on the same connection) it goes out.
        let (response, used) = start(&client, node, job(2), None).await.ok().unwrap();
        assert!(!used.is_same(&earlier));
        assert!(response.await.result.is_ok());
        let (response, _) = start(&client, node, job(3), Some(&used))
            .await
            .ok()
            .unwrap();
        assert!(response.await.result.is_ok());
        assert_eq!(seen.count(Some(ApiKey::Produce), None), 2);
        cluster.shutdown().await.unwrap();
    }
}
