//! Reading and writing partitions: Produce (0), Fetch (1), ListOffsets (2),
//! DeleteRecords (21), OffsetForLeaderEpoch (23).

use crate::wire_guard::schema::*;

// ---- Produce (key 0): versions 3-13, flexible 9+ ----

static PARTITION_PRODUCE_DATA: StructDef = StructDef::new(
    "PartitionProduceData",
    &[
        field("index", INT32, ALL),
        field("records", RECORDS, ALL).nullable(ALL),
    ],
);

static TOPIC_PRODUCE_DATA: StructDef = StructDef::new(
    "TopicProduceData",
    &[
        // v13 addresses topics by id instead of name.
        field("name", STRING, until(12)),
        field("topic_id", UUID, from(13)),
        field("partition_data", array_of(&PARTITION_PRODUCE_DATA), ALL),
    ],
);

pub(crate) static PRODUCE_REQUEST: MessageDef = MessageDef {
    name: "ProduceRequest",
    versions: range(3, 13),
    flexible: from(9),
    body: &StructDef::new(
        "ProduceRequest",
        &[
            field("transactional_id", STRING, ALL).nullable(ALL),
            field("acks", INT16, ALL),
            field("timeout_ms", INT32, ALL),
            field("topic_data", array_of(&TOPIC_PRODUCE_DATA), ALL),
        ],
    ),
};

static BATCH_INDEX_AND_ERROR_MESSAGE: StructDef = StructDef::new(
    "BatchIndexAndErrorMessage",
    &[
        field("batch_index", INT32, from(8)),
        field("batch_index_error_message", STRING, from(8)).nullable(from(8)),
    ],
);

static PRODUCE_LEADER_ID_AND_EPOCH: StructDef = StructDef::new(
    "LeaderIdAndEpoch",
    &[
        field("leader_id", INT32, from(10)),
        field("leader_epoch", INT32, from(10)),
    ],
);

static PRODUCE_NODE_ENDPOINT: StructDef = StructDef::new(
    "NodeEndpoint",
    &[
        field("node_id", INT32, from(10)),
        field("host", STRING, from(10)),
        field("port", INT32, from(10)),
        field("rack", STRING, from(10)).nullable(from(10)),
    ],
);

static PARTITION_PRODUCE_RESPONSE: StructDef = StructDef::new(
    "PartitionProduceResponse",
    &[
        field("index", INT32, ALL),
        field("error_code", INT16, ALL),
        field("base_offset", INT64, ALL),
        field("log_append_time_ms", INT64, ALL),
        field("log_start_offset", INT64, from(5)),
        field(
            "record_errors",
            array_of(&BATCH_INDEX_AND_ERROR_MESSAGE),
            from(8),
        ),
        field("error_message", STRING, from(8)).nullable(from(8)),
        field(
            "current_leader",
            inline(&PRODUCE_LEADER_ID_AND_EPOCH),
            from(10),
        )
        .tagged(0),
    ],
);

static TOPIC_PRODUCE_RESPONSE: StructDef = StructDef::new(
    "TopicProduceResponse",
    &[
        field("name", STRING, until(12)),
        field("topic_id", UUID, from(13)),
        field(
            "partition_responses",
            array_of(&PARTITION_PRODUCE_RESPONSE),
            ALL,
        ),
    ],
);

pub(crate) static PRODUCE_RESPONSE: MessageDef = MessageDef {
    name: "ProduceResponse",
    versions: range(3, 13),
    flexible: from(9),
    body: &StructDef::new(
        "ProduceResponse",
        &[
            field("responses", array_of(&TOPIC_PRODUCE_RESPONSE), ALL),
            field("throttle_time_ms", INT32, ALL),
            field("node_endpoints", array_of(&PRODUCE_NODE_ENDPOINT), from(10)).tagged(0),
        ],
    ),
};

// ---- Fetch (key 1): versions 4-18, flexible 12+ ----

