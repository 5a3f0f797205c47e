//! Produce (key 0), versions 3–12.
//!
//! Decodes each partition's record batches (produce_validate: records
//! parse, counts match, decompression bounded by the broker's per-batch
//! limit and shared budget; a failure is CORRUPT_MESSAGE, or
//! REQUEST_TIMED_OUT when the budget stayed busy, for that partition only,
//! which stays untouched), then appends them through the storage
//! engine, which validates them (CRC, sizes, idempotent sequences) and
//! assigns offsets. Only the partition's leader (per the topology) appends; any
//! other node answers NOT_LEADER_OR_FOLLOWER. Batches are stamped with the
//! leader epoch. acks 0, 1 and -1 are accepted; replicas are simulated
//! (one shared log), so -1 is satisfied as soon as the local append is. acks=0 gets no response at all. Unknown
//! topics are auto-created when auto-creation is on. Transactional batches
//! are checked against the transaction coordinator first, as Kafka 3.6+
//! (KIP-890 part 1): the producer must be its transactional id's current
//! one at its current epoch (else INVALID_PRODUCER_EPOCH) with the
//! partition added to its open transaction (else INVALID_TXN_STATE). Not
//! supported: per-record error details
//! (`record_errors` stays empty), `timeout_ms` (appends never wait for
//! replicas), and v13 (topic ids in Produce). With acks=0 a failed append
//! closes the connection (Kafka's way of telling such a producer).
//!
//! Authorization, as Kafka 4: WRITE on the transactional id when one is
//! given (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED everywhere), WRITE
//! on each topic (else TOPIC_AUTHORIZATION_FAILED for its partitions);
//! auto-creation also needs CREATE on the cluster or the topic.

use bytes::Bytes;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::error_reply::produce_error_knows_log_start;
use super::produce_validate::{check_produced_records, Decompression};
use super::{text, versions, DataContext, HandlerError, RequestContext};
use crate::clock::now_ms;
use crate::state::TopicError;
use crate::storage::{lock_log, PartitionLog, ScannedRecords, SharedLog};
use crate::txn::ProducerRef;

/// Versions served.
pub const VERSIONS: VersionRange = versions(3, 12);

/// Versions advertised in ApiVersions: from v0, as Kafka 3.x did.
/// librdkafka before 2.10 turns gzip and snappy on only when the broker's
/// Produce range includes v0 (and otherwise silently sends such batches
/// uncompressed). Clients use the highest common version, so v0–v2
/// (message formats v0/v1, which kafka-protocol cannot decode) are never
/// chosen by a client that also speaks v3+; one that sends them anyway has
/// its connection closed with a reason.
pub const ADVERTISED: VersionRange = versions(0, 12);

/// What the connection does after a Produce.
#[derive(Debug)]
pub enum ProduceReply {
    /// Send this response (acks 1 or -1).
    Respond(ProduceResponse),
    /// Send nothing (acks=0, everything appended).
    Silent,
    /// acks=0 but something failed: close the connection, as Kafka does,
    /// because that is the only way a fire-and-forget producer learns it
    /// must refresh its metadata.
    Close(HandlerError),
}

