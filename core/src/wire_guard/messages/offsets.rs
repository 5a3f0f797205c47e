//! Committed offsets and producer ids: OffsetCommit (8), OffsetFetch (9),
//! InitProducerId (22), OffsetDelete (47).

use crate::wire_guard::schema::*;

// ---- OffsetCommit (key 8): requests 2-9, responses 2-10, flexible 8+ ----

static OFFSET_COMMIT_REQUEST_PARTITION: StructDef = StructDef::new(
    "OffsetCommitRequestPartition",
    &[
        field("partition_index", INT32, ALL),
        field("committed_offset", INT64, ALL),
        field("committed_leader_epoch", INT32, from(6)),
        field("committed_metadata", STRING, ALL).nullable(ALL),
    ],
);

static OFFSET_COMMIT_REQUEST_TOPIC: StructDef = StructDef::new(
    "OffsetCommitRequestTopic",
    &[
        field("name", STRING, ALL),
        field(
            "partitions",
            array_of(&OFFSET_COMMIT_REQUEST_PARTITION),
            ALL,
        ),
    ],
);

pub(crate) static OFFSET_COMMIT_REQUEST: MessageDef = MessageDef {
    name: "OffsetCommitRequest",
    versions: range(2, 9),
    flexible: from(8),
    body: &StructDef::new(
        "OffsetCommitRequest",
        &[
            field("group_id", STRING, ALL),
            field("generation_id_or_member_epoch", INT32, ALL),
            field("member_id", STRING, ALL),
            field("group_instance_id", STRING, from(7)).nullable(from(7)),
            field("retention_time_ms", INT64, range(2, 4)),
            field("topics", array_of(&OFFSET_COMMIT_REQUEST_TOPIC), ALL),
        ],
    ),
};

static OFFSET_COMMIT_RESPONSE_PARTITION: StructDef = StructDef::new(
    "OffsetCommitResponsePartition",
    &[
        field("partition_index", INT32, ALL),
        field("error_code", INT16, ALL),
    ],
);

static OFFSET_COMMIT_RESPONSE_TOPIC: StructDef = StructDef::new(
    "OffsetCommitResponseTopic",
    &[
        field("name", STRING, until(9)),
        field("topic_id", UUID, from(10)),
        field(
            "partitions",
            array_of(&OFFSET_COMMIT_RESPONSE_PARTITION),
            ALL,
        ),
    ],
);

pub(crate) static OFFSET_COMMIT_RESPONSE: MessageDef = MessageDef {
    name: "OffsetCommitResponse",
    versions: range(2, 10),
    flexible: from(8),
    body: &StructDef::new(
        "OffsetCommitResponse",
        &[
            field("throttle_time_ms", INT32, from(3)),
            field("topics", array_of(&OFFSET_COMMIT_RESPONSE_TOPIC), ALL),
        ],
    ),
};

// ---- OffsetFetch (key 9): requests 1-9, responses 1-10, flexible 6+ ----

static OFFSET_FETCH_REQUEST_TOPIC: StructDef = StructDef::new(
    "OffsetFetchRequestTopic",
    &[
        field("name", STRING, until(7)),
        field("partition_indexes", array(&INT32), until(7)),
    ],
);

static OFFSET_FETCH_REQUEST_TOPICS: StructDef = StructDef::new(
    "OffsetFetchRequestTopics",
    &[
        field("name", STRING, from(8)),
        field("partition_indexes", array(&INT32), from(8)),
    ],
);

static OFFSET_FETCH_REQUEST_GROUP: StructDef = StructDef::new(
    "OffsetFetchRequestGroup",
    &[
        field("group_id", STRING, from(8)),
        field("member_id", STRING, from(9)).nullable(from(9)),
        field("member_epoch", INT32, from(9)),
        field("topics", array_of(&OFFSET_FETCH_REQUEST_TOPICS), from(8)).nullable(from(8)),
    ],
);

pub(crate) static OFFSET_FETCH_REQUEST: MessageDef = MessageDef {
    name: "OffsetFetchRequest",
    versions: range(1, 9),
    flexible: from(6),
    body: &StructDef::new(
        "OffsetFetchRequest",
        &[
            // v8 batches several groups; the single-group fields go away.
            field("group_id", STRING, until(7)),
            field("topics", array_of(&OFFSET_FETCH_REQUEST_TOPIC), until(7)).nullable(range(2, 7)),
            field("groups", array_of(&OFFSET_FETCH_REQUEST_GROUP), from(8)),
            field("require_stable", BOOL, from(7)),
        ],
    ),
};

static OFFSET_FETCH_RESPONSE_PARTITION: StructDef = StructDef::new(
    "OffsetFetchResponsePartition",
    &[
        field("partition_index", INT32, until(7)),
        field("committed_offset", INT64, until(7)),
        field("committed_leader_epoch", INT32, range(5, 7)),
        field("metadata", STRING, until(7)).nullable(until(7)),
        field("error_code", INT16, until(7)),
    ],
);

static OFFSET_FETCH_RESPONSE_TOPIC: StructDef = StructDef::new(
    "OffsetFetchResponseTopic",
    &[
        field("name", STRING, until(7)),
        field(
            "partitions",
            array_of(&OFFSET_FETCH_RESPONSE_PARTITION),
            until(7),
        ),
    ],
);

