//! The message tables, one file per family of APIs, and the lookup from an
//! API key to its request and response tables.
//!
//! Every table states the facts of Apache Kafka's message definitions
//! (`clients/src/main/resources/common/message/*.json`) for the versions
//! kafka-protocol 0.18 decodes: which fields exist in which versions, which
//! may be null, where flexible encoding starts, and which tagged fields
//! kafka-protocol decodes itself.

mod acls;
mod admin;
mod cluster;
mod consumer_group;
mod group;
mod log;
mod offsets;
mod producers;
mod scram;
mod security;
mod txn;

use super::schema::MessageDef;

/// The request table of `api_key`, if the guard knows it.
pub(crate) fn request(api_key: i16) -> Option<&'static MessageDef> {
    Some(match api_key {
        0 => &log::PRODUCE_REQUEST,
        1 => &log::FETCH_REQUEST,
        2 => &log::LIST_OFFSETS_REQUEST,
        3 => &cluster::METADATA_REQUEST,
        8 => &offsets::OFFSET_COMMIT_REQUEST,
        9 => &offsets::OFFSET_FETCH_REQUEST,
        10 => &group::FIND_COORDINATOR_REQUEST,
        11 => &group::JOIN_GROUP_REQUEST,
        12 => &group::HEARTBEAT_REQUEST,
        13 => &group::LEAVE_GROUP_REQUEST,
        14 => &group::SYNC_GROUP_REQUEST,
        15 => &group::DESCRIBE_GROUPS_REQUEST,
        16 => &group::LIST_GROUPS_REQUEST,
        17 => &cluster::SASL_HANDSHAKE_REQUEST,
        18 => &cluster::API_VERSIONS_REQUEST,
        19 => &admin::CREATE_TOPICS_REQUEST,
        20 => &admin::DELETE_TOPICS_REQUEST,
        21 => &log::DELETE_RECORDS_REQUEST,
        22 => &offsets::INIT_PRODUCER_ID_REQUEST,
        23 => &log::OFFSET_FOR_LEADER_EPOCH_REQUEST,
        24 => &txn::ADD_PARTITIONS_TO_TXN_REQUEST,
        25 => &txn::ADD_OFFSETS_TO_TXN_REQUEST,
        26 => &txn::END_TXN_REQUEST,
        27 => &txn::WRITE_TXN_MARKERS_REQUEST,
        28 => &txn::TXN_OFFSET_COMMIT_REQUEST,
        29 => &acls::DESCRIBE_ACLS_REQUEST,
        30 => &acls::CREATE_ACLS_REQUEST,
        31 => &acls::DELETE_ACLS_REQUEST,
        32 => &admin::DESCRIBE_CONFIGS_REQUEST,
        33 => &admin::ALTER_CONFIGS_REQUEST,
        36 => &security::SASL_AUTHENTICATE_REQUEST,
        37 => &admin::CREATE_PARTITIONS_REQUEST,
        42 => &group::DELETE_GROUPS_REQUEST,
        44 => &admin::INCREMENTAL_ALTER_CONFIGS_REQUEST,
        47 => &offsets::OFFSET_DELETE_REQUEST,
        50 => &scram::DESCRIBE_USER_SCRAM_CREDENTIALS_REQUEST,
        51 => &scram::ALTER_USER_SCRAM_CREDENTIALS_REQUEST,
        60 => &cluster::DESCRIBE_CLUSTER_REQUEST,
        61 => &producers::DESCRIBE_PRODUCERS_REQUEST,
        65 => &txn::DESCRIBE_TRANSACTIONS_REQUEST,
        66 => &txn::LIST_TRANSACTIONS_REQUEST,
        68 => &consumer_group::CONSUMER_GROUP_HEARTBEAT_REQUEST,
        69 => &consumer_group::CONSUMER_GROUP_DESCRIBE_REQUEST,
        _ => return None,
    })
}

/// The response table of `api_key`, if the guard knows it.
pub(crate) fn response(api_key: i16) -> Option<&'static MessageDef> {
    Some(match api_key {
        0 => &log::PRODUCE_RESPONSE,
        1 => &log::FETCH_RESPONSE,
        2 => &log::LIST_OFFSETS_RESPONSE,
        3 => &cluster::METADATA_RESPONSE,
        8 => &offsets::OFFSET_COMMIT_RESPONSE,
        9 => &offsets::OFFSET_FETCH_RESPONSE,
        10 => &group::FIND_COORDINATOR_RESPONSE,
        11 => &group::JOIN_GROUP_RESPONSE,
        12 => &group::HEARTBEAT_RESPONSE,
        13 => &group::LEAVE_GROUP_RESPONSE,
        14 => &group::SYNC_GROUP_RESPONSE,
        15 => &group::DESCRIBE_GROUPS_RESPONSE,
        16 => &group::LIST_GROUPS_RESPONSE,
        17 => &cluster::SASL_HANDSHAKE_RESPONSE,
        18 => &cluster::API_VERSIONS_RESPONSE,
        19 => &admin::CREATE_TOPICS_RESPONSE,
        20 => &admin::DELETE_TOPICS_RESPONSE,
        21 => &log::DELETE_RECORDS_RESPONSE,
        22 => &offsets::INIT_PRODUCER_ID_RESPONSE,
        23 => &log::OFFSET_FOR_LEADER_EPOCH_RESPONSE,
        24 => &txn::ADD_PARTITIONS_TO_TXN_RESPONSE,
        25 => &txn::ADD_OFFSETS_TO_TXN_RESPONSE,
        26 => &txn::END_TXN_RESPONSE,
        27 => &txn::WRITE_TXN_MARKERS_RESPONSE,
        28 => &txn::TXN_OFFSET_COMMIT_RESPONSE,
        29 => &acls::DESCRIBE_ACLS_RESPONSE,
        30 => &acls::CREATE_ACLS_RESPONSE,
        31 => &acls::DELETE_ACLS_RESPONSE,
        32 => &admin::DESCRIBE_CONFIGS_RESPONSE,
        33 => &admin::ALTER_CONFIGS_RESPONSE,
        37 => &admin::CREATE_PARTITIONS_RESPONSE,
        42 => &group::DELETE_GROUPS_RESPONSE,
        44 => &admin::INCREMENTAL_ALTER_CONFIGS_RESPONSE,
        47 => &offsets::OFFSET_DELETE_RESPONSE,
        50 => &scram::DESCRIBE_USER_SCRAM_CREDENTIALS_RESPONSE,
        51 => &scram::ALTER_USER_SCRAM_CREDENTIALS_RESPONSE,
        60 => &cluster::DESCRIBE_CLUSTER_RESPONSE,
        61 => &producers::DESCRIBE_PRODUCERS_RESPONSE,
        65 => &txn::DESCRIBE_TRANSACTIONS_RESPONSE,
        66 => &txn::LIST_TRANSACTIONS_RESPONSE,
        68 => &consumer_group::CONSUMER_GROUP_HEARTBEAT_RESPONSE,
        69 => &consumer_group::CONSUMER_GROUP_DESCRIBE_RESPONSE,
        _ => return None,
    })
}
