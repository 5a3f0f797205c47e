//! Fetch (key 1), versions 4–17.
//!
//! Serves byte ranges of the partition logs as stored. The request waits
//! (long poll) up to `max_wait_ms` until at least `min_bytes` are
//! available, woken by appends to the partitions it reads (and by
//! shutdown). The response honours `max_bytes` (capped at 55 MiB) and each
//! `partition_max_bytes`, except that the first partition with data always
//! gets at least one whole batch so a large batch can never stall a
//! consumer (KIP-74). Only the partition's leader (per the topology) serves
//! it: other nodes answer NOT_LEADER_OR_FOLLOWER, and a
//! `current_leader_epoch` (v9+) older than the leader's gets
//! FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH; a parked fetch
//! rechecks when it wakes. Topics are named up to v12 and identified by topic id
//! from v13. Records are never null: an empty buffer is sent instead.
//!
//! Fetch sessions (KIP-227, see [`crate::fetch_session`]) from v7: a
//! request may open a session, then name only the partitions whose fetch
//! position changed; an incremental answer carries only partitions with
//! records, errors or moved offsets. A session error (unknown id, wrong
//! epoch, topic ids used inconsistently) is the top-level error code with
//! no partitions.
//!
//! Isolation: `last_stable_offset` is the partition's LSO (the oldest open
//! transaction's first offset, else the high watermark). A read_committed
//! fetch (isolation_level 1) gets only batches below it and the aborted
//! transactions overlapping them (`aborted_transactions`; null for
//! read_uncommitted, as Kafka). A marker moves the LSO and wakes parked
//! fetches like an append. Not supported: follower fetching, preferred
//! read replicas, diverging-epoch detection.
//!
//! Authorization: READ on each topic, else TOPIC_AUTHORIZATION_FAILED for
//! its partitions (a topic id that names no topic stays UNKNOWN_TOPIC_ID).
//!
//! The records read here are sent as they are: the registry encodes the
//! response with `fetch_encode`, which writes them by reference. On a
//! plaintext connection ([`RequestContext::file_records`]) they are not
//! even read: the answer carries the ranges of the segment files holding
//! them, which the connection sends with `sendfile` (see
//! `server::response_write`), and the response's records fields hold
//! placeholders naming those ranges until `fetch_encode` splices them in.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::FetchTopic;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId};
use kafka_protocol::protocol::VersionRange;

use durian_core::acl::AclOperation;
use kafka_protocol::ResponseError;
use tokio::sync::watch;
use tokio::time::Instant;

use super::fetch_encode::{file_token, INLINE_RECORDS_BYTES};
use super::fetch_trace::{self, Look, Wake};
use super::{versions, DataContext, RequestContext};
use crate::catalog::TopicMeta;
use crate::fetch_session::{SessionContext, SessionRequest};
use crate::security::Access;
use crate::storage::{FileRange, ReadResult, StorageError};

/// Versions served.
pub const VERSIONS: VersionRange = versions(4, 17);

/// `isolation_level` of a read_committed consumer.
const READ_COMMITTED: i8 = 1;

/// Longest a fetch waits, whatever the client asks for.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

/// Largest fetch response, whatever the client asks for (Kafka's broker
/// `fetch.max.bytes` default): bounds the memory one request can pin.
pub const FETCH_MAX_BYTES: usize = 57_671_680;

/// A Fetch answer: the response, and the segment file ranges its
/// placeholder records fields name (empty unless the connection takes
/// file ranges).
#[derive(Debug)]
pub struct FetchAnswer {
    /// The response; a records field holding a [`file_token`] stands for
    /// the range at that index of `files`.
    pub response: FetchResponse,
    /// The ranges the placeholders name.
    pub files: Vec<FileRange>,
}

impl From<FetchResponse> for FetchAnswer {
    fn from(response: FetchResponse) -> FetchAnswer {
        FetchAnswer {
            response,
            files: Vec::new(),
        }
    }
}