static OFFSET_FETCH_RESPONSE_PARTITIONS: StructDef = StructDef::new(
    "OffsetFetchResponsePartitions",
    &[
        field("partition_index", INT32, from(8)),
        field("committed_offset", INT64, from(8)),
        field("committed_leader_epoch", INT32, from(8)),
        field("metadata", STRING, from(8)).nullable(from(8)),
        field("error_code", INT16, from(8)),
    ],
);

static OFFSET_FETCH_RESPONSE_TOPICS: StructDef = StructDef::new(
    "OffsetFetchResponseTopics",
    &[
        field("name", STRING, range(8, 9)),
        field("topic_id", UUID, from(10)),
        field(
            "partitions",
            array_of(&OFFSET_FETCH_RESPONSE_PARTITIONS),
            from(8),
        ),
    ],
);

static OFFSET_FETCH_RESPONSE_GROUP: StructDef = StructDef::new(
    "OffsetFetchResponseGroup",
    &[
        field("group_id", STRING, from(8)),
        field("topics", array_of(&OFFSET_FETCH_RESPONSE_TOPICS), from(8)),
        field("error_code", INT16, from(8)),
    ],
);

pub(crate) static OFFSET_FETCH_RESPONSE: MessageDef = MessageDef {
    name: "OffsetFetchResponse",
    versions: range(1, 10),
    flexible: from(6),
    body: &StructDef::new(
        "OffsetFetchResponse",
        &[
            field("throttle_time_ms", INT32, from(3)),
            field("topics", array_of(&OFFSET_FETCH_RESPONSE_TOPIC), until(7)),
            field("error_code", INT16, range(2, 7)),
            field("groups", array_of(&OFFSET_FETCH_RESPONSE_GROUP), from(8)),
        ],
    ),
};

// ---- InitProducerId (key 22): requests 0-5, responses 0-6, flexible 2+ ----

pub(crate) static INIT_PRODUCER_ID_REQUEST: MessageDef = MessageDef {
    name: "InitProducerIdRequest",
    versions: range(0, 5),
    flexible: from(2),
    body: &StructDef::new(
        "InitProducerIdRequest",
        &[
            field("transactional_id", STRING, ALL).nullable(ALL),
            field("transaction_timeout_ms", INT32, ALL),
            field("producer_id", INT64, from(3)),
            field("producer_epoch", INT16, from(3)),
        ],
    ),
};

pub(crate) static INIT_PRODUCER_ID_RESPONSE: MessageDef = MessageDef {
    name: "InitProducerIdResponse",
    versions: range(0, 6),
    flexible: from(2),
    body: &StructDef::new(
        "InitProducerIdResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("error_code", INT16, ALL),
            field("producer_id", INT64, ALL),
            field("producer_epoch", INT16, ALL),
            field("ongoing_txn_producer_id", INT64, from(6)),
            field("ongoing_txn_producer_epoch", INT16, from(6)),
        ],
    ),
};

// ---- OffsetDelete (key 47): version 0, never flexible ----

static OFFSET_DELETE_REQUEST_PARTITION: StructDef = StructDef::new(
    "OffsetDeleteRequestPartition",
    &[field("partition_index", INT32, ALL)],
);

static OFFSET_DELETE_REQUEST_TOPIC: StructDef = StructDef::new(
    "OffsetDeleteRequestTopic",
    &[
        field("name", STRING, ALL),
        field(
            "partitions",
            array_of(&OFFSET_DELETE_REQUEST_PARTITION),
            ALL,
        ),
    ],
);

pub(crate) static OFFSET_DELETE_REQUEST: MessageDef = MessageDef {
    name: "OffsetDeleteRequest",
    versions: range(0, 0),
    flexible: NEVER,
    body: &StructDef::new(
        "OffsetDeleteRequest",
        &[
            field("group_id", STRING, ALL),
            field("topics", array_of(&OFFSET_DELETE_REQUEST_TOPIC), ALL),
        ],
    ),
};

static OFFSET_DELETE_RESPONSE_PARTITION: StructDef = StructDef::new(
    "OffsetDeleteResponsePartition",
    &[
        field("partition_index", INT32, ALL),
        field("error_code", INT16, ALL),
    ],
);

static OFFSET_DELETE_RESPONSE_TOPIC: StructDef = StructDef::new(
    "OffsetDeleteResponseTopic",
    &[
        field("name", STRING, ALL),
        field(
            "partitions",
            array_of(&OFFSET_DELETE_RESPONSE_PARTITION),
            ALL,
        ),
    ],
);

pub(crate) static OFFSET_DELETE_RESPONSE: MessageDef = MessageDef {
    name: "OffsetDeleteResponse",
    versions: range(0, 0),
    flexible: NEVER,
    body: &StructDef::new(
        "OffsetDeleteResponse",
        &[
            field("error_code", INT16, ALL),
            field("throttle_time_ms", INT32, ALL),
            field("topics", array_of(&OFFSET_DELETE_RESPONSE_TOPIC), ALL),
        ],
    ),
};
