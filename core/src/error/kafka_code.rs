//! Every error code of the Kafka protocol as a typed value.
//!
//! The table below is durian's own classification. For each code it records
//! the protocol name, whether retrying the same request can succeed, and
//! which client-side cache the error proves stale. The producer, consumer
//! and admin client consult this one table instead of keeping their own
//! lists, so a code is classified once.

use std::fmt;

/// The client-side cache an error code proves out of date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invalidates {
    /// Nothing cached is known to be wrong.
    Nothing,
    /// Cluster metadata (leaders, brokers, topic ids) must be refreshed.
    Metadata,
    /// The cached group or transaction coordinator must be looked up again.
    Coordinator,
}

/// One row of the error-code table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodeInfo {
    /// The numeric code on the wire.
    pub code: i16,
    /// The protocol name, e.g. `NOT_LEADER_OR_FOLLOWER`.
    pub name: &'static str,
    /// Whether the same request may succeed if sent again later.
    pub retriable: bool,
    /// Which cache the error invalidates.
    pub invalidates: Invalidates,
    /// A one-line explanation for people reading logs.
    pub description: &'static str,
}

/// A Kafka protocol error code.
///
/// `KafkaCode` wraps the raw `i16` so that codes newer than this table still
/// round-trip; [`KafkaCode::info`] returns `None` for them and they are then
/// treated as fatal, which is what the protocol asks of clients that do not
/// know a code. The named constants can be used in `match` patterns.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KafkaCode(pub i16);

macro_rules! kafka_codes {
    ($( $name:ident = $code:literal, $retriable:literal, $inv:ident, $desc:literal; )*) => {
        impl KafkaCode {
            $(
                #[doc = $desc]
                pub const $name: KafkaCode = KafkaCode($code);
            )*
        }

        /// The whole table, ordered by code, starting at -1 with no gaps.
        pub const KAFKA_CODES: &[CodeInfo] = &[
            $( CodeInfo {
                code: $code,
                name: stringify!($name),
                retriable: $retriable,
                invalidates: Invalidates::$inv,
                description: $desc,
            }, )*
        ];
    };
}

