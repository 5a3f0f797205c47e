//! TypedConsumer against durian's broker: records written with the
//! producer's serializers come back as the same values (strings, i64,
//! JSON, schema-registry framed JSON), and a record that does not decode
//! comes back as an error naming it, between the good ones.

//!
//! JSON needs the crate's `json` feature, so this file is compiled only
//! with it: `.ci/run` runs `cargo test -p durian-consumer --features json
//! --test typed` right after the workspace tests.

#![cfg(feature = "json")]
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{admin, consumer, create_topic, start_broker};
use durian_broker::BrokerHandle;
use durian_consumer::deserializer::{
    Deserializer, I64Deserializer, JsonDeserializer, StringDeserializer,
};
use durian_consumer::schema_registry::SchemaRegistryDeserializer;
use durian_consumer::{TopicPartition, TypedConsumer, TypedResult};
use durian_core::schema_registry::{
    encode_frame, InMemorySchemaRegistry, Schema, SchemaKind, SchemaRegistry,
};
use durian_producer::schema_registry::SchemaRegistrySerializer;
use durian_producer::{
    IntegerSerializer, JsonSerializer, Producer, ProducerRecord, Serializer, StringSerializer,
};

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Order {
    item: String,
    quantity: u32,
}

/// A fresh broker with `topic` (one partition), and its bootstrap address.
async fn broker_with(topic: &str) -> (BrokerHandle, String) {
    let broker = start_broker().await;
    let bootstrap = broker.bootstrap();
    create_topic(&admin(&bootstrap).await, topic, 1).await;
    (broker, bootstrap)
}

/// A producer writing keys with `keys` and values with `values`.
fn typed_producer<K, V>(
    bootstrap: &str,
    keys: impl Serializer<K> + 'static,
    values: impl Serializer<V> + 'static,
) -> Producer<K, V> {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .serializers(keys, values)
        .build()
        .unwrap()
}

/// A consumer of partition 0 of `topic`, decoding with `keys` and `values`.
fn typed_consumer<K, V>(
    bootstrap: &str,
    topic: &str,
    keys: impl Deserializer<Output = K> + Send + Sync + 'static,
    values: impl Deserializer<Output = V> + Send + Sync + 'static,
) -> TypedConsumer<K, V> {
    let mut raw = consumer(bootstrap, None).build().unwrap();
    raw.assign([TopicPartition::new(topic, 0)]).unwrap();
    TypedConsumer::new(raw, keys, values)
}

/// Writes raw bytes, as a foreign or broken producer would.
async fn send_raw(bootstrap: &str, topic: &str, value: Bytes) {
    let producer = Producer::builder()
        .bootstrap_servers([bootstrap])
        .build()
        .unwrap();
    let record =
        ProducerRecord::<Bytes, Bytes>::new(topic, value).with_key(Bytes::from_static(b"raw"));
    producer.send_and_wait(record).await.unwrap();
    producer.close(Duration::from_secs(10)).await.unwrap();
}

/// Polls until `count` records (decoded or not) came back, within 30 s.
async fn poll_n<K, V>(consumer: &mut TypedConsumer<K, V>, count: usize) -> Vec<TypedResult<K, V>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    while out.len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} records",
            out.len()
        );
        let batch = consumer.poll(Duration::from_secs(1)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        out.extend(batch);
    }
    assert_eq!(out.len(), count, "more records than written");
    out
}

#[tokio::test]
async fn strings_and_longs_round_trip_and_a_poisoned_record_is_reported_in_place() {
    let (_broker, bootstrap) = broker_with("counts").await;
    let producer = typed_producer(&bootstrap, StringSerializer, IntegerSerializer);
    for (key, value) in [("a", 1_i64), ("b", -2), ("c", i64::MAX)] {
        let record = ProducerRecord::<String, i64>::new("counts", value).with_key(key.to_owned());
        producer.send_and_wait(record).await.unwrap();
    }
    // Three bytes where a long takes eight.
    send_raw(&bootstrap, "counts", Bytes::from_static(b"abc")).await;
    producer
        .send_and_wait(ProducerRecord::new("counts", 5_i64).with_key("d".to_owned()))
        .await
        .unwrap();

    let tp = TopicPartition::new("counts", 0);
    let mut counts = typed_consumer(&bootstrap, "counts", StringDeserializer, I64Deserializer);
    let results = poll_n(&mut counts, 5).await;

    let good: Vec<(i64, Option<String>, Option<i64>)> = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| (r.offset, r.key.clone(), r.value))
        .collect();
    assert_eq!(
        good,
        [
            (0, Some("a".to_owned()), Some(1)),
            (1, Some("b".to_owned()), Some(-2)),
            (2, Some("c".to_owned()), Some(i64::MAX)),
            (4, Some("d".to_owned()), Some(5)),
        ]
    );
    let bad = results[3].as_ref().unwrap_err();
    assert_eq!((bad.what, &bad.partition, bad.offset), ("value", &tp, 3));
    assert_eq!(bad.record.value.as_deref(), Some(&b"abc"[..]));
    assert!(bad.to_string().contains("counts-0 at offset 3"), "{bad}");
    assert!(bad.source.to_string().contains("expected 8 bytes"), "{bad}");

    // Skipping is the default: the position is past the whole poll.
    assert_eq!(counts.consumer_mut().position(&tp).await.unwrap(), 5);
    // Stopping at the bad record: seek back to it and it comes again.
    let offset = bad.offset;
    counts.consumer_mut().seek(&tp, offset).unwrap();
    let again = poll_n(&mut counts, 2).await;
    assert_eq!(again[0].as_ref().unwrap_err().offset, 3);
    assert_eq!(again[1].as_ref().unwrap().value, Some(5));
    producer.close(Duration::from_secs(10)).await.unwrap();
}

