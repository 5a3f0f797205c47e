//! The producer against a scripted broker that answers Produce with the
//! errors a real broker rarely gives on demand: out-of-order sequences,
//! unknown producer ids, fencing. Checks the KIP-360 handling end to end.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use durian_core::record::BatchHeader;
use durian_core::KafkaCode;
use durian_producer::{Producer, ProducerError, ProducerRecord};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{decode_request_header_from_buffer, Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the producer stamped on one batch it sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SeenBatch {
    producer_id: i64,
    epoch: i16,
    base_sequence: i32,
    records: i32,
}

/// How the script answers one batch: error code, base offset, log start.
type Answer = (KafkaCode, i64, i64);

struct Script {
    /// Answers for the first batches, in arrival order; then success.
    answers: Vec<Answer>,
    seen: Vec<SeenBatch>,
    init_calls: Vec<(i64, i16)>,
    next_offset: i64,
}

#[derive(Clone)]
struct ScriptedBroker {
    port: u16,
    script: Arc<Mutex<Script>>,
}

impl ScriptedBroker {
    async fn start(answers: Vec<Answer>) -> ScriptedBroker {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let broker = ScriptedBroker {
            port: listener.local_addr().unwrap().port(),
            script: Arc::new(Mutex::new(Script {
                answers,
                seen: Vec::new(),
                init_calls: Vec::new(),
                next_offset: 0,
            })),
        };
        let serving = broker.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serving.clone().serve(stream));
            }
        });
        broker
    }

    fn producer(&self) -> Producer {
        Producer::builder()
            .bootstrap_servers([format!("127.0.0.1:{}", self.port)])
            .linger(Duration::ZERO)
            .configure(|c| {
                c.client.retry_backoff = Duration::from_millis(10);
                c.client.retry_backoff_max = Duration::from_millis(50);
            })
            .build()
            .unwrap()
    }

    fn seen(&self) -> Vec<SeenBatch> {
        self.script.lock().unwrap().seen.clone()
    }

    fn init_calls(&self) -> Vec<(i64, i16)> {
        self.script.lock().unwrap().init_calls.clone()
    }

    async fn serve(self, mut stream: TcpStream) {
        loop {
            let Ok(size) = stream.read_i32().await else {
                return;
            };
            let mut frame = vec![0u8; size as usize];
            if stream.read_exact(&mut frame).await.is_err() {
                return;
            }
            let mut frame = Bytes::from(frame);
            let header = decode_request_header_from_buffer(&mut frame).unwrap();
            let api = ApiKey::try_from(header.request_api_key).unwrap();
            let version = header.request_api_version;
            let body = match api {
                ApiKey::ApiVersions => encode(&api_versions(), version),
                ApiKey::Metadata => {
                    let request = MetadataRequest::decode(&mut frame, version).unwrap();
                    encode(&self.metadata(&request), version)
                }
                ApiKey::InitProducerId => {
                    let request = InitProducerIdRequest::decode(&mut frame, version).unwrap();
                    encode(&self.init_producer_id(&request), version)
                }
                ApiKey::Produce => {
                    let request = ProduceRequest::decode(&mut frame, version).unwrap();
                    encode(&self.produce(request), version)
                }
                other => panic!("the scripted broker does not serve {other:?}"),
            };
            let response_header =
                ResponseHeader::default().with_correlation_id(header.correlation_id);
            let header_bytes = encode(&response_header, api.response_header_version(version));
            let size = (header_bytes.len() + body.len()) as i32;
            let mut out = BytesMut::new();
            out.extend_from_slice(&size.to_be_bytes());
            out.extend_from_slice(&header_bytes);
            out.extend_from_slice(&body);
            if stream.write_all(&out).await.is_err() {
                return;
            }
        }
    }

    fn metadata(&self, request: &MetadataRequest) -> MetadataResponse {
        let topics = request.topics.clone().unwrap_or_default();
        MetadataResponse::default()
            .with_controller_id(BrokerId(1))
            .with_brokers(vec![MetadataResponseBroker::default()
                .with_node_id(BrokerId(1))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(i32::from(self.port))])
            .with_topics(
                topics
                    .into_iter()
                    .map(|topic| {
                        MetadataResponseTopic::default()
                            .with_name(topic.name)
                            .with_partitions(vec![MetadataResponsePartition::default()
                                .with_partition_index(0)
                                .with_leader_id(BrokerId(1))
                                .with_leader_epoch(0)])
                    })
                    .collect(),
            )
    }

    /// Grants id 1000 epoch 0, and a bump of the epoch when asked.
    fn init_producer_id(&self, request: &InitProducerIdRequest) -> InitProducerIdResponse {
        let mut script = self.script.lock().unwrap();
        script
            .init_calls
            .push((request.producer_id.0, request.producer_epoch));
        let (id, epoch) = if request.producer_id.0 >= 0 {
            (request.producer_id.0, request.producer_epoch + 1)
        } else {
            (1000, 0)
        };
        InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch)
    }

    fn produce(&self, request: ProduceRequest) -> ProduceResponse {
        let mut script = self.script.lock().unwrap();
        let mut topics = Vec::new();
        for topic in request.topic_data {
            let mut partitions = Vec::new();
            for data in topic.partition_data {
                let records = data.records.unwrap_or_default();
                let header = BatchHeader::parse(&records).unwrap();
                script.seen.push(SeenBatch {
                    producer_id: header.producer_id,
                    epoch: header.producer_epoch,
                    base_sequence: header.base_sequence,
                    records: header.record_count,
                });
                let (code, base_offset, log_start) = if script.answers.is_empty() {
                    let offset = script.next_offset;
                    script.next_offset += i64::from(header.record_count);
                    (KafkaCode(0), offset, 0)
                } else {
                    script.answers.remove(0)
                };
                partitions.push(
                    PartitionProduceResponse::default()
                        .with_index(data.index)
                        .with_error_code(code.0)
                        .with_base_offset(base_offset)
                        .with_log_append_time_ms(-1)
                        .with_log_start_offset(log_start),
                );
            }
            topics.push(
                TopicProduceResponse::default()
                    .with_name(topic.name)
                    .with_partition_responses(partitions),
            );
        }
        ProduceResponse::default().with_responses(topics)
    }
}

