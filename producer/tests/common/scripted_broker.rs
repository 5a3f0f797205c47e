//! A scripted broker for the producer's tests: it serves ApiVersions,
//! Metadata (one partition per topic, led by itself), InitProducerId and
//! Produce, and answers produce batches from a script, so tests can get
//! the errors a real broker rarely gives on demand (out-of-order sequences,
//! unknown producer ids, fencing, too large batches, throttling).
//! The connection handling is testkit's [`FakeBroker`]; this file only
//! decides the answers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use durian_core::record::{decode_records, BatchHeader};
use durian_core::KafkaCode;
use durian_producer::Producer;
use durian_testkit::scripted::{self, FakeBroker, Reply, Request};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
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
    server: FakeBroker,
    script: Arc<Mutex<Script>>,
}

impl ScriptedBroker {
    /// A broker answering the first batches with `answers`.
    pub async fn start(answers: Vec<Answer>) -> ScriptedBroker {
        ScriptedBroker::with_rules(answers, Rules::default()).await
    }

    /// A broker answering the first batches with `answers`, then by `rules`.
    pub async fn with_rules(answers: Vec<Answer>, rules: Rules) -> ScriptedBroker {
        let script = Arc::new(Mutex::new(Script {
            answers,
            rules,
            seen: Vec::new(),
            init_calls: Vec::new(),
            next_offset: 0,
            expected_sequence: None,
            written: Vec::new(),
            timings: Vec::new(),
        }));
        let server = FakeBroker::start({
            let script = script.clone();
            move |request: Request| answer(&script, request)
        })
        .await;
        ScriptedBroker { server, script }
    }

    /// `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        self.server.bootstrap()
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
}

/// Answers one request from the script.
fn answer(script: &Mutex<Script>, request: Request) -> Reply {
    match request.api {
        ApiKey::ApiVersions => request.reply(&scripted::api_versions(&[
            (ApiKey::ApiVersions, 0, 3),
            (ApiKey::Metadata, 1, 12),
            (ApiKey::Produce, 3, 9),
            (ApiKey::InitProducerId, 0, 4),
        ])),
        ApiKey::Metadata => request.reply(&scripted::metadata(request.port, &request.decode())),
        ApiKey::InitProducerId => {
            let response = script.lock().unwrap().init_producer_id(&request.decode());
            request.reply(&response)
        }
        ApiKey::Produce => {
            let received = Instant::now();
            let mut script = script.lock().unwrap();
            let response = script.produce(request.decode());
            script.timings.push(ProduceTiming {
                received,
                answered: Instant::now(),
            });
            request.reply(&response)
        }
        other => panic!("the scripted broker does not serve {other:?}"),
    }
}

impl Script {
    /// Grants id 1000 epoch 0, and a bump of the epoch when asked.
    fn init_producer_id(&mut self, request: &InitProducerIdRequest) -> InitProducerIdResponse {
        self.init_calls
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

    /// Answers every batch of a produce request: by the script while it
    /// lasts, then by the rules; records what was seen and written.
    fn produce(&mut self, request: ProduceRequest) -> ProduceResponse {
        let mut topics = Vec::new();
        for topic in request.topic_data {
            let mut partitions = Vec::new();
            for data in topic.partition_data {
                let records = data.records.unwrap_or_default();
                let header = BatchHeader::parse(&records).unwrap();
                self.seen.push(SeenBatch {
                    producer_id: header.producer_id,
                    epoch: header.producer_epoch,
                    base_sequence: header.base_sequence,
                    records: header.record_count,
                    bytes: records.len(),
                });
                let mut message = None;
                let (code, base_offset, log_start) = if !self.answers.is_empty() {
                    self.answers.remove(0)
                } else if let Some(limit) =
                    self.rules.max_batch_bytes.filter(|l| records.len() > *l)
                {
                    message = Some(format!(
                        "record batch of {} bytes exceeds max.message.bytes = {limit}",
                        records.len()
                    ));
                    (KafkaCode::MESSAGE_TOO_LARGE, -1, 0)
                } else if !self.in_sequence(&header) {
                    (KafkaCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1, 0)
                } else {
                    let offset = self.next_offset;
                    self.next_offset += i64::from(header.record_count);
                    for record in decode_records(&records).unwrap() {
                        self.written.push(record.value.unwrap_or_default());
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
        let throttle = if self.rules.throttle_ms.is_empty() {
            0
        } else {
            self.rules.throttle_ms.remove(0)
        };
        ProduceResponse::default()
            .with_responses(topics)
            .with_throttle_time_ms(throttle)
    }

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
