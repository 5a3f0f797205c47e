//! Kafka's murmur2: the key hash of the Java client's default partitioner.
//!
//! This is MurmurHash2 (32-bit, little-endian blocks) with Kafka's fixed
//! seed `0x9747b28c`, returning Java's signed `int`. Keys must hash exactly
//! as in the Java client, librdkafka (`murmur2_random`) and franz-go, or a
//! durian producer would put a key on a different partition than the other
//! clients writing the same topic.
//!
//! The hash itself comes from the `murmur2` crate: its endianness-neutral
//! `murmur2` with `KAFKA_SEED` gives Java's values for every vector below
//! (Kafka's own `UtilsTest.testMurmur2`, the empty key and every tail
//! length), which this module's tests keep checking.

/// Kafka's `Utils.murmur2(data)`, as a signed 32-bit value like Java's `int`.
///
/// ```
/// assert_eq!(durian_producer::partitioner::murmur2(b"21"), -973_932_308);
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    // Java's int is the same 32 bits read as signed.
    ::murmur2::murmur2(data, ::murmur2::KAFKA_SEED) as i32
}

/// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which would
/// overflow on `i32::MIN` and map differently).
pub fn to_positive(value: i32) -> i32 {
    value & 0x7fff_ffff
}

/// The partition the Java client picks for `key` among `partitions`
/// partitions: `toPositive(murmur2(key)) % partitions`.
///
/// `partitions` must be positive; 0 yields partition 0 rather than a panic.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    to_positive(murmur2(key)) % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_values_of_kafkas_own_utils_test() {
        // Expected values from Apache Kafka's UtilsTest.testMurmur2, i.e.
        // what the Java client computes.
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        assert_eq!(::murmur2::KAFKA_SEED, 0x9747_b28c);
        for (key, expected) in cases {
            assert_eq!(murmur2(key), expected, "{}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn matches_java_for_every_tail_length() {
        // Java values for keys of length 1..5 (all four tail lengths and a
        // full block), as published by other ports checked against Kafka.
        let cases: [(&[u8], i32); 6] = [
            // Only the seed and the final mix: h = 0x9747b28c ^ 0.
            (b"", 275_646_681),
            (b"1", -1_993_445_489),
            (b"12", 126_087_238),
            (b"123", -267_702_483),
            (b"1234", -1_614_185_708),
            (b"12345", -1_188_365_604),
        ];
        for (key, expected) in cases {
            assert_eq!(murmur2(key), expected, "{}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn to_positive_clears_only_the_sign_bit() {
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(42), 42);
    }

    #[test]
    fn partition_for_key_follows_java_formula() {
        // toPositive(-973932308) = 1173551340; 1173551340 % 6 = 0.
        assert_eq!(partition_for_key(b"21", 6), 1_173_551_340 % 6);
        assert_eq!(partition_for_key(b"abc", 7), 479_470_107 % 7);
        assert_eq!(partition_for_key(b"abc", 0), 0);
    }
}