kafka_codes! {
    UNKNOWN_SERVER_ERROR = -1, false, Nothing, "The broker hit an unexpected error; its log has details.";
    NONE = 0, false, Nothing, "No error.";
    OFFSET_OUT_OF_RANGE = 1, false, Nothing, "The requested offset lies outside the log's current range.";
    CORRUPT_MESSAGE = 2, true, Nothing, "A record failed its CRC check or is otherwise malformed.";
    UNKNOWN_TOPIC_OR_PARTITION = 3, true, Metadata, "This broker does not host the topic-partition (or it does not exist yet).";
    INVALID_FETCH_SIZE = 4, false, Nothing, "The fetch size in the request is invalid.";
    LEADER_NOT_AVAILABLE = 5, true, Metadata, "The partition has no leader right now, usually during an election.";
    NOT_LEADER_OR_FOLLOWER = 6, true, Metadata, "This broker is not the leader (or a replica) of the partition.";
    REQUEST_TIMED_OUT = 7, true, Nothing, "The broker timed the request out.";
    BROKER_NOT_AVAILABLE = 8, false, Nothing, "The broker is not available.";
    REPLICA_NOT_AVAILABLE = 9, true, Metadata, "A replica of the partition is not available.";
    MESSAGE_TOO_LARGE = 10, false, Nothing, "A record batch exceeds the broker's maximum message size.";
    STALE_CONTROLLER_EPOCH = 11, false, Nothing, "The controller has moved.";
    OFFSET_METADATA_TOO_LARGE = 12, false, Nothing, "The metadata string attached to an offset commit is too long.";
    NETWORK_EXCEPTION = 13, true, Metadata, "The broker disconnected before answering.";
    COORDINATOR_LOAD_IN_PROGRESS = 14, true, Nothing, "The coordinator is still loading its state.";
    COORDINATOR_NOT_AVAILABLE = 15, true, Coordinator, "The coordinator is not available.";
    NOT_COORDINATOR = 16, true, Coordinator, "This broker is not the coordinator for the group or transaction.";
    INVALID_TOPIC_EXCEPTION = 17, false, Nothing, "The topic name is invalid for this operation.";
    RECORD_LIST_TOO_LARGE = 18, false, Nothing, "The batch is larger than the broker's segment size.";
    NOT_ENOUGH_REPLICAS = 19, true, Nothing, "Fewer in-sync replicas than min.insync.replicas; the write was rejected.";
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20, true, Nothing, "The write was appended but reached fewer in-sync replicas than required.";
    INVALID_REQUIRED_ACKS = 21, false, Nothing, "The acks value of the produce request is invalid.";
    ILLEGAL_GENERATION = 22, false, Nothing, "The group generation id is not current.";
    INCONSISTENT_GROUP_PROTOCOL = 23, false, Nothing, "The member's protocols do not match the group's.";
    INVALID_GROUP_ID = 24, false, Nothing, "The group id is invalid.";
    UNKNOWN_MEMBER_ID = 25, false, Nothing, "The coordinator does not know this member id.";
    INVALID_SESSION_TIMEOUT = 26, false, Nothing, "The session timeout is outside the broker's allowed range.";
    REBALANCE_IN_PROGRESS = 27, false, Nothing, "The group is rebalancing; the member must rejoin.";
    INVALID_COMMIT_OFFSET_SIZE = 28, false, Nothing, "The offset commit is too large.";
    TOPIC_AUTHORIZATION_FAILED = 29, false, Nothing, "Not authorized to access the topic.";
    GROUP_AUTHORIZATION_FAILED = 30, false, Nothing, "Not authorized to access the group.";
    CLUSTER_AUTHORIZATION_FAILED = 31, false, Nothing, "Not authorized for this cluster operation.";
    INVALID_TIMESTAMP = 32, false, Nothing, "A record timestamp is outside the accepted range.";
    UNSUPPORTED_SASL_MECHANISM = 33, false, Nothing, "The broker does not offer the requested SASL mechanism.";
    ILLEGAL_SASL_STATE = 34, false, Nothing, "The request is not valid in the current SASL state.";
    UNSUPPORTED_VERSION = 35, false, Nothing, "The broker does not support this API version.";
    TOPIC_ALREADY_EXISTS = 36, false, Nothing, "A topic with this name already exists.";
    INVALID_PARTITIONS = 37, false, Nothing, "The partition count is invalid.";
    INVALID_REPLICATION_FACTOR = 38, false, Nothing, "The replication factor is invalid for this cluster.";
    INVALID_REPLICA_ASSIGNMENT = 39, false, Nothing, "The replica assignment is invalid.";
    INVALID_CONFIG = 40, false, Nothing, "A configuration value is invalid.";
    NOT_CONTROLLER = 41, true, Metadata, "This broker is not the active controller.";
    INVALID_REQUEST = 42, false, Nothing, "The broker could not make sense of the request.";
    UNSUPPORTED_FOR_MESSAGE_FORMAT = 43, false, Nothing, "The topic's message format does not support the request.";
    POLICY_VIOLATION = 44, false, Nothing, "The request violates a broker policy.";
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45, false, Nothing, "The broker received a producer sequence number out of order.";
    DUPLICATE_SEQUENCE_NUMBER = 46, false, Nothing, "The broker already has a batch with this sequence number.";
    INVALID_PRODUCER_EPOCH = 47, false, Nothing, "The producer epoch is older than the broker's.";
    INVALID_TXN_STATE = 48, false, Nothing, "The transactional operation is invalid in the current state.";
    INVALID_PRODUCER_ID_MAPPING = 49, false, Nothing, "The producer id is not assigned to this transactional id.";
    INVALID_TRANSACTION_TIMEOUT = 50, false, Nothing, "The transaction timeout exceeds the broker's maximum.";
    CONCURRENT_TRANSACTIONS = 51, true, Nothing, "Another operation on this transaction is still in progress.";
    TRANSACTION_COORDINATOR_FENCED = 52, false, Nothing, "The transaction coordinator is no longer current.";
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53, false, Nothing, "Not authorized for this transactional id.";
    SECURITY_DISABLED = 54, false, Nothing, "Security features are disabled on the broker.";
    OPERATION_NOT_ATTEMPTED = 55, false, Nothing, "The broker skipped this operation because another in the batch failed.";
    KAFKA_STORAGE_ERROR = 56, true, Metadata, "The broker hit a disk error on the log.";
    LOG_DIR_NOT_FOUND = 57, false, Nothing, "The log directory does not exist on the broker.";
    SASL_AUTHENTICATION_FAILED = 58, false, Nothing, "SASL authentication failed.";
    UNKNOWN_PRODUCER_ID = 59, false, Nothing, "The broker has no state for this producer id.";
    REASSIGNMENT_IN_PROGRESS = 60, false, Nothing, "A partition reassignment is already in progress.";
    DELEGATION_TOKEN_AUTH_DISABLED = 61, false, Nothing, "Delegation tokens are disabled.";
    DELEGATION_TOKEN_NOT_FOUND = 62, false, Nothing, "The delegation token does not exist.";
    DELEGATION_TOKEN_OWNER_MISMATCH = 63, false, Nothing, "The principal is not the token's owner or renewer.";
    DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = 64, false, Nothing, "Delegation token requests are not allowed on this channel.";
    DELEGATION_TOKEN_AUTHORIZATION_FAILED = 65, false, Nothing, "Not authorized for this delegation token.";
    DELEGATION_TOKEN_EXPIRED = 66, false, Nothing, "The delegation token has expired.";
    INVALID_PRINCIPAL_TYPE = 67, false, Nothing, "The principal type is not supported.";
    NON_EMPTY_GROUP = 68, false, Nothing, "The group still has members.";
    GROUP_ID_NOT_FOUND = 69, false, Nothing, "The group does not exist.";
    FETCH_SESSION_ID_NOT_FOUND = 70, true, Nothing, "The fetch session is unknown to the broker.";
    INVALID_FETCH_SESSION_EPOCH = 71, true, Nothing, "The fetch session epoch is wrong.";
    LISTENER_NOT_FOUND = 72, true, Metadata, "The leader has no listener matching this connection's listener.";
    TOPIC_DELETION_DISABLED = 73, false, Nothing, "Topic deletion is disabled on the broker.";
    FENCED_LEADER_EPOCH = 74, true, Metadata, "The leader epoch in the request is older than the broker's.";
    UNKNOWN_LEADER_EPOCH = 75, true, Metadata, "The leader epoch in the request is newer than the broker's.";
    UNSUPPORTED_COMPRESSION_TYPE = 76, false, Nothing, "The consumer does not support the partition's compression.";
    STALE_BROKER_EPOCH = 77, false, Nothing, "The broker epoch has changed.";
    OFFSET_NOT_AVAILABLE = 78, true, Nothing, "The high watermark has not caught up after a leader change.";
    MEMBER_ID_REQUIRED = 79, false, Nothing, "The member must rejoin with the member id the broker assigned.";
    PREFERRED_LEADER_NOT_AVAILABLE = 80, true, Metadata, "The preferred leader is not available.";
    GROUP_MAX_SIZE_REACHED = 81, false, Nothing, "The group has reached its maximum size.";
    FENCED_INSTANCE_ID = 82, false, Nothing, "Another member registered with the same group.instance.id.";
    ELIGIBLE_LEADERS_NOT_AVAILABLE = 83, true, Metadata, "No eligible leader is available for the partition.";
    ELECTION_NOT_NEEDED = 84, true, Metadata, "The partition already has its preferred leader.";
    NO_REASSIGNMENT_IN_PROGRESS = 85, false, Nothing, "No partition reassignment is in progress.";
    GROUP_SUBSCRIBED_TO_TOPIC = 86, false, Nothing, "Offsets cannot be deleted while the group subscribes to the topic.";
    INVALID_RECORD = 87, false, Nothing, "The broker rejected a record during validation.";
    UNSTABLE_OFFSET_COMMIT = 88, true, Nothing, "Pending transactional offsets must settle first.";
    THROTTLING_QUOTA_EXCEEDED = 89, true, Nothing, "A quota was exceeded; wait for the throttle time and retry.";
    PRODUCER_FENCED = 90, false, Nothing, "A newer producer with the same transactional id fenced this one.";
    RESOURCE_NOT_FOUND = 91, false, Nothing, "The referenced resource does not exist.";
    DUPLICATE_RESOURCE = 92, false, Nothing, "The request names the same resource twice.";
    UNACCEPTABLE_CREDENTIAL = 93, false, Nothing, "The credential does not meet the broker's criteria.";
    INCONSISTENT_VOTER_SET = 94, false, Nothing, "A voter-only request involves a non-voter.";
    INVALID_UPDATE_VERSION = 95, false, Nothing, "The feature update version is invalid.";
    FEATURE_UPDATE_FAILED = 96, false, Nothing, "The broker could not update finalized features.";
    PRINCIPAL_DESERIALIZATION_FAILURE = 97, false, Nothing, "The broker could not deserialize a forwarded principal.";
    SNAPSHOT_NOT_FOUND = 98, false, Nothing, "The requested snapshot does not exist.";
    POSITION_OUT_OF_RANGE = 99, false, Nothing, "The snapshot position is out of range.";
    UNKNOWN_TOPIC_ID = 100, true, Metadata, "This broker does not know the topic id.";
    DUPLICATE_BROKER_REGISTRATION = 101, false, Nothing, "The broker id is already registered.";
    BROKER_ID_NOT_REGISTERED = 102, false, Nothing, "The broker id is not registered.";
    INCONSISTENT_TOPIC_ID = 103, true, Metadata, "The topic id does not match the log's topic id.";
    INCONSISTENT_CLUSTER_ID = 104, false, Nothing, "The cluster id does not match the broker's.";
    TRANSACTIONAL_ID_NOT_FOUND = 105, false, Nothing, "The transactional id does not exist.";
    FETCH_SESSION_TOPIC_ID_ERROR = 106, true, Metadata, "The fetch session mixed topic names and ids inconsistently.";
    INELIGIBLE_REPLICA = 107, false, Nothing, "The proposed ISR contains an ineligible replica.";
    NEW_LEADER_ELECTED = 108, false, Nothing, "The ISR changed, but a new leader was elected meanwhile.";
    OFFSET_MOVED_TO_TIERED_STORAGE = 109, false, Nothing, "The offset now lives in tiered storage.";
    FENCED_MEMBER_EPOCH = 110, false, Nothing, "The member epoch is fenced; the member must rejoin.";
    UNRELEASED_INSTANCE_ID = 111, false, Nothing, "Another member still holds this instance id.";
    UNSUPPORTED_ASSIGNOR = 112, false, Nothing, "The group does not support this assignor.";
    STALE_MEMBER_EPOCH = 113, false, Nothing, "The member epoch is stale; heartbeat for the new one.";
    MISMATCHED_ENDPOINT_TYPE = 114, false, Nothing, "The request went to an endpoint of the wrong type.";
    UNSUPPORTED_ENDPOINT_TYPE = 115, false, Nothing, "This endpoint type is not supported.";
    UNKNOWN_CONTROLLER_ID = 116, false, Nothing, "The controller id is unknown.";
    UNKNOWN_SUBSCRIPTION_ID = 117, false, Nothing, "The telemetry subscription id is unknown or outdated.";
    TELEMETRY_TOO_LARGE = 118, false, Nothing, "The telemetry payload is too large.";
    INVALID_REGISTRATION = 119, false, Nothing, "The controller rejected the broker registration.";
    TRANSACTION_ABORTABLE = 120, false, Nothing, "The transaction failed; abort it to continue.";
    INVALID_RECORD_STATE = 121, false, Nothing, "The record state does not allow this acknowledgement.";
    SHARE_SESSION_NOT_FOUND = 122, true, Nothing, "The share session is unknown.";
    INVALID_SHARE_SESSION_EPOCH = 123, true, Nothing, "The share session epoch is wrong.";
    FENCED_STATE_EPOCH = 124, false, Nothing, "The share-group state epoch does not match.";
    INVALID_VOTER_KEY = 125, false, Nothing, "The voter key does not match the replica's key.";
    DUPLICATE_VOTER = 126, false, Nothing, "The voter is already in the voter set.";
    VOTER_NOT_FOUND = 127, false, Nothing, "The voter is not in the voter set.";
    INVALID_REGULAR_EXPRESSION = 128, false, Nothing, "The regular expression is invalid.";
    REBOOTSTRAP_REQUIRED = 129, false, Metadata, "The client's metadata is stale; it should bootstrap again.";
    STREAMS_INVALID_TOPOLOGY = 130, false, Nothing, "The streams topology is invalid.";
    STREAMS_INVALID_TOPOLOGY_EPOCH = 131, false, Nothing, "The streams topology epoch is invalid.";
    STREAMS_TOPOLOGY_FENCED = 132, false, Nothing, "The streams topology epoch is outdated.";
    SHARE_SESSION_LIMIT_REACHED = 133, true, Nothing, "The broker's share session limit is reached.";
}

