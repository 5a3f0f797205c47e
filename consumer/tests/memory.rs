//! Bounded prefetch: memory stays flat while a consumer reads a large
//! topic (the acceptance figure is 1 GiB).
//!
//! Ignored by default: it writes 1 GiB to a temporary directory and takes
//! about 30 s in a debug build on two cores (15 s in release, which is not
//! worth a release build of its own). CI runs it as
//!
//! ```text
//! cargo test -p durian-consumer --test memory -- --ignored --nocapture
//! ```
//!
//! `DURIAN_MEMORY_TEST_MIB` changes the topic size (default 1024 MiB).
//! The application sleeps a little after every poll so that it reads more
//! slowly than the fetcher could fetch: a fetcher that did not stop at its
//! bound would pile data up (checked: letting cursors fetch again while
//! records are still buffered makes this test fail with hundreds of MiB).
//!
//! The broker runs in this process, so the measured memory includes its
//! fetch path too. Growth is taken from the anonymous resident memory
//! (`RssAnon` in /proc/self/status: the heap, not the page cache of the
//! log segments) sampled after every poll, against a baseline taken after
//! the topic was written. What it must stay under is the bound
//! docs/CONSUMER.md states for prefetched data plus a constant for
//! everything else.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use durian_consumer::TopicPartition;
use durian_core::record::{BatchWriter, NO_HEADERS};
use durian_core::{Client, KafkaError, Target};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

const TOPIC: &str = "large";
const PARTITIONS: i32 = 6;
const VALUE_BYTES: usize = 1_000;
const RECORDS_PER_BATCH: usize = 500;
/// How long the application "works" on each poll's records: slower than
/// the fetcher (500 records of 1 kB per 5 ms is about 100 MB/s), so a
/// fetcher that prefetched more than its bound would pile data up.
const WORK_PER_POLL: Duration = Duration::from_millis(5);
/// Memory besides prefetched data: the poll batch in the application's
/// hands, the broker's read of one fetch, allocator slack, runtime.
const CONSTANT_ALLOWANCE: u64 = 64 << 20;

/// A field of /proc/self/status in bytes (e.g. `RssAnon`, `VmRSS`).
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .map(|kb| kb.trim().parse::<u64>().unwrap() * 1024)
        .unwrap_or_else(|| panic!("{field} not in /proc/self/status"))
}

fn value(partition: i32, n: usize) -> Vec<u8> {
    let mut value = format!("{partition}:{n:012}:").into_bytes();
    value.resize(VALUE_BYTES, b'.');
    value
}

