//! [`ProducerApi`]: the part of the producer application code needs,
//! implemented by [`Producer`] and, with the `testing` feature, by
//! `MockProducer`, so code written against it can be tested without a broker.

use std::future::Future;
use std::time::Duration;

use crate::delivery::DeliveryFuture;
use crate::error::ProducerError;
use crate::producer::Producer;
use crate::record::ProducerRecord;

/// Sending records, as [`Producer`] does; take `&impl ProducerApi<K, V>`
/// (or a generic `P: ProducerApi<K, V>`) where a test should be able to
/// pass a `MockProducer`.
///
/// The methods return `impl Future` rather than boxed futures so the real
/// producer's `send` costs no allocation through the trait; the trait is
/// therefore used through generics, not as `dyn ProducerApi`.
///
/// ```
/// use durian_producer::{ProducerApi, ProducerError, ProducerRecord};
/// /// Application code: works with the real producer and with a mock.
/// async fn greet(producer: &impl ProducerApi<String, String>) -> Result<i64, ProducerError> {
///     let delivery = producer.send(ProducerRecord::new("greetings", "hello".to_owned())).await?;
///     Ok(delivery.await?.offset)
/// }
/// ```
pub trait ProducerApi<K, V>: Send + Sync {
    /// Buffers a record; the future of its delivery resolves when it is
    /// acknowledged or failed ([`Producer::send`]).
    fn send(
        &self,
        record: ProducerRecord<K, V>,
    ) -> impl Future<Output = Result<DeliveryFuture, ProducerError>> + Send;

    /// Delivers everything buffered now and waits for it ([`Producer::flush`]).
    fn flush(&self) -> impl Future<Output = Result<(), ProducerError>> + Send;

    /// Delivers what is buffered within `timeout` and stops ([`Producer::close`]).
    fn close(&self, timeout: Duration) -> impl Future<Output = Result<(), ProducerError>> + Send;
}

impl<K: Send + Sync, V: Send + Sync> ProducerApi<K, V> for Producer<K, V> {
    fn send(
        &self,
        record: ProducerRecord<K, V>,
    ) -> impl Future<Output = Result<DeliveryFuture, ProducerError>> + Send {
        Producer::send(self, record)
    }

    fn flush(&self) -> impl Future<Output = Result<(), ProducerError>> + Send {
        Producer::flush(self)
    }

    fn close(&self, timeout: Duration) -> impl Future<Output = Result<(), ProducerError>> + Send {
        Producer::close(self, timeout)
    }
}
