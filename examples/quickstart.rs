//! The whole SDK in one run, on the embedded broker:
//!
//! ```text
//! Broker::builder().temporary() ─▶ Admin: create `web_log` (3 partitions)
//!      │
//!      ├─▶ Producer (idempotent, acks=all): 100k web access log lines
//!      │
//!      └─▶ Consumer group `quickstart` of 2 members: each reads its
//!          partitions, commits, and reports what it read
//! ```
//!
//! Run it with `cargo run --release --example quickstart`. It exits
//! non-zero unless the group read every produced line exactly once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use durian::admin::{Admin, NewTopic};
use durian::broker::Broker;
use durian::consumer::{Consumer, OffsetReset};
use durian::producer::{Producer, ProducerRecord};

const TOPIC: &str = "web_log";
const PARTITIONS: i32 = 3;
const LINES: usize = 100_000;
const GROUP: &str = "quickstart";

type AnyResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() -> AnyResult<()> {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await?;
    let bootstrap = broker.bootstrap();
    println!("durian broker listening on {bootstrap}");

    let admin = Admin::builder()
        .bootstrap_servers([bootstrap.clone()])
        .connect()
        .await?;
    for (topic, result) in admin
        .create_topics([NewTopic::new(TOPIC, PARTITIONS)])
        .await
    {
        result.map_err(|e| format!("creating {topic}: {e}"))?;
    }
    println!("created topic {TOPIC} with {PARTITIONS} partitions");

    let produce_secs = produce(&bootstrap).await?;
    println!(
        "produced {LINES} lines in {:.2} s ({:.0} records/s)",
        produce_secs,
        LINES as f64 / produce_secs
    );

    let started = Instant::now();
    let read = Arc::new(AtomicUsize::new(0));
    let members: Vec<_> = (0..2)
        .map(|member| tokio::spawn(consume(bootstrap.clone(), member, read.clone())))
        .collect();
    let mut total = 0;
    let mut seen = BTreeMap::new();
    for member in members {
        let report = member.await??;
        println!(
            "member {}: partitions {:?}, read {} records",
            report.member, report.partitions, report.records
        );
        total += report.records;
        for (partition, count) in report.per_partition {
            *seen.entry(partition).or_insert(0) += count;
        }
    }
    let consume_secs = started.elapsed().as_secs_f64();
    println!(
        "group {GROUP} read {total} records in {consume_secs:.2} s ({:.0} records/s, rebalance included)",
        total as f64 / consume_secs
    );
    broker.shutdown().await?;

    if total != LINES || seen.len() != PARTITIONS as usize {
        return Err(format!(
            "expected {LINES} records from {PARTITIONS} partitions, got {total} from {}",
            seen.len()
        )
        .into());
    }
    println!("every line read exactly once");
    Ok(())
}

/// One web access log line; the key (client address) decides the partition.
fn access_line(i: usize) -> (String, String) {
    let client = format!("10.0.{}.{}", (i / 250) % 250, i % 250);
    let line = format!(
        "{client} - - [23/Nov/2026:09:{:02}:{:02} +0000] \"GET /item/{i} HTTP/1.1\" 200 {}",
        (i / 60) % 60,
        i % 60,
        200 + i % 800
    );
    (client, line)
}

async fn produce(bootstrap: &str) -> AnyResult<f64> {
    let producer = Producer::builder()
        .bootstrap_servers([bootstrap.to_string()])
        .build()?;
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(LINES);
    for i in 0..LINES {
        let (client, line) = access_line(i);
        let record = ProducerRecord::new(TOPIC, line.into_bytes()).with_key(client.into_bytes());
        deliveries.push(producer.send(record).await?);
    }
    for delivery in deliveries {
        delivery.await?;
    }
    producer.close(Duration::from_secs(30)).await?;
    Ok(started.elapsed().as_secs_f64())
}

struct MemberReport {
    member: usize,
    partitions: Vec<i32>,
    records: usize,
    per_partition: BTreeMap<i32, usize>,
}

/// Polls until the whole group has read every line, then commits and
/// leaves. `read` is shared by the members so each knows when to stop.
async fn consume(
    bootstrap: String,
    member: usize,
    read: Arc<AtomicUsize>,
) -> AnyResult<MemberReport> {
    let mut consumer = Consumer::builder()
        .bootstrap_servers([bootstrap])
        .group_id(GROUP)
        .auto_offset_reset(OffsetReset::Earliest)
        .build()?;
    consumer.subscribe([TOPIC])?;
    let mut per_partition = BTreeMap::new();
    let mut records = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while read.load(Ordering::SeqCst) < LINES {
        if Instant::now() > deadline {
            return Err(format!("member {member}: timed out with {records} records").into());
        }
        let batch = consumer.poll(Duration::from_millis(200)).await?;
        for (tp, partition_records) in &batch.records {
            *per_partition.entry(tp.partition).or_insert(0) += partition_records.len();
            records += partition_records.len();
            read.fetch_add(partition_records.len(), Ordering::SeqCst);
        }
    }
    let partitions = consumer
        .assignment()
        .into_iter()
        .map(|tp| tp.partition)
        .collect();
    consumer.commit().await?;
    consumer.close().await?;
    Ok(MemberReport {
        member,
        partitions,
        records,
        per_partition,
    })
}
