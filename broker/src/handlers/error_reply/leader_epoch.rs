//! Error response of OffsetForLeaderEpoch.

use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

/// OffsetForLeaderEpoch: `code` for every partition, epoch and end offset
/// undefined (-1). Every served version (2–4) has the same fields.
pub fn offset_for_leader_epoch(
    request: &OffsetForLeaderEpochRequest,
    code: i16,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            let partitions = topic
                .partitions
                .iter()
                .map(|p| failed_partition(p.partition, code))
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(topic.topic.clone())
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

/// One partition's error answer: `code`, epoch and end offset undefined.
pub fn failed_partition(partition: i32, code: i16) -> EpochEndOffset {
    EpochEndOffset::default()
        .with_partition(partition)
        .with_error_code(code)
        .with_leader_epoch(-1)
        .with_end_offset(-1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bytes::BytesMut;
    use kafka_protocol::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    use kafka_protocol::messages::{ApiKey, TopicName};
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
    use kafka_protocol::ResponseError;

    use super::super::build;
    use super::*;
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
