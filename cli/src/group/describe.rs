//! `durian group describe GROUP`: state, protocol, members with their
//! partitions, then one row per partition the group committed or owns,
//! with the committed offset, the end offset, the lag and the owner.

use std::collections::{BTreeMap, BTreeSet};

use durian::admin::{
    Admin, ConsumerGroupDescription, GroupDescription, GroupOffsetLag, GroupProtocolKind,
    MemberDescription, TopicPartition,
};
use durian::core::KafkaCode;

use super::group_error;
use crate::table::{or_dash, Report, Table};
use crate::topic::take_result;
use crate::CliError;

/// Prints the description of `group`.
/// The error for a group the coordinator does not know.
fn no_such_group(group: &str) -> CliError {
    CliError::new(format!(
        "group `{group}` does not exist (list groups with `durian group list`)"
    ))
}

pub async fn run(admin: &Admin, group: &str) -> Result<(), CliError> {
    // A KIP-848 group first: Kafka describes those only through
    // ConsumerGroupDescribe, and durian_admin falls back to DescribeGroups
    // for the others, read again below as before.
    let mut kip848 = admin.describe_consumer_groups([group]).await;
    let consumer_protocol = match kip848.remove(group) {
        Some(Ok(d)) if d.protocol == GroupProtocolKind::Consumer => Some(d),
        _ => None,
    };
    let mut described = match &consumer_protocol {
        Some(d) => [(group.to_owned(), Ok(as_group_description(d)))].into(),
        None => admin.describe_groups([group]).await,
    };
    // durian's broker describes an unknown group as Dead with nothing in
    // it; Kafka 4 (DescribeGroups v6) answers GROUP_ID_NOT_FOUND. Both are
    // the same answer to the user.
    let description = match take_result(&mut described, &group.to_owned())? {
        Ok(description) => description,
        Err(e) if e.kafka_code() == Some(KafkaCode::GROUP_ID_NOT_FOUND) => {
            return Err(no_such_group(group))
        }
        Err(e) => return Err(group_error(group, &e)),
    };
    let mut offsets = admin
        .list_group_offsets(group, None)
        .await
        .map_err(|e| group_error(group, &e))?;
    let owners = owners(&description);
    let uncommitted: Vec<TopicPartition> = owners
        .keys()
        .filter(|tp| !offsets.contains_key(*tp))
        .cloned()
        .collect();
    if !uncommitted.is_empty() {
        let more = admin
            .list_group_offsets(group, Some(uncommitted))
            .await
            .map_err(|e| group_error(group, &e))?;
        offsets.extend(more);
    }
    if description.state == "Dead" && description.members.is_empty() && offsets.is_empty() {
        return Err(no_such_group(group));
    }

    let mut report = header(&description);
    if let Some(d) = &consumer_protocol {
        add_epochs(&mut report, d);
    }
    report.table_if_any("members", members_table(&description));
    if let Some(d) = &consumer_protocol {
        report.table_if_any("epochs", epochs_table(d));
    }
    let mut table = Table::new(["TOPIC", "PARTITION", "COMMITTED", "END", "LAG", "MEMBER"]);
    let mut problems = Vec::new();
    for (tp, result) in &offsets {
        let owner = owners.get(tp).cloned().unwrap_or_else(|| "-".to_owned());
        let (committed, end, lag) = match result {
            Ok(GroupOffsetLag {
                committed,
                end_offset,
                lag,
                ..
            }) => (or_dash(*committed), or_dash(*end_offset), or_dash(*lag)),
            Err(e) => {
                problems.push(format!("{tp}: {e}"));
                ("-".to_owned(), "-".to_owned(), "-".to_owned())
            }
        };
        table.row([
            tp.topic().to_owned(),
            tp.partition.to_string(),
            committed,
            end,
            lag,
            owner,
        ]);
    }
    report.table("offsets", table);
    report.print()?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(format!(
            "offsets of group `{group}` could not all be read: {}",
            problems.join("; ")
        )))
    }
}

/// A consumer-protocol group in the shape the classic tables print.
fn as_group_description(d: &ConsumerGroupDescription) -> GroupDescription {
    let mut description = GroupDescription::new(d.group_id.clone(), d.coordinator);
    description.state = d.state.clone();
    description.protocol_type = "consumer (KIP-848)".to_owned();
    description.protocol = d.assignor.clone();
    description.members = d
        .members
        .iter()
        .map(|m| {
            let mut member = MemberDescription::new(
                m.member_id.clone(),
                m.client_id.clone(),
                m.client_host.clone(),
            );
            member.group_instance_id = m.group_instance_id.clone();
            member.assignment = m.assignment.clone();
            member
        })
        .collect();
    description
}

/// The group and assignment epochs of a consumer-protocol group.
fn add_epochs(report: &mut Report, d: &ConsumerGroupDescription) {
    report.field("group epoch", or_dash(d.group_epoch));
    report.field("assignment epoch", or_dash(d.assignment_epoch));
}

