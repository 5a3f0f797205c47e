//! AddOffsetsToTxn (key 25), versions 0–4.
//!
//! Tells the coordinator that the producer's transaction will commit
//! offsets of a group (the TxnOffsetCommit that follows goes to the group
//! coordinator). Written to the transaction log before the answer.
//!
//! Checks, as Kafka: WRITE on the transactional id (else
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ on the group (else
//! GROUP_AUTHORIZATION_FAILED); NOT_COORDINATOR on other nodes;
//! PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2.

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{versions, RequestContext, TxnContext};
use crate::txn::ProducerRef;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 4);

/// Answers AddOffsetsToTxn.
pub async fn handle(
    txn: &TxnContext<'_>,
    request: AddOffsetsToTxnRequest,
    ctx: &RequestContext,
) -> AddOffsetsToTxnResponse {
    let id = request.transactional_id.0.as_str();
    let group = request.group_id.0.as_str();
    let access = txn.access(ctx);
    let result = if id.is_empty() {
        Err(ResponseError::InvalidRequest)
    } else if !access.transactional_id(AclOperation::Write, id) {
        Err(ResponseError::TransactionalIdAuthorizationFailed)
    } else if !access.group(AclOperation::Read, group) {
        Err(ResponseError::GroupAuthorizationFailed)
    } else if !txn.coordinates(id, ctx.node_id) {
        Err(ResponseError::NotCoordinator)
    } else {
        let producer = ProducerRef {
            producer_id: request.producer_id.0,
            producer_epoch: request.producer_epoch,
        };
        txn.transactions.add_group(id, producer, group).await
    };
    let code = match result {
        Ok(()) => 0,
        Err(ResponseError::ProducerFenced) if ctx.version < 2 => {
            ResponseError::InvalidProducerEpoch.code()
        }
        Err(e) => e.code(),
    };
    AddOffsetsToTxnResponse::default().with_error_code(code)
}
