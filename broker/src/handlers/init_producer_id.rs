//! InitProducerId (key 22), versions 0–5.
//!
//! Hands out producer ids for idempotent producers, never reusing one
//! after a restart, and bumps the epoch when a producer passes its current
//! id and epoch (KIP-360). A transactional id goes to the transaction
//! coordinator (broker/src/txn): a stable producer id with the epoch bumped
//! per call, which fences older instances; an open transaction is aborted
//! first (CONCURRENT_TRANSACTIONS until that completes); an exhausted epoch
//! moves to a new producer id; `transaction_timeout_ms` above
//! transaction.max.timeout.ms is INVALID_TRANSACTION_TIMEOUT. A fenced
//! producer gets PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v4, as
//! Kafka). Idempotent producers may ask any node; a transactional id must
//! go to its coordinator (others answer NOT_COORDINATOR).
//!
//! Authorization, as Kafka 3+: WRITE on the transactional id (else
//! TRANSACTIONAL_ID_AUTHORIZATION_FAILED); an idempotent producer needs
//! IDEMPOTENT_WRITE on the cluster or WRITE on some topic (KIP-679; else
//! CLUSTER_AUTHORIZATION_FAILED).

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};
use kafka_protocol::protocol::VersionRange;
use kafka_protocol::ResponseError;

use durian_core::acl::{AclOperation, ResourceType};

use super::{versions, ProducerIdContext, RequestContext};
use crate::producer_ids::ProducerIdGrant;

/// Versions served.
pub const VERSIONS: VersionRange = versions(0, 5);

/// Answers InitProducerId.
pub async fn handle(
    ids: &ProducerIdContext<'_>,
    request: InitProducerIdRequest,
    ctx: &RequestContext,
) -> InitProducerIdResponse {
    let transactional_id = request.transactional_id.as_ref().map(|t| t.0.as_str());
    let access = ids.access(ctx);
    let refused = |error: ResponseError| {
        InitProducerIdResponse::default()
            .with_error_code(error.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    match transactional_id {
        Some(id) if !id.is_empty() && !access.transactional_id(AclOperation::Write, id) => {
            return refused(ResponseError::TransactionalIdAuthorizationFailed);
        }
        // An idempotent producer needs IDEMPOTENT_WRITE on the cluster or
        // WRITE on some topic (KIP-679), as in Kafka 3+.
        None if !(access.cluster(AclOperation::IdempotentWrite)
            || access.any_of_type(AclOperation::Write, ResourceType::Topic)) =>
        {
            return refused(ResponseError::ClusterAuthorizationFailed);
        }
        _ => {}
    }
    if let Some(id) = transactional_id.filter(|id| !id.is_empty()) {
        if !ids.coordinates(id, ctx.node_id) {
            return InitProducerIdResponse::default()
                .with_error_code(ResponseError::NotCoordinator.code())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1);
        }
    }
    if transactional_id == Some("") {
        // Kafka's rule: an empty transactional id is a malformed request,
        // not a request for an idempotent producer (that is null).
        return InitProducerIdResponse::default()
            .with_error_code(ResponseError::InvalidRequest.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
    }
    if let Some(id) = transactional_id {
        let expected =
            (request.producer_id.0 >= 0).then_some((request.producer_id.0, request.producer_epoch));
        return match ids
            .transactions
            .init_producer_id(id, request.transaction_timeout_ms, expected)
            .await
        {
            Ok(grant) => InitProducerIdResponse::default()
                .with_producer_id(ProducerId(grant.producer_id))
                .with_producer_epoch(grant.producer_epoch),
            Err(ResponseError::ProducerFenced) if ctx.version < 4 => {
                refused(ResponseError::InvalidProducerEpoch)
            }
            Err(error) => refused(error),
        };
    }
    let grant = ids
        .allocator
        .init(request.producer_id.0, request.producer_epoch);
    match grant {
        Ok(ProducerIdGrant::Granted { producer_id, epoch }) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(epoch),
        Ok(ProducerIdGrant::Fenced) => refused(ResponseError::InvalidProducerEpoch),
        Err(e) => {
            tracing::error!(error = %e, "cannot persist producer id block");
            refused(ResponseError::CoordinatorNotAvailable)
        }
    }
}
