//! Connection and cluster discovery: ApiVersions (18), Metadata (3),
//! DescribeCluster (60), SaslHandshake (17).

use crate::wire_guard::schema::*;

// ---- ApiVersions (key 18): versions 0-4, flexible 3+ ----

pub(crate) static API_VERSIONS_REQUEST: MessageDef = MessageDef {
    name: "ApiVersionsRequest",
    versions: range(0, 4),
    flexible: from(3),
    body: &StructDef::new(
        "ApiVersionsRequest",
        &[
            field("client_software_name", STRING, from(3)),
            field("client_software_version", STRING, from(3)),
        ],
    ),
};

static API_VERSION: StructDef = StructDef::new(
    "ApiVersion",
    &[
        field("api_key", INT16, ALL),
        field("min_version", INT16, ALL),
        field("max_version", INT16, ALL),
    ],
);

static SUPPORTED_FEATURE_KEY: StructDef = StructDef::new(
    "SupportedFeatureKey",
    &[
        field("name", STRING, from(3)),
        field("min_version", INT16, from(3)),
        field("max_version", INT16, from(3)),
    ],
);

static FINALIZED_FEATURE_KEY: StructDef = StructDef::new(
    "FinalizedFeatureKey",
    &[
        field("name", STRING, from(3)),
        field("max_version_level", INT16, from(3)),
        field("min_version_level", INT16, from(3)),
    ],
);

pub(crate) static API_VERSIONS_RESPONSE: MessageDef = MessageDef {
    name: "ApiVersionsResponse",
    versions: range(0, 4),
    flexible: from(3),
    body: &StructDef::new(
        "ApiVersionsResponse",
        &[
            field("error_code", INT16, ALL),
            field("api_keys", array_of(&API_VERSION), ALL),
            field("throttle_time_ms", INT32, from(1)),
            field(
                "supported_features",
                array_of(&SUPPORTED_FEATURE_KEY),
                from(3),
            )
            .tagged(0),
            field("finalized_features_epoch", INT64, from(3)).tagged(1),
            field(
                "finalized_features",
                array_of(&FINALIZED_FEATURE_KEY),
                from(3),
            )
            .tagged(2),
            field("zk_migration_ready", BOOL, from(3)).tagged(3),
        ],
    ),
};

// ---- Metadata (key 3): versions 0-13, flexible 9+ ----

static METADATA_REQUEST_TOPIC: StructDef = StructDef::new(
    "MetadataRequestTopic",
    &[
        field("topic_id", UUID, from(10)),
        field("name", STRING, ALL).nullable(from(10)),
    ],
);

pub(crate) static METADATA_REQUEST: MessageDef = MessageDef {
    name: "MetadataRequest",
    versions: range(0, 13),
    flexible: from(9),
    body: &StructDef::new(
        "MetadataRequest",
        &[
            // v0 had no null: an empty list meant "all topics".
            field("topics", array_of(&METADATA_REQUEST_TOPIC), ALL).nullable(from(1)),
            field("allow_auto_topic_creation", BOOL, from(4)),
            field("include_cluster_authorized_operations", BOOL, range(8, 10)),
            field("include_topic_authorized_operations", BOOL, from(8)),
        ],
    ),
};

static METADATA_RESPONSE_BROKER: StructDef = StructDef::new(
    "MetadataResponseBroker",
    &[
        field("node_id", INT32, ALL),
        field("host", STRING, ALL),
        field("port", INT32, ALL),
        field("rack", STRING, from(1)).nullable(from(1)),
    ],
);

static METADATA_RESPONSE_PARTITION: StructDef = StructDef::new(
    "MetadataResponsePartition",
    &[
        field("error_code", INT16, ALL),
        field("partition_index", INT32, ALL),
        field("leader_id", INT32, ALL),
        field("leader_epoch", INT32, from(7)),
        field("replica_nodes", array(&INT32), ALL),
        field("isr_nodes", array(&INT32), ALL),
        field("offline_replicas", array(&INT32), from(5)),
    ],
);

static METADATA_RESPONSE_TOPIC: StructDef = StructDef::new(
    "MetadataResponseTopic",
    &[
        field("error_code", INT16, ALL),
        field("name", STRING, ALL).nullable(from(12)),
        field("topic_id", UUID, from(10)),
        field("is_internal", BOOL, from(1)),
        field("partitions", array_of(&METADATA_RESPONSE_PARTITION), ALL),
        field("topic_authorized_operations", INT32, from(8)),
    ],
);

pub(crate) static METADATA_RESPONSE: MessageDef = MessageDef {
    name: "MetadataResponse",
    versions: range(0, 13),
    flexible: from(9),
    body: &StructDef::new(
        "MetadataResponse",
        &[
            field("throttle_time_ms", INT32, from(3)),
            field("brokers", array_of(&METADATA_RESPONSE_BROKER), ALL),
            field("cluster_id", STRING, from(2)).nullable(from(2)),
            field("controller_id", INT32, from(1)),
            field("topics", array_of(&METADATA_RESPONSE_TOPIC), ALL),
            field("cluster_authorized_operations", INT32, range(8, 10)),
            field("error_code", INT16, from(13)),
        ],
    ),
};

// ---- DescribeCluster (key 60): versions 0-2, always flexible ----

pub(crate) static DESCRIBE_CLUSTER_REQUEST: MessageDef = MessageDef {
    name: "DescribeClusterRequest",
    versions: range(0, 2),
    flexible: ALL,
    body: &StructDef::new(
        "DescribeClusterRequest",
        &[
            field("include_cluster_authorized_operations", BOOL, ALL),
            field("endpoint_type", INT8, from(1)),
            field("include_fenced_brokers", BOOL, from(2)),
        ],
    ),
};

static DESCRIBE_CLUSTER_BROKER: StructDef = StructDef::new(
    "DescribeClusterBroker",
    &[
        field("broker_id", INT32, ALL),
        field("host", STRING, ALL),
        field("port", INT32, ALL),
        field("rack", STRING, ALL).nullable(ALL),
        field("is_fenced", BOOL, from(2)),
    ],
);

pub(crate) static DESCRIBE_CLUSTER_RESPONSE: MessageDef = MessageDef {
    name: "DescribeClusterResponse",
    versions: range(0, 2),
    flexible: ALL,
    body: &StructDef::new(
        "DescribeClusterResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("error_code", INT16, ALL),
            field("error_message", STRING, ALL).nullable(ALL),
            field("endpoint_type", INT8, from(1)),
            field("cluster_id", STRING, ALL),
            field("controller_id", INT32, ALL),
            field("brokers", array_of(&DESCRIBE_CLUSTER_BROKER), ALL),
            field("cluster_authorized_operations", INT32, ALL),
        ],
    ),
};

// ---- SaslHandshake (key 17): versions 0-1, never flexible ----

pub(crate) static SASL_HANDSHAKE_REQUEST: MessageDef = MessageDef {
    name: "SaslHandshakeRequest",
    versions: range(0, 1),
    flexible: NEVER,
    body: &StructDef::new("SaslHandshakeRequest", &[field("mechanism", STRING, ALL)]),
};

pub(crate) static SASL_HANDSHAKE_RESPONSE: MessageDef = MessageDef {
    name: "SaslHandshakeResponse",
    versions: range(0, 1),
    flexible: NEVER,
    body: &StructDef::new(
        "SaslHandshakeResponse",
        &[
            field("error_code", INT16, ALL),
            field("mechanisms", array(&STRING), ALL),
        ],
    ),
};
