//! Fetch sessions (KIP-227) over the wire: a session is opened by a full
//! fetch, continued by incremental ones naming only what changed, and
//! answered with only the partitions that have news; session errors and
//! eviction from a full cache.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::topics::{create_topic, name, produce};
use common::wait::Served;
use common::{records_of, start_broker, TestClient};
use durian_broker::Broker;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse};
use uuid::Uuid;

const TOPIC: &str = "sessions";

/// A fetch in session `id` at `epoch` naming `(partition, offset)`s and
/// forgetting `forget`; by topic id when `topic_id` is not nil.
fn fetch(
    id: i32,
    epoch: i32,
    topic_id: Uuid,
    partitions: &[(i32, i64)],
    forget: &[i32],
    max_wait_ms: i32,
) -> FetchRequest {
    let topics = if partitions.is_empty() {
        Vec::new()
    } else {
        vec![FetchTopic::default()
            .with_topic(name(TOPIC))
            .with_topic_id(topic_id)
            .with_partitions(
                partitions
                    .iter()
                    .map(|&(p, offset)| {
                        FetchPartition::default()
                            .with_partition(p)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(1 << 20)
                    })
                    .collect(),
            )]
    };
    let forgotten = if forget.is_empty() {
        Vec::new()
    } else {
        vec![ForgottenTopic::default()
            .with_topic(name(TOPIC))
            .with_topic_id(topic_id)
            .with_partitions(forget.to_vec())]
    };
    FetchRequest::default()
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_id(id)
        .with_session_epoch(epoch)
        .with_topics(topics)
        .with_forgotten_topics_data(forgotten)
}

/// (partition, record count) of every partition answered.
fn answered(response: &FetchResponse) -> Vec<(i32, usize)> {
    response
        .responses
        .iter()
        .flat_map(|t| &t.partitions)
        .map(|p| {
            assert_eq!(p.error_code, 0, "partition {}", p.partition_index);
            (
                p.partition_index,
                records_of(p.records.as_ref().unwrap()).len(),
            )
        })
        .collect()
}

#[tokio::test]
async fn incremental_fetches_name_and_answer_only_what_changed() {
    let broker = start_broker().await;
    let mut client = TestClient::connect(broker.local_addr()).await;
    let topic_id = create_topic(&mut client, TOPIC, 3).await;
    produce(&mut client, TOPIC, 0, &["a", "b"]).await;

    // Where each partition's log ends, as the rounds append.
    let mut ends = [2i64, 0, 0];
    for (version, id_of_topic) in [(12i16, Uuid::nil()), (13, topic_id)] {
        // Epoch 0 opens a session and is answered in full.
        let all = [(0, 0), (1, 0), (2, 0)];
        let opened: FetchResponse = client
            .call(&fetch(0, 0, id_of_topic, &all, &[], 0), version)
            .await;
        assert_eq!(opened.error_code, 0);
        let id = opened.session_id;
        assert_ne!(id, 0, "v{version}: a session is created");
        let everything: Vec<(i32, usize)> =
            (0..3).map(|p| (p, ends[p as usize] as usize)).collect();
        assert_eq!(answered(&opened), everything);

        // The partitions move past their records; nothing else changed:
        // an empty answer.
        let past: Vec<(i32, i64)> = (0..3).map(|p| (p, ends[p as usize])).collect();
        let quiet: FetchResponse = client
            .call(&fetch(id, 1, id_of_topic, &past, &[], 0), version)
            .await;
        assert_eq!((quiet.error_code, quiet.session_id), (0, id));
        assert_eq!(answered(&quiet), vec![], "v{version}");

        // Records on partition 1, named by nobody in this request: the
        // session fetches it at the offset it holds.
        produce(&mut client, TOPIC, 1, &["c"]).await;
        ends[1] += 1;
        let news: FetchResponse = client
            .call(&fetch(id, 2, id_of_topic, &[], &[], 0), version)
            .await;
        assert_eq!(answered(&news), vec![(1, 1)], "v{version}");

        // Partition 1 forgotten: its records are no longer fetched.
        let forgot: FetchResponse = client
            .call(&fetch(id, 3, id_of_topic, &[], &[1], 0), version)
            .await;
        assert_eq!(answered(&forgot), vec![], "v{version}");

        // A parked incremental fetch wakes for a partition it does not
        // name but its session holds.
        let fetches = Served::watch(ApiKey::Fetch, &mut client).await;
        let correlation = client
            .send(&fetch(id, 4, id_of_topic, &[], &[], 30_000), version)
            .await;
        fetches.wait(Duration::from_secs(10)).await;
        let mut producer = TestClient::connect(broker.local_addr()).await;
        produce(&mut producer, TOPIC, 2, &["d"]).await;
        ends[2] += 1;
        let woken: FetchResponse = tokio::time::timeout(
            Duration::from_secs(20),
            client.receive::<FetchRequest>(correlation, version),
        )
        .await
        .expect("the append wakes the session's fetch");
        assert_eq!(answered(&woken), vec![(2, 1)], "v{version}");

        // Session errors: a wrong epoch, an unknown id.
        let stale: FetchResponse = client
            .call(&fetch(id, 4, id_of_topic, &[], &[], 0), version)
            .await;
        assert_eq!(stale.error_code, 71, "INVALID_FETCH_SESSION_EPOCH");
        assert!(stale.responses.is_empty());
        let unknown: FetchResponse = client
            .call(&fetch(id ^ 0x55, 5, id_of_topic, &[], &[], 0), version)
            .await;
        assert_eq!(unknown.error_code, 70, "FETCH_SESSION_ID_NOT_FOUND");

        // Epoch -1 closes the session.
        let closed: FetchResponse = client
            .call(&fetch(id, -1, id_of_topic, &[(0, 0)], &[], 0), version)
            .await;
        assert_eq!((closed.error_code, closed.session_id), (0, 0));
        let gone: FetchResponse = client
            .call(&fetch(id, 5, id_of_topic, &[], &[], 0), version)
            .await;
        assert_eq!(gone.error_code, 70);
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_full_cache_replaces_a_smaller_session_and_declines_a_smaller_one() {
    let broker = Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .properties([("max.incremental.fetch.session.cache.slots", "1")])
        .unwrap()
        .start()
        .await
        .unwrap();
    let mut client = TestClient::connect(broker.local_addr()).await;
    create_topic(&mut client, TOPIC, 3).await;
    let open = |partitions: &[(i32, i64)]| fetch(0, 0, Uuid::nil(), partitions, &[], 0);

    let two: FetchResponse = client.call(&open(&[(0, 0), (1, 0)]), 12).await;
    assert_ne!(two.session_id, 0);
    // One partition: smaller than the held session, so no session.
    let one: FetchResponse = client.call(&open(&[(2, 0)]), 12).await;
    assert_eq!((one.error_code, one.session_id), (0, 0));
    assert_eq!(answered(&one), vec![(2, 0)], "still answered in full");
    // Three partitions: replaces the two-partition session.
    let three: FetchResponse = client.call(&open(&[(0, 0), (1, 0), (2, 0)]), 12).await;
    assert_ne!(three.session_id, 0);
    let evicted: FetchResponse = client
        .call(&fetch(two.session_id, 1, Uuid::nil(), &[], &[], 0), 12)
        .await;
    assert_eq!(evicted.error_code, 70, "FETCH_SESSION_ID_NOT_FOUND");
    let kept: FetchResponse = client
        .call(&fetch(three.session_id, 1, Uuid::nil(), &[], &[], 0), 12)
        .await;
    assert_eq!(kept.error_code, 0);
    broker.shutdown().await.unwrap();
}
