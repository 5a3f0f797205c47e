//! `durian group`: list, describe and delete consumer groups, and move a
//! group's committed offsets (`seek`), through the admin client.

mod describe;

use clap::{Args, Subcommand};
use durian::admin::{Admin, OffsetResetTarget, TopicPartition};
use durian::core::{Error, KafkaCode};

use crate::position::Position;
use crate::progress;
use crate::table::{print_message, Table};
use crate::topic::{admin_client, take_result, topic_partitions};
use crate::{CliError, GlobalOpts};

/// Options of `durian group`.
#[derive(Debug, Args)]
pub struct GroupArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: GroupAction,
}

/// The `durian group` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupAction {
    /// List the groups of every broker.
    List,
    /// Show a group's state, members with their partitions, and per
    /// partition the committed offset, end offset and lag.
    Describe {
        /// Group id.
        group: String,
    },
    /// Delete a group and its committed offsets (it must have no members).
    Delete {
        /// Group id.
        group: String,
    },
    /// Move the group's committed offsets of every partition of a topic
    /// (the group must have no members).
    Seek {
        /// Group id.
        group: String,
        /// The topic whose partitions move.
        #[arg(long)]
        topic: String,
        /// Where to: beginning, end, an offset, or @TIMESTAMP_MS (the first
        /// record at or after that time; the end where there is none).
        #[arg(long)]
        to: Position,
    },
}

/// Runs `durian group`.
pub async fn run(args: GroupArgs, global: &GlobalOpts) -> Result<(), CliError> {
    let admin = admin_client(global)?;
    match args.action {
        GroupAction::List => list(&admin).await,
        GroupAction::Describe { group } => describe::run(&admin, &group).await,
        GroupAction::Delete { group } => delete(&admin, &group).await,
        GroupAction::Seek { group, topic, to } => seek(&admin, &group, &topic, to).await,
    }
}

/// An error about one group, with what to do for the usual causes.
pub fn group_error(group: &str, error: &Error) -> CliError {
    let hint = match error.kafka_code() {
        Some(KafkaCode::GROUP_ID_NOT_FOUND) => " (no such group)",
        Some(
            KafkaCode::NON_EMPTY_GROUP
            | KafkaCode::UNKNOWN_MEMBER_ID
            | KafkaCode::ILLEGAL_GENERATION
            | KafkaCode::REBALANCE_IN_PROGRESS,
        ) => " (the group has active members: stop its consumers first)",
        _ if error.is_retriable() => " (is the broker reachable? check -b / DURIAN_BROKERS)",
        _ => "",
    };
    CliError::new(format!("group `{group}`: {error}{hint}"))
}

async fn list(admin: &Admin) -> Result<(), CliError> {
    let mut groups = admin
        .list_groups()
        .await
        .map_err(|e| CliError::new(format!("cannot list groups: {e}")))?;
    groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
    let mut table = Table::new(["GROUP", "STATE", "TYPE", "COORDINATOR"]);
    for group in groups {
        let state = if group.state.is_empty() {
            "-".to_owned()
        } else {
            group.state
        };
        let kind = if group.protocol_type.is_empty() {
            "-".to_owned()
        } else {
            group.protocol_type
        };
        table.row([group.group_id, state, kind, group.coordinator.to_string()]);
    }
    table.print()
}

async fn delete(admin: &Admin, group: &str) -> Result<(), CliError> {
    let mut results = admin.delete_groups([group]).await;
    take_result(&mut results, &group.to_owned())?.map_err(|e| group_error(group, &e))?;
    print_message(
        &format!("deleted group `{group}`\n"),
        serde_json::json!({ "deleted": group }),
    )
}

async fn seek(admin: &Admin, group: &str, topic: &str, to: Position) -> Result<(), CliError> {
    let counts = topic_partitions(admin, &[topic.to_owned()]).await?;
    let count = counts.get(topic).copied().unwrap_or(0);
    let partitions: Vec<TopicPartition> =
        (0..count).map(|p| TopicPartition::new(topic, p)).collect();
    let reset = match to {
        Position::Beginning => OffsetResetTarget::Earliest,
        Position::End => OffsetResetTarget::Latest,
        Position::Offset(offset) => OffsetResetTarget::Offset(offset),
        Position::Timestamp(ms) => OffsetResetTarget::Timestamp(ms),
    };
    // The offsets move in one request, so the bar (on a terminal) turns
    // while it is out and then jumps to the partitions it moved.
    let bar = progress::bar(
        count.max(0) as u64,
        progress::style(progress::SEEK_TEMPLATE),
    );
    if !bar.is_hidden() {
        bar.enable_steady_tick(std::time::Duration::from_millis(250));
    }
    let results = admin
        .reset_group_offsets(group, Some(partitions), reset)
        .await
        .map_err(|e| group_error(group, &e))?;
    bar.set_position(results.iter().filter(|(_, r)| r.is_ok()).count() as u64);
    bar.finish_and_clear();
    let mut table = Table::new(["TOPIC", "PARTITION", "NEW-OFFSET"]);
    let mut failures = Vec::new();
    for (tp, result) in results {
        match result {
            Ok(offset) => table.row([
                tp.topic().to_owned(),
                tp.partition.to_string(),
                offset.to_string(),
            ]),
            Err(e) => {
                table.row([
                    tp.topic().to_owned(),
                    tp.partition.to_string(),
                    "-".to_owned(),
                ]);
                failures.push((tp, e));
            }
        }
    }
    table.print()?;
    match failures.first() {
        None => Ok(()),
        Some((tp, error)) => {
            let detail = group_error(group, error);
            Err(CliError::new(format!(
                "{} of {count} partitions not moved; {tp}: {detail}",
                failures.len()
            )))
        }
    }
}