static REPLICA_STATE: StructDef = StructDef::new(
    "ReplicaState",
    &[
        field("replica_id", INT32, from(15)),
        field("replica_epoch", INT64, from(15)),
    ],
);

static FETCH_PARTITION: StructDef = StructDef::new(
    "FetchPartition",
    &[
        field("partition", INT32, ALL),
        field("current_leader_epoch", INT32, from(9)),
        field("fetch_offset", INT64, ALL),
        field("last_fetched_epoch", INT32, from(12)),
        field("log_start_offset", INT64, from(5)),
        field("partition_max_bytes", INT32, ALL),
        field("replica_directory_id", UUID, from(17)).tagged(0),
        field("high_watermark", INT64, from(18)).tagged(1),
    ],
);

static FETCH_TOPIC: StructDef = StructDef::new(
    "FetchTopic",
    &[
        field("topic", STRING, until(12)),
        field("topic_id", UUID, from(13)),
        field("partitions", array_of(&FETCH_PARTITION), ALL),
    ],
);

static FORGOTTEN_TOPIC: StructDef = StructDef::new(
    "ForgottenTopic",
    &[
        field("topic", STRING, range(7, 12)),
        field("topic_id", UUID, from(13)),
        field("partitions", array(&INT32), from(7)),
    ],
);

pub(crate) static FETCH_REQUEST: MessageDef = MessageDef {
    name: "FetchRequest",
    versions: range(4, 18),
    flexible: from(12),
    body: &StructDef::new(
        "FetchRequest",
        &[
            field("cluster_id", STRING, from(12))
                .nullable(from(12))
                .tagged(0),
            // v15 moves the replica id into the tagged replica_state.
            field("replica_id", INT32, until(14)),
            field("replica_state", inline(&REPLICA_STATE), from(15)).tagged(1),
            field("max_wait_ms", INT32, ALL),
            field("min_bytes", INT32, ALL),
            field("max_bytes", INT32, ALL),
            field("isolation_level", INT8, ALL),
            field("session_id", INT32, from(7)),
            field("session_epoch", INT32, from(7)),
            field("topics", array_of(&FETCH_TOPIC), ALL),
            field("forgotten_topics_data", array_of(&FORGOTTEN_TOPIC), from(7)),
            field("rack_id", STRING, from(11)),
        ],
    ),
};

static EPOCH_END_OFFSET: StructDef = StructDef::new(
    "EpochEndOffset",
    &[
        field("epoch", INT32, from(12)),
        field("end_offset", INT64, from(12)),
    ],
);

static FETCH_LEADER_ID_AND_EPOCH: StructDef = StructDef::new(
    "LeaderIdAndEpoch",
    &[
        field("leader_id", INT32, from(12)),
        field("leader_epoch", INT32, from(12)),
    ],
);

static SNAPSHOT_ID: StructDef = StructDef::new(
    "SnapshotId",
    &[field("end_offset", INT64, ALL), field("epoch", INT32, ALL)],
);

static ABORTED_TRANSACTION: StructDef = StructDef::new(
    "AbortedTransaction",
    &[
        field("producer_id", INT64, ALL),
        field("first_offset", INT64, ALL),
    ],
);

static PARTITION_DATA: StructDef = StructDef::new(
    "PartitionData",
    &[
        field("partition_index", INT32, ALL),
        field("error_code", INT16, ALL),
        field("high_watermark", INT64, ALL),
        field("last_stable_offset", INT64, ALL),
        field("log_start_offset", INT64, from(5)),
        field("diverging_epoch", inline(&EPOCH_END_OFFSET), from(12)).tagged(0),
        field(
            "current_leader",
            inline(&FETCH_LEADER_ID_AND_EPOCH),
            from(12),
        )
        .tagged(1),
        field("snapshot_id", inline(&SNAPSHOT_ID), from(12)).tagged(2),
        field("aborted_transactions", array_of(&ABORTED_TRANSACTION), ALL).nullable(ALL),
        field("preferred_read_replica", INT32, from(11)),
        field("records", RECORDS, ALL).nullable(ALL),
    ],
);

