//! Splitting admin operations across brokers, merging the answers, and
//! retrying the items that failed for a reason that can pass.
//!
//! ```text
//!  items ──split(route)──▶ { broker → items } ──one request per broker──▶ responses
//!    ▲                      └ unroutable items ─────────────┐               │
//!    │                                                      ▼               ▼
//!    └── retriable failures (after a metadata refresh) ◀── merge: one result per item
//! ```
//!
//! [`per_item`] drives the rounds with the core's [`retry`] helper: each
//! round sends only the items still pending, keeps every final answer
//! (success or a fatal error), and fails the attempt when some item got a
//! retriable error such as `NOT_CONTROLLER`, `NOT_LEADER_OR_FOLLOWER` or
//! `COORDINATOR_LOAD_IN_PROGRESS`. When the deadline leaves no room for
//! another round, the pending items keep their last error.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use durian_core::backoff::Backoff;
use durian_core::connection::versions::api_key_of;
use durian_core::error::Invalidates;
use durian_core::retry::{retry, AttemptError};
use durian_core::{Client, ClusterMetadata, Error, KafkaCode, KafkaError, Result, Target};
use kafka_protocol::protocol::Request;
use tokio::time::Instant;

use crate::types::{ItemResults, TopicPartition};

/// Sends a request built for the version negotiated with `target`.
///
/// The builder sees the version because several requests change shape
/// between versions (topics by name or by id, one group or many) and
/// kafka-protocol refuses to encode a field the version lacks. Errors are
/// reported to the client so stale caches are dropped.
pub(crate) async fn send_versioned<R, F>(
    client: &Client,
    target: &Target,
    build: F,
) -> Result<(i16, R::Response)>
where
    R: Request,
    F: FnOnce(i16) -> Result<R>,
{
    let result = async {
        let api = api_key_of::<R>()?;
        let class = durian_core::TrafficClass::for_api(api);
        let connection = client.connection_for(target, class).await?;
        let version = connection.versions().negotiate_for::<R>()?;
        let request = build(version)?;
        let timeout = client.config().request_timeout;
        let response = connection
            .send_with_version(&request, version, timeout)
            .await?;
        Ok((version, response))
    }
    .await;
    if let Err(error) = &result {
        client.report_error(target, error);
    }
    result
}

/// Items grouped by destination, and the items that could not be routed.
#[derive(Debug)]
pub(crate) struct Split<T, K> {
    /// Items per destination, in the order they were given.
    pub routed: BTreeMap<T, Vec<K>>,
    /// Items without a destination, with the reason.
    pub unroutable: Vec<(K, Error)>,
}

/// Groups `items` by the destination `route` picks for each.
pub(crate) fn split<T: Ord, K>(
    items: impl IntoIterator<Item = K>,
    mut route: impl FnMut(&K) -> Result<T>,
) -> Split<T, K> {
    let mut routed: BTreeMap<T, Vec<K>> = BTreeMap::new();
    let mut unroutable = Vec::new();
    for item in items {
        match route(&item) {
            Ok(destination) => routed.entry(destination).or_default().push(item),
            Err(error) => unroutable.push((item, error)),
        }
    }
    Split { routed, unroutable }
}

/// The leader's node id of `tp` in `metadata`, or the error that explains
/// why there is none (unknown topic or partition, no leader yet).
pub(crate) fn leader_of(metadata: &ClusterMetadata, tp: &TopicPartition) -> Result<i32> {
    let unknown = || kafka(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION, format!("{tp}"));
    let topic = metadata.topic(&tp.topic).ok_or_else(unknown)?;
    if let Some(code) = topic.error {
        return Err(kafka(code, format!("topic `{}`", tp.topic)));
    }
    let partition = topic.partitions.get(&tp.partition).ok_or_else(unknown)?;
    if let Some(code) = partition.error.filter(|c| *c != KafkaCode::NONE) {
        return Err(kafka(code, format!("{tp}")));
    }
    partition
        .leader
        .ok_or_else(|| kafka(KafkaCode::LEADER_NOT_AVAILABLE, format!("{tp}")))
}

/// The same request-level error as the answer for every key.
pub(crate) fn fail_all<K: Clone, V>(keys: &[K], error: &Error) -> Vec<(K, Result<V>)> {
    keys.iter()
        .map(|key| (key.clone(), Err(error.clone())))
        .collect()
}

/// Keys in order with duplicates removed: brokers refuse requests that
/// name an item twice, and one result per item is all a caller can get.
pub(crate) fn unique<K: Ord + Clone>(keys: impl IntoIterator<Item = K>) -> Vec<K> {
    let mut seen = std::collections::BTreeSet::new();
    keys.into_iter()
        .filter(|key| seen.insert(key.clone()))
        .collect()
}

/// A broker error with a message naming the item.
pub(crate) fn kafka(code: KafkaCode, message: String) -> Error {
    Error::Kafka(KafkaError {
        code,
        message: Some(message),
    })
}

/// A response's error code and message for one item as a `Result`.
pub(crate) fn check(code: i16, message: Option<&kafka_protocol::protocol::StrBytes>) -> Result<()> {
    KafkaError::check(code, message.map(|m| m.as_str()))
}

