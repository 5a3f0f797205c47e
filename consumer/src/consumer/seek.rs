//! Positions: lookups on assignment, resets, seeks, pauses and lag.

use std::collections::{BTreeMap, BTreeSet};

use tokio::time::Instant;

use super::{commit, positions, Consumer};
use crate::config::OffsetReset;
use crate::error::{ConsumerError, Result};
use crate::fetcher::ToValidate;
use crate::offsets::{EARLIEST_TIMESTAMP, LATEST_TIMESTAMP};
use crate::types::TopicPartition;

impl Consumer {
    /// Looks up missing positions (committed offsets, else the reset
    /// policy) and resets out-of-range ones, at most once per backoff.
    pub(super) async fn update_positions(&mut self) {
        let missing = self.fetcher.without_position();
        let out_of_range = self.fetcher.out_of_range();
        let to_validate = self.fetcher.awaiting_validation();
        if (missing.is_empty() && out_of_range.is_empty() && to_validate.is_empty())
            || Instant::now() < self.next_position_lookup
        {
            return;
        }
        self.next_position_lookup = Instant::now() + self.config.client.retry_backoff;
        if !to_validate.is_empty() {
            self.validate_positions(&to_validate).await;
        }
        // A truncation with a reset policy may have sent some partitions
        // to be reset.
        let out_of_range = if to_validate.is_empty() {
            out_of_range
        } else {
            self.fetcher.out_of_range()
        };
        let mut to_reset: Vec<TopicPartition> = Vec::new();
        match self.config.group_id.clone() {
            Some(group_id) if !missing.is_empty() => {
                let wanted: BTreeSet<TopicPartition> = missing.iter().cloned().collect();
                match commit::fetch_committed(&self.client, &group_id, &wanted).await {
                    Ok(committed) => {
                        for (tp, offset) in committed {
                            match offset {
                                Some(o) => {
                                    self.fetcher.seek(&tp, o.offset, o.leader_epoch);
                                    self.last_committed.insert(tp, o.offset);
                                }
                                None => to_reset.push(tp),
                            }
                        }
                    }
                    Err(error) => {
                        tracing::debug!(%error, "committed offsets lookup failed; retrying")
                    }
                }
            }
            _ => to_reset.extend(missing),
        }
        for tp in &out_of_range {
            tracing::info!(partition = %tp, "position out of range; applying auto.offset.reset");
        }
        to_reset.extend(out_of_range.iter().cloned());
        self.reset_positions(&to_reset, &out_of_range).await;
    }

    /// Checks positions against their new leader's log (KIP-320).
    async fn validate_positions(&mut self, partitions: &BTreeMap<TopicPartition, ToValidate>) {
        for (tp, outcome) in positions::validate(&self.client, partitions).await {
            let Some(asked) = partitions.get(&tp) else {
                continue;
            };
            match outcome {
                positions::Validation::Answered(end) => self.fetcher.validated(&tp, *asked, end),
                positions::Validation::Unsupported => self.fetcher.skip_validation(&tp),
            }
        }
    }

    async fn reset_positions(
        &mut self,
        partitions: &[TopicPartition],
        out_of_range: &[TopicPartition],
    ) {
        if partitions.is_empty() {
            return;
        }
        let timestamp = match self.config.auto_offset_reset {
            OffsetReset::Earliest => EARLIEST_TIMESTAMP,
            OffsetReset::Latest => LATEST_TIMESTAMP,
            OffsetReset::None => {
                for tp in partitions {
                    let error = match (
                        out_of_range.contains(tp),
                        self.fetcher.cursor(tp).and_then(|c| c.position),
                    ) {
                        (true, Some(offset)) => ConsumerError::OffsetOutOfRange {
                            partition: tp.clone(),
                            offset,
                        },
                        _ => ConsumerError::NoOffset(tp.clone()),
                    };
                    if let Some(cursor) = self.fetcher.cursor_mut(tp) {
                        cursor.pending_error = Some(error);
                    }
                }
                return;
            }
        };
        let wanted: BTreeMap<TopicPartition, i64> = partitions
            .iter()
            .map(|tp| (tp.clone(), timestamp))
            .collect();
        match positions::list_offsets(&self.client, self.config.isolation_level, &wanted).await {
            Ok(found) => {
                for (tp, (offset, _)) in found {
                    self.fetcher.seek(&tp, offset, None);
                }
            }
            Err(error) => tracing::debug!(%error, "offset reset lookup failed; retrying"),
        }
    }

    /// The offset of the next record `poll` will return for `partition`,
    /// looking it up first if needed.
    pub async fn position(&mut self, partition: &TopicPartition) -> Result<i64> {
        let deadline = Instant::now() + self.config.client.request_timeout;
        loop {
            let cursor = self
                .fetcher
                .cursor_mut(partition)
                .ok_or_else(|| ConsumerError::Usage(format!("{partition} is not assigned")))?;
            if let Some(error) = cursor.pending_error.take() {
                return Err(error);
            }
            if let (Some(position), false) = (cursor.position, cursor.needs_reset) {
                return Ok(position);
            }
            if Instant::now() >= deadline {
                return Err(ConsumerError::Client(durian_core::Error::Timeout {
                    operation: format!("looking up the position of {partition}"),
                    timeout: self.config.client.request_timeout,
                }));
            }
            self.next_position_lookup = Instant::now();
            self.update_positions().await;
            if self
                .fetcher
                .cursor(partition)
                .is_some_and(|c| c.position.is_none())
            {
                tokio::time::sleep(self.config.client.retry_backoff).await;
            }
        }
    }

