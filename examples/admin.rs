//! A tour of the admin client on the embedded broker: create a topic,
//! describe it, change a config, look up offsets, see a group's lag, and
//! delete the topic.
//!
//! Every call on several items returns one `Result` per item, so one bad
//! topic or partition never hides the answers for the others.
//!
//! Run it with `cargo run --example admin`.

use std::time::Duration;

use durian::admin::{
    all_ok, Admin, AlterConfigOp, ConfigResource, ConfigSource, NewTopic, OffsetSpec,
    TopicPartition,
};
use durian::broker::Broker;
use durian::producer::{Producer, ProducerRecord};

const TOPIC: &str = "inventory";
const PARTITIONS: i32 = 3;
const GROUP: &str = "stock-report";

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
    let admin = Admin::builder()
        .bootstrap_servers([broker.bootstrap()])
        .connect()
        .await?;

    let cluster = admin.describe_cluster().await?;
    println!(
        "cluster {:?}: {} broker(s), controller {:?}",
        cluster.cluster_id.unwrap_or_default(),
        cluster.brokers.len(),
        cluster.controller_id
    );

    // Create: a topic with one config override. A second, invalid topic in
    // the same call fails alone.
    let created = admin
        .create_topics([
            NewTopic::new(TOPIC, PARTITIONS).config("retention.ms", "86400000"),
            NewTopic::new("bad/name", 1),
        ])
        .await;
    for (topic, result) in &created {
        match result {
            Ok(topic_created) => println!("created {topic} (id {})", topic_created.topic_id),
            Err(error) => println!("could not create {topic}: {error}"),
        }
    }
    if created.get(TOPIC).is_none_or(Result::is_err) {
        return Err(format!("{TOPIC} was not created").into());
    }

    // Describe: partitions with their leaders and replicas.
    for (_, description) in all_ok(admin.describe_topics([TOPIC]).await)? {
        for partition in description.partitions {
            println!(
                "  partition {}: leader {:?}, replicas {:?}",
                partition.partition, partition.leader, partition.replicas
            );
        }
    }

    // Alter a config incrementally (other settings keep their values), then
    // read back the settings the topic overrides.
    let resource = ConfigResource::topic(TOPIC);
    let change = AlterConfigOp::Set("retention.ms".into(), "3600000".into());
    all_ok(
        admin
            .incremental_alter_configs([(resource.clone(), vec![change])])
            .await,
    )?;
    for (_, entries) in all_ok(admin.describe_configs([resource]).await)? {
        for entry in entries
            .iter()
            .filter(|e| e.source == ConfigSource::TopicOverride)
        {
            println!("  override {} = {:?}", entry.name, entry.value);
        }
    }

    // Some records, so offsets have something to show.
    let producer = Producer::builder()
        .bootstrap_servers([broker.bootstrap()])
        .build()?;
    for item in 0..30 {
        let record = ProducerRecord::new(TOPIC, format!("item {item}: 5 in stock").into_bytes())
            .with_partition(item % PARTITIONS);
        producer.send(record).await?;
    }
    producer.close(Duration::from_secs(10)).await?;

    let partitions: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(TOPIC, p))
        .collect();
    let earliest = all_ok(
        admin
            .list_offsets(
                partitions
                    .iter()
                    .map(|tp| (tp.clone(), OffsetSpec::Earliest)),
            )
            .await,
    )?;
    let latest = all_ok(
        admin
            .list_offsets(partitions.iter().map(|tp| (tp.clone(), OffsetSpec::Latest)))
            .await,
    )?;
    for tp in &partitions {
        println!(
            "  {tp}: offsets {:?} .. {:?}",
            earliest.get(tp).and_then(|o| o.offset),
            latest.get(tp).and_then(|o| o.offset)
        );
    }

    // Group offsets: commit positions for a group that has no running
    // members (as `kafka-consumer-groups --reset-offsets` would), then ask
    // for its lag.
    let positions = partitions.iter().map(|tp| (tp.clone(), 4));
    all_ok(admin.alter_group_offsets(GROUP, positions).await)?;
    let mut total_lag = 0;
    for (tp, lag) in all_ok(admin.list_group_offsets(GROUP, None).await?)? {
        println!(
            "  group {GROUP} on {tp}: committed {:?}, end {:?}, lag {:?}",
            lag.committed, lag.end_offset, lag.lag
        );
        total_lag += lag.lag.unwrap_or(0);
    }
    println!("group {GROUP} lags {total_lag} records behind");

    all_ok(admin.delete_groups([GROUP]).await)?;
    all_ok(admin.delete_topics([TOPIC]).await)?;
    let left = admin.list_topics().await?;
    println!(
        "deleted {TOPIC} and the group; topics left: {:?}",
        left.iter().map(|t| &t.name).collect::<Vec<_>>()
    );
    broker.shutdown().await?;

    // 30 records, 4 committed in each of 3 partitions.
    if total_lag != 30 - 4 * i64::from(PARTITIONS) || left.iter().any(|t| t.name == TOPIC) {
        return Err(format!("unexpected lag {total_lag} or topic not deleted").into());
    }
    Ok(())
}