/// Writes `per_partition` records to every partition with raw Produce
/// requests of 8 batches each.
async fn produce_topic(client: &Client, per_partition: usize) {
    let leader = client.partition_leader(TOPIC, 0).unwrap().node_id;
    for partition in 0..PARTITIONS {
        let mut next = 0;
        while next < per_partition {
            let mut batches = Vec::new();
            for _ in 0..8 {
                let end = (next + RECORDS_PER_BATCH).min(per_partition);
                if next == end {
                    break;
                }
                let mut writer = BatchWriter::builder().size_limit(usize::MAX).build();
                for n in next..end {
                    let value = value(partition, n);
                    writer
                        .try_append(1_700_000_000_000, None, Some(&value), NO_HEADERS)
                        .unwrap();
                }
                batches.push(writer.finish().unwrap());
                next = end;
            }
            let records: Bytes = batches.concat().into();
            let request = ProduceRequest::default()
                .with_acks(1)
                .with_timeout_ms(30_000)
                .with_topic_data(vec![TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_static_str(TOPIC)))
                    .with_partition_data(vec![PartitionProduceData::default()
                        .with_index(partition)
                        .with_records(Some(records))])]);
            let response = client.send(Target::Broker(leader), request).await.unwrap();
            let code = response.responses[0].partition_responses[0].error_code;
            KafkaError::check(code, None).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes 1 GiB to disk (~30 s): CI runs it with -- --ignored"]
async fn memory_stays_flat_while_consuming_a_large_topic() {
    consume_large_topic(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes 1 GiB to disk (~30 s): CI runs it with -- --ignored"]
async fn memory_stays_flat_without_fetch_ahead() {
    consume_large_topic(false).await;
}

/// Reads the large topic with fetch-ahead on (the default) or off
/// (`durian.fetch.buffer.bytes=0`), checking the bound docs/CONSUMER.md
/// states for each.
async fn consume_large_topic(fetch_ahead: bool) {
    let mib: usize = std::env::var("DURIAN_MEMORY_TEST_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let per_partition = (mib << 20) / VALUE_BYTES / PARTITIONS as usize;
    let total = per_partition * PARTITIONS as usize;
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    let admin = admin(&bootstrap).await;
    create_topic(&admin, TOPIC, PARTITIONS).await;
    let started = Instant::now();
    produce_topic(&admin, per_partition).await;
    let produced_in = started.elapsed();

    let mut builder = consumer(&bootstrap, None);
    if !fetch_ahead {
        builder = builder.fetch_buffer_bytes(0);
    }
    let mut consumer = builder.build().unwrap();
    let config = consumer.config().clone();
    // What docs/CONSUMER.md bounds prefetched data by, for one broker:
    // without fetch-ahead every partition keeps at most one response
    // alive (with it, at most two), and a response is at most
    // min(fetch.max.bytes, partitions × max.partition.fetch.bytes).
    let responses_each = if fetch_ahead { 2 } else { 1 };
    let response_cap = (config.fetch_max_bytes as u64)
        .min(PARTITIONS as u64 * config.max_partition_fetch_bytes as u64);
    let prefetch_cap = responses_each * PARTITIONS as u64 * response_cap;
    let buffered_cap =
        responses_each as usize * PARTITIONS as usize * config.max_partition_fetch_bytes as usize;
    consumer
        .assign((0..PARTITIONS).map(|p| TopicPartition::new(TOPIC, p)))
        .unwrap();

    let baseline = status_bytes("RssAnon");
    let baseline_total = status_bytes("VmRSS");
    let (mut peak, mut peak_total, mut peak_buffered) = (baseline, baseline_total, 0);
    let mut next = vec![0i64; PARTITIONS as usize];
    let mut read = 0;
    let consuming = Instant::now();
    while read < total {
        assert!(
            consuming.elapsed() < Duration::from_secs(600),
            "only {read} of {total} records in 10 minutes"
        );
        let batch = consumer.poll(Duration::from_secs(5)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        peak_buffered = peak_buffered.max(consumer.metrics().buffered_bytes);
        for record in batch {
            let partition = record.partition as usize;
            assert_eq!(record.offset, next[partition], "partition {partition}");
            next[partition] += 1;
            read += 1;
        }
        peak = peak.max(status_bytes("RssAnon"));
        peak_total = peak_total.max(status_bytes("VmRSS"));
        tokio::time::sleep(WORK_PER_POLL).await;
    }
    let consumed_in = consuming.elapsed();
    assert!(next.iter().all(|n| *n == per_partition as i64), "{next:?}");
    let growth = peak - baseline;
    eprintln!(
        "memory test: {mib} MiB ({total} records) produced in {produced_in:?}, consumed in \
         {consumed_in:?}; RssAnon {} MiB -> peak {} MiB (growth {} MiB); VmRSS peak {} MiB; \
         peak buffered {} KiB; bound {} MiB + {} MiB",
        baseline >> 20,
        peak >> 20,
        growth >> 20,
        peak_total >> 20,
        peak_buffered >> 10,
        prefetch_cap >> 20,
        CONSTANT_ALLOWANCE >> 20
    );
    assert!(
        peak_buffered <= buffered_cap,
        "buffered {peak_buffered} bytes, more than {responses_each} × partitions × max.partition.fetch.bytes = {buffered_cap}"
    );
    assert!(
        growth <= prefetch_cap + CONSTANT_ALLOWANCE,
        "anonymous memory grew by {} MiB while consuming, more than the prefetch bound \
         {} MiB + {} MiB",
        growth >> 20,
        prefetch_cap >> 20,
        CONSTANT_ALLOWANCE >> 20
    );
    consumer.close().await.unwrap();
    broker.shutdown().await.unwrap();
}
