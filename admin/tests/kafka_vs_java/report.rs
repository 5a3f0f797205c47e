//! durian's Admin results written as the lines interop/java's
//! `admin-report` prints for Kafka's Java Admin (see AdminReport.java):
//! same words, same order of fields, Java's spelling of enum values and
//! `null` for an absent value. Only representation is translated here;
//! a fact durian's Admin does not report cannot be made up, so it shows
//! as a difference.

use std::collections::BTreeMap;
use std::fmt::Display;

use durian_admin::{
    AclBindingFilter, Admin, ConfigResource, ConfigSource, OffsetSpec, ResourceKind,
    TopicPartition, TransactionFilter,
};
use durian_core::KafkaCode;

/// What the report covers, as given to `admin-report`.
pub struct Scope<'a> {
    pub topics: &'a [&'a str],
    pub groups: &'a [&'a str],
    pub txns: &'a [&'a str],
    pub users: &'a [&'a str],
    pub broker: i32,
}

fn opt<T: Display>(value: Option<T>) -> String {
    value.map_or_else(|| "null".to_owned(), |v| v.to_string())
}

/// Partitions as `topic:partition`, sorted, comma-separated.
fn partitions<'a>(tps: impl IntoIterator<Item = &'a TopicPartition>) -> String {
    let mut names: Vec<String> = tps
        .into_iter()
        .map(|tp| format!("{}:{}", tp.topic, tp.partition))
        .collect();
    names.sort();
    names.join(",")
}

fn ids(nodes: &[i32]) -> String {
    nodes
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Java's `ConfigEntry.ConfigSource` name for a source.
fn java_source(source: ConfigSource) -> String {
    match source {
        ConfigSource::TopicOverride => "DYNAMIC_TOPIC_CONFIG".to_owned(),
        ConfigSource::DynamicBroker => "DYNAMIC_BROKER_CONFIG".to_owned(),
        ConfigSource::DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG".to_owned(),
        ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG".to_owned(),
        ConfigSource::Default => "DEFAULT_CONFIG".to_owned(),
        ConfigSource::DynamicBrokerLogger => "DYNAMIC_BROKER_LOGGER_CONFIG".to_owned(),
        other => format!("{other:?}"),
    }
}

/// Every fact durian's Admin reports for `scope`, sorted.
pub async fn durian_report(admin: &Admin, scope: &Scope<'_>) -> Vec<String> {
    let mut facts = Vec::new();

    let cluster = admin.describe_cluster().await.expect("describe cluster");
    facts.push(format!("cluster id {}", opt(cluster.cluster_id)));
    facts.push(format!("cluster controller {}", opt(cluster.controller_id)));
    for node in &cluster.brokers {
        let rack = opt(node.rack.as_ref());
        facts.push(format!(
            "node {} {} {} {rack}",
            node.node_id, node.host, node.port
        ));
    }

    let mut all = Vec::new();
    for (name, described) in admin.describe_topics(scope.topics.iter().copied()).await {
        let topic = described.unwrap_or_else(|e| panic!("describe {name}: {e}"));
        let internal = topic.is_internal;
        facts.push(format!(
            "topic {name} id {} internal {internal}",
            topic.topic_id
        ));
        for p in &topic.partitions {
            facts.push(format!(
                "partition {name} {} leader {} replicas {} isr {}",
                p.partition,
                opt(p.leader),
                ids(&p.replicas),
                ids(&p.isr)
            ));
            all.push(TopicPartition::new(name.as_str(), p.partition));
        }
    }

    let resources = scope
        .topics
        .iter()
        .map(|t| ConfigResource::topic(*t))
        .chain([ConfigResource::broker(scope.broker)]);
    for (resource, described) in admin.describe_configs(resources).await {
        let entries = described.unwrap_or_else(|e| panic!("describe configs {resource}: {e}"));
        let kind = match resource.kind {
            ResourceKind::Topic => "topic",
            _ => "broker",
        };
        for entry in entries {
            facts.push(format!(
                "config {kind} {} {} source {} read-only {} sensitive {} value {}",
                resource.name,
                entry.name,
                java_source(entry.source),
                entry.read_only,
                entry.sensitive,
                opt(entry.value)
            ));
        }
    }

    for (word, spec) in [
        ("earliest", OffsetSpec::Earliest),
        ("latest", OffsetSpec::Latest),
        ("max-timestamp", OffsetSpec::MaxTimestamp),
    ] {
        let found = admin
            .list_offsets(all.iter().map(|tp| (tp.clone(), spec)))
            .await;
        for (tp, listed) in found {
            let listed = listed.unwrap_or_else(|e| panic!("list offsets {tp}: {e}"));
            facts.push(format!(
                "offset {} {} {word} offset {} timestamp {} leader-epoch {}",
                tp.topic,
                tp.partition,
                // Java's ListOffsetsResultInfo says -1 where durian says None.
                listed.offset.unwrap_or(-1),
                listed.timestamp,
                opt(listed.leader_epoch)
            ));
        }
    }

    groups(admin, scope, &mut facts).await;

    match admin.describe_acls(&AclBindingFilter::any()).await {
        Ok(acls) => {
            for acl in acls {
                let (pattern, entry) = (&acl.pattern, &acl.entry);
                facts.push(format!(
                    "acl {} {} {} {} {} {} {}",
                    pattern.resource_type,
                    pattern.name,
                    pattern.pattern_type,
                    entry.principal,
                    entry.host,
                    entry.operation,
                    entry.permission_type
                ));
            }
        }
        Err(e) if e.kafka_code() == Some(KafkaCode::SECURITY_DISABLED) => {
            facts.push("acls disabled".to_owned());
        }
        Err(e) => panic!("describe acls: {e}"),
    }

    transactions(admin, scope, &all, &mut facts).await;

    // As admin-report: no users named, no lookup (an empty list would ask
    // for every user).
    let users: Vec<&str> = scope.users.to_vec();
    let described = if users.is_empty() {
        Default::default()
    } else {
        admin
            .describe_user_scram_credentials(Some(&users))
            .await
            .expect("describe scram credentials")
    };
    for (user, infos) in described {
        for info in infos.unwrap_or_else(|e| panic!("scram {user}: {e}")) {
            let mechanism = info.mechanism.name().replace('-', "_");
            facts.push(format!("scram {user} {mechanism} {}", info.iterations));
        }
    }

    facts.sort();
    facts
}

/// Java's `GroupType` spelling (`Classic`) of a wire group type (`classic`).
fn java_group_type(wire: &str) -> String {
    let mut chars = wire.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "null".to_owned(),
    }
}

