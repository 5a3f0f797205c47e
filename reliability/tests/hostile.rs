//! F1–F4: hostile bytes.
//!
//! F1 to the broker process over TCP: length prefixes −1, 0 and huge, array
//! counts larger than the frame (classic and flexible encodings), truncated
//! frames, hundreds of random frames → each bad connection is closed or
//! answered, the broker keeps serving a client that was connected all
//! along, never panics, and its peak RSS stays bounded.
//! F2 a Produce carrying a small batch that decompresses to up to 1 GiB,
//! for each codec → the broker decodes it within its decompression limit and
//! refuses the Produce with CORRUPT_MESSAGE, storing nothing; its memory
//! stays bounded.
//! F3 the client against a fake server answering hostile frames → a clear
//! error within the timeouts, no panic.
//! F4 the client pointed at a port that does not speak Kafka (an HTTP-ish
//! listener) → a clear error.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::broker_probe::{
    assert_no_panic_logged, assert_serving, client_for, count_panics, panics, request,
};
use common::seed;
use durian_core::compression::Compression;
use durian_core::Target;
use durian_reliability::bombs::{batch, bomb};
use durian_reliability::readback::create_topic;
use durian_reliability::{BrokerOptions, BrokerProcess};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    BrokerId, ListOffsetsRequest, MetadataRequest, ProduceRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use rand::{Rng, RngCore, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Generous bound on the broker's peak resident memory, KiB.
const MEMORY_BOUND_KIB: u64 = 512 << 10;

/// What the broker did with a hostile connection.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Closed it (EOF or reset).
    Closed,
    /// Sent something back (an error response) and kept it open.
    Answered,
    /// Neither within the wait.
    Silent,
}

