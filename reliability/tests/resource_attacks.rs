//! F5: resource attacks on a `durian broker` process while a well-behaved
//! client works beside them.
//!
//! For about 15 s, all at once, each from its own loopback address (Linux
//! routes all of 127/8 to the loopback device, so each attacker has its
//! own per-address connection count, as on a real network):
//!
//! * slowloris (127.0.0.2): 50 connections, each announcing a 50 MiB
//!   request and trickling its body a byte every 200 ms, reconnecting when
//!   closed;
//! * an idle flood (127.0.0.3): 600 connections that never send a byte;
//! * readers that never read (127.0.0.4): 16 connections with a 4 KiB
//!   receive buffer, each sending 20 Fetch requests for 8 MiB of a 16 MiB
//!   partition, then never reading;
//! * decompression bombs: 6 Produce requests at once, each a 1 MB zstd
//!   batch that inflates to 1 GiB;
//! * an auto-create storm: 10 Metadata requests naming 200 unknown topics
//!   each;
//! * a huge `max.message.bytes`: CreateTopics with 2147483647.
//!
//! The broker runs with its limits at the defaults except four, shortened
//! so the run is short (`--set`): `durian.request.body.timeout.ms=3000`,
//! `durian.response.write.timeout.ms=3000`,
//! `durian.queued.max.response.bytes=67108864` and
//! `durian.max.auto.created.topics=300`.
//!
//! Meanwhile the well-behaved client sends Metadata every 100 ms and an
//! idempotent producer writes 3000 records. The checks: every probe is
//! answered, the slowest within [`PROBE_BOUND`] (a liveness bound, far
//! above the milliseconds a quiet broker takes; the figures are printed);
//! every record acknowledged and read back exactly once (the suite's
//! checker); the broker's peak RSS under [`MEMORY_BOUND_KIB`]; each attack
//! met its limit: slowloris connections closed, idle connections beyond
//! `max.connections.per.ip` (500) closed, bombs refused with nothing
//! stored, at most 100 topics auto-created per request and 300 in all,
//! the huge `max.message.bytes` refused; no panic.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::broker_probe::{
    assert_no_panic_logged, assert_serving, client_for, count_panics, panics, request,
};
use common::fault_tolerant_producer;
use durian_core::compression::Compression;
use durian_core::{Client, Target};
use durian_reliability::bombs::{batch, bomb};
use durian_reliability::readback::{create_topic, read_all};
use durian_reliability::{check, produce, BrokerOptions, BrokerProcess, Expectations, Workload};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, FetchRequest, MetadataRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The slowest Metadata answer the well-behaved client may see.
const PROBE_BOUND: Duration = Duration::from_secs(5);
/// Bound on the broker's peak resident memory, KiB.
const MEMORY_BOUND_KIB: u64 = 512 << 10;
/// How long the attacks last.
const ATTACK: Duration = Duration::from_secs(15);

fn name(text: &str) -> TopicName {
    TopicName(StrBytes::from_string(text.to_string()))
}

/// A TCP connection to `broker` from the loopback address `source`.
async fn connect_from(
    source: [u8; 4],
    broker: SocketAddr,
    recv_buffer: Option<u32>,
) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).ok()?;
    }
    socket.bind(SocketAddr::from((source, 0))).ok()?;
    socket.connect(broker).await.ok()
}

/// Whether the broker closes `stream` (end of stream or reset) within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buffer = [0u8; 256];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// One slowloris attacker until `stop`: returns (connections made,
/// connections the broker closed).
async fn slowloris(broker: SocketAddr, stop: Arc<AtomicBool>) -> (usize, usize) {
    let mut made = 0;
    let mut closed = 0;
    while !stop.load(Ordering::Relaxed) {
        let Some(mut stream) = connect_from([127, 0, 0, 2], broker, None).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        made += 1;
        // A Produce frame announcing 50 MiB, then its body a byte at a time.
        let mut header = (50i32 << 20).to_be_bytes().to_vec();
        header.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 1]);
        if stream.write_all(&header).await.is_err() {
            closed += 1;
            continue;
        }
        loop {
            if stop.load(Ordering::Relaxed) {
                return (made, closed);
            }
            if closed_within(&mut stream, Duration::from_millis(200)).await
                || stream.write_all(&[0]).await.is_err()
            {
                closed += 1;
                break;
            }
        }
    }
    (made, closed)
}

/// 600 idle connections held until `stop`; returns how many the broker
/// closed at once (beyond `max.connections.per.ip`) and how many it kept.
async fn idle_flood(broker: SocketAddr, stop: Arc<AtomicBool>) -> (usize, usize) {
    let mut streams = Vec::new();
    for _ in 0..600 {
        if let Some(stream) = connect_from([127, 0, 0, 3], broker, None).await {
            streams.push(stream);
        }
    }
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut closed = 0;
    for stream in &mut streams {
        if closed_within(stream, Duration::from_millis(5)).await {
            closed += 1;
        }
    }
    (closed, streams.len() - closed)
}