/// Answers Fetch, waiting for data as the request allows.
pub async fn handle(
    data: &DataContext<'_>,
    request: FetchRequest,
    ctx: &RequestContext,
) -> FetchAnswer {
    let version = ctx.version;
    let sessions = data.fetch_sessions();
    let (session, topics) = if version >= 7 {
        let asked = SessionRequest {
            session_id: request.session_id,
            epoch: request.session_epoch,
            uses_topic_ids: version >= 13,
            node: ctx.node_id,
            topics: request.topics,
            forgotten: request.forgotten_topics_data,
        };
        match sessions.begin(asked, Instant::now()) {
            Ok(begun) => (begun.context, begun.topics),
            Err(error) => {
                return FetchResponse::default()
                    .with_error_code(error.code())
                    .into()
            }
        }
    } else {
        (SessionContext::Sessionless, request.topics)
    };
    let access = data.access(ctx);
    let resolved: Vec<(FetchTopic, Result<TopicMeta, i16>)> = topics
        .into_iter()
        .map(|t| {
            let found = resolve(data, &access, &t, version);
            (t, found)
        })
        .collect();
    let wait = Duration::from_millis(request.max_wait_ms.max(0) as u64).min(MAX_WAIT_CAP);
    let started = Instant::now();
    let deadline = started + wait;
    let min_bytes = request.min_bytes.max(0) as usize;
    let max_bytes = match usize::try_from(request.max_bytes) {
        Ok(asked) if asked > 0 => asked.min(FETCH_MAX_BYTES),
        _ => FETCH_MAX_BYTES,
    };
    let read_committed = request.isolation_level == READ_COMMITTED;
    // Subscribed before the first look for data, so no append is missed.
    let mut appends = subscribe(data, &resolved);
    let mut shutdown = data.shutdown_signal();
    let mut topic_gone = false;
    loop {
        for receiver in &mut appends {
            receiver.borrow_and_update();
        }
        let collected = collect(
            data,
            &resolved,
            Limits {
                max_bytes,
                read_committed,
                file_records: ctx.file_records,
            },
            version,
            ctx.node_id,
        );
        let enough = collected.bytes >= min_bytes
            || collected.has_error
            || topic_gone
            || shutdown.is_shutdown();
        let now = Instant::now();
        let look = Look {
            topics: &resolved,
            read: &collected.topics,
            files: &collected.files,
            bytes: collected.bytes,
            min_bytes,
            waited: now - started,
        };
        if enough || now >= deadline || appends.is_empty() {
            fetch_trace::answering(&look);
            let response = FetchResponse::default()
                .with_session_id(session.session_id())
                .with_responses(sessions.finish(session, collected.topics));
            return FetchAnswer {
                response,
                files: collected.files,
            };
        }
        fetch_trace::parking(&look, deadline - now);
        let wake = tokio::select! {
            closed = any_changed(&mut appends) => if closed { Wake::TopicGone } else { Wake::Append },
            _ = tokio::time::sleep_until(deadline) => Wake::Deadline,
            // Answer with what there is rather than hold up shutdown.
            _ = shutdown.wait() => Wake::Shutdown,
        };
        fetch_trace::woke(wake, started.elapsed());
        // A deleted topic's signal never fires again but reports itself
        // closed at once, so waiting on it again would spin until the
        // deadline (a topic deleted and created again under the same name
        // between two looks shows no error). Answer with what there is; the
        // client's next metadata tells it what happened.
        topic_gone |= wake == Wake::TopicGone;
    }
}

/// One append signal per requested partition of an existing topic.
fn subscribe(
    data: &DataContext<'_>,
    topics: &[(FetchTopic, Result<TopicMeta, i16>)],
) -> Vec<watch::Receiver<u64>> {
    topics
        .iter()
        .filter_map(|(request, found)| Some((request, found.as_ref().ok()?)))
        .flat_map(|(request, topic)| {
            request
                .partitions
                .iter()
                .map(|p| data.subscribe_appends(&topic.name, p.partition))
        })
        .collect()
}

