//! The partitioners the `partitioner` property names: the Java client's
//! default and librdkafka's built-in ones, so a durian producer can share a
//! topic with librdkafka producers (confluent-kafka, kcat, rdkafka) and put
//! every key where they do.
//!
//! librdkafka's semantics (rdkafka_msg.c and rdkafka_topic.c, with its
//! default `sticky.partitioning.linger.ms` above 0), for `n` partitions:
//!
//! | name | non-empty key | empty key | null key |
//! | --- | --- | --- | --- |
//! | `random` | random | random | sticky |
//! | `consistent` | `crc32(key) % n` | 0 | 0 |
//! | `consistent_random` | `crc32(key) % n` | sticky | sticky |
//! | `murmur2` | `(murmur2(key) & 0x7fffffff) % n` | hash of `""` | hash of `""` |
//! | `murmur2_random` | as `murmur2` | hash of `""` | sticky |
//! | `fnv1a` | `fnv1a(key) % n` | hash of `""` | hash of `""` |
//! | `fnv1a_random` | as `fnv1a` | hash of `""` | sticky |
//!
//! "sticky" is durian's built-in uniform sticky partitioner (the
//! partitioner returns `None`), where librdkafka switches its sticky
//! partition every `sticky.partitioning.linger.ms`. "random" picks
//! uniformly among the partitions that have a leader (all when none has),
//! where librdkafka picks among all and draws once more if the first
//! draw has no leader. The hashes are taken over all partitions, so a key
//! never moves while a leader is missing. `murmur2_random` places keys
//! exactly as the Java client's default does.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use super::hashes::{crc32, fnv1a};
use super::murmur2::{murmur2, to_positive};
use super::{DefaultPartitioner, Partitioner, SharedPartitioner, TopicPartitions};

/// A built-in partitioner, by the name the `partitioner` property takes.
///
/// ```
/// use durian_producer::partitioner::PartitionerKind;
/// let kind: PartitionerKind = "consistent_random".parse().unwrap();
/// assert_eq!(kind, PartitionerKind::ConsistentRandom);
/// assert_eq!(kind.to_string(), "consistent_random");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PartitionerKind {
    /// `default`: the Java client's (murmur2 of the key, sticky for null
    /// keys; see [`DefaultPartitioner`]). The only one that honours
    /// `partitioner.ignore.keys`.
    #[default]
    Default,
    /// `random`: keyed records to a random partition, null keys sticky.
    Random,
    /// `consistent`: CRC-32 of the key; empty and null keys to partition 0.
    Consistent,
    /// `consistent_random`: CRC-32 of the key; empty and null keys sticky.
    ConsistentRandom,
    /// `murmur2`: Java's murmur2 of the key; null keys hashed as empty.
    Murmur2,
    /// `murmur2_random`: Java's murmur2 of the key; null keys sticky
    /// (librdkafka's name for the Java client's default).
    Murmur2Random,
    /// `fnv1a`: FNV-1a of the key; null keys hashed as empty.
    Fnv1a,
    /// `fnv1a_random`: FNV-1a of the key; null keys sticky.
    Fnv1aRandom,
}

impl PartitionerKind {
    /// Every kind, in the order the documentation lists them.
    pub const ALL: [PartitionerKind; 8] = [
        PartitionerKind::Default,
        PartitionerKind::Random,
        PartitionerKind::Consistent,
        PartitionerKind::ConsistentRandom,
        PartitionerKind::Murmur2,
        PartitionerKind::Murmur2Random,
        PartitionerKind::Fnv1a,
        PartitionerKind::Fnv1aRandom,
    ];

