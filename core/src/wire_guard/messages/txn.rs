//! Transactions: AddPartitionsToTxn (24), AddOffsetsToTxn (25), EndTxn
//! (26), WriteTxnMarkers (27), TxnOffsetCommit (28), DescribeTransactions
//! (65), ListTransactions (66).

use crate::wire_guard::schema::*;

// ---- AddPartitionsToTxn (key 24): versions 0-5, flexible 3+ ----

static ADD_PARTITIONS_TO_TXN_TOPIC: StructDef = StructDef::new(
    "AddPartitionsToTxnTopic",
    &[
        field("name", STRING, ALL),
        field("partitions", array(&INT32), ALL),
    ],
);

static ADD_PARTITIONS_TO_TXN_TRANSACTION: StructDef = StructDef::new(
    "AddPartitionsToTxnTransaction",
    &[
        field("transactional_id", STRING, ALL),
        field("producer_id", INT64, ALL),
        field("producer_epoch", INT16, ALL),
        field("verify_only", BOOL, ALL),
        field("topics", array_of(&ADD_PARTITIONS_TO_TXN_TOPIC), ALL),
    ],
);

pub(crate) static ADD_PARTITIONS_TO_TXN_REQUEST: MessageDef = MessageDef {
    name: "AddPartitionsToTxnRequest",
    versions: range(0, 5),
    flexible: from(3),
    body: &StructDef::new(
        "AddPartitionsToTxnRequest",
        &[
            field(
                "transactions",
                array_of(&ADD_PARTITIONS_TO_TXN_TRANSACTION),
                from(4),
            ),
            field("v3_and_below_transactional_id", STRING, until(3)),
            field("v3_and_below_producer_id", INT64, until(3)),
            field("v3_and_below_producer_epoch", INT16, until(3)),
            field(
                "v3_and_below_topics",
                array_of(&ADD_PARTITIONS_TO_TXN_TOPIC),
                until(3),
            ),
        ],
    ),
};

static ADD_PARTITIONS_TO_TXN_PARTITION_RESULT: StructDef = StructDef::new(
    "AddPartitionsToTxnPartitionResult",
    &[
        field("partition_index", INT32, ALL),
        field("partition_error_code", INT16, ALL),
    ],
);

static ADD_PARTITIONS_TO_TXN_TOPIC_RESULT: StructDef = StructDef::new(
    "AddPartitionsToTxnTopicResult",
    &[
        field("name", STRING, ALL),
        field(
            "results_by_partition",
            array_of(&ADD_PARTITIONS_TO_TXN_PARTITION_RESULT),
            ALL,
        ),
    ],
);

static ADD_PARTITIONS_TO_TXN_RESULT: StructDef = StructDef::new(
    "AddPartitionsToTxnResult",
    &[
        field("transactional_id", STRING, ALL),
        field(
            "topic_results",
            array_of(&ADD_PARTITIONS_TO_TXN_TOPIC_RESULT),
            ALL,
        ),
    ],
);

pub(crate) static ADD_PARTITIONS_TO_TXN_RESPONSE: MessageDef = MessageDef {
    name: "AddPartitionsToTxnResponse",
    versions: range(0, 5),
    flexible: from(3),
    body: &StructDef::new(
        "AddPartitionsToTxnResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("error_code", INT16, from(4)),
            field(
                "results_by_transaction",
                array_of(&ADD_PARTITIONS_TO_TXN_RESULT),
                from(4),
            ),
            field(
                "results_by_topic_v3_and_below",
                array_of(&ADD_PARTITIONS_TO_TXN_TOPIC_RESULT),
                until(3),
            ),
        ],
    ),
};

// ---- AddOffsetsToTxn (key 25): versions 0-4, flexible 3+ ----

pub(crate) static ADD_OFFSETS_TO_TXN_REQUEST: MessageDef = MessageDef {
    name: "AddOffsetsToTxnRequest",
    versions: range(0, 4),
    flexible: from(3),
    body: &StructDef::new(
        "AddOffsetsToTxnRequest",
        &[
            field("transactional_id", STRING, ALL),
            field("producer_id", INT64, ALL),
            field("producer_epoch", INT16, ALL),
            field("group_id", STRING, ALL),
        ],
    ),
};

pub(crate) static ADD_OFFSETS_TO_TXN_RESPONSE: MessageDef = MessageDef {
    name: "AddOffsetsToTxnResponse",
    versions: range(0, 4),
    flexible: from(3),
    body: &StructDef::new(
        "AddOffsetsToTxnResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("error_code", INT16, ALL),
        ],
    ),
};

