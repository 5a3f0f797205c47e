//! The classic group protocol: FindCoordinator (10), JoinGroup (11),
//! Heartbeat (12), LeaveGroup (13), SyncGroup (14), DescribeGroups (15),
//! ListGroups (16), DeleteGroups (42).

use crate::wire_guard::schema::*;

// ---- FindCoordinator (key 10): versions 0-6, flexible 3+ ----

pub(crate) static FIND_COORDINATOR_REQUEST: MessageDef = MessageDef {
    name: "FindCoordinatorRequest",
    versions: range(0, 6),
    flexible: from(3),
    body: &StructDef::new(
        "FindCoordinatorRequest",
        &[
            // v4 batches: one key becomes a list of keys.
            field("key", STRING, until(3)),
            field("key_type", INT8, from(1)),
            field("coordinator_keys", array(&STRING), from(4)),
        ],
    ),
};

static COORDINATOR: StructDef = StructDef::new(
    "Coordinator",
    &[
        field("key", STRING, from(4)),
        field("node_id", INT32, from(4)),
        field("host", STRING, from(4)),
        field("port", INT32, from(4)),
        field("error_code", INT16, from(4)),
        field("error_message", STRING, from(4)).nullable(from(4)),
    ],
);

pub(crate) static FIND_COORDINATOR_RESPONSE: MessageDef = MessageDef {
    name: "FindCoordinatorResponse",
    versions: range(0, 6),
    flexible: from(3),
    body: &StructDef::new(
        "FindCoordinatorResponse",
        &[
            field("throttle_time_ms", INT32, from(1)),
            field("error_code", INT16, until(3)),
            field("error_message", STRING, range(1, 3)).nullable(range(1, 3)),
            field("node_id", INT32, until(3)),
            field("host", STRING, until(3)),
            field("port", INT32, until(3)),
            field("coordinators", array_of(&COORDINATOR), from(4)),
        ],
    ),
};

// ---- JoinGroup (key 11): versions 0-9, flexible 6+ ----

static JOIN_GROUP_REQUEST_PROTOCOL: StructDef = StructDef::new(
    "JoinGroupRequestProtocol",
    &[field("name", STRING, ALL), field("metadata", BYTES, ALL)],
);

pub(crate) static JOIN_GROUP_REQUEST: MessageDef = MessageDef {
    name: "JoinGroupRequest",
    versions: range(0, 9),
    flexible: from(6),
    body: &StructDef::new(
        "JoinGroupRequest",
        &[
            field("group_id", STRING, ALL),
            field("session_timeout_ms", INT32, ALL),
            field("rebalance_timeout_ms", INT32, from(1)),
            field("member_id", STRING, ALL),
            field("group_instance_id", STRING, from(5)).nullable(from(5)),
            field("protocol_type", STRING, ALL),
            field("protocols", array_of(&JOIN_GROUP_REQUEST_PROTOCOL), ALL),
            field("reason", STRING, from(8)).nullable(from(8)),
        ],
    ),
};

static JOIN_GROUP_RESPONSE_MEMBER: StructDef = StructDef::new(
    "JoinGroupResponseMember",
    &[
        field("member_id", STRING, ALL),
        field("group_instance_id", STRING, from(5)).nullable(from(5)),
        field("metadata", BYTES, ALL),
    ],
);

pub(crate) static JOIN_GROUP_RESPONSE: MessageDef = MessageDef {
    name: "JoinGroupResponse",
    versions: range(0, 9),
    flexible: from(6),
    body: &StructDef::new(
        "JoinGroupResponse",
        &[
            field("throttle_time_ms", INT32, from(2)),
            field("error_code", INT16, ALL),
            field("generation_id", INT32, ALL),
            field("protocol_type", STRING, from(7)).nullable(from(7)),
            field("protocol_name", STRING, ALL).nullable(from(7)),
            field("leader", STRING, ALL),
            field("skip_assignment", BOOL, from(9)),
            field("member_id", STRING, ALL),
            field("members", array_of(&JOIN_GROUP_RESPONSE_MEMBER), ALL),
        ],
    ),
};