async fn groups(admin: &Admin, scope: &Scope<'_>, facts: &mut Vec<String>) {
    // durian's GroupDescription has no group type (DescribeGroups carries
    // none); the listing's stands in for it (docs/ADMIN.md).
    let mut types = BTreeMap::new();
    for listing in admin.list_groups().await.expect("list groups") {
        if scope.groups.contains(&listing.group_id.as_str()) {
            let group_type = java_group_type(&listing.group_type);
            facts.push(format!(
                "group-listed {} type {group_type} protocol {} state {}",
                listing.group_id, listing.protocol_type, listing.state
            ));
            types.insert(listing.group_id, group_type);
        }
    }
    for (id, described) in admin.describe_groups(scope.groups.iter().copied()).await {
        let group = described.unwrap_or_else(|e| panic!("describe group {id}: {e}"));
        facts.push(format!(
            "group {id} state {} type {} assignor {} coordinator {} simple {}",
            group.state,
            opt(types.get(&id)),
            group.protocol,
            group.coordinator,
            group.protocol_type.is_empty()
        ));
        for member in &group.members {
            facts.push(format!(
                "member {id} {} client-id {} host {} instance {} assignment {}",
                member.member_id,
                member.client_id,
                member.client_host,
                opt(member.group_instance_id.as_ref()),
                partitions(&member.assignment)
            ));
        }
    }
    for group in scope.groups {
        let committed = admin
            .list_group_offsets(group, None)
            .await
            .unwrap_or_else(|e| panic!("group offsets of {group}: {e}"));
        for (tp, lag) in committed {
            let lag = lag.unwrap_or_else(|e| panic!("group offset {tp}: {e}"));
            facts.push(format!(
                "group-offset {group} {} {} offset {} leader-epoch {} metadata {}",
                tp.topic,
                tp.partition,
                opt(lag.committed),
                opt(lag.leader_epoch),
                opt(lag.metadata)
            ));
        }
    }
}

async fn transactions(
    admin: &Admin,
    scope: &Scope<'_>,
    all: &[TopicPartition],
    facts: &mut Vec<String>,
) {
    let listed = admin
        .list_transactions(&TransactionFilter::new())
        .await
        .expect("list transactions");
    for listing in listed {
        if scope.txns.contains(&listing.transactional_id.as_str()) {
            facts.push(format!(
                "txn-listed {} producer {} state {}",
                listing.transactional_id, listing.producer_id, listing.state
            ));
        }
    }
    for (id, described) in admin
        .describe_transactions(scope.txns.iter().copied())
        .await
    {
        let t = described.unwrap_or_else(|e| panic!("describe transaction {id}: {e}"));
        facts.push(format!(
            "txn {id} coordinator {} state {} producer {} epoch {} timeout {} start {} partitions {}",
            t.coordinator,
            t.state,
            t.producer_id,
            t.producer_epoch,
            t.transaction_timeout_ms,
            opt(t.transaction_start_time_ms),
            partitions(&t.partitions)
        ));
    }
    for (tp, producers) in admin.describe_producers(all.iter().cloned()).await {
        for p in producers.unwrap_or_else(|e| panic!("describe producers {tp}: {e}")) {
            facts.push(format!(
                "producer {} {} id {} epoch {} last-sequence {} last-timestamp {} coordinator-epoch {} txn-start {}",
                tp.topic,
                tp.partition,
                p.producer_id,
                p.producer_epoch,
                p.last_sequence,
                p.last_timestamp,
                opt(p.coordinator_epoch),
                opt(p.current_txn_start_offset)
            ));
        }
    }
}
