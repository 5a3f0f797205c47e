//! Broker limits: batches too large for the topic are split (and a record
//! too large on its own fails alone, naming the limit), batches larger
//! than a segment fail whole naming the settings, and throttled responses
//! (KIP-219) pause the producer's requests to that broker. Against a
//! scripted broker that checks sequence numbers, and against durian's
//! broker with a small `max.message.bytes` or `segment.bytes`.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::scripted_broker::{Rules, ScriptedBroker};
use common::{admin_client, create_topic, read_partition};
use durian_broker::{Broker, LogConfig};
use durian_producer::{Producer, ProducerError, ProducerRecord};
use futures::future::join_all;

/// A 100-byte value numbered `n`.
fn value(n: usize) -> Bytes {
    Bytes::from(format!("{n:08}{}", "x".repeat(92)))
}

/// A producer that fills 16 KiB batches before sending them.
fn batching_producer(bootstrap: String) -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .linger(Duration::from_millis(50))
        .configure(|c| {
            c.client.retry_backoff = Duration::from_millis(10);
            c.client.retry_backoff_max = Duration::from_millis(50);
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn batches_too_large_for_the_topic_are_split_keeping_order_and_sequences() {
    // 16 KiB batches against a 2,000-byte limit: every batch is split
    // several times; the broker checks that sequences stay contiguous.
    let broker = ScriptedBroker::with_rules(
        vec![],
        Rules {
            max_batch_bytes: Some(2_000),
            check_sequences: true,
            ..Rules::default()
        },
    )
    .await;
    let producer = batching_producer(broker.bootstrap());
    let mut deliveries = Vec::new();
    for n in 0..1_000 {
        let record = ProducerRecord::new("scripted", value(n)).with_partition(0);
        deliveries.push(producer.send(record).await.unwrap());
    }
    for (n, result) in join_all(deliveries).await.into_iter().enumerate() {
        assert_eq!(result.unwrap().offset, n as i64, "record {n}");
    }
    let written = broker.written();
    assert_eq!(written.len(), 1_000, "each record written once");
    assert!(written.iter().enumerate().all(|(n, v)| *v == value(n)));
    let metrics = producer.metrics();
    assert!(metrics.batches_split > 0, "{metrics:?}");
    assert_eq!((metrics.errors, metrics.epoch_bumps), (0, 0));
    assert_eq!(broker.init_calls().len(), 1, "no epoch bump was needed");
    assert!(broker.seen().iter().any(|b| b.bytes > 2_000));
    producer.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn a_record_too_large_on_its_own_fails_alone_with_the_limit() {
    let broker = ScriptedBroker::with_rules(
        vec![],
        Rules {
            max_batch_bytes: Some(2_000),
            check_sequences: true,
            ..Rules::default()
        },
    )
    .await;
    let producer = batching_producer(broker.bootstrap());
    let mut deliveries = Vec::new();
    for n in 0..100 {
        let value = if n == 50 {
            Bytes::from(vec![b'!'; 3_000])
        } else {
            value(n)
        };
        let record = ProducerRecord::new("scripted", value).with_partition(0);
        deliveries.push(producer.send(record).await.unwrap());
    }
    let results = join_all(deliveries).await;
    for (n, result) in results.iter().enumerate() {
        if n == 50 {
            let error = result.as_ref().unwrap_err();
            assert!(
                matches!(error, ProducerError::TooLargeForTopic { records: 1, .. }),
                "{error:?}"
            );
            let text = error.to_string();
            assert!(text.contains("max.message.bytes = 2000"), "{text}");
        } else {
            result.as_ref().unwrap();
        }
    }
    let expected: Vec<Bytes> = (0..100).filter(|n| *n != 50).map(value).collect();
    assert_eq!(
        broker.written(),
        expected,
        "the others written once, in order"
    );
    producer.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn a_throttled_response_pauses_requests_to_that_broker() {
    let throttle = Duration::from_millis(800);
    let broker = ScriptedBroker::with_rules(
        vec![],
        Rules {
            throttle_ms: vec![800],
            ..Rules::default()
        },
    )
    .await;
    let producer = broker.producer();
    let record = |n: usize| ProducerRecord::new("scripted", value(n)).with_partition(0);
    producer.send_and_wait(record(0)).await.unwrap();
    producer.send_and_wait(record(1)).await.unwrap();
    producer.send_and_wait(record(2)).await.unwrap();
    let timings = broker.timings();
    assert_eq!(timings.len(), 3);
    let paused = timings[1].received - timings[0].answered;
    assert!(paused >= throttle, "next request after {paused:?}");
    let metrics = producer.metrics();
    assert_eq!(
        (metrics.throttled_responses, metrics.throttle_time_ms),
        (1, 800)
    );
    producer.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn durian_broker_max_message_bytes_splits_batches_and_rejects_a_huge_record() {
    let broker = Broker::builder()
        .listen("127.0.0.1:0")
        .auto_create_topics(false)
        .temporary()
        .message_max_bytes(2_000)
        .start()
        .await
        .unwrap();
    let admin = admin_client(&broker.bootstrap());
    create_topic(&admin, "small-batches", 2).await;
    let producer = batching_producer(broker.bootstrap());
    let mut deliveries = Vec::new();
    for n in 0..2_000 {
        let partition = (n % 2) as i32;
        let value = if n == 1_001 {
            Bytes::from(vec![b'!'; 5_000])
        } else {
            value(n)
        };
        let record = ProducerRecord::new("small-batches", value).with_partition(partition);
        deliveries.push(producer.send(record).await.unwrap());
    }
    let mut next = [0i64; 2];
    for (n, result) in join_all(deliveries).await.into_iter().enumerate() {
        if n == 1_001 {
            let error = result.unwrap_err();
            assert!(
                error.to_string().contains("max.message.bytes = 2000"),
                "{error}"
            );
            continue;
        }
        let written = result.unwrap();
        assert_eq!(written.offset, next[n % 2], "record {n}");
        next[n % 2] += 1;
    }
    assert!(producer.metrics().batches_split > 0);
    producer.close(Duration::from_secs(5)).await.unwrap();
    for partition in 0..2 {
        let expected: Vec<Bytes> = (0..2_000)
            .filter(|n| n % 2 == partition && *n != 1_001)
            .map(value)
            .collect();
        let records =
            read_partition(&admin, "small-batches", partition as i32, expected.len()).await;
        let values: Vec<Bytes> = records.into_iter().map(|r| r.value.unwrap()).collect();
        assert_eq!(values, expected, "partition {partition} in send order");
    }
    broker.shutdown().await.unwrap();
}

/// A batch larger than the topic's `segment.bytes` is refused by the broker
/// (RECORD_LIST_TOO_LARGE, as Kafka's) and, as in the Java client, neither
/// retried nor split: its records fail with an error naming the topic, the
/// batch size and the settings to change. Nothing of it is written, and a
/// `batch.size` below the segment then goes through.
#[tokio::test]
async fn batches_larger_than_a_segment_fail_naming_batch_size_and_segment_bytes() {
    let broker = Broker::builder()
        .listen("127.0.0.1:0")
        .auto_create_topics(false)
        .temporary()
        // Below Kafka's 1 MiB topic minimum, as its internal.segment.bytes.
        .log_config(LogConfig {
            segment_bytes: 4_096,
            ..LogConfig::default()
        })
        .start()
        .await
        .unwrap();
    let admin = admin_client(&broker.bootstrap());
    create_topic(&admin, "small-segments", 1).await;
    // A linger no test outlasts: the batches go out at the flush, as full
    // as batch.size lets them be, whatever the machine's speed.
    let producer_with = |batch_size: usize| {
        Producer::builder()
            .bootstrap_servers([broker.bootstrap()])
            .linger(Duration::from_secs(60))
            .batch_size(batch_size)
            .build()
            .unwrap()
    };
    let send_all = async |producer: &Producer| {
        let mut deliveries = Vec::new();
        for n in 0..100 {
            let record = ProducerRecord::new("small-segments", value(n)).with_partition(0);
            deliveries.push(producer.send(record).await.unwrap());
        }
        producer.flush().await.unwrap();
        join_all(deliveries).await
    };

    // 100 records of 100 bytes under a 16 KiB batch.size: one ~11 KB batch.
    let producer = producer_with(16 * 1024);
    for result in send_all(&producer).await {
        let error = result.unwrap_err();
        assert!(
            matches!(error, ProducerError::BatchLargerThanSegment { records, batch_bytes, .. }
                if records > 1 && batch_bytes > 4_096),
            "{error:?}"
        );
        let text = error.to_string();
        for part in ["small-segments-0", "segment.bytes = 4096", "batch.size"] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
    }
    assert_eq!(producer.metrics().retries, 0, "not retried");
    producer.close(Duration::from_secs(5)).await.unwrap();

    let smaller = producer_with(2_048);
    for (n, result) in send_all(&smaller).await.into_iter().enumerate() {
        assert_eq!(
            result.unwrap().offset,
            n as i64,
            "record {n}: nothing before it"
        );
    }
    smaller.close(Duration::from_secs(5)).await.unwrap();
    broker.shutdown().await.unwrap();
}
