//! The key hashes of librdkafka's `consistent` and `fnv1a` partitioners
//! (its `murmur2` is Kafka's, in the sibling module).

/// The table of the reflected CRC-32 polynomial 0xEDB88320, built at
/// compile time.
const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// CRC-32 (IEEE 802.3, as zlib's `crc32`): librdkafka's `rd_crc32`, the
/// hash of its `consistent` partitioners. The empty input hashes to 0.
///
/// ```
/// assert_eq!(durian_producer::partitioner::crc32(b"123456789"), 0xCBF4_3926);
/// ```
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc = CRC32_TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// librdkafka's `rd_fnv1a`: 32-bit FNV-1a, then, read as a signed value,
/// made non-negative (librdkafka does this to match Sarama's hash
/// partitioner). The hash of its `fnv1a` partitioners.
///
/// ```
/// assert_eq!(durian_producer::partitioner::fnv1a(b"kafka"), 0x0d33_c4e1);
/// ```
pub fn fnv1a(data: &[u8]) -> u32 {
    const OFFSET: u32 = 0x811C_9DC5;
    const PRIME: u32 = 0x0100_0193;
    let h = data
        .iter()
        .fold(OFFSET, |h, &byte| (h ^ u32::from(byte)).wrapping_mul(PRIME));
    // C negates the int32: i32::MIN stays itself (0x80000000).
    (h as i32).wrapping_abs() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_zlib() {
        // The standard check value, and zlib.crc32 of a few keys.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"kafka"), 0x5BBC_7517);
        assert_eq!(crc32(b"giberish123456789"), 0x7B3A_8E3F);
        assert_eq!(crc32(b"user-1"), 0x7E26_4614);
        assert_eq!(crc32(&[0xFF, 0x00, 0x80]), 0xAC61_6EDF);
    }

    #[test]
    fn fnv1a_matches_librdkafkas_own_unit_test() {
        // librdkafka's unittest_fnv1a (values from Go's hash/fnv, made
        // non-negative as rd_fnv1a does).
        let short_unaligned = b"1234";
        let unaligned = b"PreAmbleWillBeRemoved,ThePrePartThatIs";
        let cases: [(&[u8], u32); 11] = [
            (b"kafka", 0x0d33_c4e1),
            (b"giberish123456789", 0x77a5_8295),
            (short_unaligned, 0x023b_dd03),
            (&short_unaligned[1..], 0x2dea_3cd2),
            (&short_unaligned[2..], 0x740f_a83e),
            (&short_unaligned[3..], 0x310c_a263),
            (unaligned, 0x65cb_d69c),
            (&unaligned[1..], 0x6e49_c79a),
            (&unaligned[2..], 0x69ee_d356),
            (&unaligned[3..], 0x6abc_c023),
            (b"", 0x7ee3_623b),
        ];
        for (key, expected) in cases {
            assert_eq!(fnv1a(key), expected, "{}", String::from_utf8_lossy(key));
        }
    }
}
