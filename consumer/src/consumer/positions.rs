//! Asked of each partition's leader: log offsets by timestamp
//! (ListOffsets) and where leader epochs end (OffsetForLeaderEpoch, to
//! validate positions after a leader change).

use std::collections::BTreeMap;

use durian_core::{Client, KafkaCode, KafkaError, Target};

use crate::config::IsolationLevel;
use crate::error::{ConsumerError, Result};
use crate::fetcher::{epoch_request, parse_epoch_response, EpochEnd, ToValidate};
use crate::offsets::{list_offsets_request, parse_list_offsets};
use crate::types::TopicPartition;

/// For each partition, the first offset whose timestamp is at or after the
/// given one (or -1/-2 for latest/earliest) and that record's timestamp.
/// Partitions whose leader is unknown or busy are left out; the caller
/// tries again later.
pub(crate) async fn list_offsets(
    client: &Client,
    isolation: IsolationLevel,
    timestamps: &BTreeMap<TopicPartition, i64>,
) -> Result<BTreeMap<TopicPartition, (i64, i64)>> {
    let metadata = client.metadata();
    let mut by_leader: BTreeMap<i32, BTreeMap<TopicPartition, i64>> = BTreeMap::new();
    let mut missing_leader = false;
    for (tp, ts) in timestamps {
        match metadata
            .partition(&tp.topic, tp.partition)
            .and_then(|p| p.leader)
        {
            Some(leader) => {
                by_leader.entry(leader).or_default().insert(tp.clone(), *ts);
            }
            None => missing_leader = true,
        }
    }
    if missing_leader {
        client.request_metadata_refresh("consumer: offsets lookup without a known leader");
    }
    let mut out = BTreeMap::new();
    let mut last_error = None;
    for (leader, partitions) in by_leader {
        let request = list_offsets_request(&partitions, isolation, |topic, partition| {
            metadata
                .partition(topic, partition)
                .map_or(-1, |p| p.leader_epoch)
        });
        let response = match client.send(Target::Broker(leader), request).await {
            Ok(response) => response,
            Err(error) => {
                last_error = Some(error);
                continue;
            }
        };
        for (tp, result) in parse_list_offsets(&response) {
            match result {
                Ok(found) => {
                    out.insert(tp, found);
                }
                Err(code)
                    if code == KafkaCode::UNKNOWN_TOPIC_OR_PARTITION || code.is_retriable() =>
                {
                    client.request_metadata_refresh(format!("ListOffsets for {tp}: {code}"));
                }
                Err(code) => {
                    return Err(ConsumerError::Client(durian_core::Error::Kafka(
                        KafkaError {
                            code,
                            message: Some(format!("listing offsets of {tp}")),
                        },
                    )))
                }
            }
        }
    }
    match last_error {
        Some(error) if out.is_empty() && !error.is_retriable() => Err(error.into()),
        _ => Ok(out),
    }
}

/// What a validation got for one partition.
#[derive(Debug)]
pub(crate) enum Validation {
    /// Where the asked epoch ends in the leader's log.
    Answered(EpochEnd),
    /// The leader cannot answer OffsetForLeaderEpoch (the API is missing,
    /// or a non-retriable error): skip validation.
    Unsupported,
}

/// Asks each partition's leader where the epoch before its position ends.
/// Partitions whose leader is unknown, fenced, behind or unreachable are
/// left out (after a metadata refresh where that helps); the caller tries
/// again later.
pub(crate) async fn validate(
    client: &Client,
    partitions: &BTreeMap<TopicPartition, ToValidate>,
) -> BTreeMap<TopicPartition, Validation> {
    let metadata = client.metadata();
    let mut by_leader: BTreeMap<i32, BTreeMap<TopicPartition, ToValidate>> = BTreeMap::new();
    for (tp, asked) in partitions {
        match metadata
            .partition(&tp.topic, tp.partition)
            .and_then(|p| p.leader)
        {
            Some(leader) => {
                by_leader
                    .entry(leader)
                    .or_default()
                    .insert(tp.clone(), *asked);
            }
            None => client.request_metadata_refresh("consumer: validation without a known leader"),
        }
    }
    let mut out = BTreeMap::new();
    for (leader, asked) in by_leader {
        let response = match client
            .send(Target::Broker(leader), epoch_request(&asked))
            .await
        {
            Ok(response) => response,
            Err(durian_core::Error::UnsupportedVersion { .. }) => {
                out.extend(asked.into_keys().map(|tp| (tp, Validation::Unsupported)));
                continue;
            }
            Err(error) => {
                tracing::debug!(leader, %error, "OffsetForLeaderEpoch failed; retrying");
                client
                    .request_metadata_refresh(format!("OffsetForLeaderEpoch to {leader}: {error}"));
                continue;
            }
        };
        for (tp, result) in parse_epoch_response(&response) {
            match result {
                Ok(end) => {
                    out.insert(tp, Validation::Answered(end));
                }
                Err(code)
                    if code.is_retriable()
                        || code.invalidates() != durian_core::error::Invalidates::Nothing =>
                {
                    // FENCED_LEADER_EPOCH (our metadata is behind),
                    // UNKNOWN_LEADER_EPOCH (the broker is), NOT_LEADER...:
                    // newer metadata settles them; validate again then.
                    tracing::debug!(partition = %tp, %code, "position validation refused; retrying");
                    client
                        .request_metadata_refresh(format!("OffsetForLeaderEpoch for {tp}: {code}"));
                }
                Err(code) => {
                    // A broker that cannot answer for this partition at
                    // all would otherwise hold it forever: fetch on, as
                    // clients did before KIP-320.
                    tracing::warn!(partition = %tp, %code, "position validation impossible; fetching without it");
                    out.insert(tp, Validation::Unsupported);
                }
            }
        }
    }
    out
}
