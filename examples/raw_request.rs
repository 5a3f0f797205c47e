//! Raw Kafka requests through durian-core's `Client`, for what the
//! producer, consumer and admin clients do not cover: build a
//! kafka-protocol request, hand it to the client with a target (a broker,
//! the controller, a coordinator), get the typed response back. The client
//! picks the connection, negotiates the version and matches the response.
//!
//! ```text
//! BatchWriter ─▶ ProduceRequest ─▶ Client ─▶ broker ─▶ segment files
//!                                                │
//! decode_records ◀─ FetchResponse ◀─ Client ◀────┘
//! ```
//!
//! Run it with `cargo run --example raw_request`. It exits non-zero if a
//! record does not come back as written.

use bytes::Bytes;
use durian::broker::Broker;
use durian::core::record::{decode_records, BatchWriter, BytesBatchScanner, NO_HEADERS};
use durian::core::{Client, ClientConfig, Target};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, FetchRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

const TOPIC: &str = "raw";
const PARTITIONS: i32 = 2;
const RECORDS: usize = 100;

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
    let config = ClientConfig::builder()
        .bootstrap_servers([broker.bootstrap()])
        .client_id("raw-request-example")
        .build()?;
    let client = Client::connect(config).await?;
    println!("connected to {}", broker.bootstrap());

    create_topic(&client).await?;
    for partition in 0..PARTITIONS {
        let base_offset = produce(&client, partition).await?;
        println!("partition {partition}: {RECORDS} records written at offset {base_offset}");
    }
    for partition in 0..PARTITIONS {
        let values = fetch(&client, partition).await?;
        let expected: Vec<String> = (0..RECORDS).map(|i| value(partition, i)).collect();
        if values != expected {
            return Err(format!("partition {partition} came back different").into());
        }
        println!(
            "partition {partition}: read {} records back as written",
            values.len()
        );
    }
    broker.shutdown().await?;
    Ok(())
}

fn topic_name() -> TopicName {
    TopicName(StrBytes::from_static_str(TOPIC))
}

fn value(partition: i32, index: usize) -> String {
    format!("partition {partition}, record {index}")
}

/// CreateTopics goes to the controller; errors come back per topic.
async fn create_topic(client: &Client) -> AnyResult<()> {
    let mut topic = CreatableTopic::default();
    topic.name = topic_name();
    topic.num_partitions = PARTITIONS;
    topic.replication_factor = 1;
    let mut request = CreateTopicsRequest::default();
    request.topics.push(topic);
    request.timeout_ms = 10_000;
    let response = client.send(Target::Controller, request).await?;
    for result in response.topics {
        if result.error_code != 0 {
            return Err(format!("CreateTopics: error code {}", result.error_code).into());
        }
    }
    // Partition leaders are looked up from metadata, so ask for this topic's.
    client.add_topics([TOPIC]);
    client.refresh_metadata("topic created").await?;
    println!("created topic {TOPIC} with {PARTITIONS} partitions");
    Ok(())
}

/// Writes one record batch (format v2, built by the core's `BatchWriter`)
/// to the partition's leader; returns the offset the broker gave it.
async fn produce(client: &Client, partition: i32) -> AnyResult<i64> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let mut writer = BatchWriter::builder().size_limit(1 << 20).build();
    for index in 0..RECORDS {
        let text = value(partition, index);
        writer.try_append(now_ms, None, Some(text.as_bytes()), NO_HEADERS)?;
    }
    let mut data = PartitionProduceData::default();
    data.index = partition;
    data.records = Some(writer.finish()?);
    let mut topic = TopicProduceData::default();
    topic.name = topic_name();
    topic.partition_data.push(data);
    let mut request = ProduceRequest::default();
    request.acks = -1;
    request.timeout_ms = 10_000;
    request.topic_data.push(topic);

    let leader = leader_of(client, partition)?;
    let response = client.send(Target::Broker(leader), request).await?;
    let answer = response
        .responses
        .into_iter()
        .flat_map(|t| t.partition_responses)
        .find(|p| p.index == partition)
        .ok_or("the produce response does not mention the partition")?;
    if answer.error_code != 0 {
        return Err(format!("Produce: error code {}", answer.error_code).into());
    }
    Ok(answer.base_offset)
}

/// Reads the partition from offset 0 and decodes the values.
async fn fetch(client: &Client, partition: i32) -> AnyResult<Vec<String>> {
    let mut wanted = FetchPartition::default();
    wanted.partition = partition;
    wanted.fetch_offset = 0;
    wanted.partition_max_bytes = 1 << 20;
    let mut topic = FetchTopic::default();
    topic.topic = topic_name();
    // Fetch v13+ names topics by id, older versions by name: fill both.
    topic.topic_id = client
        .metadata()
        .topics
        .get(TOPIC)
        .map(|t| t.topic_id)
        .unwrap_or_default();
    topic.partitions.push(wanted);
    let mut request = FetchRequest::default();
    request.replica_id = BrokerId(-1);
    request.max_wait_ms = 500;
    request.min_bytes = 1;
    request.max_bytes = 1 << 20;
    request.topics.push(topic);

    let leader = leader_of(client, partition)?;
    let response = client.send(Target::Broker(leader), request).await?;
    let data = response
        .responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .find(|p| p.partition_index == partition)
        .ok_or("the fetch response does not mention the partition")?;
    if data.error_code != 0 {
        return Err(format!("Fetch: error code {}", data.error_code).into());
    }
    let mut values = Vec::new();
    // Batches come back to back; the scanner stops cleanly at a batch the
    // broker cut short at max bytes.
    for batch in BytesBatchScanner::new(data.records.unwrap_or_else(Bytes::new)) {
        for record in decode_records(&batch?.bytes)? {
            let value = record.value.unwrap_or_default();
            values.push(String::from_utf8_lossy(&value).into_owned());
        }
    }
    Ok(values)
}

fn leader_of(client: &Client, partition: i32) -> AnyResult<i32> {
    let leader = client
        .partition_leader(TOPIC, partition)
        .ok_or_else(|| format!("no leader known for {TOPIC}-{partition}"))?;
    Ok(leader.node_id)
}
