//! Listing, describing and aborting transactions, and describing the
//! producers of partitions, as Kafka's Admin does.
//!
//! Each operation goes where Kafka keeps the answer:
//!
//! ```text
//! list_transactions      ──ListTransactions (66)──▶ every broker ──▶ merged list
//! describe_transactions  ──FindCoordinator (key type 1)──▶ {coordinator → ids}
//!                        ──DescribeTransactions (65) ×coordinators──▶ one result per id
//! describe_producers     ──Metadata──▶ {leader → partitions}
//!                        ──DescribeProducers (61) ×leaders──▶ one result per partition
//! abort_transaction      ──Metadata──▶ leader ──WriteTxnMarkers (27, abort)──▶ ()
//! ```
//!
//! Retries follow the admin client's rules (docs/ADMIN.md): a listing is
//! retried whole while a broker answers `COORDINATOR_LOAD_IN_PROGRESS` or
//! `COORDINATOR_NOT_AVAILABLE`; descriptions are retried per id, and
//! `NOT_COORDINATOR` / `COORDINATOR_NOT_AVAILABLE` first forget the cached
//! coordinator; partition operations are retried per partition while the
//! leader moves. `TRANSACTIONAL_ID_NOT_FOUND`, authorization failures,
//! `INVALID_PRODUCER_EPOCH` and `TRANSACTION_COORDINATOR_FENCED` are
//! final answers.

mod types;

use std::collections::BTreeMap;

use durian_core::{CoordinatorKind, Error, Result, Target, TopicPartition};
use futures::future::join_all;
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeProducersResponse, DescribeTransactionsRequest,
    DescribeTransactionsResponse, ListTransactionsRequest, ListTransactionsResponse, ProducerId,
    TransactionalId, WriteTxnMarkersRequest, WriteTxnMarkersResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::offsets::per_asked_partition;
use crate::routing::{check, send_versioned};
use crate::topics::topic_name;
use crate::types::{missing, ItemResults};
use crate::Admin;

pub use types::{
    AbortTransactionSpec, ProducerState, TransactionDescription, TransactionFilter,
    TransactionListing, TransactionState,
};

/// The first ListTransactions version with the duration filter (KIP-994).
const DURATION_FILTER_VERSION: i16 = 1;

/// The first ListTransactions version with the transactional id pattern
/// (KIP-1152).
const PATTERN_FILTER_VERSION: i16 = 2;

/// A ListTransactions request for `filter` at `version`; a filter the
/// version cannot carry is an error rather than silently dropped, since
/// the listing would then hold transactions the caller excluded.
pub(crate) fn list_transactions_request(
    filter: &TransactionFilter,
    version: i16,
) -> Result<ListTransactionsRequest> {
    let too_old = |what: &str, needed: i16| {
        Error::Protocol(format!(
            "the broker speaks ListTransactions v{version}; filtering by {what} needs v{needed}"
        ))
    };
    let mut request = ListTransactionsRequest::default()
        .with_state_filters(
            filter
                .states
                .iter()
                .map(|s| StrBytes::from_string(s.name().to_owned()))
                .collect(),
        )
        .with_producer_id_filters(
            filter
                .producer_ids
                .iter()
                .map(|&id| ProducerId(id))
                .collect(),
        );
    if let Some(duration) = filter.running_longer_than {
        if version < DURATION_FILTER_VERSION {
            return Err(too_old("duration", DURATION_FILTER_VERSION));
        }
        request.duration_filter = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    }
    if let Some(pattern) = &filter.transactional_id_pattern {
        if version < PATTERN_FILTER_VERSION {
            return Err(too_old("transactional id pattern", PATTERN_FILTER_VERSION));
        }
        request.transactional_id_pattern = Some(StrBytes::from_string(pattern.clone()));
    }
    Ok(request)
}

/// The transactions in one broker's ListTransactions response.
///
/// State names the broker does not know (`unknown_state_filters`) simply
/// match nothing, as in Kafka's Admin; they are not an error.
pub(crate) fn parse_list_transactions(
    response: &ListTransactionsResponse,
    coordinator: i32,
) -> Result<Vec<TransactionListing>> {
    check(response.error_code, None)?;
    Ok(response
        .transaction_states
        .iter()
        .map(|t| TransactionListing {
            transactional_id: t.transactional_id.0.to_string(),
            producer_id: t.producer_id.0,
            state: TransactionState::from_name(t.transaction_state.as_str()),
            coordinator,
        })
        .collect())
}