/// Appends the request's batches.
///
/// Two passes: the first answers what needs no storage (bad acks, unknown
/// topics and partitions, not the leader) and collects the appends; the
/// second runs them, the cheap ones inline and the rest together in one
/// blocking task (see [`run_appends`]).
pub async fn handle(
    context: &DataContext<'_>,
    request: ProduceRequest,
    ctx: &RequestContext,
) -> ProduceReply {
    let version = ctx.version;
    let acks = request.acks;
    let mut topics = Vec::with_capacity(request.topic_data.len());
    let mut appends = Vec::new();
    let mut auto_create = context.auto_create_budget();
    let access = context.access(ctx);
    // A transactional producer must be allowed to WRITE its transactional
    // id, or every partition is refused (Kafka's check, before the topics').
    let transactional_denied = request
        .transactional_id
        .as_ref()
        .is_some_and(|id| !access.transactional_id(AclOperation::Write, id));
    let transactional_id = request.transactional_id.as_ref().map(|id| id.0.to_string());
    for topic in request.topic_data {
        let name = topic.name.0.to_string();
        let known = if transactional_denied {
            Err(TopicError {
                code: ResponseError::TransactionalIdAuthorizationFailed.code(),
                message: "WRITE on the transactional id is not allowed".to_string(),
            })
        } else if !access.topic(AclOperation::Write, &name) {
            Err(TopicError {
                code: ResponseError::TopicAuthorizationFailed.code(),
                message: format!("WRITE on topic {name} is not allowed"),
            })
        } else if let Some(meta) = context.topic(&name) {
            Ok(meta)
        } else {
            // Only a missing topic pays for the CREATE checks.
            let may_create =
                access.cluster(AclOperation::Create) || access.topic(AclOperation::Create, &name);
            context
                .topic_or_auto_create(&name, may_create, &mut auto_create)
                .await
        };
        let mut partitions = Vec::with_capacity(topic.partition_data.len());
        for data in topic.partition_data {
            let routed = match (&known, acks) {
                (_, a) if !matches!(a, -1..=1) => Err(failure(
                    data.index,
                    ResponseError::InvalidRequiredAcks.code(),
                    "acks must be -1, 0 or 1",
                )),
                (Err(e), _) => Err(failure(data.index, e.code, &e.message)),
                (Ok(topic), _) if !(0..topic.partitions).contains(&data.index) => {
                    Err(unknown_partition(&name, data.index))
                }
                (Ok(_), _) => context
                    .check_leader(&name, data.index, ctx.node_id, -1)
                    .map_err(|e| {
                        failure(
                            data.index,
                            e.code(),
                            &format!("node {} does not lead {name}-{}", ctx.node_id, data.index),
                        )
                    })
                    .and_then(|epoch| {
                        pending_append(context, &name, data.index, epoch, data.records)
                    })
                    .and_then(|append| {
                        verify_transactional(context, transactional_id.as_deref(), &name, append)
                    }),
            };
            match routed {
                Ok(append) => {
                    partitions.push(None);
                    appends.push(append);
                }
                Err(outcome) => partitions.push(Some(outcome)),
            }
        }
        topics.push((topic.name, name, partitions));
    }

    let mut appended = run_appends(appends, context.decompression())
        .await
        .into_iter();
    let mut responses = Vec::with_capacity(topics.len());
    let mut first_error: Option<HandlerError> = None;
    for (topic_name, name, partitions) in topics {
        let mut answers = Vec::with_capacity(partitions.len());
        for slot in partitions {
            // Every `None` slot has its append's outcome, in request order.
            let Some(result) = slot.or_else(|| appended.next()) else {
                continue;
            };
            if result.error_code == 0 {
                context.notify_append(&name, result.index);
            } else if first_error.is_none() {
                first_error = Some(HandlerError::AcksZeroProduceFailed {
                    topic: name.clone(),
                    partition: result.index,
                    code: result.error_code,
                    message: result.message.clone().unwrap_or_default(),
                });
            }
            answers.push(with_message(result, version));
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic_name)
                .with_partition_responses(answers),
        );
    }
    match (acks, first_error) {
        (0, None) => ProduceReply::Silent,
        (0, Some(reason)) => ProduceReply::Close(reason),
        _ => ProduceReply::Respond(ProduceResponse::default().with_responses(responses)),
    }
}

/// One partition's outcome before version-dependent fields are trimmed.
struct Outcome {
    index: i32,
    error_code: i16,
    message: Option<String>,
    base_offset: i64,
    log_append_time: i64,
    log_start_offset: i64,
}

fn failure(index: i32, error_code: i16, message: &str) -> Outcome {
    Outcome {
        index,
        error_code,
        message: Some(message.to_string()),
        base_offset: -1,
        log_append_time: -1,
        log_start_offset: -1,
    }
}

