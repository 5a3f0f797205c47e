//! The producer against Tansu, an independent Kafka-protocol broker.
//!
//! The broker binary comes from `DURIAN_TANSU_BIN`, else
//! `<repo>/.peers/bin/tansu` (installed by scripts/install-peers.sh). When it
//! is missing the tests are skipped with a message, unless
//! `DURIAN_REQUIRE_PEERS=1`, in which case they fail.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{admin_client, create_topic, read_partition, value_of};
use durian_producer::{Compression, Producer, ProducerRecord};
use futures::future::join_all;
use tokio::time::Instant;

const INSTALL_HINT: &str =
    "Tansu not found: run scripts/install-peers.sh (creates .peers/bin/tansu) \
     or set DURIAN_TANSU_BIN to a tansu binary";

fn tansu_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("DURIAN_TANSU_BIN") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let repo_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    Some(repo_root.join(".peers/bin/tansu")).filter(|p| p.is_file())
}

/// The Tansu binary, or `None` after printing why the test is skipped.
fn require_tansu() -> Option<PathBuf> {
    match tansu_binary() {
        Some(path) => Some(path),
        None if std::env::var("DURIAN_REQUIRE_PEERS").as_deref() == Ok("1") => {
            panic!("{INSTALL_HINT}")
        }
        None => {
            eprintln!("skipping: {INSTALL_HINT}");
            None
        }
    }
}

/// A Tansu process with in-memory storage, killed on drop.
struct Tansu {
    address: String,
    child: Child,
}

impl Tansu {
    async fn start(binary: PathBuf) -> Tansu {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        let child = Command::new(binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start tansu");
        let tansu = Tansu { address, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(&tansu.address)
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {}",
                tansu.address
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tansu
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn produce_in_order(codec: Compression, idempotent: bool, topic: &str) {
    let Some(binary) = require_tansu() else {
        return;
    };
    let tansu = Tansu::start(binary).await;
    let admin = admin_client(&tansu.address);
    create_topic(&admin, topic, 3).await;
    let producer = Producer::builder()
        .bootstrap_servers([tansu.address.clone()])
        .compression(codec)
        .idempotence(idempotent)
        .configure(|c| {
            if !idempotent {
                c.acks = durian_producer::Acks::Leader;
                c.max_in_flight = 1;
            }
        })
        .build()
        .unwrap();
    let per_partition = 3_000;
    let mut deliveries = Vec::new();
    for n in 0..per_partition {
        for partition in 0..3 {
            let record =
                ProducerRecord::new(topic, value_of(partition, n)).with_partition(partition);
            deliveries.push(producer.send(record).await.unwrap());
        }
    }
    for result in join_all(deliveries).await {
        result.unwrap();
    }
    producer.close(Duration::from_secs(10)).await.unwrap();
    for partition in 0..3 {
        let records = read_partition(&admin, topic, partition, per_partition).await;
        for (n, record) in records.iter().enumerate() {
            assert_eq!(
                record.value.as_ref().unwrap(),
                &value_of(partition, n),
                "{topic}-{partition} #{n}"
            );
        }
    }
}

#[tokio::test]
async fn idempotent_records_arrive_in_order_on_tansu() {
    produce_in_order(Compression::None, true, "tansu-idempotent").await;
}

#[tokio::test]
async fn compressed_acks_one_records_arrive_in_order_on_tansu() {
    produce_in_order(Compression::Lz4, false, "tansu-lz4").await;
}