/// A DescribeTransactions request for `ids`.
pub(crate) fn describe_transactions_request(ids: &[String]) -> DescribeTransactionsRequest {
    DescribeTransactionsRequest::default().with_transactional_ids(
        ids.iter()
            .map(|id| TransactionalId(StrBytes::from_string(id.clone())))
            .collect(),
    )
}

/// One description per asked-for id from a coordinator's response.
pub(crate) fn parse_describe_transactions(
    response: &DescribeTransactionsResponse,
    ids: &[String],
    coordinator: i32,
) -> Vec<(String, Result<TransactionDescription>)> {
    ids.iter()
        .map(|id| {
            let found = response
                .transaction_states
                .iter()
                .find(|t| t.transactional_id.0.as_str() == id);
            let result = match found {
                None => Err(missing(format_args!("transactional id `{id}`"))),
                Some(t) => check(t.error_code, None).map(|()| {
                    let mut partitions: Vec<TopicPartition> = t
                        .topics
                        .iter()
                        .flat_map(|topic| {
                            topic
                                .partitions
                                .iter()
                                .map(|&p| TopicPartition::new(topic.topic.0.as_str(), p))
                        })
                        .collect();
                    partitions.sort();
                    TransactionDescription {
                        coordinator,
                        state: TransactionState::from_name(t.transaction_state.as_str()),
                        producer_id: t.producer_id.0,
                        producer_epoch: t.producer_epoch,
                        transaction_timeout_ms: t.transaction_timeout_ms,
                        transaction_start_time_ms: (t.transaction_start_time_ms >= 0)
                            .then_some(t.transaction_start_time_ms),
                        partitions,
                    }
                }),
            };
            (id.clone(), result)
        })
        .collect()
}

/// A DescribeProducers request for `partitions`, grouped by topic.
pub(crate) fn describe_producers_request(
    partitions: &[TopicPartition],
) -> DescribeProducersRequest {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        topics.entry(tp.topic()).or_default().push(tp.partition);
    }
    DescribeProducersRequest::default().with_topics(
        topics
            .into_iter()
            .map(|(topic, indexes)| {
                TopicRequest::default()
                    .with_name(topic_name(topic))
                    .with_partition_indexes(indexes)
            })
            .collect(),
    )
}

/// One list of producers per asked-for partition from a leader's response.
pub(crate) fn parse_describe_producers(
    response: &DescribeProducersResponse,
    asked: &[TopicPartition],
) -> Vec<(TopicPartition, Result<Vec<ProducerState>>)> {
    per_asked_partition(
        asked,
        &response.topics,
        |t| (t.name.0.as_str(), &t.partitions),
        |p| (p.partition_index, p.error_code),
        |p| {
            p.active_producers
                .iter()
                .map(|s| ProducerState {
                    producer_id: s.producer_id.0,
                    producer_epoch: s.producer_epoch,
                    last_sequence: s.last_sequence,
                    last_timestamp: s.last_timestamp,
                    coordinator_epoch: (s.coordinator_epoch >= 0).then_some(s.coordinator_epoch),
                    current_txn_start_offset: (s.current_txn_start_offset >= 0)
                        .then_some(s.current_txn_start_offset),
                })
                .collect()
        },
    )
}

/// A WriteTxnMarkers request carrying one abort marker for `spec`.
pub(crate) fn abort_marker_request(spec: &AbortTransactionSpec) -> WriteTxnMarkersRequest {
    let marker = WritableTxnMarker::default()
        .with_producer_id(ProducerId(spec.producer_id))
        .with_producer_epoch(spec.producer_epoch)
        // false: the marker aborts; true would commit.
        .with_transaction_result(false)
        .with_coordinator_epoch(spec.coordinator_epoch)
        .with_topics(vec![WritableTxnMarkerTopic::default()
            .with_name(topic_name(spec.partition.topic()))
            .with_partition_indexes(vec![spec.partition.partition])]);
    WriteTxnMarkersRequest::default().with_markers(vec![marker])
}

