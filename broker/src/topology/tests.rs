//! The topology's placement, election, coordinator and epoch-recording
//! behaviour, through its public methods.

#![allow(clippy::unwrap_used)]

use kafka_protocol::ResponseError;

use super::*;

fn three(seed: u64) -> Topology {
    let nodes = (0..3)
        .map(|id| BrokerAddress {
            node_id: id,
            host: "127.0.0.1".to_string(),
            port: 9000 + id,
        })
        .collect();
    Topology::new(nodes, seed, 3)
}

#[test]
fn leaders_rotate_over_the_nodes() {
    let topology = three(7);
    let mut led = [0; 3];
    for p in 0..6 {
        let placement = topology.placement("t", p);
        assert_eq!(placement.replicas.len(), 3);
        assert_eq!(placement.leader, placement.replicas[0]);
        led[placement.leader as usize] += 1;
    }
    assert_eq!(led, [2, 2, 2]);
}

#[test]
fn placement_depends_only_on_the_seed() {
    let a: Vec<i32> = (0..4).map(|p| three(1).placement("x", p).leader).collect();
    let b: Vec<i32> = (0..4).map(|p| three(1).placement("x", p).leader).collect();
    assert_eq!(a, b);
    let differs = (0..64).any(|seed| three(seed).placement("x", 0).leader != a[0]);
    assert!(differs, "the seed must influence placement");
}

#[test]
fn stopping_the_leader_elects_the_next_replica_and_bumps_the_epoch() {
    let topology = three(0);
    let before = topology.placement("t", 0);
    topology.set_alive(before.leader, false).unwrap();
    let after = topology.placement("t", 0);
    assert_ne!(after.leader, before.leader);
    assert_eq!(after.leader_epoch, before.leader_epoch + 1);
    assert_eq!(after.offline, vec![before.leader]);
    assert_eq!(
        topology.check_leader("t", 0, before.leader, -1),
        Err(ResponseError::NotLeaderOrFollower)
    );
}

#[test]
fn epochs_are_checked_like_kafka() {
    let topology = three(0);
    let leader = topology.placement("t", 1).leader;
    let epoch = topology.move_leader("t", 1, leader).unwrap();
    assert_eq!(epoch, 1);
    assert_eq!(topology.check_leader("t", 1, leader, -1), Ok(1));
    assert_eq!(topology.check_leader("t", 1, leader, 1), Ok(1));
    assert_eq!(
        topology.check_leader("t", 1, leader, 0),
        Err(ResponseError::FencedLeaderEpoch)
    );
    assert_eq!(
        topology.check_leader("t", 1, leader, 2),
        Err(ResponseError::UnknownLeaderEpoch)
    );
}

#[test]
fn all_replicas_down_means_no_leader_until_one_returns() {
    let topology = three(0);
    for id in 0..3 {
        topology.set_alive(id, false).unwrap();
    }
    assert_eq!(topology.placement("t", 0).leader, -1);
    assert_eq!(topology.controller(), -1);
    assert_eq!(topology.coordinator("g"), None);
    topology.set_alive(2, true).unwrap();
    assert_eq!(topology.placement("t", 0).leader, 2);
}

#[test]
fn coordinators_move_only_when_their_node_stops_or_are_pinned() {
    let topology = three(3);
    let groups: Vec<String> = (0..30).map(|i| format!("group-{i}")).collect();
    let before: Vec<Option<i32>> = groups.iter().map(|g| topology.coordinator(g)).collect();
    topology.set_alive(1, false).unwrap();
    for (group, old) in groups.iter().zip(&before) {
        let now = topology.coordinator(group);
        if *old == Some(1) {
            assert!(matches!(now, Some(0 | 2)));
        } else {
            assert_eq!(now, *old, "{group} moved although its node runs");
        }
    }
    assert_eq!(
        topology.pin_coordinator("g", 1),
        Err(TopologyError::NodeDown(1))
    );
    topology.pin_coordinator("g", 2).unwrap();
    assert!(topology.coordinates("g", 2));
}

#[test]
fn bumps_record_the_log_end_offset_of_the_moment() {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    let topology = three(0);
    let end = Arc::new(AtomicI64::new(5));
    let source = end.clone();
    topology.set_end_offset_source(Box::new(move |topic, partition| {
        (topic == "t" && partition == 0).then(|| source.load(Ordering::SeqCst))
    }));
    let first = topology.placement("t", 0).leader;
    let second = (first + 1) % 3;
    assert_eq!(topology.move_leader("t", 0, second).unwrap(), 1);
    end.store(9, Ordering::SeqCst);
    topology.set_alive(second, false).unwrap();
    let leader = topology.placement("t", 0).leader;
    assert_ne!(leader, second);
    let h = topology.epoch_history("t", 0, leader, 2).unwrap();
    let starts: Vec<(i32, i64)> = h
        .entries()
        .iter()
        .map(|e| (e.epoch, e.start_offset))
        .collect();
    assert_eq!(starts, vec![(0, 0), (1, 5), (2, 9)]);
    assert_eq!(h.end_offset_for(1, 0, 12), (1, 9));

    assert_eq!(
        topology.epoch_history("t", 0, second, -1),
        Err(ResponseError::NotLeaderOrFollower)
    );
    assert_eq!(
        topology.epoch_history("t", 0, leader, 1),
        Err(ResponseError::FencedLeaderEpoch)
    );
    assert_eq!(
        topology.epoch_history("t", 0, leader, 3),
        Err(ResponseError::UnknownLeaderEpoch)
    );
    // Another partition keeps the initial history; a deleted topic
    // starts over.
    let other = topology.placement("t", 1).leader;
    assert_eq!(
        topology.epoch_history("t", 1, other, -1),
        Ok(EpochHistory::default())
    );
    topology.forget_topic("t");
    let leader = topology.placement("t", 0).leader;
    assert_eq!(
        topology.epoch_history("t", 0, leader, 0),
        Ok(EpochHistory::default())
    );
}

#[test]
fn single_node_leads_everything_at_epoch_zero() {
    let topology = Topology::single(BrokerAddress {
        node_id: 4,
        host: "h".to_string(),
        port: 1,
    });
    assert_eq!(topology.check_leader("any", 99, 4, -1), Ok(0));
    assert_eq!(topology.placement("any", 3).leader, 4);
    assert_eq!(topology.coordinator("g"), Some(4));
    assert_eq!(topology.controller(), 4);
    assert_eq!(
        topology.epoch_history("any", 0, 4, -1),
        Ok(EpochHistory::default())
    );
    assert_eq!(
        topology.epoch_history("any", 0, 4, 1),
        Err(ResponseError::UnknownLeaderEpoch)
    );
}
