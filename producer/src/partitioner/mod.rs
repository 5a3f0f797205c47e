//! Choosing a record's partition.
//!
//! ```text
//!  explicit partition ──▶ used as is (checked against the partition count)
//!  else Partitioner::partition(topic, key, value, partitions)
//!        Some(p) ──▶ p            (DefaultPartitioner: murmur2 of the key)
//!        None    ──▶ built-in uniform sticky partitioner (KIP-794)
//! ```
//!
//! The sticky partitioner lives in the accumulator because it switches
//! partitions by the bytes actually batched; a [`Partitioner`] that returns
//! `None` hands the record to it.
//!
//! The `partitioner` property picks a [`PartitionerKind`]: the Java
//! client's default or one of librdkafka's (`random`, `consistent`,
//! `consistent_random`, `murmur2`, `murmur2_random`, `fnv1a`,
//! `fnv1a_random`); see [`librdkafka`](self::librdkafka) for their rules.

mod hashes;
pub mod librdkafka;
mod murmur2;
mod round_robin;
pub(crate) mod sticky;

use std::sync::Arc;

pub use hashes::{crc32, fnv1a};
pub use librdkafka::{PartitionerKind, UnknownPartitioner};
pub use murmur2::{murmur2, partition_for_key, to_positive};
pub use round_robin::RoundRobinPartitioner;

/// The partitions of a topic as the partitioner sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicPartitions {
    /// How many partitions the topic has.
    pub count: i32,
    /// The partitions that currently have a leader, ascending.
    pub available: Vec<i32>,
}

impl TopicPartitions {
    /// Partitions to spread over: the available ones, or all if none is.
    pub fn candidates(&self) -> impl Iterator<Item = i32> + '_ {
        let all = if self.available.is_empty() {
            Some(0..self.count)
        } else {
            None
        };
        self.available
            .iter()
            .copied()
            .chain(all.into_iter().flatten())
    }
}

/// Picks partitions for records that name none.
///
/// Return `None` to let the built-in sticky partitioner place the record.
/// A returned partition outside `0..partitions.count` fails the send with
/// [`ProducerError::InvalidPartition`](crate::ProducerError::InvalidPartition).
///
/// ```
/// use durian_producer::partitioner::{Partitioner, TopicPartitions};
/// /// Everything with a key starting with `vip` goes to partition 0.
/// struct Vip;
/// impl Partitioner for Vip {
///     fn partition(&self, _topic: &str, key: Option<&[u8]>, _value: Option<&[u8]>,
///                  partitions: &TopicPartitions) -> Option<i32> {
///         match key {
///             Some(k) if k.starts_with(b"vip") => Some(0),
///             Some(k) => Some(durian_producer::partitioner::partition_for_key(k, partitions.count)),
///             None => None,
///         }
///     }
/// }
/// ```
pub trait Partitioner: Send + Sync + 'static {
    /// The partition for a record, or `None` for the sticky partitioner.
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partitions: &TopicPartitions,
    ) -> Option<i32>;
}

/// The Java client's default: keyed records by murmur2 of the key (over
/// all partitions, available or not, so a key never moves), others sticky.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultPartitioner {
    /// `partitioner.ignore.keys`: treat keyed records like null-key ones.
    pub ignore_keys: bool,
}

impl Partitioner for DefaultPartitioner {
    fn partition(
        &self,
        _topic: &str,
        key: Option<&[u8]>,
        _value: Option<&[u8]>,
        partitions: &TopicPartitions,
    ) -> Option<i32> {
        match key {
            Some(key) if !self.ignore_keys => Some(partition_for_key(key, partitions.count)),
            _ => None,
        }
    }
}

/// A partitioner shared by every clone of a producer.
pub(crate) type SharedPartitioner = Arc<dyn Partitioner>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_partitioner_hashes_keys_and_defers_null_keys() {
        let partitions = TopicPartitions {
            count: 6,
            available: vec![1, 2],
        };
        let default = DefaultPartitioner::default();
        // Unavailable partitions are still chosen for keys, as in Java.
        assert_eq!(
            default.partition("t", Some(b"21"), None, &partitions),
            Some(partition_for_key(b"21", 6))
        );
        assert_eq!(default.partition("t", None, None, &partitions), None);
        let ignoring = DefaultPartitioner { ignore_keys: true };
        assert_eq!(
            ignoring.partition("t", Some(b"21"), None, &partitions),
            None
        );
    }

    #[test]
    fn candidates_fall_back_to_all_partitions() {
        let none_available = TopicPartitions {
            count: 3,
            available: vec![],
        };
        assert_eq!(none_available.candidates().collect::<Vec<_>>(), [0, 1, 2]);
        let some = TopicPartitions {
            count: 3,
            available: vec![2],
        };
        assert_eq!(some.candidates().collect::<Vec<_>>(), [2]);
    }
}