async fn probe(address: SocketAddr, bytes: &[u8], close_write: bool, wait: Duration) -> Verdict {
    let Ok(mut stream) = TcpStream::connect(address).await else {
        return Verdict::Closed;
    };
    if stream.write_all(bytes).await.is_err() {
        return Verdict::Closed;
    }
    if close_write {
        let _ = stream.shutdown().await;
    }
    let mut buffer = [0u8; 1024];
    match tokio::time::timeout(wait, stream.read(&mut buffer)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Verdict::Closed,
        Ok(Ok(_)) => Verdict::Answered,
        Err(_) => Verdict::Silent,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_hostile_frames_to_the_broker_are_refused_and_it_keeps_serving() {
    count_panics();
    let seed = seed();
    eprintln!("F1 seed {seed} (DURIAN_SEED reruns it)");
    let work = tempfile::tempdir().unwrap();
    let mut broker = BrokerProcess::start(work.path(), BrokerOptions::default()).unwrap();
    let address: SocketAddr = broker.bootstrap().parse().unwrap();
    // A well-behaved client connected before and during the attack.
    let client = client_for(&broker.bootstrap());
    assert_serving(&client, &mut broker, "start").await;
    let wait = Duration::from_secs(5);

    let huge_count = 0x7fff_ffffi32.to_be_bytes();
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("length prefix -1", (-1i32).to_be_bytes().to_vec(), false),
        ("length prefix 0", 0i32.to_be_bytes().to_vec(), false),
        (
            "length prefix i32::MAX",
            i32::MAX.to_be_bytes().to_vec(),
            false,
        ),
        (
            "length prefix 200 MiB",
            (200i32 << 20).to_be_bytes().to_vec(),
            false,
        ),
        (
            "Metadata v1 with 2^31-1 topics",
            request(3, 1, false, &huge_count),
            false,
        ),
        (
            "Metadata v12 with a compact array of 2^32-2 topics",
            request(3, 12, true, &[0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0]),
            false,
        ),
        (
            "Produce v3 with 2^31-1 topics",
            request(
                0,
                3,
                false,
                &[
                    &(-1i16).to_be_bytes()[..],
                    &(-1i16).to_be_bytes(),
                    &1000i32.to_be_bytes(),
                    &huge_count,
                ]
                .concat(),
            ),
            false,
        ),
        (
            "ApiVersions with an unknown version 999",
            request(18, 999, false, &[]),
            false,
        ),
        (
            "unknown API key 32000",
            request(32000, 0, false, &[]),
            false,
        ),
        (
            "frame cut short (declares 100, sends 10)",
            [&100i32.to_be_bytes()[..], &[0u8; 6]].concat(),
            true,
        ),
        (
            "header cut inside the client id",
            [&10i32.to_be_bytes()[..], &[0, 3, 0, 1, 0, 0, 0, 1, 0, 50]].concat(),
            true,
        ),
    ];
    for (name, bytes, close_write) in &cases {
        let verdict = probe(address, bytes, *close_write, wait).await;
        eprintln!("F1 {name}: {verdict:?}");
        assert_ne!(
            verdict,
            Verdict::Silent,
            "{name}: the broker neither answered nor closed"
        );
        assert_serving(&client, &mut broker, name).await;
    }

    // Random frames: a valid size prefix around random headers and bodies,
    // and plain random bytes, each on its own connection, 50 at a time.
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut frames = Vec::new();
    for n in 0..400 {
        let mut body = vec![0u8; rng.random_range(0..300)];
        rng.fill_bytes(&mut body);
        frames.push(if n % 4 == 3 {
            let mut raw = vec![0u8; rng.random_range(1..64)];
            rng.fill_bytes(&mut raw);
            raw
        } else {
            request(
                rng.random_range(0..75),
                rng.random_range(0..14),
                n % 2 == 0,
                &body,
            )
        });
    }
    for chunk in frames.chunks(50) {
        let probes = chunk.iter().map(|frame| {
            let frame = frame.clone();
            tokio::spawn(async move { probe(address, &frame, true, Duration::from_secs(5)).await })
        });
        for handle in probes.collect::<Vec<_>>() {
            let verdict = handle.await.unwrap();
            assert_ne!(
                verdict,
                Verdict::Silent,
                "a random frame left the connection hanging"
            );
        }
        assert_serving(&client, &mut broker, "random frames").await;
    }

    let memory = broker.memory().unwrap();
    eprintln!("F1 broker memory: {memory:?}");
    assert!(memory.peak_kib < MEMORY_BOUND_KIB, "{memory:?}");
    assert_no_panic_logged(&broker);
    assert_eq!(panics(), 0, "a panic happened in the test process");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f2_decompression_bombs_keep_broker_and_consumer_memory_bounded() {
    count_panics();
    let work = tempfile::tempdir().unwrap();
    let mut broker = BrokerProcess::start(work.path(), BrokerOptions::default()).unwrap();
    let bootstrap = broker.bootstrap();
    let client = client_for(&bootstrap);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for codec in [
        Compression::Gzip,
        Compression::Zstd,
        Compression::Lz4,
        Compression::Snappy,
    ] {
        let topic = format!("bomb-{}", codec.name());
        create_topic(&bootstrap, &topic, 1).await.unwrap();
        // Just under the broker's default max.message.bytes (1 MiB).
        let bomb = bomb(codec, 1_000_000, 1 << 30);
        let records = batch(codec, &bomb.compressed, 1000, now);
        let produce = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(10_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.clone())))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(records.clone()))])]);
        let answer = client.send(Target::Any, produce).await;
        let code = answer
            .as_ref()
            .ok()
            .and_then(|r| r.responses.first())
            .and_then(|t| t.partition_responses.first())
            .map(|p| p.error_code);
        eprintln!(
            "F2 {}: {} bytes -> {} MiB; produce answer code {code:?}",
            codec.name(),
            records.len(),
            bomb.expands_to >> 20
        );
        assert!(
            answer.is_ok(),
            "produce failed at the transport level: {answer:?}"
        );
        assert_serving(&client, &mut broker, "a bomb produce").await;
        // ListOffsets by timestamp makes the broker look inside the batch
        // for the first record at or after the time: its decompression.
        let lookup = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.clone())))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(now - 1)])]);
        let found = client.send(Target::Any, lookup).await;
        let found = found.map(|r| {
            r.topics
                .first()
                .and_then(|t| t.partitions.first())
                .map(|p| (p.error_code, p.offset))
        });
        eprintln!("F2 {}: ListOffsets by time: {found:?}", codec.name());
        assert_serving(&client, &mut broker, "a ListOffsets into a bomb").await;
        assert_eq!(
            code,
            Some(2),
            "{}: the broker must refuse a bomb with CORRUPT_MESSAGE",
            codec.name()
        );
        let memory = broker.memory().unwrap();
        eprintln!("F2 {}: broker memory {memory:?}", codec.name());
        assert!(memory.peak_kib < MEMORY_BOUND_KIB, "{memory:?}");
    }
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak = own
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or_default()
        .to_owned();
    eprintln!("F2 test process {peak}");
    let peak_kib: u64 = peak
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        peak_kib < MEMORY_BOUND_KIB,
        "test process (consumer side) peak {peak_kib} KiB"
    );
    assert_no_panic_logged(&broker);
    assert_eq!(panics(), 0, "a panic happened in the test process");
}

