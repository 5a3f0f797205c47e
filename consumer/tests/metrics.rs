//! Client metrics through the `metrics` facade (issue 20): a produce and
//! a group consume on durian's broker, recorded by metrics-util's
//! DebuggingRecorder, move the request, error, producer and consumer
//! metrics that docs/OBSERVABILITY.md lists.
//!
//! One test per binary: the recorder is installed process-wide.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{admin, consumer, create_topic, start_broker};
use durian_core::{KafkaError, Target};
use durian_producer::{Producer, ProducerRecord};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{CreateTopicsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;

const TOPIC: &str = "observed";
const RECORDS: usize = 10;

/// One recorded metric: kind, name, labels (sorted) and value.
struct Seen {
    kind: MetricKind,
    name: String,
    labels: Vec<(String, String)>,
    value: DebugValue,
}

impl Seen {
    fn has(&self, key: &str, value: &str) -> bool {
        self.labels.iter().any(|(k, v)| k == key && v == value)
    }
}

/// The metrics named `name` carrying every label of `labels`.
fn find<'a>(seen: &'a [Seen], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Seen> {
    seen.iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.has(k, v)))
        .collect()
}

fn counter_total(seen: &[Seen], name: &str, labels: &[(&str, &str)]) -> u64 {
    find(seen, name, labels)
        .iter()
        .map(|s| match &s.value {
            DebugValue::Counter(n) => *n,
            other => panic!("{name} is not a counter: {other:?}"),
        })
        .sum()
}

fn histogram_samples(seen: &[Seen], name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    find(seen, name, labels)
        .iter()
        .flat_map(|s| match &s.value {
            DebugValue::Histogram(samples) => {
                samples.iter().map(|v| v.into_inner()).collect::<Vec<f64>>()
            }
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .collect::<Vec<f64>>()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_produce_and_a_group_consume_move_the_client_metrics() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    let client = admin(&bootstrap).await;
    create_topic(&client, TOPIC, 1).await;
    // Creating it again is answered TOPIC_ALREADY_EXISTS: an error code
    // classified by KafkaError::check.
    let again = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
            .with_num_partitions(1)
            .with_replication_factor(1)]);
    let response = client.send(Target::Controller, again).await.unwrap();
    assert!(KafkaError::check(response.topics[0].error_code, None).is_err());

    let producer = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .configure(|c| c.client.client_id = "observed-producer".to_owned())
        .build()
        .unwrap();
    for n in 0..RECORDS {
        let record = ProducerRecord::<Bytes, Bytes>::new(TOPIC, Bytes::from(format!("value {n}")));
        producer.send(record).await.unwrap();
    }
    producer.flush().await.unwrap();

    let mut reader = consumer(&bootstrap, Some("observers"))
        .client_id("observed-consumer")
        .build()
        .unwrap();
    reader.subscribe([TOPIC]).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut read = 0;
    while read < RECORDS {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {read} of {RECORDS} records"
        );
        read += reader.poll(Duration::from_secs(1)).await.unwrap().len();
    }

    let seen: Vec<Seen> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (kind, key) = key.into_parts();
            let (name, labels) = key.into_parts();
            let mut labels: Vec<(String, String)> = labels
                .into_iter()
                .map(|l| {
                    let (k, v) = l.into_parts();
                    (k.to_string(), v.to_string())
                })
                .collect();
            labels.sort();
            Seen {
                kind,
                name: name.as_str().to_owned(),
                labels,
                value,
            }
        })
        .collect();

    // Requests: one latency sample per answered request, per API.
    let producer_id = ("client.id", "observed-producer");
    let consumer_id = ("client.id", "observed-consumer");
    let latency = "durian.client.request_latency_seconds";
    let produce = histogram_samples(&seen, latency, &[producer_id, ("api", "Produce")]);
    assert!(!produce.is_empty(), "no Produce latency recorded");
    assert!(
        produce.iter().all(|s| *s >= 0.0 && *s < 30.0),
        "{produce:?}"
    );
    assert!(!histogram_samples(&seen, latency, &[consumer_id, ("api", "Fetch")]).is_empty());
    assert!(!histogram_samples(&seen, latency, &[consumer_id, ("api", "JoinGroup")]).is_empty());
    assert!(
        find(&seen, latency, &[("broker", bootstrap.as_str())]).len() >= 3,
        "latency is labelled with the broker address"
    );
    assert!(
        counter_total(
            &seen,
            "durian.client.errors",
            &[("code", "TOPIC_ALREADY_EXISTS")]
        ) >= 1
    );

    // Producer: counted per completion round, batch sizes per batch.
    assert_eq!(
        counter_total(&seen, "durian.producer.records_sent", &[producer_id]),
        RECORDS as u64
    );
    let batches = counter_total(&seen, "durian.producer.batches_sent", &[producer_id]);
    assert!(batches >= 1);
    let sizes = histogram_samples(
        &seen,
        "durian.producer.batch_size_bytes",
        &[("topic", TOPIC)],
    );
    assert_eq!(sizes.len() as u64, batches, "one size sample per batch");
    assert_eq!(
        counter_total(&seen, "durian.producer.bytes_sent", &[producer_id]),
        sizes.iter().sum::<f64>() as u64
    );
    assert_eq!(
        counter_total(&seen, "durian.producer.retries", &[producer_id]),
        0
    );

    // Consumer: records and bytes fetched, lag, rebalances.
    let on_topic = [consumer_id, ("topic", TOPIC)];
    assert_eq!(
        counter_total(&seen, "durian.consumer.records_fetched", &on_topic),
        RECORDS as u64
    );
    assert!(counter_total(&seen, "durian.consumer.bytes_fetched", &on_topic) > 0);
    let lag = find(
        &seen,
        "durian.consumer.lag",
        &[consumer_id, ("topic", TOPIC), ("partition", "0")],
    );
    assert_eq!(lag.len(), 1, "one lag gauge per partition");
    assert!(matches!(lag[0].kind, MetricKind::Gauge));
    match &lag[0].value {
        DebugValue::Gauge(value) => assert_eq!(value.into_inner(), 0.0, "all records were read"),
        other => panic!("lag is not a gauge: {other:?}"),
    }
    assert!(
        counter_total(
            &seen,
            "durian.consumer.rebalances",
            &[consumer_id, ("group", "observers")]
        ) >= 1
    );

    reader.close().await.unwrap();
    producer.close(Duration::from_secs(10)).await.unwrap();
    broker.shutdown().await.unwrap();
}
