//! The error answer of a request a fault rule fails (`testing` feature
//! only): the API's response with the rule's code in every error field.

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, DeleteGroupsRequest, DescribeClusterRequest, DescribeClusterResponse,
    DescribeGroupsRequest, HeartbeatRequest, HeartbeatResponse, InitProducerIdRequest,
    InitProducerIdResponse, JoinGroupRequest, ListGroupsRequest, ListGroupsResponse,
    ProduceRequest, ProducerId, SyncGroupRequest,
};
use kafka_protocol::protocol::Request;

mod coordinator;
mod data;

pub use coordinator::*;
pub use data::*;

use super::{delete_groups, leave_group, offset_commit, offset_delete, offset_fetch};
use crate::group::{join_error, sync_error};
use crate::handlers::{encode_body, HandlerError, Reply, RequestContext};
use crate::server::decode_guard::decode_guarded;
use crate::state::BrokerState;

/// The encoded error response of `api` for the request in `body`, or
/// `None` when this API has no error builder (the caller closes the
/// connection). `Some(Err(_))` means the body did not decode, or Produce
/// with acks=0 (which has no response): close the connection too.
pub fn build(
    state: &BrokerState,
    ctx: &RequestContext,
    api: ApiKey,
    body: &Bytes,
    code: i16,
) -> Option<Result<Reply, HandlerError>> {
    let v = ctx.version;
    let reply = match api {
        ApiKey::Produce => run(body, v, |r: ProduceRequest| {
            if r.acks == 0 {
                return Err(HandlerError::NoResponseToCarryError);
            }
            encode_body(&produce(&state.data_context(), &r, v, code), v)
        }),
        ApiKey::Fetch => run(body, v, |r| encode_body(&fetch(&r, v, code), v)),
        ApiKey::ListOffsets => run(body, v, |r| encode_body(&list_offsets(&r, v, code), v)),
        ApiKey::Metadata => run(body, v, |r| {
            encode_body(&metadata(&state.cluster_info_context(), &r, v, code), v)
        }),
        ApiKey::FindCoordinator => run(body, v, |r| encode_body(&find_coordinator(&r, v, code), v)),
        ApiKey::JoinGroup => run(body, v, |r: JoinGroupRequest| {
            encode_body(&join_error(v, &r.member_id, code), v)
        }),
        ApiKey::SyncGroup => run(body, v, |_: SyncGroupRequest| {
            encode_body(&sync_error(code), v)
        }),
        ApiKey::Heartbeat => run(body, v, |_: HeartbeatRequest| {
            encode_body(&HeartbeatResponse::default().with_error_code(code), v)
        }),
        ApiKey::LeaveGroup => run(body, v, |r| encode_body(&leave_group(&r, v, code), v)),
        ApiKey::OffsetCommit => run(body, v, |r| encode_body(&offset_commit(&r, code), v)),
        ApiKey::OffsetFetch => run(body, v, |r| encode_body(&offset_fetch(&r, v, code), v)),
        ApiKey::DescribeGroups => run(body, v, |r: DescribeGroupsRequest| {
            encode_body(&describe_groups(&r.groups, code), v)
        }),
        ApiKey::ListGroups => run(body, v, |_: ListGroupsRequest| {
            encode_body(&ListGroupsResponse::default().with_error_code(code), v)
        }),
        ApiKey::DeleteGroups => run(body, v, |r: DeleteGroupsRequest| {
            encode_body(&delete_groups(&r.groups_names, code), v)
        }),
        ApiKey::OffsetDelete => run(body, v, |r| encode_body(&offset_delete(&r, code), v)),
        ApiKey::InitProducerId => run(body, v, |_: InitProducerIdRequest| {
            let response = InitProducerIdResponse::default()
                .with_error_code(code)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1);
            encode_body(&response, v)
        }),
        ApiKey::DeleteRecords => run(body, v, |r| encode_body(&delete_records(&r, code), v)),
        ApiKey::OffsetForLeaderEpoch => run(body, v, |r| {
            encode_body(&offset_for_leader_epoch(&r, code), v)
        }),
        ApiKey::DescribeCluster => run(body, v, |_: DescribeClusterRequest| {
            let response = DescribeClusterResponse::default()
                .with_error_code(code)
                .with_error_message(None);
            encode_body(&response, v)
        }),
        _ => return None,
    };
    Some(reply)
}

fn run<T: Request>(
    body: &Bytes,
    version: i16,
    respond: impl FnOnce(T) -> Result<Reply, HandlerError>,
) -> Result<Reply, HandlerError> {
    respond(decode_guarded::<T>(body, version)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod offset_for_leader_epoch_tests {
    use bytes::BytesMut;
    use kafka_protocol::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    use kafka_protocol::messages::{ApiKey, TopicName};
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
    use kafka_protocol::ResponseError;

    use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

    use super::build;
    use crate::handlers::{lookup, Reply, RequestContext};

    #[tokio::test]
    async fn answers_every_served_version_with_the_code_for_every_partition() {
        let broker = crate::Broker::builder()
            .temporary()
            .listen("127.0.0.1:0")
            .start()
            .await
            .unwrap();
        let state = broker.state.clone();
        let code = ResponseError::NotLeaderOrFollower.code();
        let request = OffsetForLeaderEpochRequest::default()
            .with_replica_id(kafka_protocol::messages::BrokerId(-1))
            .with_topics(vec![
                OffsetForLeaderTopic::default()
                    .with_topic(TopicName(StrBytes::from_static_str("t")))
                    .with_partitions(vec![
                        OffsetForLeaderPartition::default()
                            .with_partition(3)
                            .with_current_leader_epoch(2)
                            .with_leader_epoch(1),
                        OffsetForLeaderPartition::default().with_partition(5),
                    ]),
                OffsetForLeaderTopic::default()
                    .with_topic(TopicName(StrBytes::from_static_str("u")))
                    .with_partitions(vec![OffsetForLeaderPartition::default()]),
            ]);
        let versions = lookup(ApiKey::OffsetForLeaderEpoch).unwrap().versions;
        assert_eq!((versions.min, versions.max), (2, 4));
        for v in versions.min..=versions.max {
            let mut body = BytesMut::new();
            request.encode(&mut body, v).unwrap();
            let ctx = RequestContext {
                version: v,
                client_id: None,
                peer: "127.0.0.1:1".parse().unwrap(),
                node_id: 0,
                principal: crate::security::Principal::anonymous(),
                listener: None,
                file_records: false,
            };
            let reply = build(
                &state,
                &ctx,
                ApiKey::OffsetForLeaderEpoch,
                &body.freeze(),
                code,
            )
            .unwrap()
            .unwrap();
            let Reply::Body(mut bytes) = reply else {
                panic!("v{v} must answer");
            };
            let response = OffsetForLeaderEpochResponse::decode(&mut bytes, v).unwrap();
            assert!(bytes.is_empty(), "v{v}: the whole body is decoded");
            let topics: Vec<&str> = response.topics.iter().map(|t| &*t.topic.0).collect();
            assert_eq!(topics, ["t", "u"], "v{v}");
            let answers: Vec<(i32, i16, i32, i64)> = response
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter())
                .map(|p| (p.partition, p.error_code, p.leader_epoch, p.end_offset))
                .collect();
            assert_eq!(
                answers,
                [(3, code, -1, -1), (5, code, -1, -1), (0, code, -1, -1)],
                "v{v}"
            );
        }
        broker.shutdown().await.unwrap();
    }
}