static FETCHABLE_TOPIC_RESPONSE: StructDef = StructDef::new(
    "FetchableTopicResponse",
    &[
        field("topic", STRING, until(12)),
        field("topic_id", UUID, from(13)),
        field("partitions", array_of(&PARTITION_DATA), ALL),
    ],
);

static FETCH_NODE_ENDPOINT: StructDef = StructDef::new(
    "NodeEndpoint",
    &[
        field("node_id", INT32, from(16)),
        field("host", STRING, from(16)),
        field("port", INT32, from(16)),
        field("rack", STRING, from(16)).nullable(from(16)),
    ],
);

pub(crate) static FETCH_RESPONSE: MessageDef = MessageDef {
    name: "FetchResponse",
    versions: range(4, 18),
    flexible: from(12),
    body: &StructDef::new(
        "FetchResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("error_code", INT16, from(7)),
            field("session_id", INT32, from(7)),
            field("responses", array_of(&FETCHABLE_TOPIC_RESPONSE), ALL),
            field("node_endpoints", array_of(&FETCH_NODE_ENDPOINT), from(16)).tagged(0),
        ],
    ),
};

// ---- ListOffsets (key 2): versions 1-10, flexible 6+ ----

static LIST_OFFSETS_PARTITION: StructDef = StructDef::new(
    "ListOffsetsPartition",
    &[
        field("partition_index", INT32, ALL),
        field("current_leader_epoch", INT32, from(4)),
        field("timestamp", INT64, ALL),
    ],
);

static LIST_OFFSETS_TOPIC: StructDef = StructDef::new(
    "ListOffsetsTopic",
    &[
        field("name", STRING, ALL),
        field("partitions", array_of(&LIST_OFFSETS_PARTITION), ALL),
    ],
);

pub(crate) static LIST_OFFSETS_REQUEST: MessageDef = MessageDef {
    name: "ListOffsetsRequest",
    versions: range(1, 10),
    flexible: from(6),
    body: &StructDef::new(
        "ListOffsetsRequest",
        &[
            field("replica_id", INT32, ALL),
            field("isolation_level", INT8, from(2)),
            field("topics", array_of(&LIST_OFFSETS_TOPIC), ALL),
            field("timeout_ms", INT32, from(10)),
        ],
    ),
};

static LIST_OFFSETS_PARTITION_RESPONSE: StructDef = StructDef::new(
    "ListOffsetsPartitionResponse",
    &[
        field("partition_index", INT32, ALL),
        field("error_code", INT16, ALL),
        field("timestamp", INT64, ALL),
        field("offset", INT64, ALL),
        field("leader_epoch", INT32, from(4)),
    ],
);

static LIST_OFFSETS_TOPIC_RESPONSE: StructDef = StructDef::new(
    "ListOffsetsTopicResponse",
    &[
        field("name", STRING, ALL),
        field(
            "partitions",
            array_of(&LIST_OFFSETS_PARTITION_RESPONSE),
            ALL,
        ),
    ],
);

pub(crate) static LIST_OFFSETS_RESPONSE: MessageDef = MessageDef {
    name: "ListOffsetsResponse",
    versions: range(1, 10),
    flexible: from(6),
    body: &StructDef::new(
        "ListOffsetsResponse",
        &[
            field("throttle_time_ms", INT32, from(2)),
            field("topics", array_of(&LIST_OFFSETS_TOPIC_RESPONSE), ALL),
        ],
    ),
};

// ---- DeleteRecords (key 21): versions 0-2, flexible 2+ ----

static DELETE_RECORDS_PARTITION: StructDef = StructDef::new(
    "DeleteRecordsPartition",
    &[
        field("partition_index", INT32, ALL),
        field("offset", INT64, ALL),
    ],
);

