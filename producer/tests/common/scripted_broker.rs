//! A scripted broker for the producer's tests: it serves ApiVersions,
//! Metadata (one partition per topic, led by itself), InitProducerId and
//! Produce, and answers produce batches from a script, so tests can get
//! the errors a real broker rarely gives on demand (out-of-order sequences,
//! unknown producer ids, fencing, too large batches, throttling).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use durian_core::record::{decode_records, BatchHeader};
use durian_core::KafkaCode;
use durian_producer::Producer;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{decode_request_header_from_buffer, Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// What the producer stamped on one batch it sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeenBatch {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
    pub records: i32,
    /// The batch's size in bytes, as sent.
    pub bytes: usize,
}

/// How the script answers one batch: error code, base offset, log start.
pub type Answer = (KafkaCode, i64, i64);

/// When one produce request arrived and when its response was written.
#[derive(Clone, Copy, Debug)]
pub struct ProduceTiming {
    pub received: Instant,
    pub answered: Instant,
}

/// Broker behaviour beyond the scripted answers.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// Batches larger than this are answered `MESSAGE_TOO_LARGE`, with a
    /// message naming the limit, as durian's broker and Kafka do.
    pub max_batch_bytes: Option<usize>,
    /// `throttle_time_ms` of the first responses, in order; then 0.
    pub throttle_ms: Vec<i32>,
    /// Check sequence numbers like an idempotent broker: a batch is only
    /// written when its base sequence is the next expected one for its
    /// producer id and epoch, else `OUT_OF_ORDER_SEQUENCE_NUMBER`.
    pub check_sequences: bool,
}

struct Script {
    /// Answers for the first batches, in arrival order; then success.
    answers: Vec<Answer>,
    rules: Rules,
    seen: Vec<SeenBatch>,
    init_calls: Vec<(i64, i16)>,
    next_offset: i64,
    /// (producer id, epoch) and the next sequence it must send.
    expected_sequence: Option<((i64, i16), i32)>,
    /// Values of the records written, in offset order.
    written: Vec<Bytes>,
    timings: Vec<ProduceTiming>,
}

#[derive(Clone)]
pub struct ScriptedBroker {
    port: u16,
    script: Arc<Mutex<Script>>,
}

impl ScriptedBroker {
    /// A broker answering the first batches with `answers`.
    pub async fn start(answers: Vec<Answer>) -> ScriptedBroker {
        ScriptedBroker::with_rules(answers, Rules::default()).await
    }

    /// A broker answering the first batches with `answers`, then by `rules`.
    pub async fn with_rules(answers: Vec<Answer>, rules: Rules) -> ScriptedBroker {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let broker = ScriptedBroker {
            port: listener.local_addr().unwrap().port(),
            script: Arc::new(Mutex::new(Script {
                answers,
                rules,
                seen: Vec::new(),
                init_calls: Vec::new(),
                next_offset: 0,
                expected_sequence: None,
                written: Vec::new(),
                timings: Vec::new(),
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

    /// `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// An idempotent producer with no linger and short backoffs.
    pub fn producer(&self) -> Producer {
        Producer::builder()
            .bootstrap_servers([self.bootstrap()])
            .linger(Duration::ZERO)
            .configure(|c| {
                c.client.retry_backoff = Duration::from_millis(10);
                c.client.retry_backoff_max = Duration::from_millis(50);
            })
            .build()
            .unwrap()
    }

    /// Every batch received, in arrival order.
    pub fn seen(&self) -> Vec<SeenBatch> {
        self.script.lock().unwrap().seen.clone()
    }

    /// The (producer id, epoch) of every InitProducerId request.
    pub fn init_calls(&self) -> Vec<(i64, i16)> {
        self.script.lock().unwrap().init_calls.clone()
    }

    /// Values of the records written, in offset order.
    pub fn written(&self) -> Vec<Bytes> {
        self.script.lock().unwrap().written.clone()
    }

    /// Arrival and answer times of every produce request.
    pub fn timings(&self) -> Vec<ProduceTiming> {
        self.script.lock().unwrap().timings.clone()
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
                    let received = Instant::now();
                    let request = ProduceRequest::decode(&mut frame, version).unwrap();
                    let response = self.produce(request);
                    let mut script = self.script.lock().unwrap();
                    script.timings.push(ProduceTiming {
                        received,
                        answered: Instant::now(),
                    });
                    encode(&response, version)
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
                    bytes: records.len(),
                });
                let mut message = None;
                let (code, base_offset, log_start) = if !script.answers.is_empty() {
                    script.answers.remove(0)
                } else if let Some(limit) =
                    script.rules.max_batch_bytes.filter(|l| records.len() > *l)
                {
                    message = Some(format!(
                        "record batch of {} bytes exceeds max.message.bytes = {limit}",
                        records.len()
                    ));
                    (KafkaCode::MESSAGE_TOO_LARGE, -1, 0)
                } else if !script.in_sequence(&header) {
                    (KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1, 0)
                } else {
                    let offset = script.next_offset;
                    script.next_offset += i64::from(header.record_count);
                    for record in decode_records(&records).unwrap() {
                        script.written.push(record.value.unwrap_or_default());
                    }
                    (KafkaCode(0), offset, 0)
                };
                partitions.push(
                    PartitionProduceResponse::default()
                        .with_index(data.index)
                        .with_error_code(code.0)
                        .with_error_message(message.map(StrBytes::from_string))
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
        let throttle = if script.rules.throttle_ms.is_empty() {
            0
        } else {
            script.rules.throttle_ms.remove(0)
        };
        ProduceResponse::default()
            .with_responses(topics)
            .with_throttle_time_ms(throttle)
    }
}

impl Script {
    /// Whether a batch may be written under the sequence rules (always
    /// without `check_sequences`); moves the expected sequence on if so.
    fn in_sequence(&mut self, header: &BatchHeader) -> bool {
        if !self.rules.check_sequences {
            return true;
        }
        let producer = (header.producer_id, header.producer_epoch);
        let expected = match self.expected_sequence {
            Some((current, next)) if current == producer => next,
            // A new epoch starts at 0.
            _ => 0,
        };
        if header.base_sequence != expected {
            return false;
        }
        self.expected_sequence = Some((producer, expected + header.record_count));
        true
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
