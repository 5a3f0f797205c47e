//! Turning record keys and values back into application types.
//!
//! Each [`Deserializer`] mirrors a producer serializer: raw bytes, UTF-8
//! strings, big-endian integers (Java's `IntegerSerializer` and friends),
//! and JSON through serde behind the `json` feature. Records stay raw in
//! [`ConsumerRecord`]; [`ConsumerRecord::key_as`] and
//! [`ConsumerRecord::value_as`] decode on demand, so a bad record fails
//! only where it is read, with its partition and offset in the error.
//!
//! ```
//! use durian_consumer::deserializer::{Deserializer, StringDeserializer};
//! let text = StringDeserializer.deserialize("topic", Some(b"hello")).unwrap();
//! assert_eq!(text.as_deref(), Some("hello"));
//! ```

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::error::{ConsumerError, Result};
use crate::types::ConsumerRecord;

/// Decodes a key or value; `None` input is a null on the wire.
pub trait Deserializer {
    /// The decoded type.
    type Output;

    /// Decodes `data` of a record in `topic`; the error says what was wrong.
    fn deserialize(
        &self,
        topic: &str,
        data: Option<&[u8]>,
    ) -> Result<Option<Self::Output>, DeserializeError>;

    /// Gets ready to decode `data` (the non-null keys, or values, of a
    /// batch of `topic`'s records) before `deserialize` sees any of them.
    ///
    /// [`TypedConsumer`](crate::TypedConsumer) awaits this once per
    /// partition and poll, so a deserializer that needs something
    /// asynchronous, such as a schema registry lookup, fetches it here and
    /// `deserialize` stays synchronous. The default does nothing. Failures
    /// are not returned here: `deserialize` reports them for the records
    /// they concern.
    fn prepare<'a>(&'a self, topic: &'a str, data: &'a [&'a [u8]]) -> BoxFuture<'a, ()> {
        let _ = (topic, data);
        Box::pin(std::future::ready(()))
    }
}

/// Why a [`Deserializer`] could not decode a key or value: a message, and
/// the underlying error when there is one (e.g. serde's or UTF-8's). One
/// type with the producer's `SerializeError`: durian-core's conversion
/// error.
///
/// ```
/// use durian_consumer::deserializer::{DeserializeError, Deserializer, StringDeserializer};
/// let error: DeserializeError = StringDeserializer.deserialize("t", Some(b"\xff")).unwrap_err();
/// assert!(error.to_string().starts_with("not UTF-8: "));
/// assert!(std::error::Error::source(&error).is_some());
/// ```
pub type DeserializeError = durian_core::error::ConversionError;

/// Keeps the bytes as they are.
#[derive(Clone, Copy, Debug, Default)]
pub struct BytesDeserializer;

impl Deserializer for BytesDeserializer {
    type Output = Bytes;
    fn deserialize(
        &self,
        _topic: &str,
        data: Option<&[u8]>,
    ) -> Result<Option<Bytes>, DeserializeError> {
        Ok(data.map(Bytes::copy_from_slice))
    }
}

/// UTF-8 text.
#[derive(Clone, Copy, Debug, Default)]
pub struct StringDeserializer;

impl Deserializer for StringDeserializer {
    type Output = String;
    fn deserialize(
        &self,
        _topic: &str,
        data: Option<&[u8]>,
    ) -> Result<Option<String>, DeserializeError> {
        data.map(|d| {
            String::from_utf8(d.to_vec())
                .map_err(|e| DeserializeError::with_source("not UTF-8", e.utf8_error()))
        })
        .transpose()
    }
}

macro_rules! big_endian_deserializer {
    ($name:ident, $ty:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl Deserializer for $name {
            type Output = $ty;
            fn deserialize(
                &self,
                _topic: &str,
                data: Option<&[u8]>,
            ) -> Result<Option<$ty>, DeserializeError> {
                data.map(|d| {
                    <[u8; std::mem::size_of::<$ty>()]>::try_from(d)
                        .map(<$ty>::from_be_bytes)
                        .map_err(|_| {
                            DeserializeError::new(format!(
                                "expected {} bytes for {}, got {}",
                                std::mem::size_of::<$ty>(),
                                stringify!($ty),
                                d.len()
                            ))
                        })
                })
                .transpose()
            }
        }
    };
}

big_endian_deserializer!(
    I16Deserializer,
    i16,
    "A big-endian `i16` (Java's ShortDeserializer)."
);
big_endian_deserializer!(
    I32Deserializer,
    i32,
    "A big-endian `i32` (Java's IntegerDeserializer)."
);
big_endian_deserializer!(
    I64Deserializer,
    i64,
    "A big-endian `i64` (Java's LongDeserializer)."
);
big_endian_deserializer!(
    F64Deserializer,
    f64,
    "A big-endian `f64` (Java's DoubleDeserializer)."
);

/// JSON into any `serde::Deserialize` type.
#[cfg(feature = "json")]
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonDeserializer<T>(std::marker::PhantomData<fn() -> T>);

#[cfg(feature = "json")]
impl<T> JsonDeserializer<T> {
    /// A JSON deserializer for `T`.
    pub fn new() -> Self {
        JsonDeserializer(std::marker::PhantomData)
    }
}

#[cfg(feature = "json")]
impl<T: serde::de::DeserializeOwned> Deserializer for JsonDeserializer<T> {
    type Output = T;
    fn deserialize(
        &self,
        _topic: &str,
        data: Option<&[u8]>,
    ) -> Result<Option<T>, DeserializeError> {
        data.map(|d| {
            serde_json::from_slice(d).map_err(|e| DeserializeError::with_source("invalid JSON", e))
        })
        .transpose()
    }
}

impl ConsumerRecord {
    /// The key decoded with `deserializer`.
    pub fn key_as<D: Deserializer>(&self, deserializer: &D) -> Result<Option<D::Output>> {
        self.decode_with(deserializer, "key", self.key.as_deref())
    }

