#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use tokio::time::Instant;
use uuid::Uuid;

use super::{FetchSessionCache, SessionContext, SessionRequest, STALE_AFTER};

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

/// Topic `topic` with partitions `partitions`, all at `offset`.
fn topic(topic: &str, partitions: &[i32], offset: i64) -> FetchTopic {
    FetchTopic::default()
        .with_topic(name(topic))
        .with_partitions(
            partitions
                .iter()
                .map(|&p| {
                    FetchPartition::default()
                        .with_partition(p)
                        .with_fetch_offset(offset)
                })
                .collect(),
        )
}

fn request(id: i32, epoch: i32, topics: Vec<FetchTopic>) -> SessionRequest {
    SessionRequest {
        session_id: id,
        epoch,
        uses_topic_ids: false,
        node: 0,
        topics,
        forgotten: Vec::new(),
    }
}

/// An answer for every partition of `topics`: high watermark `hwm`,
/// records for the partitions in `with_records`.
fn answer(topics: &[FetchTopic], hwm: i64, with_records: &[i32]) -> Vec<FetchableTopicResponse> {
    topics
        .iter()
        .map(|t| {
            FetchableTopicResponse::default()
                .with_topic(t.topic.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            let records = if with_records.contains(&p.partition) {
                                Bytes::from_static(b"batch")
                            } else {
                                Bytes::new()
                            };
                            PartitionData::default()
                                .with_partition_index(p.partition)
                                .with_high_watermark(hwm)
                                .with_last_stable_offset(hwm)
                                .with_log_start_offset(0)
                                .with_records(Some(records))
                        })
                        .collect(),
                )
        })
        .collect()
}

fn partitions(topics: &[FetchableTopicResponse]) -> Vec<i32> {
    topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| p.partition_index))
        .collect()
}

/// Opens a session over partitions 0..n of "t" and answers it in full.
fn open(cache: &FetchSessionCache, n: i32, now: Instant) -> i32 {
    let all: Vec<i32> = (0..n).collect();
    let begun = cache
        .begin(request(0, 0, vec![topic("t", &all, 0)]), now)
        .unwrap();
    let SessionContext::Created { id } = begun.context else {
        panic!("no session created: {:?}", begun.context);
    };
    let full = cache.finish(begun.context, answer(&begun.topics, 10, &[]));
    assert_eq!(partitions(&full), all, "a new session's answer is full");
    id
}

#[test]
fn a_session_answers_only_partitions_with_news() {
    let cache = FetchSessionCache::new(10);
    let now = Instant::now();
    let id = open(&cache, 3, now);
    assert_ne!(id, 0);

    // Nothing named, nothing changed: every partition is read, none answered.
    let begun = cache.begin(request(id, 1, vec![]), now).unwrap();
    assert_eq!(begun.context, SessionContext::Incremental { id });
    assert_eq!(
        begun.topics[0].partitions.len(),
        3,
        "the whole session is read"
    );
    assert!(cache
        .finish(begun.context, answer(&begun.topics, 10, &[]))
        .is_empty());

    // Records on 1 and a moved high watermark: all three have news.
    let begun = cache.begin(request(id, 2, vec![]), now).unwrap();
    let news = cache.finish(begun.context, answer(&begun.topics, 11, &[1]));
    assert_eq!(partitions(&news), vec![0, 1, 2]);
    // Then only the partition with records.
    let begun = cache.begin(request(id, 3, vec![]), now).unwrap();
    let news = cache.finish(begun.context, answer(&begun.topics, 11, &[2]));
    assert_eq!(partitions(&news), vec![2]);
}

#[test]
fn incremental_requests_update_add_and_forget_partitions() {
    let cache = FetchSessionCache::new(10);
    let now = Instant::now();
    let id = open(&cache, 3, now);
    let mut asked = request(id, 1, vec![topic("t", &[1], 42), topic("u", &[0], 7)]);
    asked.forgotten = vec![ForgottenTopic::default()
        .with_topic(name("t"))
        .with_partitions(vec![0, 2])];
    let begun = cache.begin(asked, now).unwrap();
    let read: Vec<(String, i32, i64)> = begun
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(|p| (t.topic.0.to_string(), p.partition, p.fetch_offset))
        })
        .collect();
    assert_eq!(read, vec![("t".into(), 1, 42), ("u".into(), 0, 7)]);
    // The added partition is news (its first answer); the updated one is not.
    let news = cache.finish(begun.context, answer(&begun.topics, 10, &[]));
    assert_eq!(news.len(), 1);
    assert_eq!(news[0].topic, name("u"));
}