    /// Makes the next `poll` return records of `partition` from `offset` on.
    pub fn seek(&mut self, partition: &TopicPartition, offset: i64) -> Result<()> {
        if self.fetcher.seek(partition, offset, None) {
            Ok(())
        } else {
            Err(ConsumerError::Usage(format!(
                "cannot seek {partition}: not assigned"
            )))
        }
    }

    /// Seeks `partitions` to their log start offsets.
    pub async fn seek_to_beginning(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.seek_to_timestamp(partitions, EARLIEST_TIMESTAMP).await
    }

    /// Seeks `partitions` to their ends (the high watermark, or the last
    /// stable offset under read_committed).
    pub async fn seek_to_end(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.seek_to_timestamp(partitions, LATEST_TIMESTAMP).await
    }

    async fn seek_to_timestamp(
        &mut self,
        partitions: &[TopicPartition],
        timestamp: i64,
    ) -> Result<()> {
        let found = self.offsets_at(partitions, timestamp).await?;
        for (tp, offset) in found {
            self.seek(&tp, offset)?;
        }
        Ok(())
    }

    /// The offset of every partition in `partitions` at the ListOffsets
    /// `timestamp` (a time, or the earliest or latest marker).
    async fn offsets_at(
        &self,
        partitions: &[TopicPartition],
        timestamp: i64,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        let wanted = partitions
            .iter()
            .map(|tp| (tp.clone(), timestamp))
            .collect();
        Ok(self
            .list_offsets_complete(&wanted)
            .await?
            .into_iter()
            .map(|(tp, (o, _))| (tp, o))
            .collect())
    }

    /// For each partition, the earliest offset whose timestamp is at or
    /// after the given one, with that record's timestamp; `None` when no
    /// such record exists yet.
    pub async fn offsets_for_times(
        &self,
        timestamps: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Option<(i64, i64)>>> {
        let found = self.list_offsets_complete(timestamps).await?;
        Ok(found
            .into_iter()
            .map(|(tp, (offset, ts))| (tp, (offset >= 0).then_some((offset, ts))))
            .collect())
    }

    /// The log start offsets of `partitions`.
    pub async fn beginning_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.offsets_at(partitions, EARLIEST_TIMESTAMP).await
    }

    /// The end offsets (high watermarks, or last stable offsets under read_committed).
    pub async fn end_offsets(
        &self,
        partitions: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.offsets_at(partitions, LATEST_TIMESTAMP).await
    }

    /// ListOffsets, retried until every partition answered or the request timeout passed.
    async fn list_offsets_complete(
        &self,
        wanted: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, (i64, i64)>> {
        self.client
            .add_topics(wanted.keys().map(|tp| tp.topic.to_string()));
        let deadline = Instant::now() + self.config.client.request_timeout;
        let mut found = BTreeMap::new();
        loop {
            let missing: BTreeMap<TopicPartition, i64> = wanted
                .iter()
                .filter(|(tp, _)| !found.contains_key(*tp))
                .map(|(tp, ts)| (tp.clone(), *ts))
                .collect();
            if missing.is_empty() {
                return Ok(found);
            }
            if Instant::now() >= deadline {
                return Err(ConsumerError::Client(durian_core::Error::Timeout {
                    operation: format!("listing offsets of {} partitions", missing.len()),
                    timeout: self.config.client.request_timeout,
                }));
            }
            if self.client.metadata().topics.is_empty() {
                let _ = self
                    .client
                    .refresh_metadata("consumer: listing offsets")
                    .await;
            }
            found.extend(
                positions::list_offsets(&self.client, self.config.isolation_level, &missing)
                    .await?,
            );
            if found.len() < wanted.len() {
                tokio::time::sleep(self.config.client.retry_backoff).await;
            }
        }
    }

    /// Stops fetching `partitions` until [`resume`](Self::resume); their
    /// buffered records are kept and the group assignment is unchanged.
    pub fn pause(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            if let Some(cursor) = self.fetcher.cursor_mut(tp) {
                cursor.paused = true;
            }
        }
    }

    /// Resumes paused partitions.
    pub fn resume(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            if let Some(cursor) = self.fetcher.cursor_mut(tp) {
                cursor.paused = false;
            }
        }
    }

    /// The paused partitions.
    pub fn paused(&self) -> BTreeSet<TopicPartition> {
        self.fetcher
            .assigned()
            .into_iter()
            .filter(|tp| self.fetcher.cursor(tp).is_some_and(|c| c.paused))
            .collect()
    }

    /// How far `partition` trails its high watermark, as of the last fetch
    /// (`None` before the first fetch answered).
    pub fn lag(&self, partition: &TopicPartition) -> Option<i64> {
        let cursor = self.fetcher.cursor(partition)?;
        let position = cursor.position?;
        (cursor.high_watermark >= 0).then(|| (cursor.high_watermark - position).max(0))
    }
}
