//! The operations inside an open transaction: AddPartitionsToTxn (and its
//! verify-only form), AddOffsetsToTxn, TxnOffsetCommit's staging, and the
//! check Produce makes on transactional batches (KIP-890 part 1).

use std::sync::Arc;

use kafka_protocol::ResponseError;

use super::state::{StagedOffset, TxnMetadata, TxnState};
use super::{lock, stage_in_groups, TransactionCoordinator};
use crate::clock::now_ms;

/// The producer a request names; checked against the coordinator's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerRef {
    /// The producer id.
    pub producer_id: i64,
    /// The producer epoch.
    pub producer_epoch: i16,
}

/// Kafka's checks of a client's producer id and epoch against the state.
fn check_producer(m: &TxnMetadata, producer: ProducerRef) -> Result<(), ResponseError> {
    if m.producer_id != producer.producer_id {
        return Err(ResponseError::InvalidProducerIdMapping);
    }
    if m.producer_epoch != producer.producer_epoch {
        return Err(ResponseError::ProducerFenced);
    }
    Ok(())
}

/// What may be added to a transaction in this state.
fn check_addable(m: &TxnMetadata) -> Result<(), ResponseError> {
    match m.state {
        TxnState::Empty
        | TxnState::Ongoing
        | TxnState::CompleteCommit
        | TxnState::CompleteAbort => Ok(()),
        TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
            Err(ResponseError::ConcurrentTransactions)
        }
        TxnState::Dead => Err(ResponseError::InvalidTxnState),
    }
}

impl TransactionCoordinator {
    /// The state of `transactional_id` checked for `producer`.
    fn current(
        &self,
        transactional_id: &str,
        producer: ProducerRef,
    ) -> Result<TxnMetadata, ResponseError> {
        let m = lock(&self.entries)
            .by_id
            .get(transactional_id)
            .cloned()
            .ok_or(ResponseError::InvalidProducerIdMapping)?;
        check_producer(&m, producer)?;
        Ok(m)
    }

    /// AddPartitionsToTxn: adds `partitions` to the producer's transaction,
    /// opening it if none is open. Written before it is answered; adding
    /// what is already in writes nothing.
    pub async fn add_partitions(
        self: &Arc<Self>,
        transactional_id: &str,
        producer: ProducerRef,
        partitions: &[(String, i32)],
    ) -> Result<(), ResponseError> {
        let _op = self.ops.lock().await;
        let mut m = self.current(transactional_id, producer)?;
        check_addable(&m)?;
        if m.state == TxnState::Ongoing && partitions.iter().all(|p| m.partitions.contains(p)) {
            return Ok(());
        }
        m.transition(TxnState::Ongoing, now_ms())
            .map_err(|_| ResponseError::InvalidTxnState)?;
        m.partitions.extend(partitions.iter().cloned());
        self.persist(m).await
    }

    /// AddPartitionsToTxn with verify_only (v4+): for each partition,
    /// whether it is in the producer's open transaction (NONE) or not
    /// (INVALID_TXN_STATE); producer errors apply to all of them.
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        producer: ProducerRef,
        partitions: &[(String, i32)],
    ) -> Result<Vec<i16>, ResponseError> {
        let m = self.current(transactional_id, producer)?;
        Ok(partitions
            .iter()
            .map(|p| {
                if m.state == TxnState::Ongoing && m.partitions.contains(p) {
                    0
                } else {
                    ResponseError::InvalidTxnState.code()
                }
            })
            .collect())
    }

    /// AddOffsetsToTxn: the transaction will commit offsets of `group`.
    pub async fn add_group(
        self: &Arc<Self>,
        transactional_id: &str,
        producer: ProducerRef,
        group: &str,
    ) -> Result<(), ResponseError> {
        let _op = self.ops.lock().await;
        let mut m = self.current(transactional_id, producer)?;
        check_addable(&m)?;
        if m.state == TxnState::Ongoing && m.groups.contains(group) {
            return Ok(());
        }
        m.transition(TxnState::Ongoing, now_ms())
            .map_err(|_| ResponseError::InvalidTxnState)?;
        m.groups.insert(group.to_owned());
        self.persist(m).await
    }

    /// TxnOffsetCommit: stages `offsets` of `group` in the producer's open
    /// transaction (which must have added the group); they become the
    /// group's committed offsets when it commits and are dropped when it
    /// aborts. Until then OffsetFetch with require_stable reports them
    /// as unstable.
    pub async fn stage_offsets(
        self: &Arc<Self>,
        transactional_id: &str,
        producer: ProducerRef,
        group: &str,
        offsets: Vec<(String, i32, StagedOffset)>,
    ) -> Result<(), ResponseError> {
        let _op = self.ops.lock().await;
        let mut m = self.current(transactional_id, producer)?;
        match m.state {
            TxnState::Ongoing if m.groups.contains(group) => {}
            TxnState::PrepareCommit | TxnState::PrepareAbort | TxnState::PrepareEpochFence => {
                return Err(ResponseError::ConcurrentTransactions)
            }
            _ => return Err(ResponseError::InvalidTxnState),
        }
        for (topic, partition, staged) in offsets {
            m.offsets
                .insert((group.to_owned(), topic, partition), staged);
        }
        m.last_update_ms = now_ms();
        let staged = m.clone();
        self.persist(m).await?;
        stage_in_groups(&self.groups, &staged);
        Ok(())
    }

    /// Produce's check of a transactional batch (KIP-890 part 1): the
    /// producer must be the transactional id's current one, at its current
    /// epoch (else INVALID_PRODUCER_EPOCH), with `topic`-`partition` added
    /// to its open transaction (else INVALID_TXN_STATE).
    pub fn check_produce(
        &self,
        transactional_id: Option<&str>,
        producer: ProducerRef,
        topic: &str,
        partition: i32,
    ) -> Result<(), ResponseError> {
        let entries = lock(&self.entries);
        let by_producer = entries
            .by_producer
            .get(&producer.producer_id)
            .and_then(|id| entries.by_id.get(id));
        let Some(m) = by_producer else {
            return Err(ResponseError::InvalidTxnState);
        };
        if transactional_id.is_some_and(|id| id != m.transactional_id) || transactional_id.is_none()
        {
            return Err(ResponseError::InvalidTxnState);
        }
        if producer.producer_epoch != m.producer_epoch {
            return Err(ResponseError::InvalidProducerEpoch);
        }
        if m.state != TxnState::Ongoing || !m.partitions.contains(&(topic.to_owned(), partition)) {
            return Err(ResponseError::InvalidTxnState);
        }
        Ok(())
    }
}
