//! `durian topic describe NAME`: the topic's id, its partitions (leader,
//! epoch, replicas, ISR, log start and high watermark) and its configs.
//!
//! Three admin requests (Metadata, ListOffsets twice, DescribeConfigs);
//! whatever one of them cannot answer is shown as `-` and makes the
//! command exit non-zero after printing the rest.

use durian::admin::{
    Admin, ConfigEntry, ConfigResource, ConfigSource, ItemResults, ListedOffset, OffsetSpec,
    TopicPartition,
};

use super::{take_result, topic_error};
use crate::table::{id_list, or_dash, Report, Table};
use crate::CliError;

/// Prints the description of topic `name`.
pub async fn run(admin: &Admin, name: &str) -> Result<(), CliError> {
    let mut described = admin.describe_topics([name]).await;
    let topic =
        take_result(&mut described, &name.to_owned())?.map_err(|e| topic_error(name, &e))?;
    let partitions: Vec<TopicPartition> = topic
        .partitions
        .iter()
        .map(|p| TopicPartition::new(name, p.partition))
        .collect();
    let (starts, ends) = tokio::join!(
        admin.list_offsets(
            partitions
                .iter()
                .map(|tp| (tp.clone(), OffsetSpec::Earliest))
        ),
        admin.list_offsets(partitions.iter().map(|tp| (tp.clone(), OffsetSpec::Latest))),
    );
    let resource = ConfigResource::topic(name);
    let mut configs = admin.describe_configs([resource.clone()]).await;
    let configs = take_result(&mut configs, &resource)?;

    let mut problems = Vec::new();
    let replication = topic
        .partitions
        .iter()
        .map(|p| p.replicas.len())
        .max()
        .unwrap_or(0);
    let mut report = Report::new();
    report.field("topic", name);
    report.field("id", super::kafka_id(topic.topic_id.as_bytes()));
    report.field("internal", topic.is_internal.to_string());
    report.field("partitions", topic.partitions.len().to_string());
    report.field("replication", replication.to_string());
    let mut table = Table::new([
        "PARTITION",
        "LEADER",
        "EPOCH",
        "REPLICAS",
        "ISR",
        "OFFLINE",
        "LOG-START",
        "HIGH-WATERMARK",
    ]);
    for (p, tp) in topic.partitions.iter().zip(&partitions) {
        table.row([
            p.partition.to_string(),
            or_dash(p.leader),
            p.leader_epoch.to_string(),
            id_list(&p.replicas),
            id_list(&p.isr),
            id_list(&p.offline_replicas),
            offset_cell(&starts, tp, &mut problems),
            offset_cell(&ends, tp, &mut problems),
        ]);
    }
    report.table("partitions", table);
    match configs {
        Ok(entries) => report.table("configs", config_table(&entries)),
        Err(e) => problems.push(format!("configs: {e}")),
    }
    report.print()?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(format!(
            "part of topic `{name}` could not be read: {}",
            problems.join("; ")
        )))
    }
}

/// One offset as a table cell; a failed lookup becomes `-` and a problem.
fn offset_cell(
    results: &ItemResults<TopicPartition, ListedOffset>,
    tp: &TopicPartition,
    problems: &mut Vec<String>,
) -> String {
    match results.get(tp) {
        Some(Ok(listed)) => or_dash(listed.offset),
        Some(Err(e)) => {
            problems.push(format!("offsets of {tp}: {e}"));
            "-".to_owned()
        }
        None => "-".to_owned(),
    }
}

/// The configs sorted by name, with where each value comes from.
fn config_table(entries: &[ConfigEntry]) -> Table {
    let mut sorted: Vec<&ConfigEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut table = Table::new(["CONFIG", "VALUE", "SOURCE"]);
    for entry in sorted {
        let value = match (&entry.value, entry.sensitive) {
            (_, true) => "(sensitive)".to_owned(),
            (Some(value), false) => value.clone(),
            (None, false) => "-".to_owned(),
        };
        table.row([entry.name.clone(), value, source_name(entry.source)]);
    }
    table
}

/// A short name for where a config value comes from.
fn source_name(source: ConfigSource) -> String {
    match source {
        ConfigSource::TopicOverride => "topic".to_owned(),
        ConfigSource::DynamicBroker => "dynamic-broker".to_owned(),
        ConfigSource::DynamicDefaultBroker => "dynamic-default-broker".to_owned(),
        ConfigSource::StaticBroker => "static-broker".to_owned(),
        ConfigSource::Default => "default".to_owned(),
        ConfigSource::DynamicBrokerLogger => "broker-logger".to_owned(),
        ConfigSource::Unknown(code) => format!("unknown({code})"),
        // A source added to the admin client after this table was written.
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_are_sorted_and_sensitive_values_hidden() {
        let entry = |name: &str, value: Option<&str>, sensitive| {
            let mut entry =
                ConfigEntry::new(name, value.map(str::to_owned), ConfigSource::TopicOverride);
            entry.sensitive = sensitive;
            entry
        };
        let text = config_table(&[
            entry("z.last", Some("1"), false),
            entry("a.secret", Some("hunter2"), true),
            entry("m.unset", None, false),
        ])
        .render();
        assert_eq!(
            text,
            "CONFIG    VALUE        SOURCE\n\
             a.secret  (sensitive)  topic\n\
             m.unset   -            topic\n\
             z.last    1            topic\n"
        );
    }
}