/// Resolves when any receiver sees a change, with `true` when that is its
/// topic's deletion (the sender is gone).
async fn any_changed(receivers: &mut [watch::Receiver<u64>]) -> bool {
    if receivers.is_empty() {
        // select_all needs at least one future; nothing can change.
        return std::future::pending().await;
    }
    let waits = receivers.iter_mut().map(|r| Box::pin(r.changed()));
    let (changed, _, _) = futures::future::select_all(waits).await;
    changed.is_err()
}

/// The topic a fetch names, if it exists and the request may READ it
/// (checked once per topic, before any partition is read).
fn resolve(
    data: &DataContext<'_>,
    access: &Access<'_>,
    topic: &FetchTopic,
    version: i16,
) -> Result<TopicMeta, i16> {
    let denied = ResponseError::TopicAuthorizationFailed.code();
    if version >= 13 {
        let meta = data
            .topic_by_id(topic.topic_id)
            .ok_or(ResponseError::UnknownTopicId.code())?;
        if !access.topic(AclOperation::Read, &meta.name) {
            return Err(denied);
        }
        Ok(meta)
    } else {
        if !access.topic(AclOperation::Read, &topic.topic) {
            return Err(denied);
        }
        data.topic(&topic.topic)
            .ok_or(ResponseError::UnknownTopicOrPartition.code())
    }
}

struct Collected {
    topics: Vec<FetchableTopicResponse>,
    /// The file ranges the topics' placeholder records name.
    files: Vec<FileRange>,
    bytes: usize,
    has_error: bool,
}

/// What a fetch may read: its byte budget and its isolation level, and
/// whether its records may be answered as file ranges.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_bytes: usize,
    read_committed: bool,
    file_records: bool,
}

fn collect(
    data: &DataContext<'_>,
    topics: &[(FetchTopic, Result<TopicMeta, i16>)],
    limits: Limits,
    version: i16,
    node: i32,
) -> Collected {
    let max_bytes = limits.max_bytes;
    let mut out = Collected {
        topics: Vec::with_capacity(topics.len()),
        files: Vec::new(),
        bytes: 0,
        has_error: false,
    };
    for (request, found) in topics {
        let mut partitions = Vec::with_capacity(request.partitions.len());
        for p in &request.partitions {
            let mut file = None;
            let data = match found {
                Err(code) => error_partition(p.partition, *code),
                Ok(topic) if !(0..topic.partitions).contains(&p.partition) => {
                    error_partition(p.partition, ResponseError::UnknownTopicOrPartition.code())
                }
                Ok(topic) => {
                    match data.check_leader(&topic.name, p.partition, node, p.current_leader_epoch)
                    {
                        Err(e) => error_partition(p.partition, e.code()),
                        Ok(_) => {
                            let budget = max_bytes.saturating_sub(out.bytes);
                            let limit = (p.partition_max_bytes.max(0) as usize).min(budget);
                            let (read, range) = read_partition(
                                data,
                                topic,
                                p.partition,
                                p.fetch_offset,
                                Limits {
                                    max_bytes: limit,
                                    ..limits
                                },
                                out.bytes == 0,
                            );
                            file = range;
                            read
                        }
                    }
                }
            };
            out.has_error |= data.error_code != 0;
            let data = match file {
                Some(range) => {
                    out.bytes += range.len();
                    let token = file_token(out.files.len());
                    out.files.push(range);
                    data.with_records(Some(token))
                }
                None => {
                    out.bytes += data.records.as_ref().map_or(0, Bytes::len);
                    data
                }
            };
            partitions.push(data);
        }
        let response = FetchableTopicResponse::default().with_partitions(partitions);
        let response = if version >= 13 {
            response.with_topic_id(request.topic_id)
        } else {
            response.with_topic(request.topic.clone())
        };
        out.topics.push(response);
    }
    out
}

