//! Produce requests and responses as pure functions: batches in, request
//! out; response in, one outcome per batch out.

use std::time::Duration;

use durian_core::record::BatchRope;
use durian_core::{Error, KafkaCode, KafkaError};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName, TransactionalId};
use kafka_protocol::protocol::StrBytes;

use crate::accumulator::{BatchOutcome, DrainedBatch};
use crate::delivery::BatchAck;
use crate::error::FatalError;

/// Builds one ProduceRequest carrying `batches` (one per partition),
/// grouped by topic in the order given, and the batches in the order the
/// request lists their partitions. The payloads are moved out of
/// `batches` (left empty), not cloned: the accumulator keeps its own
/// reference for retries.
///
/// A batch in one piece is also the partition's `records`; a batch in
/// several (referencing values) leaves `records` empty (`None`) until
/// [`fill_records`] joins it, since the request is normally encoded with
/// the pieces as they are (`encode.rs`).
pub(crate) fn build_request(
    acks: i16,
    timeout: Duration,
    transactional_id: Option<&str>,
    batches: &mut [DrainedBatch],
) -> (ProduceRequest, Vec<BatchRope>) {
    let mut topics: Vec<(TopicProduceData, Vec<BatchRope>)> = Vec::new();
    for batch in batches.iter_mut() {
        let payload = std::mem::take(&mut batch.payload);
        let contiguous = match payload.pieces() {
            [only] => Some(only.clone()),
            _ => None,
        };
        let data = PartitionProduceData::default()
            .with_index(batch.partition)
            .with_records(contiguous);
        match topics.iter_mut().find(|(t, _)| *t.name.0 == *batch.topic) {
            Some((topic, ropes)) => {
                topic.partition_data.push(data);
                ropes.push(payload);
            }
            None => topics.push((
                TopicProduceData::default()
                    .with_name(TopicName(batch.topic.clone()))
                    .with_partition_data(vec![data]),
                vec![payload],
            )),
        }
    }
    let mut ordered = Vec::with_capacity(batches.len());
    let topics = topics
        .into_iter()
        .map(|(topic, ropes)| {
            ordered.extend(ropes);
            topic
        })
        .collect();
    let request = ProduceRequest::default()
        .with_transactional_id(
            transactional_id.map(|id| TransactionalId(StrBytes::from_string(id.to_owned()))),
        )
        .with_acks(acks)
        .with_timeout_ms(i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX))
        .with_topic_data(topics);
    (request, ordered)
}

/// Sets every partition's `records` to its whole batch (joining the pieces
/// of a batch that references values), for an encoder that needs them
/// contiguous. `ropes` is in the request's partition order.
pub(crate) fn fill_records(request: &mut ProduceRequest, ropes: &[BatchRope]) {
    let partitions = request
        .topic_data
        .iter_mut()
        .flat_map(|t| t.partition_data.iter_mut());
    for (partition, rope) in partitions.zip(ropes) {
        partition.records = Some(rope.to_bytes());
    }
}

/// One outcome per batch, in the order of `batches`. A partition missing
/// from the response is retried.
pub(crate) fn response_outcomes<'a>(
    response: &ProduceResponse,
    batches: impl IntoIterator<Item = (&'a str, i32)>,
) -> Vec<BatchOutcome> {
    batches
        .into_iter()
        .map(|(topic, partition)| {
            let found = response
                .responses
                .iter()
                .filter(|t| *t.name.0 == *topic)
                .flat_map(|t| t.partition_responses.iter())
                .find(|p| p.index == partition);
            match found {
                Some(answer) => partition_outcome(answer),
                None => BatchOutcome::Retry(Error::MissingFromResponse {
                    response: "produce",
                    item: format!("{topic}-{partition}"),
                }),
            }
        })
        .collect()
}