#[test]
fn session_errors() {
    let cache = FetchSessionCache::new(10);
    let now = Instant::now();
    let id = open(&cache, 1, now);
    let error = |id, epoch| cache.begin(request(id, epoch, vec![]), now).unwrap_err();
    assert_eq!(error(id, 2), ResponseError::InvalidFetchSessionEpoch);
    assert_eq!(
        error(id.wrapping_add(1).max(1), 1),
        ResponseError::FetchSessionIdNotFound
    );
    assert_eq!(error(0, 3), ResponseError::InvalidFetchSessionEpoch);
    // Another node's session is not ours.
    let mut elsewhere = request(id, 1, vec![]);
    elsewhere.node = 7;
    assert_eq!(
        cache.begin(elsewhere, now).unwrap_err(),
        ResponseError::FetchSessionIdNotFound
    );
    // A session by names cannot continue by topic ids.
    let mut by_id = request(id, 1, vec![]);
    by_id.uses_topic_ids = true;
    assert_eq!(
        cache.begin(by_id, now).unwrap_err(),
        ResponseError::FetchSessionTopicIdError
    );
    // The refusals did not consume the epoch.
    assert!(cache.begin(request(id, 1, vec![]), now).is_ok());
    // Epoch -1 closes the session and fetches without one.
    let begun = cache
        .begin(request(id, -1, vec![topic("t", &[0], 0)]), now)
        .unwrap();
    assert_eq!(begun.context, SessionContext::Sessionless);
    assert_eq!(cache.len(), 0);
    assert_eq!(error(id, 2), ResponseError::FetchSessionIdNotFound);
}

#[test]
fn topic_id_sessions_key_partitions_by_id() {
    let cache = FetchSessionCache::new(10);
    let now = Instant::now();
    let id_a = Uuid::from_u128(1);
    let by_id = |id, epoch, topics| SessionRequest {
        uses_topic_ids: true,
        ..request(id, epoch, topics)
    };
    let begun = cache
        .begin(
            by_id(0, 0, vec![topic("", &[0, 1], 0).with_topic_id(id_a)]),
            now,
        )
        .unwrap();
    let session = begun.context.session_id();
    let answered: Vec<FetchableTopicResponse> = answer(&begun.topics, 5, &[])
        .into_iter()
        .map(|t| t.with_topic_id(id_a))
        .collect();
    cache.finish(begun.context, answered);
    let mut forget = by_id(session, 1, vec![]);
    forget.forgotten = vec![ForgottenTopic::default()
        .with_topic_id(id_a)
        .with_partitions(vec![1])];
    let begun = cache.begin(forget, now).unwrap();
    assert_eq!(begun.topics.len(), 1);
    assert_eq!(begun.topics[0].topic_id, id_a);
    assert_eq!(begun.topics[0].partitions.len(), 1);
}

#[test]
fn a_full_cache_evicts_smaller_or_stale_sessions() {
    let cache = FetchSessionCache::new(1);
    let now = Instant::now();
    let five = open(&cache, 5, now);
    // Smaller than the held one: no room, answered without a session.
    let begun = cache
        .begin(request(0, 0, vec![topic("t", &[0, 1], 0)]), now)
        .unwrap();
    assert_eq!(begun.context, SessionContext::Sessionless);
    // Bigger: replaces it.
    let ten = open(&cache, 10, now);
    assert_eq!(cache.len(), 1);
    assert_eq!(
        cache.begin(request(five, 1, vec![]), now).unwrap_err(),
        ResponseError::FetchSessionIdNotFound
    );
    // Once stale, even a smaller session replaces it.
    let later = now + STALE_AFTER;
    let two = open(&cache, 2, later);
    assert_ne!(two, ten);
    assert!(cache.begin(request(two, 1, vec![]), later).is_ok());
    assert_eq!(
        cache.begin(request(ten, 1, vec![]), later).unwrap_err(),
        ResponseError::FetchSessionIdNotFound
    );
}

#[test]
fn no_slots_means_no_sessions() {
    let cache = FetchSessionCache::new(0);
    let begun = cache
        .begin(request(0, 0, vec![topic("t", &[0], 0)]), Instant::now())
        .unwrap();
    assert_eq!(begun.context, SessionContext::Sessionless);
    assert_eq!(cache.len(), 0);
}
