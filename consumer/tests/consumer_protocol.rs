//! `group.protocol=consumer` (KIP-848) against durian's own broker: the
//! scenarios of `common::scenarios::consumer_protocol` that
//! kafka_consumer_protocol.rs runs on Apache Kafka, here on an embedded
//! broker with the same short session (6 s) and heartbeat interval (1 s),
//! so durian's client and durian's coordinator are held to what both do
//! with the reference implementation.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::scenarios::consumer_protocol as scenarios;
use durian_broker::Broker;

/// group.consumer.session.timeout.ms on the broker.
const SESSION: Duration = Duration::from_secs(6);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_protocol_on_durians_broker() {
    common::init_tracing();
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .auto_create_topics(false)
        .properties([
            ("group.consumer.session.timeout.ms", "6000"),
            ("group.consumer.heartbeat.interval.ms", "1000"),
        ])
        .expect("the KIP-848 coordinator settings are known")
        .start()
        .await
        .expect("broker starts");
    let bootstrap = &broker.bootstrap();
    tokio::join!(
        scenarios::group_of_three_then_a_close(bootstrap, "own848", SESSION),
        scenarios::a_killed_member_is_replaced_after_the_session(bootstrap, "own848", SESSION),
        scenarios::a_restarted_static_member_keeps_its_assignment(bootstrap, "own848"),
        scenarios::a_pattern_picks_up_a_topic_created_later(bootstrap, "own848"),
    );
    broker.shutdown().await.expect("broker shuts down");
}