fn unknown_partition(topic: &str, partition: i32) -> Outcome {
    failure(
        partition,
        ResponseError::UnknownTopicOrPartition.code(),
        &format!("partition {topic}-{partition} does not exist"),
    )
}

/// One partition's records, routed to its log, waiting to be appended,
/// with the batches found by the one walk over them.
struct PendingAppend {
    log: SharedLog,
    partition: i32,
    leader_epoch: i32,
    records: Bytes,
    scanned: ScannedRecords,
}

fn pending_append(
    context: &DataContext<'_>,
    topic: &str,
    partition: i32,
    leader_epoch: i32,
    records: Option<Bytes>,
) -> Result<PendingAppend, Outcome> {
    let Some(records) = records else {
        return Err(failure(
            partition,
            ResponseError::CorruptMessage.code(),
            "records are null",
        ));
    };
    let log = context
        .log(topic, partition)
        .ok_or_else(|| unknown_partition(topic, partition))?;
    let scanned = ScannedRecords::scan(&records);
    Ok(PendingAppend {
        log,
        partition,
        leader_epoch,
        records,
        scanned,
    })
}

/// Refuses an append whose transactional batches the transaction
/// coordinator does not expect (KIP-890 part 1); others pass unchanged.
fn verify_transactional(
    context: &DataContext<'_>,
    transactional_id: Option<&str>,
    topic: &str,
    append: PendingAppend,
) -> Result<PendingAppend, Outcome> {
    for (_, header) in append.scanned.batches() {
        if !header.is_transactional() || header.is_control() {
            continue;
        }
        let producer = ProducerRef {
            producer_id: header.producer_id,
            producer_epoch: header.producer_epoch,
        };
        if let Err(e) =
            context.check_transactional(transactional_id, producer, topic, append.partition)
        {
            let message = match e {
                ResponseError::InvalidProducerEpoch => format!(
                    "producer {} epoch {} is not the current epoch of its transactional id",
                    header.producer_id, header.producer_epoch
                ),
                _ => format!(
                    "{topic}-{} is not part of an open transaction of producer {}",
                    append.partition, header.producer_id
                ),
            };
            return Err(failure(append.partition, e.code(), &message));
        }
    }
    Ok(append)
}

/// An append for the blocking pool: compressed, or one that may wait on
/// the disk.
struct Deferred {
    append: PendingAppend,
    /// Whether the records were already walked and found to decode (an
    /// uncompressed append that turned out to need the disk).
    decoded: bool,
}

impl PendingAppend {
    /// Appends now when that only copies uncompressed batches into the
    /// page cache, which is cheaper than handing it to another thread.
    /// The records are walked (decode check) before the partition lock is
    /// taken, so fetches of the partition wait only for the append itself;
    /// the lock is then held once, for the may-block check and the append.
    /// Anything compressed is decompressed to be checked (within the
    /// broker's decompression limit and budget), and an append that
    /// fsyncs or rolls a segment waits on the disk: those must not hold up
    /// a runtime worker (nor, while decompressing, the partition's
    /// fetches), so they come back [`Deferred`].
    fn append_inline(
        self,
        now_ms: i64,
        decompression: &Decompression,
    ) -> Result<Outcome, Deferred> {
        if !self.scanned.all_uncompressed() {
            return Err(Deferred {
                append: self,
                decoded: false,
            });
        }
        if let Some(refused) = self.refuse_undecodable(decompression) {
            return Ok(refused);
        }
        let shared = SharedLog::clone(&self.log);
        let mut log = lock_log(&shared);
        if log.append_may_block(self.records.len(), now_ms) {
            return Err(Deferred {
                append: self,
                decoded: true,
            });
        }
        Ok(self.append_locked(&mut log))
    }

    /// CORRUPT_MESSAGE if a batch's records do not decode (REQUEST_TIMED_OUT
    /// if the decompression budget stayed busy).
    fn refuse_undecodable(&self, decompression: &Decompression) -> Option<Outcome> {
        let partition = self.partition;
        let reason =
            check_produced_records(&self.records, self.scanned.batches(), decompression).err()?;
        tracing::debug!(partition, %reason, "produce refused");
        Some(failure(partition, reason.code(), &reason.to_string()))
    }

