//! Puts a Kafka cluster into the state both reports read: records with
//! chosen timestamps, a group with a live (static) member and committed
//! offsets, an offsets-only group, and a transactional producer with an
//! open transaction. Everything goes through raw requests on the admin's
//! core client, because the admin crate does not depend on the producer
//! or consumer.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use durian_admin::{Admin, TopicPartition};
use durian_core::record::{BatchWriter, NO_HEADERS};
use durian_core::{CoordinatorKind, KafkaError, Target};
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, ConsumerProtocolAssignment, ConsumerProtocolSubscription, GroupId,
    InitProducerIdRequest, JoinGroupRequest, OffsetCommitRequest, ProduceRequest, ProducerId,
    SyncGroupRequest, TopicName, TransactionalId,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use tokio::time::Instant;

/// Produce v12, the last version that names topics (v13 addresses them by id).
const PRODUCE_BY_NAME: i16 = 12;
/// AddPartitionsToTxn v3, the last version a client sends (v4+ is for brokers).
const ADD_PARTITIONS_CLIENT: i16 = 3;

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_owned())
}

fn topic_name(name: &str) -> TopicName {
    TopicName(text(name))
}

/// Appends one batch of `count` records stamped `timestamp_ms` to `tp`
/// through its leader, retrying while the partition's leader is not
/// serving it yet (a new topic).
pub async fn produce(admin: &Admin, tp: &TopicPartition, count: usize, timestamp_ms: i64) {
    let mut writer = BatchWriter::builder().build();
    for i in 0..count {
        let value = format!("record {i} at {timestamp_ms}");
        writer
            .try_append(timestamp_ms, None, Some(value.as_bytes()), NO_HEADERS)
            .expect("record fits");
    }
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(&tp.topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(tp.partition)
                .with_records(Some(writer.finish().expect("batch encodes")))])]);
    let client = admin.client();
    client.add_topics([tp.topic.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metadata = client
            .refresh_metadata("test produce")
            .await
            .expect("metadata");
        let leader = metadata
            .partition_leader(&tp.topic, tp.partition)
            .map(|l| l.node_id);
        if let Some(leader) = leader {
            let response = client
                .send_with_version(Target::Broker(leader), request.clone(), PRODUCE_BY_NAME)
                .await
                .expect("produce answered");
            let code = response.responses[0].partition_responses[0].error_code;
            match KafkaError::check(code, None) {
                Ok(()) => return,
                Err(error) if !error.is_retriable() => panic!("produce to {tp}: {error}"),
                Err(_) => {}
            }
        }
        assert!(Instant::now() < deadline, "{tp} has no serving leader");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One committed offset: partition, offset, leader epoch, metadata.
pub struct Commit<'a> {
    pub tp: TopicPartition,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: &'a str,
}

/// Commits `commits` for `group` as `member` of `generation` (-1 and an
/// empty member id: a simple commit, which creates an Empty group).
/// Retries while the offsets topic is still being created.
pub async fn commit(
    admin: &Admin,
    group: &str,
    member: (&str, Option<&str>, i32),
    commits: &[Commit<'_>],
) {
    let (member_id, instance, generation) = member;
    let topics = commits
        .iter()
        .map(|c| {
            OffsetCommitRequestTopic::default()
                .with_name(topic_name(&c.tp.topic))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(c.tp.partition)
                    .with_committed_offset(c.offset)
                    .with_committed_leader_epoch(c.leader_epoch)
                    .with_committed_metadata(Some(text(c.metadata)))])
        })
        .collect();
    let request = OffsetCommitRequest::default()
        .with_group_id(GroupId(text(group)))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(text(member_id))
        .with_group_instance_id(instance.map(text))
        .with_topics(topics);
    let target = Target::Coordinator {
        kind: CoordinatorKind::Group,
        key: group.to_owned(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = admin.client().send(target.clone(), request.clone()).await;
        let outcome = answer.and_then(|response| {
            response
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter())
                .try_for_each(|p| KafkaError::check(p.error_code, None))
        });
        match outcome {
            Ok(()) => return,
            Err(error) if error.is_retriable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("commit for {group}: {error}"),
        }
    }
}

/// The bytes of a consumer-protocol message with its version prefix.
fn versioned<M: Encodable>(message: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&version.to_be_bytes());
    message.encode(&mut buf, version).expect("encodes");
    buf.freeze()
}

/// A joined member of a classic consumer group.
pub struct Member {
    pub member_id: String,
    pub generation: i32,
}

