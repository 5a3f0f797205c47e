//! `Admin::elect_leaders` against Apache Kafka 4.x, three KRaft nodes with
//! automatic leader rebalancing off, so only the call can move leadership
//! back: a partition's preferred leader is shut down (leadership moves to
//! another replica), restarted (it rejoins the ISR as a follower), and a
//! preferred election makes it the leader again. Elections that are not
//! needed (preferred replica already leading, unclean election of a
//! partition that has a leader) and an unknown partition answer per
//! partition. Skipped without the Kafka jars, failed instead when
//! `DURIAN_REQUIRE_PEERS=1`.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use durian_admin::{Admin, ElectionType, NewTopic, TopicPartition};
use durian_core::KafkaCode;
use durian_testkit::KafkaCluster;

const TOPIC: &str = "elect";
/// How long leadership and ISR changes may take to show.
const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `check` every 100 ms until it holds; fails naming `what` after
/// [`PATIENCE`].
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The replicas and ISR of partition 0 as the cluster describes them;
/// `None` while the broker asked does not know the topic yet (a new topic,
/// or a restarted broker, reaches each broker's metadata a moment later).
async fn replicas_and_isr(admin: &Admin) -> Option<(Vec<i32>, Vec<i32>)> {
    let mut described = admin.describe_topics([TOPIC]).await;
    let topic = match described.remove(TOPIC)? {
        Ok(topic) => topic,
        Err(e) if e.kafka_code() == Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION) => return None,
        Err(e) => panic!("describing {TOPIC}: {e}"),
    };
    let partition = topic.partitions.first()?;
    Some((partition.replicas.clone(), partition.isr.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preferred_election_moves_leadership_back_to_the_restarted_replica() {
    let Some(mut kafka) =
        KafkaCluster::start(3, &[("auto.leader.rebalance.enable", "false")]).await
    else {
        return;
    };
    let admin = Admin::builder()
        .client_config(common::client_config(&kafka.bootstrap()))
        .default_api_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap();
    let created = admin
        .create_topics([NewTopic::new(TOPIC, 1).replication_factor(3)])
        .await;
    created[TOPIC].as_ref().unwrap();
    let tp = TopicPartition::new(TOPIC, 0);
    let deadline = Instant::now() + PATIENCE;
    let replicas = loop {
        if let Some((replicas, _)) = replicas_and_isr(&admin).await {
            break replicas;
        }
        assert!(
            Instant::now() < deadline,
            "the new topic was never described"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let preferred = replicas[0];
    wait_until("the preferred replica to lead", || async {
        kafka.leader(TOPIC, 0).await == Some(preferred)
    })
    .await;

    // Nothing to do while the preferred replica leads, clean or unclean.
    for election in [ElectionType::Preferred, ElectionType::Unclean] {
        let results = admin
            .elect_leaders(election, Some(vec![tp.clone()]))
            .await
            .unwrap();
        assert_eq!(results.len(), 1, "{results:?}");
        assert_eq!(
            results[&tp].as_ref().unwrap_err().kafka_code(),
            Some(KafkaCode::ELECTION_NOT_NEEDED),
            "{election:?}"
        );
    }
    let unknown = TopicPartition::new(TOPIC, 7);
    let results = admin
        .elect_leaders(ElectionType::Preferred, Some(vec![unknown.clone()]))
        .await
        .unwrap();
    assert_eq!(
        results[&unknown].as_ref().unwrap_err().kafka_code(),
        Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION)
    );

    kafka.stop(preferred).await;
    wait_until("another replica to lead", || async {
        kafka.leader(TOPIC, 0).await.is_some_and(|l| l != preferred)
    })
    .await;
    kafka.restart(preferred).await;
    wait_until("the restarted replica to rejoin the ISR", || async {
        replicas_and_isr(&admin)
            .await
            .is_some_and(|(_, isr)| isr.contains(&preferred))
    })
    .await;
    assert_ne!(
        kafka.leader(TOPIC, 0).await,
        Some(preferred),
        "leadership moved back without the election"
    );

    let results = admin
        .elect_leaders(ElectionType::Preferred, Some(vec![tp.clone()]))
        .await
        .unwrap();
    assert_eq!(results.len(), 1, "{results:?}");
    results[&tp].as_ref().unwrap();
    wait_until("the preferred replica to lead again", || async {
        kafka.leader(TOPIC, 0).await == Some(preferred)
    })
    .await;

    // Every partition of the cluster: none needs an election any more.
    let all = admin
        .elect_leaders(ElectionType::Preferred, None)
        .await
        .unwrap();
    assert!(
        all.values().all(|r| r
            .as_ref()
            .is_err_and(|e| e.kafka_code() == Some(KafkaCode::ELECTION_NOT_NEEDED))),
        "{all:?}"
    );
}
