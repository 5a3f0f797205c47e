//! The producer against durian's broker while it fails: a restart on the
//! same data directory mid-run, an outage longer than delivery.timeout.ms,
//! and a full buffer while the broker is gone.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use durian_producer::{Producer, ProducerError, ProducerRecord};
use futures::future::join_all;
use tokio::time::Instant;

fn producer_for(
    bootstrap: &str,
    delivery_timeout: Duration,
    request_timeout: Duration,
) -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .delivery_timeout(delivery_timeout)
        .configure(|c| {
            c.client.request_timeout = request_timeout;
            c.client.retry_backoff = Duration::from_millis(20);
            c.client.retry_backoff_max = Duration::from_millis(200);
            c.client.reconnect_backoff = Duration::from_millis(20);
            c.client.reconnect_backoff_max = Duration::from_millis(200);
            c.client.connection_setup_timeout = Duration::from_secs(2);
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_broker_restart_mid_run_loses_duplicates_and_reorders_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker(Some(dir.path()), "127.0.0.1:0").await;
    let address = broker.bootstrap();
    let admin = admin_client(&address);
    create_topic(&admin, "restart", 6).await;
    let producer = producer_for(&address, Duration::from_secs(60), Duration::from_secs(5));

    let per_partition = 10_000;
    let sending = tokio::spawn({
        let producer = producer.clone();
        async move {
            let mut deliveries = Vec::new();
            for n in 0..per_partition {
                for partition in 0..6 {
                    let record = ProducerRecord::new("restart", value_of(partition, n))
                        .with_partition(partition);
                    deliveries.push(producer.send(record).await.unwrap());
                }
                if n % 100 == 0 {
                    // Spread the run out so the restart falls in the middle.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            deliveries
        }
    });
    // Restart once a good part has been acknowledged.
    let deadline = Instant::now() + Duration::from_secs(30);
    while producer.metrics().records_sent < 10_000 {
        assert!(Instant::now() < deadline, "no progress before the restart");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    broker.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let broker = restart_broker(dir.path(), &address).await;

    let deliveries = sending.await.unwrap();
    let results = join_all(deliveries).await;
    let mut next_offset = [0i64; 6];
    for result in results {
        let written = result.expect("every record is acknowledged across the restart");
        let slot = &mut next_offset[written.partition as usize];
        assert!(
            written.offset == -1 || written.offset >= *slot,
            "offsets go forward"
        );
        if written.offset >= 0 {
            *slot = written.offset + 1;
        }
    }
    assert!(
        producer.metrics().retries > 0,
        "the restart should have forced retries"
    );
    producer.close(Duration::from_secs(10)).await.unwrap();
    for partition in 0..6 {
        let records = read_partition(&admin, "restart", partition, per_partition).await;
        for (n, record) in records.iter().enumerate() {
            assert_eq!(record.offset, n as i64, "contiguous offsets");
            assert_eq!(
                record.value.as_ref().unwrap(),
                &value_of(partition, n),
                "partition {partition}: record {n} lost, duplicated or out of order"
            );
        }
        assert_eq!(
            high_watermark(&admin, "restart", partition).await,
            per_partition as i64,
            "no duplicate after the last record"
        );
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_outage_past_delivery_timeout_fails_pending_records_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start_broker(Some(dir.path()), "127.0.0.1:0").await;
    let address = broker.bootstrap();
    let admin = admin_client(&address);
    create_topic(&admin, "outage", 2).await;
    let delivery_timeout = Duration::from_secs(3);
    let producer = producer_for(&address, delivery_timeout, Duration::from_secs(2));
    producer
        .send_and_wait(ProducerRecord::new("outage", "before").with_partition(0))
        .await
        .unwrap();

    broker.shutdown().await.unwrap();
    let sent_at = Instant::now();
    let mut pending = Vec::new();
    for n in 0..200 {
        let record =
            ProducerRecord::new("outage", value_of(n % 2, n as usize)).with_partition(n % 2);
        pending.push(producer.send(record).await.unwrap());
    }
    for result in join_all(pending).await {
        let error = result.expect_err("the broker is down");
        assert!(
            matches!(error, ProducerError::DeliveryTimeout { .. }),
            "{error}"
        );
    }
    let elapsed = sent_at.elapsed();
    assert!(
        elapsed <= delivery_timeout + Duration::from_secs(1),
        "records failed after {elapsed:?}, more than delivery.timeout.ms + 1 s"
    );

    let broker = restart_broker(dir.path(), &address).await;
    let after = tokio::time::timeout(
        Duration::from_secs(20),
        producer.send_and_wait(ProducerRecord::new("outage", "after").with_partition(0)),
    )
    .await
    .expect("a send after the outage finishes")
    .expect("and succeeds");
    assert_eq!(after.partition, 0);
    // The expired batches had sequence numbers: the gap forced a new epoch.
    assert!(
        producer.metrics().epoch_bumps >= 1,
        "{:?}",
        producer.metrics()
    );
    let records = read_partition(&admin, "outage", 0, 2).await;
    let values: Vec<_> = records.iter().map(|r| r.value.clone().unwrap()).collect();
    assert_eq!(values, [&b"before"[..], &b"after"[..]]);
    producer.close(Duration::from_secs(10)).await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_full_buffer_blocks_send_then_fails_without_exceeding_buffer_memory() {
    fill_the_buffer_with_the_broker_gone(4096).await;
}

/// The same with batches larger than the whole buffer: they reserve what
/// they hold and grow, and a batch that cannot grow blocks `send` as a
/// new batch without room does.
#[tokio::test]
async fn a_batch_that_cannot_grow_blocks_send_then_fails_without_exceeding_buffer_memory() {
    fill_the_buffer_with_the_broker_gone(1024 * 1024).await;
}

async fn fill_the_buffer_with_the_broker_gone(batch_size: usize) {
    let broker = start_broker(None, "127.0.0.1:0").await;
    let admin = admin_client(&broker.bootstrap());
    create_topic(&admin, "full", 3).await;
    let buffer_memory = 64 * 1024;
    let max_block = Duration::from_millis(500);
    let producer = Producer::builder()
        .bootstrap_servers([broker.bootstrap()])
        .buffer_memory(buffer_memory)
        .batch_size(batch_size)
        .max_block(max_block)
        .build()
        .unwrap();
    producer
        .send_and_wait(ProducerRecord::new("full", "warm-up"))
        .await
        .unwrap();
    broker.shutdown().await.unwrap();

    let value = vec![7u8; 1000];
    let mut pending = Vec::new();
    let error = loop {
        let started = Instant::now();
        match producer
            .send(ProducerRecord::new("full", value.clone()))
            .await
        {
            Ok(delivery) => pending.push(delivery),
            Err(error) => {
                assert!(
                    started.elapsed() >= max_block,
                    "send failed before max.block.ms"
                );
                break error;
            }
        }
        let metrics = producer.metrics();
        assert!(
            metrics.buffer_in_use <= metrics.buffer_limit,
            "{} bytes buffered over a {} byte limit",
            metrics.buffer_in_use,
            metrics.buffer_limit
        );
        assert!(pending.len() < 1_000, "send never blocked");
    };
    assert!(matches!(error, ProducerError::BufferFull { .. }), "{error}");
    assert!(error.to_string().contains("buffer.memory"), "{error}");
    let metrics = producer.metrics();
    assert!(metrics.buffer_in_use <= buffer_memory as u64);
    assert!(
        metrics.buffer_in_use > buffer_memory as u64 / 2,
        "the buffer really filled up"
    );
    // Closing with the broker gone fails what is buffered instead of dropping it.
    let closed = producer.close(Duration::from_millis(200)).await;
    assert!(matches!(closed, Err(ProducerError::Aborted)), "{closed:?}");
    for result in join_all(pending).await {
        assert!(result.is_err());
    }
    assert_eq!(producer.metrics().buffer_in_use, 0);
}
