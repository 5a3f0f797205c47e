//! A durian group reads what librdkafka clients wrote, and librdkafka
//! reads what durian committed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use durian_consumer::{Consumer, ConsumerRecord, OffsetAndMetadata, TopicPartition};
use tokio::time::Instant;

use crate::common::peers::{rdkafka_tool, run};
use crate::common::*;
use durian_testkit::{confluent_python as python, kcat};

/// librdkafka's codec names, in the order the tests use them.
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Joins `group` on `topic` and polls until `expected` records are in,
/// then a little longer so duplicates would show. Returns the consumer
/// (still in the group) and the records per partition, in poll order.
async fn read_as_group(
    bootstrap: &str,
    group: &str,
    topic: &str,
    expected: usize,
) -> (Consumer, BTreeMap<i32, Vec<ConsumerRecord>>) {
    let mut consumer = consumer(bootstrap, Some(group))
        .enable_auto_commit(false)
        .build()
        .unwrap();
    consumer.subscribe([topic]).unwrap();
    let mut records: BTreeMap<i32, Vec<ConsumerRecord>> = BTreeMap::new();
    let mut total = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut settle_until = None;
    loop {
        let now = Instant::now();
        if settle_until.is_some_and(|until| now >= until) {
            break;
        }
        assert!(now < deadline, "only {total} of {expected} records read");
        let batch = consumer.poll(Duration::from_millis(200)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        for record in batch {
            total += 1;
            records.entry(record.partition).or_default().push(record);
        }
        if total >= expected && settle_until.is_none() {
            settle_until = Some(Instant::now() + Duration::from_millis(500));
        }
    }
    assert_eq!(total, expected, "records read once each");
    (consumer, records)
}

fn header_pairs(record: &ConsumerRecord) -> Vec<(String, Option<String>)> {
    record
        .headers
        .iter()
        .map(|h| {
            (
                String::from_utf8_lossy(&h.key).into_owned(),
                h.value
                    .as_ref()
                    .map(|v| String::from_utf8_lossy(v).into_owned()),
            )
        })
        .collect()
}

fn text(bytes: &Option<Bytes>) -> Option<String> {
    bytes
        .as_ref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durian_group_reads_what_kcat_produced_with_every_codec() {
    let Some(kcat) = kcat() else { return };
    const PER_CODEC: usize = 2_000;
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    let admin = admin(&bootstrap).await;
    let topic = "from-kcat";
    create_topic(&admin, topic, CODECS.len() as i32).await;
    let started = now_ms();
    // One partition per codec: kcat -z compresses every batch of its run.
    for (partition, codec) in CODECS.iter().enumerate() {
        let lines: String = (0..PER_CODEC)
            .map(|n| format!("k{n}:{codec}-{n}\n"))
            .collect();
        let partition = partition.to_string();
        let codec_header = format!("codec={codec}");
        let args = [
            "-b",
            &bootstrap,
            "-t",
            topic,
            "-P",
            "-p",
            &partition,
            "-z",
            codec,
            "-K",
            ":",
            "-H",
            &codec_header,
            "-H",
            "n=again",
        ];
        run(&kcat, &args, lines.as_bytes()).await;
    }
    let finished = now_ms();
    let (consumer, records) =
        read_as_group(&bootstrap, "kcat-readers", topic, CODECS.len() * PER_CODEC).await;
    for (partition, codec) in CODECS.iter().enumerate() {
        let got = &records[&(partition as i32)];
        assert_eq!(got.len(), PER_CODEC, "{codec}");
        for (n, record) in got.iter().enumerate() {
            assert_eq!(record.offset, n as i64, "{codec}");
            assert_eq!(text(&record.key), Some(format!("k{n}")));
            assert_eq!(text(&record.value), Some(format!("{codec}-{n}")));
            assert_eq!(
                header_pairs(record),
                [
                    ("codec".to_owned(), Some(codec.to_string())),
                    ("n".to_owned(), Some("again".to_owned()))
                ]
            );
            // kcat stamps CreateTime when it produces.
            assert!(
                (started - 1_000..=finished + 1_000).contains(&record.timestamp),
                "{codec} #{n}: timestamp {} outside the run [{started}, {finished}]",
                record.timestamp
            );
        }
    }
    consumer.close().await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durian_group_reads_what_confluent_kafka_produced_with_every_codec() {
    let Some(python) = python() else { return };
    const PER_CODEC: usize = 1_000;
    const PARTITIONS: usize = 4;
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    let admin = admin(&bootstrap).await;
    let topic = "from-confluent";
    create_topic(&admin, topic, PARTITIONS as i32).await;
    let count = PER_CODEC.to_string();
    let partitions = PARTITIONS.to_string();
    for codec in CODECS {
        let args = ["produce", &bootstrap, topic, codec, &count, &partitions];
        let done = rdkafka_tool(&python, &args).await;
        assert_eq!(done["produced"], PER_CODEC);
    }
    let (consumer, records) = read_as_group(
        &bootstrap,
        "confluent-readers",
        topic,
        CODECS.len() * PER_CODEC,
    )
    .await;
    for partition in 0..PARTITIONS {
        // Each run wrote record i to partition i % PARTITIONS, runs in codec order.
        let expected: Vec<(&str, usize)> = CODECS
            .iter()
            .flat_map(|codec| {
                (0..PER_CODEC)
                    .filter(|i| i % PARTITIONS == partition)
                    .map(move |i| (*codec, i))
            })
            .collect();
        let got = &records[&(partition as i32)];
        assert_eq!(got.len(), expected.len());
        for (offset, (record, (codec, i))) in got.iter().zip(expected).enumerate() {
            assert_eq!(record.offset, offset as i64);
            assert_eq!(text(&record.value), Some(format!("{codec}-{i}")));
            let key = (i % 7 != 0).then(|| format!("k{i}"));
            assert_eq!(text(&record.key), key, "{codec}-{i}");
            assert_eq!(record.timestamp, 1_700_000_000_000 + i as i64);
            assert_eq!(
                header_pairs(record),
                [
                    ("n".to_owned(), Some(i.to_string())),
                    ("n".to_owned(), Some("again".to_owned())),
                    ("nil".to_owned(), None),
                ],
                "{codec}-{i}: repeated keys and null values kept"
            );
        }
    }
    consumer.close().await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_committed_by_durian_are_what_confluent_kafka_reads() {
    let Some(python) = python() else { return };
    const PARTITIONS: i32 = 3;
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    let admin = admin(&bootstrap).await;
    let topic = "committed";
    create_topic(&admin, topic, PARTITIONS).await;
    produce_all(&admin, topic, PARTITIONS, 100).await;
    let group = "durian-commits";
    let (mut consumer, _) = read_as_group(&bootstrap, group, topic, 300).await;
    // Positions after everything read, then an explicit offset with metadata.
    consumer.commit().await.unwrap();
    let first = TopicPartition::new(topic, 0);
    let mut explicit = OffsetAndMetadata::new(42);
    explicit.metadata = Some("set by durian".to_owned());
    consumer
        .commit_offsets(BTreeMap::from([(first, explicit)]))
        .await
        .unwrap();

    let partitions: BTreeSet<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    let durian_view = consumer.committed(&partitions).await.unwrap();
    let answer = rdkafka_tool(
        &python,
        &[
            "committed",
            &bootstrap,
            group,
            topic,
            &PARTITIONS.to_string(),
        ],
    )
    .await;
    let confluent_view: BTreeMap<i32, (i64, Option<String>)> = answer["committed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let metadata = row[2].as_str().filter(|m| !m.is_empty()).map(str::to_owned);
            (
                row[0].as_i64().unwrap() as i32,
                (row[1].as_i64().unwrap(), metadata),
            )
        })
        .collect();
    let durian_view: BTreeMap<i32, (i64, Option<String>)> = durian_view
        .into_iter()
        .map(|(tp, committed)| {
            let committed = committed.expect("durian committed every partition");
            let metadata = committed.metadata.filter(|m| !m.is_empty());
            (tp.partition, (committed.offset, metadata))
        })
        .collect();
    assert_eq!(confluent_view, durian_view);
    assert_eq!(
        confluent_view[&0],
        (42, Some("set by durian".to_owned())),
        "the explicit commit replaced the position"
    );
    assert_eq!(confluent_view[&1].0, 100);
    assert_eq!(confluent_view[&2].0, 100);
    consumer.close().await.unwrap();
    broker.shutdown().await.unwrap();
}
