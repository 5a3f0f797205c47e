//! The Apache Kafka harness itself: a node starts, answers, survives a
//! SIGTERM and a SIGKILL restart on its own ports and data.
//!
//! Skipped with a message without the jars (scripts/install-peers.sh),
//! failed instead under `DURIAN_REQUIRE_PEERS=1`.

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use durian_testkit::KafkaCluster;
use tokio::net::TcpStream;

#[tokio::test]
async fn a_single_node_starts_stops_and_restarts() {
    let started = Instant::now();
    let Some(mut kafka) = KafkaCluster::single().await else {
        return;
    };
    eprintln!("one Kafka node ready in {:?}", started.elapsed());
    assert_eq!(kafka.node_ids(), [1]);
    assert_eq!(kafka.bootstrap(), kafka.node_address(1));
    TcpStream::connect(kafka.bootstrap()).await.unwrap();

    let stopping = Instant::now();
    kafka.stop(1).await;
    eprintln!("stopped with SIGTERM in {:?}", stopping.elapsed());
    assert!(
        TcpStream::connect(kafka.bootstrap()).await.is_err(),
        "a stopped node still accepts connections"
    );
    let restarting = Instant::now();
    kafka.restart(1).await;
    eprintln!("restarted in {:?}", restarting.elapsed());
    kafka.kill(1);
    kafka.restart(1).await;
    TcpStream::connect(kafka.bootstrap()).await.unwrap();
}