/// Per member of a consumer-protocol group: its epoch and the partitions
/// the coordinator is moving it to (its target assignment).
fn epochs_table(d: &ConsumerGroupDescription) -> Table {
    let mut table = Table::new(["MEMBER", "EPOCH", "TARGET"]);
    for m in &d.members {
        let target = m.target_assignment.as_deref().unwrap_or_default();
        table.row([
            m.member_id.clone(),
            or_dash(m.member_epoch),
            written(target),
        ]);
    }
    table
}

/// Partitions written `topic:0,1 other:2`, `-` for none.
fn written(partitions: &[TopicPartition]) -> String {
    let mut by_topic: BTreeMap<&str, BTreeSet<i32>> = BTreeMap::new();
    for tp in partitions {
        by_topic.entry(&tp.topic).or_default().insert(tp.partition);
    }
    let list: Vec<String> = by_topic
        .iter()
        .map(|(topic, parts)| {
            let list: Vec<String> = parts.iter().map(i32::to_string).collect();
            format!("{topic}:{}", list.join(","))
        })
        .collect();
    if list.is_empty() {
        "-".to_owned()
    } else {
        list.join(" ")
    }
}

/// The lines above the tables.
fn header(description: &GroupDescription) -> Report {
    let protocol = match (
        description.protocol_type.as_str(),
        description.protocol.as_str(),
    ) {
        ("", "") => "-".to_owned(),
        (kind, "") => kind.to_owned(),
        (kind, assignor) => format!("{kind} ({assignor})"),
    };
    let mut report = Report::new();
    report.field("group", description.group_id.clone());
    report.field("coordinator", description.coordinator.to_string());
    report.field("state", description.state.clone());
    report.field("protocol", protocol);
    report.field("members", description.members.len().to_string());
    report
}

/// One row per member with its partitions written `topic:0,1 other:2`.
fn members_table(description: &GroupDescription) -> Table {
    let mut table = Table::new(["MEMBER", "CLIENT-ID", "HOST", "PARTITIONS"]);
    for member in &description.members {
        let partitions = written(&member.assignment);
        table.row([
            member.member_id.clone(),
            member.client_id.clone(),
            member.client_host.clone(),
            partitions,
        ]);
    }
    table
}

/// Which member owns each assigned partition.
fn owners(description: &GroupDescription) -> BTreeMap<TopicPartition, String> {
    description
        .members
        .iter()
        .flat_map(|m| {
            m.assignment
                .iter()
                .map(|tp| (tp.clone(), m.member_id.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use durian::admin::MemberDescription;

    #[test]
    fn members_list_their_partitions_per_topic() {
        let mut member = MemberDescription::new("m-1", "durian", "/127.0.0.1");
        member.assignment = vec![
            TopicPartition::new("b", 2),
            TopicPartition::new("a", 1),
            TopicPartition::new("a", 0),
        ];
        let mut description = GroupDescription::new("g", 0);
        description.state = "Stable".into();
        description.protocol_type = "consumer".into();
        description.protocol = "range".into();
        description.members = vec![member];
        assert_eq!(
            members_table(&description).render(),
            "MEMBER  CLIENT-ID  HOST        PARTITIONS\nm-1     durian     /127.0.0.1  a:0,1 b:2\n"
        );
        assert_eq!(owners(&description)[&TopicPartition::new("b", 2)], "m-1");
        assert!(header(&description)
            .render()
            .contains("protocol     consumer (range)\n"));
    }

    #[test]
    fn a_consumer_protocol_group_shows_epochs_and_targets() {
        use durian::admin::ConsumerGroupMember;
        let mut member = ConsumerGroupMember::new("m-1", "durian", "/127.0.0.1");
        member.member_epoch = Some(4);
        member.assignment = vec![TopicPartition::new("a", 0)];
        member.target_assignment = Some(vec![
            TopicPartition::new("a", 0),
            TopicPartition::new("a", 1),
        ]);
        let mut d = ConsumerGroupDescription::new("g", GroupProtocolKind::Consumer, 1);
        d.state = "Reconciling".into();
        d.assignor = "uniform".into();
        d.group_epoch = Some(5);
        d.assignment_epoch = Some(5);
        d.members = vec![member];
        let description = as_group_description(&d);
        let mut report = header(&description);
        add_epochs(&mut report, &d);
        let text = report.render();
        assert!(
            text.contains("protocol          consumer (KIP-848) (uniform)\n"),
            "{text}"
        );
        assert!(text.contains("group epoch       5\n"), "{text}");
        assert_eq!(
            members_table(&description).render(),
            "MEMBER  CLIENT-ID  HOST        PARTITIONS\nm-1     durian     /127.0.0.1  a:0\n"
        );
        assert_eq!(
            epochs_table(&d).render(),
            "MEMBER  EPOCH  TARGET\nm-1     4      a:0,1\n"
        );
    }
}
