//! Fresh topics for every measurement, created with durian's admin client
//! (CreateTopics works the same on durian's broker and on Tansu).

use std::time::Duration;

use durian_admin::{Admin, NewTopic};

use crate::brokers::BrokerUnderTest;
use crate::security;

/// An admin client for `broker`, over its listener's protocol.
fn admin(broker: &BrokerUnderTest) -> Result<Admin, String> {
    let mut properties = vec![("bootstrap.servers".to_owned(), broker.bootstrap.clone())];
    properties.extend(security::client_properties(
        broker.security,
        broker.ca_file.as_deref(),
    ));
    Admin::from_properties(properties)
        .map_err(|e| format!("admin client for {}: {e}", broker.bootstrap))
}

/// Creates `name` with `partitions` partitions and waits until the broker
/// reports leaders for all of them.
pub async fn create(broker: &BrokerUnderTest, name: &str, partitions: i32) -> Result<(), String> {
    let admin = admin(broker)?;
    let results = admin.create_topics([NewTopic::new(name, partitions)]).await;
    for (topic, result) in results {
        result.map_err(|e| format!("creating topic {topic}: {e}"))?;
    }
    // Leaders can appear a moment after CreateTopics answers (Tansu).
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(())
}

/// Deletes `name` so its segments leave the disk before the next scenario
/// (a full run writes about 3 GB otherwise). Failure only warns: the
/// broker's data directory is removed at the end of the run anyway.
pub async fn delete(broker: &BrokerUnderTest, name: &str) {
    let admin = match admin(broker) {
        Ok(admin) => admin,
        Err(e) => {
            eprintln!("  warning: deleting {name}: {e}");
            return;
        }
    };
    for (topic, result) in admin.delete_topics([name]).await {
        if let Err(e) = result {
            eprintln!("  warning: deleting topic {topic}: {e}");
        }
    }
}

/// Sums of the latest offsets of a topic's partitions, asked through one
/// admin client (kept, so polling does not reconnect each time).
pub struct EndOffsets {
    admin: Admin,
    topic: String,
    partitions: i32,
}

impl EndOffsets {
    /// An admin client for `broker`, asking about `topic`'s `partitions`.
    pub fn new(broker: &BrokerUnderTest, topic: &str, partitions: i32) -> Result<Self, String> {
        Ok(EndOffsets {
            admin: admin(broker)?,
            topic: topic.to_owned(),
            partitions,
        })
    }

    /// The sum of every partition's end offset: the records the topic
    /// holds (it starts empty and nothing is deleted).
    pub async fn sum(&self) -> Result<i64, String> {
        let specs = (0..self.partitions).map(|p| {
            (
                durian_admin::TopicPartition::new(self.topic.as_str(), p),
                durian_admin::OffsetSpec::Latest,
            )
        });
        let mut total = 0;
        for (tp, result) in self.admin.list_offsets(specs).await {
            let listed = result.map_err(|e| format!("end offset of {tp}: {e}"))?;
            total += listed.offset.unwrap_or(0);
        }
        Ok(total)
    }
}
