//! Topic and config administration: CreateTopics (19), DeleteTopics (20),
//! DescribeConfigs (32), AlterConfigs (33), CreatePartitions (37),
//! IncrementalAlterConfigs (44).

use crate::wire_guard::schema::*;

// ---- CreateTopics (key 19): versions 2-7, flexible 5+ ----

static CREATABLE_REPLICA_ASSIGNMENT: StructDef = StructDef::new(
    "CreatableReplicaAssignment",
    &[
        field("partition_index", INT32, ALL),
        field("broker_ids", array(&INT32), ALL),
    ],
);

static CREATABLE_TOPIC_CONFIG: StructDef = StructDef::new(
    "CreatableTopicConfig",
    &[
        field("name", STRING, ALL),
        field("value", STRING, ALL).nullable(ALL),
    ],
);

static CREATABLE_TOPIC: StructDef = StructDef::new(
    "CreatableTopic",
    &[
        field("name", STRING, ALL),
        field("num_partitions", INT32, ALL),
        field("replication_factor", INT16, ALL),
        field("assignments", array_of(&CREATABLE_REPLICA_ASSIGNMENT), ALL),
        field("configs", array_of(&CREATABLE_TOPIC_CONFIG), ALL),
    ],
);

pub(crate) static CREATE_TOPICS_REQUEST: MessageDef = MessageDef {
    name: "CreateTopicsRequest",
    versions: range(2, 7),
    flexible: from(5),
    body: &StructDef::new(
        "CreateTopicsRequest",
        &[
            field("topics", array_of(&CREATABLE_TOPIC), ALL),
            field("timeout_ms", INT32, ALL),
            field("validate_only", BOOL, ALL),
        ],
    ),
};

static CREATABLE_TOPIC_CONFIGS: StructDef = StructDef::new(
    "CreatableTopicConfigs",
    &[
        field("name", STRING, from(5)),
        field("value", STRING, from(5)).nullable(from(5)),
        field("read_only", BOOL, from(5)),
        field("config_source", INT8, from(5)),
        field("is_sensitive", BOOL, from(5)),
    ],
);

static CREATABLE_TOPIC_RESULT: StructDef = StructDef::new(
    "CreatableTopicResult",
    &[
        field("name", STRING, ALL),
        field("topic_id", UUID, from(7)),
        field("error_code", INT16, ALL),
        field("error_message", STRING, ALL).nullable(ALL),
        field("topic_config_error_code", INT16, from(5)).tagged(0),
        field("num_partitions", INT32, from(5)),
        field("replication_factor", INT16, from(5)),
        field("configs", array_of(&CREATABLE_TOPIC_CONFIGS), from(5)).nullable(from(5)),
    ],
);

pub(crate) static CREATE_TOPICS_RESPONSE: MessageDef = MessageDef {
    name: "CreateTopicsResponse",
    versions: range(2, 7),
    flexible: from(5),
    body: &StructDef::new(
        "CreateTopicsResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("topics", array_of(&CREATABLE_TOPIC_RESULT), ALL),
        ],
    ),
};

// ---- DeleteTopics (key 20): versions 1-6, flexible 4+ ----

static DELETE_TOPIC_STATE: StructDef = StructDef::new(
    "DeleteTopicState",
    &[
        field("name", STRING, from(6)).nullable(from(6)),
        field("topic_id", UUID, from(6)),
    ],
);

pub(crate) static DELETE_TOPICS_REQUEST: MessageDef = MessageDef {
    name: "DeleteTopicsRequest",
    versions: range(1, 6),
    flexible: from(4),
    body: &StructDef::new(
        "DeleteTopicsRequest",
        &[
            // v6 names topics by name or id; the plain name list goes away.
            field("topics", array_of(&DELETE_TOPIC_STATE), from(6)),
            field("topic_names", array(&STRING), until(5)),
            field("timeout_ms", INT32, ALL),
        ],
    ),
};

static DELETABLE_TOPIC_RESULT: StructDef = StructDef::new(
    "DeletableTopicResult",
    &[
        field("name", STRING, ALL).nullable(from(6)),
        field("topic_id", UUID, from(6)),
        field("error_code", INT16, ALL),
        field("error_message", STRING, from(5)).nullable(from(5)),
    ],
);