/// Reads one partition: its answer, and the file range holding its
/// records when they are to be sent from the file (the answer's records
/// are then empty).
fn read_partition(
    data: &DataContext<'_>,
    topic: &TopicMeta,
    partition: i32,
    offset: i64,
    limits: Limits,
    min_one_batch: bool,
) -> (PartitionData, Option<FileRange>) {
    let outcome = data.with_partition(&topic.name, partition, |log| {
        let read_isolated = || {
            log.read_isolated(
                offset,
                limits.max_bytes,
                min_one_batch,
                limits.read_committed,
            )
            .map(|read| (read, None))
        };
        let read = if limits.file_records {
            match log.locate_isolated(
                offset,
                limits.max_bytes,
                min_one_batch,
                limits.read_committed,
            ) {
                Ok(Some(located)) if located.range.len() >= INLINE_RECORDS_BYTES => {
                    Ok((located.result, Some(located.range)))
                }
                // Too small for a piece of its own: read while the lock
                // is held, as the read path would.
                Ok(Some(located)) => match located.range.read() {
                    Ok(records) => Ok((
                        ReadResult {
                            records,
                            ..located.result
                        },
                        None,
                    )),
                    Err(_) => read_isolated(),
                },
                Ok(None) => read_isolated(),
                Err(e) => Err(e),
            }
        } else {
            read_isolated()
        };
        let offsets = (
            log.high_watermark(),
            log.last_stable_offset(),
            log.log_start_offset(),
        );
        (read, offsets)
    });
    match outcome {
        None => (
            error_partition(partition, ResponseError::UnknownTopicOrPartition.code()),
            None,
        ),
        Some((Ok((read, range)), _)) => (answer_partition(partition, read), range),
        Some((Err(e), (high_watermark, last_stable_offset, log_start))) => {
            if !matches!(e, StorageError::OffsetOutOfRange { .. }) {
                tracing::warn!(topic = %topic.name, partition, offset, error = %e, "fetch failed");
            }
            let data = error_partition(partition, e.kafka_error_code())
                .with_high_watermark(high_watermark)
                .with_last_stable_offset(last_stable_offset)
                .with_log_start_offset(log_start);
            (data, None)
        }
    }
}

/// A partition's answer to a read.
fn answer_partition(partition: i32, read: ReadResult) -> PartitionData {
    PartitionData::default()
        .with_partition_index(partition)
        .with_high_watermark(read.high_watermark)
        .with_last_stable_offset(read.last_stable_offset)
        .with_log_start_offset(read.log_start_offset)
        .with_aborted_transactions(read.aborted_transactions.map(|aborted| {
            aborted
                .into_iter()
                .map(|(producer_id, first_offset)| {
                    AbortedTransaction::default()
                        .with_producer_id(ProducerId(producer_id))
                        .with_first_offset(first_offset)
                })
                .collect()
        }))
        .with_records(Some(read.records))
}

fn error_partition(partition: i32, code: i16) -> PartitionData {
    super::error_reply::fetch_partition(partition, code)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn error_partitions_carry_empty_records() {
        let data = error_partition(3, 1);
        assert_eq!(data.records, Some(Bytes::new()));
    }

    /// A deleted topic's append signal reports itself closed, and keeps
    /// doing so at once on every later wait: the fetch loop must see that
    /// as "topic gone" and answer, not wait on it again.
    #[tokio::test]
    async fn a_closed_append_signal_is_told_apart_from_an_append() {
        let (appended, on_append) = watch::channel(0_u64);
        let (deleted, on_delete) = watch::channel(0_u64);
        let mut receivers = vec![on_append, on_delete];
        appended.send_replace(1);
        assert!(!any_changed(&mut receivers).await, "an append");
        receivers[0].borrow_and_update();
        drop(deleted);
        for _ in 0..2 {
            let waited = tokio::time::timeout(Duration::from_secs(5), any_changed(&mut receivers));
            assert!(
                waited.await.expect("a closed signal resolves at once"),
                "the deletion"
            );
        }
        drop(appended);
    }
}
