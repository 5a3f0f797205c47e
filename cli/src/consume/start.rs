//! Where `durian consume` starts reading (`--from`).
//!
//! `beginning` and `end` are the consumer's own `auto.offset.reset`
//! (earliest / latest), so they need nothing here. An offset or a
//! timestamp is applied by seeking: without a group right after the
//! partitions are assigned, with a group in the rebalance listener, and
//! there only for partitions the group has no committed offset for (a
//! group resumes where it left off, as with `auto.offset.reset`).

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use durian::consumer::{Consumer, RebalanceListener, TopicPartition};

use crate::position::Position;
use crate::CliError;

/// The `auto.offset.reset` for a `--from`: `latest` for `end`, else
/// `earliest` (also the fallback when an offset is out of range).
pub fn offset_reset(from: Position) -> &'static str {
    match from {
        Position::End => "latest",
        _ => "earliest",
    }
}

/// Moves `partitions` to `from` if it is an offset or a timestamp.
pub async fn seek_to(
    consumer: &mut Consumer,
    partitions: &[TopicPartition],
    from: Position,
) -> Result<(), CliError> {
    match from {
        Position::Beginning | Position::End => Ok(()),
        Position::Offset(offset) => {
            for tp in partitions {
                consumer.seek(tp, offset)?;
            }
            Ok(())
        }
        Position::Timestamp(ms) => {
            let wanted = partitions.iter().map(|tp| (tp.clone(), ms)).collect();
            let found = consumer.offsets_for_times(&wanted).await?;
            // Nothing that recent yet in these: wait there for new records.
            let at_end: Vec<TopicPartition> = found
                .iter()
                .filter(|(_, hit)| hit.is_none())
                .map(|(tp, _)| tp.clone())
                .collect();
            let ends = if at_end.is_empty() {
                BTreeMap::new()
            } else {
                consumer.end_offsets(&at_end).await?
            };
            for (tp, hit) in found {
                if let Some((offset, _timestamp)) = hit {
                    consumer.seek(&tp, offset)?;
                }
            }
            for (tp, offset) in ends {
                consumer.seek(&tp, offset)?;
            }
            Ok(())
        }
    }
}

/// The partitions among `partitions` the consumer's group has not
/// committed (all of them without a group).
async fn uncommitted(
    consumer: &Consumer,
    partitions: &[TopicPartition],
) -> Result<Vec<TopicPartition>, CliError> {
    if consumer.config().group_id.is_none() {
        return Ok(partitions.to_vec());
    }
    let wanted: BTreeSet<TopicPartition> = partitions.iter().cloned().collect();
    let committed = consumer.committed(&wanted).await?;
    Ok(partitions
        .iter()
        .filter(|tp| committed.get(tp).is_some_and(Option::is_none))
        .cloned()
        .collect())
}

/// Applies an offset or timestamp `--from` to partitions a group member
/// receives that the group has not committed.
#[derive(Debug)]
pub struct StartListener {
    from: Position,
}

impl StartListener {
    /// A listener seeking to `from`.
    pub fn new(from: Position) -> StartListener {
        StartListener { from }
    }
}

#[async_trait]
impl RebalanceListener for StartListener {
    async fn on_partitions_assigned(
        &mut self,
        consumer: &mut Consumer,
        partitions: &[TopicPartition],
    ) {
        let uncommitted = match uncommitted(consumer, partitions).await {
            Ok(uncommitted) => uncommitted,
            Err(error) => {
                tracing::warn!(%error, "cannot read the group's committed offsets; \
                    starting from them or from auto.offset.reset instead of --from");
                return;
            }
        };
        if let Err(error) = seek_to(consumer, &uncommitted, self.from).await {
            tracing::warn!(%error, from = %self.from, "cannot apply --from; \
                starting from auto.offset.reset instead");
        }
    }
}
