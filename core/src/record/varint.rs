//! Zigzag variable-length integers, as records inside a v2 batch use them.
//!
//! Kafka encodes record fields as protobuf-style base-128 varints of the
//! zigzag-mapped value, so small negative numbers (-1 for a null key) take
//! one byte. An i32 takes at most 5 bytes, an i64 at most 10; longer
//! encodings are rejected rather than silently wrapped.

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VarintError {
    /// The input ended inside the varint.
    Truncated,
    /// The varint is longer than its type allows.
    Overlong,
}

/// Maximum encoded length of an i32 varint.
pub const MAX_VARINT_LEN: usize = 5;
/// Maximum encoded length of an i64 varlong.
pub const MAX_VARLONG_LEN: usize = 10;

fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unsigned_len(mut v: u64) -> usize {
    let mut len = 1;
    while v >= 0x80 {
        v >>= 7;
        len += 1;
    }
    len
}

fn put_unsigned(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Encoded length of `v` as a zigzag varint.
pub fn varint_len(v: i32) -> usize {
    unsigned_len(u64::from(zigzag32(v)))
}

/// Encoded length of `v` as a zigzag varlong.
pub fn varlong_len(v: i64) -> usize {
    unsigned_len(zigzag64(v))
}

/// Appends `v` as a zigzag varint.
pub fn put_varint(buf: &mut Vec<u8>, v: i32) {
    put_unsigned(buf, u64::from(zigzag32(v)));
}

/// Appends `v` as a zigzag varlong.
pub fn put_varlong(buf: &mut Vec<u8>, v: i64) {
    put_unsigned(buf, zigzag64(v));
}

/// Reads an unsigned base-128 value of at most `max_len` bytes from the
/// front of `buf`, advancing it.
fn get_unsigned(buf: &mut &[u8], max_len: usize) -> Result<u64, VarintError> {
    let mut value: u64 = 0;
    for i in 0..max_len {
        let Some((&byte, rest)) = buf.split_first() else {
            return Err(VarintError::Truncated);
        };
        *buf = rest;
        // The tenth byte of a u64 may only carry its top bit.
        if i == MAX_VARLONG_LEN - 1 && byte & 0x7e != 0 {
            return Err(VarintError::Overlong);
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(VarintError::Overlong)
}

/// Reads a zigzag varint from the front of `buf`, advancing it.
pub fn get_varint(buf: &mut &[u8]) -> Result<i32, VarintError> {
    let raw = get_unsigned(buf, MAX_VARINT_LEN)?;
    // A fifth byte may carry at most 4 meaningful bits for a 32-bit value.
    let raw = u32::try_from(raw).map_err(|_| VarintError::Overlong)?;
    Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Reads a zigzag varlong from the front of `buf`, advancing it.
pub fn get_varlong(buf: &mut &[u8]) -> Result<i64, VarintError> {
    let raw = get_unsigned(buf, MAX_VARLONG_LEN)?;
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip_32(v: i32) {
        let mut buf = Vec::new();
        put_varint(&mut buf, v);
        assert_eq!(buf.len(), varint_len(v), "length of {v}");
        let mut slice = &buf[..];
        assert_eq!(get_varint(&mut slice), Ok(v));
        assert!(slice.is_empty());
    }

    fn round_trip_64(v: i64) {
        let mut buf = Vec::new();
        put_varlong(&mut buf, v);
        assert_eq!(buf.len(), varlong_len(v), "length of {v}");
        let mut slice = &buf[..];
        assert_eq!(get_varlong(&mut slice), Ok(v));
        assert!(slice.is_empty());
    }

    #[test]
    fn varint_round_trips_edges() {
        for v in [0, 1, -1, 63, -64, 64, -65, 8191, 8192, i32::MAX, i32::MIN] {
            round_trip_32(v);
        }
        for v in [0, 1, -1, 1 << 40, -(1 << 40), i64::MAX, i64::MIN] {
            round_trip_64(v);
        }
    }

    #[test]
    fn varint_known_encodings() {
        // Zigzag: 0→0, -1→1, 1→2, -2→3; 64 → 128 → [0x80, 0x01].
        let cases: [(i32, &[u8]); 5] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-2, &[0x03]),
            (64, &[0x80, 0x01]),
        ];
        for (v, bytes) in cases {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf, bytes, "encoding of {v}");
        }
    }

    #[test]
    fn varint_rejects_truncated_and_overlong() {
        assert_eq!(get_varint(&mut &[0x80u8][..]), Err(VarintError::Truncated));
        assert_eq!(get_varint(&mut &[][..]), Err(VarintError::Truncated));
        let six = [0xffu8, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(get_varint(&mut &six[..]), Err(VarintError::Overlong));
        // Five bytes but more than 32 bits of payload.
        let wide = [0xffu8, 0xff, 0xff, 0xff, 0x7f];
        assert_eq!(get_varint(&mut &wide[..]), Err(VarintError::Overlong));
        let eleven = [0xffu8; 11];
        assert_eq!(get_varlong(&mut &eleven[..]), Err(VarintError::Overlong));
    }
}
