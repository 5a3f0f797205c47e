//! The smallest end-to-end run of durian: start the embedded broker in a
//! temporary directory, create a topic, write record batches with the
//! core's batch writer, send them with raw Produce requests through the
//! client core, and read them back with Fetch.
//!
//! ```text
//! BatchWriter ──▶ ProduceRequest ──▶ Client ──▶ durian broker ──▶ segment files
//!                                                     │
//! decode_records ◀── FetchResponse ◀── Client ◀───────┘
//! ```
//!
//! Run it with `cargo run --release --example embedded_demo`. It exits
//! non-zero if any record is not read back exactly as written.

use std::time::Instant;

use bytes::Bytes;
use durian::broker::Broker;
use durian::core::record::{decode_records, BatchWriter, BytesBatchScanner, NO_HEADERS};
use durian::core::{Client, ClientConfig, Target};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{CreateTopicsRequest, FetchRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

const TOPIC: &str = "web_log";
const PARTITIONS: i32 = 3;
const BATCHES_PER_PARTITION: usize = 50;
const RECORDS_PER_BATCH: usize = 200;

type DemoResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[tokio::main]
async fn main() -> DemoResult<()> {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await?;
    println!(
        "durian broker listening on {} (data in {})",
        broker.bootstrap(),
        broker.data_dir().display()
    );

    let config = ClientConfig::builder()
        .bootstrap_servers([broker.bootstrap()])
        .client_id("embedded-demo")
        .build()?;
    let client = Client::connect(config).await?;
    create_topic(&client).await?;

    let started = Instant::now();
    let written = produce(&client).await?;
    let produce_time = started.elapsed();

    let started = Instant::now();
    let read = fetch_all(&client).await?;
    let fetch_time = started.elapsed();

    println!(
        "produced {written} records in {:.0} ms, read back {read} in {:.0} ms",
        produce_time.as_secs_f64() * 1e3,
        fetch_time.as_secs_f64() * 1e3
    );
    broker.shutdown().await?;
    if read != written {
        return Err(format!("read {read} records but wrote {written}").into());
    }
    println!("every record read back as written");
    Ok(())
}

async fn create_topic(client: &Client) -> DemoResult<()> {
    let mut topic = CreatableTopic::default();
    topic.name = TopicName(StrBytes::from_static_str(TOPIC));
    topic.num_partitions = PARTITIONS;
    topic.replication_factor = 1;
    let mut request = CreateTopicsRequest::default();
    request.topics.push(topic);
    request.timeout_ms = 10_000;
    let response = client.send(Target::Controller, request).await?;
    for result in response.topics {
        if result.error_code != 0 {
            return Err(
                format!("CreateTopics failed with error code {}", result.error_code).into(),
            );
        }
    }
    client.add_topics([TOPIC]);
    client.refresh_metadata("demo topic created").await?;
    Ok(())
}

/// The value of record `index` in `partition`, so the reader can check it.
fn line(partition: i32, index: usize) -> String {
    format!(
        "127.0.0.1 - - [23/Nov/2026:09:00:00 +0000] \"GET /p{partition}/{index} HTTP/1.1\" 200 512"
    )
}

async fn produce(client: &Client) -> DemoResult<usize> {
    let mut written = 0;
    for batch_number in 0..BATCHES_PER_PARTITION {
        let mut topic = TopicProduceData::default();
        topic.name = TopicName(StrBytes::from_static_str(TOPIC));
        for partition in 0..PARTITIONS {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis() as i64;
            let mut writer = BatchWriter::builder().size_limit(1 << 20).build();
            for i in 0..RECORDS_PER_BATCH {
                let index = batch_number * RECORDS_PER_BATCH + i;
                let value = line(partition, index);
                writer.try_append(now_ms, None, Some(value.as_bytes()), NO_HEADERS)?;
            }
            let mut data = PartitionProduceData::default();
            data.index = partition;
            data.records = Some(writer.finish()?);
            topic.partition_data.push(data);
            written += RECORDS_PER_BATCH;
        }
        let mut request = ProduceRequest::default();
        request.acks = -1;
        request.timeout_ms = 10_000;
        request.topic_data.push(topic);
        let response = client.send(Target::Broker(0), request).await?;
        for topic in response.responses {
            for partition in topic.partition_responses {
                if partition.error_code != 0 {
                    return Err(format!(
                        "Produce to partition {} failed with error code {}",
                        partition.index, partition.error_code
                    )
                    .into());
                }
            }
        }
    }
    Ok(written)
}

async fn fetch_all(client: &Client) -> DemoResult<usize> {
    let mut total = 0;
    for partition in 0..PARTITIONS {
        let mut offset = 0i64;
        let expected = (BATCHES_PER_PARTITION * RECORDS_PER_BATCH) as i64;
        while offset < expected {
            let fetched = fetch_once(client, partition, offset).await?;
            let mut records = Vec::new();
            // A fetch returns whole batches back to back; the last one may be
            // cut at max bytes, which the scanner stops at cleanly.
            for batch in BytesBatchScanner::new(fetched) {
                records.extend(decode_records(&batch?.bytes)?);
            }
            if records.is_empty() {
                return Err(format!("partition {partition} returned nothing at {offset}").into());
            }
            for record in records {
                if record.offset < offset {
                    continue;
                }
                let want = line(partition, record.offset as usize);
                if record.value.as_deref() != Some(want.as_bytes()) {
                    return Err(
                        format!("partition {partition} offset {} differs", record.offset).into(),
                    );
                }
                offset = record.offset + 1;
                total += 1;
            }
        }
    }
    Ok(total)
}

async fn fetch_once(client: &Client, partition: i32, offset: i64) -> DemoResult<Bytes> {
    let mut fetch_partition = FetchPartition::default();
    fetch_partition.partition = partition;
    fetch_partition.fetch_offset = offset;
    fetch_partition.partition_max_bytes = 1 << 20;
    let mut topic = FetchTopic::default();
    topic.topic = TopicName(StrBytes::from_static_str(TOPIC));
    topic.topic_id = client
        .metadata()
        .topics
        .get(TOPIC)
        .map(|t| t.topic_id)
        .unwrap_or_default();
    topic.partitions.push(fetch_partition);
    let mut request = FetchRequest::default();
    request.replica_id = kafka_protocol::messages::BrokerId(-1);
    request.max_wait_ms = 500;
    request.min_bytes = 1;
    request.max_bytes = 8 << 20;
    request.topics.push(topic);
    let response = client.send(Target::Broker(0), request).await?;
    let data = response
        .responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .find(|p| p.partition_index == partition)
        .ok_or("fetch response without the partition")?;
    if data.error_code != 0 {
        return Err(format!("Fetch failed with error code {}", data.error_code).into());
    }
    Ok(data.records.unwrap_or_default())
}
