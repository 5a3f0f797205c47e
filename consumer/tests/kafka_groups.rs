//! The consumer's group features against Apache Kafka 4.x (issue 14),
//! all on one KRaft node of durian-testkit's `KafkaCluster` over the
//! classic group protocol: a group of three under each assignor with a
//! member joining late and one leaving, static membership, commits,
//! seeks, pause and resume, and read_committed against real
//! transactions. Each case is a scenario of `common::scenarios` that
//! also runs against durian's broker (group.rs, membership.rs,
//! assign.rs), with its own topics and groups so that they can share
//! the node and run at once.
//!
//! Without Kafka's jars the test is skipped with a message, or fails
//! when `DURIAN_REQUIRE_PEERS=1` (see kafka.rs).

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::scenarios::{groups, positions, read_committed};
use durian_consumer::{CooperativeStickyAssignor, RangeAssignor, RoundRobinAssignor};
use durian_testkit::KafkaCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_features_on_one_kafka_node() {
    common::init_tracing();
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    let bootstrap = &kafka.bootstrap();
    tokio::join!(
        groups::group_of_three_with_a_late_join_and_a_leave(
            bootstrap,
            Arc::new(RangeAssignor),
            "range"
        ),
        groups::group_of_three_with_a_late_join_and_a_leave(
            bootstrap,
            Arc::new(RoundRobinAssignor),
            "roundrobin"
        ),
        groups::group_of_three_with_a_late_join_and_a_leave(
            bootstrap,
            Arc::new(CooperativeStickyAssignor),
            "cooperative"
        ),
        groups::a_restarted_static_member_keeps_its_partitions(bootstrap, "kafka"),
        positions::seek_pause_and_offset_lookups(bootstrap, "seek"),
        positions::pause_then_resume_continues_where_it_was(bootstrap, "paused"),
        positions::manual_commits_without_a_group_membership(bootstrap, "commits", "standalone"),
        read_committed::read_committed_skips_aborts_and_stops_at_the_lso(bootstrap, "kafka"),
    );
}
