//! `durian doctor --write-test TOPIC`: one record produced by a durian
//! producer and read back by a consumer assigned to its partition, with the
//! client settings of `-b`, `-F` and `-X`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use durian::admin::Admin;
use durian::consumer::{Consumer, TopicPartition};
use durian::producer::{Producer, ProducerRecord};

use super::Checks;
use crate::topic::topic_partitions;
use crate::CliError;

/// Produces one record to `topic` and consumes it again, each within
/// `timeout` (the first produce waits for metadata too).
pub async fn run(
    checks: &mut Checks,
    properties: Vec<(String, String)>,
    topic: &str,
    timeout: Duration,
) -> Result<(), CliError> {
    let step = format!("produce to {topic}");
    let producer = match Producer::from_properties(properties.clone()) {
        Ok(producer) => producer,
        Err(e) => {
            let hint = "fix the producer setting it names in -F or -X";
            return checks.fail(&step, &e.to_string(), hint);
        }
    };
    // Checked first: a producer waits max.block.ms for an unknown topic.
    let admin = Admin::with_client(producer.client().clone(), timeout);
    if let Err(e) = topic_partitions(&admin, &[topic.to_owned()]).await {
        let hint = "create the topic (`durian topic create`) or name one that exists";
        return checks.fail(&step, &e.to_string(), hint);
    }
    let marker = format!(
        "durian doctor {}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let record = ProducerRecord::new(topic, Bytes::from(marker.clone()));
    let sent = tokio::time::timeout(timeout, producer.send_and_wait(record)).await;
    let _ = producer.close(timeout).await;
    let written = match sent {
        Ok(Ok(written)) => written,
        Ok(Err(e)) => {
            let hint = "the principal may lack WRITE on the topic (ACLs), or the partition \
                        has no leader: see `durian topic describe`";
            return checks.fail(&step, &e.to_string(), hint);
        }
        Err(_) => {
            let detail = format!("no acknowledgement within {timeout:?}");
            let hint = "the partition leader may be unreachable: check the advertised \
                        address steps above and `durian topic describe`";
            return checks.fail(&step, &detail, hint);
        }
    };
    let detail = format!("partition {} offset {}", written.partition, written.offset);
    checks.ok(&step, &detail)?;

    let step = format!("consume from {topic}");
    let partition = TopicPartition::new(topic, written.partition);
    let read = tokio::time::timeout(
        timeout,
        read_back(properties, &partition, written.offset, &marker),
    )
    .await;
    match read {
        Ok(Ok(())) => checks.ok(&step, "read the record back"),
        Ok(Err(e)) => {
            let hint = "the principal may lack READ on the topic (ACLs)";
            checks.fail(&step, &e, hint)
        }
        Err(_) => {
            let detail = format!("the record did not come back within {timeout:?}");
            let hint = "the leader may be unreachable for fetches, or the record was \
                        deleted by retention already";
            checks.fail(&step, &detail, hint)
        }
    }
}

/// Polls `partition` from `offset` until the record holding `marker` comes.
async fn read_back(
    properties: Vec<(String, String)>,
    partition: &TopicPartition,
    offset: i64,
    marker: &str,
) -> Result<(), String> {
    let mut consumer = Consumer::from_properties(properties).map_err(|e| e.to_string())?;
    consumer
        .assign([partition.clone()])
        .map_err(|e| e.to_string())?;
    consumer
        .seek(partition, offset)
        .map_err(|e| e.to_string())?;
    loop {
        let batch = consumer
            .poll(Duration::from_millis(500))
            .await
            .map_err(|e| e.to_string())?;
        if let Some((_, error)) = batch.errors.first() {
            return Err(error.to_string());
        }
        if batch
            .iter()
            .any(|r| r.value.as_deref() == Some(marker.as_bytes()))
        {
            return Ok(());
        }
    }
}