/// Fetch requests for `topic` from a connection that never reads.
async fn stalled_reader(broker: SocketAddr, topic: &str) -> Option<TcpStream> {
    let mut stream = connect_from([127, 0, 0, 4], broker, Some(4096)).await?;
    let fetch = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(8 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(name(topic))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(8 << 20)])]);
    let mut body = BytesMut::new();
    fetch.encode(&mut body, 4).unwrap();
    let frame = request(1, 4, false, &body);
    for _ in 0..20 {
        // The broker may stop reading (its response budget is taken) or
        // close: either way this attacker is done.
        match tokio::time::timeout(Duration::from_secs(2), stream.write_all(&frame)).await {
            Ok(Ok(())) => {}
            _ => break,
        }
    }
    Some(stream)
}

/// A Produce of one decompression bomb; returns the partition's error code.
async fn throw_bomb(client: &Client, topic: &str, records: Bytes) -> i16 {
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    match client.send(Target::Any, produce).await {
        Ok(answer) => answer.responses[0].partition_responses[0].error_code,
        Err(e) => panic!("a bomb's Produce got no answer: {e}"),
    }
}

/// Metadata naming `count` unknown topics with auto-creation asked for;
/// returns how many of them now exist.
async fn auto_create_storm(client: &Client, round: usize, count: usize) -> usize {
    let topics = (0..count)
        .map(|i| {
            MetadataRequestTopic::default().with_name(Some(name(&format!("storm-{round}-{i}"))))
        })
        .collect();
    let request = MetadataRequest::default()
        .with_topics(Some(topics))
        .with_allow_auto_topic_creation(true);
    let answer = client.send(Target::Any, request).await.unwrap();
    answer.topics.iter().filter(|t| t.error_code == 0).count()
}

static EPOCH: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

