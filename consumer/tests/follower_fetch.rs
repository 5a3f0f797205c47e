//! Follower fetching (KIP-392) against two scripted brokers: the leader
//! (node 1) names node 2 as the preferred read replica, the consumer reads
//! from node 2, and once node 2 refuses (NOT_LEADER_OR_FOLLOWER) it reads
//! the rest from the leader, losing and repeating nothing.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use durian_consumer::{Consumer, TopicPartition};
use durian_core::record::{set_base_offset, BatchWriter, NO_HEADERS};
use durian_core::ClientConfig;
use durian_testkit::scripted::{api_versions, encode, FakeBroker, Reply, Request};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, MetadataRequest, MetadataResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

const TOPIC: &str = "racked";
const LEADER: i32 = 1;
const FOLLOWER: i32 = 2;
/// NOT_LEADER_OR_FOLLOWER.
const NOT_LEADER_OR_FOLLOWER: i16 = 6;

/// What both fake brokers share: the log, who serves, who served what.
struct Cluster {
    /// The ports of nodes 1 and 2, known once both listen.
    ports: OnceLock<[u16; 2]>,
    /// The log holds one-record batches at offsets `0..end`.
    end: AtomicI64,
    /// While set, the leader names the follower, which serves reads; once
    /// cleared, the follower refuses and the leader serves.
    follower_serves: AtomicBool,
    /// Records handed out by node 1 and node 2.
    served: [AtomicUsize; 2],
}

impl Cluster {
    fn metadata(&self, request: &MetadataRequest) -> MetadataResponse {
        let ports = self.ports.get().expect("both brokers listen");
        let broker = |id: i32, port: u16| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(id))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(i32::from(port))
                .with_rack(Some(StrBytes::from_string(format!("r{id}"))))
        };
        let topics = request.topics.clone().unwrap_or_default();
        MetadataResponse::default()
            .with_controller_id(BrokerId(LEADER))
            .with_brokers(vec![broker(LEADER, ports[0]), broker(FOLLOWER, ports[1])])
            .with_topics(
                topics
                    .into_iter()
                    .map(|topic| {
                        MetadataResponseTopic::default()
                            .with_name(topic.name)
                            .with_partitions(vec![MetadataResponsePartition::default()
                                .with_partition_index(0)
                                .with_leader_id(BrokerId(LEADER))
                                .with_leader_epoch(0)
                                .with_replica_nodes(vec![BrokerId(LEADER), BrokerId(FOLLOWER)])
                                .with_isr_nodes(vec![BrokerId(LEADER), BrokerId(FOLLOWER)])])
                    })
                    .collect(),
            )
    }

    fn fetch(&self, node: i32, request: &FetchRequest) -> FetchResponse {
        let end = self.end.load(Ordering::SeqCst);
        let follower_serves = self.follower_serves.load(Ordering::SeqCst);
        let topic = &request.topics[0];
        let offset = topic.partitions[0].fetch_offset;
        let mut data = PartitionData::default()
            .with_partition_index(0)
            .with_high_watermark(end)
            .with_last_stable_offset(end)
            .with_log_start_offset(0)
            .with_preferred_read_replica(BrokerId(-1));
        match (node, follower_serves) {
            (LEADER, true) => data = data.with_preferred_read_replica(BrokerId(FOLLOWER)),
            (FOLLOWER, false) => data = data.with_error_code(NOT_LEADER_OR_FOLLOWER),
            _ if offset < end => {
                data = data.with_records(Some(record_at(offset)));
                self.served[usize::try_from(node - 1).unwrap()].fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
        FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
            .with_topic(topic.topic.clone())
            .with_partitions(vec![data])])
    }

    fn handle(&self, node: i32, request: Request) -> Reply {
        match request.api {
            ApiKey::ApiVersions => request.reply(&api_versions(&[
                (ApiKey::ApiVersions, 0, 3),
                (ApiKey::Metadata, 1, 9),
                (ApiKey::Fetch, 11, 12),
            ])),
            ApiKey::Metadata => request.reply(&self.metadata(&request.decode())),
            ApiKey::Fetch => {
                let response = self.fetch(node, &request.decode());
                Reply::Now(encode(&response, request.version))
            }
            other => panic!("node {node} does not serve {other:?}"),
        }
    }
}

/// A one-record batch at `offset`.
fn record_at(offset: i64) -> Bytes {
    let mut writer = BatchWriter::builder().build();
    writer
        .try_append(
            1_000,
            None,
            Some(format!("v{offset}").as_bytes()),
            NO_HEADERS,
        )
        .unwrap();
    let mut bytes = BytesMut::from(&writer.finish().unwrap()[..]);
    set_base_offset(&mut bytes, offset).unwrap();
    bytes.freeze()
}

/// Polls until the consumer has read up to `to`, checking each offset.
async fn read_until(consumer: &mut Consumer, next: &mut i64, to: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while *next < to {
        assert!(Instant::now() < deadline, "stalled at offset {next}");
        let batch = consumer.poll(Duration::from_millis(200)).await.unwrap();
        assert!(batch.errors.is_empty(), "{:?}", batch.errors);
        for record in batch {
            assert_eq!(record.offset, *next, "lost or repeated");
            assert_eq!(record.value.as_deref(), Some(format!("v{next}").as_bytes()));
            *next += 1;
        }
    }
}

#[tokio::test]
async fn reads_from_the_preferred_replica_then_falls_back_to_the_leader() {
    let cluster = Arc::new(Cluster {
        ports: OnceLock::new(),
        end: AtomicI64::new(10),
        follower_serves: AtomicBool::new(true),
        served: [AtomicUsize::new(0), AtomicUsize::new(0)],
    });
    let on = cluster.clone();
    let leader = FakeBroker::start(move |request| on.handle(LEADER, request)).await;
    let on = cluster.clone();
    let follower = FakeBroker::start(move |request| on.handle(FOLLOWER, request)).await;
    cluster.ports.set([leader.port(), follower.port()]).unwrap();

    let mut consumer = Consumer::builder()
        .client_config(
            ClientConfig::builder()
                .bootstrap_servers([leader.bootstrap()])
                .retry_backoff(Duration::from_millis(10), Duration::from_millis(100))
                .build()
                .unwrap(),
        )
        .client_rack("r2")
        .fetch_max_wait(Duration::from_millis(50))
        .build()
        .unwrap();
    let tp = TopicPartition::new(TOPIC, 0);
    consumer.assign([tp.clone()]).unwrap();
    consumer.seek(&tp, 0).unwrap();

    let mut next = 0;
    read_until(&mut consumer, &mut next, 10).await;
    assert_eq!(cluster.served[0].load(Ordering::SeqCst), 0, "leader served");
    assert_eq!(cluster.served[1].load(Ordering::SeqCst), 10);
    let fetches = consumer.fetches_per_broker();
    assert!(fetches[&FOLLOWER] >= 10, "{fetches:?}");
    assert!(
        fetches[&LEADER] >= 1,
        "the leader named the replica: {fetches:?}"
    );

    // The follower now refuses: the consumer goes back to the leader.
    cluster.follower_serves.store(false, Ordering::SeqCst);
    cluster.end.store(20, Ordering::SeqCst);
    read_until(&mut consumer, &mut next, 20).await;
    assert_eq!(cluster.served[0].load(Ordering::SeqCst), 10);
    assert_eq!(cluster.served[1].load(Ordering::SeqCst), 10);
    consumer.close().await.unwrap();
}