// ---- EndTxn (key 26): versions 0-5, flexible 3+ ----

pub(crate) static END_TXN_REQUEST: MessageDef = MessageDef {
    name: "EndTxnRequest",
    versions: range(0, 5),
    flexible: from(3),
    body: &StructDef::new(
        "EndTxnRequest",
        &[
            field("transactional_id", STRING, ALL),
            field("producer_id", INT64, ALL),
            field("producer_epoch", INT16, ALL),
            field("committed", BOOL, ALL),
        ],
    ),
};

pub(crate) static END_TXN_RESPONSE: MessageDef = MessageDef {
    name: "EndTxnResponse",
    versions: range(0, 5),
    flexible: from(3),
    body: &StructDef::new(
        "EndTxnResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("error_code", INT16, ALL),
            field("producer_id", INT64, from(5)),
            field("producer_epoch", INT16, from(5)),
        ],
    ),
};

// ---- WriteTxnMarkers (key 27): version 1 (kafka-protocol 0.18), flexible 1+ ----

static WRITABLE_TXN_MARKER_TOPIC: StructDef = StructDef::new(
    "WritableTxnMarkerTopic",
    &[
        field("name", STRING, ALL),
        field("partition_indexes", array(&INT32), ALL),
    ],
);

static WRITABLE_TXN_MARKER: StructDef = StructDef::new(
    "WritableTxnMarker",
    &[
        field("producer_id", INT64, ALL),
        field("producer_epoch", INT16, ALL),
        field("transaction_result", BOOL, ALL),
        field("topics", array_of(&WRITABLE_TXN_MARKER_TOPIC), ALL),
        field("coordinator_epoch", INT32, ALL),
    ],
);

pub(crate) static WRITE_TXN_MARKERS_REQUEST: MessageDef = MessageDef {
    name: "WriteTxnMarkersRequest",
    versions: range(1, 1),
    flexible: from(1),
    body: &StructDef::new(
        "WriteTxnMarkersRequest",
        &[field("markers", array_of(&WRITABLE_TXN_MARKER), ALL)],
    ),
};

static WRITABLE_TXN_MARKER_PARTITION_RESULT: StructDef = StructDef::new(
    "WritableTxnMarkerPartitionResult",
    &[
        field("partition_index", INT32, ALL),
        field("error_code", INT16, ALL),
    ],
);

static WRITABLE_TXN_MARKER_TOPIC_RESULT: StructDef = StructDef::new(
    "WritableTxnMarkerTopicResult",
    &[
        field("name", STRING, ALL),
        field(
            "partitions",
            array_of(&WRITABLE_TXN_MARKER_PARTITION_RESULT),
            ALL,
        ),
    ],
);

static WRITABLE_TXN_MARKER_RESULT: StructDef = StructDef::new(
    "WritableTxnMarkerResult",
    &[
        field("producer_id", INT64, ALL),
        field("topics", array_of(&WRITABLE_TXN_MARKER_TOPIC_RESULT), ALL),
    ],
);

pub(crate) static WRITE_TXN_MARKERS_RESPONSE: MessageDef = MessageDef {
    name: "WriteTxnMarkersResponse",
    versions: range(1, 1),
    flexible: from(1),
    body: &StructDef::new(
        "WriteTxnMarkersResponse",
        &[field("markers", array_of(&WRITABLE_TXN_MARKER_RESULT), ALL)],
    ),
};

// ---- TxnOffsetCommit (key 28): versions 0-5, flexible 3+ ----

static TXN_OFFSET_COMMIT_REQUEST_PARTITION: StructDef = StructDef::new(
    "TxnOffsetCommitRequestPartition",
    &[
        field("partition_index", INT32, ALL),
        field("committed_offset", INT64, ALL),
        field("committed_leader_epoch", INT32, from(2)),
        field("committed_metadata", STRING, ALL).nullable(ALL),
    ],
);

static TXN_OFFSET_COMMIT_REQUEST_TOPIC: StructDef = StructDef::new(
    "TxnOffsetCommitRequestTopic",
    &[
        field("name", STRING, ALL),
        field(
            "partitions",
            array_of(&TXN_OFFSET_COMMIT_REQUEST_PARTITION),
            ALL,
        ),
    ],
);