/// The outcome of the abort marker for `spec` in a WriteTxnMarkers
/// response; an answer for another producer or partition is a protocol
/// error, not a success.
pub(crate) fn parse_abort_marker(
    response: &WriteTxnMarkersResponse,
    spec: &AbortTransactionSpec,
) -> Result<()> {
    let marker = response
        .markers
        .iter()
        .find(|m| m.producer_id.0 == spec.producer_id)
        .ok_or_else(|| missing(format_args!("producer id {}", spec.producer_id)))?;
    let partition = marker
        .topics
        .iter()
        .filter(|t| t.name.0.as_str() == spec.partition.topic())
        .flat_map(|t| &t.partitions)
        .find(|p| p.partition_index == spec.partition.partition)
        .ok_or_else(|| missing(&spec.partition))?;
    check(partition.error_code, None)
}

impl Admin {
    /// Lists the transactional ids every broker coordinates, with their
    /// producer id and state, filtered by `filter`. Fails if any broker
    /// cannot be asked, since the list would be incomplete.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "list_transactions"))]
    pub async fn list_transactions(
        &self,
        filter: &TransactionFilter,
    ) -> Result<Vec<TransactionListing>> {
        self.retrying(|| self.list_transactions_once(filter)).await
    }

    async fn list_transactions_once(
        &self,
        filter: &TransactionFilter,
    ) -> Result<Vec<TransactionListing>> {
        let mut metadata = self.client.metadata();
        if metadata.brokers.is_empty() {
            metadata = self.client.refresh_metadata("listing transactions").await?;
        }
        let requests = metadata.brokers.keys().map(|&node| async move {
            let (_, response) = send_versioned(&self.client, &Target::Broker(node), |version| {
                list_transactions_request(filter, version)
            })
            .await?;
            parse_list_transactions(&response, node)
        });
        let mut listings = Vec::new();
        for listed in join_all(requests).await {
            listings.extend(listed?);
        }
        listings.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        Ok(listings)
    }

    /// Describes transactional ids: state, producer id and epoch, timeout,
    /// start time and the partitions of the open transaction; one result
    /// per id (`TRANSACTIONAL_ID_NOT_FOUND` for an id no coordinator knows).
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "describe_transactions"))]
    pub async fn describe_transactions<I, S>(
        &self,
        transactional_ids: I,
    ) -> ItemResults<String, TransactionDescription>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.per_coordinator(
            CoordinatorKind::Transaction,
            transactional_ids,
            describe_transactions_request,
            parse_describe_transactions,
        )
        .await
    }

    /// Describes the producers with state on each partition (asked of its
    /// leader): ids, epochs, last sequence and timestamp, and where their
    /// open transaction starts; one result per partition.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "describe_producers"))]
    pub async fn describe_producers(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
    ) -> ItemResults<TopicPartition, Vec<ProducerState>> {
        self.per_partition(
            partitions.into_iter().map(|tp| (tp, ())),
            |batch, _| {
                let partitions: Vec<TopicPartition> =
                    batch.iter().map(|(tp, ())| tp.clone()).collect();
                Ok(describe_producers_request(&partitions))
            },
            parse_describe_producers,
        )
        .await
    }

    /// Aborts a producer's open transaction on one partition by having the
    /// partition's leader write an abort marker (KIP-664), as
    /// `kafka-transactions.sh abort` does. Meant for hanging transactions
    /// whose coordinator no longer tracks them; the marker lets the
    /// partition's last stable offset move past the transaction.
    #[tracing::instrument(name = "admin", level = "info", skip_all, fields(otel.kind = "client", messaging.system = "kafka", messaging.operation.name = "abort_transaction"))]
    pub async fn abort_transaction(&self, spec: &AbortTransactionSpec) -> Result<()> {
        let mut results = self
            .per_partition(
                [(spec.partition.clone(), ())],
                |_, _| Ok(abort_marker_request(spec)),
                |response, batch| {
                    batch
                        .iter()
                        .map(|tp| (tp.clone(), parse_abort_marker(response, spec)))
                        .collect()
                },
            )
            .await;
        results
            .remove(&spec.partition)
            .unwrap_or_else(|| Err(missing(&spec.partition)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