impl KafkaCode {
    /// The table row for this code, or `None` for a code newer than durian.
    pub fn info(self) -> Option<&'static CodeInfo> {
        // The table is contiguous from -1, so the index is the code plus one.
        let index = usize::try_from(i32::from(self.0) + 1).ok()?;
        KAFKA_CODES.get(index).filter(|row| row.code == self.0)
    }

    /// `true` for code 0.
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// The protocol name, or `UNKNOWN_CODE` for codes not in the table.
    pub fn name(self) -> &'static str {
        self.info().map_or("UNKNOWN_CODE", |row| row.name)
    }

    /// Whether a request failing with this code may succeed if retried.
    ///
    /// Unknown codes are not retriable, as the protocol asks of clients.
    pub fn is_retriable(self) -> bool {
        self.info().is_some_and(|row| row.retriable)
    }

    /// Which client cache this code proves stale.
    pub fn invalidates(self) -> Invalidates {
        self.info()
            .map_or(Invalidates::Nothing, |row| row.invalidates)
    }

    /// A one-line explanation of the code.
    pub fn description(self) -> &'static str {
        self.info().map_or(
            "an error code this version of durian does not know",
            |row| row.description,
        )
    }
}

impl From<i16> for KafkaCode {
    fn from(code: i16) -> Self {
        KafkaCode(code)
    }
}

