//! A consumer group of two members with manual commits and a rebalance
//! listener, on the embedded broker.
//!
//! ```text
//! wave 1 (120 records) ─▶ member A alone owns all 4 partitions, commits after each batch
//!                         member B joins ─▶ rebalance: A's listener commits, then the
//!                         partitions are split between A and B
//! wave 2 (120 records) ─▶ both members read their share; together every record once
//! ```
//!
//! Run it with `cargo run --example consumer_group`. It exits non-zero
//! unless the group read all 240 records exactly once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use durian::admin::{Admin, NewTopic};
use durian::broker::Broker;
use durian::consumer::{Consumer, OffsetReset, RebalanceListener, TopicPartition};
use durian::producer::{Producer, ProducerRecord};

const TOPIC: &str = "orders";
const GROUP: &str = "order-handlers";
const PARTITIONS: i32 = 4;
const WAVE: usize = 120;

/// The error type of the examples: anything printable.
pub type AnyResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() -> AnyResult<()> {
    run().await
}

/// The whole example; `tests/examples.rs` runs it too.
pub async fn run() -> AnyResult<()> {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await?;
    let bootstrap = broker.bootstrap();
    println!("broker on {bootstrap}");
    let admin = Admin::builder()
        .bootstrap_servers([bootstrap.clone()])
        .connect()
        .await?;
    durian::admin::all_ok(
        admin
            .create_topics([NewTopic::new(TOPIC, PARTITIONS)])
            .await,
    )?;
    let producer = Producer::builder()
        .bootstrap_servers([bootstrap.clone()])
        .build()?;

    let read = Arc::new(AtomicUsize::new(0));
    let b_assigned = Arc::new(AtomicUsize::new(0));
    produce_wave(&producer, 0).await?;
    println!("wave 1: produced {WAVE} orders");

    let a = tokio::spawn(member("A", bootstrap.clone(), read.clone(), Arc::default()));
    wait_until("member A reads wave 1", || {
        read.load(Ordering::SeqCst) >= WAVE
    })
    .await?;

    let b = tokio::spawn(member(
        "B",
        bootstrap.clone(),
        read.clone(),
        b_assigned.clone(),
    ));
    wait_until("member B gets partitions", || {
        b_assigned.load(Ordering::SeqCst) > 0
    })
    .await?;

    produce_wave(&producer, WAVE).await?;
    println!("wave 2: produced {WAVE} more orders");
    producer.close(Duration::from_secs(10)).await?;

    let (a_read, b_read) = (a.await??, b.await??);
    println!("member A read {a_read}, member B read {b_read}");
    let committed = admin.list_group_offsets(GROUP, None).await?;
    let committed_total: i64 = committed
        .values()
        .filter_map(|lag| lag.as_ref().ok().and_then(|l| l.committed))
        .sum();
    println!("the group's committed offsets add up to {committed_total}");
    broker.shutdown().await?;

    if a_read + b_read != 2 * WAVE || committed_total != (2 * WAVE) as i64 {
        return Err(format!("expected {} records read and committed once", 2 * WAVE).into());
    }
    Ok(())
}

/// Commits what this member has processed before its partitions move to
/// another member, so the new owner starts right after it.
struct CommitOnRevoke {
    member: &'static str,
    assigned: Arc<AtomicUsize>,
}

#[async_trait]
impl RebalanceListener for CommitOnRevoke {
    async fn on_partitions_revoked(
        &mut self,
        consumer: &mut Consumer,
        partitions: &[TopicPartition],
    ) {
        let outcome = match consumer.commit().await {
            Ok(()) => "committed".to_owned(),
            Err(e) => format!("commit failed: {e}"),
        };
        println!(
            "member {}: revoked {}, {outcome}",
            self.member,
            names(partitions)
        );
    }

    async fn on_partitions_assigned(&mut self, _: &mut Consumer, partitions: &[TopicPartition]) {
        println!("member {}: assigned {}", self.member, names(partitions));
        self.assigned.fetch_add(partitions.len(), Ordering::SeqCst);
    }
}

/// One member: polls, "handles" each order, commits after every batch,
/// and stops once the group as a whole has read both waves.
async fn member(
    name: &'static str,
    bootstrap: String,
    read: Arc<AtomicUsize>,
    assigned: Arc<AtomicUsize>,
) -> AnyResult<usize> {
    let mut consumer = Consumer::builder()
        .bootstrap_servers([bootstrap])
        .group_id(GROUP)
        .auto_offset_reset(OffsetReset::Earliest)
        // Commits happen below, after the records are handled, never before.
        .enable_auto_commit(false)
        .rebalance_listener(CommitOnRevoke {
            member: name,
            assigned,
        })
        .build()?;
    consumer.subscribe([TOPIC])?;
    let mut mine = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while read.load(Ordering::SeqCst) < 2 * WAVE {
        if Instant::now() > deadline {
            return Err(format!("member {name} timed out after {mine} records").into());
        }
        let batch = consumer.poll(Duration::from_millis(100)).await?;
        if batch.is_empty() {
            continue;
        }
        mine += batch.len();
        read.fetch_add(batch.len(), Ordering::SeqCst);
        consumer.commit().await?;
    }
    // Leaving triggers one last revocation; the listener commits again.
    consumer.close().await?;
    Ok(mine)
}

async fn produce_wave(producer: &Producer, first: usize) -> AnyResult<()> {
    for order in first..first + WAVE {
        let record = ProducerRecord::new(TOPIC, format!("order #{order}").into_bytes())
            .with_key(format!("customer-{}", order % 17).into_bytes());
        producer.send(record).await?;
    }
    producer.flush().await?;
    Ok(())
}

async fn wait_until(what: &str, done: impl Fn() -> bool) -> AnyResult<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting until {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

fn names(partitions: &[TopicPartition]) -> String {
    let numbers: Vec<String> = partitions.iter().map(|p| p.partition.to_string()).collect();
    format!("partitions [{}]", numbers.join(", "))
}