    /// The property value naming this kind.
    pub fn name(self) -> &'static str {
        match self {
            PartitionerKind::Default => "default",
            PartitionerKind::Random => "random",
            PartitionerKind::Consistent => "consistent",
            PartitionerKind::ConsistentRandom => "consistent_random",
            PartitionerKind::Murmur2 => "murmur2",
            PartitionerKind::Murmur2Random => "murmur2_random",
            PartitionerKind::Fnv1a => "fnv1a",
            PartitionerKind::Fnv1aRandom => "fnv1a_random",
        }
    }

    /// The partitioner a producer uses for this kind.
    pub(crate) fn build(self, ignore_keys: bool) -> SharedPartitioner {
        match self {
            PartitionerKind::Default => Arc::new(DefaultPartitioner { ignore_keys }),
            other => Arc::new(other),
        }
    }
}

impl fmt::Display for PartitionerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `partitioner` value that names no [`PartitionerKind`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownPartitioner(pub String);

impl fmt::Display for UnknownPartitioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = PartitionerKind::ALL.iter().map(|k| k.name()).collect();
        write!(f, "`{}` is not one of {}", self.0, names.join(", "))
    }
}

impl std::error::Error for UnknownPartitioner {}

impl FromStr for PartitionerKind {
    type Err = UnknownPartitioner;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        PartitionerKind::ALL
            .into_iter()
            .find(|kind| kind.name() == value)
            .ok_or_else(|| UnknownPartitioner(value.to_owned()))
    }
}

impl Partitioner for PartitionerKind {
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        partitions: &TopicPartitions,
    ) -> Option<i32> {
        // librdkafka hashes a null key as the empty one (length 0).
        let hashed = key.unwrap_or_default();
        let of = |hash: u32| modulo(hash, partitions.count);
        match self {
            PartitionerKind::Default => {
                DefaultPartitioner::default().partition(topic, key, value, partitions)
            }
            PartitionerKind::Random => key.map(|_| random_partition(partitions)),
            PartitionerKind::Consistent => Some(of(crc32(hashed))),
            PartitionerKind::ConsistentRandom => {
                key.filter(|key| !key.is_empty()).map(|key| of(crc32(key)))
            }
            PartitionerKind::Murmur2 => Some(of(to_positive(murmur2(hashed)) as u32)),
            PartitionerKind::Murmur2Random => key.map(|key| of(to_positive(murmur2(key)) as u32)),
            PartitionerKind::Fnv1a => Some(of(fnv1a(hashed))),
            PartitionerKind::Fnv1aRandom => key.map(|key| of(fnv1a(key))),
        }
    }
}

/// `hash % count` as librdkafka computes it (unsigned); 0 when there is
/// no partition, like [`partition_for_key`](super::partition_for_key).
fn modulo(hash: u32, count: i32) -> i32 {
    match u32::try_from(count) {
        // The remainder is below `count`, so it fits in an i32.
        Ok(count) if count > 0 => (hash % count) as i32,
        _ => 0,
    }
}

