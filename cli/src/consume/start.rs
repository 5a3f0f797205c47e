//! Where `durian consume` starts reading (`--from`).
//!
//! `beginning` and `end` are the consumer's own `auto.offset.reset`
//! (earliest / latest), so they need nothing here. An offset or a
//! timestamp is applied by seeking: without a group right after the
//! partitions are assigned, with a group in the rebalance listener, and
//! there only for partitions the group has no committed offset for (a
//! group resumes where it left off, as with `auto.offset.reset`).

use async_trait::async_trait;
use durian::admin::{self, Admin, OffsetSpec};
use durian::consumer::{Consumer, RebalanceListener, TopicPartition};

use crate::position::Position;
use crate::topic_command::ADMIN_TIMEOUT;
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
///
/// Lookups go through an admin client on the consumer's connections:
/// the consumer's own lookups hold `&Consumer` across an await, which
/// the rebalance listener's `Send` future cannot.
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
            let admin = Admin::with_client(consumer.client().clone(), ADMIN_TIMEOUT);
            let found = lookup(&admin, partitions, OffsetSpec::Timestamp(ms)).await?;
            // Nothing that recent yet in these: wait there for new records.
            let at_end: Vec<TopicPartition> = found
                .iter()
                .filter(|(_, offset)| offset.is_none())
                .map(|(tp, _)| tp.clone())
                .collect();
            let ends = lookup(&admin, &at_end, OffsetSpec::Latest).await?;
            for (tp, offset) in found.into_iter().chain(ends) {
                if let Some(offset) = offset {
                    consumer.seek(&tp, offset)?;
                }
            }
            Ok(())
        }
    }
}

/// One ListOffsets lookup for `partitions`; an error if any failed.
async fn lookup(
    admin: &Admin,
    partitions: &[TopicPartition],
    spec: OffsetSpec,
) -> Result<Vec<(TopicPartition, Option<i64>)>, CliError> {
    if partitions.is_empty() {
        return Ok(Vec::new());
    }
    let found = admin
        .list_offsets(partitions.iter().map(|tp| (to_admin(tp), spec)))
        .await;
    found
        .into_iter()
        .map(|(tp, listed)| {
            let tp = TopicPartition::new(tp.topic.as_str(), tp.partition);
            match listed {
                Ok(listed) => Ok((tp, listed.offset)),
                Err(e) => Err(CliError::new(format!(
                    "cannot look up offsets of {tp}: {e}"
                ))),
            }
        })
        .collect()
}

fn to_admin(tp: &TopicPartition) -> admin::TopicPartition {
    admin::TopicPartition::new(tp.topic.to_string(), tp.partition)
}

/// The partitions among `partitions` the consumer's group has not committed.
/// Takes the admin client rather than the consumer, which the listener's
/// `Send` future cannot hold across an await.
async fn uncommitted(
    admin: Admin,
    group: Option<String>,
    partitions: &[TopicPartition],
) -> Result<Vec<TopicPartition>, CliError> {
    let Some(group) = group else {
        return Ok(partitions.to_vec());
    };
    let offsets = admin
        .list_group_offsets(&group, Some(partitions.iter().map(to_admin).collect()))
        .await?;
    Ok(partitions
        .iter()
        .filter(|tp| {
            offsets
                .get(&to_admin(tp))
                .is_some_and(|o| o.as_ref().is_ok_and(|o| o.committed.is_none()))
        })
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
        let admin = Admin::with_client(consumer.client().clone(), ADMIN_TIMEOUT);
        let group = consumer.config().group_id.clone();
        let uncommitted = match uncommitted(admin, group, partitions).await {
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
