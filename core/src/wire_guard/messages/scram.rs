//! SCRAM credentials: DescribeUserScramCredentials (50) and
//! AlterUserScramCredentials (51), version 0 (flexible).

use crate::wire_guard::schema::*;

// ---- DescribeUserScramCredentials (key 50) ----

static USER_NAME: StructDef = StructDef::new("UserName", &[field("name", STRING, ALL)]);

pub(crate) static DESCRIBE_USER_SCRAM_CREDENTIALS_REQUEST: MessageDef = MessageDef {
    name: "DescribeUserScramCredentialsRequest",
    versions: range(0, 0),
    flexible: ALL,
    body: &StructDef::new(
        "DescribeUserScramCredentialsRequest",
        &[field("users", array_of(&USER_NAME), ALL).nullable(ALL)],
    ),
};

static CREDENTIAL_INFO: StructDef = StructDef::new(
    "CredentialInfo",
    &[
        field("mechanism", INT8, ALL),
        field("iterations", INT32, ALL),
    ],
);

static DESCRIBE_USER_SCRAM_CREDENTIALS_RESULT: StructDef = StructDef::new(
    "DescribeUserScramCredentialsResult",
    &[
        field("user", STRING, ALL),
        field("error_code", INT16, ALL),
        field("error_message", STRING, ALL).nullable(ALL),
        field("credential_infos", array_of(&CREDENTIAL_INFO), ALL),
    ],
);

pub(crate) static DESCRIBE_USER_SCRAM_CREDENTIALS_RESPONSE: MessageDef = MessageDef {
    name: "DescribeUserScramCredentialsResponse",
    versions: range(0, 0),
    flexible: ALL,
    body: &StructDef::new(
        "DescribeUserScramCredentialsResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field("error_code", INT16, ALL),
            field("error_message", STRING, ALL).nullable(ALL),
            field(
                "results",
                array_of(&DESCRIBE_USER_SCRAM_CREDENTIALS_RESULT),
                ALL,
            ),
        ],
    ),
};

// ---- AlterUserScramCredentials (key 51) ----

static SCRAM_CREDENTIAL_DELETION: StructDef = StructDef::new(
    "ScramCredentialDeletion",
    &[field("name", STRING, ALL), field("mechanism", INT8, ALL)],
);

static SCRAM_CREDENTIAL_UPSERTION: StructDef = StructDef::new(
    "ScramCredentialUpsertion",
    &[
        field("name", STRING, ALL),
        field("mechanism", INT8, ALL),
        field("iterations", INT32, ALL),
        field("salt", BYTES, ALL),
        field("salted_password", BYTES, ALL),
    ],
);

pub(crate) static ALTER_USER_SCRAM_CREDENTIALS_REQUEST: MessageDef = MessageDef {
    name: "AlterUserScramCredentialsRequest",
    versions: range(0, 0),
    flexible: ALL,
    body: &StructDef::new(
        "AlterUserScramCredentialsRequest",
        &[
            field("deletions", array_of(&SCRAM_CREDENTIAL_DELETION), ALL),
            field("upsertions", array_of(&SCRAM_CREDENTIAL_UPSERTION), ALL),
        ],
    ),
};

static ALTER_USER_SCRAM_CREDENTIALS_RESULT: StructDef = StructDef::new(
    "AlterUserScramCredentialsResult",
    &[
        field("user", STRING, ALL),
        field("error_code", INT16, ALL),
        field("error_message", STRING, ALL).nullable(ALL),
    ],
);

pub(crate) static ALTER_USER_SCRAM_CREDENTIALS_RESPONSE: MessageDef = MessageDef {
    name: "AlterUserScramCredentialsResponse",
    versions: range(0, 0),
    flexible: ALL,
    body: &StructDef::new(
        "AlterUserScramCredentialsResponse",
        &[
            field("throttle_time_ms", INT32, ALL),
            field(
                "results",
                array_of(&ALTER_USER_SCRAM_CREDENTIALS_RESULT),
                ALL,
            ),
        ],
    ),
};