#[tokio::test]
async fn json_values_round_trip_and_bad_json_is_reported() {
    let (_broker, bootstrap) = broker_with("orders").await;
    let producer = typed_producer(&bootstrap, StringSerializer, JsonSerializer);
    let order = Order {
        item: "durian".to_owned(),
        quantity: 3,
    };
    producer
        .send_and_wait(ProducerRecord::<String, Order>::new(
            "orders",
            order.clone(),
        ))
        .await
        .unwrap();
    send_raw(&bootstrap, "orders", Bytes::from_static(b"{\"item\":")).await;

    let mut orders = typed_consumer(
        &bootstrap,
        "orders",
        StringDeserializer,
        JsonDeserializer::<Order>::new(),
    );
    let results = poll_n(&mut orders, 2).await;
    let first = results[0].as_ref().unwrap();
    assert_eq!(
        (first.key.as_deref(), first.value.as_ref()),
        (None, Some(&order))
    );
    let bad = results[1].as_ref().unwrap_err();
    assert_eq!((bad.what, bad.offset), ("value", 1));
    assert!(bad.source.to_string().starts_with("invalid JSON"), "{bad}");
    producer.close(Duration::from_secs(10)).await.unwrap();
}

#[tokio::test]
async fn schema_registry_framing_round_trips_and_unknown_ids_are_reported() {
    let (_broker, bootstrap) = broker_with("framed").await;
    let registry = Arc::new(InMemorySchemaRegistry::new());
    // Another schema first, so the orders' id is not simply 1.
    let other = Schema::new(SchemaKind::Avro, r#""long""#);
    registry.register("other-value", &other).await.unwrap();
    let schema = Schema::new(
        SchemaKind::Json,
        r#"{"type":"object","properties":{"item":{"type":"string"},"quantity":{"type":"integer"}}}"#,
    );
    let values =
        SchemaRegistrySerializer::register(&*registry, "framed-value", &schema, JsonSerializer)
            .await
            .unwrap();
    assert_eq!(values.schema_id(), 2);
    let producer = typed_producer(&bootstrap, StringSerializer, values);
    let order = Order {
        item: "mangosteen".to_owned(),
        quantity: 1,
    };
    producer
        .send_and_wait(ProducerRecord::<String, Order>::new(
            "framed",
            order.clone(),
        ))
        .await
        .unwrap();
    // Framed with an id the registry never gave out, then not framed at all.
    send_raw(&bootstrap, "framed", encode_frame(99, b"{}")).await;
    send_raw(&bootstrap, "framed", Bytes::from_static(b"{}")).await;
    producer
        .send_and_wait(ProducerRecord::<String, Order>::new(
            "framed",
            order.clone(),
        ))
        .await
        .unwrap();

    let deserializer =
        SchemaRegistryDeserializer::new(registry.clone(), JsonDeserializer::<Order>::new());
    let mut framed = typed_consumer(&bootstrap, "framed", StringDeserializer, deserializer);
    let results = poll_n(&mut framed, 4).await;
    for index in [0, 3] {
        let value = results[index].as_ref().unwrap().value.clone().unwrap();
        assert_eq!((value.schema_id, &value.value), (2, &order));
        assert_eq!(*value.schema, schema);
    }
    let unknown = results[1].as_ref().unwrap_err();
    assert_eq!(unknown.offset, 1);
    assert!(
        unknown.source.to_string().contains("unknown schema id 99"),
        "{unknown}"
    );
    let unframed = results[2].as_ref().unwrap_err();
    assert!(
        unframed
            .source
            .to_string()
            .contains("not schema-registry framed"),
        "{unframed}"
    );
    producer.close(Duration::from_secs(10)).await.unwrap();
}
