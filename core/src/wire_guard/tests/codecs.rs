//! kafka-protocol's own decoders and encoders for every covered message,
//! looked up by (api key, direction): the oracle the tables are held to.

use bytes::BytesMut;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, Message, Request, VersionRange};

use crate::wire_guard::Direction;

/// What kafka-protocol made of a body.
pub(super) struct Decoded {
    /// Bytes the decoder consumed.
    pub(super) consumed: usize,
    /// The decoded message encoded again at the same version.
    pub(super) reencoded: Vec<u8>,
}

/// One message type of kafka-protocol, type-erased.
pub(super) struct Codec {
    pub(super) api_key: i16,
    pub(super) direction: Direction,
    /// kafka-protocol's `VERSIONS` for this message.
    pub(super) versions: VersionRange,
    /// Decodes a body at a version, then re-encodes it.
    pub(super) roundtrip: fn(&[u8], i16) -> Result<Decoded, String>,
}

fn roundtrip<M: Decodable + Encodable>(body: &[u8], version: i16) -> Result<Decoded, String> {
    let mut rest = body;
    let message = M::decode(&mut rest, version).map_err(|e| format!("decode: {e:#}"))?;
    let consumed = body.len() - rest.len();
    let mut out = BytesMut::new();
    message
        .encode(&mut out, version)
        .map_err(|e| format!("encode: {e:#}"))?;
    Ok(Decoded {
        consumed,
        reencoded: out.to_vec(),
    })
}

fn request<R: Request>() -> Codec {
    Codec {
        api_key: R::KEY,
        direction: Direction::Request,
        versions: <R as Message>::VERSIONS,
        roundtrip: roundtrip::<R>,
    }
}

fn response<R: Request>() -> Codec {
    Codec {
        api_key: R::KEY,
        direction: Direction::Response,
        versions: <R::Response as Message>::VERSIONS,
        roundtrip: roundtrip::<R::Response>,
    }
}

macro_rules! both {
    ($($request:ty),* $(,)?) => {
        vec![$(request::<$request>(), response::<$request>()),*]
    };
}

/// Every message the guard is meant to cover, requests and responses.
pub(super) fn covered() -> Vec<Codec> {
    both![
        ApiVersionsRequest,
        MetadataRequest,
        ProduceRequest,
        FetchRequest,
        ListOffsetsRequest,
        FindCoordinatorRequest,
        JoinGroupRequest,
        SyncGroupRequest,
        HeartbeatRequest,
        LeaveGroupRequest,
        OffsetCommitRequest,
        OffsetFetchRequest,
        DescribeGroupsRequest,
        ListGroupsRequest,
        DeleteGroupsRequest,
        OffsetDeleteRequest,
        InitProducerIdRequest,
        CreateTopicsRequest,
        DeleteTopicsRequest,
        CreatePartitionsRequest,
        DescribeConfigsRequest,
        AlterConfigsRequest,
        IncrementalAlterConfigsRequest,
        DeleteRecordsRequest,
        OffsetForLeaderEpochRequest,
        DescribeClusterRequest,
        SaslHandshakeRequest,
        DescribeAclsRequest,
        CreateAclsRequest,
        DeleteAclsRequest,
        DescribeUserScramCredentialsRequest,
        AlterUserScramCredentialsRequest,
        AddPartitionsToTxnRequest,
        AddOffsetsToTxnRequest,
        EndTxnRequest,
        WriteTxnMarkersRequest,
        TxnOffsetCommitRequest,
        DescribeTransactionsRequest,
        ListTransactionsRequest,
        DescribeProducersRequest,
        ConsumerGroupHeartbeatRequest,
        ConsumerGroupDescribeRequest,
    ]
}

/// The versions of a range, in order.
pub(super) fn versions(range: VersionRange) -> impl Iterator<Item = i16> {
    range.min..=range.max
}
