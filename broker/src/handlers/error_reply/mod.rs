//! Error responses: a valid response of an API that carries one error code
//! in every per-item error field, shaped for the request's version.
//!
//! Used two ways: the fault layer answers a request it was told to fail
//! (`Interception::Fail`, see `server::endpoint`) without applying it, and
//! the group handlers answer NOT_COORDINATOR when the receiving node does
//! not coordinate the group. Builders exist for Produce, Fetch, ListOffsets,
//! Metadata, FindCoordinator, the group APIs (JoinGroup, SyncGroup,
//! Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups,
//! ListGroups, DeleteGroups, OffsetDelete), InitProducerId, DeleteRecords,
//! OffsetForLeaderEpoch and DescribeCluster. For other APIs [`build`]
//! returns `None` and the caller closes the connection, which every client
//! treats as a retriable network error.

mod data;
mod groups;
mod leader_epoch;
#[cfg(test)]
mod tests;

pub use data::*;
pub use groups::*;
pub use leader_epoch::*;

use bytes::Bytes;
use kafka_protocol::messages::{
    ApiKey, DeleteGroupsRequest, DescribeClusterRequest, DescribeClusterResponse,
    DescribeGroupsRequest, HeartbeatRequest, HeartbeatResponse, InitProducerIdRequest,
    InitProducerIdResponse, JoinGroupRequest, ListGroupsRequest, ListGroupsResponse,
    ProduceRequest, ProducerId, SyncGroupRequest,
};
use kafka_protocol::protocol::Request;

use super::{encode_body, Reply, RequestContext};
use crate::group::{join_error, sync_error};
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
) -> Option<Result<Reply, String>> {
    let v = ctx.version;
    let reply = match api {
        ApiKey::Produce => run(body, v, |r: ProduceRequest| {
            if r.acks == 0 {
                return Err("acks=0 has no response to carry an error".to_string());
            }
            encode_body(&produce(state, &r, v, code), v)
        }),
        ApiKey::Fetch => run(body, v, |r| encode_body(&fetch(&r, v, code), v)),
        ApiKey::ListOffsets => run(body, v, |r| encode_body(&list_offsets(&r, v, code), v)),
        ApiKey::Metadata => run(body, v, |r| encode_body(&metadata(state, &r, v, code), v)),
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
    respond: impl FnOnce(T) -> Result<Reply, String>,
) -> Result<Reply, String> {
    respond(decode_guarded::<T>(body, version)?)
}