// ---- Heartbeat (key 12): versions 0-4, flexible 4+ ----

pub(crate) static HEARTBEAT_REQUEST: MessageDef = MessageDef {
    name: "HeartbeatRequest",
    versions: range(0, 4),
    flexible: from(4),
    body: &StructDef::new(
        "HeartbeatRequest",
        &[
            field("group_id", STRING, ALL),
            field("generation_id", INT32, ALL),
            field("member_id", STRING, ALL),
            field("group_instance_id", STRING, from(3)).nullable(from(3)),
        ],
    ),
};

pub(crate) static HEARTBEAT_RESPONSE: MessageDef = MessageDef {
    name: "HeartbeatResponse",
    versions: range(0, 4),
    flexible: from(4),
    body: &StructDef::new(
        "HeartbeatResponse",
        &[
            field("throttle_time_ms", INT32, from(1)),
            field("error_code", INT16, ALL),
        ],
    ),
};

// ---- LeaveGroup (key 13): versions 0-5, flexible 4+ ----

static MEMBER_IDENTITY: StructDef = StructDef::new(
    "MemberIdentity",
    &[
        field("member_id", STRING, from(3)),
        field("group_instance_id", STRING, from(3)).nullable(from(3)),
        field("reason", STRING, from(5)).nullable(from(5)),
    ],
);

pub(crate) static LEAVE_GROUP_REQUEST: MessageDef = MessageDef {
    name: "LeaveGroupRequest",
    versions: range(0, 5),
    flexible: from(4),
    body: &StructDef::new(
        "LeaveGroupRequest",
        &[
            field("group_id", STRING, ALL),
            // v3 batches members; the single member id goes away.
            field("member_id", STRING, until(2)),
            field("members", array_of(&MEMBER_IDENTITY), from(3)),
        ],
    ),
};

static MEMBER_RESPONSE: StructDef = StructDef::new(
    "MemberResponse",
    &[
        field("member_id", STRING, from(3)),
        field("group_instance_id", STRING, from(3)).nullable(from(3)),
        field("error_code", INT16, from(3)),
    ],
);

pub(crate) static LEAVE_GROUP_RESPONSE: MessageDef = MessageDef {
    name: "LeaveGroupResponse",
    versions: range(0, 5),
    flexible: from(4),
    body: &StructDef::new(
        "LeaveGroupResponse",
        &[
            field("throttle_time_ms", INT32, from(1)),
            field("error_code", INT16, ALL),
            field("members", array_of(&MEMBER_RESPONSE), from(3)),
        ],
    ),
};

// ---- SyncGroup (key 14): versions 0-5, flexible 4+ ----

static SYNC_GROUP_REQUEST_ASSIGNMENT: StructDef = StructDef::new(
    "SyncGroupRequestAssignment",
    &[
        field("member_id", STRING, ALL),
        field("assignment", BYTES, ALL),
    ],
);

pub(crate) static SYNC_GROUP_REQUEST: MessageDef = MessageDef {
    name: "SyncGroupRequest",
    versions: range(0, 5),
    flexible: from(4),
    body: &StructDef::new(
        "SyncGroupRequest",
        &[
            field("group_id", STRING, ALL),
            field("generation_id", INT32, ALL),
            field("member_id", STRING, ALL),
            field("group_instance_id", STRING, from(3)).nullable(from(3)),
            field("protocol_type", STRING, from(5)).nullable(from(5)),
            field("protocol_name", STRING, from(5)).nullable(from(5)),
            field("assignments", array_of(&SYNC_GROUP_REQUEST_ASSIGNMENT), ALL),
        ],
    ),
};

pub(crate) static SYNC_GROUP_RESPONSE: MessageDef = MessageDef {
    name: "SyncGroupResponse",
    versions: range(0, 5),
    flexible: from(4),
    body: &StructDef::new(
        "SyncGroupResponse",
        &[
            field("throttle_time_ms", INT32, from(1)),
            field("error_code", INT16, ALL),
            field("protocol_type", STRING, from(5)).nullable(from(5)),
            field("protocol_name", STRING, from(5)).nullable(from(5)),
            field("assignment", BYTES, ALL),
        ],
    ),
};

