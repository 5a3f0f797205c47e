//! Round-robin over a topic's available partitions, keys ignored.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Partitioner, TopicPartitions};

/// Sends successive records of a topic to successive partitions (among
/// those with a leader), whatever their keys. Spreads load evenly at the
/// cost of small batches; the sticky default usually batches better.
#[derive(Debug, Default)]
pub struct RoundRobinPartitioner {
    next: Mutex<HashMap<String, u32>>,
}

impl Partitioner for RoundRobinPartitioner {
    fn partition(
        &self,
        topic: &str,
        _key: Option<&[u8]>,
        _value: Option<&[u8]>,
        partitions: &TopicPartitions,
    ) -> Option<i32> {
        let turn = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            // Allocates the topic name once per topic, not per record.
            let counter = match next.get_mut(topic) {
                Some(counter) => counter,
                None => next.entry(topic.to_owned()).or_insert(0),
            };
            let turn = *counter;
            *counter = counter.wrapping_add(1);
            turn
        };
        let candidates = partitions.candidates().count();
        if candidates == 0 {
            return None;
        }
        partitions.candidates().nth(turn as usize % candidates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_over_available_partitions_per_topic() {
        let partitioner = RoundRobinPartitioner::default();
        let partitions = TopicPartitions {
            count: 4,
            available: vec![0, 2, 3],
        };
        let picks: Vec<_> = (0..6)
            .map(|_| partitioner.partition("a", Some(b"k"), None, &partitions))
            .collect();
        assert_eq!(picks, [0, 2, 3, 0, 2, 3].map(Some));
        // Another topic has its own turn.
        assert_eq!(partitioner.partition("b", None, None, &partitions), Some(0));
        let empty = TopicPartitions {
            count: 0,
            available: vec![],
        };
        assert_eq!(partitioner.partition("c", None, None, &empty), None);
    }
}
