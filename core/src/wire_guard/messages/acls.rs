//! Access control lists: DescribeAcls (29), CreateAcls (30), DeleteAcls (31),
//! versions 1–3 (flexible from 2), as Kafka 4 serves them.

use crate::wire_guard::schema::*;

// ---- DescribeAcls (key 29) ----

pub(crate) static DESCRIBE_ACLS_REQUEST: MessageDef = MessageDef {
    name: "DescribeAclsRequest",
    versions: range(1, 3),
    flexible: from(2),
    body: &StructDef::new(
        "DescribeAclsRequest",
        &[
            field("resource_type_filter", INT8, ALL),
            field("resource_name_filter", STRING, ALL).nullable(ALL),
            field("pattern_type_filter", INT8, ALL),
            field("principal_filter", STRING, ALL).nullable(ALL),
            field("host_filter", STRING, ALL).nullable(ALL),
            field("operation", INT8, ALL),
            field("permission_type", INT8, ALL),
        ],
    ),
};

static ACL_DESCRIPTION: StructDef = StructDef::new(
    "AclDescription",
    &[
        field("principal", STRING, ALL),
        field("host", STRING, ALL),
        field("operation", INT8, ALL),
        field("permission_type", INT8, ALL),
    ],
);

static DESCRIBE_ACLS_RESOURCE: StructDef = StructDef::new(
    "DescribeAclsResource",
    &[
        field("resource_type", INT8, ALL),
        field("resource_name", STRING, ALL),
        field("pattern_type", INT8, ALL),
        field("acls", array_of(&ACL_DESCRIPTION), ALL),
    ],
);

pub(crate) static DESCRIBE_ACLS_RESPONSE: MessageDef = MessageDef {
    name: "DescribeAclsResponse",
    versions: range(1, 3),
    flexible: from(2),
    body: &StructDef::new(
        "DescribeAclsResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("error_code", INT16, ALL),
            field("error_message", STRING, ALL).nullable(ALL),
            field("resources", array_of(&DESCRIBE_ACLS_RESOURCE), ALL),
        ],
    ),
};

// ---- CreateAcls (key 30) ----

static ACL_CREATION: StructDef = StructDef::new(
    "AclCreation",
    &[
        field("resource_type", INT8, ALL),
        field("resource_name", STRING, ALL),
        field("resource_pattern_type", INT8, ALL),
        field("principal", STRING, ALL),
        field("host", STRING, ALL),
        field("operation", INT8, ALL),
        field("permission_type", INT8, ALL),
    ],
);

pub(crate) static CREATE_ACLS_REQUEST: MessageDef = MessageDef {
    name: "CreateAclsRequest",
    versions: range(1, 3),
    flexible: from(2),
    body: &StructDef::new(
        "CreateAclsRequest",
        &[field("creations", array_of(&ACL_CREATION), ALL)],
    ),
};

static ACL_CREATION_RESULT: StructDef = StructDef::new(
    "AclCreationResult",
    &[
        field("error_code", INT16, ALL),
        field("error_message", STRING, ALL).nullable(ALL),
    ],
);

pub(crate) static CREATE_ACLS_RESPONSE: MessageDef = MessageDef {
    name: "CreateAclsResponse",
    versions: range(1, 3),
    flexible: from(2),
    body: &StructDef::new(
        "CreateAclsResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("results", array_of(&ACL_CREATION_RESULT), ALL),
        ],
    ),
};

// ---- DeleteAcls (key 31) ----

static DELETE_ACLS_FILTER: StructDef = StructDef::new(
    "DeleteAclsFilter",
    &[
        field("resource_type_filter", INT8, ALL),
        field("resource_name_filter", STRING, ALL).nullable(ALL),
        field("pattern_type_filter", INT8, ALL),
        field("principal_filter", STRING, ALL).nullable(ALL),
        field("host_filter", STRING, ALL).nullable(ALL),
        field("operation", INT8, ALL),
        field("permission_type", INT8, ALL),
    ],
);

pub(crate) static DELETE_ACLS_REQUEST: MessageDef = MessageDef {
    name: "DeleteAclsRequest",
    versions: range(1, 3),
    flexible: from(2),
    body: &StructDef::new(
        "DeleteAclsRequest",
        &[field("filters", array_of(&DELETE_ACLS_FILTER), ALL)],
    ),
};

static DELETE_ACLS_MATCHING_ACL: StructDef = StructDef::new(
    "DeleteAclsMatchingAcl",
    &[
        field("error_code", INT16, ALL),
        field("error_message", STRING, ALL).nullable(ALL),
        field("resource_type", INT8, ALL),
        field("resource_name", STRING, ALL),
        field("pattern_type", INT8, ALL),
        field("principal", STRING, ALL),
        field("host", STRING, ALL),
        field("operation", INT8, ALL),
        field("permission_type", INT8, ALL),
    ],
);

static DELETE_ACLS_FILTER_RESULT: StructDef = StructDef::new(
    "DeleteAclsFilterResult",
    &[
        field("error_code", INT16, ALL),
        field("error_message", STRING, ALL).nullable(ALL),
        field("matching_acls", array_of(&DELETE_ACLS_MATCHING_ACL), ALL),
    ],
);

pub(crate) static DELETE_ACLS_RESPONSE: MessageDef = MessageDef {
    name: "DeleteAclsResponse",
    versions: range(1, 3),
    flexible: from(2),
    body: &StructDef::new(
        "DeleteAclsResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("filter_results", array_of(&DELETE_ACLS_FILTER_RESULT), ALL),
        ],
    ),
};