fn encode<M: Encodable>(message: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    message.encode(&mut buf, version).unwrap();
    buf.freeze()
}

fn api_versions() -> ApiVersionsResponse {
    let range = |key: ApiKey, min, max| {
        ApiVersion::default()
            .with_api_key(key as i16)
            .with_min_version(min)
            .with_max_version(max)
    };
    ApiVersionsResponse::default().with_api_keys(vec![
        range(ApiKey::ApiVersions, 0, 3),
        range(ApiKey::Metadata, 1, 12),
        range(ApiKey::Produce, 3, 9),
        range(ApiKey::InitProducerId, 0, 4),
    ])
}

fn record(n: u32) -> ProducerRecord {
    ProducerRecord::new("scripted", format!("r{n}")).with_partition(0)
}

#[tokio::test]
async fn out_of_order_on_the_first_batch_fails_it_then_the_epoch_is_bumped() {
    let broker =
        ScriptedBroker::start(vec![(KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1, 0)]).await;
    let producer = broker.producer();
    let failed = producer.send_and_wait(record(0)).await.unwrap_err();
    assert!(
        matches!(
            failed,
            ProducerError::OutOfOrderSequence { partition: 0, .. }
        ),
        "{failed}"
    );
    let written = producer.send_and_wait(record(1)).await.unwrap();
    assert_eq!(written.offset, 0);
    assert_eq!(
        broker.init_calls(),
        [(-1, -1), (1000, 0)],
        "a fresh id, then a bump"
    );
    let seen = broker.seen();
    let last = seen.last().unwrap();
    assert_eq!(
        (last.producer_id, last.epoch, last.base_sequence),
        (1000, 1, 0)
    );
    assert_eq!(producer.metrics().epoch_bumps, 1);
    producer.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn unknown_producer_id_after_retention_bumps_and_retries_the_batch() {
    // First batch acknowledged at offset 0; the second is answered with
    // UNKNOWN_PRODUCER_ID and a log start of 5, past everything acknowledged.
    let broker = ScriptedBroker::start(vec![
        (KafkaCode(0), 0, 0),
        (KafkaCode::UNKNOWN_PRODUCER_ID, -1, 5),
    ])
    .await;
    let producer = broker.producer();
    assert_eq!(producer.send_and_wait(record(0)).await.unwrap().offset, 0);
    // The scripted broker continues its own offsets from 0 for accepted batches.
    let retried = producer.send_and_wait(record(1)).await.unwrap();
    assert!(retried.offset >= 0);
    let seen = broker.seen();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!((seen[1].epoch, seen[1].base_sequence), (0, 1));
    assert_eq!(
        (seen[2].epoch, seen[2].base_sequence),
        (1, 0),
        "same batch, new epoch, sequence 0"
    );
    producer.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn unknown_producer_id_with_acknowledged_data_still_in_the_log_is_fatal() {
    let broker = ScriptedBroker::start(vec![
        (KafkaCode(0), 0, 0),
        (KafkaCode::UNKNOWN_PRODUCER_ID, -1, 0),
    ])
    .await;
    let producer = broker.producer();
    producer.send_and_wait(record(0)).await.unwrap();
    let error = producer.send_and_wait(record(1)).await.unwrap_err();
    assert!(error.is_fatal(), "{error}");
    assert!(error.to_string().contains("UNKNOWN_PRODUCER_ID"), "{error}");
    // Every later send reports the same fatal error at once.
    let later = producer.send(record(2)).await.unwrap_err();
    assert!(later.is_fatal(), "{later}");
    assert!(producer.flush().await.unwrap_err().is_fatal());
}

#[tokio::test]
async fn a_fenced_epoch_is_fatal_for_every_later_send() {
    let broker = ScriptedBroker::start(vec![(KafkaCode::INVALID_PRODUCER_EPOCH, -1, 0)]).await;
    let producer = broker.producer();
    let error = producer.send_and_wait(record(0)).await.unwrap_err();
    assert!(error.is_fatal(), "{error}");
    for n in 1..4 {
        let later = producer.send(record(n)).await.unwrap_err();
        assert!(later.is_fatal(), "{later}");
    }
    assert_eq!(
        broker.seen().len(),
        1,
        "nothing is sent after the fatal error"
    );
}

#[tokio::test]
async fn a_duplicate_sequence_counts_as_delivered() {
    let broker = ScriptedBroker::start(vec![(KafkaCode::DUPLICATE_SEQUENCE_NUMBER, -1, 0)]).await;
    let producer = broker.producer();
    let written = producer.send_and_wait(record(0)).await.unwrap();
    assert_eq!(
        written.offset, -1,
        "the broker did not say where the original went"
    );
    assert_eq!(producer.metrics().errors, 0);
    producer.close(Duration::from_secs(5)).await.unwrap();
}
