//! [`TopicPartition`]: the (topic, partition) pair every client names
//! partitions by, shared by the consumer and the admin client.

use std::fmt;
use std::sync::Arc;

/// A partition of a topic.
///
/// The topic is an `Arc<str>`: consumers clone partition names on every
/// fetch, commit and rebalance, and a clone is then a reference-count bump.
/// Ordering is by topic name, then partition.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic name.
    pub topic: Arc<str>,
    /// The partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// The partition `partition` of `topic`.
    ///
    /// ```
    /// use durian_core::TopicPartition;
    /// let tp = TopicPartition::new("clicks", 3);
    /// assert_eq!(tp.topic(), "clicks");
    /// assert_eq!(tp.to_string(), "clicks-3");
    /// ```
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }

    /// The topic name as a `&str`.
    pub fn topic(&self) -> &str {
        &self.topic
    }
}

/// `topic-partition`, as Kafka's tools print it.
impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

impl<T: Into<Arc<str>>> From<(T, i32)> for TopicPartition {
    fn from((topic, partition): (T, i32)) -> Self {
        TopicPartition::new(topic, partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_topic_then_partition_and_prints_like_kafka() {
        let mut tps = [
            TopicPartition::new("b", 0),
            TopicPartition::from(("a", 2)),
            TopicPartition::new(String::from("a"), 1),
        ];
        tps.sort();
        let printed: Vec<String> = tps.iter().map(ToString::to_string).collect();
        assert_eq!(printed, ["a-1", "a-2", "b-0"]);
        assert_eq!(tps[0].topic(), "a");
    }
}