// ---- DescribeGroups (key 15): versions 0-6, flexible 5+ ----

pub(crate) static DESCRIBE_GROUPS_REQUEST: MessageDef = MessageDef {
    name: "DescribeGroupsRequest",
    versions: range(0, 6),
    flexible: from(5),
    body: &StructDef::new(
        "DescribeGroupsRequest",
        &[
            field("groups", array(&STRING), ALL),
            field("include_authorized_operations", BOOL, from(3)),
        ],
    ),
};

static DESCRIBED_GROUP_MEMBER: StructDef = StructDef::new(
    "DescribedGroupMember",
    &[
        field("member_id", STRING, ALL),
        field("group_instance_id", STRING, from(4)).nullable(from(4)),
        field("client_id", STRING, ALL),
        field("client_host", STRING, ALL),
        field("member_metadata", BYTES, ALL),
        field("member_assignment", BYTES, ALL),
    ],
);

static DESCRIBED_GROUP: StructDef = StructDef::new(
    "DescribedGroup",
    &[
        field("error_code", INT16, ALL),
        field("error_message", STRING, from(6)).nullable(from(6)),
        field("group_id", STRING, ALL),
        field("group_state", STRING, ALL),
        field("protocol_type", STRING, ALL),
        field("protocol_data", STRING, ALL),
        field("members", array_of(&DESCRIBED_GROUP_MEMBER), ALL),
        field("authorized_operations", INT32, from(3)),
    ],
);

pub(crate) static DESCRIBE_GROUPS_RESPONSE: MessageDef = MessageDef {
    name: "DescribeGroupsResponse",
    versions: range(0, 6),
    flexible: from(5),
    body: &StructDef::new(
        "DescribeGroupsResponse",
        &[
            field("throttle_time_ms", INT32, from(1)),
            field("groups", array_of(&DESCRIBED_GROUP), ALL),
        ],
    ),
};

// ---- ListGroups (key 16): versions 0-5, flexible 3+ ----

pub(crate) static LIST_GROUPS_REQUEST: MessageDef = MessageDef {
    name: "ListGroupsRequest",
    versions: range(0, 5),
    flexible: from(3),
    body: &StructDef::new(
        "ListGroupsRequest",
        &[
            field("states_filter", array(&STRING), from(4)),
            field("types_filter", array(&STRING), from(5)),
        ],
    ),
};

static LISTED_GROUP: StructDef = StructDef::new(
    "ListedGroup",
    &[
        field("group_id", STRING, ALL),
        field("protocol_type", STRING, ALL),
        field("group_state", STRING, from(4)),
        field("group_type", STRING, from(5)),
    ],
);

pub(crate) static LIST_GROUPS_RESPONSE: MessageDef = MessageDef {
    name: "ListGroupsResponse",
    versions: range(0, 5),
    flexible: from(3),
    body: &StructDef::new(
        "ListGroupsResponse",
        &[
            field("throttle_time_ms", INT32, from(1)),
            field("error_code", INT16, ALL),
            field("groups", array_of(&LISTED_GROUP), ALL),
        ],
    ),
};

// ---- DeleteGroups (key 42): versions 0-2, flexible 2+ ----

pub(crate) static DELETE_GROUPS_REQUEST: MessageDef = MessageDef {
    name: "DeleteGroupsRequest",
    versions: range(0, 2),
    flexible: from(2),
    body: &StructDef::new(
        "DeleteGroupsRequest",
        &[field("groups_names", array(&STRING), ALL)],
    ),
};

static DELETABLE_GROUP_RESULT: StructDef = StructDef::new(
    "DeletableGroupResult",
    &[
        field("group_id", STRING, ALL),
        field("error_code", INT16, ALL),
    ],
);

pub(crate) static DELETE_GROUPS_RESPONSE: MessageDef = MessageDef {
    name: "DeleteGroupsResponse",
    versions: range(0, 2),
    flexible: from(2),
    body: &StructDef::new(
        "DeleteGroupsResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("results", array_of(&DELETABLE_GROUP_RESULT), ALL),
        ],
    ),
};
