//! The KIP-848 consumer group protocol: ConsumerGroupHeartbeat (68) and
//! ConsumerGroupDescribe (69). Both are flexible from version 0.

use crate::wire_guard::schema::*;

/// A topic id with partition indexes: the unit of an assignment in the
/// heartbeat (request and response).
static TOPIC_PARTITIONS: StructDef = StructDef::new(
    "TopicPartitions",
    &[
        field("topic_id", UUID, ALL),
        field("partitions", array(&INT32), ALL),
    ],
);

static ASSIGNMENT: StructDef = StructDef::new(
    "Assignment",
    &[field("topic_partitions", array_of(&TOPIC_PARTITIONS), ALL)],
);

/// ConsumerGroupDescribe's assignments also name each topic.
static DESCRIBED_TOPIC_PARTITIONS: StructDef = StructDef::new(
    "TopicPartitions",
    &[
        field("topic_id", UUID, ALL),
        field("topic_name", STRING, ALL),
        field("partitions", array(&INT32), ALL),
    ],
);

static DESCRIBED_ASSIGNMENT: StructDef = StructDef::new(
    "Assignment",
    &[field(
        "topic_partitions",
        array_of(&DESCRIBED_TOPIC_PARTITIONS),
        ALL,
    )],
);

// ---- ConsumerGroupHeartbeat (key 68): versions 0-1, flexible 0+ ----

pub(crate) static CONSUMER_GROUP_HEARTBEAT_REQUEST: MessageDef = MessageDef {
    name: "ConsumerGroupHeartbeatRequest",
    versions: range(0, 1),
    flexible: ALL,
    body: &StructDef::new(
        "ConsumerGroupHeartbeatRequest",
        &[
            field("group_id", STRING, ALL),
            field("member_id", STRING, ALL),
            field("member_epoch", INT32, ALL),
            field("instance_id", STRING, ALL).nullable(ALL),
            field("rack_id", STRING, ALL).nullable(ALL),
            field("rebalance_timeout_ms", INT32, ALL),
            // Null means "unchanged since the last heartbeat".
            field("subscribed_topic_names", array(&STRING), ALL).nullable(ALL),
            field("subscribed_topic_regex", STRING, from(1)).nullable(from(1)),
            field("server_assignor", STRING, ALL).nullable(ALL),
            field("topic_partitions", array_of(&TOPIC_PARTITIONS), ALL).nullable(ALL),
        ],
    ),
};

pub(crate) static CONSUMER_GROUP_HEARTBEAT_RESPONSE: MessageDef = MessageDef {
    name: "ConsumerGroupHeartbeatResponse",
    versions: range(0, 1),
    flexible: ALL,
    body: &StructDef::new(
        "ConsumerGroupHeartbeatResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("error_code", INT16, ALL),
            field("error_message", STRING, ALL).nullable(ALL),
            field("member_id", STRING, ALL).nullable(ALL),
            field("member_epoch", INT32, ALL),
            field("heartbeat_interval_ms", INT32, ALL),
            // A nullable struct: an int8 marker, then the struct.
            field("assignment", inline(&ASSIGNMENT), ALL).nullable(ALL),
        ],
    ),
};

// ---- ConsumerGroupDescribe (key 69): versions 0-1, flexible 0+ ----

pub(crate) static CONSUMER_GROUP_DESCRIBE_REQUEST: MessageDef = MessageDef {
    name: "ConsumerGroupDescribeRequest",
    versions: range(0, 1),
    flexible: ALL,
    body: &StructDef::new(
        "ConsumerGroupDescribeRequest",
        &[
            field("group_ids", array(&STRING), ALL),
            field("include_authorized_operations", BOOL, ALL),
        ],
    ),
};

static DESCRIBED_MEMBER: StructDef = StructDef::new(
    "Member",
    &[
        field("member_id", STRING, ALL),
        field("instance_id", STRING, ALL).nullable(ALL),
        field("rack_id", STRING, ALL).nullable(ALL),
        field("member_epoch", INT32, ALL),
        field("client_id", STRING, ALL),
        field("client_host", STRING, ALL),
        field("subscribed_topic_names", array(&STRING), ALL),
        field("subscribed_topic_regex", STRING, ALL).nullable(ALL),
        field("assignment", inline(&DESCRIBED_ASSIGNMENT), ALL),
        field("target_assignment", inline(&DESCRIBED_ASSIGNMENT), ALL),
        field("member_type", INT8, from(1)),
    ],
);

static DESCRIBED_GROUP: StructDef = StructDef::new(
    "DescribedGroup",
    &[
        field("error_code", INT16, ALL),
        field("error_message", STRING, ALL).nullable(ALL),
        field("group_id", STRING, ALL),
        field("group_state", STRING, ALL),
        field("group_epoch", INT32, ALL),
        field("assignment_epoch", INT32, ALL),
        field("assignor_name", STRING, ALL),
        field("members", array_of(&DESCRIBED_MEMBER), ALL),
        field("authorized_operations", INT32, ALL),
    ],
);

pub(crate) static CONSUMER_GROUP_DESCRIBE_RESPONSE: MessageDef = MessageDef {
    name: "ConsumerGroupDescribeResponse",
    versions: range(0, 1),
    flexible: ALL,
    body: &StructDef::new(
        "ConsumerGroupDescribeResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("groups", array_of(&DESCRIBED_GROUP), ALL),
        ],
    ),
};
