//! Admin routing against durian's in-process two-node cluster
//! (`durian_broker::testing::Cluster`), whose nodes enforce leadership the
//! way a real cluster does: a node that does not lead a partition answers
//! NOT_LEADER_OR_FOLLOWER. `scripted_cluster.rs` checks the exact shape of
//! each request; these tests check that the same routing gets the right
//! answers from real brokers, also when a leader moves under a request.

// Tests panic on purpose when something is wrong.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use durian_admin::{Admin, OffsetSpec, TopicPartition};
use durian_broker::testing::Cluster;
use kafka_protocol::messages::ApiKey;

const TOPIC: &str = "split";
/// Partition p's leader.
const LEADERS: [i32; 4] = [0, 1, 0, 1];

/// A two-node cluster with `TOPIC` led as `LEADERS` says, partition p
/// holding p + 1 records (so every partition has its own end offset), and
/// an admin client for it.
async fn start() -> (Cluster, Admin) {
    let cluster = Cluster::builder().nodes(2).seed(5).start().await.unwrap();
    cluster
        .create_topic(TOPIC, LEADERS.len() as i32)
        .await
        .unwrap();
    for (partition, &leader) in (0..).zip(LEADERS.iter()) {
        if cluster.leader(TOPIC, partition) != Some(leader) {
            cluster.move_leader(TOPIC, partition, leader).unwrap();
        }
    }
    let admin = Admin::builder()
        .client_config(common::client_config(&cluster.bootstrap()))
        .default_api_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    for partition in 0..LEADERS.len() as i32 {
        let tp = TopicPartition::new(TOPIC, partition);
        common::produce(&admin, &tp, partition as usize + 1, 1_000).await;
    }
    (cluster, admin)
}

async fn latest_offsets(admin: &Admin) -> Vec<Option<i64>> {
    let specs =
        (0..LEADERS.len() as i32).map(|p| (TopicPartition::new(TOPIC, p), OffsetSpec::Latest));
    let found = admin.list_offsets(specs).await;
    found.values().map(|r| r.as_ref().unwrap().offset).collect()
}

#[tokio::test]
async fn every_partition_is_answered_by_its_leader_in_one_request_per_node() {
    let (cluster, admin) = start().await;
    let log = cluster.faults().record();
    assert_eq!(
        latest_offsets(&admin).await,
        [Some(1), Some(2), Some(3), Some(4)]
    );
    // A partition sent to a node that does not lead it would have been
    // refused and retried: one request per node means none was.
    assert_eq!(log.count(Some(ApiKey::ListOffsets), Some(0)), 1);
    assert_eq!(log.count(Some(ApiKey::ListOffsets), Some(1)), 1);
    drop(admin);
    cluster.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_leader_that_moves_under_the_request_is_followed() {
    let (cluster, admin) = start().await;
    let cluster = Arc::new(cluster);
    // Partition 3 moves from node 1 to node 0 the moment node 1 receives
    // the ListOffsets (the hook runs before the request is handled), so
    // node 1 refuses it and the admin must find the new leader itself.
    let moved = Arc::new(AtomicBool::new(false));
    let hook = {
        // Weak: the hook must not keep the cluster alive, or `shutdown`
        // could not take it back.
        let weak = Arc::downgrade(&cluster);
        let moved = moved.clone();
        cluster.faults().hook(move |request| {
            if request.api_key == ApiKey::ListOffsets
                && request.node_id == 1
                && !moved.swap(true, Ordering::SeqCst)
            {
                let cluster = weak.upgrade().unwrap();
                cluster.move_leader(TOPIC, 3, 0).unwrap();
            }
        })
    };
    let log = cluster.faults().record();
    assert_eq!(
        latest_offsets(&admin).await,
        [Some(1), Some(2), Some(3), Some(4)]
    );
    assert!(
        moved.load(Ordering::SeqCst),
        "node 1 never got a ListOffsets"
    );
    assert_eq!(cluster.leader(TOPIC, 3), Some(0));
    // One request per node, then the moved partition again at node 0
    // (`scripted_cluster.rs` checks that the retry carries it alone).
    assert_eq!(log.count(Some(ApiKey::ListOffsets), Some(1)), 1);
    assert_eq!(log.count(Some(ApiKey::ListOffsets), Some(0)), 2);
    cluster.faults().remove_hook(hook);
    drop(admin);
    Arc::try_unwrap(cluster).unwrap().shutdown().await.unwrap();
}
