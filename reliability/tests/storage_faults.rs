//! F6: a failing disk under an idempotent producer. ENOSPC and EIO are
//! injected (`durian_broker::StorageFaults`) at the log write, index
//! write and roll of the in-process cluster's storage while records flow:
//! no acknowledged record may be lost or duplicated, and the failures
//! reach the producer as Kafka reports them (KAFKA_STORAGE_ERROR, a
//! retriable error), so it retries and every record is acknowledged.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{producer_with, seed, sized};
use durian_broker::testing::Cluster;
use durian_broker::{FaultKind, FaultPoint, LogConfig};
use durian_reliability::readback::read_all;
use durian_reliability::{check, produce, Expectations, Workload};

const IDEMPOTENT: Expectations = Expectations { idempotent: true };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f6_enospc_and_eio_at_log_write_index_write_and_roll_lose_and_duplicate_nothing() {
    let seed = seed();
    eprintln!("F6 seed {seed} (DURIAN_SEED reruns it)");
    let cluster = Cluster::builder()
        .nodes(1)
        .seed(seed)
        // Small segments (below Kafka's topic minimum, allowed through the
        // struct as Kafka's internal.segment.bytes) so rolls happen often.
        .log_config(LogConfig {
            segment_bytes: 64 * 1024,
            index_interval_bytes: 1024,
            retention_ms: None,
            ..LogConfig::default()
        })
        .start()
        .await
        .unwrap();
    let partitions = 3;
    cluster.create_topic("f6", partitions).await.unwrap();
    let faults = cluster.storage_faults();
    let bootstrap = cluster.bootstrap();
    // Batches no larger than a segment. The broker refuses a partition's
    // records larger than segment.bytes with RECORD_LIST_TOO_LARGE, as
    // Kafka does, and the producer fails such a batch without a retry
    // (BatchLargerThanSegment), as the Java client does. With the default
    // batch.size (1,000,000) over these 64 KiB segments (below Kafka's 1 MiB
    // minimum, which no default batch reaches) batches grow past a segment
    // while a partition waits out a retry after a fault, and are refused:
    // that refusal is what a misconfiguration gets (docs/RELIABILITY.md,
    // F6), not what F6 tests, which is that storage faults are retried.
    let producer = producer_with(&bootstrap, |c| c.batch_size = 16 * 1024);
    let mut workload = Workload::new("f6", partitions, sized("DURIAN_F6_RECORDS", 20_000));
    workload.pause_every = 200;
    workload.pause = Duration::from_millis(2);

    // Arm one fault every 500 sends, cycling through the points and both
    // errors; an armed point fails its next operation.
    let points = [
        FaultPoint::LogWrite,
        FaultPoint::IndexWrite,
        FaultPoint::Roll,
    ];
    let kinds = [FaultKind::NoSpace, FaultKind::Io];
    let mut armed = 0usize;
    let ledger = produce(&producer, &workload, |n| {
        if n % 500 == 250 {
            let point = points[armed % points.len()];
            let kind = kinds[(armed / points.len()) % kinds.len()];
            faults.inject(point, kind, 1);
            armed += 1;
        }
    })
    .await;
    let metrics = producer.metrics();
    producer.close(Duration::from_secs(10)).await.unwrap();
    let read = read_all(&bootstrap, "f6", partitions, Duration::from_secs(60))
        .await
        .unwrap();
    let report = check(workload.run_id, &ledger, &read, IDEMPOTENT);
    let hits: Vec<_> = points.iter().map(|p| (p, faults.hits(*p))).collect();
    eprintln!(
        "F6: {} records, faults armed {armed}, hits {hits:?}, {} retries, {} epoch bumps; {report}",
        workload.records, metrics.retries, metrics.epoch_bumps
    );
    for (point, hit) in &hits {
        assert!(*hit > 0, "no {point:?} fault fired; nothing was tested");
    }
    assert!(
        metrics.retries > 0,
        "the failed writes were not retried: {report}"
    );
    assert!(report.is_clean(), "seed {seed}: {report}");
    assert_eq!(
        (report.acked, report.read),
        (report.sent, report.sent),
        "{report}"
    );
    cluster.shutdown().await.unwrap();
}
