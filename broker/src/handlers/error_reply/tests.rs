//! Every error-response builder at every served version, decoded as a
//! client would.

#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};
use kafka_protocol::ResponseError;

use super::*;
use crate::handlers::{lookup, Reply, RequestContext};
use crate::state::BrokerState;

const CODE: i16 = ResponseError::NotEnoughReplicas.code();

fn group() -> GroupId {
    GroupId(StrBytes::from_static_str("g"))
}

fn topic() -> TopicName {
    TopicName(StrBytes::from_static_str("t"))
}

/// Encodes `request(v)` at every served version, builds the error
/// reply, decodes it as a client would and returns each version's codes.
async fn replies<R: Request + Encodable>(
    state: &BrokerState,
    request: impl Fn(i16) -> R,
    codes: impl Fn(&R::Response, i16) -> Vec<i16>,
) where
    R::Response: Decodable,
{
    let api = ApiKey::try_from(R::KEY).unwrap();
    let versions = lookup(api).unwrap().versions;
    for v in versions.min..=versions.max {
        let mut body = BytesMut::new();
        request(v).encode(&mut body, v).unwrap();
        let ctx = RequestContext {
            version: v,
            client_id: None,
            peer: "127.0.0.1:1".parse().unwrap(),
            node_id: 0,
            principal: crate::security::Principal::anonymous(),
            listener: None,
            file_records: false,
        };
        let reply = build(state, &ctx, api, &body.freeze(), CODE)
            .unwrap()
            .unwrap();
        let Reply::Body(mut bytes) = reply else {
            panic!("{api:?} v{v} must answer");
        };
        let response = R::Response::decode(&mut bytes, v).unwrap();
        let found = codes(&response, v);
        assert!(!found.is_empty(), "{api:?} v{v} carries no error field");
        assert!(found.iter().all(|c| *c == CODE), "{api:?} v{v}: {found:?}");
    }
}

#[tokio::test]
async fn every_builder_answers_every_served_version_with_the_code() {
    let broker = crate::Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let state = broker.state.clone();
    let s = &state;
    replies(
        s,
        |_| {
            ProduceRequest::default()
                .with_acks(-1)
                .with_topic_data(vec![produce_request::TopicProduceData::default()
                    .with_name(topic())
                    .with_partition_data(vec![Default::default()])])
        },
        |r, _| {
            r.responses
                .iter()
                .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code))
                .collect()
        },
    )
    .await;
    replies(
        s,
        |v| {
            let t = fetch_request::FetchTopic::default().with_partitions(vec![Default::default()]);
            let t = if v >= 13 {
                t.with_topic_id(uuid::Uuid::from_u128(1))
            } else {
                t.with_topic(topic())
            };
            FetchRequest::default().with_topics(vec![t])
        },
        |r, _| {
            r.responses
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                .collect()
        },
    )
    .await;
    replies(
        s,
        |_| {
            ListOffsetsRequest::default().with_topics(vec![
                list_offsets_request::ListOffsetsTopic::default()
                    .with_name(topic())
                    .with_partitions(vec![Default::default()]),
            ])
        },
        |r, _| {
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                .collect()
        },
    )
    .await;
    replies(
        s,
        |_| {
            MetadataRequest::default().with_topics(Some(vec![
                metadata_request::MetadataRequestTopic::default().with_name(Some(topic())),
            ]))
        },
        |r, _| r.topics.iter().map(|t| t.error_code).collect(),
    )
    .await;
    replies(
        s,
        |v| {
            let r = FindCoordinatorRequest::default();
            if v >= 4 {
                r.with_coordinator_keys(vec![StrBytes::from_static_str("g")])
            } else {
                r.with_key(StrBytes::from_static_str("g"))
            }
        },
        |r, v| {
            if v >= 4 {
                r.coordinators.iter().map(|c| c.error_code).collect()
            } else {
                vec![r.error_code]
            }
        },
    )
    .await;
    replies(
        s,
        |_| JoinGroupRequest::default().with_group_id(group()),
        |r, _| vec![r.error_code],
    )
    .await;
    replies(
        s,
        |_| SyncGroupRequest::default().with_group_id(group()),
        |r, _| vec![r.error_code],
    )
    .await;
    replies(
        s,
        |_| HeartbeatRequest::default().with_group_id(group()),
        |r, _| vec![r.error_code],
    )
    .await;
    replies(
        s,
        |v| {
            let r = LeaveGroupRequest::default().with_group_id(group());
            if v >= 3 {
                r.with_members(vec![Default::default()])
            } else {
                r
            }
        },
        |r, v| {
            let mut codes = vec![r.error_code];
            codes.extend(r.members.iter().map(|m| m.error_code));
            assert!(v < 3 || !r.members.is_empty());
            codes
        },
    )
    .await;
    replies(
        s,
        |_| {
            OffsetCommitRequest::default()
                .with_group_id(group())
                .with_topics(vec![
                    offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(topic())
                        .with_partitions(vec![Default::default()]),
                ])
        },
        |r, _| {
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                .collect()
        },
    )
    .await;
    replies(
        s,
        |v| {
            if v >= 8 {
                OffsetFetchRequest::default().with_groups(vec![
                    offset_fetch_request::OffsetFetchRequestGroup::default().with_group_id(group()),
                ])
            } else {
                OffsetFetchRequest::default()
                    .with_group_id(group())
                    .with_topics(Some(vec![
                        offset_fetch_request::OffsetFetchRequestTopic::default()
                            .with_name(topic())
                            .with_partition_indexes(vec![0]),
                    ]))
            }
        },
        |r, v| {
            if v >= 8 {
                r.groups.iter().map(|g| g.error_code).collect()
            } else {
                let mut codes: Vec<i16> = r
                    .topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                    .collect();
                if v >= 2 {
                    codes.push(r.error_code);
                }
                codes
            }
        },
    )
    .await;
    replies(
        s,
        |_| DescribeGroupsRequest::default().with_groups(vec![group()]),
        |r, _| r.groups.iter().map(|g| g.error_code).collect(),
    )
    .await;
    replies(
        s,
        |_| ListGroupsRequest::default(),
        |r, _| vec![r.error_code],
    )
    .await;
    replies(
        s,
        |_| DeleteGroupsRequest::default().with_groups_names(vec![group()]),
        |r, _| r.results.iter().map(|g| g.error_code).collect(),
    )
    .await;
    replies(
        s,
        |_| {
            OffsetDeleteRequest::default()
                .with_group_id(group())
                .with_topics(vec![
                    offset_delete_request::OffsetDeleteRequestTopic::default()
                        .with_name(topic())
                        .with_partitions(vec![Default::default()]),
                ])
        },
        |r, _| {
            let mut codes = vec![r.error_code];
            codes.extend(
                r.topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            );
            codes
        },
    )
    .await;
    replies(
        s,
        |_| InitProducerIdRequest::default(),
        |r, _| vec![r.error_code],
    )
    .await;
    replies(
        s,
        |_| {
            DeleteRecordsRequest::default().with_topics(vec![
                delete_records_request::DeleteRecordsTopic::default()
                    .with_name(topic())
                    .with_partitions(vec![Default::default()]),
            ])
        },
        |r, _| {
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                .collect()
        },
    )
    .await;
    replies(
        s,
        |_| DescribeClusterRequest::default(),
        |r, _| vec![r.error_code],
    )
    .await;

    // APIs without a builder are left to the caller (who closes the connection).
    let ctx = RequestContext {
        version: 7,
        client_id: None,
        peer: "127.0.0.1:1".parse().unwrap(),
        node_id: 0,
        principal: crate::security::Principal::anonymous(),
        listener: None,
        file_records: false,
    };
    let mut body = BytesMut::new();
    CreateTopicsRequest::default().encode(&mut body, 7).unwrap();
    assert!(build(s, &ctx, ApiKey::CreateTopics, &body.freeze(), CODE).is_none());
    broker.shutdown().await.unwrap();
}

