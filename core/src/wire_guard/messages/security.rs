//! Authentication and credential APIs the broker serves: SaslAuthenticate
//! (36), DescribeUserScramCredentials (50), AlterUserScramCredentials (51).
//! Requests only: the broker checks them before decoding.

use crate::wire_guard::schema::*;

// ---- SaslAuthenticate (key 36): versions 0-2, flexible 2+ ----

pub(crate) static SASL_AUTHENTICATE_REQUEST: MessageDef = MessageDef {
    name: "SaslAuthenticateRequest",
    versions: range(0, 2),
    flexible: from(2),
    body: &StructDef::new(
        "SaslAuthenticateRequest",
        &[field("auth_bytes", BYTES, ALL)],
    ),
};

// ---- DescribeUserScramCredentials (key 50): version 0, flexible ----

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

// ---- AlterUserScramCredentials (key 51): version 0, flexible ----

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
