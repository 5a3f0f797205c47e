//! DescribeProducers (61), version 0 (flexible): the producer state of
//! partitions (KIP-664).

use crate::wire_guard::schema::*;

static TOPIC_REQUEST: StructDef = StructDef::new(
    "TopicRequest",
    &[
        field("name", STRING, ALL),
        field("partition_indexes", array(&INT32), ALL),
    ],
);

pub(crate) static DESCRIBE_PRODUCERS_REQUEST: MessageDef = MessageDef {
    name: "DescribeProducersRequest",
    versions: range(0, 0),
    flexible: ALL,
    body: &StructDef::new(
        "DescribeProducersRequest",
        &[field("topics", array_of(&TOPIC_REQUEST), ALL)],
    ),
};

static PRODUCER_STATE: StructDef = StructDef::new(
    "ProducerState",
    &[
        field("producer_id", INT64, ALL),
        field("producer_epoch", INT32, ALL),
        field("last_sequence", INT32, ALL),
        field("last_timestamp", INT64, ALL),
        field("coordinator_epoch", INT32, ALL),
        field("current_txn_start_offset", INT64, ALL),
    ],
);

static PARTITION_RESPONSE: StructDef = StructDef::new(
    "PartitionResponse",
    &[
        field("partition_index", INT32, ALL),
        field("error_code", INT16, ALL),
        field("error_message", STRING, ALL).nullable(ALL),
        field("active_producers", array_of(&PRODUCER_STATE), ALL),
    ],
);

static TOPIC_RESPONSE: StructDef = StructDef::new(
    "TopicResponse",
    &[
        field("name", STRING, ALL),
        field("partitions", array_of(&PARTITION_RESPONSE), ALL),
    ],
);

pub(crate) static DESCRIBE_PRODUCERS_RESPONSE: MessageDef = MessageDef {
    name: "DescribeProducersResponse",
    versions: range(0, 0),
    flexible: ALL,
    body: &StructDef::new(
        "DescribeProducersResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("topics", array_of(&TOPIC_RESPONSE), ALL),
        ],
    ),
};