    /// The value decoded with `deserializer`.
    pub fn value_as<D: Deserializer>(&self, deserializer: &D) -> Result<Option<D::Output>> {
        self.decode_with(deserializer, "value", self.value.as_deref())
    }

    fn decode_with<D: Deserializer>(
        &self,
        deserializer: &D,
        what: &'static str,
        data: Option<&[u8]>,
    ) -> Result<Option<D::Output>> {
        deserializer
            .deserialize(&self.topic, data)
            .map_err(|source| ConsumerError::Deserialize {
                what,
                partition: self.topic_partition(),
                offset: self.offset,
                source,
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_big_endian_and_sized() {
        assert_eq!(
            I32Deserializer
                .deserialize("t", Some(&[0, 0, 1, 2]))
                .unwrap(),
            Some(258)
        );
        assert_eq!(I64Deserializer.deserialize("t", None).unwrap(), None);
        assert!(I16Deserializer.deserialize("t", Some(&[1, 2, 3])).is_err());
    }

    #[test]
    fn record_errors_name_the_record() {
        let record = ConsumerRecord {
            topic: "t".into(),
            partition: 3,
            offset: 9,
            timestamp: 0,
            key: Some(Bytes::from_static(b"\xff")),
            value: Some(Bytes::from_static(b"ok")),
            headers: Vec::new(),
            leader_epoch: -1,
        };
        assert_eq!(
            record.value_as(&StringDeserializer).unwrap().as_deref(),
            Some("ok")
        );
        let err = record.key_as(&StringDeserializer).unwrap_err();
        assert!(err.to_string().contains("t-3 at offset 9"), "{err}");
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_values() {
        let d = JsonDeserializer::<Vec<u32>>::new();
        assert_eq!(
            d.deserialize("t", Some(b"[1,2]")).unwrap(),
            Some(vec![1, 2])
        );
        assert!(d.deserialize("t", Some(b"{")).is_err());
    }
}
