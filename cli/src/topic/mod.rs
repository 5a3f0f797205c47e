//! `durian topic`: create, list, describe and delete topics and alter
//! their configs, through the admin client.
//!
//! Also home of the two lookups the data commands share: an admin client
//! built from the global options ([`admin_client`]) and the partition
//! counts of topics that must exist ([`topic_partitions`]), so `produce`,
//! `consume` and `group seek` fail fast, with a hint, on a missing topic.

mod describe;
mod settle;

use std::collections::BTreeMap;
use std::time::Duration;

use clap::{Args, Subcommand};
use durian::admin::{Admin, AlterConfigOp, ConfigResource, NewTopic};
use durian::core::{Error, KafkaCode};

use crate::global::parse_property;
use crate::table::{print_message, print_stdout, Table};
use crate::{CliError, GlobalOpts};

/// How long one admin operation of the CLI may take by default
/// (`default.api.timeout.ms`, changeable with `-X`): long enough for a
/// real cluster, short enough that an unreachable one is reported soon.
pub const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Options of `durian topic`.
#[derive(Debug, Args)]
pub struct TopicArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TopicAction,
}

/// The `durian topic` subcommands.
#[derive(Debug, Subcommand)]
pub enum TopicAction {
    /// Create a topic.
    Create {
        /// Topic name.
        name: String,
        /// Partition count (default: the broker's `num.partitions`).
        #[arg(short = 'p', long = "partitions")]
        partitions: Option<i32>,
        /// Replication factor (default: the broker's default).
        #[arg(short = 'r', long = "replicas")]
        replicas: Option<i16>,
        /// A topic config override, `key=value` (repeatable), e.g. `-c retention.ms=60000`.
        #[arg(short = 'c', long = "config", value_name = "KEY=VALUE", value_parser = parse_property)]
        configs: Vec<(String, String)>,
    },
    /// List topics with their partition counts and ids.
    List {
        /// Include internal topics such as `__consumer_offsets`.
        #[arg(short = 'i', long)]
        internal: bool,
    },
    /// Show a topic's id, partitions (leader, replicas, ISR, offsets) and configs.
    Describe {
        /// Topic name.
        name: String,
    },
    /// Delete a topic and all its records.
    Delete {
        /// Topic name.
        name: String,
    },
    /// Change topic configs; settings not named keep their values.
    AlterConfig {
        /// Topic name.
        name: String,
        /// Set a config, `key=value` (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_property)]
        set: Vec<(String, String)>,
        /// Remove a config override, going back to the default (repeatable).
        #[arg(long = "delete", value_name = "KEY")]
        delete: Vec<String>,
    },
}

/// Runs `durian topic`.
pub async fn run(args: TopicArgs, global: &GlobalOpts) -> Result<(), CliError> {
    let admin = admin_client(global)?;
    match args.action {
        TopicAction::Create {
            name,
            partitions,
            replicas,
            configs,
        } => create(&admin, name, partitions, replicas, configs).await,
        TopicAction::List { internal } => list(&admin, internal).await,
        TopicAction::Describe { name } => describe::run(&admin, &name).await,
        TopicAction::Delete { name } => delete(&admin, &name).await,
        TopicAction::AlterConfig { name, set, delete } => {
            alter_config(&admin, &name, set, delete).await
        }
    }
}

/// An admin client for `-b` and the `-X` properties, with the CLI's
/// shorter [`ADMIN_TIMEOUT`] unless `-X default.api.timeout.ms` says otherwise.
pub fn admin_client(global: &GlobalOpts) -> Result<Admin, CliError> {
    let timeout = ADMIN_TIMEOUT.as_millis().to_string();
    Admin::from_properties(global.client_properties(&[("default.api.timeout.ms", timeout)]))
        .map_err(|e| CliError::new(format!("bad client settings: {e}")))
}

/// The partition count of each topic, failing on the first topic that
/// does not exist or cannot be described.
pub async fn topic_partitions(
    admin: &Admin,
    topics: &[String],
) -> Result<BTreeMap<String, i32>, CliError> {
    let described = admin.describe_topics(topics.iter().cloned()).await;
    let mut counts = BTreeMap::new();
    for (name, result) in described {
        let description = result.map_err(|e| topic_error(&name, &e))?;
        let count = i32::try_from(description.partitions.len()).unwrap_or(i32::MAX);
        counts.insert(name, count);
    }
    Ok(counts)
}

/// An error about one topic, with what to do for the usual causes.
pub fn topic_error(topic: &str, error: &Error) -> CliError {
    let hint = match error.kafka_code() {
        Some(KafkaCode::UNKNOWN_TOPIC_OR_PARTITION) => {
            format!(" (the topic does not exist; create it with `durian topic create {topic}`)")
        }
        Some(KafkaCode::TOPIC_ALREADY_EXISTS) => {
            " (delete it first with `durian topic delete` or pick another name)".to_owned()
        }
        _ if error.is_retriable() => {
            " (is the broker reachable? check -b / DURIAN_BROKERS)".to_owned()
        }
        _ => String::new(),
    };
    CliError::new(format!("topic `{topic}`: {error}{hint}"))
}