/// Metadata every 100 ms until `stop`: the latencies seen, and failures.
async fn probe(client: Client, stop: Arc<AtomicBool>) -> (Vec<Duration>, Vec<String>) {
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let request = MetadataRequest::default().with_topics(Some(Vec::new()));
        match client.send(Target::Any, request).await {
            Ok(_) => latencies.push(started.elapsed()),
            Err(e) => failures.push(format!(
                "{e} (sent at {:?})",
                started.duration_since(*EPOCH)
            )),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (latencies, failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f5_resource_attacks_leave_a_well_behaved_client_served() {
    count_panics();
    let _ = *EPOCH;
    let work = tempfile::tempdir().unwrap();
    let options = BrokerOptions {
        no_auto_create: false,
        extra_args: [
            "durian.request.body.timeout.ms=3000",
            "durian.response.write.timeout.ms=3000",
            "durian.queued.max.response.bytes=67108864",
            "durian.max.auto.created.topics=300",
        ]
        .iter()
        .flat_map(|setting| ["--set".to_string(), setting.to_string()])
        .collect(),
        ..BrokerOptions::default()
    };
    let mut broker = BrokerProcess::start(work.path(), options).unwrap();
    let bootstrap = broker.bootstrap();
    let address: SocketAddr = bootstrap.parse().unwrap();
    let client = client_for(&bootstrap);
    assert_serving(&client, &mut broker, "start").await;

    // What the stalled readers will fetch: 16 MiB in one partition.
    create_topic(&bootstrap, "big", 1).await.unwrap();
    create_topic(&bootstrap, "steady", 3).await.unwrap();
    create_topic(&bootstrap, "bombed", 1).await.unwrap();
    let filler = fault_tolerant_producer(&bootstrap);
    let mut fill = Workload::new("big", 1, 16_384);
    fill.payload = 1024;
    let filled = produce(&filler, &fill, |_| {}).await;
    filler.close(Duration::from_secs(10)).await.unwrap();
    assert_eq!(
        filled.count(|o| matches!(o, durian_reliability::Outcome::Acked { .. })),
        16_384
    );

    let stop = Arc::new(AtomicBool::new(false));
    let prober = tokio::spawn(probe(client_for(&bootstrap), stop.clone()));
    let loris: Vec<_> = (0..50)
        .map(|_| tokio::spawn(slowloris(address, stop.clone())))
        .collect();
    let flood = tokio::spawn(idle_flood(address, stop.clone()));
    let readers: Vec<_> = (0..16)
        .map(|_| tokio::spawn(stalled_reader(address, "big")))
        .collect();

    let producer = fault_tolerant_producer(&bootstrap);
    let mut workload = Workload::new("steady", 3, 3_000);
    workload.pause_every = 100;
    workload.pause = Duration::from_millis(200);
    let sending = {
        let producer = producer.clone();
        let workload = workload.clone();
        tokio::spawn(async move { produce(&producer, &workload, |_| {}).await })
    };

    // Bombs, the storm and the huge setting from the attacking side, on
    // a client of its own that waits as long as they take.
    let attacker = Client::new(
        durian_core::ClientConfig::builder()
            .bootstrap_servers([bootstrap.as_str()])
            .request_timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let zstd = bomb(Compression::Zstd, 1_000_000, 1 << 30);
    let records = batch(Compression::Zstd, &zstd.compressed, 1000, now);
    let bombs: Vec<_> = (0..6)
        .map(|_| {
            let client = attacker.clone();
            let records = records.clone();
            tokio::spawn(async move { throw_bomb(&client, "bombed", records).await })
        })
        .collect();
    let mut created_per_request = Vec::new();
    for round in 0..10 {
        created_per_request.push(auto_create_storm(&attacker, round, 200).await);
    }
    let huge = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name("huge-messages"))
            .with_num_partitions(1)
            .with_replication_factor(1)
            .with_configs(vec![CreatableTopicConfig::default()
                .with_name(StrBytes::from_static_str("max.message.bytes"))
                .with_value(Some(StrBytes::from_static_str("2147483647")))])]);
    let huge_code = attacker.send(Target::Any, huge).await.unwrap().topics[0].error_code;
    let mut bomb_codes = Vec::new();
    for bomb in bombs {
        bomb_codes.push(bomb.await.unwrap());
    }

    let attack_started = Instant::now();
    let ledger = sending.await.unwrap();
    tokio::time::sleep(ATTACK.saturating_sub(attack_started.elapsed())).await;
    stop.store(true, Ordering::Relaxed);
    let (latencies, failures) = prober.await.unwrap();
    let (mut loris_made, mut loris_closed) = (0, 0);
    for attacker in loris {
        let (made, closed) = attacker.await.unwrap();
        loris_made += made;
        loris_closed += closed;
    }
    let (flood_closed, flood_kept) = flood.await.unwrap();
    let mut stalled = Vec::new();
    for reader in readers {
        stalled.extend(reader.await.unwrap());
    }
    let memory = broker.memory().unwrap();
    producer.close(Duration::from_secs(10)).await.unwrap();

    assert_serving(&client, &mut broker, "the attacks").await;
    let read = read_all(&bootstrap, "steady", 3, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}\nbroker log:\n{}", broker.log_tail(40)));
    let report = check(
        workload.run_id,
        &ledger,
        &read,
        Expectations { idempotent: true },
    );
    let stored_bombs = read_all(&bootstrap, "bombed", 1, Duration::from_secs(30))
        .await
        .unwrap()
        .len();
    let mut sorted = latencies.clone();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize];
    let total_created: usize = created_per_request.iter().sum();
    eprintln!(
        "F5: {} probes, p50 {:?} p99 {:?} max {:?}, failed {failures:?}; peak RSS {} MiB; \
         slowloris {loris_closed}/{loris_made} closed; idle {flood_closed} closed, {flood_kept} kept; \
         {} stalled readers; bombs {bomb_codes:?}; storm {created_per_request:?}; huge max.message.bytes -> {huge_code}; {report}",
        sorted.len(),
        at(0.5),
        at(0.99),
        sorted.last().copied().unwrap_or_default(),
        memory.peak_kib >> 10,
        stalled.len()
    );

    assert!(
        failures.is_empty(),
        "the well-behaved client was refused: {failures:?}"
    );
    assert!(sorted.len() >= 50, "only {} probes ran", sorted.len());
    assert!(
        *sorted.last().unwrap() < PROBE_BOUND,
        "the slowest probe took {:?}",
        sorted.last().unwrap()
    );
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.acked, 3_000, "{report}");
    assert!(
        memory.peak_kib < MEMORY_BOUND_KIB,
        "peak RSS {} KiB over the bound {MEMORY_BOUND_KIB} KiB",
        memory.peak_kib
    );
    // Slowloris: each connection ends within the body deadline, so over
    // 15 s each of the attacker's connections was closed by the broker.
    assert!(
        loris_made >= 100,
        "slowloris made only {loris_made} connections"
    );
    // The connections open when the attack stopped were not closed yet.
    assert!(
        loris_closed + 50 >= loris_made,
        "slowloris: {loris_closed} of {loris_made} closed"
    );
    // max.connections.per.ip = 500 of 600.
    assert_eq!(flood_kept, 500, "idle connections kept");
    assert_eq!(flood_closed, 100, "idle connections refused");
    // CORRUPT_MESSAGE (decompressed past the limit) or REQUEST_TIMED_OUT
    // (no decompression budget within its wait), and nothing stored.
    assert!(
        bomb_codes.iter().all(|c| *c == 2 || *c == 7),
        "{bomb_codes:?}"
    );
    assert!(
        bomb_codes.contains(&2),
        "no bomb was decompressed and refused: {bomb_codes:?}"
    );
    assert_eq!(stored_bombs, 0, "a bomb was stored");
    assert!(
        created_per_request.iter().all(|n| *n <= 100),
        "{created_per_request:?}"
    );
    assert!(total_created <= 300, "{total_created} topics auto-created");
    assert!(
        total_created >= 100,
        "the storm created {total_created} topics: the cap, not a failure, must stop it"
    );
    assert_ne!(huge_code, 0, "max.message.bytes 2147483647 was accepted");
    drop(stalled);
    assert_no_panic_logged(&broker);
    assert_eq!(panics(), 0, "a panic in the test process");
}