    /// Appends the (decode-checked) records to `log`, which the caller
    /// holds locked; a refusal carries the log start read in the same hold.
    fn append_locked(self, log: &mut PartitionLog) -> Outcome {
        let PendingAppend {
            partition,
            leader_epoch,
            records,
            scanned,
            ..
        } = self;
        // Offsets are stamped into copies of the headers, so the records
        // are written from the request's own buffer.
        match log.append_scanned(&records, scanned, leader_epoch, now_ms()) {
            Err(e) => {
                tracing::debug!(partition, error = %e, "produce rejected");
                let code = e.kafka_error_code();
                let mut refused = failure(partition, code, &e.to_string());
                // As Kafka: sequence and epoch errors carry the log start,
                // which a producer needs to judge them (KIP-360).
                if produce_error_knows_log_start(code) {
                    refused.log_start_offset = log.log_start_offset();
                }
                refused
            }
            Ok(done) => Outcome {
                index: partition,
                error_code: 0,
                message: None,
                base_offset: done.base_offset,
                log_append_time: done.log_append_time,
                log_start_offset: done.log_start_offset,
            },
        }
    }
}

impl Deferred {
    /// Decodes the records outside the partition lock (decompression is
    /// the slow part and must not hold up fetches of this partition), then
    /// appends them in one hold of it.
    fn run(self, decompression: &Decompression) -> Outcome {
        let Deferred { append, decoded } = self;
        if !decoded {
            if let Some(refused) = append.refuse_undecodable(decompression) {
                return refused;
            }
        }
        let shared = SharedLog::clone(&append.log);
        let mut log = lock_log(&shared);
        append.append_locked(&mut log)
    }
}

/// Runs the appends and returns their outcomes in the same order.
///
/// Cheap appends (uncompressed, page cache only) run inline on this
/// runtime worker: measured on 10 KB records, a blocking-pool hand-off per
/// partition cost more than the write and bounded produce throughput. The
/// others go to the blocking pool together, in one task, so a request
/// pays for at most one hand-off.
async fn run_appends(appends: Vec<PendingAppend>, decompression: Decompression) -> Vec<Outcome> {
    let now = now_ms();
    let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(appends.len());
    let mut costly = Vec::new();
    for (slot, append) in appends.into_iter().enumerate() {
        match append.append_inline(now, &decompression) {
            Ok(outcome) => outcomes.push((slot, outcome)),
            Err(deferred) => costly.push((slot, deferred)),
        }
    }
    if !costly.is_empty() {
        let partitions: Vec<(usize, i32)> = costly
            .iter()
            .map(|(slot, d)| (*slot, d.append.partition))
            .collect();
        let task = tokio::task::spawn_blocking(move || {
            costly
                .into_iter()
                .map(|(slot, deferred)| (slot, deferred.run(&decompression)))
                .collect::<Vec<_>>()
        });
        match task.await {
            Ok(done) => outcomes.extend(done),
            Err(e) => {
                tracing::error!(error = %e, "append task failed");
                let code = ResponseError::KafkaStorageError.code();
                outcomes.extend(
                    partitions
                        .into_iter()
                        .map(|(slot, p)| (slot, failure(p, code, "append task failed"))),
                );
            }
        }
    }
    outcomes.sort_unstable_by_key(|(slot, _)| *slot);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

fn with_message(outcome: Outcome, version: i16) -> PartitionProduceResponse {
    let response = PartitionProduceResponse::default()
        .with_index(outcome.index)
        .with_error_code(outcome.error_code)
        .with_base_offset(outcome.base_offset)
        .with_log_append_time_ms(outcome.log_append_time);
    let response = if version >= 5 {
        response.with_log_start_offset(outcome.log_start_offset)
    } else {
        response
    };
    if version >= 8 {
        response.with_error_message(outcome.message.map(text))
    } else {
        response
    }
}
