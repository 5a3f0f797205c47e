//! EndTxn (key 26), versions 0–5.
//!
//! Commits or aborts the producer's open transaction: PrepareCommit or
//! PrepareAbort is written to the transaction log and answered; the
//! markers, the group offsets and the Complete state follow in the
//! background (until then the producer's next transactional request gets
//! CONCURRENT_TRANSACTIONS). A retry of an end that completed the same
//! way succeeds; nothing open, or the other outcome, is INVALID_TXN_STATE.
//! The epoch never changes at the end of a transaction (Kafka's
//! transaction version 1), so v5's producer id and epoch are echoed.
//!
//! Checks, as Kafka: WRITE on the transactional id (else
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED); NOT_COORDINATOR on other
//! nodes; PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v2.

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::AclOperation;

use super::{versions, RequestContext, TxnContext};
use crate::txn::ProducerRef;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 5);

/// Answers EndTxn.
pub async fn handle(
    txn: &TxnContext<'_>,
    request: EndTxnRequest,
    ctx: &RequestContext,
) -> EndTxnResponse {
    let id = request.transactional_id.0.as_str();
    let access = txn.access(ctx);
    let result = if id.is_empty() {
        Err(ResponseError::InvalidRequest)
    } else if !access.transactional_id(AclOperation::Write, id) {
        Err(ResponseError::TransactionalIdAuthorizationFailed)
    } else if !txn.coordinates(id, ctx.node_id) {
        Err(ResponseError::NotCoordinator)
    } else {
        let producer = ProducerRef {
            producer_id: request.producer_id.0,
            producer_epoch: request.producer_epoch,
        };
        txn.transactions
            .end_txn(id, producer, request.committed)
            .await
    };
    let code = match result {
        Ok(()) => 0,
        Err(ResponseError::ProducerFenced) if ctx.version < 2 => {
            ResponseError::InvalidProducerEpoch.code()
        }
        Err(e) => e.code(),
    };
    let (producer_id, producer_epoch) = if code == 0 {
        (request.producer_id, request.producer_epoch)
    } else {
        (kafka_protocol::messages::ProducerId(-1), -1)
    };
    EndTxnResponse::default()
        .with_error_code(code)
        .with_producer_id(producer_id)
        .with_producer_epoch(producer_epoch)
}