impl From<kafka_protocol::ResponseError> for KafkaCode {
    fn from(error: kafka_protocol::ResponseError) -> Self {
        KafkaCode(error.code())
    }
}

impl fmt::Debug for KafkaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

impl fmt::Display for KafkaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn table_is_contiguous_from_minus_one() {
        for (index, row) in KAFKA_CODES.iter().enumerate() {
            assert_eq!(i32::from(row.code), index as i32 - 1, "row {}", row.name);
        }
    }

    #[test]
    fn covers_every_code_kafka_protocol_knows() {
        for code in -1..=200i16 {
            if let Some(known) = kafka_protocol::ResponseError::try_from_code(code) {
                if matches!(known, kafka_protocol::ResponseError::Unknown(_)) {
                    continue;
                }
                assert!(KafkaCode(code).info().is_some(), "code {code} missing");
            }
        }
    }

    #[test]
    fn classification_of_common_codes() {
        assert!(KafkaCode::NOT_LEADER_OR_FOLLOWER.is_retriable());
        assert_eq!(
            KafkaCode::NOT_LEADER_OR_FOLLOWER.invalidates(),
            Invalidates::Metadata
        );
        assert_eq!(
            KafkaCode::NOT_COORDINATOR.invalidates(),
            Invalidates::Coordinator
        );
        assert!(!KafkaCode::TOPIC_ALREADY_EXISTS.is_retriable());
        assert_eq!(KafkaCode(6).name(), "NOT_LEADER_OR_FOLLOWER");
    }

    #[test]
    fn unknown_codes_are_fatal_and_named() {
        let code = KafkaCode(9999);
        assert!(code.info().is_none());
        assert!(!code.is_retriable());
        assert_eq!(code.to_string(), "UNKNOWN_CODE (9999)");
        assert!(KafkaCode(-2).info().is_none());
    }
}
