//! Waiting, after `topic create` and `topic delete`, until the cluster's
//! metadata shows the change. Kafka answers CreateTopics and DeleteTopics
//! once its controller committed them; the brokers learn of it a moment
//! later, so a `topic list` or `produce` run right after the command could
//! still miss a new topic or see a deleted one. The commands return only
//! once a metadata request agrees, so scripts can chain them.

use std::time::Duration;

use durian::admin::Admin;
use durian::core::KafkaCode;

/// Longest the commands wait for the metadata to agree; past it they still
/// succeed (the controller accepted the change), just without the wait.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);
/// Pause between two metadata requests while waiting.
const SETTLE_POLL: Duration = Duration::from_millis(50);

/// What the metadata should show of a topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The topic, with a leader for every partition.
    Present,
    /// No such topic (UNKNOWN_TOPIC_OR_PARTITION).
    Absent,
}

/// Returns once a metadata request shows `name` as `expect` says, or after
/// [`SETTLE_LIMIT`].
pub async fn wait_for(admin: &Admin, name: &str, expect: Expect) {
    let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
    while tokio::time::Instant::now() < deadline {
        let mut described = admin.describe_topics([name]).await;
        let settled = match (described.remove(name), expect) {
            (Some(Ok(topic)), Expect::Present) => {
                !topic.partitions.is_empty() && topic.partitions.iter().all(|p| p.leader.is_some())
            }
            (Some(Err(error)), Expect::Absent) => {
                error.kafka_code() == Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION)
            }
            _ => false,
        };
        if settled {
            return;
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
    tracing::debug!(topic = name, ?expect, "metadata did not settle in time");
}