pub(crate) static TXN_OFFSET_COMMIT_REQUEST: MessageDef = MessageDef {
    name: "TxnOffsetCommitRequest",
    versions: range(0, 5),
    flexible: from(3),
    body: &StructDef::new(
        "TxnOffsetCommitRequest",
        &[
            field("transactional_id", STRING, ALL),
            field("group_id", STRING, ALL),
            field("producer_id", INT64, ALL),
            field("producer_epoch", INT16, ALL),
            field("generation_id", INT32, from(3)),
            field("member_id", STRING, from(3)),
            field("group_instance_id", STRING, from(3)).nullable(from(3)),
            field("topics", array_of(&TXN_OFFSET_COMMIT_REQUEST_TOPIC), ALL),
        ],
    ),
};

static TXN_OFFSET_COMMIT_RESPONSE_PARTITION: StructDef = StructDef::new(
    "TxnOffsetCommitResponsePartition",
    &[
        field("partition_index", INT32, ALL),
        field("error_code", INT16, ALL),
    ],
);

static TXN_OFFSET_COMMIT_RESPONSE_TOPIC: StructDef = StructDef::new(
    "TxnOffsetCommitResponseTopic",
    &[
        field("name", STRING, ALL),
        field(
            "partitions",
            array_of(&TXN_OFFSET_COMMIT_RESPONSE_PARTITION),
            ALL,
        ),
    ],
);

pub(crate) static TXN_OFFSET_COMMIT_RESPONSE: MessageDef = MessageDef {
    name: "TxnOffsetCommitResponse",
    versions: range(0, 5),
    flexible: from(3),
    body: &StructDef::new(
        "TxnOffsetCommitResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("topics", array_of(&TXN_OFFSET_COMMIT_RESPONSE_TOPIC), ALL),
        ],
    ),
};

// ---- DescribeTransactions (key 65): version 0, flexible ----

pub(crate) static DESCRIBE_TRANSACTIONS_REQUEST: MessageDef = MessageDef {
    name: "DescribeTransactionsRequest",
    versions: range(0, 0),
    flexible: ALL,
    body: &StructDef::new(
        "DescribeTransactionsRequest",
        &[field("transactional_ids", array(&STRING), ALL)],
    ),
};

static DESCRIBE_TRANSACTIONS_TOPIC_DATA: StructDef = StructDef::new(
    "TopicData",
    &[
        field("topic", STRING, ALL),
        field("partitions", array(&INT32), ALL),
    ],
);

static DESCRIBE_TRANSACTIONS_STATE: StructDef = StructDef::new(
    "TransactionState",
    &[
        field("error_code", INT16, ALL),
        field("transactional_id", STRING, ALL),
        field("transaction_state", STRING, ALL),
        field("transaction_timeout_ms", INT32, ALL),
        field("transaction_start_time_ms", INT64, ALL),
        field("producer_id", INT64, ALL),
        field("producer_epoch", INT16, ALL),
        field("topics", array_of(&DESCRIBE_TRANSACTIONS_TOPIC_DATA), ALL),
    ],
);

pub(crate) static DESCRIBE_TRANSACTIONS_RESPONSE: MessageDef = MessageDef {
    name: "DescribeTransactionsResponse",
    versions: range(0, 0),
    flexible: ALL,
    body: &StructDef::new(
        "DescribeTransactionsResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field(
                "transaction_states",
                array_of(&DESCRIBE_TRANSACTIONS_STATE),
                ALL,
            ),
        ],
    ),
};

// ---- ListTransactions (key 66): versions 0-2, flexible ----

pub(crate) static LIST_TRANSACTIONS_REQUEST: MessageDef = MessageDef {
    name: "ListTransactionsRequest",
    versions: range(0, 2),
    flexible: ALL,
    body: &StructDef::new(
        "ListTransactionsRequest",
        &[
            field("state_filters", array(&STRING), ALL),
            field("producer_id_filters", array(&INT64), ALL),
            field("duration_filter", INT64, from(1)),
            field("transactional_id_pattern", STRING, from(2)).nullable(from(2)),
        ],
    ),
};

static LIST_TRANSACTIONS_STATE: StructDef = StructDef::new(
    "TransactionState",
    &[
        field("transactional_id", STRING, ALL),
        field("producer_id", INT64, ALL),
        field("transaction_state", STRING, ALL),
    ],
);

pub(crate) static LIST_TRANSACTIONS_RESPONSE: MessageDef = MessageDef {
    name: "ListTransactionsResponse",
    versions: range(0, 2),
    flexible: ALL,
    body: &StructDef::new(
        "ListTransactionsResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("error_code", INT16, ALL),
            field("unknown_state_filters", array(&STRING), ALL),
            field(
                "transaction_states",
                array_of(&LIST_TRANSACTIONS_STATE),
                ALL,
            ),
        ],
    ),
};
