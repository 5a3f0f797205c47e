//! Where each response type the broker sends keeps its error codes.
//!
//! A handler's typed response passes through [`ErrorCodes`] just before it
//! is encoded, so the metrics page can count error codes per API without
//! decoding anything again. Every `error_code` field is visited, top-level
//! and per item (topic, partition, group, member, resource, ...), zeros
//! included; the caller skips the zeros. The visitor is a generic closure,
//! so the walk compiles to a loop of integer comparisons and allocates
//! nothing.
//!
//! A field a version does not encode is visited anyway: handlers leave
//! such fields at their default, zero (for example OffsetFetch fills either
//! the pre-v8 topics or the v8+ groups, never both).

use kafka_protocol::messages::*;

/// A response whose error codes can be visited.
pub trait ErrorCodes {
    /// Calls `each` with every error code the response carries, one call
    /// per field occurrence.
    fn error_codes(&self, each: &mut impl FnMut(i16));
}

/// Responses with only a top-level `error_code`.
macro_rules! top_level_only {
    ($($response:ty),* $(,)?) => {
        $(impl ErrorCodes for $response {
            fn error_codes(&self, each: &mut impl FnMut(i16)) {
                each(self.error_code);
            }
        })*
    };
}

top_level_only!(
    AddOffsetsToTxnResponse,
    ApiVersionsResponse,
    ConsumerGroupHeartbeatResponse,
    DescribeAclsResponse,
    DescribeClusterResponse,
    EndTxnResponse,
    HeartbeatResponse,
    InitProducerIdResponse,
    JoinGroupResponse,
    ListGroupsResponse,
    ListTransactionsResponse,
    SaslAuthenticateResponse,
    SaslHandshakeResponse,
    SyncGroupResponse,
);

/// Responses whose only codes sit in one list of items (topics, groups,
/// resources): `$items` is the list, each item has an `error_code`.
macro_rules! per_item {
    ($($response:ty => $items:ident),* $(,)?) => {
        $(impl ErrorCodes for $response {
            fn error_codes(&self, each: &mut impl FnMut(i16)) {
                for item in &self.$items {
                    each(item.error_code);
                }
            }
        })*
    };
}

per_item!(
    AlterConfigsResponse => responses,
    AlterUserScramCredentialsResponse => results,
    CreateAclsResponse => results,
    CreatePartitionsResponse => results,
    DeleteGroupsResponse => results,
    DeleteTopicsResponse => responses,
    DescribeConfigsResponse => results,
    DescribeGroupsResponse => groups,
    DescribeTransactionsResponse => transaction_states,
    IncrementalAlterConfigsResponse => responses,
    ConsumerGroupDescribeResponse => groups,
);

/// Responses whose codes sit per partition, in a list of topics each with
/// a list of partitions: `$topics` and `$partitions` name the two lists.
macro_rules! per_partition {
    ($($response:ty => $topics:ident . $partitions:ident),* $(,)?) => {
        $(impl ErrorCodes for $response {
            fn error_codes(&self, each: &mut impl FnMut(i16)) {
                for topic in &self.$topics {
                    for partition in &topic.$partitions {
                        each(partition.error_code);
                    }
                }
            }
        })*
    };
}

per_partition!(
    ProduceResponse => responses.partition_responses,
    ListOffsetsResponse => topics.partitions,
    OffsetCommitResponse => topics.partitions,
    DeleteRecordsResponse => topics.partitions,
    OffsetForLeaderEpochResponse => topics.partitions,
    TxnOffsetCommitResponse => topics.partitions,
    DescribeProducersResponse => topics.partitions,
);

impl ErrorCodes for FetchResponse {
    fn error_codes(&self, each: &mut impl FnMut(i16)) {
        each(self.error_code);
        for topic in &self.responses {
            for partition in &topic.partitions {
                each(partition.error_code);
            }
        }
    }
}

impl ErrorCodes for MetadataResponse {
    fn error_codes(&self, each: &mut impl FnMut(i16)) {
        each(self.error_code);
        for topic in &self.topics {
            each(topic.error_code);
            for partition in &topic.partitions {
                each(partition.error_code);
            }
        }
    }
}

impl ErrorCodes for OffsetFetchResponse {
    fn error_codes(&self, each: &mut impl FnMut(i16)) {
        each(self.error_code);
        for topic in &self.topics {
            for partition in &topic.partitions {
                each(partition.error_code);
            }
        }
        for group in &self.groups {
            each(group.error_code);
            for topic in &group.topics {
                for partition in &topic.partitions {
                    each(partition.error_code);
                }
            }
        }
    }
}

impl ErrorCodes for FindCoordinatorResponse {
    fn error_codes(&self, each: &mut impl FnMut(i16)) {
        each(self.error_code);
        for coordinator in &self.coordinators {
            each(coordinator.error_code);
        }
    }
}

impl ErrorCodes for LeaveGroupResponse {
    fn error_codes(&self, each: &mut impl FnMut(i16)) {
        each(self.error_code);
        for member in &self.members {
            each(member.error_code);
        }
    }
}

impl ErrorCodes for CreateTopicsResponse {
    fn error_codes(&self, each: &mut impl FnMut(i16)) {
        for topic in &self.topics {
            each(topic.error_code);
            each(topic.topic_config_error_code);
        }
    }
}

impl ErrorCodes for AddPartitionsToTxnResponse {
    fn error_codes(&self, each: &mut impl FnMut(i16)) {
        each(self.error_code);
        for transaction in &self.results_by_transaction {
            for topic in &transaction.topic_results {
                for partition in &topic.results_by_partition {
                    each(partition.partition_error_code);
                }
            }
        }
        for topic in &self.results_by_topic_v3_and_below {
            for partition in &topic.results_by_partition {
                each(partition.partition_error_code);
            }
        }
    }
}

impl ErrorCodes for WriteTxnMarkersResponse {
    fn error_codes(&self, each: &mut impl FnMut(i16)) {
        for marker in &self.markers {
            for topic in &marker.topics {
                for partition in &topic.partitions {
                    each(partition.error_code);
                }
            }
        }
    }
}

impl ErrorCodes for DeleteAclsResponse {
    fn error_codes(&self, each: &mut impl FnMut(i16)) {
        for filter in &self.filter_results {
            each(filter.error_code);
            for acl in &filter.matching_acls {
                each(acl.error_code);
            }
        }
    }
}

impl ErrorCodes for OffsetDeleteResponse {
    fn error_codes(&self, each: &mut impl FnMut(i16)) {
        each(self.error_code);
        for topic in &self.topics {
            for partition in &topic.partitions {
                each(partition.error_code);
            }
        }
    }
}

impl ErrorCodes for DescribeUserScramCredentialsResponse {
    fn error_codes(&self, each: &mut impl FnMut(i16)) {
        each(self.error_code);
        for result in &self.results {
            each(result.error_code);
        }
    }
}