/// A partition drawn uniformly from those with a leader, or from all.
fn random_partition(partitions: &TopicPartitions) -> i32 {
    if partitions.available.is_empty() {
        rand::random_range(0..partitions.count.max(1))
    } else {
        partitions.available[rand::random_range(0..partitions.available.len())]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn all(count: i32) -> TopicPartitions {
        TopicPartitions {
            count,
            available: (0..count).collect(),
        }
    }

    fn place(kind: PartitionerKind, key: Option<&[u8]>, count: i32) -> Option<i32> {
        kind.partition("t", key, Some(b"v"), &all(count))
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for kind in PartitionerKind::ALL {
            assert_eq!(kind.name().parse::<PartitionerKind>().unwrap(), kind);
        }
        let err = "murmur3".parse::<PartitionerKind>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`murmur3`"), "{text}");
        assert!(text.contains("fnv1a_random"), "{text}");
        assert_eq!(PartitionerKind::default(), PartitionerKind::Default);
    }

    /// Vectors computed from the definitions (Python: zlib.crc32, FNV-1a
    /// with librdkafka's sign fix, Kafka's murmur2), over 7 and 32
    /// partitions; producer/tests/rdkafka_partitioners.rs checks the same
    /// against librdkafka itself.
    #[test]
    fn keyed_records_follow_librdkafkas_formulas() {
        use PartitionerKind::*;
        // (key, partitions, consistent, fnv1a, murmur2)
        let cases: [(&[u8], i32, i32, i32, i32); 8] = [
            (b"kafka", 7, 6, 4, 3),
            (b"kafka", 32, 23, 1, 4),
            (b"giberish123456789", 7, 2, 5, 5),
            (b"giberish123456789", 32, 31, 21, 12),
            (b"1234", 7, 2, 6, 0),
            (b"user-1", 32, 20, 12, 12),
            (b"abc", 7, 5, 5, 4),
            (&[0xFF, 0x00, 0x80], 32, 31, 2, 18),
        ];
        for (key, n, consistent, fnv, murmur) in cases {
            let name = String::from_utf8_lossy(key);
            for (kind, expected) in [
                (Consistent, consistent),
                (ConsistentRandom, consistent),
                (Fnv1a, fnv),
                (Fnv1aRandom, fnv),
                (Murmur2, murmur),
                (Murmur2Random, murmur),
                (Default, murmur),
            ] {
                assert_eq!(
                    place(kind, Some(key), n),
                    Some(expected),
                    "{kind} {name} /{n}"
                );
            }
        }
    }

    #[test]
    fn empty_and_null_keys_follow_librdkafka() {
        use PartitionerKind::*;
        // Hashes of "": crc32 0, fnv1a 0x7ee3623b, murmur2 0x106e08d9.
        let n = 7;
        let empty: &[u8] = b"";
        for (kind, with_empty, with_null) in [
            (Consistent, Some(0), Some(0)),
            (ConsistentRandom, None, None),
            (Murmur2, Some(2), Some(2)),
            (Murmur2Random, Some(2), None),
            (Fnv1a, Some(2), Some(2)),
            (Fnv1aRandom, Some(2), None),
            (Default, Some(2), None),
        ] {
            assert_eq!(place(kind, Some(empty), n), with_empty, "{kind}, empty key");
            assert_eq!(place(kind, None, n), with_null, "{kind}, null key");
        }
        assert_eq!(place(Random, None, n), None, "random, null key: sticky");
    }

    #[test]
    fn random_spreads_keyed_records_over_available_partitions_only() {
        let partitions = TopicPartitions {
            count: 6,
            available: vec![1, 3, 4],
        };
        let mut seen = BTreeSet::new();
        for _ in 0..500 {
            let p = PartitionerKind::Random
                .partition("t", Some(b"same key"), None, &partitions)
                .unwrap();
            seen.insert(p);
        }
        assert_eq!(seen, BTreeSet::from([1, 3, 4]));
        let none_available = TopicPartitions {
            count: 2,
            available: vec![],
        };
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            seen.insert(
                PartitionerKind::Random
                    .partition("t", Some(b""), None, &none_available)
                    .unwrap(),
            );
        }
        assert_eq!(seen, BTreeSet::from([0, 1]));
    }

    #[test]
    fn hashes_ignore_availability_and_survive_no_partitions() {
        let one_available = TopicPartitions {
            count: 7,
            available: vec![0],
        };
        assert_eq!(
            PartitionerKind::Consistent.partition("t", Some(b"kafka"), None, &one_available),
            Some(6)
        );
        assert_eq!(place(PartitionerKind::Fnv1a, Some(b"kafka"), 0), Some(0));
    }

    #[test]
    fn build_keeps_ignore_keys_for_the_default_only() {
        let ignoring = PartitionerKind::Default.build(true);
        assert_eq!(ignoring.partition("t", Some(b"21"), None, &all(6)), None);
        let murmur = PartitionerKind::Murmur2.build(false);
        assert!(murmur.partition("t", None, None, &all(6)).is_some());
    }
}
