//! Turning keys and values into bytes.
//!
//! A [`Serializer<T>`] is given the topic (as in the Java client) and a
//! value, and returns the bytes to write. Built-ins: [`BytesSerializer`]
//! (no copy for `Bytes`), [`StringSerializer`] (UTF-8), [`IntegerSerializer`]
//! (big-endian, as Java's `IntegerSerializer`/`LongSerializer`/`ShortSerializer`),
//! and `JsonSerializer` behind the `json` feature.

use bytes::Bytes;

/// Serializes values of type `T` for a topic.
pub trait Serializer<T: ?Sized>: Send + Sync {
    /// The bytes of `data`; an error fails this record's `send` only.
    fn serialize(&self, topic: &str, data: &T) -> Result<Bytes, SerializeError>;
}

/// Why a [`Serializer`] could not turn a value into bytes: a message, and
/// the underlying error when there is one (e.g. serde's). One type with the
/// consumer's `DeserializeError`: durian-core's conversion error.
///
/// ```
/// use durian_producer::SerializeError;
/// let error = SerializeError::with_source("invalid date", std::fmt::Error);
/// assert!(error.to_string().starts_with("invalid date: "));
/// assert!(std::error::Error::source(&error).is_some());
/// ```
pub type SerializeError = durian_core::error::ConversionError;

/// Passes bytes through: `Bytes` without copying, `Vec<u8>` and `&[u8]` by copy.
#[derive(Clone, Copy, Debug, Default)]
pub struct BytesSerializer;

impl Serializer<Bytes> for BytesSerializer {
    fn serialize(&self, _topic: &str, data: &Bytes) -> Result<Bytes, SerializeError> {
        Ok(data.clone())
    }
}

impl Serializer<Vec<u8>> for BytesSerializer {
    fn serialize(&self, _topic: &str, data: &Vec<u8>) -> Result<Bytes, SerializeError> {
        Ok(Bytes::copy_from_slice(data))
    }
}

impl Serializer<[u8]> for BytesSerializer {
    fn serialize(&self, _topic: &str, data: &[u8]) -> Result<Bytes, SerializeError> {
        Ok(Bytes::copy_from_slice(data))
    }
}

/// Writes text as UTF-8.
#[derive(Clone, Copy, Debug, Default)]
pub struct StringSerializer;

impl Serializer<String> for StringSerializer {
    fn serialize(&self, _topic: &str, data: &String) -> Result<Bytes, SerializeError> {
        Ok(Bytes::copy_from_slice(data.as_bytes()))
    }
}

impl Serializer<str> for StringSerializer {
    fn serialize(&self, _topic: &str, data: &str) -> Result<Bytes, SerializeError> {
        Ok(Bytes::copy_from_slice(data.as_bytes()))
    }
}

impl Serializer<&'static str> for StringSerializer {
    fn serialize(&self, _topic: &str, data: &&'static str) -> Result<Bytes, SerializeError> {
        Ok(Bytes::from_static(data.as_bytes()))
    }
}

/// Writes integers big-endian in their natural width, as Java's
/// `ShortSerializer`, `IntegerSerializer` and `LongSerializer` do, so
/// consumers in other languages read the same numbers.
#[derive(Clone, Copy, Debug, Default)]
pub struct IntegerSerializer;

macro_rules! integer_serializer {
    ($($int:ty),*) => {$(
        impl Serializer<$int> for IntegerSerializer {
            fn serialize(&self, _topic: &str, data: &$int) -> Result<Bytes, SerializeError> {
                Ok(Bytes::copy_from_slice(&data.to_be_bytes()))
            }
        }
    )*};
}

integer_serializer!(i16, i32, i64, u16, u32, u64);

/// Writes any `serde::Serialize` value as JSON.
#[cfg(feature = "json")]
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonSerializer;

#[cfg(feature = "json")]
impl<T: serde::Serialize> Serializer<T> for JsonSerializer {
    fn serialize(&self, _topic: &str, data: &T) -> Result<Bytes, SerializeError> {
        serde_json::to_vec(data)
            .map(Bytes::from)
            .map_err(|e| SerializeError::with_source("cannot write JSON", e))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bytes_pass_through_without_copy() {
        let data = Bytes::from_static(b"abc");
        let out = BytesSerializer.serialize("t", &data).unwrap();
        assert_eq!(out.as_ptr(), data.as_ptr());
        let out = BytesSerializer.serialize("t", &b"xy"[..]).unwrap();
        assert_eq!(&out[..], b"xy");
    }

    #[test]
    fn strings_are_utf8() {
        let out = StringSerializer
            .serialize("t", &"drüben".to_owned())
            .unwrap();
        assert_eq!(&out[..], "drüben".as_bytes());
    }

    #[test]
    fn integers_are_big_endian_like_java() {
        assert_eq!(
            &IntegerSerializer.serialize("t", &1_i32).unwrap()[..],
            &[0, 0, 0, 1]
        );
        assert_eq!(
            &IntegerSerializer.serialize("t", &-2_i64).unwrap()[..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]
        );
        assert_eq!(
            &IntegerSerializer.serialize("t", &258_u16).unwrap()[..],
            &[1, 2]
        );
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_serializes_serde_values() {
        #[derive(serde::Serialize)]
        struct Click {
            page: &'static str,
            n: u32,
        }
        let out = JsonSerializer
            .serialize("t", &Click { page: "/", n: 2 })
            .unwrap();
        assert_eq!(&out[..], br#"{"page":"/","n":2}"#);
    }
}