/// Joins `group` as the static member `instance` subscribed to `topic`,
/// leads the group and assigns itself `assignment`. The session timeout is
/// long enough that the member stays without heartbeats for the test.
pub async fn join_group(
    admin: &Admin,
    group: &str,
    instance: &str,
    topic: &str,
    assignment: &[i32],
) -> Member {
    let target = Target::Coordinator {
        kind: CoordinatorKind::Group,
        key: group.to_owned(),
    };
    let subscription = ConsumerProtocolSubscription::default().with_topics(vec![text(topic)]);
    let join = JoinGroupRequest::default()
        .with_group_id(GroupId(text(group)))
        .with_session_timeout_ms(300_000)
        .with_rebalance_timeout_ms(60_000)
        .with_member_id(StrBytes::default())
        .with_group_instance_id(Some(text(instance)))
        .with_protocol_type(text("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(text("range"))
            .with_metadata(versioned(&subscription, 0))]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let joined = loop {
        match admin.client().send(target.clone(), join.clone()).await {
            Ok(response) => match KafkaError::check(response.error_code, None) {
                Ok(()) => break response,
                Err(error) if error.is_retriable() && Instant::now() < deadline => {}
                Err(error) => panic!("join {group}: {error}"),
            },
            Err(error) if error.is_retriable() && Instant::now() < deadline => {}
            Err(error) => panic!("join {group}: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(joined.leader, joined.member_id, "the only member leads");
    let assigned = ConsumerProtocolAssignment::default().with_assigned_partitions(vec![
        AssignedTopic::default()
            .with_topic(topic_name(topic))
            .with_partitions(assignment.to_vec()),
    ]);
    let sync = SyncGroupRequest::default()
        .with_group_id(GroupId(text(group)))
        .with_generation_id(joined.generation_id)
        .with_member_id(joined.member_id.clone())
        .with_group_instance_id(Some(text(instance)))
        .with_protocol_type(Some(text("consumer")))
        .with_protocol_name(joined.protocol_name.clone())
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(joined.member_id.clone())
            .with_assignment(versioned(&assigned, 0))]);
    let synced = admin
        .client()
        .send(target, sync)
        .await
        .expect("sync answered");
    KafkaError::check(synced.error_code, None).expect("synced");
    Member {
        member_id: joined.member_id.to_string(),
        generation: joined.generation_id,
    }
}

/// Starts a transaction for `transactional_id` that writes `count` records
/// to `tp` and is left open.
pub async fn open_transaction(
    admin: &Admin,
    transactional_id: &str,
    tp: &TopicPartition,
    count: usize,
    timestamp_ms: i64,
) {
    let target = Target::Coordinator {
        kind: CoordinatorKind::Transaction,
        key: transactional_id.to_owned(),
    };
    let init = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(text(transactional_id))))
        .with_transaction_timeout_ms(300_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let deadline = Instant::now() + Duration::from_secs(30);
    let identity = loop {
        let answer = admin.client().send(target.clone(), init.clone()).await;
        match answer.and_then(|r| KafkaError::check(r.error_code, None).map(|()| r)) {
            Ok(response) => break response,
            Err(error) if error.is_retriable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("init producer id for {transactional_id}: {error}"),
        }
    };
    let add = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(text(transactional_id)))
        .with_v3_and_below_producer_id(identity.producer_id)
        .with_v3_and_below_producer_epoch(identity.producer_epoch)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(topic_name(&tp.topic))
            .with_partitions(vec![tp.partition])]);
    let added = admin
        .client()
        .send_with_version(target, add, ADD_PARTITIONS_CLIENT)
        .await
        .expect("add partitions answered");
    for partition in added
        .results_by_topic_v3_and_below
        .iter()
        .flat_map(|t| t.results_by_partition.iter())
    {
        KafkaError::check(partition.partition_error_code, None).expect("partition added");
    }
    let producer = (identity.producer_id.0, identity.producer_epoch);
    produce_transactional(admin, tp, count, timestamp_ms, producer, transactional_id).await;
}

async fn produce_transactional(
    admin: &Admin,
    tp: &TopicPartition,
    count: usize,
    timestamp_ms: i64,
    producer: (i64, i16),
    transactional_id: &str,
) {
    let mut writer = BatchWriter::builder()
        .producer(producer.0, producer.1, 0)
        .transactional(true)
        .build();
    for i in 0..count {
        let value = format!("open {i}");
        writer
            .try_append(timestamp_ms, None, Some(value.as_bytes()), NO_HEADERS)
            .expect("record fits");
    }
    let request = ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(text(transactional_id))))
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic_name(&tp.topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(tp.partition)
                .with_records(Some(writer.finish().expect("batch encodes")))])]);
    let metadata = admin
        .client()
        .refresh_metadata("transactional produce")
        .await
        .expect("metadata");
    let leader = metadata
        .partition_leader(&tp.topic, tp.partition)
        .expect("leader")
        .node_id;
    let response = admin
        .client()
        .send_with_version(Target::Broker(leader), request, PRODUCE_BY_NAME)
        .await
        .expect("produce answered");
    let code = response.responses[0].partition_responses[0].error_code;
    KafkaError::check(code, None).expect("transactional produce accepted");
}