/// Whether an item that failed with `error` should be tried again.
///
/// Everything the core classifies as retriable, except the answers that
/// say an item does not exist: an admin request for an unknown topic is
/// answered, not failed, and waiting will not create the topic.
pub(crate) fn item_is_retriable(error: &Error) -> bool {
    let final_answer = matches!(
        error.kafka_code(),
        Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION | KafkaCode::UNKNOWN_TOPIC_ID)
    );
    error.is_retriable() && !final_answer
}

/// How long an operation may take, and how to wait between rounds.
#[derive(Clone, Debug)]
pub(crate) struct RetrySettings {
    /// When the operation gives up.
    pub deadline: Instant,
    /// First wait between rounds.
    pub backoff_initial: std::time::Duration,
    /// Longest wait between rounds.
    pub backoff_max: std::time::Duration,
}

/// Runs `round` on the pending keys until every key has a final result or
/// the deadline passes; see the module docs.
///
/// `round` must return a result for each key it was given; keys it leaves
/// out get a protocol error. Retriable errors that prove metadata stale
/// trigger a metadata refresh before the next round.
pub(crate) async fn per_item<K, V, F, Fut>(
    client: &Client,
    settings: &RetrySettings,
    keys: Vec<K>,
    mut round: F,
) -> ItemResults<K, V>
where
    K: Ord + Clone + std::fmt::Debug,
    F: FnMut(Vec<K>) -> Fut,
    Fut: Future<Output = Vec<(K, Result<V>)>>,
{
    if keys.is_empty() {
        return BTreeMap::new();
    }
    let cell = Mutex::new(RoundState {
        pending: keys,
        done: BTreeMap::new(),
        last_errors: BTreeMap::new(),
    });
    let state = &cell;
    let mut backoff = Backoff::new(settings.backoff_initial, settings.backoff_max);
    let outcome = retry(settings.deadline, &mut backoff, || {
        let pending = lock(state).pending.clone();
        let answers = round(pending.clone());
        async move {
            let answers = answers.await;
            let retry_error = lock(state).absorb(pending, answers);
            let Some(error) = retry_error else {
                return Ok(());
            };
            if error.invalidates() == Invalidates::Metadata {
                // A failed refresh is retried by the next round's own errors.
                let _ = client
                    .refresh_metadata(format!("admin retry: {error}"))
                    .await;
            }
            Err(AttemptError::from(error))
        }
    })
    .await;
    let state = cell.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Err(error) = outcome {
        tracing::debug!(%error, pending = ?state.pending, "admin operation gave up on items");
    }
    let RoundState {
        pending,
        mut done,
        mut last_errors,
    } = state;
    for key in pending {
        let error = last_errors
            .remove(&key)
            .unwrap_or_else(|| Error::Protocol(format!("no answer for {key:?}")));
        done.insert(key, Err(error));
    }
    done
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

struct RoundState<K, V> {
    pending: Vec<K>,
    done: ItemResults<K, V>,
    last_errors: BTreeMap<K, Error>,
}

impl<K: Ord + Clone + std::fmt::Debug, V> RoundState<K, V> {
    /// Records one round's answers; returns an error to retry on if any
    /// asked-for key is still pending.
    fn absorb(&mut self, asked: Vec<K>, answers: Vec<(K, Result<V>)>) -> Option<Error> {
        let mut answers: BTreeMap<K, Result<V>> = answers.into_iter().collect();
        let mut pending = Vec::new();
        let mut retry_error = None;
        for key in asked {
            let answer = answers
                .remove(&key)
                .unwrap_or_else(|| Err(Error::Protocol(format!("no answer for {key:?}"))));
            match answer {
                Err(error) if item_is_retriable(&error) => {
                    retry_error.get_or_insert_with(|| error.clone());
                    self.last_errors.insert(key.clone(), error);
                    pending.push(key);
                }
                answer => {
                    self.done.insert(key, answer);
                }
            }
        }
        self.pending = pending;
        retry_error
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use durian_core::{ClientConfig, PartitionMetadata, TopicMetadata};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    fn metadata() -> ClusterMetadata {
        let partition = |index, leader| PartitionMetadata {
            partition: index,
            leader,
            leader_epoch: 0,
            replicas: vec![],
            isr: vec![],
            offline_replicas: vec![],
            error: None,
        };
        let mut meta = ClusterMetadata::default();
        meta.topics.insert(
            "t".into(),
            TopicMetadata {
                name: "t".into(),
                topic_id: uuid::Uuid::nil(),
                is_internal: false,
                error: None,
                partitions: [
                    (0, partition(0, Some(1))),
                    (1, partition(1, Some(2))),
                    (2, partition(2, Some(1))),
                    (3, partition(3, None)),
                ]
                .into(),
            },
        );
        meta
    }

    #[test]
    fn split_by_leader_groups_partitions_and_explains_the_rest() {
        let meta = metadata();
        let items = [0, 1, 2, 3, 9]
            .map(|p| TopicPartition::new("t", p))
            .into_iter()
            .chain([TopicPartition::new("gone", 0)]);
        let split = split(items, |tp| leader_of(&meta, tp));
        let partitions =
            |id| -> Vec<i32> { split.routed[&id].iter().map(|tp| tp.partition).collect() };
        assert_eq!(partitions(1), [0, 2]);
        assert_eq!(partitions(2), [1]);
        let codes: Vec<_> = split
            .unroutable
            .iter()
            .map(|(tp, e)| (tp.to_string(), e.kafka_code().unwrap()))
            .collect();
        assert_eq!(
            codes,
            [
                ("t-3".to_owned(), KafkaCode::LEADER_NOT_AVAILABLE),
                ("t-9".to_owned(), KafkaCode::UNKNOWN_TOPIC_OR_PARTITION),
                ("gone-0".to_owned(), KafkaCode::UNKNOWN_TOPIC_OR_PARTITION),
            ]
        );
    }

    #[test]
    fn unknown_topics_are_final_answers_but_moved_leaders_are_not() {
        let code = |c| kafka(c, String::new());
        assert!(!item_is_retriable(&code(
            KafkaCode::UNKNOWN_TOPIC_OR_PARTITION
        )));
        assert!(!item_is_retriable(&code(KafkaCode::TOPIC_ALREADY_EXISTS)));
        assert!(item_is_retriable(&code(KafkaCode::NOT_CONTROLLER)));
        assert!(item_is_retriable(&code(KafkaCode::NOT_LEADER_OR_FOLLOWER)));
        assert!(item_is_retriable(&code(
            KafkaCode::COORDINATOR_LOAD_IN_PROGRESS
        )));
    }

    fn client() -> Client {
        // Never connects: the rounds below do not send anything.
        Client::new(
            ClientConfig::builder()
                .bootstrap_servers(["127.0.0.1:9"])
                .build()
                .unwrap(),
        )
        .unwrap()
    }

    fn settings(deadline: Duration) -> RetrySettings {
        RetrySettings {
            deadline: Instant::now() + deadline,
            backoff_initial: Duration::from_millis(10),
            backoff_max: Duration::from_millis(20),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retriable_items_are_retried_alone_and_final_ones_kept() {
        let client = client();
        let rounds = AtomicU32::new(0);
        let asked = Mutex::new(Vec::new());
        let results = per_item(
            &client,
            &settings(Duration::from_secs(5)),
            vec!["a", "b", "c"],
            |keys| {
                let round = rounds.fetch_add(1, Ordering::SeqCst);
                asked.lock().unwrap().push(keys.clone());
                async move {
                    keys.into_iter()
                        .map(|key| {
                            let answer = match (key, round) {
                                ("a", _) => Ok(1),
                                ("b", 0) => {
                                    Err(kafka(KafkaCode::COORDINATOR_LOAD_IN_PROGRESS, "b".into()))
                                }
                                ("b", _) => Ok(2),
                                _ => Err(kafka(KafkaCode::INVALID_TOPIC_EXCEPTION, "c".into())),
                            };
                            (key, answer)
                        })
                        .collect()
                }
            },
        )
        .await;
        assert_eq!(*results["a"].as_ref().unwrap(), 1);
        assert_eq!(*results["b"].as_ref().unwrap(), 2);
        assert_eq!(
            results["c"].as_ref().unwrap_err().kafka_code(),
            Some(KafkaCode::INVALID_TOPIC_EXCEPTION)
        );
        assert_eq!(*asked.lock().unwrap(), [vec!["a", "b", "c"], vec!["b"]]);
    }

    #[tokio::test(start_paused = true)]
    async fn items_still_failing_at_the_deadline_keep_their_last_error() {
        let client = client();
        let results: ItemResults<&str, ()> = per_item(
            &client,
            &settings(Duration::from_millis(200)),
            vec!["x", "y"],
            |keys| async move {
                keys.into_iter()
                    .map(|key| match key {
                        "x" => (key, Ok(())),
                        _ => (
                            key,
                            Err(kafka(KafkaCode::COORDINATOR_LOAD_IN_PROGRESS, "y".into())),
                        ),
                    })
                    .collect()
            },
        )
        .await;
        assert!(results["x"].is_ok());
        let error = results["y"].as_ref().unwrap_err();
        assert_eq!(
            error.kafka_code(),
            Some(KafkaCode::COORDINATOR_LOAD_IN_PROGRESS)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn keys_left_out_of_a_round_get_a_protocol_error() {
        let client = client();
        let results: ItemResults<&str, ()> = per_item(
            &client,
            &settings(Duration::from_secs(1)),
            vec!["x"],
            |_| async { Vec::new() },
        )
        .await;
        assert!(matches!(results["x"], Err(Error::Protocol(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn no_keys_means_no_round() {
        let client = client();
        let rounds = AtomicU32::new(0);
        let results: ItemResults<&str, ()> =
            per_item(&client, &settings(Duration::from_secs(1)), vec![], |_| {
                rounds.fetch_add(1, Ordering::SeqCst);
                async { Vec::new() }
            })
            .await;
        assert!(results.is_empty());
        assert_eq!(rounds.load(Ordering::SeqCst), 0);
    }
}