pub(crate) static DELETE_TOPICS_RESPONSE: MessageDef = MessageDef {
    name: "DeleteTopicsResponse",
    versions: range(1, 6),
    flexible: from(4),
    body: &StructDef::new(
        "DeleteTopicsResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("responses", array_of(&DELETABLE_TOPIC_RESULT), ALL),
        ],
    ),
};

// ---- CreatePartitions (key 37): versions 0-3, flexible 2+ ----

static CREATE_PARTITIONS_ASSIGNMENT: StructDef = StructDef::new(
    "CreatePartitionsAssignment",
    &[field("broker_ids", array(&INT32), ALL)],
);

static CREATE_PARTITIONS_TOPIC: StructDef = StructDef::new(
    "CreatePartitionsTopic",
    &[
        field("name", STRING, ALL),
        field("count", INT32, ALL),
        field("assignments", array_of(&CREATE_PARTITIONS_ASSIGNMENT), ALL).nullable(ALL),
    ],
);

pub(crate) static CREATE_PARTITIONS_REQUEST: MessageDef = MessageDef {
    name: "CreatePartitionsRequest",
    versions: range(0, 3),
    flexible: from(2),
    body: &StructDef::new(
        "CreatePartitionsRequest",
        &[
            field("topics", array_of(&CREATE_PARTITIONS_TOPIC), ALL),
            field("timeout_ms", INT32, ALL),
            field("validate_only", BOOL, ALL),
        ],
    ),
};

static CREATE_PARTITIONS_TOPIC_RESULT: StructDef = StructDef::new(
    "CreatePartitionsTopicResult",
    &[
        field("name", STRING, ALL),
        field("error_code", INT16, ALL),
        field("error_message", STRING, ALL).nullable(ALL),
    ],
);

pub(crate) static CREATE_PARTITIONS_RESPONSE: MessageDef = MessageDef {
    name: "CreatePartitionsResponse",
    versions: range(0, 3),
    flexible: from(2),
    body: &StructDef::new(
        "CreatePartitionsResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("results", array_of(&CREATE_PARTITIONS_TOPIC_RESULT), ALL),
        ],
    ),
};

// ---- DescribeConfigs (key 32): versions 1-4, flexible 4+ ----

static DESCRIBE_CONFIGS_RESOURCE: StructDef = StructDef::new(
    "DescribeConfigsResource",
    &[
        field("resource_type", INT8, ALL),
        field("resource_name", STRING, ALL),
        field("configuration_keys", array(&STRING), ALL).nullable(ALL),
    ],
);

pub(crate) static DESCRIBE_CONFIGS_REQUEST: MessageDef = MessageDef {
    name: "DescribeConfigsRequest",
    versions: range(1, 4),
    flexible: from(4),
    body: &StructDef::new(
        "DescribeConfigsRequest",
        &[
            field("resources", array_of(&DESCRIBE_CONFIGS_RESOURCE), ALL),
            field("include_synonyms", BOOL, ALL),
            field("include_documentation", BOOL, from(3)),
        ],
    ),
};

static DESCRIBE_CONFIGS_SYNONYM: StructDef = StructDef::new(
    "DescribeConfigsSynonym",
    &[
        field("name", STRING, ALL),
        field("value", STRING, ALL).nullable(ALL),
        field("source", INT8, ALL),
    ],
);

static DESCRIBE_CONFIGS_RESOURCE_RESULT: StructDef = StructDef::new(
    "DescribeConfigsResourceResult",
    &[
        field("name", STRING, ALL),
        field("value", STRING, ALL).nullable(ALL),
        field("read_only", BOOL, ALL),
        field("config_source", INT8, ALL),
        field("is_sensitive", BOOL, ALL),
        field("synonyms", array_of(&DESCRIBE_CONFIGS_SYNONYM), ALL),
        field("config_type", INT8, from(3)),
        field("documentation", STRING, from(3)).nullable(ALL),
    ],
);

static DESCRIBE_CONFIGS_RESULT: StructDef = StructDef::new(
    "DescribeConfigsResult",
    &[
        field("error_code", INT16, ALL),
        field("error_message", STRING, ALL).nullable(ALL),
        field("resource_type", INT8, ALL),
        field("resource_name", STRING, ALL),
        field("configs", array_of(&DESCRIBE_CONFIGS_RESOURCE_RESULT), ALL),
    ],
);

