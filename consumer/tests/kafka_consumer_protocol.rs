//! `group.protocol=consumer` (KIP-848) against Apache Kafka 4.x: the
//! scenarios of `common::scenarios::consumer_protocol` on one KRaft node
//! whose coordinator uses a short session (6 s) and heartbeat interval
//! (1 s), each with its own topics and group so that they run at once.
//!
//! Without Kafka's jars the test is skipped with a message, or fails
//! when `DURIAN_REQUIRE_PEERS=1` (see kafka.rs).

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::scenarios::consumer_protocol as scenarios;
use durian_testkit::KafkaCluster;

/// group.consumer.session.timeout.ms on the node.
const SESSION: Duration = Duration::from_secs(6);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_protocol_on_one_kafka_node() {
    common::init_tracing();
    let Some(kafka) = KafkaCluster::start(
        1,
        &[
            ("group.consumer.session.timeout.ms", "6000"),
            ("group.consumer.min.session.timeout.ms", "6000"),
            ("group.consumer.heartbeat.interval.ms", "1000"),
            ("group.consumer.min.heartbeat.interval.ms", "1000"),
        ],
    )
    .await
    else {
        return;
    };
    let bootstrap = &kafka.bootstrap();
    tokio::join!(
        scenarios::group_of_three_then_a_close(bootstrap, "kip848", SESSION),
        scenarios::a_killed_member_is_replaced_after_the_session(bootstrap, "kip848", SESSION),
        scenarios::a_restarted_static_member_keeps_its_assignment(bootstrap, "kip848"),
        scenarios::a_pattern_picks_up_a_topic_created_later(bootstrap, "kip848"),
    );
}