static DELETE_RECORDS_TOPIC: StructDef = StructDef::new(
    "DeleteRecordsTopic",
    &[
        field("name", STRING, ALL),
        field("partitions", array_of(&DELETE_RECORDS_PARTITION), ALL),
    ],
);

pub(crate) static DELETE_RECORDS_REQUEST: MessageDef = MessageDef {
    name: "DeleteRecordsRequest",
    versions: range(0, 2),
    flexible: from(2),
    body: &StructDef::new(
        "DeleteRecordsRequest",
        &[
            field("topics", array_of(&DELETE_RECORDS_TOPIC), ALL),
            field("timeout_ms", INT32, ALL),
        ],
    ),
};

static DELETE_RECORDS_PARTITION_RESULT: StructDef = StructDef::new(
    "DeleteRecordsPartitionResult",
    &[
        field("partition_index", INT32, ALL),
        field("low_watermark", INT64, ALL),
        field("error_code", INT16, ALL),
    ],
);

static DELETE_RECORDS_TOPIC_RESULT: StructDef = StructDef::new(
    "DeleteRecordsTopicResult",
    &[
        field("name", STRING, ALL),
        field(
            "partitions",
            array_of(&DELETE_RECORDS_PARTITION_RESULT),
            ALL,
        ),
    ],
);

pub(crate) static DELETE_RECORDS_RESPONSE: MessageDef = MessageDef {
    name: "DeleteRecordsResponse",
    versions: range(0, 2),
    flexible: from(2),
    body: &StructDef::new(
        "DeleteRecordsResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("topics", array_of(&DELETE_RECORDS_TOPIC_RESULT), ALL),
        ],
    ),
};

// ---- OffsetForLeaderEpoch (key 23): versions 2-4, flexible 4+ ----

static OFFSET_FOR_LEADER_PARTITION: StructDef = StructDef::new(
    "OffsetForLeaderPartition",
    &[
        field("partition", INT32, ALL),
        field("current_leader_epoch", INT32, ALL),
        field("leader_epoch", INT32, ALL),
    ],
);

static OFFSET_FOR_LEADER_TOPIC: StructDef = StructDef::new(
    "OffsetForLeaderTopic",
    &[
        field("topic", STRING, ALL),
        field("partitions", array_of(&OFFSET_FOR_LEADER_PARTITION), ALL),
    ],
);

pub(crate) static OFFSET_FOR_LEADER_EPOCH_REQUEST: MessageDef = MessageDef {
    name: "OffsetForLeaderEpochRequest",
    versions: range(2, 4),
    flexible: from(4),
    body: &StructDef::new(
        "OffsetForLeaderEpochRequest",
        &[
            field("replica_id", INT32, from(3)),
            field("topics", array_of(&OFFSET_FOR_LEADER_TOPIC), ALL),
        ],
    ),
};

static OFFSET_FOR_LEADER_EPOCH_END_OFFSET: StructDef = StructDef::new(
    "EpochEndOffset",
    &[
        field("error_code", INT16, ALL),
        field("partition", INT32, ALL),
        field("leader_epoch", INT32, ALL),
        field("end_offset", INT64, ALL),
    ],
);

static OFFSET_FOR_LEADER_TOPIC_RESULT: StructDef = StructDef::new(
    "OffsetForLeaderTopicResult",
    &[
        field("topic", STRING, ALL),
        field(
            "partitions",
            array_of(&OFFSET_FOR_LEADER_EPOCH_END_OFFSET),
            ALL,
        ),
    ],
);

pub(crate) static OFFSET_FOR_LEADER_EPOCH_RESPONSE: MessageDef = MessageDef {
    name: "OffsetForLeaderEpochResponse",
    versions: range(2, 4),
    flexible: from(4),
    body: &StructDef::new(
        "OffsetForLeaderEpochResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("topics", array_of(&OFFSET_FOR_LEADER_TOPIC_RESULT), ALL),
        ],
    ),
};
