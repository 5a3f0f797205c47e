//! `describe_consumer_groups` against Apache Kafka 4.x: a consumer-protocol
//! (KIP-848) group, joined here with raw ConsumerGroupHeartbeat requests
//! (the admin crate does not depend on the consumer), and a classic group
//! created by a simple commit. What durian reports is compared with what
//! Kafka's own tool (`kafka-consumer-groups.sh`, the ConsumerGroupCommand
//! class) prints for the same groups.
//!
//! Skipped without Kafka's jars, or fails under `DURIAN_REQUIRE_PEERS=1`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use durian_admin::{Admin, GroupProtocolKind, NewTopic, TopicPartition};
use durian_core::{CoordinatorKind, KafkaCode, Target};
use durian_testkit::KafkaCluster;
use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

const TOPIC: &str = "kip848-described";
const GROUP: &str = "kip848-group";
const CLASSIC: &str = "classic-group";
const MEMBER: &str = "durian-admin-test-member";

fn s(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

/// Joins GROUP as the only member and heartbeats until it owns all three
/// partitions of TOPIC; returns its member epoch.
async fn join_alone(admin: &Admin) -> i32 {
    let target = Target::Coordinator {
        kind: CoordinatorKind::Group,
        key: GROUP.to_owned(),
    };
    let mut epoch = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut request = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s(GROUP)))
            .with_member_id(s(MEMBER))
            .with_member_epoch(epoch)
            .with_rebalance_timeout_ms(-1);
        if epoch == 0 {
            request = request
                .with_rebalance_timeout_ms(30_000)
                .with_subscribed_topic_names(Some(vec![TopicName(s(TOPIC))]))
                .with_topic_partitions(Some(Vec::new()));
        }
        assert!(
            Instant::now() < deadline,
            "the member never got its partitions"
        );
        let response = match admin.client().send(target.clone(), request).await {
            Ok(response) => response,
            Err(error) if error.is_retriable() => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(error) => panic!("heartbeat: {error}"),
        };
        match KafkaCode(response.error_code) {
            KafkaCode::NONE => {}
            KafkaCode::COORDINATOR_NOT_AVAILABLE
            | KafkaCode::COORDINATOR_LOAD_IN_PROGRESS
            | KafkaCode::NOT_COORDINATOR => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            code => panic!("heartbeat: {code:?} {:?}", response.error_message),
        }
        epoch = response.member_epoch;
        let owned: usize = response
            .assignment
            .iter()
            .flat_map(|a| &a.topic_partitions)
            .map(|t| t.partitions.len())
            .sum();
        if owned == 3 {
            return epoch;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// ConsumerGroupCommand `--describe --group GROUP` with `extra` options:
/// the rows under its header line, each as column → value.
fn kafka_describe(bootstrap: &str, group: &str, extra: &[&str]) -> Vec<BTreeMap<String, String>> {
    let (libs, java) = durian_testkit::kafka::installation().expect("Kafka's jars and a JVM");
    let output = Command::new(java)
        .arg("-Xmx256m")
        .arg("-cp")
        .arg(format!("{}/*", libs.display()))
        .arg("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand")
        .args([
            "--bootstrap-server",
            bootstrap,
            "--describe",
            "--group",
            group,
        ])
        .args(extra)
        .output()
        .expect("run ConsumerGroupCommand");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "ConsumerGroupCommand failed:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("GROUP"))
        .unwrap_or_else(|| panic!("no header in:\n{stdout}"));
    let columns: Vec<&str> = lines[header].split_whitespace().collect();
    lines[header + 1..]
        .iter()
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cells.len(), columns.len(), "row {line:?} of:\n{stdout}");
            columns
                .iter()
                .zip(cells)
                .map(|(c, v)| ((*c).to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// `topic:0,1,2` as Kafka's tool writes one topic's assignment.
fn written(assignment: &[TopicPartition]) -> String {
    let mut partitions: Vec<i32> = assignment.iter().map(|tp| tp.partition).collect();
    partitions.sort_unstable();
    let list: Vec<String> = partitions.iter().map(i32::to_string).collect();
    format!("{TOPIC}:{}", list.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_groups_are_described_as_kafka_describes_them() {
    let Some(kafka) = KafkaCluster::single().await else {
        return;
    };
    let bootstrap = kafka.bootstrap();
    let admin = Admin::builder()
        .client_config(common::client_config(&bootstrap))
        .default_api_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap();
    let mut created = admin
        .create_topics([NewTopic::new(TOPIC, 3).replication_factor(1)])
        .await;
    created.remove(TOPIC).unwrap().unwrap();
    let epoch = join_alone(&admin).await;
    common::simple_commit(
        admin.client(),
        CLASSIC,
        &[(TopicPartition::new(TOPIC, 0), 1)],
    )
    .await;

    let mut described = admin.describe_consumer_groups([GROUP, CLASSIC]).await;
    let group = described.remove(GROUP).unwrap().unwrap();
    assert_eq!(group.protocol, GroupProtocolKind::Consumer, "{group:?}");
    assert_eq!(group.members.len(), 1, "{group:?}");
    let member = &group.members[0];
    assert_eq!(member.member_id, MEMBER);
    assert_eq!(member.member_epoch, Some(epoch), "{group:?}");
    assert_eq!(member.subscribed_topics, [TOPIC]);
    assert_eq!(member.assignment.len(), 3, "{group:?}");
    assert_eq!(member.target_assignment.as_ref().map(Vec::len), Some(3));

    let state = &kafka_describe(&bootstrap, GROUP, &["--state", "--verbose"])[0];
    assert_eq!(state["STATE"], group.state, "{state:?} vs {group:?}");
    assert_eq!(state["ASSIGNMENT-STRATEGY"], group.assignor, "{state:?}");
    assert_eq!(
        state["GROUP-EPOCH"],
        group.group_epoch.unwrap().to_string(),
        "{state:?}"
    );
    assert_eq!(
        state["TARGET-ASSIGNMENT-EPOCH"],
        group.assignment_epoch.unwrap().to_string(),
        "{state:?}"
    );
    assert_eq!(state["#MEMBERS"], "1", "{state:?}");

    let members = kafka_describe(&bootstrap, GROUP, &["--members", "--verbose"]);
    assert_eq!(members.len(), 1, "{members:?}");
    let row = &members[0];
    assert_eq!(row["CONSUMER-ID"], member.member_id, "{row:?}");
    assert_eq!(row["CLIENT-ID"], member.client_id, "{row:?}");
    assert_eq!(row["HOST"], member.client_host, "{row:?}");
    assert_eq!(row["#PARTITIONS"], "3", "{row:?}");
    assert_eq!(row["CURRENT-EPOCH"], epoch.to_string(), "{row:?}");
    assert_eq!(
        row["CURRENT-ASSIGNMENT"],
        written(&member.assignment),
        "{row:?}"
    );
    assert_eq!(
        row["TARGET-ASSIGNMENT"],
        written(member.target_assignment.as_deref().unwrap()),
        "{row:?}"
    );

    // A classic group: ConsumerGroupDescribe says GROUP_ID_NOT_FOUND and
    // DescribeGroups describes it.
    let classic = described.remove(CLASSIC).unwrap().unwrap();
    assert_eq!(classic.protocol, GroupProtocolKind::Classic, "{classic:?}");
    assert_eq!(classic.group_epoch, None);
    assert!(classic.members.is_empty(), "{classic:?}");
    let state = &kafka_describe(&bootstrap, CLASSIC, &["--state"])[0];
    assert_eq!(state["STATE"], classic.state, "{state:?} vs {classic:?}");
}