pub(crate) static DESCRIBE_CONFIGS_RESPONSE: MessageDef = MessageDef {
    name: "DescribeConfigsResponse",
    versions: range(1, 4),
    flexible: from(4),
    body: &StructDef::new(
        "DescribeConfigsResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("results", array_of(&DESCRIBE_CONFIGS_RESULT), ALL),
        ],
    ),
};

// ---- AlterConfigs (key 33): versions 0-2, flexible 2+ ----

static ALTERABLE_CONFIG: StructDef = StructDef::new(
    "AlterableConfig",
    &[
        field("name", STRING, ALL),
        field("value", STRING, ALL).nullable(ALL),
    ],
);

static ALTER_CONFIGS_RESOURCE: StructDef = StructDef::new(
    "AlterConfigsResource",
    &[
        field("resource_type", INT8, ALL),
        field("resource_name", STRING, ALL),
        field("configs", array_of(&ALTERABLE_CONFIG), ALL),
    ],
);

pub(crate) static ALTER_CONFIGS_REQUEST: MessageDef = MessageDef {
    name: "AlterConfigsRequest",
    versions: range(0, 2),
    flexible: from(2),
    body: &StructDef::new(
        "AlterConfigsRequest",
        &[
            field("resources", array_of(&ALTER_CONFIGS_RESOURCE), ALL),
            field("validate_only", BOOL, ALL),
        ],
    ),
};

/// Shared by AlterConfigs and IncrementalAlterConfigs responses, which have
/// the same per-resource result.
static ALTER_CONFIGS_RESOURCE_RESPONSE: StructDef = StructDef::new(
    "AlterConfigsResourceResponse",
    &[
        field("error_code", INT16, ALL),
        field("error_message", STRING, ALL).nullable(ALL),
        field("resource_type", INT8, ALL),
        field("resource_name", STRING, ALL),
    ],
);

static ALTER_CONFIGS_RESPONSE_BODY: StructDef = StructDef::new(
    "AlterConfigsResponse",
    &[
        field("throttle_time_ms", INT32, ALL),
        field("responses", array_of(&ALTER_CONFIGS_RESOURCE_RESPONSE), ALL),
    ],
);

pub(crate) static ALTER_CONFIGS_RESPONSE: MessageDef = MessageDef {
    name: "AlterConfigsResponse",
    versions: range(0, 2),
    flexible: from(2),
    body: &ALTER_CONFIGS_RESPONSE_BODY,
};

// ---- IncrementalAlterConfigs (key 44): versions 0-1, flexible 1+ ----

static INCREMENTAL_ALTERABLE_CONFIG: StructDef = StructDef::new(
    "AlterableConfig",
    &[
        field("name", STRING, ALL),
        field("config_operation", INT8, ALL),
        field("value", STRING, ALL).nullable(ALL),
    ],
);

static INCREMENTAL_ALTER_CONFIGS_RESOURCE: StructDef = StructDef::new(
    "AlterConfigsResource",
    &[
        field("resource_type", INT8, ALL),
        field("resource_name", STRING, ALL),
        field("configs", array_of(&INCREMENTAL_ALTERABLE_CONFIG), ALL),
    ],
);

pub(crate) static INCREMENTAL_ALTER_CONFIGS_REQUEST: MessageDef = MessageDef {
    name: "IncrementalAlterConfigsRequest",
    versions: range(0, 1),
    flexible: from(1),
    body: &StructDef::new(
        "IncrementalAlterConfigsRequest",
        &[
            field(
                "resources",
                array_of(&INCREMENTAL_ALTER_CONFIGS_RESOURCE),
                ALL,
            ),
            field("validate_only", BOOL, ALL),
        ],
    ),
};

pub(crate) static INCREMENTAL_ALTER_CONFIGS_RESPONSE: MessageDef = MessageDef {
    name: "IncrementalAlterConfigsResponse",
    versions: range(0, 1),
    flexible: from(1),
    body: &ALTER_CONFIGS_RESPONSE_BODY,
};