/// The outcome of a request that got no response at all: retried when the
/// error says retrying may help (sequence numbers make a resend safe).
/// The batches' fate is unknown once the request was `handed_over` to a
/// connection; before that they were certainly not appended.
pub(crate) fn transport_outcome(error: &Error, handed_over: bool) -> BatchOutcome {
    if !error.is_retriable() {
        BatchOutcome::RequestFailed {
            error: error.clone(),
            may_be_written: handed_over,
        }
    } else if handed_over {
        BatchOutcome::Retry(error.clone())
    } else {
        BatchOutcome::NotSent(error.clone())
    }
}

/// Classifies one partition's answer. See the error table in docs/PRODUCER.md.
pub(crate) fn partition_outcome(partition: &PartitionProduceResponse) -> BatchOutcome {
    let code = KafkaCode(partition.error_code);
    let ack = BatchAck {
        base_offset: partition.base_offset,
        log_append_time: partition.log_append_time_ms,
    };
    if code.is_ok() {
        return BatchOutcome::Acked(ack);
    }
    let error = Error::Kafka(KafkaError {
        code,
        message: partition.error_message.as_ref().map(|m| m.to_string()),
    });
    match code {
        // The broker already has this batch: it was written by an earlier
        // attempt whose response was lost.
        KafkaCode::DUPLICATE_SEQUENCE_NUMBER => BatchOutcome::Acked(BatchAck {
            base_offset: ack.base_offset.max(-1),
            log_append_time: -1,
        }),
        KafkaCode::UNKNOWN_PRODUCER_ID | KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER => {
            BatchOutcome::Sequence {
                error,
                log_start_offset: partition.log_start_offset,
            }
        }
        KafkaCode::INVALID_PRODUCER_EPOCH
        | KafkaCode::PRODUCER_FENCED
        | KafkaCode::INVALID_PRODUCER_ID_MAPPING
        | KafkaCode::CLUSTER_AUTHORIZATION_FAILED
        | KafkaCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED => {
            BatchOutcome::Fatal(FatalError::Rejected(error))
        }
        _ if code.is_retriable() => BatchOutcome::Retry(error),
        _ => BatchOutcome::Failed(error),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytes::Bytes;
    use kafka_protocol::messages::produce_response::TopicProduceResponse;
    use tokio::time::Instant;

    use super::*;

    fn drained(topic: &str, partition: i32) -> DrainedBatch {
        DrainedBatch {
            topic: StrBytes::from_string(topic.to_owned()),
            partition,
            batch_id: partition as u64,
            payload: BatchRope::from(Bytes::from_static(b"batch")),
            deadline: Instant::now(),
        }
    }

    fn answer(partition: i32, code: KafkaCode, base_offset: i64) -> PartitionProduceResponse {
        PartitionProduceResponse::default()
            .with_index(partition)
            .with_error_code(code.0)
            .with_base_offset(base_offset)
            .with_log_append_time_ms(-1)
    }

    #[test]
    fn batches_are_grouped_by_topic() {
        let mut batches = [drained("a", 0), drained("b", 0), drained("a", 1)];
        let (request, ropes) = build_request(-1, Duration::from_secs(30), None, &mut batches);
        assert_eq!(request.acks, -1);
        assert_eq!(request.timeout_ms, 30_000);
        assert_eq!(request.topic_data.len(), 2);
        let a = &request.topic_data[0];
        assert_eq!(&*a.name.0, "a");
        assert_eq!(
            a.partition_data.iter().map(|p| p.index).collect::<Vec<_>>(),
            [0, 1]
        );
        assert_eq!(a.partition_data[0].records.as_deref(), Some(&b"batch"[..]));
        assert_eq!(ropes.len(), 3);
    }

    #[test]
    fn batches_in_pieces_come_back_in_the_requests_order() {
        let mut batches = [drained("a", 0), drained("b", 0), drained("a", 1)];
        let mut writer = durian_core::record::BatchWriter::builder()
            .reference_values_from(16)
            .build();
        let value = Bytes::from(vec![b'v'; 100]);
        writer
            .try_append_shared(0, None, Some(&value), durian_core::record::NO_HEADERS)
            .unwrap();
        let rope = writer.finish_rope().unwrap();
        assert_eq!(rope.pieces().len(), 3);
        batches[2].payload = rope.clone();
        let b = batches[1].payload.clone();
        let (mut request, ropes) = build_request(-1, Duration::from_secs(30), None, &mut batches);
        // Topic a's partitions first (0, then the one in pieces), then b's.
        assert_eq!(ropes[1], rope);
        assert_eq!(ropes[2], b);
        assert!(
            batches.iter().all(|b| b.payload.is_empty()),
            "moved, not cloned"
        );
        assert_eq!(request.topic_data[0].partition_data[1].records, None);
        fill_records(&mut request, &ropes);
        assert_eq!(
            request.topic_data[0].partition_data[1].records,
            Some(rope.to_bytes())
        );
        assert_eq!(
            request.topic_data[1].partition_data[0].records.as_deref(),
            Some(&b"batch"[..])
        );
    }

    #[test]
    fn a_partially_failed_request_yields_one_outcome_per_batch() {
        let batches = [("a", 0), ("a", 1), ("a", 2)];
        let response =
            ProduceResponse::default().with_responses(vec![TopicProduceResponse::default()
                .with_name(TopicName(StrBytes::from_static_str("a")))
                .with_partition_responses(vec![
                    answer(0, KafkaCode(0), 100),
                    answer(1, KafkaCode::NOT_LEADER_OR_FOLLOWER, -1),
                ])]);
        let outcomes = response_outcomes(&response, batches);
        assert!(matches!(
            outcomes[0],
            BatchOutcome::Acked(BatchAck {
                base_offset: 100,
                ..
            })
        ));
        assert!(
            matches!(&outcomes[1], BatchOutcome::Retry(e) if e.kafka_code() == Some(KafkaCode::NOT_LEADER_OR_FOLLOWER))
        );
        // Partition 2 is missing from the response: retried, not lost.
        assert!(matches!(
            outcomes[2],
            BatchOutcome::Retry(Error::MissingFromResponse { .. })
        ));
    }

    #[test]
    fn error_codes_map_to_the_documented_actions() {
        let classify = |code: KafkaCode| partition_outcome(&answer(0, code, -1));
        assert!(matches!(
            classify(KafkaCode::DUPLICATE_SEQUENCE_NUMBER),
            BatchOutcome::Acked(_)
        ));
        assert!(matches!(
            classify(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER),
            BatchOutcome::Sequence { .. }
        ));
        assert!(matches!(
            classify(KafkaCode::UNKNOWN_PRODUCER_ID),
            BatchOutcome::Sequence { .. }
        ));
        assert!(matches!(
            classify(KafkaCode::INVALID_PRODUCER_EPOCH),
            BatchOutcome::Fatal(_)
        ));
        assert!(matches!(
            classify(KafkaCode::PRODUCER_FENCED),
            BatchOutcome::Fatal(_)
        ));
        assert!(matches!(
            classify(KafkaCode::NOT_ENOUGH_REPLICAS),
            BatchOutcome::Retry(_)
        ));
        assert!(matches!(
            classify(KafkaCode::MESSAGE_TOO_LARGE),
            BatchOutcome::Failed(_)
        ));
        let lost = Error::ConnectionClosed {
            broker: "b:1".into(),
        };
        assert!(matches!(
            transport_outcome(&lost, true),
            BatchOutcome::Retry(_)
        ));
        assert!(matches!(
            transport_outcome(&lost, false),
            BatchOutcome::NotSent(_)
        ));
        assert!(matches!(
            transport_outcome(&Error::Protocol("garbled".into()), true),
            BatchOutcome::RequestFailed {
                may_be_written: true,
                ..
            }
        ));
    }
}