/// Builds a fake server's answer from the request's correlation id.
type Reply = fn(i32) -> Vec<u8>;

/// A fake "broker": for every connection it reads one request frame and
/// answers with `reply(correlation id)`, then keeps the connection open
/// until the client goes away.
async fn fake_server(reply: Reply) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut size = [0u8; 4];
                if stream.read_exact(&mut size).await.is_err() {
                    return;
                }
                let size = i32::from_be_bytes(size).clamp(0, 1 << 20) as usize;
                let mut frame = vec![0u8; size];
                if stream.read_exact(&mut frame).await.is_err() || frame.len() < 8 {
                    return;
                }
                let correlation = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
                let _ = stream.write_all(&reply(correlation)).await;
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    });
    address
}

fn with_size(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// The client asks a hostile server for metadata: it must fail with an
/// error (not hang, not panic) within its timeouts.
async fn client_refuses(name: &str, address: SocketAddr) {
    let client = client_for(&address.to_string());
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(
        Duration::from_secs(30),
        client.send(Target::Any, MetadataRequest::default()),
    )
    .await;
    match outcome {
        Ok(Err(error)) => {
            let text = error.to_string();
            eprintln!("F3/F4 {name}: after {:?}: {text}", started.elapsed());
            assert!(!text.is_empty(), "{name}: empty error message");
        }
        Ok(Ok(response)) => panic!("{name}: the client accepted {response:?}"),
        Err(_) => panic!("{name}: the client neither failed nor succeeded within 30 s"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f3_hostile_responses_give_the_client_clear_errors() {
    count_panics();
    fn size_minus_one(_: i32) -> Vec<u8> {
        (-1i32).to_be_bytes().to_vec()
    }
    fn size_zero(_: i32) -> Vec<u8> {
        0i32.to_be_bytes().to_vec()
    }
    fn size_huge(_: i32) -> Vec<u8> {
        i32::MAX.to_be_bytes().to_vec()
    }
    fn truncated(c: i32) -> Vec<u8> {
        [&100i32.to_be_bytes()[..], &c.to_be_bytes()].concat()
    }
    fn wrong_correlation(c: i32) -> Vec<u8> {
        with_size(&[&c.wrapping_add(1000).to_be_bytes()[..], &[0, 0, 0, 0, 0, 0]].concat())
    }
    fn huge_api_keys_count(c: i32) -> Vec<u8> {
        // ApiVersions body: error code 0, then the api_keys array count,
        // as a classic int32 and as a compact varint (either version).
        with_size(
            &[
                &c.to_be_bytes()[..],
                &0i16.to_be_bytes(),
                &[0xff, 0xff, 0xff, 0xff, 0x0f],
            ]
            .concat(),
        )
    }
    fn classic_huge_count(c: i32) -> Vec<u8> {
        with_size(
            &[
                &c.to_be_bytes()[..],
                &0i16.to_be_bytes(),
                &0x7fff_ffffi32.to_be_bytes(),
            ]
            .concat(),
        )
    }
    fn random_bytes(c: i32) -> Vec<u8> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(c as u64);
        let mut body = vec![0u8; 200];
        rng.fill_bytes(&mut body);
        with_size(&[&c.to_be_bytes()[..], &body].concat())
    }
    let cases: [(&str, Reply); 8] = [
        ("response size -1", size_minus_one),
        ("response size 0", size_zero),
        ("response size i32::MAX", size_huge),
        ("response cut short", truncated),
        ("wrong correlation id", wrong_correlation),
        (
            "ApiVersions with a compact count of 2^32-2",
            huge_api_keys_count,
        ),
        (
            "ApiVersions with an int32 count of 2^31-1",
            classic_huge_count,
        ),
        ("random response body", random_bytes),
    ];
    for (name, reply) in cases {
        client_refuses(name, fake_server(reply).await).await;
    }
    assert_eq!(panics(), 0, "a panic happened in the test process");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f4_a_non_kafka_port_gives_the_client_a_clear_error() {
    count_panics();
    // An HTTP-ish server: whatever comes in, it answers 400 and closes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 512];
                let _ = stream.read(&mut buffer).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nConnection: close\r\n\r\nBad Request")
                    .await;
            });
        }
    });
    client_refuses("HTTP server", address).await;
    // A server that accepts and says nothing: the setup timeout must end it.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_address = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    client_refuses("silent server", silent_address).await;
    assert_eq!(panics(), 0, "a panic happened in the test process");
}