/// The log start offset of each partition in a Produce error reply for
/// `t`-0 (held, log start moved to 3), `t`-9 and `missing`-0 (not held).
fn produce_log_starts(state: &BrokerState, version: i16, code: i16) -> Vec<i64> {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_topic_data(vec![
            produce_request::TopicProduceData::default()
                .with_name(topic())
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default().with_index(0),
                    produce_request::PartitionProduceData::default().with_index(9),
                ]),
            produce_request::TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("missing")))
                .with_partition_data(vec![Default::default()]),
        ]);
    let mut body = BytesMut::new();
    request.encode(&mut body, version).unwrap();
    let ctx = RequestContext {
        version,
        client_id: None,
        peer: "127.0.0.1:1".parse().unwrap(),
        node_id: 0,
        principal: crate::security::Principal::anonymous(),
        listener: None,
        file_records: false,
    };
    let Some(Ok(Reply::Body(mut bytes))) =
        build(state, &ctx, ApiKey::Produce, &body.freeze(), code)
    else {
        panic!("Produce v{version} must answer");
    };
    let response = ProduceResponse::decode(&mut bytes, version).unwrap();
    response
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter())
        .map(|p| {
            assert_eq!(p.error_code, code);
            p.log_start_offset
        })
        .collect()
}

#[tokio::test]
async fn produce_errors_carry_the_log_start_offset_where_kafka_reports_it() {
    let broker = crate::Broker::builder()
        .temporary()
        .listen("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let state = broker.state.clone();
    state
        .topics()
        .create_topic("t", 1, Default::default(), false)
        .await
        .unwrap();
    let mut writer = durian_core::record::BatchWriter::builder().build();
    for i in 0..5 {
        writer
            .try_append(i, None, Some(b"v"), durian_core::record::NO_HEADERS)
            .unwrap();
    }
    let batch = writer.finish().unwrap().to_vec();
    let start = state
        .with_partition("t", 0, |log| {
            log.append(&batch, 0, 0).unwrap();
            log.delete_records_before(3).unwrap();
            log.log_start_offset()
        })
        .unwrap();
    assert_eq!(start, 3);

    let versions = lookup(ApiKey::Produce).unwrap().versions;
    // A producer judges UNKNOWN_PRODUCER_ID by it (KIP-360); errors raised
    // at or after the append carry it too, the held partition only.
    for code in [
        ResponseError::UnknownProducerId,
        ResponseError::OutOfOrderSequenceNumber,
        ResponseError::NotEnoughReplicasAfterAppend,
        ResponseError::RequestTimedOut,
    ] {
        for v in 5..=versions.max {
            let found = produce_log_starts(&state, v, code.code());
            assert_eq!(found, [3, -1, -1], "{code:?} v{v}");
        }
    }
    // Kafka answers these before reaching the log, with -1.
    for code in [
        ResponseError::NotLeaderOrFollower,
        ResponseError::CorruptMessage,
        ResponseError::MessageTooLarge,
    ] {
        let found = produce_log_starts(&state, versions.max, code.code());
        assert_eq!(found, [-1, -1, -1], "{code:?}");
    }
    // Before v5 the field does not exist; it decodes as its default.
    let found = produce_log_starts(&state, 4, ResponseError::UnknownProducerId.code());
    assert_eq!(found, [-1, -1, -1]);
    broker.shutdown().await.unwrap();
}