async fn create(
    admin: &Admin,
    name: String,
    partitions: Option<i32>,
    replicas: Option<i16>,
    configs: Vec<(String, String)>,
) -> Result<(), CliError> {
    if partitions.is_some_and(|p| p < 1) {
        return Err(CliError::new("--partitions must be at least 1"));
    }
    if replicas.is_some_and(|r| r < 1) {
        return Err(CliError::new("--replicas must be at least 1"));
    }
    let topic = NewTopic {
        name: name.clone(),
        partitions,
        replication_factor: replicas,
        configs: configs.into_iter().collect(),
    };
    let mut results = admin.create_topics([topic]).await;
    let created = take_result(&mut results, &name)?.map_err(|e| topic_error(&name, &e))?;
    settle::wait_for(admin, &name, settle::Expect::Present).await;
    let partitions = match created.partitions {
        n if n >= 0 => n.to_string(),
        _ => "the default number of".to_owned(),
    };
    let json = serde_json::json!({
        "created": name,
        "partitions": (created.partitions >= 0).then_some(created.partitions),
        "id": kafka_id(created.topic_id.as_bytes()),
    });
    print_message(
        &format!(
            "created topic `{name}` with {partitions} partitions (id {})\n",
            kafka_id(created.topic_id.as_bytes())
        ),
        json,
    )
}

/// A topic id as Kafka's own tools print it (`kafka-topics.sh`, server
/// logs): URL-safe base64 of its 16 bytes without padding, so the ids the
/// CLI shows can be matched with Kafka's.
pub(crate) fn kafka_id(id: &[u8; 16]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, id)
}

async fn list(admin: &Admin, internal: bool) -> Result<(), CliError> {
    let listings = admin
        .list_topics()
        .await
        .map_err(|e| CliError::new(format!("cannot list topics: {e}")))?;
    let names: Vec<String> = listings
        .iter()
        .filter(|t| internal || !t.is_internal)
        .map(|t| t.name.clone())
        .collect();
    let described = if names.is_empty() {
        BTreeMap::new()
    } else {
        admin.describe_topics(names.iter().cloned()).await
    };
    let mut table = Table::new(["NAME", "PARTITIONS", "REPLICAS", "ID"]);
    for (name, description) in &described {
        // A topic deleted between the two requests is still listed.
        let (partitions, replicas, id) = match description {
            Ok(d) => (
                d.partitions.len().to_string(),
                d.partitions
                    .iter()
                    .map(|p| p.replicas.len())
                    .max()
                    .unwrap_or(0)
                    .to_string(),
                kafka_id(d.topic_id.as_bytes()),
            ),
            Err(_) => ("-".into(), "-".into(), "-".into()),
        };
        table.row([name.clone(), partitions, replicas, id]);
    }
    table.print()
}

async fn delete(admin: &Admin, name: &str) -> Result<(), CliError> {
    let mut results = admin.delete_topics([name]).await;
    take_result(&mut results, &name.to_owned())?.map_err(|e| topic_error(name, &e))?;
    settle::wait_for(admin, name, settle::Expect::Absent).await;
    print_message(
        &format!("deleted topic `{name}`\n"),
        serde_json::json!({ "deleted": name }),
    )
}

async fn alter_config(
    admin: &Admin,
    name: &str,
    set: Vec<(String, String)>,
    delete: Vec<String>,
) -> Result<(), CliError> {
    if set.is_empty() && delete.is_empty() {
        return Err(CliError::new(
            "nothing to change: give --set KEY=VALUE and/or --delete KEY",
        ));
    }
    let summary: Vec<String> = set
        .iter()
        .map(|(k, v)| format!("set {k}={v}"))
        .chain(delete.iter().map(|k| format!("deleted {k}")))
        .collect();
    let ops: Vec<AlterConfigOp> = set
        .into_iter()
        .map(|(k, v)| AlterConfigOp::Set(k, v))
        .chain(delete.into_iter().map(AlterConfigOp::Delete))
        .collect();
    let resource = ConfigResource::topic(name);
    let mut results = admin
        .incremental_alter_configs([(resource.clone(), ops)])
        .await;
    take_result(&mut results, &resource)?.map_err(|e| topic_error(name, &e))?;
    print_stdout(&format!("altered topic `{name}`: {}\n", summary.join(", ")))
}

/// The result for `key` out of a per-item answer.
pub fn take_result<K: Ord + std::fmt::Debug, V>(
    results: &mut BTreeMap<K, Result<V, Error>>,
    key: &K,
) -> Result<Result<V, Error>, CliError> {
    results
        .remove(key)
        .ok_or_else(|| CliError::new(format!("the admin client returned no result for {key:?}")))
}
